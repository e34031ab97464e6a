"""Schedulers against values diffusers is known to give (SD-Turbo trailing,
SD leading 50 steps, LCM 4 steps) and the step formulas."""

import unittest

import torch

from reverie_ref.schedulers import EulerDiscreteScheduler, LCMScheduler, make_scheduler

SD = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
      "steps_offset": 1}
TURBO = dict(SD, _class_name="EulerDiscreteScheduler", timestep_spacing="trailing", prediction_type="epsilon",
             skip_prk_steps=True, set_alpha_to_one=False, clip_sample=False)
LCM = dict(SD, _class_name="LCMScheduler", original_inference_steps=50, timestep_scaling=10.0,
           set_alpha_to_one=True, timestep_spacing="leading")


class Euler(unittest.TestCase):
    def test_turbo_one_step(self):
        s = make_scheduler(TURBO)
        self.assertEqual(s.set_timesteps(1).tolist(), [999.0])
        self.assertAlmostEqual(float(s.sigmas[0]), 14.6146, places=3)
        self.assertEqual(float(s.sigmas[1]), 0.0)
        self.assertEqual(float(s.init_noise_sigma), float(s.sigmas[0]))

    def test_turbo_four_steps(self):
        s = make_scheduler(TURBO)
        self.assertEqual(s.set_timesteps(4).tolist(), [999.0, 749.0, 499.0, 249.0])

    def test_leading_and_linspace(self):
        s = make_scheduler(dict(TURBO, timestep_spacing="leading"))
        t = s.set_timesteps(50).tolist()
        self.assertEqual(t[:3], [981.0, 961.0, 941.0])
        self.assertEqual(t[-1], 1.0)
        self.assertAlmostEqual(float(s.init_noise_sigma), (float(s.sigmas[0]) ** 2 + 1) ** 0.5, places=5)
        s = make_scheduler(dict(TURBO, timestep_spacing="linspace"))
        t = s.set_timesteps(4).tolist()
        self.assertEqual(t[0], 999.0)
        self.assertAlmostEqual(t[1], 666.0)
        self.assertEqual(s.set_timesteps(1).tolist(), [0.0])  # diffusers' linspace quirk

    def test_one_step_returns_x0(self):
        s = make_scheduler(TURBO)
        s.set_timesteps(1)
        x, eps = torch.randn(1, 4, 2, 2), torch.randn(1, 4, 2, 2)
        prev, x0 = s.step(eps, 0, x)
        self.assertTrue(torch.allclose(prev, x - s.sigmas[0] * eps, atol=1e-5))
        self.assertTrue(torch.allclose(prev, x0, atol=1e-5))

    def test_v_prediction(self):
        s = make_scheduler(dict(TURBO, prediction_type="v_prediction"))
        s.set_timesteps(2)
        x, v = torch.randn(3), torch.randn(3)
        sig = s.sigmas[0]
        _, x0 = s.step(v, 0, x)
        self.assertTrue(torch.allclose(x0, v * (-sig / (sig ** 2 + 1) ** 0.5) + x / (sig ** 2 + 1)))

    def test_betas_match_formula(self):
        s = EulerDiscreteScheduler(TURBO)
        b = (torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2)
        self.assertLess((s.betas.double() - b).abs().max().item(), 1e-8)


class LCMTest(unittest.TestCase):
    def test_timesteps(self):
        s = make_scheduler(LCM)
        self.assertEqual(s.set_timesteps(4).tolist(), [999, 759, 499, 259])
        self.assertEqual(s.set_timesteps(1).tolist(), [999])
        self.assertEqual(s.set_timesteps(2).tolist(), [999, 499])

    def test_boundary_scalings(self):
        s = LCMScheduler(LCM)
        c_skip, c_out = s.boundary_scalings(torch.tensor(999))
        self.assertAlmostEqual(float(c_skip), 0.25 / (9990.0 ** 2 + 0.25), places=12)
        self.assertAlmostEqual(float(c_out), 1.0, places=6)

    def test_step(self):
        s = make_scheduler(LCM)
        s.set_timesteps(2)
        x, eps, noise = torch.randn(5), torch.randn(5), torch.randn(5)
        a = s.alphas_cumprod
        prev, den = s.step(eps, 0, x, noise=noise)
        x0 = (x - (1 - a[999]).sqrt() * eps) / a[999].sqrt()
        cs, co = s.boundary_scalings(torch.tensor(999))
        self.assertTrue(torch.allclose(den, co * x0 + cs * x, atol=1e-5))
        self.assertTrue(torch.allclose(prev, a[499].sqrt() * den + (1 - a[499]).sqrt() * noise, atol=1e-5))
        last, den2 = s.step(eps, 1, prev)
        self.assertTrue(torch.equal(last, den2))
        with self.assertRaises(ValueError):
            s.step(eps, 0, x)

    def test_unknown_class(self):
        with self.assertRaises(ValueError):
            make_scheduler({"_class_name": "PNDMScheduler"})


class Noise(unittest.TestCase):
    """reverie_ref.noise is the runtime's noise.c: Random123's known answers,
    index-only values, moments (test_shipped checks it against the C code)."""

    def test_philox_known_answers(self):
        import numpy as np
        from reverie_ref import noise
        ctr = np.array([[0, 0, 0, 0], [0xFFFFFFFF] * 4, [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344]], np.uint32)
        keys = [(0, 0), (0xFFFFFFFF, 0xFFFFFFFF), (0xA4093822, 0x299F31D0)]
        want = [[0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8], [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD],
                [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]]
        for c, k, w in zip(ctr, keys, want):
            self.assertEqual(noise.philox4x32(c[None], k)[0].tolist(), w)

    def test_values_depend_on_index_only(self):
        from reverie_ref import noise
        a = noise.normal(42, 0, 4096)
        self.assertTrue((noise.normal(42, 0, 10, first=1001) == a[1001:1011]).all())
        self.assertLess(int((noise.normal(43, 0, 4096) == a).sum()), 4)
        self.assertLess(int((noise.normal(42, noise.stream_step(0), 4096) == a).sum()), 4)
        self.assertLess(abs(float(a.mean())), 0.05)
        self.assertLess(abs(float(a.var()) - 1), 0.06)


if __name__ == "__main__":
    unittest.main()

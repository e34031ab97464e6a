"""The frame loop reference (reverie_ref/frames.py, notes/FRAMES_SPEC.md): the
grid_sample warp against a plain loop of the spec's formula, its direction
conventions, slerp and prompt blends, strength -> schedule, seed slerp, a
frame's wiring against pipeline.image_to_image / text_to_image, errors, and
the committed frame goldens (tests/fixtures/*/frames.*) reproducing."""

import json
import math
import os
import unittest

import numpy as np
import torch

from tests.common import FIXTURES, REPO
from reverie_ref import frames, noise, safetensors_io as st
from reverie_ref.diffusers_folder import load_pipeline
from reverie_ref.pipeline import image_to_image, img2img_start, text_to_image
from reverie_ref.schedulers import LCMScheduler, make_scheduler

GOLDENS = {"tiny-sd15": os.path.join(FIXTURES, "tiny-sd15"), "reverie-tiny": os.path.join(FIXTURES, "reverie-tiny")}


def loop_warp(x, zoom, pan_x, pan_y, rotate_deg, coefficients=None):
    """The spec's warp, one output pixel at a time in float64: q = M^-1 (p - c
    - t) + c with M^-1 from numpy's inverse (or the given float32 (minv,
    offset): q = minv p + offset), bilinear with every index clamped."""
    b, ch, h, w = x.shape
    if coefficients is None:
        th = rotate_deg * math.pi / 180
        m = zoom * np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
        minv = np.linalg.inv(m)
        c, t = np.array([w / 2, h / 2]), np.array([pan_x * w, pan_y * h])
        off = c - minv @ (c + t)
    else:
        minv = np.asarray(coefficients[0], np.float64).reshape(2, 2)
        off = np.asarray(coefficients[1], np.float64)
    src = x.double().numpy()
    out = np.zeros((b, ch, h, w))

    def at(yy, xx):
        return src[:, :, min(max(yy, 0), h - 1), min(max(xx, 0), w - 1)]

    for j in range(h):
        for i in range(w):
            q = minv @ np.array([i + 0.5, j + 0.5]) + off
            u, v = q[0] - 0.5, q[1] - 0.5
            x0, y0 = math.floor(u), math.floor(v)
            fx, fy = u - x0, v - y0
            out[:, :, j, i] = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) + \
                fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1))
    return torch.from_numpy(out)


def nmse(ref, x):
    ref, x = ref.double(), x.double()
    return float(((x - ref) ** 2).sum() / (ref * ref).sum())


MOTIONS = [
    (1.05, 0.02, -0.01, 2.0),
    (0.7, 0.3, 0.25, -30.0),
    (1.0, 0.1, 0.0, 0.0),
    (2.5, -0.4, 0.6, 135.0),
    (1.0, 0.0, 0.0, 90.0),
    (0.5, 0.0, 0.0, 0.0),
    (1.0, 3.0, -2.0, 0.0),  # far outside: all border
]


class Warp(unittest.TestCase):
    def test_grid_sample_matches_loop(self):
        g = torch.Generator().manual_seed(3)
        for shape in ((1, 3, 7, 11), (2, 2, 9, 5), (1, 4, 8, 8)):
            x = torch.randn(shape, generator=g)
            for m in MOTIONS:
                got = frames.warp(x, *m)
                self.assertEqual(got.dtype, torch.float32)
                want = loop_warp(x, *m)
                self.assertLess(float((got.double() - want).abs().max()), 2e-5, f"{shape} {m}")

    def test_float64_matches_loop_with_the_same_coefficients(self):
        x = torch.randn((1, 2, 6, 10), generator=torch.Generator().manual_seed(4), dtype=torch.float64)
        for m in MOTIONS:
            coef = frames.warp_coefficients(10, 6, *m)
            got = frames.warp(x, *m)
            self.assertEqual(got.dtype, torch.float64)
            self.assertLess(float((got - loop_warp(x, *m, coefficients=coef)).abs().max()), 1e-12, m)

    def test_coefficients_are_the_inverse(self):
        for w, h in ((32, 32), (10, 6)):
            for z, px, py, r in MOTIONS:
                minv, off = frames.warp_coefficients(w, h, z, px, py, r)
                self.assertEqual((minv.dtype, off.dtype), (np.float32, np.float32))
                th = float(np.float32(r)) * math.pi / 180
                zz = float(np.float32(z))
                m = zz * np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
                ref = np.linalg.inv(m)
                np.testing.assert_allclose(minv.reshape(2, 2), ref, rtol=0, atol=1e-6)
                c = np.array([w / 2, h / 2])
                t = np.array([float(np.float32(px)) * w, float(np.float32(py)) * h])
                np.testing.assert_allclose(off, c - ref @ (c + t), rtol=1e-6, atol=1e-5)

    def test_identity_is_skipped(self):
        x = torch.randn(1, 4, 5, 5)
        self.assertIs(frames.warp(x), x)
        self.assertIs(frames.warp(x, 1.0, 0.0, 0.0, 0.0), x)
        self.assertIsNot(frames.warp(x, 1.0, 0.0, 0.0, 360.0), x)

    def test_pan_moves_content_right_and_down(self):
        x = torch.arange(4 * 6, dtype=torch.float32).reshape(1, 1, 4, 6)
        y = frames.warp(x, pan_x=1 / 6)  # one latent pixel right
        torch.testing.assert_close(y[..., 1:], x[..., :-1], rtol=0, atol=1e-5)
        torch.testing.assert_close(y[..., 0], x[..., 0], rtol=0, atol=1e-5)  # replicated border
        y = frames.warp(x, pan_y=2 / 4)  # two pixels down
        torch.testing.assert_close(y[..., 2:, :], x[..., :-2, :], rtol=0, atol=1e-5)
        torch.testing.assert_close(y[..., 1, :], x[..., 0, :], rtol=0, atol=1e-5)

    def test_positive_rotation_is_clockwise_on_screen(self):
        x = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
        y = frames.warp(x, rotate_deg=90)
        # out[j][i] = X[3 - i][j]: the top row comes to the right column
        want = torch.stack([torch.stack([x[0, 0, 3 - i, j] for i in range(4)]) for j in range(4)])
        torch.testing.assert_close(y[0, 0], want, rtol=0, atol=1e-5)
        torch.testing.assert_close(y[0, 0, :, 3], x[0, 0, 0, :], rtol=0, atol=1e-5)

    def test_zoom_in_grows_content(self):
        # a bright centre square grows under zoom 2; a constant stays constant
        x = torch.zeros(1, 1, 8, 8)
        x[..., 3:5, 3:5] = 1
        y = frames.warp(x, zoom=2.0)
        self.assertGreater(float((y > 0.5).sum()), float((x > 0.5).sum()))
        c = torch.full((1, 2, 5, 7), 0.25)
        torch.testing.assert_close(frames.warp(c, 1.7, 0.1, -0.3, 33.0), c, rtol=0, atol=1e-7)

    def test_bad_motion(self):
        x = torch.zeros(1, 1, 4, 4)
        for bad in (dict(zoom=0.0), dict(zoom=-1.0), dict(zoom=float("nan")), dict(pan_x=float("inf")),
                    dict(rotate_deg=float("nan"))):
            with self.assertRaises(ValueError, msg=str(bad)):
                frames.warp(x, **bad)


class Slerp(unittest.TestCase):
    def test_endpoints_and_norm(self):
        g = torch.Generator().manual_seed(5)
        a, b = torch.randn(64, generator=g), torch.randn(64, generator=g)
        torch.testing.assert_close(frames.slerp(a, b, 0.0), a, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(frames.slerp(a, b, 1.0), b, rtol=1e-6, atol=1e-6)
        ua, ub = a / a.norm(), b / b.norm()
        for t in (0.1, 0.3, 0.5, 0.9):
            self.assertAlmostEqual(float(frames.slerp(ua, ub, t).norm()), 1.0, places=5)
        # the angle is split in proportion to t
        m = frames.slerp(ua, ub, 0.25)
        ang = lambda p, q: math.acos(float((p.double() @ q.double()) / (p.double().norm() * q.double().norm())))
        self.assertAlmostEqual(ang(ua, m), 0.25 * ang(ua, ub), places=5)

    def test_formula(self):
        a, b = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])
        th = math.pi / 4
        t = float(np.float32(0.3))
        ca, cb = math.sin((1 - t) * th) / math.sin(th), math.sin(t * th) / math.sin(th)
        want = torch.tensor([ca + cb, cb], dtype=torch.float32)
        torch.testing.assert_close(frames.slerp(a, b, 0.3), want, rtol=0, atol=1e-7)

    def test_nearly_parallel_and_zero_fall_back(self):
        a = torch.tensor([1.0, 2.0, 3.0])
        self.assertEqual(frames.slerp_coefficients(frames.cosine(a, 2 * a), 0.25), (0.75, 0.25))
        self.assertEqual(frames.slerp_coefficients(frames.cosine(a, -a), 0.25), (0.75, 0.25))
        self.assertEqual(frames.cosine(a, torch.zeros(3)), 0.0)
        ca, cb = frames.slerp_coefficients(0.0, 0.5)
        self.assertAlmostEqual(ca, math.sin(math.pi / 4) / 1.0, places=15)
        self.assertAlmostEqual(cb, ca, places=15)
        self.assertLessEqual(frames.cosine(a, a), 1.0)

    def test_per_row_is_each_row_alone(self):
        g = torch.Generator().manual_seed(6)
        a, b = torch.randn(1, 77, 16, generator=g), torch.randn(1, 77, 16, generator=g)
        b[0, 5] = 3 * a[0, 5]  # a parallel row: linear coefficients
        a[0, 7] = 0  # a zero row
        rows = frames.slerp(a, b, 0.4, per_row=True)
        for r in range(77):
            torch.testing.assert_close(rows[0, r], frames.slerp(a[0, r], b[0, r], 0.4), rtol=0, atol=0)
        whole = frames.slerp(a, b, 0.4)
        self.assertGreater(float((whole - rows).abs().max()), 1e-3)


class Blend(unittest.TestCase):
    def setUp(self):
        g = torch.Generator().manual_seed(7)
        self.e = [torch.randn(1, 77, 16, generator=g) for _ in range(4)]

    def test_linear(self):
        got = frames.blend_embeddings(self.e[:3], [1, 2, 1], "linear")
        want = (self.e[0] + 2 * self.e[1] + self.e[2]) / 4
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
        # accumulated in order from float32 coefficients
        acc = torch.tensor(0.25) * self.e[0]
        acc = acc + torch.tensor(0.5) * self.e[1]
        acc = acc + torch.tensor(0.25) * self.e[2]
        self.assertTrue(torch.equal(got, acc))
        self.assertTrue(torch.equal(frames.blend_embeddings(self.e[:1], [0.7], "linear"), self.e[0]))
        self.assertTrue(torch.equal(frames.blend_embeddings(self.e[:2], [0, 3], "linear"), self.e[1]))

    def test_slerp_is_per_row_at_the_weights_fraction(self):
        got = frames.blend_embeddings(self.e[:2], [1, 3], "slerp")
        self.assertTrue(torch.equal(got, frames.slerp(self.e[0], self.e[1], 0.75, per_row=True)))

    def test_errors(self):
        e = self.e
        for embs, w, mode in ((e[:3], [1, 1, 1], "slerp"), (e[:1], [1], "slerp"), (e[:2], [1, -1], "linear"),
                              (e[:2], [0, 0], "linear"), (e[:2], [1, float("nan")], "linear"),
                              (e[:2], [1, float("inf")], "linear"), (e[:2], [1, 1], "cubic"),
                              (e + e[:1], [1] * 5, "linear"), ([], [], "linear"), (e[:2], [1], "linear")):
            with self.assertRaises(ValueError, msg=f"{len(embs)} {w} {mode}"):
                frames.blend_embeddings(embs, w, mode)


class Schedule(unittest.TestCase):
    def test_table(self):
        cases = {(1, 1.0): (1, 0), (4, 1.0): (4, 0), (1, 0.5): (2, 1), (2, 0.6): (4, 2), (2, 0.5): (4, 2),
                 (1, 0.3): (4, 3), (3, 0.75): (4, 1), (1, 0.999): (2, 1),
                 # 0.7 as float32 is 0.69999999: 10 * s < 7, so 11 (float64 0.7 would give 10)
                 (7, 0.7): (11, 4)}
        for (k, s), want in cases.items():
            self.assertEqual(frames.schedule_for(k, s), want, (k, s))

    def test_smallest_schedule_and_img2img_start(self):
        for k in range(1, 6):
            for s in np.linspace(0.05, 0.95, 37):
                n, first = frames.schedule_for(k, s)
                s64 = float(np.float32(s))
                self.assertEqual(n - first, k)
                self.assertEqual(first, img2img_start(n, s64))
                self.assertTrue(n == k or math.floor((n - 1) * s64) < k, (k, s))

    def test_errors(self):
        for k, s in ((0, 0.5), (-1, 0.5), (1.5, 0.5), (True, 0.5), (1, 0.0), (1, -0.1), (1, 1.5),
                     (1, float("nan")), (1, float("inf")), (4, 0.001), (1001, 1.0)):
            with self.assertRaises(ValueError, msg=f"{k} {s}"):
                frames.schedule_for(k, s)


class Noise(unittest.TestCase):
    def test_seed_mix(self):
        shape = (1, 4, 4, 6)
        n7 = torch.from_numpy(noise.latent_noise(7, shape))
        n8 = torch.from_numpy(noise.latent_noise(8, shape))
        self.assertTrue(torch.equal(frames.scene_noise(7, shape), n7))
        self.assertTrue(torch.equal(frames.scene_noise(7, shape, 8, 0.0), n7))
        torch.testing.assert_close(frames.scene_noise(7, shape, 8, 1.0), n8, rtol=0, atol=1e-5)
        mid = frames.scene_noise(7, shape, 8, 0.3)
        self.assertTrue(torch.equal(mid, frames.slerp(n7, n8, 0.3)))
        # slerp keeps the noise's scale where a linear mix would shrink it
        self.assertGreater(float(mid.norm()), 0.95 * min(float(n7.norm()), float(n8.norm())))
        for bad in (-0.1, 1.1, float("nan")):
            with self.assertRaises(ValueError):
                frames.scene_noise(7, shape, 8, bad)
        with self.assertRaises(ValueError):
            frames.scene_noise(7, shape, None, 0.5)

    def test_step_noise_streams_are_absolute(self):
        shape = (1, 4, 2, 2)
        got = frames.step_noises(9, shape, 2, 5)
        self.assertEqual(len(got), 2)  # steps 2 and 3 add noise, step 4 (the last) does not
        for j, i in enumerate((2, 3)):
            self.assertTrue(torch.equal(got[j], torch.from_numpy(noise.latent_noise(9, shape, 1 + i))))


def desc(prompts, **kw):
    d = {"prompts": prompts, "blend": "linear", "seed": 3, "steps": 1, "strength": 1.0}
    d.update(kw)
    return d


class Frame(unittest.TestCase):
    """frame()'s wiring against the pipeline on the tiny LCM fixture."""

    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(2)
        cls.pipe = load_pipeline(os.path.join(FIXTURES, "tiny-sd15"))
        cls.tok = cls.pipe["tokenizer"]
        cls.shape = frames.latent_shape(cls.pipe)
        cls.prev = torch.from_numpy(noise.latent_noise(11, cls.shape)) * 4

    def prompt(self, text, w=1.0):
        return {"text": text, "ids": self.tok(text), "weight": w}

    def test_text_to_image_frame_is_gen(self):
        d = desc([self.prompt("a horse")], steps=2, zoom=1.3, anchor_weight=0.5)
        r = frames.frame(self.pipe, d, prev=self.prev, anchor=self.prev)  # strength 1: both unused
        n = torch.from_numpy(noise.latent_noise(3, self.shape))
        sched = make_scheduler(self.pipe["scheduler_config"])
        want = text_to_image(self.pipe["unet"], self.pipe["text_encoder"], sched, self.pipe["vae_tiny"],
                             torch.tensor([self.tok("a horse")]), n, 2,
                             step_noises=frames.step_noises(3, self.shape, 0, 2))
        self.assertTrue(torch.equal(r["latents"], want["latents"]))
        self.assertTrue(torch.equal(r["image_float"], want["image"]))
        self.assertIsNone(r["init"])
        self.assertEqual(r["schedule"], (2, 0))

    def test_img2img_frame_is_the_pipeline_on_the_moved_latent(self):
        for gs in (0.0, 7.5):  # 7.5: classifier-free guidance with the unblended negative ""
            d = desc([self.prompt("a horse")], strength=0.6, steps=2, seed=5, zoom=1.1, rotate=-3.0, pan_x=0.05,
                     anchor_weight=0.25, guidance_scale=gs)
            r = frames.frame(self.pipe, d, prev=self.prev, anchor=2 * self.prev)
            moved = frames.apply_anchor(frames.warp(self.prev, 1.1, 0.05, 0.0, -3.0), 2 * self.prev, 0.25)
            self.assertTrue(torch.equal(r["init"], moved))
            n, first = frames.schedule_for(2, 0.6)
            want = image_to_image(self.pipe["unet"], self.pipe["text_encoder"],
                                  make_scheduler(self.pipe["scheduler_config"]), None,
                                  torch.tensor([self.tok("a horse")]), moved,
                                  torch.from_numpy(noise.latent_noise(5, self.shape)), n, float(np.float32(0.6)),
                                  guidance_scale=gs, negative_ids=torch.tensor([self.tok("")]) if gs > 1 else None,
                                  step_noises=frames.step_noises(5, self.shape, first, n))
            self.assertTrue(torch.equal(r["latents"], want["latents"]), gs)
            self.assertEqual(r["timesteps"], [float(t) for t in LCMScheduler(self.pipe["scheduler_config"])
                                              .set_timesteps(n)[first:]])

    def test_still_frame_uses_the_latent_as_is(self):
        d = desc([self.prompt("a horse")], strength=0.5)
        r = frames.frame(self.pipe, d, prev=self.prev)
        self.assertIs(r["init"], self.prev)

    def test_warp_only(self):
        d = {"warp_only": True, "zoom": 1.02, "anchor_weight": 0.5}
        r = frames.frame(self.pipe, d, prev=self.prev, anchor=torch.zeros(self.shape))
        self.assertTrue(torch.equal(r["latents"], torch.tensor(0.5) * frames.warp(self.prev, 1.02)))
        self.assertIsNone(r["schedule"])
        self.assertEqual(r["image"].dtype, torch.uint8)
        self.assertEqual(tuple(r["image"].shape), (1, 64, 64, 3))

    def test_prompt_cache_encodes_each_prompt_once(self):
        cache = frames.PromptCache(self.pipe["text_encoder"], self.tok)
        a, b = self.prompt("a horse"), self.prompt("a cube")
        frames.frame(self.pipe, desc([a, b], blend="slerp"), cache=cache)
        frames.frame(self.pipe, desc([b, a], strength=0.5), prev=self.prev, cache=cache)
        frames.frame(self.pipe, desc([{"text": "a horse"}]), cache=cache)  # ids from the tokenizer
        self.assertEqual(cache.runs, 2)

    def test_errors(self):
        p = [self.prompt("a horse")]
        bad = [
            (desc(p, strength=0.5), None, None),  # img2img without a previous latent
            (desc(p, strength=float("nan")), self.prev, None),
            (desc(p, steps=0), self.prev, None),
            (desc(p, strength=0.5, anchor_weight=0.3), self.prev, None),  # no anchor latent
            (desc(p, strength=0.5, anchor_weight=1.5), self.prev, self.prev),
            (desc(p + p + p, blend="slerp"), None, None),
            (desc([]), None, None),
            (desc(p, strength=0.5, zoom=0.0), self.prev, None),
            (desc(p, seed_mix=0.5), None, None),  # no seed_to
            ({"warp_only": True, "zoom": 1.1}, None, None),
        ]
        for d, prev, anchor in bad:
            with self.assertRaises(ValueError, msg=str({k: v for k, v in d.items() if k != "prompts"})):
                frames.frame(self.pipe, d, prev=prev, anchor=anchor)
        with self.assertRaises(ValueError):
            frames.run_frames(self.pipe, [desc(p), dict(desc(p, strength=0.5), anchor_weight=0.2, anchor_frame=1)])


class CommittedGoldens(unittest.TestCase):
    """tests/fixtures/*/frames.{json,safetensors} (tools/make_frame_goldens.py)
    are what the reference makes from the weights they name."""

    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(2)
        cls.data = {}
        for name, folder in GOLDENS.items():
            with open(os.path.join(folder, "frames.json"), encoding="utf-8") as f:
                doc = json.load(f)
            cls.data[name] = (doc, st.load_torch(os.path.join(folder, "frames.safetensors")))

    def test_listing_and_weights(self):
        from make_shipped_goldens import sha256
        for name, (doc, g) in self.data.items():
            self.assertEqual({k: {"dtype": "U8" if v.dtype == torch.uint8 else "F32", "shape": list(v.shape)}
                              for k, v in g.items()}, doc["tensors"], name)
            for rel, digest in doc["weights_sha256"].items():
                self.assertEqual(sha256(os.path.join(REPO, doc["model"], rel)), digest,
                                 f"{name}: {rel} changed: run tools/make_frame_goldens.py")
            self.assertEqual(len(doc["frames"]), 5)
            for k, f in enumerate(doc["frames"]):
                self.assertEqual(f["index"], k)
                for t in f["outputs"].values():
                    self.assertIn(t, g)
            size = os.path.getsize(os.path.join(GOLDENS[name], "frames.safetensors"))
            self.assertLess(size, 700_000, name)

    def test_descriptions_match_the_reference_rules(self):
        for name, (doc, _) in self.data.items():
            h, w = doc["latent_shape"][2:]
            for f in doc["frames"]:
                motion = (f["zoom"], f["pan_x"], f["pan_y"], f["rotate"])
                if frames.is_identity(*motion):
                    self.assertIsNone(f["warp"])
                else:
                    minv, off = frames.warp_coefficients(w, h, *motion)
                    self.assertEqual(f["warp"]["minv"], [float(v) for v in minv])
                    self.assertEqual(f["warp"]["offset"], [float(v) for v in off])
                if not f["warp_only"]:
                    n, first = frames.schedule_for(f["steps"], f["strength"])
                    self.assertEqual((f["schedule"]["num_steps"], f["schedule"]["first_step"]), (n, first))
                    self.assertEqual(len(f["schedule"]["timesteps"]), f["steps"])
                    for p in f["prompts"]:
                        self.assertEqual(len(p["ids"]), 77)
            for c in doc["warp_cases"]:
                minv, off = frames.warp_coefficients(10, 6, c["zoom"], c["pan_x"], c["pan_y"], c["rotate"])
                self.assertEqual(c["minv"], [float(v) for v in minv])
                self.assertEqual(c["offset"], [float(v) for v in off])

    def test_warp_cases_reproduce_and_match_the_loop(self):
        for name, (doc, g) in self.data.items():
            for c in doc["warp_cases"]:
                m = (c["zoom"], c["pan_x"], c["pan_y"], c["rotate"])
                x = g[c["input"]]
                self.assertTrue(torch.equal(frames.warp(x, *m), g[c["output"]]), c["name"])
                self.assertLess(float((loop_warp(x, *m) - g[c["output"]].double()).abs().max()), 2e-5, c["name"])

    @torch.no_grad()
    def test_scenes_reproduce(self):
        for name, (doc, g) in self.data.items():
            pipe = load_pipeline(os.path.join(REPO, doc["model"]))
            res = frames.run_frames(pipe, doc["frames"], tuple(doc["latent_shape"]))
            for f, r in zip(doc["frames"], res):
                o = f["outputs"]
                what = f"{name} frame {f['index']}"
                self.assertLess(nmse(g[o["latents"]], r["latents"]), 1e-12, what)
                if "init" in o:
                    self.assertLess(nmse(g[o["init"]], r["init"]), 1e-12, what)
                if "embeds" in o:
                    self.assertLess(nmse(g[o["embeds"]], r["embeds"]), 1e-12, what)
                if "noise" in o:
                    self.assertTrue(torch.equal(g[o["noise"]], r["noise"]), what)
                if "image" in o:
                    diff = (g[o["image"]].int() - r["image"].int()).abs()
                    self.assertLessEqual(int(diff.max()), 1, what)
                if not f["warp_only"]:
                    self.assertEqual(r["timesteps"], f["schedule"]["timesteps"], what)

    def test_first_frame_is_the_shipped_gen_golden(self):
        """reverie-tiny frame 0 (strength 1, 2 steps, seed 7) is gen_2step of
        goldens.json, which test_shipped.c already checks the runtime against."""
        doc, g = self.data["reverie-tiny"]
        folder = GOLDENS["reverie-tiny"]
        with open(os.path.join(folder, "goldens.json"), encoding="utf-8") as f:
            gen = json.load(f)["cases"]["gen_2step"]
        f0 = doc["frames"][0]
        self.assertEqual((f0["prompts"][0]["text"], f0["seed"], f0["steps"]),
                         (gen["prompt"], gen["seed"], gen["num_inference_steps"]))
        ref = st.load_torch(os.path.join(folder, "goldens.safetensors"))["gen_2step.latents"]
        self.assertLess(nmse(ref, g["frame0.latents"]), 1e-12)

    def test_fp64_check(self):
        for name, (doc, _) in self.data.items():
            c = doc["fp64_check"]
            self.assertEqual(c["frame"], 1)
            self.assertLess(c["nmse_latents"], 1e-9, name)
            self.assertLess(max(c["scene_nmse_latents"]), 1e-9, name)


if __name__ == "__main__":
    unittest.main()

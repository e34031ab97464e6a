"""The shipped model's tooling: the FLOP counter's arithmetic, reverie-tiny's
budget (weights <= 16 MB in fp16, 1 UNet step + decoder at 256x256 <= 4
GFLOP), the fitted tokenizer under CLIP's rules, the distillation path's
algebra, and the shipped folder when it is there."""

import json
import os
import tempfile
import unittest

import torch
from torch import nn

from tests.common import REPO
from reverie_ref import no_init

import flops
from train import arch
from train.latents import alphas_cumprod, eps_from_v, v_target, x0_from_v

MODEL = os.path.join(REPO, "models", arch.NAME)


class FlopCounter(unittest.TestCase):
    def test_conv_linear_counts(self):
        m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(8 * 5 * 5, 10))
        with flops.counting(m) as c:
            m(torch.zeros(2, 3, 5, 5))
        self.assertEqual(c.conv, 2 * (2 * 8 * 5 * 5) * (3 * 9))
        self.assertEqual(c.linear, 2 * (2 * 10) * 200)

    def test_attention_counted(self):
        from reverie_ref.layers import Attention
        a = Attention(16, 8, heads=2, dim_head=8)
        with flops.counting(a) as c:
            a(torch.zeros(1, 10, 16), torch.zeros(1, 7, 8))
        self.assertEqual(c.attention, 2 * 10 * 7 * 16 * 2)
        self.assertEqual(c.linear, 2 * 10 * 16 * 16 * 2 + 2 * 7 * 8 * 16 * 2)

    def test_sd_layout_scaling(self):
        # conv and linear FLOPs grow with the latent area, attention's QK^T/PV
        # with its square in self-attention (the full SD 1.5 UNet counts 804
        # GFLOP at 64x64, the public ~0.8 TFLOP per step)
        from tests.common import model_config
        cfg = model_config("sd15", "unet")
        cfg = dict(cfg, block_out_channels=[64, 128, 256, 256], cross_attention_dim=192)
        with no_init():
            from reverie_ref import UNet2DConditionModel
            unet = UNet2DConditionModel(cfg).eval()
        small, big = flops.unet_flops(unet, (16, 16)), flops.unet_flops(unet, (32, 32))
        self.assertEqual(big.conv, 4 * small.conv)
        self.assertGreater(big.attention, 4 * small.attention)
        self.assertAlmostEqual(big.conv / 1e9, 4.447, delta=0.001)


class Budget(unittest.TestCase):
    def test_reverie_tiny_fits(self):
        rep = flops.report(arch.configs(vocab_size=1024), arch.IMAGE_SIZE, encoder=False)
        self.assertEqual(rep["latent_size"], [32, 32])
        self.assertLessEqual(rep["frame_1_step_gflop"], 4.0)
        self.assertLessEqual(rep["fp16_megabytes"], 16.0)


class Tokenizer(unittest.TestCase):
    def test_fitted_tokenizer_follows_clip_rules(self):
        from train import fit_tokenizer as ft
        from reverie_ref.tokenizer import CLIPTokenizer
        caps = ft.caption_corpus(300, 2)
        merges, words = ft.learn_merges(ft.word_counts(caps))
        with tempfile.TemporaryDirectory() as d:
            ft.write_tokenizer(d, ft.build_vocab(merges), merges)
            info = ft.check(d, caps, words)
            tok = CLIPTokenizer.from_folder(d)
        self.assertEqual(info["multi_token_words"], [])
        v = tok.encoder
        self.assertEqual(v["!"], 0)
        self.assertEqual(v["!</w>"], 256)
        self.assertEqual(v[arch.EOS], len(v) - 1)
        self.assertEqual(v[arch.BOS], len(v) - 2)
        # lower-casing, regex split of punctuation, one token per known word
        a, b = tok("A RED Lighthouse, at sunset"), tok("a red lighthouse , at sunset")
        self.assertEqual(a, b)
        self.assertEqual(a.index(tok.eos_id), 7)
        # unknown words fall back to byte symbols instead of failing
        ids = tok.encode("zebra xylophone")
        self.assertGreater(len(ids), 2)
        self.assertTrue(all(i < len(v) - 2 for i in ids))


class Algebra(unittest.TestCase):
    def test_v_round_trip(self):
        ac = alphas_cumprod()
        a = ac[torch.tensor([0, 499, 999])].view(3, 1, 1, 1).double()
        x0, eps = torch.randn(3, 4, 2, 2).double(), torch.randn(3, 4, 2, 2).double()
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        v = v_target(x0, eps, a)
        self.assertTrue(torch.allclose(x0_from_v(xt, v, a), x0))
        self.assertTrue(torch.allclose(eps_from_v(xt, v, a), eps))

    def test_euler_stays_on_straight_path(self):
        # distill.py's premise: a perfect student (x0* from any point of
        # x0* + sigma z) makes Euler trailing land on the same path, so 1, 2
        # and 4 steps give the same sample
        from reverie_ref.schedulers import make_scheduler
        x0, z = torch.randn(1, 4, 3, 3).double(), torch.randn(1, 4, 3, 3).double()
        sched = make_scheduler(arch.scheduler_config())
        ac = sched.alphas_cumprod.double()
        for n in (1, 2, 4):
            sched.set_timesteps(n)
            x = z * sched.init_noise_sigma.double()
            for i, t in enumerate(sched.timesteps):
                a = ac[int(t)]
                xin = sched.scale_model_input(x, i)
                v = (a.sqrt() * xin - x0) / (1 - a).sqrt()   # the v whose x0 is x0*
                x, _ = sched.step(v, i, x)
            self.assertLess((x - x0).abs().max().item(), 1e-6, n)


class Scoring(unittest.TestCase):
    def test_true_labels_score_perfectly(self):
        import numpy as np
        import scenegen as sg
        from train import evaluate as ev
        from train.attr_classifier import FACTOR_NAMES
        prompts, real = ev.eval_prompts(per_combo=1, n_train=2)
        self.assertEqual(len(prompts), len(real))
        self.assertEqual(sum(1 for p in prompts if p[2]), len(sg.heldout_combinations()))
        truth = np.array([sg.label_vector(sg.attributes(s)) for s, _, _ in prompts])
        res = ev.score(truth, prompts)
        self.assertEqual(res["attribute_accuracy"], 1.0)
        self.assertEqual(res["heldout_pair_accuracy"], 1.0)
        wrong = truth.copy()
        wrong[:, FACTOR_NAMES.index("terrain")] = (wrong[:, FACTOR_NAMES.index("terrain")] + 1) % len(sg.TERRAINS)
        self.assertEqual(ev.score(wrong, prompts)["per_factor"]["terrain"], 0.0)
        # every held-out prompt states its combination
        for scene, cap, combo in prompts:
            if combo:
                stated = ev.stated_truth(scene, cap)
                for f in combo:
                    self.assertIn("object_color" if f == "color" else f, stated)


@unittest.skipUnless(os.path.exists(os.path.join(MODEL, "model_index.json")), "models/reverie-tiny not built yet")
class ShippedModel(unittest.TestCase):
    def test_folder_loads_and_fits_budget(self):
        from reverie_ref.diffusers_folder import load_pipeline
        pipe = load_pipeline(MODEL)
        for k in ("unet", "text_encoder", "vae", "tokenizer", "scheduler"):
            self.assertIsNotNone(pipe.get(k), k)
        rep = flops.report(flops.folder_configs(MODEL), arch.IMAGE_SIZE, encoder=False)
        self.assertLessEqual(rep["frame_1_step_gflop"], 4.0)
        total = 0
        for root, _, files in os.walk(MODEL):
            total += sum(os.path.getsize(os.path.join(root, f)) for f in files if f.endswith(".safetensors"))
        self.assertLessEqual(total, 16_000_000)
        with open(os.path.join(MODEL, "model_index.json")) as f:
            self.assertEqual(json.load(f)["vae"], ["diffusers", "AutoencoderTiny"])

    def test_runtime_goldens_come_from_these_weights(self):
        """tests/test_shipped.c compares the runtime with goldens made from the
        shipped weights; after a retrain they must be made again."""
        from make_shipped_goldens import sha256
        with open(os.path.join(REPO, "tests", "fixtures", "reverie-tiny", "goldens.json")) as f:
            meta = json.load(f)
        for rel, digest in meta["weights_sha256"].items():
            self.assertEqual(sha256(os.path.join(MODEL, rel)), digest,
                             f"{rel} changed: run tools/make_shipped_goldens.py")


class Handoff(unittest.TestCase):
    def test_pack_unpack_keeps_what_later_stages_read(self):
        from train import handoff
        with tempfile.TemporaryDirectory() as d:
            runs, out = os.path.join(d, "runs"), os.path.join(d, "out")
            os.makedirs(os.path.join(runs, "teacher32"))
            os.makedirs(os.path.join(runs, "tokenizer"))
            os.makedirs(os.path.join(runs, "data", "lat256"))
            w = {"w": torch.ones(3)}
            torch.save({"te": w, "unet": w, "ema_te": w, "ema_unet": w, "opt": {"state": {}}, "step": 7},
                       os.path.join(runs, "teacher32", "ckpt.pt"))
            for name, text in (("teacher32/log.jsonl", "{}\n"), ("tokenizer/vocab.json", "{}"),
                               ("tokenizer/merges.txt", "#\n"), ("data/lat256/meta.json", "{}"),
                               ("data/lat256/shard_00000.latents.npy", "x")):
                with open(os.path.join(runs, name), "w") as f:
                    f.write(text)
            self.assertEqual(handoff.main(["pack", runs, os.path.join(out, "h.tar"), "--part-mb", "1"]), 0)
            back = os.path.join(d, "back")
            self.assertEqual(handoff.main(["unpack", os.path.join(out, "h.tar.*"), "--runs", back]), 0)
            ck = torch.load(os.path.join(back, "teacher32", "ckpt.pt"))
            self.assertEqual(sorted(ck), ["ema_te", "ema_unet", "slim", "step"])
            for name in ("teacher32/log.jsonl", "tokenizer/vocab.json", "tokenizer/merges.txt", "data/lat256/meta.json"):
                self.assertTrue(os.path.exists(os.path.join(back, name)), name)
            self.assertFalse(os.path.exists(os.path.join(back, "data/lat256/shard_00000.latents.npy")))


class PrefetchThread(unittest.TestCase):
    def test_order_and_errors(self):
        from train.common import Prefetch
        it = iter(range(5))

        def make():
            v = next(it)  # StopIteration after 5: handed to get()
            return (torch.tensor([v]),)
        pre = Prefetch(make, pin=False)
        self.assertEqual([int(pre.get()[0]) for _ in range(5)], [0, 1, 2, 3, 4])
        with self.assertRaises(StopIteration):
            pre.get()


if __name__ == "__main__":
    unittest.main()

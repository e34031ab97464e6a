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

    def test_dpm_solver_2m_solves_the_ode_better_than_euler(self):
        # data N(0, c^2): the exact denoiser is x c^2 / (c^2 + sigma^2), and
        # the probability-flow ODE carries x_T at sigma_T to x_T sqrt(c^2 +
        # sigma^2) / sqrt(c^2 + sigma_T^2). Both samplers are run to the
        # schedule's last nonzero sigma (the jump to 0 returns x0 in both).
        from reverie_ref.schedulers import make_scheduler
        from train.sampling import DPMSolver2M
        c = 0.5
        z = torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(0)).double()

        def error(sched, n):
            sched.set_timesteps(n)
            x = z * sched.init_noise_sigma.double()
            for i in range(n - 1):
                s = sched.sigmas[i].double()
                v = (x / (s * s + 1) - x * c * c / (c * c + s * s)) * (s * s + 1).sqrt() / s
                x, _ = sched.step(v, i, x)
            s0, s1 = sched.sigmas[0].double(), sched.sigmas[n - 1].double()
            return (x - z * s0 * (c * c + s1 * s1).sqrt() / (c * c + s0 * s0).sqrt()).abs().max().item()

        dpm = DPMSolver2M(arch.scheduler_config())
        e12 = error(dpm, 12)
        self.assertEqual(error(dpm, 12), e12)  # a second run forgets the first one's x0
        euler25 = error(make_scheduler(arch.scheduler_config()), 25)
        self.assertLess(e12, euler25 / 5, (e12, euler25))
        self.assertLess(e12, 1e-2)


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


TEACHER = MODEL + "-teacher"
CLS = os.path.join(REPO, "models", "attr-classifier")


@unittest.skipUnless(os.path.exists(os.path.join(TEACHER, "model_index.json")), "no teacher folder yet")
class ShippedTeacher(unittest.TestCase):
    def test_teacher_shares_the_students_architecture_and_parts(self):
        """The teacher is the student's architecture (distill.py copies its
        text encoder into the student) with the same tokenizer, loads through
        the reference, and has its README."""
        from reverie_ref.diffusers_folder import load_pipeline, read_json
        for part in ("unet", "text_encoder", "vae"):
            a = read_json(os.path.join(MODEL, part, "config.json"))
            b = read_json(os.path.join(TEACHER, part, "config.json"))
            self.assertEqual({k: v for k, v in a.items() if not k.startswith("_")},
                             {k: v for k, v in b.items() if not k.startswith("_")}, part)
        for fn in ("vocab.json", "merges.txt"):
            with open(os.path.join(MODEL, "tokenizer", fn), "rb") as f, \
                    open(os.path.join(TEACHER, "tokenizer", fn), "rb") as g:
                self.assertEqual(f.read(), g.read(), fn)
        pipe = load_pipeline(TEACHER)
        self.assertIsNotNone(pipe.get("unet"))
        self.assertTrue(os.path.exists(os.path.join(TEACHER, "README.md")))


@unittest.skipUnless(os.path.exists(os.path.join(CLS, "model.safetensors")), "no classifier folder yet")
class ShippedClassifier(unittest.TestCase):
    def test_reads_real_renders(self):
        """The evaluation's instrument, as committed, reads procedural renders
        it has never seen (a seed apart from its data) about as well as its
        recorded validation accuracy says."""
        import numpy as np
        import scenegen as sg
        from train.attr_classifier import FACTOR_NAMES, accuracy_table, load_classifier, predict
        from train.common import generate_item
        torch.set_num_threads(1)
        imgs, labels, objects = [], [], []
        for i in range(48):
            img, _, attrs = generate_item(7777, i, 256, "all")
            attrs.pop("scene")
            imgs.append(img)
            labels.append(sg.label_vector(attrs))
            objects.append(sg.objects_multi_hot(attrs))
        pred, pobj = predict(load_classifier(CLS).cpu(), np.stack(imgs))
        acc = accuracy_table(pred, pobj, np.array(labels, np.int16), np.array(objects, np.uint8))
        with open(os.path.join(CLS, "val.json")) as f:
            val = json.load(f)
        for name in FACTOR_NAMES:
            if name in ("time", "weather", "terrain", "style"):  # enough of each in 48 renders
                self.assertGreaterEqual(acc[name], val[name] - 0.15, (name, acc, val))


class SeedRuns(unittest.TestCase):
    def test_shipped_folder_becomes_training_checkpoints(self):
        """seed_runs.py turns the shipped folder back into the checkpoints the
        training scripts start from, with the same weights, and keeps them."""
        from reverie_ref.diffusers_folder import load_model
        from train import seed_runs
        torch.set_num_threads(1)
        with tempfile.TemporaryDirectory() as d:
            written = seed_runs.seed(MODEL, d)
            history = os.path.exists(os.path.join(MODEL, "stages.json"))  # the card's history, once kept
            self.assertEqual(len(written), 4 + history)
            for fn in seed_runs.TOKENIZER_FILES:
                self.assertTrue(os.path.exists(os.path.join(d, "tokenizer", fn)), fn)
            ck = torch.load(os.path.join(d, "shipped", "ckpt.pt"))
            unet = load_model(os.path.join(MODEL, "unet")).state_dict()
            self.assertEqual(sorted(ck["unet"]), sorted(unet))
            for k, v in unet.items():
                self.assertEqual(ck["unet"][k].dtype, torch.float32, k)
                self.assertTrue(torch.equal(ck["ema_unet"][k], v.float()), k)
            with open(os.path.join(MODEL, "vae", "config.json")) as f:
                self.assertEqual(ck["scaling_factor"], json.load(f)["scaling_factor"])
            ae = torch.load(os.path.join(d, "ae-decoder", "ckpt.pt"))
            self.assertIn("model", ae)
            self.assertEqual(seed_runs.seed(MODEL, d), [])  # kept unless --force

    def test_teacher_folder_is_seeded(self):
        """The teacher's folder becomes RUNS/teacher/ckpt.pt for distill.py."""
        from reverie_ref.diffusers_folder import load_model
        from train import seed_runs
        torch.set_num_threads(1)
        with tempfile.TemporaryDirectory() as d:
            written = seed_runs.seed(MODEL, d, teacher_dir=MODEL)  # any diffusers folder will do
            self.assertIn(os.path.join(d, "teacher", "ckpt.pt"), written)
            ck = torch.load(os.path.join(d, "teacher", "ckpt.pt"))
            te = load_model(os.path.join(MODEL, "text_encoder")).state_dict()
            for k, v in te.items():
                self.assertTrue(torch.equal(ck["ema_te"][k], v.float()), k)
            self.assertEqual(seed_runs.seed(MODEL, d, teacher_dir=MODEL), [])


class AttrClassifierFolder(unittest.TestCase):
    def test_export_round_trip(self):
        """attr_classifier.py export writes fp16 safetensors that
        load_classifier reads back as the same network (batch-norm statistics
        included), and its validation figures beside them."""
        from train.attr_classifier import AttrNet, load_classifier, main as cls_main
        from train.common import save_checkpoint
        torch.set_num_threads(1)
        torch.manual_seed(3)
        with tempfile.TemporaryDirectory() as d:
            net = AttrNet()
            with torch.no_grad():  # non-trivial batch-norm statistics
                net(torch.randn(8, 3, 128, 128))
            net.eval()
            save_checkpoint(os.path.join(d, "run", "ckpt.pt"), {"model": net.state_dict(), "opt": {}, "step": 7})
            with open(os.path.join(d, "run", "val.json"), "w") as f:
                json.dump({"time": 0.5}, f)
            self.assertEqual(cls_main(["export", "--run", os.path.join(d, "run"), "--out", os.path.join(d, "cls")]), 0)
            with open(os.path.join(d, "cls", "val.json")) as f:
                self.assertEqual(json.load(f), {"time": 0.5})
            x = torch.rand(4, 3, 128, 128) * 2 - 1
            with torch.no_grad():
                want, _ = net(x)
                got, _ = load_classifier(os.path.join(d, "cls")).cpu()(x)
            for a, b in zip(want, got):
                self.assertLess((a - b).abs().max().item(), 0.02 * a.abs().max().item() + 1e-3)
            with self.assertRaises(FileNotFoundError):
                load_classifier(os.path.join(d, "run"))  # a folder without the weights file


class ModelCard(unittest.TestCase):
    def card(self, runs, rows_scale):
        """The card written for a copy of the shipped folder's records, its
        accuracies scaled by rows_scale: {row: factor}."""
        import shutil
        from train import model_card
        with tempfile.TemporaryDirectory() as m:
            for fn in ("eval.json", "flops.json"):
                shutil.copy(os.path.join(MODEL, fn), m)
            with open(os.path.join(m, "eval.json")) as f:
                ev = json.load(f)
            for row, k in rows_scale.items():
                for key in ("attribute_accuracy", "heldout_attribute_accuracy"):
                    ev["rows"][row][key] = k[key]
            with open(os.path.join(m, "eval.json"), "w") as f:
                json.dump(ev, f)
            model_card.main(["--model", m, "--runs", runs])
            with open(os.path.join(m, "README.md")) as f:
                return f.read()

    def test_status_uses_heldout_and_names_the_target_met(self):
        """The status line judges the held-out figures (the targets' terms),
        names which target is met, and the card lists each distillation stage
        of stages.json with the steps its log records."""
        with tempfile.TemporaryDirectory() as runs:
            os.makedirs(os.path.join(runs, "sA"))
            with open(os.path.join(runs, "sA", "log.jsonl"), "w") as f:
                f.write(json.dumps({"event": "start", "hardware": "CPU, 1 threads (PyTorch x)", "time": 0}) + "\n")
                for step in (50, 100):
                    f.write(json.dumps({"step": step, "loss": 0.1, "samples_per_s": 10.0, "time": step}) + "\n")
            with open(os.path.join(runs, "stages.json"), "w") as f:
                json.dump({"distillation": [["sA", "distillation, part A", "first"]],
                           "ae_data": "some renders"}, f)
            # all prompts above both targets, held-out ones above only the 1-step one
            text = self.card(runs, {
                "model_1_step": {"attribute_accuracy": 0.75, "heldout_attribute_accuracy": 0.71},
                "model_2_step": {"attribute_accuracy": 0.81, "heldout_attribute_accuracy": 0.79}})
            self.assertIn("**Status: meets the project's 1-step target, below its 2-step one**", text)
            self.assertIn("79.0% at 2 steps, 71.0% at 1 step", text)
            self.assertIn("| distillation, part A | first | 100 steps, 0.8 min, median 10 samples/s | "
                          "CPU, 1 thread (PyTorch x) |", text)
            self.assertIn("- autoencoder: some renders", text)
            text = self.card(runs, {
                "model_1_step": {"attribute_accuracy": 0.75, "heldout_attribute_accuracy": 0.70},
                "model_2_step": {"attribute_accuracy": 0.81, "heldout_attribute_accuracy": 0.80}})
            self.assertIn("**Status: meets the project's targets**", text)

    def test_history_outlives_the_runs_folder(self):
        """The card keeps its history as <model>/stages.json; a new runs
        folder seeded with it (its logs gone) gives the same training rows.
        With --teacher the teacher's folder gets its own README."""
        import shutil
        from train import model_card
        with tempfile.TemporaryDirectory() as m, tempfile.TemporaryDirectory() as runs, \
                tempfile.TemporaryDirectory() as runs2, tempfile.TemporaryDirectory() as t:
            for fn in ("eval.json", "flops.json"):
                shutil.copy(os.path.join(MODEL, fn), m)
            os.makedirs(os.path.join(runs, "tA"))
            with open(os.path.join(runs, "tA", "log.jsonl"), "w") as f:
                f.write(json.dumps({"event": "start", "hardware": "CPU, 2 threads (PyTorch x)", "time": 0}) + "\n")
                for step, time in ((100, 0), (300, 600)):
                    f.write(json.dumps({"step": step, "loss": 0.1, "samples_per_s": 20.0, "time": time}) + "\n")
            # the pairs here are newer than those the history names
            os.makedirs(os.path.join(runs, "pairs32"))
            with open(os.path.join(runs, "pairs32", "meta.json"), "w") as f:
                json.dump({"count": 4096, "steps": 12, "sampler": "dpm2m", "guidance": 4.0}, f)
            with open(os.path.join(runs, "stages.json"), "w") as f:
                json.dump({"teacher": [["tA", "teacher, part A", "from scratch"]],
                           "recorded": {"ae": "9 steps, 1.0 min | GPU"},
                           "pairs": {"count": 2048, "steps": 12, "sampler": "dpm2m", "guidance": 4.0}}, f)
            model_card.main(["--model", m, "--runs", runs, "--teacher", t])
            with open(os.path.join(m, "README.md")) as f:
                first = f.read()
            self.assertIn("4,096 teacher samples", first)
            self.assertIn("come through (each ≥ 80%); weaker: ", first)
            with open(os.path.join(m, "stages.json")) as f:
                self.assertEqual(json.load(f)["pairs"]["count"], 4096)
            row = "| teacher, part A | from scratch | 300 steps, 10.0 min, median 20 samples/s | CPU, 2 threads (PyTorch x) |"
            self.assertIn(row, first)
            self.assertIn("| autoencoder, phase 1 | ", first)
            self.assertIn("9 steps, 1.0 min | GPU |", first)
            with open(os.path.join(t, "README.md")) as f:
                tcard = f.read()
            self.assertIn(row, tcard)
            self.assertIn("--steps 25 --guidance 4", tcard)
            shutil.copy(os.path.join(m, "stages.json"), os.path.join(runs2, "stages.json"))
            model_card.main(["--model", m, "--runs", runs2])
            with open(os.path.join(m, "README.md")) as f:
                second = f.read()
            self.assertIn(row, second)
            self.assertIn("9 steps, 1.0 min | GPU |", second)
            self.assertIn("4,096 teacher samples", second)


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
            # --no-weights: a run's logs travel, its checkpoint does not
            again = os.path.join(d, "again")
            self.assertEqual(handoff.main(["pack", runs, os.path.join(out, "g.tar"), "--no-weights", "teacher32"]), 0)
            self.assertEqual(handoff.main(["unpack", os.path.join(out, "g.tar.*"), "--runs", again]), 0)
            self.assertTrue(os.path.exists(os.path.join(again, "teacher32", "log.jsonl")))
            self.assertFalse(os.path.exists(os.path.join(again, "teacher32", "ckpt.pt")))


class DeviceBatchDraws(unittest.TestCase):
    """The training batches drawn on the device: every caption row is one of
    scenegen's phrasings of that row's scene, tokenised like the Captioner;
    dropout, flips and resumption behave as documented."""

    @classmethod
    def setUpClass(cls):
        import numpy as np
        import scenegen as sg
        from train import fit_tokenizer as ft
        cls.tmp = tempfile.TemporaryDirectory()
        caps = ft.caption_corpus(300, 2)
        merges, _ = ft.learn_merges(ft.word_counts(caps))
        ft.write_tokenizer(cls.tmp.name, ft.build_vocab(merges), merges)
        cls.scenes = [sg.sample_scene(sg.item_seed(5, i), "train") for i in range(12)]
        cls.lat = np.random.default_rng(0).standard_normal((12, 4, 2, 3)).astype(np.float16)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def table(self, **kw):
        from train.latents import caption_table
        return caption_table(self.scenes, self.tmp.name, 4, seed=1, workers=1, **kw)

    def test_table_rows_are_phrasings_of_their_scene(self):
        import numpy as np
        import scenegen as sg
        from train.latents import Captioner
        table = self.table()
        self.assertEqual(table.shape, (12, 4, 77))
        cap = Captioner(self.tmp.name)
        for i in (0, 7):
            # the phrasings any draw of this scene can produce (their number is small)
            seen = {tuple(cap.tok(sg.make_caption(self.scenes[i], np.random.default_rng(s)))) for s in range(3000)}
            for k in range(4):
                self.assertIn(tuple(table[i, k]), seen)
        self.assertTrue((table == self.table()).all())  # deterministic
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.npy")
            self.assertTrue((self.table(cache=path) == table).all())
            np.save(path, table[:, :2])  # a stale cache of another shape is remade
            self.assertTrue((self.table(cache=path) == table).all())

    def test_batches(self):
        import numpy as np
        from train.latents import Captioner, DeviceBatches
        table = self.table()
        empty = Captioner(self.tmp.name).empty
        dev = torch.device("cpu")
        b = DeviceBatches(self.lat, table, empty, dev, batch=256, scale=2.0, drop=0.25, flip=True, seed=3)
        x0, ids, mask = b.get()
        self.assertIsNone(mask)
        self.assertEqual((x0.dtype, tuple(x0.shape), ids.dtype, tuple(ids.shape)),
                         (torch.float32, (256, 4, 2, 3), torch.long, (256, 77)))
        lat = torch.from_numpy(self.lat).float() * 2.0
        dropped = flipped = 0
        for r in range(256):
            # each row is some latent, maybe mirrored; its caption is one of that latent's phrasings or ""
            hits = [i for i in range(12) if torch.equal(x0[r], lat[i]) or torch.equal(x0[r], lat[i].flip(-1))]
            self.assertEqual(len(hits), 1)
            i = hits[0]
            flipped += not torch.equal(x0[r], lat[i])
            row = ids[r].numpy()
            if (row == np.array(empty)).all():
                dropped += 1
            else:
                self.assertTrue(any((row == table[i, k]).all() for k in range(4)))
        self.assertTrue(40 < dropped < 90, dropped)
        self.assertTrue(90 < flipped < 166, flipped)
        again = DeviceBatches(self.lat, table, empty, dev, batch=256, scale=2.0, drop=0.25, flip=True, seed=3)
        self.assertTrue(torch.equal(again.get()[1], ids))
        later = DeviceBatches(self.lat, table, empty, dev, batch=256, scale=2.0, drop=0.25, flip=True, seed=3, step=9)
        self.assertFalse(torch.equal(later.get()[1], ids))
        with self.assertRaises(ValueError):
            DeviceBatches(self.lat[:5], table, empty, dev, batch=4)


    def test_masks_follow_their_latents(self):
        import numpy as np
        from train.latents import Captioner, DeviceBatches
        table = self.table()
        empty = Captioner(self.tmp.name).empty
        masks = np.random.default_rng(1).integers(0, 256, (12, 2, 3)).astype(np.uint8)
        b = DeviceBatches(self.lat, table, empty, torch.device("cpu"), batch=64, flip=True, seed=3, masks=masks)
        x0, ids, mask = b.get()
        self.assertEqual(tuple(mask.shape), (64, 1, 2, 3))
        lat = torch.from_numpy(self.lat).float()
        m = torch.from_numpy(masks).float() / 255.0
        for r in range(64):
            i = [i for i in range(12) if torch.equal(x0[r], lat[i]) or torch.equal(x0[r], lat[i].flip(-1))][0]
            want = m[i] if torch.equal(x0[r], lat[i]) else m[i].flip(-1)
            self.assertTrue(torch.equal(mask[r, 0], want), r)
        plain = DeviceBatches(self.lat, table, empty, torch.device("cpu"), batch=64, flip=True, seed=3)
        self.assertTrue(torch.equal(plain.get()[0], x0))  # masks change no draw
        with self.assertRaises(ValueError):
            DeviceBatches(self.lat, table, empty, torch.device("cpu"), batch=4, masks=masks[:, :1])


class ObjectWeightedLoss(unittest.TestCase):
    def test_weights_only_where_asked(self):
        from train.latents import alphas_cumprod
        from train.train_teacher import diffusion_loss

        class Fixed(torch.nn.Module):  # predicts zeros: the loss is the target's energy
            def forward(self, x, t, ctx):
                return torch.zeros_like(x)

        def te(ids):
            return {"last_hidden_state": torch.zeros(ids.shape[0], 77, 8)}

        ac = alphas_cumprod()
        x0 = torch.randn(8, 4, 6, 6)
        ids = torch.zeros(8, 77, dtype=torch.long)

        def run(**kw):
            torch.manual_seed(0)
            return diffusion_loss(Fixed(), te, x0, ids, ac, **kw)

        plain = run()
        self.assertTrue(torch.equal(run(mask=torch.ones(8, 1, 6, 6), object_weight=0.0)[0], plain[0]))
        # a uniform mask weights every pixel alike: the normalised loss is unchanged
        self.assertTrue(torch.allclose(run(mask=torch.ones(8, 1, 6, 6), object_weight=4.0)[0], plain[0]))
        # a mask on one corner moves the loss towards that corner's error, and the plain MSE is still reported
        mask = torch.zeros(8, 1, 6, 6)
        mask[..., :3, :3] = 1.0
        x0[..., :3, :3] *= 10.0
        heavy = run(mask=mask, object_weight=4.0)
        self.assertGreater(heavy[0].item(), run()[0].item() * 1.5)
        self.assertTrue(torch.equal(heavy[1], run()[1]))


class ScoreDistillation(unittest.TestCase):
    def test_target_is_the_guided_teacher_x0(self):
        """With a student and a teacher that each predict a fixed x0 whatever
        their input, the term is the MSE between the student's x0 and the
        teacher's guided x0, uncond + w (cond - uncond), at every timestep
        drawn; the gradient reaches the student only."""
        from train.distill import score_distillation_loss
        from train.latents import alphas_cumprod

        ac = alphas_cumprod()

        class FixedX0(torch.nn.Module):  # v for which x0 = sqrt(a) x - sqrt(1-a) v is `pick(ctx)`
            def __init__(self, cond, uncond):
                super().__init__()
                self.cond = torch.nn.Parameter(cond)
                self.uncond = uncond

            def forward(self, x, t, ctx):
                a = ac[t.long()].view(-1, 1, 1, 1)
                is_cond = (ctx[:, 0, 0] > 0).view(-1, 1, 1, 1)
                x0 = torch.where(is_cond, self.cond.expand_as(x), self.uncond.expand_as(x))
                return (a.sqrt() * x - x0) / (1 - a).sqrt()

        g = torch.Generator().manual_seed(1)
        s_x0, t_c, t_u = (torch.randn(1, 4, 6, 6, generator=g) for _ in range(3))
        student = FixedX0(s_x0.clone(), s_x0)
        teacher = FixedX0(t_c.clone(), t_u)
        ctx, neg = torch.ones(5, 77, 8), torch.zeros(5, 77, 8)
        z = torch.randn(5, 4, 6, 6, generator=g)
        loss, per = score_distillation_loss(student, teacher, ctx, neg, z, ac, torch.Generator().manual_seed(2),
                                            guidance=3.0)
        want = (s_x0 - (t_u + 3.0 * (t_c - t_u))).pow(2).mean()
        self.assertTrue(torch.allclose(per, want.expand(5), rtol=1e-4, atol=1e-5), (per, want))
        loss.backward()
        self.assertIsNotNone(student.cond.grad)
        self.assertGreater(student.cond.grad.abs().sum().item(), 0)
        self.assertIsNone(teacher.cond.grad)


class StepBench(unittest.TestCase):
    def test_runs_and_names_the_fastest(self):
        import contextlib
        import io
        from train import bench_step
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "b.jsonl")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                bench_step.main(["--batch", "2", "--size", "8", "--seconds", "0", "--min-steps", "1",
                                 "--configs", "plain,sdpa", "--env", "--log", log])
            with open(log) as f:
                recs = [json.loads(line) for line in f]
        self.assertEqual([r.get("config") for r in recs[:2]], ["plain", "sdpa"])
        self.assertTrue(all(r["samples_per_s"] > 0 for r in recs[:2]))
        self.assertIn(recs[2]["fastest"], ("plain", "sdpa"))
        self.assertRegex(out.getvalue(), r"^export REVERIE_SDPA=[01] REVERIE_CHANNELS_LAST=0 REVERIE_COMPILE=0\n$")


class OptimizerLayout(unittest.TestCase):
    def test_loaded_state_follows_channels_last_parameters(self):
        from train.common import align_optimizer_state
        conv = nn.Conv2d(4, 8, 3)
        opt = torch.optim.AdamW(conv.parameters(), lr=1e-3)
        conv(torch.randn(2, 4, 6, 6)).square().mean().backward()
        opt.step()
        saved = opt.state_dict()
        conv.to(memory_format=torch.channels_last)
        opt2 = torch.optim.AdamW(conv.parameters(), lr=1e-3)
        opt2.load_state_dict(saved)
        w = conv.weight
        before = opt2.state[w]["exp_avg"].clone()
        self.assertNotEqual(opt2.state[w]["exp_avg"].stride(), w.stride())
        align_optimizer_state(opt2)
        self.assertEqual(opt2.state[w]["exp_avg"].stride(), w.stride())
        self.assertEqual(opt2.state[w]["exp_avg_sq"].stride(), w.stride())
        self.assertTrue(torch.equal(opt2.state[w]["exp_avg"], before))


@unittest.skipUnless(torch.cuda.is_available() and hasattr(torch.nn.functional, "scaled_dot_product_attention"),
                     "needs CUDA and torch >= 2.0")
class FusedAttention(unittest.TestCase):
    def test_matches_plain_path(self):
        from reverie_ref import layers
        g = torch.Generator().manual_seed(0)
        q, k, v = (torch.randn(3, n, 64, generator=g).cuda() for n in (77, 77, 77))
        mask = torch.triu(torch.full((77, 77), torch.finfo(torch.float32).min), 1).view(1, 1, 77, 77).cuda()
        saved = layers.USE_SDPA
        try:
            layers.USE_SDPA = False
            ref = layers.attention(q, k, v, 2, mask)
            layers.USE_SDPA = True
            out = layers.attention(q, k, v, 2, mask)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                half = layers.attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), 2, mask)
        finally:
            layers.USE_SDPA = saved
        self.assertLess((out - ref).abs().max().item(), 1e-4)
        self.assertLess((half.float() - ref).abs().max().item(), 5e-2)


if __name__ == "__main__":
    unittest.main()

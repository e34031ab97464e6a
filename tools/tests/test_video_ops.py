"""The video operations' reference (reverie_ref/video_ops.py,
notes/VIDEO_OPS_SPEC.md): the image -> [-1, 1] formula, TAESD and VAE
encoding, fill's slerp with a float64 t, extend and fill wired to the frame
loop (frames.frame), errors, and the committed goldens
(tests/fixtures/*/video_ops.* and keyframe_*.png) reproducing. Not the C
engine's side (tests/*.c)."""

import json
import math
import os
import unittest

import numpy as np
import torch

from tests.common import FIXTURES, REPO
from reverie_ref import frames, video_ops, safetensors_io as st
from reverie_ref.diffusers_folder import load_pipeline

GOLDENS = {"tiny-sd15": os.path.join(FIXTURES, "tiny-sd15"), "reverie-tiny": os.path.join(FIXTURES, "reverie-tiny")}


def nmse(ref, x):
    ref, x = ref.double(), x.double()
    return float(((x - ref) ** 2).sum() / (ref * ref).sum())


def read_png(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im).copy()


def make_image(h, w, seed=1, channels=4):
    """A smooth deterministic RGBA8 image with a noisy alpha."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(255 * x / max(w - 1, 1)), (255 * y / max(h - 1, 1)), 128 + 100 * np.sin((x + y) / 5.0),
                    np.random.default_rng(seed).integers(0, 256, (h, w))], -1)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)[:, :, :channels]


class ImageToUnit(unittest.TestCase):
    def test_formula_is_float32_multiply_then_subtract(self):
        v = np.arange(256, dtype=np.uint8)
        img = np.stack([v, v[::-1], np.full(256, 7, np.uint8), np.zeros(256, np.uint8)], -1)[None]  # [1,256,4]
        x = video_ops.image_to_unit(img)
        self.assertEqual(x.dtype, torch.float32)
        self.assertEqual(tuple(x.shape), (1, 3, 1, 256))
        c = np.float32(2.0) / np.float32(255.0)
        for i in range(256):
            want = np.float32(np.float32(i) * c) - np.float32(1.0)
            self.assertEqual(float(x[0, 0, 0, i]), float(want), i)
            self.assertEqual(float(x[0, 1, 0, 255 - i]), float(want), i)
        self.assertEqual(float(x[0, 0, 0, 0]), -1.0)
        self.assertTrue(torch.all(x[0, 2] == x[0, 2, 0, 0]))
        self.assertLess(abs(float(x[0, 0, 0, 255]) - 1.0), 1e-6)

    def test_alpha_is_ignored_and_layout_is_rgb_planes(self):
        rgba = make_image(5, 7)
        x = video_ops.image_to_unit(rgba)
        other = rgba.copy()
        other[:, :, 3] = 255 - other[:, :, 3]
        self.assertTrue(torch.equal(x, video_ops.image_to_unit(other)))
        self.assertTrue(torch.equal(x, video_ops.image_to_unit(rgba[:, :, :3])))
        for ch in range(3):
            self.assertEqual(float(x[0, ch, 2, 3]), float(np.float32(rgba[2, 3, ch]) * np.float32(2 / 255) - 1))

    def test_errors(self):
        for bad in (np.zeros((4, 4, 4), np.float32), np.zeros((4, 4), np.uint8), np.zeros((4, 4, 2), np.uint8),
                    np.zeros((1, 4, 4, 4), np.uint8)):
            with self.assertRaises(ValueError, msg=f"{bad.dtype} {bad.shape}"):
                video_ops.image_to_unit(bad)


class Encode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(2)
        cls.pipe = load_pipeline(os.path.join(FIXTURES, "tiny-sd15"))
        cls.shape = frames.latent_shape(cls.pipe)
        cls.img = make_image(cls.shape[2] * 8, cls.shape[3] * 8)

    @torch.no_grad()
    def test_taesd_is_encoder_times_scaling_factor(self):
        enc = self.pipe["vae_tiny"]
        x = video_ops.image_to_unit(self.img)
        want = enc.encoder(x) * enc.config["scaling_factor"]
        got = video_ops.encode_image(self.pipe, self.img)  # default: the frame decoder, TAESD
        self.assertTrue(torch.equal(got, want))
        self.assertTrue(torch.equal(video_ops.encode_image(self.pipe, self.img, "vae_tiny"), want))
        self.assertEqual(tuple(got.shape), self.shape)

    @torch.no_grad()
    def test_vae_is_shifted_scaled_posterior_mean(self):
        vae = self.pipe["vae"]
        x = video_ops.image_to_unit(self.img)
        mean, _ = vae.encode_moments(x)
        shift = vae.config["shift_factor"] or 0.0
        want = (mean - shift) * vae.config["scaling_factor"]
        self.assertTrue(torch.equal(video_ops.encode_image(self.pipe, self.img, "vae"), want))

    @torch.no_grad()
    def test_round_trip_is_close(self):
        """Both coders encode to finite latents that decode back to the image's size."""
        from reverie_ref.pipeline import decode_latents
        for comp in ("vae_tiny", "vae"):
            lat = video_ops.encode_image(self.pipe, self.img, comp)
            self.assertTrue(torch.isfinite(lat).all(), comp)
            img = decode_latents(self.pipe[comp], lat)
            self.assertEqual(tuple(img.shape), (1, 3, self.img.shape[0], self.img.shape[1]), comp)

    def test_float64_pipeline_encodes_in_float64(self):
        import copy
        pipe64 = {c: copy.deepcopy(v).to(torch.float64) if isinstance(v, torch.nn.Module) else v
                  for c, v in self.pipe.items()}
        got = video_ops.encode_image(pipe64, self.img)
        self.assertEqual(got.dtype, torch.float64)
        self.assertLess(nmse(got, video_ops.encode_image(self.pipe, self.img)), 1e-10)

    def test_errors(self):
        with self.assertRaises(ValueError):  # wrong size
            video_ops.encode_image(self.pipe, make_image(32, 64))
        with self.assertRaises(ValueError):
            video_ops.encode_image(self.pipe, make_image(64, 64).astype(np.float32))
        with self.assertRaises(ValueError):  # no such component
            video_ops.encode_image(self.pipe, self.img, "vae_huge")
        with self.assertRaises(ValueError):  # not an autoencoder
            video_ops.encode_image(self.pipe, self.img, "unet")


class FillInit(unittest.TestCase):
    def setUp(self):
        g = torch.Generator().manual_seed(5)
        self.a, self.b = torch.randn(1, 4, 6, 6, generator=g), torch.randn(1, 4, 6, 6, generator=g)

    def test_t(self):
        self.assertEqual([video_ops.fill_t(i, 3) for i in (1, 2, 3)], [0.25, 0.5, 0.75])
        self.assertEqual(video_ops.fill_t(1, 2), 1 / 3)

    def test_is_whole_latent_slerp_with_float64_t(self):
        for t in (0.25, 0.5, 0.75):  # exact in float32: frames.slerp (float32 t) agrees
            self.assertTrue(torch.equal(video_ops.fill_init(self.a, self.b, t), frames.slerp(self.a, self.b, t)))
        t = 1 / 3
        a64, b64 = self.a.double().reshape(-1), self.b.double().reshape(-1)
        cos = float(a64 @ b64) / math.sqrt(float(a64 @ a64) * float(b64 @ b64))
        th = math.acos(cos)
        ca, cb = math.sin((1 - t) * th) / math.sin(th), math.sin(t * th) / math.sin(th)
        want = torch.tensor(np.float32(ca)) * self.a + torch.tensor(np.float32(cb)) * self.b
        got = video_ops.fill_init(self.a, self.b, t)
        self.assertLess(float((got - want).abs().max()), 1e-6)
        self.assertTrue(torch.equal(got, video_ops.fill_init(self.a, self.b, 1 / 3)))
        # the coefficients are those of t = 1/3 in float64, not of float32(1/3)
        ca32, cb32 = frames.slerp_coefficients(frames.cosine(self.a, self.b), float(np.float32(t)))
        ca64, cb64 = frames.slerp_coefficients(frames.cosine(self.a, self.b), t)
        self.assertNotEqual((ca32, cb32), (ca64, cb64))
        self.assertAlmostEqual(ca64, ca, places=12)

    def test_ends_and_parallel(self):
        self.assertTrue(torch.equal(video_ops.fill_init(self.a, self.b, 0.0), self.a))
        self.assertTrue(torch.equal(video_ops.fill_init(self.a, 2 * self.a, 0.5),
                                    torch.tensor(0.5) * self.a + torch.tensor(0.5) * (2 * self.a)))

    def test_errors(self):
        with self.assertRaises(ValueError):
            video_ops.fill_init(self.a, self.b[:, :, :5], 0.5)
        for t in (-0.1, 1.5, float("nan")):
            with self.assertRaises(ValueError):
                video_ops.fill_init(self.a, self.b, t)


class Ops(unittest.TestCase):
    """extend and fill wired to the frame loop on the tiny LCM fixture."""

    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(2)
        cls.pipe = load_pipeline(os.path.join(FIXTURES, "tiny-sd15"))
        cls.tok = cls.pipe["tokenizer"]
        cls.shape = frames.latent_shape(cls.pipe)
        cls.img_a = make_image(64, 64, 1)
        cls.img_b = make_image(64, 64, 2)[:, ::-1, :3].copy()

    def prompt(self, text):
        return {"text": text, "ids": self.tok(text), "weight": 1.0}

    def descs(self):
        out = []
        for m in ({}, {"zoom": 1.05}, {"rotate": 3.0}):
            d = video_ops.fill_desc(self.prompt("a horse"), 7, 0.5, 1)
            d.update(m)
            out.append(d)
        return out

    def test_extend_starts_the_loop_from_the_encoded_image(self):
        for comp in ("vae_tiny", "vae"):
            descs = self.descs()
            res = video_ops.extend(self.pipe, self.img_a, descs, comp)
            x = video_ops.encode_image(self.pipe, self.img_a, comp)
            self.assertTrue(torch.equal(res["encoded"], x), comp)
            prev = x
            for d, r in zip(descs, res["frames"]):
                want = frames.frame(self.pipe, d, prev, decoder=self.pipe[comp])
                self.assertTrue(torch.equal(r["latents"], want["latents"]), comp)
                self.assertTrue(torch.equal(r["image"], want["image"]), comp)
                prev = want["latents"]
            self.assertIs(res["frames"][0]["init"], res["encoded"])  # identity motion: the encoded latent as is
            self.assertEqual(res["frames"][0]["schedule"], (2, 1))
        # the default coder is the frame decoder (TAESD)
        d = self.descs()[:1]
        self.assertTrue(torch.equal(video_ops.extend(self.pipe, self.img_a, d)["frames"][0]["latents"],
                                    video_ops.extend(self.pipe, self.img_a, d, "vae_tiny")["frames"][0]["latents"]))

    def test_extend_anchor(self):
        descs = self.descs()
        descs[2].update(anchor_weight=0.3, anchor_frame=0)
        res = video_ops.extend(self.pipe, self.img_a, descs)
        moved = frames.apply_anchor(frames.warp(res["frames"][1]["latents"], rotate_deg=3.0),
                                    res["frames"][0]["latents"], 0.3)
        self.assertTrue(torch.equal(res["frames"][2]["init"], moved))
        descs[2]["anchor_frame"] = 2
        with self.assertRaises(ValueError):
            video_ops.extend(self.pipe, self.img_a, descs)

    def test_fill_in_betweens(self):
        p = self.prompt("a lighthouse")
        for comp in ("vae_tiny", "vae"):
            res = video_ops.fill(self.pipe, self.img_a, self.img_b, 3, p, 9, 0.3, 1, comp)
            la = video_ops.encode_image(self.pipe, self.img_a, comp)
            lb = video_ops.encode_image(self.pipe, self.img_b, comp)
            self.assertTrue(torch.equal(res["encoded_a"], la) and torch.equal(res["encoded_b"], lb))
            self.assertEqual(res["t"], [0.25, 0.5, 0.75])
            d = video_ops.fill_desc(p, 9, 0.3, 1)
            for t, r in zip(res["t"], res["frames"]):
                init = video_ops.fill_init(la, lb, t)
                self.assertTrue(torch.equal(r["init"], init), comp)
                want = frames.frame(self.pipe, d, init, decoder=self.pipe[comp])
                self.assertTrue(torch.equal(r["latents"], want["latents"]), comp)
                self.assertTrue(torch.equal(r["image"], want["image"]), comp)
                self.assertEqual(r["schedule"], (4, 3))
        # each in-between starts from its own init: n = 1's frame is n = 3's middle one
        one = video_ops.fill(self.pipe, self.img_a, self.img_b, 1, "a lighthouse", 9, 0.3, 1)
        three = video_ops.fill(self.pipe, self.img_a, self.img_b, 3, p, 9, 0.3, 1)
        self.assertTrue(torch.equal(one["frames"][0]["latents"], three["frames"][1]["latents"]))

    def test_fill_errors(self):
        for n, s in ((0, 0.3), (-1, 0.3), (1.5, 0.3), (True, 0.3), (2, 1.0), (2, 0.0), (2, float("nan"))):
            with self.assertRaises(ValueError, msg=f"{n} {s}"):
                video_ops.fill(self.pipe, self.img_a, self.img_b, n, "x", 9, s, 1)
        with self.assertRaises(ValueError):
            video_ops.fill(self.pipe, self.img_a, make_image(32, 32), 2, "x", 9, 0.3, 1)


class CommittedGoldens(unittest.TestCase):
    """tests/fixtures/*/video_ops.{json,safetensors} and keyframe_*.png
    (tools/make_video_op_goldens.py) are what the reference makes."""

    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(2)
        cls.data = {}
        for name, folder in GOLDENS.items():
            with open(os.path.join(folder, "video_ops.json"), encoding="utf-8") as f:
                doc = json.load(f)
            cls.data[name] = (doc, st.load_torch(os.path.join(folder, "video_ops.safetensors")))

    def test_listing_files_and_weights(self):
        from make_shipped_goldens import sha256
        for name, (doc, g) in self.data.items():
            folder = GOLDENS[name]
            self.assertEqual({k: {"dtype": "U8" if v.dtype == torch.uint8 else "F32", "shape": list(v.shape)}
                              for k, v in g.items()}, doc["tensors"], name)
            self.assertTrue(doc["weights_sha256"], name)
            for rel, digest in doc["weights_sha256"].items():
                self.assertIn("/", rel.replace(os.sep, "/"), rel)  # component weights, not goldens
                self.assertEqual(sha256(os.path.join(REPO, doc["model"], rel)), digest,
                                 f"{name}: {rel} changed: run tools/make_video_op_goldens.py")
            for fn, kf in doc["keyframes"].items():
                path = os.path.join(folder, fn)
                self.assertEqual(sha256(path), kf["sha256"], f"{name}: {fn} changed")
                img = read_png(path)
                self.assertEqual(img.dtype, np.uint8)
                self.assertEqual((img.shape[1], img.shape[0], img.shape[2]),
                                 (kf["width"], kf["height"], kf["channels"]), fn)
                self.assertEqual((kf["width"], kf["height"]),
                                 (doc["image_size"]["width"], doc["image_size"]["height"]))
            names = set()
            for c in doc["cases"]:
                refs = [c["encoded"]] if c["op"] == "extend" else [c["encoded_a"], c["encoded_b"]]
                for ref in refs + [t for f in c["frames"] for t in f["outputs"].values()]:
                    self.assertIn(ref, g, f"{name} {c['name']}")
                    names.add(ref)
                imgs = [c["image"]] if c["op"] == "extend" else [c["image_a"], c["image_b"]]
                for fn in imgs:
                    self.assertIn(fn, doc["keyframes"])
            self.assertEqual(names, set(g), f"{name}: every tensor is used by a case")
            size = os.path.getsize(os.path.join(folder, "video_ops.safetensors"))
            self.assertLess(size, 1_100_000, name)

    def test_cases_as_specified(self):
        want_coders = {"tiny-sd15": ["vae_tiny", "vae"], "reverie-tiny": ["vae"]}
        for name, (doc, _) in self.data.items():
            pipe_cfg = os.path.join(REPO, doc["model"])
            with open(os.path.join(pipe_cfg, "model_index.json"), encoding="utf-8") as f:
                index = json.load(f)
            ops = [(c["op"], c["decoder"]) for c in doc["cases"]]
            self.assertEqual(ops, [(op, d) for d in want_coders[name] for op in ("extend", "fill")], name)
            h, w = doc["latent_shape"][2:]
            for c in doc["cases"]:
                self.assertEqual(c["decoder_class"], index[c["decoder"]][1], c["name"])
                if c["op"] == "extend":
                    fr = c["frames"]
                    self.assertEqual(len(fr), 3)
                    self.assertEqual([(f["zoom"], f["rotate"]) for f in fr], [(1.0, 0.0), (1.05, 0.0), (1.0, 3.0)])
                    self.assertEqual({(f["strength"], f["steps"], f["seed"]) for f in fr}, {(0.5, 1, 7)})
                    self.assertIsNone(fr[0]["warp"])
                    for f in fr[1:]:
                        minv, off = frames.warp_coefficients(w, h, f["zoom"], f["pan_x"], f["pan_y"], f["rotate"])
                        self.assertEqual(f["warp"], {"minv": [float(v) for v in minv],
                                                     "offset": [float(v) for v in off]})
                    steps = [(f["steps"], f["strength"]) for f in fr]
                    self.assertIn("image", fr[2]["outputs"])
                else:
                    self.assertEqual((c["n"], c["strength"], c["steps"], c["seed"]), (3, 0.3, 1, 9))
                    self.assertEqual([f["t"] for f in c["frames"]], [video_ops.fill_t(i, 3) for i in (1, 2, 3)])
                    steps = [(c["steps"], c["strength"])] * 3
                    self.assertEqual(len(c["prompt"]["ids"]), 77)
                for f, (k, s) in zip(c["frames"], steps):
                    n, first = frames.schedule_for(k, s)
                    self.assertEqual((f["schedule"]["num_steps"], f["schedule"]["first_step"]), (n, first))
                    self.assertEqual(len(f["schedule"]["timesteps"]), k)

    @torch.no_grad()
    def test_goldens_reproduce_from_the_pngs(self):
        for name, (doc, g) in self.data.items():
            folder = GOLDENS[name]
            pipe = load_pipeline(os.path.join(REPO, doc["model"]))
            tok = pipe["tokenizer"]
            for c in doc["cases"]:
                what = f"{name} {c['name']}"
                comp = c["decoder"]
                if c["op"] == "extend":
                    for f in c["frames"]:
                        self.assertEqual(f["prompts"][0]["ids"], tok(f["prompts"][0]["text"]), what)
                    res = video_ops.extend(pipe, read_png(os.path.join(folder, c["image"])), c["frames"], comp)
                    self.assertLess(nmse(g[c["encoded"]], res["encoded"]), 1e-12, what)
                    pairs = list(zip(c["frames"], res["frames"]))
                else:
                    self.assertEqual(c["prompt"]["ids"], tok(c["prompt"]["text"]), what)
                    res = video_ops.fill(pipe, read_png(os.path.join(folder, c["image_a"])),
                                         read_png(os.path.join(folder, c["image_b"])), c["n"], c["prompt"],
                                         c["seed"], c["strength"], c["steps"], comp)
                    self.assertLess(nmse(g[c["encoded_a"]], res["encoded_a"]), 1e-12, what)
                    self.assertLess(nmse(g[c["encoded_b"]], res["encoded_b"]), 1e-12, what)
                    self.assertEqual(res["t"], [f["t"] for f in c["frames"]])
                    pairs = list(zip(c["frames"], res["frames"]))
                for f, r in pairs:
                    o = f["outputs"]
                    w = f"{what} frame {f['index']}"
                    self.assertLess(nmse(g[o["latents"]], r["latents"]), 1e-12, w)
                    if "init" in o:
                        self.assertLess(nmse(g[o["init"]], r["init"]), 1e-12, w)
                    if "image" in o:
                        self.assertLessEqual(int((g[o["image"]].int() - r["image"].int()).abs().max()), 1, w)
                    self.assertEqual(r["timesteps"], f["schedule"]["timesteps"], w)

    def test_fp64_check(self):
        for name, (doc, _) in self.data.items():
            checks = doc["fp64_check"]
            self.assertEqual([c["decoder"] for c in checks], [c["decoder"] for c in doc["cases"][::2]], name)
            for c in checks:
                for key in ("extend_nmse_latents", "fill_nmse_latents", "fill_nmse_init", "extend_nmse_image_float",
                            "fill_nmse_image_float"):
                    self.assertLess(max(c[key]), 1e-9, f"{name} {key}")
                self.assertLess(max(c["nmse_encoded_a"], c["nmse_encoded_b"]), 1e-9, name)


if __name__ == "__main__":
    unittest.main()

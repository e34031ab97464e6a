"""The committed fixtures: folders load through diffusers_folder, the
reference reproduces every golden tensor, the half-precision variants hold the
same weights, and the tokenizer gives the reference token ids."""

import json
import os
import unittest

import torch

from tests.common import FIXTURES, MODELS
from reverie_ref import safetensors_io as st
from reverie_ref.diffusers_folder import load_model, load_pipeline
from reverie_ref.pipeline import image_to_image, text_to_image
from reverie_ref.schedulers import LCMScheduler, make_scheduler
from reverie_ref.unet import timestep_embedding

NAMES = ["tiny-sd15", "tiny-sd21"]


def max_rel(a, b):
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp(min=1e-12)).item()


class Goldens(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = {}
        for name in NAMES:
            folder = os.path.join(FIXTURES, name)
            with open(os.path.join(folder, "goldens.json"), encoding="utf-8") as f:
                doc = json.load(f)
            cls.data[name] = (load_pipeline(folder), doc, st.load_torch(os.path.join(folder, "goldens.safetensors")))

    def check(self, got, want, what, tol=1e-5):
        self.assertEqual(tuple(got.shape), tuple(want.shape), what)
        self.assertLess(max_rel(got, want), tol, what)

    def test_listing_matches_file(self):
        for name, (_, doc, g) in self.data.items():
            self.assertEqual({k: list(v.shape) for k, v in g.items()}, doc["tensors"], name)
            for k, v in g.items():
                self.assertEqual(v.dtype, torch.float32, k)

    @torch.no_grad()
    def test_components_reproduce(self):
        for name, (p, doc, g) in self.data.items():
            for cname, case in doc["cases"].items():
                comp = case["component"]
                if comp == "text_encoder":
                    out = p["text_encoder"](torch.tensor(case["input_ids"]))
                    self.check(out["last_hidden_state"], g[case["outputs"]["last_hidden_state"]], cname)
                    if "clip_skip_1" in case["outputs"]:
                        ids = torch.tensor(case["input_ids"])
                        self.check(p["text_encoder"].encode(ids, 1), g[case["outputs"]["clip_skip_1"]], cname)
                elif comp == "unet":
                    i = case["inputs"]
                    t = g[i["timestep"]]
                    y = p["unet"](g[i["sample"]], t, g[i["encoder_hidden_states"]])
                    self.check(y, g[case["outputs"]["sample"]], f"{name}/{cname}")
                    if "taps" in case:
                        emb = timestep_embedding(t, p["unet"].time_proj_dim, True, 0)
                        self.check(emb, g[case["taps"]["time_proj"]], f"{cname} time_proj")
                elif comp in ("vae", "vae_tiny"):
                    m = p[comp]
                    if "image" in case["inputs"]:
                        z = m.scale_latents(m.encode(g[case["inputs"]["image"]]))
                        self.check(z, g[case["outputs"]["latents"]], f"{name}/{cname}")
                    else:
                        x = m.decode(m.unscale_latents(g[case["inputs"]["latents"]]))
                        self.check(x, g[case["outputs"]["image"]], f"{name}/{cname}")

    @torch.no_grad()
    def test_generation_reproduces(self):
        for name, (p, doc, g) in self.data.items():
            for cname, case in doc["cases"].items():
                if case["component"] != "pipeline":
                    continue
                sched = make_scheduler(p["scheduler_config"])
                neg = torch.tensor(case["negative_input_ids"]) if case["negative_input_ids"] else None
                noises = [g[n] for n in case["inputs"].get("step_noises", [])]
                res = text_to_image(p["unet"], p["text_encoder"], sched, p["vae"], torch.tensor(case["input_ids"]),
                                    g[case["inputs"]["noise"]], case["num_inference_steps"], case["guidance_scale"],
                                    negative_ids=neg, step_noises=noises if isinstance(sched, LCMScheduler) else None)
                self.check(res["latents"], g[case["outputs"]["latents"]], f"{name}/{cname} latents")
                self.check(res["image"], g[case["outputs"]["image_vae"]], f"{name}/{cname} image")
                self.assertEqual([float(t) for t in sched.timesteps], case["timesteps"])

    @torch.no_grad()
    def test_img2img_reproduces(self):
        for name, (p, doc, g) in self.data.items():
            case = doc["cases"]["img2img"]
            sched = make_scheduler(p["scheduler_config"])
            noises = [g[n] for n in case["inputs"].get("step_noises", [])]
            res = image_to_image(p["unet"], p["text_encoder"], sched, p["vae"], torch.tensor(case["input_ids"]),
                                 g[case["inputs"]["init_latents"]], g[case["inputs"]["noise"]],
                                 case["num_inference_steps"], case["strength"], step_noises=noises or None)
            self.assertEqual(res["first_step"], case["first_step"])
            self.check(res["latents"], g[case["outputs"]["latents"]], f"{name} img2img")

    def test_half_variants_hold_same_weights(self):
        for name, variant in (("tiny-sd15", "fp16"), ("tiny-sd21", "bf16")):
            folder = os.path.join(FIXTURES, name, "vae_tiny")
            a = load_model(folder).state_dict()
            b = load_model(folder, variant=variant).state_dict()
            for k in a:
                self.assertTrue(torch.equal(a[k], b[k]), k)

    def test_fp64_check_is_small(self):
        for name, (_, doc, _) in self.data.items():
            worst = max(v["nmse"] for v in doc["fp64_check"].values())
            self.assertLess(worst, 1e-9, name)


class Tokenizer(unittest.TestCase):
    def test_reference_ids(self):
        try:
            from reverie_ref.tokenizer import CLIPTokenizer
        except ImportError:
            self.skipTest("the 'regex' module (python3-regex) is not installed")
        tok = CLIPTokenizer.from_folder(os.path.join(MODELS, "sd15", "tokenizer"))
        with open(os.path.join(MODELS, "sd15", "tokenizer-tests.json"), encoding="utf-8") as f:
            doc = json.load(f)
        self.assertEqual(tok.pad_id, doc["pad_token_id"])
        for case in doc["cases"]:
            self.assertEqual(tok(case["prompt"]), case["ids"], case["prompt"])
        tok21 = CLIPTokenizer.from_folder(os.path.join(FIXTURES, "tiny-sd21", "tokenizer"))
        self.assertEqual(tok21.pad_id, 0)  # SD 2.x pads with "!"


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/python3
"""Goldens for the shipped model: what tools/reverie_ref (float32) generates
from models/reverie-tiny for fixed prompts and seeds, with the runtime's own
seeded noise (reverie_ref.noise = runtime/engine/noise.c), so
tests/test_shipped.c can check that `reverie gen --seed S` reproduces the
PyTorch sample. Run it again whenever the shipped weights change (the test
names the weight files' hashes it was made from).

    /usr/bin/python3 tools/make_shipped_goldens.py [--model models/reverie-tiny] [--out tests/fixtures/reverie-tiny]
"""

import argparse
import hashlib
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reverie_ref import noise, safetensors_io as st  # noqa: E402
from reverie_ref.diffusers_folder import load_pipeline  # noqa: E402
from reverie_ref.pipeline import text_to_image  # noqa: E402
from reverie_ref.schedulers import make_scheduler  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (prompt, seed, steps); the image is kept for one case (the rest: latents)
CASES = {
    "gen_1step": ("a red lighthouse on a hill at sunset, watercolor", 7, 1),
    "gen_2step": ("a red lighthouse on a hill at sunset, watercolor", 7, 2),
    "gen_4step": ("a castle by the lake at night with the moon and stars", 11, 4),
}
IMAGE_CASE = "gen_2step"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(REPO, "models", "reverie-tiny"))
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures", "reverie-tiny"))
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    pipe = load_pipeline(args.model)
    tok, unet = pipe["tokenizer"], pipe["unet"]
    shape = (1, unet.config["in_channels"], unet.config["sample_size"], unet.config["sample_size"])
    tensors, cases = {}, {}
    for name, (prompt, seed, steps) in CASES.items():
        z = torch.from_numpy(noise.latent_noise(seed, shape))
        ids = torch.tensor([tok(prompt)])
        out = text_to_image(unet, pipe["text_encoder"], make_scheduler(pipe["scheduler_config"]), pipe["vae"], ids,
                            z, steps, guidance_scale=0.0)
        tensors[f"{name}.noise"] = z
        tensors[f"{name}.prompt_embeds"] = out["prompt_embeds"]
        tensors[f"{name}.latents"] = out["latents"]
        if name == IMAGE_CASE:
            tensors[f"{name}.image"] = out["image"]
        cases[name] = {"prompt": prompt, "seed": seed, "num_inference_steps": steps, "guidance_scale": 0.0,
                       "image": name == IMAGE_CASE}
        print(f"{name}: latents mean {float(out['latents'].mean()):+.4f} std {float(out['latents'].std()):.4f}")
    weights = {}
    for root, _, files in os.walk(args.model):
        for fn in sorted(files):
            if fn.endswith(".safetensors"):
                p = os.path.join(root, fn)
                weights[os.path.relpath(p, args.model)] = sha256(p)
    os.makedirs(args.out, exist_ok=True)
    st.save(os.path.join(args.out, "goldens.safetensors"), {k: v.float().contiguous() for k, v in tensors.items()})
    meta = {"about": "reverie_ref (float32) samples of the shipped model with the runtime's seeded noise; "
                     "made by tools/make_shipped_goldens.py, checked by tests/test_shipped.c",
            "model": os.path.relpath(os.path.abspath(args.model), REPO), "weights_sha256": weights,
            "latent_shape": list(shape), "cases": cases}
    with open(os.path.join(args.out, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Writes a trained run as a diffusers folder (model_index.json, tokenizer/,
text_encoder/, unet/, vae/ (AutoencoderTiny), scheduler/), the layout
SD-Turbo uses, so the runtime loads it through the same code path; weights
are fp16 safetensors. Then reloads the folder with reverie_ref and checks
that it generates what the in-memory model generates. Not training.

    export.py --unet RUNS/student32/ckpt.pt --out models/reverie-tiny
    export.py --unet RUNS/teacher32/ckpt.pt --out models/reverie-tiny-teacher   (the teacher: run it
                                                                            with 25 steps and guidance 4)
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from reverie_ref.diffusers_folder import load_pipeline, save_model, write_json  # noqa: E402
from reverie_ref.tokenizer import CLIPTokenizer  # noqa: E402
from train import arch  # noqa: E402
from train.common import RUNS, setup  # noqa: E402
from train.distill import load_teacher  # noqa: E402
from train.encode_latents import load_ae  # noqa: E402
from train.sampling import generate, noise_for  # noqa: E402


def export(unet_ckpt, ae_ckpt, tokenizer_dir, out, dtype="F16"):
    te, unet, ck = load_teacher(unet_ckpt, torch.device("cpu"))
    ae = load_ae(ae_ckpt, ck["scaling_factor"])
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "model_index.json"), arch.model_index())
    save_model(os.path.join(out, "text_encoder"), te, ck["te_config"], dtype=dtype)
    save_model(os.path.join(out, "unet"), unet, ck["unet_config"], dtype=dtype)
    vae_cfg = arch.vae_config(ck["scaling_factor"])
    assert all(ae.config[k] == v for k, v in vae_cfg.items() if not k.startswith("_")), "autoencoder config changed"
    save_model(os.path.join(out, "vae"), ae, vae_cfg, dtype=dtype)
    os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
    write_json(os.path.join(out, "scheduler", "scheduler_config.json"), arch.scheduler_config())
    os.makedirs(os.path.join(out, "tokenizer"), exist_ok=True)
    for fn in ("vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"):
        with open(os.path.join(tokenizer_dir, fn), "rb") as f:
            data = f.read()
        with open(os.path.join(out, "tokenizer", fn), "wb") as f:
            f.write(data)
    return te, unet, ae


@torch.no_grad()
def check(out, te, unet, ae, steps):
    """Reload the folder through reverie_ref and compare a generation with
    the in-memory fp32 model: the fp16 round trip must stay small."""
    pipe = load_pipeline(out)
    tok = pipe["tokenizer"]
    ref_tok = CLIPTokenizer.from_folder(os.path.join(out, "tokenizer"))
    prompt = "a red lighthouse on a hill at sunset, watercolor"
    ids = torch.tensor([tok(prompt)])
    assert tok(prompt) == ref_tok(prompt)
    lat = unet.config["sample_size"]
    noise = noise_for([0], (unet.config["in_channels"], lat, lat))
    a = generate(unet, te, ae, ids, noise, steps)["image"]
    b = generate(pipe["unet"], pipe["text_encoder"], pipe["vae"], ids, noise, steps)["image"]
    err = (a - b).abs().max().item()
    sizes = {}
    for root, _, files in os.walk(out):
        for fn in files:
            if fn.endswith(".safetensors"):
                sizes[os.path.relpath(os.path.join(root, fn), out)] = os.path.getsize(os.path.join(root, fn))
    return {"max_abs_diff_fp16_vs_fp32": err, "weights_bytes": sizes, "weights_total_bytes": sum(sizes.values())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--unet", required=True, help="student (distill.py) or teacher checkpoint")
    ap.add_argument("--ae", default=os.path.join(RUNS, "ae", "ckpt.pt"))
    ap.add_argument("--tokenizer", default=os.path.join(RUNS, "tokenizer"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--check-steps", type=int, default=2)
    args = ap.parse_args(argv)
    setup()
    te, unet, ae = export(args.unet, args.ae, args.tokenizer, args.out)
    info = check(args.out, te, unet, ae, args.check_steps)
    print(json.dumps(info, indent=1))
    if info["max_abs_diff_fp16_vs_fp32"] > 0.1:
        print("EXPORT: fp16 folder differs from the fp32 model by more than 0.1", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

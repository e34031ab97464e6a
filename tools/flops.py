#!/usr/bin/python3
"""FLOP counter for the reference modules (tools/reverie_ref): runs one
forward pass with hooks and counts the multiply-adds of convolutions, linear
layers and attention (QK^T and PV), two FLOPs each. Norms, activations and
elementwise ops are left out (a few percent for these models). Not a
profiler: it says how much arithmetic a frame is, not how long it takes.

    /usr/bin/python3 tools/flops.py models/reverie-tiny --size 256
    /usr/bin/python3 tools/flops.py ../shared/models/sd21-base --size 512

prints JSON: per component FLOPs (text encoder per prompt, UNet per step,
decoder and encoder per image), parameters, and `frame` = 1 UNet step +
decoder at that image size.
"""

import argparse
import contextlib
import json
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reverie_ref import clip_text, layers  # noqa: E402
from reverie_ref.diffusers_folder import build_model, read_json  # noqa: E402
from reverie_ref.util import no_init  # noqa: E402


class Counter:
    def __init__(self):
        self.conv = 0
        self.linear = 0
        self.attention = 0

    @property
    def total(self):
        return self.conv + self.linear + self.attention

    def as_dict(self):
        return {"conv": self.conv, "linear": self.linear, "attention": self.attention, "total": self.total}


@contextlib.contextmanager
def counting(module):
    """Inside, forwards of `module` add to the yielded Counter."""
    c = Counter()

    def conv_hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        c.conv += 2 * out.numel() * k

    def linear_hook(m, inp, out):
        c.linear += 2 * out.numel() * m.in_features

    handles = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))

    original = layers.attention

    def counted_attention(q, k, v, heads, mask=None):
        b, nq, cq = q.shape
        nk, cv = k.shape[1], v.shape[2]
        c.attention += 2 * b * nq * nk * cq + 2 * b * nq * nk * cv
        return original(q, k, v, heads, mask)

    # both modules bound the function at import time
    layers.attention = counted_attention
    clip_text.attention = counted_attention
    try:
        yield c
    finally:
        layers.attention = original
        clip_text.attention = original
        for h in handles:
            h.remove()


def params(model):
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def text_encoder_flops(te, seq=77):
    ids = torch.zeros(1, seq, dtype=torch.long)
    with counting(te) as c:
        te(ids)
    return c


@torch.no_grad()
def unet_flops(unet, latent_hw, context_len=77, context_dim=None):
    cfg = unet.config
    cross = cfg["cross_attention_dim"]
    context_dim = context_dim or (cross[0] if isinstance(cross, (list, tuple)) else cross)
    x = torch.zeros(1, cfg["in_channels"], *latent_hw)
    ctx = torch.zeros(1, context_len, context_dim)
    cond = None
    if cfg.get("time_cond_proj_dim"):
        cond = torch.zeros(1, cfg["time_cond_proj_dim"])
    with counting(unet) as c:
        unet(x, torch.tensor([999.0]), ctx, timestep_cond=cond)
    return c


@torch.no_grad()
def decoder_flops(ae, latent_hw):
    ch = ae.config["latent_channels"]
    with counting(ae) as c:
        ae.decode(torch.zeros(1, ch, *latent_hw))
    return c


@torch.no_grad()
def encoder_flops(ae, image_hw):
    with counting(ae) as c:
        ae.encode(torch.zeros(1, ae.config["in_channels"], *image_hw))
    return c


def latent_factor(ae):
    if hasattr(ae, "scale_factor"):
        return ae.scale_factor
    return 2 ** (len(ae.config["block_out_channels"]) - 1)


def report(configs, image_size, encoder=True):
    """configs: dict name -> config dict for any of text_encoder, unet, vae.
    Returns the JSON-able report."""
    out = {"image_size": image_size}
    with no_init():
        models = {k: build_model(v).eval() for k, v in configs.items()}
    total_params = 0
    for k, m in models.items():
        total_params += params(m)
    out["parameters"] = {k: params(m) for k, m in models.items()}
    out["parameters"]["total"] = total_params
    out["fp16_megabytes"] = round(total_params * 2 / 1e6, 3)
    flops = {}
    lat = None
    if "vae" in models:
        f = latent_factor(models["vae"])
        lat = (image_size // f, image_size // f)
        out["latent_size"] = list(lat)
        flops["decoder"] = decoder_flops(models["vae"], lat).as_dict()
        if encoder:
            flops["encoder"] = encoder_flops(models["vae"], (image_size, image_size)).as_dict()
    if "text_encoder" in models:
        flops["text_encoder"] = text_encoder_flops(models["text_encoder"]).as_dict()
    if "unet" in models and lat is not None:
        ctx_dim = models["text_encoder"].config["hidden_size"] if "text_encoder" in models else None
        flops["unet_step"] = unet_flops(models["unet"], lat, context_dim=ctx_dim).as_dict()
    out["flops"] = flops
    if "unet_step" in flops and "decoder" in flops:
        out["frame_1_step_gflop"] = round((flops["unet_step"]["total"] + flops["decoder"]["total"]) / 1e9, 4)
    return out


def folder_configs(folder):
    """Component configs of a diffusers folder (the text encoder, UNet and the
    first autoencoder in model_index.json)."""
    index = read_json(os.path.join(folder, "model_index.json"))
    configs = {}
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or spec[1] is None:
            continue
        cls = spec[1]
        path = os.path.join(folder, name, "config.json")
        if cls == "CLIPTextModel":
            configs["text_encoder"] = read_json(path)
        elif cls == "UNet2DConditionModel":
            configs["unet"] = read_json(path)
        elif cls in ("AutoencoderTiny", "AutoencoderKL") and "vae" not in configs:
            configs["vae"] = read_json(path)
    return configs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", help="diffusers folder (config.json files are enough)")
    ap.add_argument("--size", type=int, default=256, help="image side in pixels")
    ap.add_argument("--no-encoder", action="store_true", help="skip the image encoder")
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    rep = report(folder_configs(args.folder), args.size, encoder=not args.no_encoder)
    print(json.dumps(rep, indent=1))
    f = rep["flops"]
    line = [f"FLOPS: {args.folder} at {args.size}x{args.size}:"]
    for k in ("unet_step", "decoder", "encoder", "text_encoder"):
        if k in f:
            line.append(f"{k} {f[k]['total'] / 1e9:.3f} GFLOP")
    if "frame_1_step_gflop" in rep:
        line.append(f"frame (1 step + decoder) {rep['frame_1_step_gflop']:.3f} GFLOP")
    line.append(f"params {rep['parameters']['total'] / 1e6:.2f} M ({rep['fp16_megabytes']:.2f} MB fp16)")
    print(", ".join(line), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Times the teacher's training step (text encoder + UNet forward, backward,
gradient clipping, AdamW, EMA: train_teacher.py's loop body) on synthetic
batches drawn on the device, for each speed option of common.fast_module and
reverie_ref's attention, and prints one JSON object per configuration and a
last one naming the fastest. Run it first on a lent GPU to pick the options
for the training calls; on CPUs it only shows that the path works.

    python3 tools/train/bench_step.py --batch 512 1024 --seconds 6
    eval "$(python3 tools/train/bench_step.py --env)"   # export the fastest options

Configurations: plain (no fused attention), sdpa (torch's fused attention),
cl (sdpa + channels-last convolutions), compile (sdpa + torch.compile),
cl+compile.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import copy
import json
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from reverie_ref import CLIPTextModel, UNet2DConditionModel, layers  # noqa: E402
from train import arch  # noqa: E402
from train.common import adamw, device, fast_module, setup  # noqa: E402
from train.latents import alphas_cumprod  # noqa: E402
from train.train_teacher import diffusion_loss, ema_update  # noqa: E402

CONFIGS = {  # name: (fused attention, channels-last, torch.compile)
    "plain": (False, False, False),
    "sdpa": (True, False, False),
    "cl": (True, True, False),
    "compile": (True, False, True),
    "cl+compile": (True, True, True),
}


def env_for(name):
    sdpa, cl, comp = CONFIGS[name]
    return {"REVERIE_SDPA": str(int(sdpa)), "REVERIE_CHANNELS_LAST": str(int(cl)), "REVERIE_COMPILE": str(int(comp))}


def time_config(name, batch, size, seconds, min_steps, vocab=512):
    dev = device()
    for k, v in env_for(name).items():
        os.environ[k] = v
    layers.USE_SDPA = CONFIGS[name][0] and hasattr(torch.nn.functional, "scaled_dot_product_attention")
    torch.manual_seed(0)
    te = CLIPTextModel(arch.text_encoder_config(vocab)).to(dev)
    unet = UNet2DConditionModel(arch.unet_config()).to(dev)
    ema_te, ema_unet = copy.deepcopy(te), copy.deepcopy(unet)
    params = list(te.parameters()) + list(unet.parameters())
    opt = adamw(params, lr=1e-4, weight_decay=0.01)
    fwd_unet, fwd_te = fast_module(unet), fast_module(te)
    ac = alphas_cumprod().to(dev)
    x0 = torch.randn(batch, arch.LATENT_CHANNELS, size, size, device=dev)
    ids = torch.randint(0, vocab, (batch, 77), device=dev)

    def step():
        loss, _ = diffusion_loss(fwd_unet, fwd_te, x0, ids, ac)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema_update(ema_te, te, 0.999)
        ema_update(ema_unet, unet, 0.999)
        return loss

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    for _ in range(3):  # warm-up: cuDNN's algorithm search, compilation
        loss = step()
    sync()
    warm = time.time() - t0
    n, t0 = 0, time.time()
    while n < min_steps or time.time() - t0 < seconds:
        loss = step()
        n += 1
        if n % 10 == 0:
            sync()
    sync()
    dt = (time.time() - t0) / n
    rec = {"config": name, "batch": batch, "latent": size, "steps": n, "ms_per_step": round(1e3 * dt, 2),
           "samples_per_s": round(batch / dt, 1), "warmup_s": round(warm, 1), "loss": round(float(loss), 4),
           "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu", "torch": torch.__version__}
    if dev.type == "cuda":
        rec["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[512])
    ap.add_argument("--size", type=int, default=32, help="latent side")
    ap.add_argument("--seconds", type=float, default=6.0, help="timed seconds per configuration")
    ap.add_argument("--min-steps", type=int, default=5)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--env", action="store_true", help="print only `export ...` of the fastest options")
    ap.add_argument("--log", default=None, help="also append the JSON records to this file")
    args = ap.parse_args(argv)
    setup(seed=0)
    best = None
    for name in args.configs.split(","):
        if name not in CONFIGS:
            raise SystemExit(f"bench_step: unknown configuration {name!r} (known: {', '.join(CONFIGS)})")
        for b in args.batch:
            try:
                rec = time_config(name, b, args.size, args.seconds, args.min_steps)
            except Exception as e:  # noqa: BLE001 -- an option this machine lacks (no compiler for torch.compile)
                rec = {"config": name, "batch": b, "error": f"{type(e).__name__}: {str(e)[:300]}"}
            emit(rec, args)
            if "error" not in rec and (best is None or rec["samples_per_s"] > best["samples_per_s"]):
                best = rec
    if best is None:
        raise SystemExit("bench_step: no configuration ran")
    emit({"fastest": best["config"], "batch": best["batch"], "samples_per_s": best["samples_per_s"],
          "env": env_for(best["config"])}, args)
    if args.env:
        print("export " + " ".join(f"{k}={v}" for k, v in env_for(best["config"]).items()))
    return 0


def emit(rec, args):
    if not args.env:
        print(json.dumps(rec), flush=True)
    if args.log:
        with open(args.log, "a") as f:
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    sys.exit(main())

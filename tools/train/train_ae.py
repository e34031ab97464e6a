#!/usr/bin/python3
"""Trains reverie-tiny's AutoencoderTiny (TAESD layout, tools/train/arch.py)
on scenegen images: random 128x128 crops of 256x256 renders plus whole
128x128 renders, so it codes both scales. Loss: L1 + MSE + an L1 on image
gradients (keeps edges, hatching and rain sharp; no perceptual network), a
penalty on latents outside TAESD's soft clamp (|z| > 2.5), and decoder
training on slightly noised latents half the time, since diffusion outputs
are never exact. Two phases: 'joint' trains the encoder with a wider
decoder (arch.vae_config_joint) and so fixes the latent space; 'decoder'
trains the shipped decoder (arch.vae_config) on that frozen encoder, so the
decoder can be changed without touching the UNet. Resumes from RUN/ckpt.pt.
Not the latent encoding.

    train_ae.py --run RUNS/ae --steps 4000
    train_ae.py --phase decoder --encoder RUNS/ae/ckpt.pt --run RUNS/ae-decoder --steps 3000
"""

import os

# several torch processes share 2 cores here: spinning OpenMP threads waste
# them (measured 5x slower), so waiting threads sleep (before torch loads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from reverie_ref import AutoencoderTiny  # noqa: E402
from train import arch  # noqa: E402
from train.common import (RUNS, Clock, ImageShards, Log, cosine_lr, device, load_checkpoint, to_device,  # noqa: E402
                          save_checkpoint, save_grid, setup, to_tensor, to_uint8)


def grad_l1(a, b):
    dxa, dxb = a[..., :, 1:] - a[..., :, :-1], b[..., :, 1:] - b[..., :, :-1]
    dya, dyb = a[..., 1:, :] - a[..., :-1, :], b[..., 1:, :] - b[..., :-1, :]
    return (dxa - dxb).abs().mean() + (dya - dyb).abs().mean()


def grad_energy_l1(a, b, pool=4):
    """L1 between local averages of gradient magnitude: asks for texture
    (rain, hatching, grain) of the right strength without asking for its
    exact placement, which L1/MSE alone answer with a blur."""
    def energy(x):
        gx = (x[..., :, 1:] - x[..., :, :-1]).abs()[..., :-1, :]
        gy = (x[..., 1:, :] - x[..., :-1, :]).abs()[..., :, :-1]
        return F.avg_pool2d(gx + gy, pool)
    return (energy(a) - energy(b)).abs().mean()


def ae_loss(ae, x, dec_noise=0.05, texture=0.0):
    z = ae.encode(x)
    # half the batch decodes slightly noised latents
    b = x.shape[0]
    mask = (torch.arange(b, device=x.device) < b // 2).float()[:, None, None, None]
    zin = z + dec_noise * mask * torch.randn_like(z)
    y = ae.decode(zin)
    l1 = (y - x).abs().mean()
    mse = (y - x).pow(2).mean()
    edge = grad_l1(y, x)
    zpen = F.relu(z.abs() - 2.5).pow(2).mean()
    tex = grad_energy_l1(y, x)
    loss = l1 + mse + 0.5 * edge + 0.1 * zpen + texture * tex
    # kept on the device (no sync per step); the log reads them
    return loss, {"l1": l1.detach(), "mse": mse.detach(), "edge": edge.detach(), "zpen": zpen.detach(),
                  "tex": tex.detach(), "zstd": z.detach().std(), "zmax": z.detach().abs().max()}


class Batches:
    def __init__(self, d256, d128, crop, val=8, seed=0):
        self.a = ImageShards(d256)
        self.b = ImageShards(d128) if d128 else None
        self.crop = crop
        self.val = val
        self.rng = np.random.default_rng(seed)

    def val_images(self):
        return self.a.batch(range(self.a.n - self.val, self.a.n))

    def __call__(self, batch):
        out = []
        n_b = 0 if self.b is None else batch * 2 // 5
        for i in self.rng.integers(0, self.a.n - self.val, batch - n_b):
            img = self.a.get(int(i))
            h, w = img.shape[:2]
            y, x = self.rng.integers(0, h - self.crop + 1), self.rng.integers(0, w - self.crop + 1)
            out.append(img[y:y + self.crop, x:x + self.crop])
        if n_b:
            for i in self.rng.integers(0, self.b.n, n_b):
                img = self.b.get(int(i))
                h, w = img.shape[:2]
                c = min(self.crop, h)
                y, x = self.rng.integers(0, h - c + 1), self.rng.integers(0, w - c + 1)
                img = img[y:y + c, x:x + c]
                if c != self.crop:
                    continue
                out.append(img)
        arr = np.stack(out)
        flip = self.rng.random(len(arr)) < 0.5
        arr[flip] = arr[flip, :, ::-1]
        return to_tensor(arr)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", default=os.path.join(RUNS, "ae"))
    ap.add_argument("--data256", default=os.path.join(RUNS, "data", "ae256"))
    ap.add_argument("--data128", default=os.path.join(RUNS, "data", "ae128"))
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--seconds", type=float, default=None, help="or stop after this much training time")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--every", type=int, default=250, help="checkpoint and sample period")
    ap.add_argument("--texture", type=float, default=1.0, help="weight of the gradient-energy term")
    ap.add_argument("--phase", choices=("joint", "decoder"), default="joint",
                    help="joint: encoder + wide decoder; decoder: the shipped decoder on the frozen encoder of --encoder")
    ap.add_argument("--encoder", default=os.path.join(RUNS, "ae", "ckpt.pt"), help="phase 'decoder': its encoder")
    args = ap.parse_args(argv)
    setup(seed=1)
    os.makedirs(args.run, exist_ok=True)
    log = Log(os.path.join(args.run, "log.jsonl"))
    config = arch.vae_config_joint() if args.phase == "joint" else arch.vae_config()
    dev = device()
    ae = AutoencoderTiny(config)
    if args.phase == "decoder":
        enc = load_checkpoint(args.encoder)
        if enc is None:
            raise FileNotFoundError(args.encoder)
        ae.encoder.load_state_dict({k[len("encoder."):]: v for k, v in enc["model"].items() if k.startswith("encoder.")})
        ae.encoder.requires_grad_(False)
    ae.to(dev)
    opt = torch.optim.AdamW([p for p in ae.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0,
                            betas=(0.9, 0.99))
    data = Batches(args.data256, args.data128, args.crop)
    step, elapsed = 0, 0.0
    ck = load_checkpoint(os.path.join(args.run, "ckpt.pt"))
    if ck:
        ae.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, elapsed = ck["step"], ck.get("elapsed", 0.0)
        data.rng = np.random.default_rng([1, step])
        torch.manual_seed(step)
        print(f"resumed at step {step}", flush=True)
    val = to_tensor(data.val_images()).to(dev)
    clock = Clock(args.steps, args.seconds, elapsed, warm=200)
    t0, seen, acc = time.time(), 0, {}
    while not clock.done(step):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, clock.progress(step), args.lr, 200, 0.1)
        x = to_device(data(args.batch), dev)
        loss, parts = ae_loss(ae, x, texture=args.texture)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ae.parameters(), 1.0)
        opt.step()
        step += 1
        seen += x.shape[0]
        for k, v in dict(parts, loss=loss.detach()).items():
            acc[k] = acc.get(k, 0.0) + v
        if step % 50 == 0:
            log(step=step, **{k: v.item() / 50 for k, v in acc.items()}, lr=opt.param_groups[0]["lr"],
                img_per_s=round(seen / (time.time() - t0), 2))
            acc, seen, t0 = {}, 0, time.time()
        last = clock.done(step)
        if step % args.every == 0 or last:
            save_checkpoint(os.path.join(args.run, "ckpt.pt"),
                            {"model": ae.state_dict(), "opt": opt.state_dict(), "step": step,
                             "elapsed": clock.elapsed(), "config": config, "phase": args.phase})
            with torch.no_grad():
                ae.eval()
                rec = ae.decode(ae.encode(val))
                vl1 = (rec - val).abs().mean().item()
                ae.train()
            log(step=step, val_l1=vl1)
            save_grid(os.path.join(args.run, "recon.png"),
                      np.concatenate([to_uint8(val[:4]), to_uint8(rec[:4]), to_uint8(val[4:]), to_uint8(rec[4:])]),
                      cols=4)
    return 0


if __name__ == "__main__":
    sys.exit(main())

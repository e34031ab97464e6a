#!/usr/bin/python3
"""Trains the teacher: reverie-tiny's CLIPTextModel (from scratch) and
UNet2DConditionModel jointly, by the diffusion loss alone, on latent shards
(encode_latents.py). v-prediction on SD's scaled_linear schedule, t uniform
over 0..999, min-SNR-5 loss weights (Hang et al. 2023), 10% of captions
dropped to "" for classifier-free guidance, a fresh caption phrasing per
draw, EMA weights for sampling. Resumes from RUN/ckpt.pt; --init starts a
new stage (e.g. 32x32 latents after 16x16) from another run's weights.
Not the distillation.

    /usr/bin/python3 tools/train/train_teacher.py --run RUNS/teacher16 --latents RUNS/data/lat128 --steps 30000
"""

import os

# several torch processes share 2 cores here: spinning OpenMP threads waste
# them (measured 5x slower), so waiting threads sleep (before torch loads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import copy
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from reverie_ref import CLIPTextModel, UNet2DConditionModel  # noqa: E402
from train import arch  # noqa: E402
from train.common import RUNS, Clock, Log, adamw, align_optimizer_state, autocast, cosine_lr, device, fast_module, load_checkpoint, save_checkpoint, save_grid, setup, to_uint8  # noqa: E402,E501
from train.encode_latents import load_ae  # noqa: E402
from train.latents import Captioner, DeviceBatches, LatentSet, alphas_cumprod, caption_table, tokenizer_digest, v_target  # noqa: E402,E501
from train.sampling import generate, noise_for, preview_scenes  # noqa: E402


def ema_update(ema, model, decay):
    with torch.no_grad():
        e = list(ema.parameters())
        torch._foreach_mul_(e, decay)
        torch._foreach_add_(e, [p.detach() for p in model.parameters()], alpha=1 - decay)


def diffusion_loss(unet, te, x0, ids, ac, snr_gamma=5.0, mask=None, object_weight=0.0):
    """(weighted loss, plain v-MSE). With `mask` ([B, 1, h, w], the objects'
    share of each latent pixel) and object_weight k, each latent pixel's
    squared error is weighted 1 + k * mask, over the batch's mean weight (so
    the loss keeps its scale): objects are small and the plain loss spends
    most of a small model's capacity on sky, terrain and texture."""
    b = x0.shape[0]
    t = torch.randint(0, len(ac), (b,), device=x0.device)
    a = ac[t].view(b, 1, 1, 1)
    eps = torch.randn_like(x0)
    xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
    with autocast():
        ctx = te(ids)["last_hidden_state"]
        v = unet(xt, t.float(), ctx).float()
    snr = a / (1 - a)
    w = snr.clamp(max=snr_gamma) / (snr + 1)  # min-SNR weights in v-space
    err = (v - v_target(x0, eps, a)).pow(2)
    per = err.mean(dim=(1, 2, 3))
    if mask is not None and object_weight:
        pix = 1.0 + object_weight * mask
        weighted = (err * pix).mean(dim=(1, 2, 3)) / pix.mean()
        return (w.view(b) * weighted).mean(), per.mean()
    return (w.view(b) * per).mean(), per.mean()


def make_preview(path, unet, te, ae, cap, latent_shape, steps=20, guidance=4.0):
    scenes = preview_scenes()
    texts = [s for s in cap.captions(scenes)]
    ids = cap.ids(texts)
    neg = cap.ids([""] * len(texts))
    noise = noise_for(range(len(texts)), latent_shape)
    unet.eval(), te.eval()
    out = generate(unet, te, ae, ids, noise, steps, guidance, negative_ids=neg)
    unet.train(), te.train()
    save_grid(path, to_uint8(out["image"]), cols=4)
    with open(path[:-4] + ".txt", "w") as f:
        f.write("\n".join(texts) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", default=os.path.join(RUNS, "teacher16"))
    ap.add_argument("--latents", default=os.path.join(RUNS, "data", "lat128"))
    ap.add_argument("--tokenizer", default=os.path.join(RUNS, "tokenizer"))
    ap.add_argument("--ae", default=os.path.join(RUNS, "ae", "ckpt.pt"))
    ap.add_argument("--init", default=None, help="start from this checkpoint's (EMA) weights")
    ap.add_argument("--steps", type=int, default=30000)
    ap.add_argument("--seconds", type=float, default=None, help="or stop after this much training time")
    ap.add_argument("--stop-after", type=float, default=None,
                    help="end this process after this many seconds (checkpointed; rerun to resume the schedule)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--warmup", type=int, default=500, help="learning-rate warm-up steps")
    ap.add_argument("--ema", type=float, default=0.9995)
    ap.add_argument("--drop", type=float, default=0.1, help="caption dropout (CFG)")
    ap.add_argument("--every", type=int, default=500, help="checkpoint period in steps")
    ap.add_argument("--preview-every", type=int, default=2000)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N latents")
    ap.add_argument("--phrasings", type=int, default=16, help="captions drawn per scene for the run's caption table")
    ap.add_argument("--object-weight", type=float, default=0.0,
                    help="extra loss weight on the objects' latent pixels (needs the shards' masks; 0: plain loss)")
    args = ap.parse_args(argv)
    setup(seed=2)
    os.makedirs(args.run, exist_ok=True)
    log = Log(os.path.join(args.run, "log.jsonl"))
    data = LatentSet(args.latents, args.limit)
    sf = data.meta["scaling_factor"]
    cap = Captioner(args.tokenizer, seed=3)
    vocab = len(cap.tok.encoder)
    dev = device()
    te = CLIPTextModel(arch.text_encoder_config(vocab)).to(dev)
    unet = UNet2DConditionModel(arch.unet_config()).to(dev)
    step, elapsed = 0, 0.0
    ck = load_checkpoint(os.path.join(args.run, "ckpt.pt"))
    if ck is None and args.init:
        init = load_checkpoint(args.init)
        te.load_state_dict(init["ema_te"])
        unet.load_state_dict(init["ema_unet"])
        print(f"initialised from {args.init} (step {init['step']})", flush=True)
    ema_te, ema_unet = copy.deepcopy(te), copy.deepcopy(unet)
    params = list(te.parameters()) + list(unet.parameters())
    opt = adamw(params, lr=args.lr, weight_decay=0.01)
    if ck:
        te.load_state_dict(ck["te"])
        unet.load_state_dict(ck["unet"])
        ema_te.load_state_dict(ck["ema_te"])
        ema_unet.load_state_dict(ck["ema_unet"])
        opt.load_state_dict(ck["opt"])
        step, elapsed = ck["step"], ck.get("elapsed", 0.0)
        print(f"resumed at step {step}", flush=True)
    torch.manual_seed(step)
    t0 = time.time()
    table = caption_table(data.scenes, args.tokenizer, args.phrasings, seed=4, cache=os.path.join(
        args.latents, f"captions_{tokenizer_digest(args.tokenizer)}_{args.phrasings}_{data.n}.npy"))
    print(f"caption table {table.shape} in {time.time() - t0:.1f}s", flush=True)
    if args.object_weight and data.masks is None:
        raise SystemExit(f"TEACHER: --object-weight needs object masks, and {args.latents} has none "
                         "(encode the latents again with this encode_latents.py)")
    batches = DeviceBatches(data.latents, table, cap.empty, dev, args.batch, scale=sf, drop=args.drop, flip=True,
                            seed=5, step=step, masks=data.masks if args.object_weight else None)
    ae = load_ae(args.ae, sf).to(dev)
    ac = alphas_cumprod().to(dev)
    latent_shape = tuple(data.latents.shape[1:])
    print(f"TEACHER: {data.n} latents {latent_shape}, scaling {sf}, vocab {vocab}, "
          f"te {sum(p.numel() for p in te.parameters())} unet {sum(p.numel() for p in unet.parameters())} params, "
          f"object weight {args.object_weight:g}, on {dev}", flush=True)
    fwd_unet, fwd_te = fast_module(unet), fast_module(te)
    align_optimizer_state(opt)
    clock = Clock(args.steps, args.seconds, elapsed, warm=args.warmup, stop_after=args.stop_after)
    marker = os.path.join(args.run, "finished")  # written when the whole schedule has run
    if os.path.exists(marker) and not clock.finished(step):
        os.remove(marker)
    t0, seen, acc, last_save = time.time(), 0, {}, time.time()
    while not clock.done(step):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, clock.progress(step), args.lr, args.warmup, 0.05)
        x0, ids, mask = batches.get()
        loss, mse = diffusion_loss(fwd_unet, fwd_te, x0, ids, ac, mask=mask, object_weight=args.object_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        ema_update(ema_te, te, min(args.ema, (1 + step) / (10 + step)))
        ema_update(ema_unet, unet, min(args.ema, (1 + step) / (10 + step)))
        seen += args.batch
        for k, v in (("loss", loss), ("v_mse", mse), ("grad_norm", gn)):  # summed on the device: no sync per step
            acc[k] = acc.get(k, 0.0) + v.detach()
        if step % 50 == 0:
            log(step=step, **{k: v.item() / 50 for k, v in acc.items()}, lr=opt.param_groups[0]["lr"],
                samples_per_s=round(seen / (time.time() - t0), 2))
            acc, seen, t0 = {}, 0, time.time()
        last = clock.done(step)
        if step % args.every == 0 or last or time.time() - last_save > 900:
            save_checkpoint(os.path.join(args.run, "ckpt.pt"), {
                "te": te.state_dict(), "unet": unet.state_dict(), "ema_te": ema_te.state_dict(),
                "ema_unet": ema_unet.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": clock.elapsed(),
                "te_config": arch.text_encoder_config(vocab), "unet_config": arch.unet_config(),
                "scaling_factor": sf, "latents": args.latents})
            last_save = time.time()
        if step % args.preview_every == 0 or last:
            make_preview(os.path.join(args.run, f"preview_{step:06d}.png"), ema_unet, ema_te, ae, cap, latent_shape)
    if clock.finished(step):
        with open(marker, "w") as f:
            f.write(f"{step}\n")
    else:
        print(f"TEACHER: stopped at step {step}, this process's {args.stop_after:g} s used; run it again to go on",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

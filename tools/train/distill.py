#!/usr/bin/python3
"""Distils the teacher's UNet into a 1-4 step student for SD-Turbo's
scheduler (Euler, trailing spacing). Method: knowledge distillation in the
manner of Luhman & Luhman 2021 ("Knowledge distillation in iterative
generative models for improved sampling speed"): the teacher maps noise z to
a sample x0*(z) with a deterministic many-step sampler (Euler, 25 steps, or
DPM-Solver++(2M), 12; classifier-free guidance), and the student learns that
map directly. The one-step method is extended to Euler's few-step schedules
by training the student on the straight path between the pair, x_t = sqrt(a_t) x0* +
sqrt(1-a_t) z, as rectified flow's k-step distillation does (Liu et al. 2022):
if the student returns x0* from any point of that path, Euler's update
x_next = x0 + sigma_next * (x - x0) / sigma lands on the same path again
(its implied noise is z), so 1, 2 and 4 steps all reproduce the teacher's
sample, and a frame re-noised with the noise that made it is a fixed point
(stable video). Loss: MSE in x0 space at the trailing-schedule timesteps
(999, 749, 666, 499, 332, 249) and, a third of the time, anywhere in 0..999.

With --sd-weight > 0 the loss adds the distillation term of Adversarial
Diffusion Distillation (Sauer et al. 2023, SD-Turbo's recipe, without its
adversarial term): on fresh train-split prompts that have no pair, the
student's sample is re-noised to a teacher timestep and pulled towards the
teacher's guided x0 there. Pairs cover a few thousand prompts; this term
reaches every prompt the caption language can say, at two teacher calls a
sample.

    distill.py pairs --teacher RUNS/teacher32/ckpt.pt --out RUNS/pairs32 -n 20000
    distill.py train --teacher RUNS/teacher32/ckpt.pt --pairs RUNS/pairs32 --run RUNS/student32

Both resume. Not the teacher training, not the export.
"""

import os

# several torch processes share 2 cores here: spinning OpenMP threads waste
# them (measured 5x slower), so waiting threads sleep (before torch loads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import copy
import glob
import json
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import scenegen as sg  # noqa: E402
from reverie_ref import CLIPTextModel, UNet2DConditionModel  # noqa: E402
from train import arch  # noqa: E402
from train.common import RUNS, Clock, Log, adamw, align_optimizer_state, autocast, cosine_lr, device, fast_module, load_checkpoint, save_checkpoint, save_grid, setup, to_uint8  # noqa: E402,E501
from train.encode_latents import load_ae  # noqa: E402
from train.latents import Captioner, alphas_cumprod  # noqa: E402
from train.sampling import SAMPLERS, generate, noise_for, preview_scenes  # noqa: E402
from train.train_teacher import ema_update  # noqa: E402

# Euler trailing timesteps of 1, 2, 3 and 4 steps
TRAILING = (999, 749, 666, 499, 332, 249)
SD_SEED = 0x5D15  # numbers the score-distillation term's fresh scenes
_TRAILING = {}  # device -> TRAILING as a tensor there


def trailing_on(dev):
    """TRAILING as a tensor on dev, made once per device: a host-to-device
    copy in the training loop would wait for the GPU."""
    if dev not in _TRAILING:
        _TRAILING[dev] = torch.tensor(TRAILING, device=dev)
    return _TRAILING[dev]


def load_teacher(path, dev=None):
    """The EMA text encoder and UNet of a teacher (or student) checkpoint, on
    dev (default: the training device), and the checkpoint."""
    dev = dev or device()
    ck = load_checkpoint(path)
    if ck is None:
        raise FileNotFoundError(path)
    te = CLIPTextModel(ck["te_config"])
    te.load_state_dict(ck["ema_te"])
    unet = UNet2DConditionModel(ck["unet_config"])
    unet.load_state_dict(ck["ema_unet"])
    return te.to(dev).eval(), unet.to(dev).eval(), ck


# ---- pairs ----

@torch.no_grad()
def cmd_pairs(args):
    setup(seed=6)
    te, unet, ck = load_teacher(args.teacher)
    cap = Captioner(args.tokenizer)
    for p in list(te.parameters()) + list(unet.parameters()):
        p.requires_grad_(False)
    h = w = args.size // arch.LATENT_FACTOR
    shape = (arch.LATENT_CHANNELS, h, w)
    os.makedirs(args.out, exist_ok=True)
    meta = {"count": args.n, "size": args.size, "steps": args.steps, "sampler": args.sampler,
            "guidance": args.guidance, "teacher": os.path.abspath(args.teacher), "teacher_step": ck["step"],
            "scaling_factor": ck["scaling_factor"], "seed": args.seed}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    neg_all = cap.ids([""] * args.batch)
    for shard, start in enumerate(range(0, args.n, args.shard_size)):
        stem = os.path.join(args.out, f"shard_{shard:05d}")
        if os.path.exists(stem + ".jsonl"):
            continue
        t0 = time.time()
        count = min(args.shard_size, args.n - start)
        zs, xs, recs = [], [], []
        for b0 in range(0, count, args.batch):
            idx = list(range(start + b0, start + min(count, b0 + args.batch)))
            scenes = [sg.sample_scene(sg.item_seed(args.seed, i), "train") for i in idx]
            cap.rng = np.random.default_rng([args.seed, idx[0], 0xCA9])
            texts = cap.captions(scenes)
            z = noise_for([args.seed * 1000003 + i for i in idx], shape)
            out = generate(unet, te, None, cap.ids(texts), z, args.steps, args.guidance,
                           negative_ids=neg_all[:len(idx)], sampler=args.sampler)
            zs.append(z.half().numpy())
            xs.append(out["latents"].half().cpu().numpy())
            recs.extend(json.dumps({"index": i, "caption": c, "scene": s}, sort_keys=True)
                        for i, c, s in zip(idx, texts, scenes))
        np.save(stem + ".z.npy", np.concatenate(zs))
        np.save(stem + ".x0.npy", np.concatenate(xs))
        with open(stem + ".jsonl.tmp", "w") as f:
            f.write("\n".join(recs) + "\n")
        os.replace(stem + ".jsonl.tmp", stem + ".jsonl")  # the shard's completion mark
        print(f"PAIRS: shard {shard} ({count}) in {time.time() - t0:.0f}s", flush=True)
    return 0


class Pairs:
    def __init__(self, folder):
        zs, xs, caps = [], [], []
        for p in sorted(glob.glob(os.path.join(folder, "shard_*.jsonl"))):
            stem = p[:-len(".jsonl")]
            zs.append(np.load(stem + ".z.npy"))
            xs.append(np.load(stem + ".x0.npy"))
            with open(p) as f:
                caps.extend(json.loads(line)["caption"] for line in f if line.strip())
        if not zs:
            raise FileNotFoundError(f"{folder}: no finished pair shards")
        self.z, self.x0, self.captions = np.concatenate(zs), np.concatenate(xs), caps
        self.n = len(self.z)
        with open(os.path.join(folder, "meta.json")) as f:
            self.meta = json.load(f)


# ---- student ----

def student_loss(unet, ctx, z, x0, ac, gen, trailing_frac=2 / 3):
    """x0-space MSE of the student at timesteps drawn on the device by
    `gen`: Euler's trailing timesteps `trailing_frac` of the time, else
    uniform over 0..999."""
    b, dev = z.shape[0], z.device
    trailing = trailing_on(dev)
    pick = trailing[torch.randint(0, len(TRAILING), (b,), device=dev, generator=gen)]
    anywhere = torch.randint(0, len(ac), (b,), device=dev, generator=gen)
    t = torch.where(torch.rand(b, device=dev, generator=gen) < trailing_frac, pick, anywhere)
    a = ac[t].view(b, 1, 1, 1)
    xt = a.sqrt() * x0 + (1 - a).sqrt() * z
    with autocast():
        v = unet(xt, t.float(), ctx).float()
    x0_hat = a.sqrt() * xt - (1 - a).sqrt() * v
    per = (x0_hat - x0).pow(2).mean(dim=(1, 2, 3))
    return per.mean(), per.detach(), t


def score_distillation_loss(student, teacher, ctx, neg_ctx, z, ac, gen, guidance=4.0, t_range=(200, 700)):
    """The distillation term of Adversarial Diffusion Distillation (Sauer et
    al. 2023, SD-Turbo's recipe) for prompts that have no teacher pair: the
    student's sample from noise z is re-noised to a teacher timestep drawn
    uniformly from t_range, and the teacher's guided x0 there is the target
    (a constant: the gradient reaches the student only). The student runs at
    one of Euler's trailing timesteps; past the first, its input is its own
    1-step sample on the path to z, as the second Euler step sees it. The
    pairs teach the student the teacher's map on a few thousand prompts;
    this term carries the teacher's guidance to any prompt, at the cost of
    two teacher calls and one more student call per sample. Returns the mean
    and per-sample x0-space MSE."""
    b, dev = z.shape[0], z.device
    top = len(ac) - 1
    trailing = trailing_on(dev)
    t_s = trailing[torch.randint(0, len(TRAILING), (b,), device=dev, generator=gen)]
    a_top = ac[top]
    x_top = (1 - a_top).sqrt() * z  # Euler's first model input (noise * sigma_max, scaled)
    with torch.no_grad(), autocast():
        v = student(x_top, torch.full((b,), float(top), device=dev), ctx).float()
    first = a_top.sqrt() * x_top - (1 - a_top).sqrt() * v
    a_s = ac[t_s].view(b, 1, 1, 1)
    xs = torch.where((t_s == top).view(b, 1, 1, 1), x_top, a_s.sqrt() * first + (1 - a_s).sqrt() * z)
    with autocast():
        v = student(xs, t_s.float(), ctx).float()
    x0 = a_s.sqrt() * xs - (1 - a_s).sqrt() * v
    t_t = torch.randint(t_range[0], t_range[1] + 1, (b,), device=dev, generator=gen)
    a_t = ac[t_t].view(b, 1, 1, 1)
    noise = torch.randn(z.shape, device=dev, generator=gen)
    with torch.no_grad():
        xt = a_t.sqrt() * x0.detach() + (1 - a_t).sqrt() * noise
        with autocast():
            vu, vc = teacher(torch.cat([xt, xt]), torch.cat([t_t, t_t]).float(),
                             torch.cat([neg_ctx, ctx])).float().chunk(2)
        target = a_t.sqrt() * xt - (1 - a_t).sqrt() * (vu + guidance * (vc - vu))
    per = (x0 - target).pow(2).mean(dim=(1, 2, 3))
    return per.mean(), per.detach()


def student_preview(path, unet, te, ae, cap, shape, steps=(1, 2, 4)):
    scenes = preview_scenes()
    texts = cap.captions(scenes)
    ids = cap.ids(texts)
    noise = noise_for(range(len(texts)), shape)
    rows = []
    unet.eval()
    for n in steps:
        rows.append(to_uint8(generate(unet, te, ae, ids, noise, n, 1.0)["image"]))
    unet.train()
    save_grid(path, np.concatenate(rows), cols=len(texts))
    with open(path[:-4] + ".txt", "w") as f:
        f.write(f"rows: {list(steps)} steps\n" + "\n".join(texts) + "\n")


def cmd_train(args):
    setup(seed=7)
    te, teacher_unet, ck = load_teacher(args.teacher)
    for p in list(te.parameters()) + list(teacher_unet.parameters()):
        p.requires_grad_(False)
    if args.sd_weight <= 0:
        teacher_unet = None  # only the score-distillation term calls the teacher
    pairs = Pairs(args.pairs)
    cap = Captioner(args.tokenizer, seed=8)
    dev = device()
    unet = UNet2DConditionModel(ck["unet_config"])
    init = load_checkpoint(args.init) if args.init else ck
    if init is None:
        raise FileNotFoundError(f"--init {args.init}: no checkpoint")
    unet.load_state_dict(init["ema_unet"])
    unet.to(dev)
    ema = copy.deepcopy(unet)
    opt = adamw(unet.parameters(), lr=args.lr, weight_decay=0.0)
    step, elapsed = 0, 0.0
    own = load_checkpoint(os.path.join(args.run, "ckpt.pt"))
    if own:
        unet.load_state_dict(own["unet"])
        ema.load_state_dict(own["ema_unet"])
        opt.load_state_dict(own["opt"])
        step, elapsed = own["step"], own.get("elapsed", 0.0)
        print(f"resumed at step {step}", flush=True)
    torch.manual_seed(step)
    log = Log(os.path.join(args.run, "log.jsonl"))
    ae = load_ae(args.ae, ck["scaling_factor"]).to(dev)
    ac = alphas_cumprod().to(dev)
    shape = tuple(pairs.z.shape[1:])
    print(f"DISTILL: {pairs.n} pairs {shape} (teacher {pairs.meta['steps']} steps, w={pairs.meta['guidance']}) "
          f"on {dev}", flush=True)
    clock = Clock(args.steps, args.seconds, elapsed, warm=200)
    # the pairs and their token ids live on the device; batches and
    # timesteps are drawn there by one generator seeded with the step
    pz, px0 = torch.from_numpy(pairs.z).to(dev), torch.from_numpy(pairs.x0).to(dev)
    pids = cap.ids(pairs.captions).to(dev)
    gen = torch.Generator(device=dev)
    gen.manual_seed(10 * 1000003 + step)
    fwd_unet = fast_module(unet)
    if teacher_unet is not None:
        fwd_teacher = fast_module(teacher_unet)
        with torch.no_grad():
            neg_ctx = te(cap.ids([""] * args.sd_batch).to(dev))["last_hidden_state"]
        print(f"DISTILL: + score distillation on {args.sd_batch} fresh train-split prompts a step, "
              f"weight {args.sd_weight}, teacher t in {args.sd_t}, w={pairs.meta['guidance']}", flush=True)
    align_optimizer_state(opt)
    t0, seen, acc, last_save = time.time(), 0, {}, time.time()
    per_t = []
    while not clock.done(step):
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, clock.progress(step), args.lr, 200, 0.1)
        idx = torch.randint(0, pairs.n, (args.batch,), device=dev, generator=gen)
        z, x0 = pz[idx].float(), px0[idx].float()
        with torch.no_grad():
            ctx = te(pids[idx])["last_hidden_state"]
        loss, per, t = student_loss(fwd_unet, ctx, z, x0, ac, gen)
        total = loss
        if teacher_unet is not None:
            # fresh prompts from the train split (never a held-out composition),
            # numbered apart from the pairs' scenes and resumed with the step
            first = step * args.sd_batch
            scenes = [sg.sample_scene(sg.item_seed(SD_SEED, first + i), "train") for i in range(args.sd_batch)]
            with torch.no_grad():
                sd_ctx = te(cap.ids(cap.captions(scenes)).to(dev))["last_hidden_state"]
            sd_z = torch.randn((args.sd_batch,) + shape, device=dev, generator=gen)
            sd, _ = score_distillation_loss(fwd_unet, fwd_teacher, sd_ctx, neg_ctx, sd_z, ac, gen,
                                            guidance=pairs.meta["guidance"], t_range=tuple(args.sd_t))
            total = loss + args.sd_weight * sd
            acc["sd_loss"] = acc.get("sd_loss", 0.0) + sd.detach()
        opt.zero_grad(set_to_none=True)
        total.backward()
        gn = torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        step += 1
        ema_update(ema, unet, min(args.ema, (1 + step) / (10 + step)))
        seen += args.batch
        for k, v in (("loss", loss), ("grad_norm", gn)):  # summed on the device: no sync per step
            acc[k] = acc.get(k, 0.0) + v.detach()
        per_t.append((t, per))
        if step % 50 == 0:
            ts, ps = torch.cat([a for a, _ in per_t]).tolist(), torch.cat([b for _, b in per_t]).tolist()
            by_t = {}
            for tt, pp in zip(ts, ps):
                if tt in (999, 499, 249):
                    by_t.setdefault(tt, []).append(pp)
            log(step=step, **{k: v.item() / 50 for k, v in acc.items()},
                **{f"x0_mse_t{k}": float(np.mean(v)) for k, v in sorted(by_t.items())},
                lr=opt.param_groups[0]["lr"], samples_per_s=round(seen / (time.time() - t0), 2))
            acc, seen, t0, per_t = {}, 0, time.time(), []
        last = clock.done(step)
        if step % args.every == 0 or last or time.time() - last_save > 900:
            save_checkpoint(os.path.join(args.run, "ckpt.pt"), {
                "unet": unet.state_dict(), "ema_unet": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                "elapsed": clock.elapsed(),
                "unet_config": ck["unet_config"], "te_config": ck["te_config"], "ema_te": ck["ema_te"],
                "scaling_factor": ck["scaling_factor"], "teacher": os.path.abspath(args.teacher),
                "pairs": pairs.meta})
            last_save = time.time()
        if step % args.preview_every == 0 or last:
            student_preview(os.path.join(args.run, f"preview_{step:06d}.png"), ema, te, ae, cap, shape)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pairs", help="teacher samples (noise, latents, caption)")
    p.add_argument("--teacher", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--tokenizer", default=os.path.join(RUNS, "tokenizer"))
    p.add_argument("-n", type=int, default=20000)
    p.add_argument("--size", type=int, default=arch.IMAGE_SIZE)
    p.add_argument("--steps", type=int, default=25)
    p.add_argument("--guidance", type=float, default=4.0)
    p.add_argument("--sampler", choices=sorted(SAMPLERS), default="euler",
                   help="the teacher's sampler: Euler, or DPM-Solver++(2M), as accurate in about half the steps")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--shard-size", type=int, default=512)
    p.add_argument("--seed", type=int, default=11)
    p = sub.add_parser("train", help="train the student")
    p.add_argument("--teacher", required=True)
    p.add_argument("--pairs", required=True)
    p.add_argument("--run", required=True)
    p.add_argument("--tokenizer", default=os.path.join(RUNS, "tokenizer"))
    p.add_argument("--ae", default=os.path.join(RUNS, "ae", "ckpt.pt"))
    p.add_argument("--init", default=None,
                   help="start the student from this checkpoint's EMA UNet (an earlier student), not the teacher's")
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--seconds", type=float, default=None, help="or stop after this much training time")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--sd-weight", type=float, default=0.0,
                   help="weight of the score-distillation term on fresh prompts (0: pairs only)")
    p.add_argument("--sd-batch", type=int, default=16, help="fresh prompts a step for that term")
    p.add_argument("--sd-t", type=int, nargs=2, default=(200, 700), metavar=("LO", "HI"),
                   help="the teacher's timesteps for that term")
    p.add_argument("--every", type=int, default=500)
    p.add_argument("--preview-every", type=int, default=2000)
    args = ap.parse_args(argv)
    return cmd_pairs(args) if args.cmd == "pairs" else cmd_train(args)


if __name__ == "__main__":
    sys.exit(main())

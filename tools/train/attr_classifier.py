#!/usr/bin/python3
"""Attribute classifier for evaluating generated images: a small CNN that
reads a 256x256 image (downsampled to 128x128) and predicts scenegen's
factors (time, weather, terrain, style, sky colour, main object, main
object colour) and which objects are present. Trained on procedural renders
of all splits (it is a measuring instrument, so it sees the held-out
combinations the generator never saw), with blur and noise augmentation so
that autoencoder-softened images are read like sharp ones. Not the model
under test.

    attr_classifier.py data RUNS/data/cls -n 16000
    attr_classifier.py train --data RUNS/data/cls --run RUNS/cls
    attr_classifier.py export --run RUNS/cls --out models/attr-classifier
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import scenegen as sg  # noqa: E402
from reverie_ref import safetensors_io  # noqa: E402
from train.common import (RUNS, ImageShards, generate_item, Log, device, load_checkpoint,  # noqa: E402
                          save_checkpoint, setup, to_tensor)

FACTOR_NAMES = list(sg.FACTORS)            # time, weather, terrain, style, sky_color, object, object_color
FACTOR_SIZES = [len(sg.FACTORS[k]) for k in FACTOR_NAMES]
N_OBJECTS = len(sg.OBJECTS)
COLOR_STYLES = ("realistic", "watercolor", "cartoon")
CLS_SIZE = 128
WEIGHTS_FILE = "model.safetensors"


def downsample(images):
    """uint8 [B,H,W,3] (any even size >= 128) -> uint8 [B,128,128,3] by box filtering."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    if x.shape[-1] != CLS_SIZE:
        x = F.adaptive_avg_pool2d(x, CLS_SIZE)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


# ---- data ----

def _render(args):
    seed, idx, split = args
    img, _, attrs = generate_item(seed, idx, 256, split)
    attrs.pop("scene")
    return idx, downsample(img[None])[0], sg.label_vector(attrs), sg.objects_multi_hot(attrs)


def cmd_data(args):
    os.makedirs(args.out, exist_ok=True)
    pool = mp.get_context("fork").Pool(args.workers)
    for shard, start in enumerate(range(0, args.n, args.shard_size)):
        stem = os.path.join(args.out, f"shard_{shard:05d}")
        if os.path.exists(stem + ".objects.npy"):
            continue
        t0 = time.time()
        count = min(args.shard_size, args.n - start)
        rows = sorted(pool.map(_render, [(args.seed, start + j, "all") for j in range(count)], chunksize=16))
        np.save(stem + ".images.npy", np.stack([r[1] for r in rows]))
        np.save(stem + ".labels.npy", np.array([r[2] for r in rows], np.int16))
        np.save(stem + ".objects.tmp.npy", np.array([r[3] for r in rows], np.uint8))
        os.replace(stem + ".objects.tmp.npy", stem + ".objects.npy")  # completion mark
        print(f"CLS: shard {shard} ({count}) in {time.time() - t0:.0f}s", flush=True)
    pool.close()
    return 0


# ---- model ----

def _conv(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class AttrNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            _conv(3, 32, 2), _conv(32, 48),            # 64x64
            _conv(48, 64, 2), _conv(64, 64),           # 32x32
            _conv(64, 128, 2), _conv(128, 128),        # 16x16
            _conv(128, 192, 2), _conv(192, 192))       # 8x8
        self.heads = nn.Linear(2 * 192, sum(FACTOR_SIZES) + N_OBJECTS)

    def forward(self, x):
        """x: [B,3,128,128] in [-1,1] -> (list of factor logits, object logits)."""
        h = self.body(x)
        h = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        out = self.heads(h)
        logits = list(torch.split(out[:, :sum(FACTOR_SIZES)], FACTOR_SIZES, dim=1))
        return logits, out[:, sum(FACTOR_SIZES):]


def colour_mask(labels):
    """Colours are only meaningful in colour styles (bw/sketch show greys)."""
    style = labels[:, FACTOR_NAMES.index("style")]
    ok = torch.zeros_like(style, dtype=torch.bool)
    for s in COLOR_STYLES:
        ok |= style == sg.FACTORS["style"].index(s)
    return ok


def cls_loss(net, x, labels, objects):
    logits, obj = net(x)
    cmask = colour_mask(labels).float()
    loss = 0.0
    for k, (name, lg) in enumerate(zip(FACTOR_NAMES, logits)):
        ce = F.cross_entropy(lg, labels[:, k].long(), reduction="none")
        if name in ("sky_color", "object_color"):
            ce = ce * cmask
        loss = loss + ce.mean()
    loss = loss + F.binary_cross_entropy_with_logits(obj, objects.float())
    return loss


def augment(x, rng):
    """Random blur (like the autoencoder's softening) and noise, per image."""
    b = x.shape[0]
    out = x.clone()
    for i in range(b):
        s = rng.uniform(0, 1.2) if rng.random() < 0.7 else 0.0
        if s > 0.05:
            r = 2
            k = torch.exp(-(torch.arange(-r, r + 1, device=x.device).float() ** 2) / (2 * s * s))
            k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
            y = F.conv2d(F.pad(out[i:i + 1], (r, r, 0, 0), mode="replicate"), k, groups=3)
            out[i:i + 1] = F.conv2d(F.pad(y, (0, 0, r, r), mode="replicate"), k.transpose(2, 3), groups=3)
        if rng.random() < 0.5:
            out[i] += rng.uniform(0, 0.06) * torch.randn_like(out[i])
    flip = torch.from_numpy(rng.random(b) < 0.5).to(x.device)
    out[flip] = out[flip].flip(-1)
    return out.clamp(-1, 1)


def load_classifier(path):
    """A train run's ckpt.pt, or a folder that cmd_export wrote (the one in
    the repository: models/attr-classifier)."""
    net = AttrNet()
    if os.path.isdir(path):
        weights = os.path.join(path, WEIGHTS_FILE)
        if not os.path.exists(weights):
            raise FileNotFoundError(weights)
        net.load_state_dict(safetensors_io.load_torch(weights, dtype=torch.float32))
    else:
        ck = load_checkpoint(path)
        if ck is None:
            raise FileNotFoundError(path)
        net.load_state_dict(ck["model"])
    return net.to(device()).eval()


def cmd_export(args):
    """The trained classifier as fp16 safetensors with its validation
    accuracy, so that evaluation uses one instrument across machines (a
    runs folder does not outlive its machine; the repository does)."""
    ck = load_checkpoint(os.path.join(args.run, "ckpt.pt"))
    if ck is None:
        print(f"attr_classifier: no checkpoint in {args.run}", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    safetensors_io.save(os.path.join(args.out, WEIGHTS_FILE), ck["model"], dtype="F16",
                        metadata={"format": "pt", "steps": str(ck["step"])})
    acc = {}
    val = os.path.join(args.run, "val.json")
    if os.path.exists(val):
        with open(val) as f:
            acc = json.load(f)
        with open(os.path.join(args.out, "val.json"), "w") as f:
            json.dump(acc, f, indent=1)
    params = sum(v.numel() for k, v in ck["model"].items() if not k.endswith("num_batches_tracked"))
    L = ["# attr-classifier\n",
         "The instrument of Reverie's model evaluation (`tools/train/evaluate.py`), not a generator: a small CNN",
         "(`AttrNet` in `tools/train/attr_classifier.py`: eight 3×3 conv + batch-norm + ReLU layers, 32 to 192",
         f"channels, mean- and max-pooled into one linear head; {params:,} parameters, fp16 here) that reads a",
         "256×256 image at 128×128 and names scenegen's factors — time of day, weather, terrain, style, sky",
         "colour, main object and its colour — and which objects are present. It is trained on procedural renders",
         "of every split, held-out compositions included (it measures; it is not the model under test), with",
         "blur and noise so that images softened by the autoencoder read like sharp ones.\n",
         f"Trained {ck['step']:,} steps (`attr_classifier.py data` / `train`, their defaults); validation accuracy",
         "on the renders kept out of its training (colours scored only in colour styles; objects_set: every",
         "object's presence right):\n",
         "| " + " | ".join(acc) + " |", "|" + "---|" * len(acc),
         "| " + " | ".join(f"{100 * v:.1f}%" for v in acc.values()) + " |\n",
         "It ships so that every machine scores models with the same weights (a runs folder does not outlive its",
         "machine). `make_model.sh` trains and exports it again when it runs the classifier stages.\n"]
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(L))
    print(f"CLS: exported step {ck['step']} to {args.out}")
    return 0


@torch.no_grad()
def predict(net, images, batch=128):
    """uint8 [B,H,W,3] -> (factor predictions [B,7] as class indices, object probabilities [B,11])."""
    dev = next(net.parameters()).device
    facs, objs = [], []
    for i in range(0, len(images), batch):
        x = to_tensor(downsample(images[i:i + batch])).to(dev)
        logits, obj = net(x)
        facs.append(torch.stack([lg.argmax(1) for lg in logits], 1))
        objs.append(torch.sigmoid(obj))
    return torch.cat(facs).cpu().numpy(), torch.cat(objs).cpu().numpy()


def cmd_train(args):
    setup(seed=13)
    data = ImageShards(args.data)
    labels = np.concatenate([np.load(p.filename.replace(".images.npy", ".labels.npy")) for p in data.images])
    objects = np.concatenate([np.load(p.filename.replace(".images.npy", ".objects.npy")) for p in data.images])
    n_val = args.val
    dev = device()
    net = AttrNet().to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    step = 0
    ck = load_checkpoint(os.path.join(args.run, "ckpt.pt"))
    if ck:
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
    log = Log(os.path.join(args.run, "log.jsonl"))
    rng = np.random.default_rng([14, step])
    t0 = time.time()
    total = args.steps
    while step < total:
        lr = args.lr * 0.5 * (1 + np.cos(np.pi * step / total))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = np.sort(rng.integers(n_val, data.n, args.batch))
        x = augment(to_tensor(data.batch(idx)).to(dev), rng)
        loss = cls_loss(net, x, torch.from_numpy(labels[idx]).to(dev), torch.from_numpy(objects[idx]).to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            log(step=step, loss=loss.item(), lr=lr, img_per_s=round(100 * args.batch / (time.time() - t0), 1))
            t0 = time.time()
        if step % 500 == 0 or step == total:
            save_checkpoint(os.path.join(args.run, "ckpt.pt"), {"model": net.state_dict(), "opt": opt.state_dict(),
                                                                "step": step})
    net.eval()
    val_imgs = data.batch(range(n_val))
    pred, pobj = predict(net, val_imgs)
    acc = accuracy_table(pred, pobj, labels[:n_val], objects[:n_val])
    with open(os.path.join(args.run, "val.json"), "w") as f:
        json.dump(acc, f, indent=1)
    print(json.dumps(acc))
    return 0


def accuracy_table(pred, pobj, labels, objects):
    cm = colour_mask(torch.from_numpy(labels)).numpy()
    out = {}
    for k, name in enumerate(FACTOR_NAMES):
        m = cm if name in ("sky_color", "object_color") else np.ones(len(labels), bool)
        out[name] = float((pred[m, k] == labels[m, k]).mean())
    out["objects_set"] = float(((pobj > 0.5) == (objects > 0)).all(1).mean())
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("data")
    p.add_argument("out")
    p.add_argument("-n", type=int, default=16000)
    p.add_argument("--seed", type=int, default=21)
    p.add_argument("--shard-size", type=int, default=2000)
    p.add_argument("--workers", type=int, default=2)
    p = sub.add_parser("train")
    p.add_argument("--data", default=os.path.join(RUNS, "data", "cls"))
    p.add_argument("--run", default=os.path.join(RUNS, "cls"))
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--val", type=int, default=1000, help="the first N images are the validation set")
    p = sub.add_parser("export")
    p.add_argument("--run", default=os.path.join(RUNS, "cls"))
    p.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    return {"data": cmd_data, "train": cmd_train, "export": cmd_export}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())

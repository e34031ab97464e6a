#!/usr/bin/python3
"""Renders scenegen scenes and encodes them with the trained autoencoder into
latent shards for UNet training, without keeping the images:

    OUT/shard_NNNNN.latents.npy  float16 (N, 4, h, w): raw encoder output (unscaled)
    OUT/shard_NNNNN.labels.npy   int16 (N, 7), OUT/shard_NNNNN.objects.npy (as scenegen)
    OUT/shard_NNNNN.mask.npy     uint8 (N, h, w): the share of each latent pixel's
                                 8x8 image block that the scene's objects cover, 0..255
    OUT/shard_NNNNN.jsonl        {"index", "caption", "attributes", "scene"}
    OUT/meta.json

Item i is scenegen's generate(item_seed(seed, i), size, split), so a shard
can be recomputed exactly; finished shards are kept when a run resumes. Not
the UNet training.

    /usr/bin/python3 tools/train/encode_latents.py OUT --ae RUN/ckpt.pt -n 100000 --size 128
"""

import os

# several torch processes share 2 cores here: spinning OpenMP threads waste
# them (measured 5x slower), so waiting threads sleep (before torch loads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json
import multiprocessing as mp
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import scenegen as sg  # noqa: E402
from reverie_ref import AutoencoderTiny  # noqa: E402
from train import arch  # noqa: E402
from train.common import device, generate_item, load_checkpoint, setup, to_tensor  # noqa: E402


def latent_mask(mask, factor=arch.LATENT_FACTOR):
    """Image-resolution object mask (float, 0..1) -> uint8 [h/f, w/f]: the
    covered share of each latent pixel's block, 0..255."""
    h, w = mask.shape
    share = mask.reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    return np.round(share * 255).astype(np.uint8)


def _render(args):
    seed, idx, size, split = args
    img, cap, attrs, mask = generate_item(seed, idx, size, split, with_mask=True)
    scene = attrs.pop("scene")
    return (idx, img, sg.label_vector(attrs), sg.objects_multi_hot(attrs),
            json.dumps({"index": idx, "caption": cap, "attributes": attrs, "scene": scene}, sort_keys=True),
            latent_mask(mask))


def load_ae(path, scaling_factor=None):
    """The autoencoder of a train_ae.py checkpoint; scaling_factor (the
    pipelines' latents = encode(x) * scaling_factor) goes into its config."""
    ck = load_checkpoint(path)
    if ck is None:
        raise FileNotFoundError(path)
    cfg = dict(ck["config"])
    if scaling_factor is not None:
        cfg["scaling_factor"] = scaling_factor
    ae = AutoencoderTiny(cfg)
    ae.load_state_dict(ck["model"])
    return ae.eval()


@torch.no_grad()
def encode_images(ae, images, batch=64):
    dev = next(ae.parameters()).device
    out = []
    for i in range(0, len(images), batch):
        out.append(ae.encode(to_tensor(images[i:i + batch]).to(dev)).half().cpu().numpy())
    return np.concatenate(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--ae", required=True, help="autoencoder checkpoint (train_ae.py's ckpt.pt)")
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="train")
    ap.add_argument("--shard-size", type=int, default=4096)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    setup()
    ae = load_ae(args.ae).to(device())
    os.makedirs(args.out, exist_ok=True)
    meta = {"count": args.n, "size": args.size, "seed": args.seed, "split": args.split,
            "shard_size": args.shard_size, "factors": {k: list(v) for k, v in sg.FACTORS.items()},
            "objects": list(sg.OBJECTS), "ae": os.path.abspath(args.ae)}
    meta_path = os.path.join(args.out, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            old = json.load(f)
        if "scaling_factor" in old:
            meta["scaling_factor"], meta["latent_mean"] = old["scaling_factor"], old["latent_mean"]
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    pool = mp.get_context("fork").Pool(args.workers)
    for shard, start in enumerate(range(0, args.n, args.shard_size)):
        stem = os.path.join(args.out, f"shard_{shard:05d}")
        if all(os.path.exists(f"{stem}.{s}") for s in ("latents.npy", "labels.npy", "objects.npy", "mask.npy",
                                                        "jsonl")):
            continue
        t0 = time.time()
        count = min(args.shard_size, args.n - start)
        jobs = [(args.seed, start + j, args.size, args.split) for j in range(count)]
        rows = sorted(pool.map(_render, jobs, chunksize=32), key=lambda r: r[0])
        t1 = time.time()
        lat = encode_images(ae, np.stack([r[1] for r in rows]))
        for suffix, arr in (("latents", lat), ("labels", np.stack([r[2] for r in rows]).astype(np.int16)),
                            ("objects", np.stack([r[3] for r in rows]).astype(np.uint8)),
                            ("mask", np.stack([r[5] for r in rows]))):
            np.save(f"{stem}.{suffix}.tmp.npy", arr)
            os.replace(f"{stem}.{suffix}.tmp.npy", f"{stem}.{suffix}.npy")
        with open(stem + ".jsonl.tmp", "w") as f:
            f.write("\n".join(r[4] for r in rows) + "\n")
        os.replace(stem + ".jsonl.tmp", stem + ".jsonl")
        if "scaling_factor" not in meta:
            # unit-variance pipeline latents, as SD's 0.18215 does for its VAE
            meta["scaling_factor"] = round(float(1.0 / lat.astype(np.float32).std()), 4)
            meta["latent_mean"] = round(float(lat.astype(np.float32).mean()), 4)
            with open(os.path.join(args.out, "meta.json"), "w") as f:
                json.dump(meta, f, indent=1)
        print(f"LATENTS: shard {shard} ({count} items): render {t1 - t0:.0f}s, encode {time.time() - t1:.0f}s",
              flush=True)
    pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

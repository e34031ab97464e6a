#!/usr/bin/python3
"""Carries a training run between machines that each live for a bounded
time (a GPU lent per call): `pack` writes what later stages read -- slim
checkpoints (EMA or final weights, configs, step; no optimizer state), the
tokenizer, logs, previews, data meta files, eval records -- as a tar split in
parts of at most --part-mb MiB; `unpack` restores it into a runs folder.
A stage resumed from a slim checkpoint starts its optimizer afresh (use
train_teacher.py --init for a teacher); finished stages only need the slim
weights. Shards (images, latents, pairs) are left out: they are rebuilt
deterministically from their seeds.

    handoff.py pack RUNS OUT/handoff.tar --part-mb 15 [--skip teacher16 student32] [--no-weights teacher32a]
    handoff.py unpack OUT/handoff.tar.* --runs RUNS
"""

import argparse
import glob
import io
import os
import sys
import tarfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from train.common import load_checkpoint  # noqa: E402

# checkpoint keys only a resumed optimizer needs (the raw, non-EMA weights and the optimizer)
DROP = {"opt", "te", "unet"}
KEEP_WHOLE = ("ae", "ae-decoder", "cls")   # small: their "model" is the final weights
SMALL = (".json", ".jsonl", ".txt", ".png", ".log", ".md")


def slim(ck, name):
    drop = {"opt"} if name in KEEP_WHOLE else DROP
    out = {k: v for k, v in ck.items() if k not in drop}
    out["slim"] = True
    return out


def members(runs, skip=(), no_weights=()):
    """(archive name, bytes) for everything a later stage reads (run folders
    in no_weights: their logs and previews without the checkpoint)."""
    for root, dirs, files in os.walk(runs):
        top = os.path.relpath(root, runs) == "."
        dirs[:] = sorted(d for d in dirs if d != "teacher-folder" and not (top and d in skip))
        rel = os.path.relpath(root, runs)
        for fn in sorted(files):
            path = os.path.join(root, fn)
            arc = os.path.normpath(os.path.join(rel, fn))
            if fn == "ckpt.pt":
                if rel.split(os.sep)[0] in no_weights:
                    continue
                ck = load_checkpoint(path)
                buf = io.BytesIO()
                torch.save(slim(ck, os.path.basename(root)), buf)
                yield arc, buf.getvalue()
            elif fn.endswith(SMALL) and not fn.startswith("shard_") or fn == "finished" or rel.startswith("tokenizer"):
                with open(path, "rb") as f:
                    yield arc, f.read()


def cmd_pack(args):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for arc, data in members(args.runs, set(args.skip), set(args.no_weights)):
            info = tarfile.TarInfo(arc)
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    part = args.part_mb << 20
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    n = 0
    for i in range(0, len(data), part):
        with open(f"{args.out}.{n:02d}", "wb") as f:
            f.write(data[i:i + part])
        n += 1
    print(f"HANDOFF: {len(data) / 1e6:.1f} MB in {n} part(s) {args.out}.NN")
    return 0


def cmd_unpack(args):
    parts = sorted(p for pat in args.parts for p in glob.glob(pat))
    if not parts:
        print("handoff: no parts", file=sys.stderr)
        return 1
    data = b"".join(open(p, "rb").read() for p in parts)
    os.makedirs(args.runs, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        for m in tar.getmembers():
            if m.name.startswith("/") or ".." in m.name.split("/"):
                raise ValueError(f"handoff: unsafe path {m.name!r}")
        tar.extractall(args.runs)
    print(f"HANDOFF: {len(data) / 1e6:.1f} MB from {len(parts)} part(s) into {args.runs}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("runs")
    p.add_argument("out", help="path prefix of the parts (OUT.00, OUT.01, ...)")
    p.add_argument("--part-mb", type=int, default=15)
    p.add_argument("--skip", nargs="*", default=[], help="run folders to leave out (e.g. teacher16 once teacher32 exists)")
    p.add_argument("--no-weights", nargs="*", default=[],
                   help="run folders to carry without their checkpoint (logs for the model card)")
    p = sub.add_parser("unpack")
    p.add_argument("parts", nargs="+")
    p.add_argument("--runs", required=True)
    args = ap.parse_args(argv)
    return cmd_pack(args) if args.cmd == "pack" else cmd_unpack(args)


if __name__ == "__main__":
    sys.exit(main())

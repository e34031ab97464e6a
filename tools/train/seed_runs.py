#!/usr/bin/python3
"""Seeds a runs folder from a diffusers folder that export.py wrote (the
shipped model by default), so that training can go on from the weights in
the repository when the runs that made them are gone (a new machine):

    RUNS/tokenizer/               the folder's tokenizer files
    RUNS/ae/ckpt.pt               its AutoencoderTiny as a train_ae.py checkpoint
    RUNS/ae-decoder/ckpt.pt       the same (the shipped decoder on its encoder)
    RUNS/shipped/ckpt.pt          its text encoder and UNet as a teacher/student
                                  checkpoint (weights and EMA alike, step 0),
                                  for train_teacher.py / distill.py --init
    RUNS/teacher/ckpt.pt          the multi-step teacher (models/reverie-tiny-teacher)
                                  in the same form, for distill.py --teacher
    RUNS/stages.json              the model card's training history (model_card.py
                                  keeps it in the model folder)

The attribute classifier needs no seeding: evaluate.py reads its folder
(models/attr-classifier). The folders' fp16 weights become fp32; nothing
else changes, so latents encoded by RUNS/ae match the shipped decoder's.
Existing files are kept unless --force. Not training.

    /usr/bin/python3 tools/train/seed_runs.py /work/train-runs [--model models/reverie-tiny]
"""

import argparse
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from reverie_ref.diffusers_folder import load_model, read_json  # noqa: E402
from train.common import REPO, save_checkpoint  # noqa: E402

TOKENIZER_FILES = ("vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json")


def seed(model_dir, runs, force=False, teacher_dir=None):
    """Writes the files above; returns the paths written."""
    written = []

    def want(path):
        return force or not os.path.exists(path)

    tok = os.path.join(runs, "tokenizer")
    if want(os.path.join(tok, "merges.txt")):
        os.makedirs(tok, exist_ok=True)
        for fn in TOKENIZER_FILES:
            shutil.copyfile(os.path.join(model_dir, "tokenizer", fn), os.path.join(tok, fn))
        written.append(tok)
    vae_cfg = read_json(os.path.join(model_dir, "vae", "config.json"))
    for name in ("ae", "ae-decoder"):
        path = os.path.join(runs, name, "ckpt.pt")
        if want(path):
            ae = load_model(os.path.join(model_dir, "vae"))
            save_checkpoint(path, {"model": ae.state_dict(), "step": 0, "elapsed": 0.0, "config": vae_cfg,
                                   "phase": "seeded", "seeded_from": os.path.abspath(model_dir)})
            written.append(path)
    path = os.path.join(runs, "stages.json")
    if os.path.exists(os.path.join(model_dir, "stages.json")) and want(path):
        shutil.copyfile(os.path.join(model_dir, "stages.json"), path)
        written.append(path)
    path = os.path.join(runs, "shipped", "ckpt.pt")
    if want(path):
        _seed_denoiser(model_dir, path)
        written.append(path)
    if teacher_dir and os.path.isdir(teacher_dir):
        path = os.path.join(runs, "teacher", "ckpt.pt")
        if want(path):
            _seed_denoiser(teacher_dir, path)
            written.append(path)
    return written


def _seed_denoiser(model_dir, path):
    """A diffusers folder's text encoder and UNet as a train_teacher.py /
    distill.py checkpoint (weights and EMA alike, step 0)."""
    te = load_model(os.path.join(model_dir, "text_encoder"))
    unet = load_model(os.path.join(model_dir, "unet"))
    te_sd, unet_sd = te.state_dict(), unet.state_dict()
    save_checkpoint(path, {
        "te": te_sd, "unet": unet_sd, "ema_te": te_sd, "ema_unet": unet_sd, "step": 0, "elapsed": 0.0,
        "te_config": read_json(os.path.join(model_dir, "text_encoder", "config.json")),
        "unet_config": read_json(os.path.join(model_dir, "unet", "config.json")),
        "scaling_factor": read_json(os.path.join(model_dir, "vae", "config.json"))["scaling_factor"],
        "seeded_from": os.path.abspath(model_dir)})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs")
    ap.add_argument("--model", default=os.path.join(REPO, "models", "reverie-tiny"))
    ap.add_argument("--teacher", default=os.path.join(REPO, "models", "reverie-tiny-teacher"),
                    help="the teacher's diffusers folder (skipped when absent)")
    ap.add_argument("--force", action="store_true", help="overwrite files already there")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    for p in seed(args.model, args.runs, args.force, args.teacher):
        print(f"SEED: {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

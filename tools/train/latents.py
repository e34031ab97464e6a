"""Latent shards (encode_latents.py's output) in memory, caption sampling
with scenegen's phrasing variety, tokenisation, and the noise schedule shared
by the teacher and the distillation. Not the models.
"""

import glob
import json
import os

import numpy as np
import torch

import scenegen as sg
from reverie_ref.schedulers import make_betas
from reverie_ref.tokenizer import CLIPTokenizer

from . import arch


class LatentSet:
    """All latents of a folder as one float16 array [N, C, h, w], with their
    scene dicts and attribute labels."""

    def __init__(self, folder, limit=None):
        paths = sorted(glob.glob(os.path.join(folder, "shard_*.latents.npy")))
        if not paths:
            raise FileNotFoundError(f"{folder}: no shard_*.latents.npy")
        lats, scenes, labels, objects = [], [], [], []
        for p in paths:
            stem = p[:-len(".latents.npy")]
            if not os.path.exists(stem + ".jsonl"):
                continue
            lats.append(np.load(p))
            labels.append(np.load(stem + ".labels.npy"))
            objects.append(np.load(stem + ".objects.npy"))
            with open(stem + ".jsonl") as f:
                scenes.extend(json.loads(line)["scene"] for line in f if line.strip())
            if limit and sum(len(a) for a in lats) >= limit:
                break
        self.latents = np.concatenate(lats)[:limit]
        self.labels = np.concatenate(labels)[:limit]
        self.objects = np.concatenate(objects)[:limit]
        self.scenes = scenes[:len(self.latents)]
        self.n = len(self.latents)
        with open(os.path.join(folder, "meta.json")) as f:
            self.meta = json.load(f)


class Captioner:
    """Token ids for scenes, with a fresh phrasing per draw; '' for dropped captions."""

    def __init__(self, tokenizer_dir, seed=0):
        self.tok = CLIPTokenizer.from_folder(tokenizer_dir)
        self.rng = np.random.default_rng(seed)
        self.empty = self.tok("")
        self.cache = {}

    def _tok(self, text):
        """Token ids, memoised: captions recur, and BPE on the host is the
        slowest part of preparing a batch."""
        ids = self.cache.get(text)
        if ids is None:
            if len(self.cache) > 500000:
                self.cache.clear()
            ids = self.cache[text] = self.tok(text)
        return ids

    def ids(self, texts):
        return torch.tensor([self._tok(t) for t in texts], dtype=torch.long)

    def captions(self, scenes):
        return [sg.make_caption(s, self.rng) for s in scenes]

    def batch(self, scenes, drop=0.0):
        caps = self.captions(scenes)
        ids = [self.empty if self.rng.random() < drop else self._tok(c) for c in caps]
        return torch.tensor(ids, dtype=torch.long), caps


def alphas_cumprod():
    cfg = arch.scheduler_config()
    return torch.cumprod(1.0 - make_betas(cfg), dim=0)


def v_target(x0, eps, a):
    """v = sqrt(a) eps - sqrt(1-a) x0 (a: alphas_cumprod at t, broadcastable)."""
    return a.sqrt() * eps - (1 - a).sqrt() * x0


def x0_from_v(xt, v, a):
    return a.sqrt() * xt - (1 - a).sqrt() * v


def eps_from_v(xt, v, a):
    return (1 - a).sqrt() * xt + a.sqrt() * v

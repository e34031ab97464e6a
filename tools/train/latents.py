"""Latent shards (encode_latents.py's output) in memory, caption sampling
with scenegen's phrasing variety, tokenisation, training batches drawn on the
training device, and the noise schedule shared by the teacher and the
distillation. Not the models.
"""

import glob
import hashlib
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
    scene dicts and attribute labels, and the objects' masks (uint8 [N, h, w],
    encode_latents.py) when every shard has them, else None."""

    def __init__(self, folder, limit=None):
        paths = sorted(glob.glob(os.path.join(folder, "shard_*.latents.npy")))
        if not paths:
            raise FileNotFoundError(f"{folder}: no shard_*.latents.npy")
        lats, scenes, labels, objects, masks = [], [], [], [], []
        for p in paths:
            stem = p[:-len(".latents.npy")]
            if not os.path.exists(stem + ".jsonl"):
                continue
            lats.append(np.load(p))
            labels.append(np.load(stem + ".labels.npy"))
            objects.append(np.load(stem + ".objects.npy"))
            masks.append(np.load(stem + ".mask.npy") if os.path.exists(stem + ".mask.npy") else None)
            with open(stem + ".jsonl") as f:
                scenes.extend(json.loads(line)["scene"] for line in f if line.strip())
            if limit and sum(len(a) for a in lats) >= limit:
                break
        self.latents = np.concatenate(lats)[:limit]
        self.labels = np.concatenate(labels)[:limit]
        self.objects = np.concatenate(objects)[:limit]
        self.masks = None if any(m is None for m in masks) else np.concatenate(masks)[:limit]
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


def _table_chunk(job):
    tokenizer_dir, scenes, phrasings, seed = job
    cap = Captioner(tokenizer_dir, seed=seed)
    out = np.empty((len(scenes), phrasings, cap.tok.max_length), np.int32)
    for i, s in enumerate(scenes):
        out[i] = [cap.tok(c) for c in cap.captions([s] * phrasings)]
    return out


def caption_table(scenes, tokenizer_dir, phrasings, seed=0, workers=None, cache=None):
    """Token ids of `phrasings` captions per scene, drawn by scenegen's
    caption grammar: int32 [N, phrasings, 77]. Made once per training run
    (about 40 us a caption on one core, spread over `workers` processes) so
    that batches need no host work; saved to `cache` (a .npy path, named by
    the caller with the tokenizer's hash) and read from it when it is there.
    Deterministic for a given seed, chunking and scene list."""
    if cache and os.path.exists(cache):
        table = np.load(cache)
        if table.shape[:2] == (len(scenes), phrasings):
            return table
    chunk = 2048
    jobs = [(tokenizer_dir, scenes[i:i + chunk], phrasings, [seed, i]) for i in range(0, len(scenes), chunk)]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp
        with mp.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_table_chunk, jobs)
    else:
        parts = [_table_chunk(j) for j in jobs]
    table = np.concatenate(parts) if parts else np.zeros((0, phrasings, 77), np.int32)
    if cache:
        tmp = cache + ".tmp.npy"
        np.save(tmp, table)
        os.replace(tmp, cache)
    return table


def tokenizer_digest(tokenizer_dir):
    """Short hash of a tokenizer folder's vocabulary and merges (names caption tables)."""
    h = hashlib.sha256()
    for name in ("vocab.json", "merges.txt"):
        with open(os.path.join(tokenizer_dir, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:12]


class DeviceBatches:
    """Training batches drawn where the model trains: the latents (float16)
    and a caption table (caption_table) live on the device, and each batch is
    a handful of tensor ops there (random rows, a random phrasing per row,
    horizontal flips, caption dropout to the empty prompt), so a step costs
    the host nothing but kernel launches and never waits on it. Draws come
    from a generator seeded with (seed, step), so a resumed run draws anew.

    get() -> (x0 float32 [B, C, h, w] times `scale`, ids int64 [B, 77],
    mask float32 [B, 1, h, w] in 0..1, flipped with its latent; None when no
    `masks` (uint8 [N, h, w], LatentSet.masks) were given)."""

    def __init__(self, latents, table, empty_ids, dev, batch, scale=1.0, drop=0.0, flip=False, seed=0, step=0,
                 masks=None):
        if len(latents) != len(table):
            raise ValueError(f"{len(latents)} latents but {len(table)} caption rows")
        if masks is not None and (len(masks) != len(latents) or tuple(masks.shape[1:]) != tuple(latents.shape[2:])):
            raise ValueError(f"masks {tuple(masks.shape)} do not match latents {tuple(latents.shape)}")
        self.lat = torch.from_numpy(np.ascontiguousarray(latents)).to(dev)
        self.mask = None if masks is None else torch.from_numpy(np.ascontiguousarray(masks)).to(dev)
        self.tab = torch.from_numpy(np.ascontiguousarray(table, dtype=np.int32)).to(dev)
        self.empty = torch.tensor(empty_ids, dtype=torch.long, device=dev)
        self.n, self.k = self.tab.shape[0], self.tab.shape[1]
        self.dev, self.batch, self.scale, self.drop, self.flip = dev, batch, scale, drop, flip
        self.gen = torch.Generator(device=dev)
        self.gen.manual_seed(int(seed) * 1000003 + int(step))

    def _rand(self, *shape):
        return torch.rand(shape, device=self.dev, generator=self.gen)

    def get(self):
        b = self.batch
        idx = torch.randint(0, self.n, (b,), device=self.dev, generator=self.gen)
        x0 = self.lat[idx].float() * self.scale
        mask = None if self.mask is None else self.mask[idx].unsqueeze(1).float() / 255.0
        if self.flip:  # captions never say left or right
            flip = (self._rand(b) < 0.5).view(b, 1, 1, 1)
            x0 = torch.where(flip, x0.flip(-1), x0)
            if mask is not None:
                mask = torch.where(flip, mask.flip(-1), mask)
        k = torch.randint(0, self.k, (b,), device=self.dev, generator=self.gen)
        ids = self.tab[idx, k].long()
        if self.drop > 0:
            ids = torch.where((self._rand(b) < self.drop).view(b, 1), self.empty.view(1, -1), ids)
        return x0, ids, mask


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

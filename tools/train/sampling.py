"""Sampling helpers for training-time previews and evaluation: load the
parts of a run, generate with reverie_ref's pipeline (the same code path as
the shipped folder), and fixed preview prompts (train-split scenes and
held-out compositions). Not training.
"""

import numpy as np
import torch

import scenegen as sg
from reverie_ref.pipeline import text_to_image
from reverie_ref.schedulers import make_scheduler

from . import arch


def preview_scenes(n_train=4, n_heldout=4, seed=12345):
    scenes = [sg.sample_scene(seed + i, "train") for i in range(n_train)]
    combos = sg.heldout_combinations()
    for i in range(n_heldout):
        combo = combos[(i * 5) % len(combos)]
        scenes.append(sg.sample_scene(seed + 100 + i, "heldout", **sg.fixed_for(combo)))
    return scenes


@torch.no_grad()
def generate(unet, text_encoder, decoder, ids, noise, steps, guidance=1.0, scheduler_class="EulerDiscreteScheduler",
             negative_ids=None, step_noises=None):
    sched = make_scheduler(arch.scheduler_config(scheduler_class))
    if guidance > 1 and negative_ids is None:
        raise ValueError("guidance needs negative_ids")
    dev = next(unet.parameters()).device
    ids, noise = ids.to(dev), noise.to(dev)
    negative_ids = None if negative_ids is None else negative_ids.to(dev)
    step_noises = None if step_noises is None else [z.to(dev) for z in step_noises]
    return text_to_image(unet, text_encoder, sched, decoder, ids, noise, steps, guidance_scale=guidance,
                         negative_ids=negative_ids, step_noises=step_noises)


def noise_for(seeds, shape):
    """Deterministic standard normal noise per seed."""
    return torch.stack([torch.from_numpy(np.random.default_rng([int(s), 0x401]).standard_normal(shape)).float()
                        for s in seeds])

"""Plumbing shared by the training scripts: paths, threads, atomic
checkpoints that survive a kill at any moment, JSON-lines logs, PNG grids,
image shard reading. Not models or losses.
"""

import glob
import json
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
REPO = os.path.dirname(TOOLS)
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

RUNS = os.environ.get("REVERIE_RUNS", "/work/train-runs")


def setup(threads=None, seed=0):
    torch.set_num_threads(threads or int(os.environ.get("REVERIE_THREADS", "2")))
    torch.manual_seed(seed)
    np.random.seed(seed)
    if device().type == "cuda":
        # TF32 matmuls and convolutions: these models are trained from
        # scratch, so 10-bit mantissas in the products cost nothing measurable
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def device():
    """Where the scripts train: REVERIE_TORCH_DEVICE if set, else the first
    CUDA device when there is one, else the CPU."""
    name = os.environ.get("REVERIE_TORCH_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_device(t, dev):
    """Host tensor -> dev without stalling the host: a copy from pageable
    memory waits for the GPU's queue to drain (it is staged in stream order),
    which serialises batch preparation with the previous step's kernels;
    from pinned memory it is queued and the host goes on."""
    if dev.type == "cuda":
        return t.pin_memory().to(dev, non_blocking=True)
    return t.to(dev)


def adamw(params, lr, weight_decay, betas=(0.9, 0.999)):
    """AdamW; on CUDA its fused form (one kernel for all parameters, where
    the foreach form launches several per step and the plain one several per
    tensor) when this torch has it."""
    if device().type == "cuda":
        try:
            return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas, fused=True)
        except (TypeError, RuntimeError):  # torch < 2.0
            pass
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas)


def fast_module(module):
    """The callable a training loop runs `module` through. Opt-in speed-ups
    for CUDA, to be chosen by measurement (tools/train/bench_step.py):
    REVERIE_CHANNELS_LAST=1 stores conv weights NHWC (cuDNN's tensor-core
    layout; the module itself is changed, its state_dict is not), and
    REVERIE_COMPILE=1 wraps it in torch.compile (the wrapper shares the
    module's parameters: checkpoints and EMA keep using the module)."""
    if device().type != "cuda":
        return module
    if os.environ.get("REVERIE_CHANNELS_LAST") == "1":
        module.to(memory_format=torch.channels_last)
    if os.environ.get("REVERIE_COMPILE") == "1" and hasattr(torch, "compile"):
        return torch.compile(module)
    return module


def align_optimizer_state(opt):
    """Gives every optimizer state tensor its parameter's memory layout: a
    state loaded from a checkpoint is contiguous, and after fast_module a
    parameter may be channels-last; the fused and foreach optimizers walk
    tensors as flat arrays, so mismatched layouts would pair the wrong
    elements."""
    for group in opt.param_groups:
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    opt.state[p][k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


def autocast():
    """bf16 autocast for training forward passes on CUDA (REVERIE_AMP=0 turns
    it off; on CPUs it is off: Debian's torch is slower in bf16 there).
    Norms, softmax and losses stay in float32 under autocast's rules."""
    dev = device()
    on = dev.type == "cuda" and os.environ.get("REVERIE_AMP", "1") == "1"
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=on)


def cosine_lr(step, progress, peak, warm, floor):
    """Linear warm-up over `warm` steps, then a cosine from peak to
    floor * peak as progress (0..1) runs out."""
    if step < warm:
        return peak * (step + 1) / warm
    p = min(1.0, max(0.0, progress))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


class Clock:
    """A run's length: `steps`, or `seconds` of training time when given
    (whichever ends first), so a run can be sized to a machine lent for a
    fixed time. Elapsed training time is kept in the checkpoint, so a
    resumed run continues the same schedule; `stop_after` ends one process
    early (a run spread over several calls of a lent machine), checkpointed
    and resumable, without changing the schedule."""

    def __init__(self, steps, seconds=None, elapsed=0.0, warm=0, stop_after=None):
        self.steps, self.seconds, self.warm = steps, seconds, warm
        self.before = elapsed
        self.t0 = time.time()
        self.stop_after = stop_after  # this process's share, in seconds: the schedule still spans `seconds`

    def finished(self, step):
        """The whole run is done (not only this process's share)."""
        return step >= self.steps or (self.seconds is not None and self.elapsed() >= self.seconds)

    def elapsed(self):
        return self.before + time.time() - self.t0

    def progress(self, step):
        """Fraction of the decay phase done (after the warm-up steps)."""
        p = (step - self.warm) / max(1, self.steps - self.warm)
        if self.seconds:
            p = max(p, self.elapsed() / self.seconds)
        return p

    def done(self, step):
        """Stop this process: the run is finished, or this process has used its share."""
        return self.finished(step) or (self.stop_after is not None and time.time() - self.t0 >= self.stop_after)


def save_checkpoint(path, obj):
    """Write to a temporary name then rename: a kill leaves the old file or the new one."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path):
    if not os.path.exists(path):
        return None
    try:  # our own files: they hold configs and numpy scalars beside the tensors
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # torch < 1.13 has no weights_only
        return torch.load(path, map_location="cpu")


def hardware():
    """What a run trains on, for its log and the model card."""
    dev = device()
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} (PyTorch {torch.__version__})"
    n = torch.get_num_threads()
    return f"CPU, {n} thread{'' if n == 1 else 's'} (PyTorch {torch.__version__})"


class Log:
    """Appends one JSON object per line; prints a short human line too. The
    first record of each start says where the run trains."""

    def __init__(self, path, start=True):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path
        self.t0 = time.time()
        if start:
            with open(self.path, "a") as f:
                f.write(json.dumps({"event": "start", "hardware": hardware(), "time": round(time.time(), 1)}) + "\n")

    def __call__(self, **rec):
        rec.setdefault("time", round(time.time(), 1))
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()
                       if k != "time"), flush=True)


def to_uint8(x):
    """[B,3,H,W] in [-1,1] -> [B,H,W,3] uint8."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def to_tensor(images):
    """uint8 [B,H,W,3] -> float [B,3,H,W] in [-1,1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1)


def save_grid(path, images, cols=8):
    import scenegen as sg
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    sg.save_png(path, sg.contact_sheet(images, cols=cols))


class ImageShards:
    """Random access over scenegen .npy image shards (memory-mapped)."""

    def __init__(self, folder):
        self.images = [np.load(p, mmap_mode="r") for p in sorted(glob.glob(os.path.join(folder, "shard_*.images.npy")))]
        if not self.images:
            raise FileNotFoundError(f"{folder}: no shard_*.images.npy")
        self.sizes = np.array([len(a) for a in self.images])
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])
        self.n = int(self.offsets[-1])

    def get(self, idx):
        s = int(np.searchsorted(self.offsets, idx, side="right") - 1)
        return self.images[s][idx - self.offsets[s]]

    def batch(self, idxs):
        return np.stack([self.get(int(i)) for i in idxs])


def generate_item(base_seed, index, size, split, with_mask=False):
    """scenegen.generate for dataset item `index`; if scenegen fails on that
    scene (rare layout corner cases raise), the item is redrawn from the next
    seed stream, deterministically, so shards stay reproducible."""
    import scenegen as sg
    for k in range(8):
        try:
            return sg.generate(sg.item_seed(base_seed + 7777 * k, index), size, split, with_mask=with_mask)
        except (IndexError, ValueError):
            continue
    raise RuntimeError(f"scenegen failed on item {index} of seed {base_seed} eight times")

"""The frame loop of Reverie's streaming engine (issue 18) in PyTorch, exactly as
notes/FRAMES_SPEC.md states it: prompt blends (linear, per-row slerp), the
scene noise's seed slerp, strength -> schedule, camera warp, anchor, denoise
(pipeline.text_to_image / image_to_image), decode, warp-only frames. It is the
reference the C engine's loop is golden-tested against
(tools/make_frame_goldens.py). Not a player: no timing, no similarity filter,
no stream batch, no frames in flight.

Real-valued frame parameters (weights, seed_mix, strength, zoom, pan, rotate,
anchor weight) are taken as the float32 values a C frame description holds,
widened to float64; coefficients are computed in float64 and applied as the
tensors' dtype (float32, or float64 for a cross-check run).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from . import noise as rnoise
from .pipeline import decode_latents, encode_prompt, image_to_image, text_to_image, to_uint8
from .schedulers import LCMScheduler, make_scheduler

SLERP_LINEAR_ABOVE = 0.9995  # |cos| above this: slerp falls back to linear coefficients
MAX_PROMPTS = 4
MAX_SCHEDULE = 1000
BLEND_MODES = ("linear", "slerp")


def f32(x):
    """A parameter as the float32 a C description holds, widened to float64."""
    return float(np.float32(x))


# ---------------------------------------------------------------- slerp


def slerp_coefficients(cos, t):
    """(ca, cb) in float64 for a clamped cosine and a fraction t."""
    if abs(cos) > SLERP_LINEAR_ABOVE:
        return 1.0 - t, t
    th = math.acos(cos)
    s = math.sin(th)
    return math.sin((1.0 - t) * th) / s, math.sin(t * th) / s


def cosine(a, b):
    """cos of the angle between two flat tensors, in float64 (0 if either norm
    is 0), clamped to [-1, 1]."""
    a64, b64 = a.double().reshape(-1), b.double().reshape(-1)
    na, nb = math.sqrt(float((a64 * a64).sum())), math.sqrt(float((b64 * b64).sum()))
    if na == 0 or nb == 0:
        return 0.0
    return min(1.0, max(-1.0, float((a64 * b64).sum()) / (na * nb)))


def slerp(a, b, t, per_row=False):
    """Spherical interpolation from a (t = 0) to b (t = 1).
    per_row=False: one angle over the whole flattened tensors (the scene
    noise); per_row=True: each row of the last dimension separately (the 77
    token rows of a prompt embedding). Coefficients in float64, applied in
    a's dtype: out = ca * a + cb * b."""
    if a.shape != b.shape:
        raise ValueError(f"slerp: shapes {list(a.shape)} and {list(b.shape)} differ")
    t = f32(t)
    rows_a = a.reshape(-1, a.shape[-1]) if per_row else a.reshape(1, -1)
    rows_b = b.reshape(rows_a.shape)
    ca = torch.empty(rows_a.shape[0], 1, dtype=torch.float64)
    cb = torch.empty_like(ca)
    for r in range(rows_a.shape[0]):
        ca[r, 0], cb[r, 0] = slerp_coefficients(cosine(rows_a[r], rows_b[r]), t)
    out = ca.to(a.dtype) * rows_a + cb.to(a.dtype) * rows_b
    return out.reshape(a.shape)


# ---------------------------------------------------------------- conditioning


def blend_coefficients(weights, mode):
    """Checks a blend and returns its float64 coefficients: linear
    [w_i / W]; slerp [t] with t = w_1 / (w_0 + w_1)."""
    if mode not in BLEND_MODES:
        raise ValueError(f"blend mode {mode!r} is not one of {BLEND_MODES}")
    n = len(weights)
    if not 1 <= n <= MAX_PROMPTS:
        raise ValueError(f"a frame has 1..{MAX_PROMPTS} prompts, not {n}")
    w = [f32(x) for x in weights]
    if any(not math.isfinite(x) or x < 0 for x in w):
        raise ValueError(f"prompt weights must be finite and >= 0, got {list(weights)}")
    total = math.fsum(w)
    if not total > 0:
        raise ValueError("prompt weights sum to 0")
    if mode == "slerp":
        if n != 2:
            raise ValueError(f"slerp blends exactly 2 prompts, not {n}")
        return [w[1] / (w[0] + w[1])]
    return [x / total for x in w]


def blend_embeddings(embs, weights, mode="linear"):
    """embs: list of [.., 77, D] prompt embeddings (same shape), weights >= 0.
    linear: e = sum_i (w_i / W) e_i accumulated in order; slerp (2 prompts):
    per token row from e_0 to e_1 at t = w_1 / (w_0 + w_1)."""
    if len(embs) != len(weights):
        raise ValueError(f"{len(embs)} embeddings but {len(weights)} weights")
    c = blend_coefficients(weights, mode)
    if mode == "slerp":
        return slerp(embs[0], embs[1], c[0], per_row=True)
    dtype = embs[0].dtype
    e = torch.tensor(c[0], dtype=torch.float64).to(dtype) * embs[0]
    for ci, ei in zip(c[1:], embs[1:]):
        e = e + torch.tensor(ci, dtype=torch.float64).to(dtype) * ei
    return e


# ---------------------------------------------------------------- noise


def scene_noise(seed, shape, seed_to=None, seed_mix=0.0, dtype=torch.float32):
    """N(seed) slerped (one angle over the whole latent) toward N(seed_to) by
    seed_mix; seed_mix == 0 is N(seed) exactly."""
    n = torch.from_numpy(rnoise.latent_noise(seed, shape)).to(dtype)
    mix = f32(seed_mix)
    if not (math.isfinite(mix) and 0.0 <= mix <= 1.0):
        raise ValueError(f"seed_mix {seed_mix} is not in [0, 1]")
    if mix == 0.0:
        return n
    if seed_to is None:
        raise ValueError("seed_mix > 0 needs seed_to")
    m = torch.from_numpy(rnoise.latent_noise(seed_to, shape)).to(dtype)
    return slerp(n, m, mix)


def step_noises(seed, shape, first, num_steps, dtype=torch.float32):
    """LCM: the noise added by each step run but the last: step index i (the
    absolute index in the N-step schedule, as gen's RV_NOISE_STREAM_STEP)
    draws stream stream_step(i) of `seed`."""
    return [torch.from_numpy(rnoise.latent_noise(seed, shape, rnoise.stream_step(i))).to(dtype)
            for i in range(first, num_steps - 1)]


# ---------------------------------------------------------------- schedule


def schedule_for(steps, strength):
    """(N, first): the scheduler runs set_timesteps(N) and steps first..N-1
    (`steps` of them). strength 1: (steps, 0). Otherwise N is the smallest
    integer >= steps with floor(N * s) >= steps (s the float32 strength
    widened) and first = N - floor(N * s), diffusers' img2img start."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    s = f32(strength)
    if not (math.isfinite(s) and 0.0 < s <= 1.0):
        raise ValueError(f"strength {strength} is not in (0, 1]")
    k = int(steps)
    if s == 1.0:
        if k > MAX_SCHEDULE:
            raise ValueError(f"{k} steps: more than {MAX_SCHEDULE}")
        return k, 0
    n = k
    while math.floor(n * s) < k:
        n += 1
        if n > MAX_SCHEDULE:
            raise ValueError(f"strength {s} with {k} steps needs a schedule longer than {MAX_SCHEDULE} steps")
    return n, n - math.floor(n * s)


# ---------------------------------------------------------------- motion


def is_identity(zoom=1.0, pan_x=0.0, pan_y=0.0, rotate_deg=0.0):
    return f32(zoom) == 1.0 and f32(pan_x) == 0.0 and f32(pan_y) == 0.0 and f32(rotate_deg) == 0.0


def warp_coefficients(w, h, zoom=1.0, pan_x=0.0, pan_y=0.0, rotate_deg=0.0):
    """float32 (m00, m01, m10, m11) of M^-1 and (ox, oy) with q = M^-1 p + o,
    computed in float64: M = z R(th), t = (pan_x w, pan_y h), c = (w/2, h/2),
    o = c - M^-1 (c + t)."""
    z, px, py, r = f32(zoom), f32(pan_x), f32(pan_y), f32(rotate_deg)
    if not (math.isfinite(z) and z > 0):
        raise ValueError(f"zoom {zoom} must be finite and > 0")
    if not all(math.isfinite(v) for v in (px, py, r)):
        raise ValueError("pan and rotation must be finite")
    th = r * math.pi / 180.0
    c, s = math.cos(th), math.sin(th)
    m = (c / z, s / z, -s / z, c / z)
    cx, cy = w / 2.0, h / 2.0
    tx, ty = px * w, py * h
    ox = cx - (m[0] * (cx + tx) + m[1] * (cy + ty))
    oy = cy - (m[2] * (cx + tx) + m[3] * (cy + ty))
    return np.array(m, np.float32), np.array((ox, oy), np.float32)


def warp(latent, zoom=1.0, pan_x=0.0, pan_y=0.0, rotate_deg=0.0):
    """Camera motion of a [B, C, h, w] latent: bilinear resampling at
    q = M^-1 p + o (pixel centres, replicate border), evaluated in the
    latent's dtype with float32 coefficients, via grid_sample. The identity
    motion returns the latent itself."""
    if is_identity(zoom, pan_x, pan_y, rotate_deg):
        return latent
    b, _, h, w = latent.shape
    m, o = warp_coefficients(w, h, zoom, pan_x, pan_y, rotate_deg)
    dt = latent.dtype
    m, o = torch.from_numpy(m).to(dt), torch.from_numpy(o).to(dt)
    py, px = torch.meshgrid(torch.arange(h, dtype=dt) + 0.5, torch.arange(w, dtype=dt) + 0.5, indexing="ij")
    qx = m[0] * px + m[1] * py + o[0]
    qy = m[2] * px + m[3] * py + o[1]
    grid = torch.stack(((qx / w) * 2 - 1, (qy / h) * 2 - 1), dim=-1)[None].expand(b, h, w, 2)
    return F.grid_sample(latent, grid, mode="bilinear", padding_mode="border", align_corners=False)


def apply_anchor(latent, anchor, weight):
    """(1 - a) * latent + a * anchor; a == 0 returns latent unchanged."""
    a = f32(weight)
    if not (math.isfinite(a) and 0.0 <= a <= 1.0):
        raise ValueError(f"anchor weight {weight} is not in [0, 1]")
    if a == 0.0:
        return latent
    if anchor is None:
        raise ValueError("anchor weight > 0 but no anchor latent")
    if anchor.shape != latent.shape:
        raise ValueError(f"anchor shape {list(anchor.shape)} is not the latent's {list(latent.shape)}")
    dt = latent.dtype
    return torch.tensor(1.0 - a, dtype=torch.float64).to(dt) * latent + \
        torch.tensor(a, dtype=torch.float64).to(dt) * anchor.to(dt)


def move(latent, desc, anchor=None):
    """The frame's warp then its anchor."""
    y = warp(latent, desc.get("zoom", 1.0), desc.get("pan_x", 0.0), desc.get("pan_y", 0.0),
             desc.get("rotate", 0.0))
    return apply_anchor(y, anchor, desc.get("anchor_weight", 0.0))


# ---------------------------------------------------------------- frames


def frame_decoder(pipe):
    """The frame loop decodes with TAESD when the model has one."""
    return pipe["vae_tiny"] if pipe.get("vae_tiny") is not None else pipe["vae"]


class PromptCache:
    """Each distinct prompt (by token ids) is encoded once."""

    def __init__(self, text_encoder, tokenizer=None):
        self.text_encoder, self.tokenizer, self.embeds, self.runs = text_encoder, tokenizer, {}, 0

    def ids(self, prompt):
        if prompt.get("ids") is not None:
            return list(prompt["ids"])
        if self.tokenizer is None:
            raise ValueError("a prompt without ids needs a tokenizer")
        return self.tokenizer(prompt["text"])

    @torch.no_grad()
    def get(self, prompt):
        key = tuple(self.ids(prompt))
        if key not in self.embeds:
            self.embeds[key] = encode_prompt(self.text_encoder, torch.tensor([key]))
            self.runs += 1
        return self.embeds[key]


def latent_shape(pipe):
    """[1, C, s, s] at the UNet's native sample_size."""
    unet = pipe["unet"]
    s = unet.config["sample_size"]
    return (1, unet.config["in_channels"], s, s)


@torch.no_grad()
def frame(pipe, desc, prev=None, anchor=None, cache=None, shape=None, decoder="default"):
    """One frame. pipe: load_pipeline's dict (unet, text_encoder,
    scheduler_config, vae / vae_tiny, tokenizer). desc: a frame description
    (see make_frame_goldens.py / frames.json): prompts [{text, ids, weight}],
    blend, negative, guidance_scale, seed, seed_to, seed_mix, strength, steps,
    zoom, pan_x, pan_y, rotate, anchor_weight, warp_only. prev: x[k-1];
    anchor: the anchor latent. Returns dict(latents, image (uint8 [1,H,W,3] or
    None), image_float, embeds, noise, init, schedule (N, first), timesteps)."""
    unet = pipe["unet"]
    dtype = next(unet.parameters()).dtype
    dec = frame_decoder(pipe) if decoder == "default" else decoder
    out = {"embeds": None, "noise": None, "init": None, "schedule": None, "timesteps": []}
    if desc.get("warp_only"):
        if prev is None:
            raise ValueError("a warp-only frame needs the previous latent")
        x = move(prev.to(dtype), desc, anchor)
        out["init"] = x
    else:
        shape = tuple(shape or (prev.shape if prev is not None else latent_shape(pipe)))
        prompts = desc.get("prompts") or []
        cache = cache or PromptCache(pipe["text_encoder"], pipe.get("tokenizer"))
        embs = [cache.get(p).to(dtype) for p in prompts]
        e = blend_embeddings(embs, [p.get("weight", 1.0) for p in prompts], desc.get("blend", "linear"))
        n = scene_noise(desc["seed"], shape, desc.get("seed_to"), desc.get("seed_mix", 0.0), dtype)
        steps, strength = desc["steps"], desc.get("strength", 1.0)
        num, first = schedule_for(steps, strength)
        sched = make_scheduler(pipe["scheduler_config"])
        noises = step_noises(desc["seed"], shape, first, num, dtype) if isinstance(sched, LCMScheduler) else None
        gs = float(desc.get("guidance_scale", 0.0))
        neg = None
        if gs > 1:
            neg_prompt = desc.get("negative") or {"text": ""}
            neg = torch.tensor([cache.ids(neg_prompt)])
        if first == 0 and f32(strength) == 1.0:
            res = text_to_image(unet, pipe["text_encoder"], sched, None, None, n, num, guidance_scale=gs,
                                negative_ids=neg, step_noises=noises, prompt_embeds=e)
        else:
            if prev is None:
                raise ValueError("strength < 1 needs the previous latent")
            y = move(prev.to(dtype), desc, anchor)
            out["init"] = y
            res = image_to_image(unet, pipe["text_encoder"], sched, None, None, y, n, num, f32(strength),
                                 guidance_scale=gs, negative_ids=neg, step_noises=noises, prompt_embeds=e)
            assert res["first_step"] == first
        x = res["latents"]
        out.update(embeds=e, noise=n, schedule=(num, first),
                   timesteps=[float(t) for t in sched.timesteps[first:]])
    out["latents"] = x
    out["image_float"] = decode_latents(dec, x) if dec is not None else None
    out["image"] = to_uint8(out["image_float"]) if dec is not None else None
    return out


def run_frames(pipe, descs, shape=None, decoder="default"):
    """A sequence: frame k gets x[k-1] and, when desc['anchor_frame'] is set,
    that frame's latent as anchor. Returns the list of frame() results."""
    cache = PromptCache(pipe["text_encoder"], pipe.get("tokenizer"))
    results = []
    for k, d in enumerate(descs):
        prev = results[-1]["latents"] if results else None
        af = d.get("anchor_frame")
        if af is not None and not 0 <= af < k:
            raise ValueError(f"frame {k}: anchor_frame {af} is not an earlier frame")
        anchor = results[af]["latents"] if af is not None else None
        results.append(frame(pipe, d, prev, anchor, cache, shape, decoder))
    return results

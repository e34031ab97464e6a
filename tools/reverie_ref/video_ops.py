"""The seed's video operations on the frame loop (issue 20), exactly as
notes/VIDEO_OPS_SPEC.md states them: an RGBA8/RGB8 image encoded to a
pipeline latent (TAESD or VAE encoder), extend-from-image (the frame loop
started from that latent) and fill-between-keyframes (N in-betweens, each an
img2img frame from a whole-latent slerp of the two encoded keyframes). It is
the reference the C engine is golden-tested against
(tools/make_video_op_goldens.py). Not image loading or resizing (the image is
already the stream's size), not colour coherence, not a player.
"""

import math

import numpy as np
import torch

from . import frames
from .autoencoder_kl import AutoencoderKL
from .autoencoder_tiny import AutoencoderTiny

TWO_OVER_255 = np.float32(2.0 / 255.0)


def image_to_unit(image):
    """uint8 [H, W, 3|4] (alpha ignored) -> float32 [1, 3, H, W] in [-1, 1],
    computed as the spec says: (float32)v * (2.0f / 255.0f) - 1.0f."""
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"an image is uint8 [H, W, 3 or 4], not {a.dtype} {list(a.shape)}")
    rgb = np.ascontiguousarray(a[:, :, :3].transpose(2, 0, 1)).astype(np.float32)
    x = rgb * TWO_OVER_255  # float32 * float32, rounded
    x = x - np.float32(1.0)  # then the float32 subtraction
    return torch.from_numpy(x[None])


def encoder_of(pipe, encoder="default"):
    """The encoder used: the stream's decoder kind (TAESD when the model has
    one, else the VAE) for "default"; a component name ("vae_tiny", "vae")
    or an autoencoder module otherwise."""
    if encoder == "default":
        return frames.frame_decoder(pipe)
    if isinstance(encoder, str):
        if pipe.get(encoder) is None:
            raise ValueError(f"the model has no {encoder} component")
        return pipe[encoder]
    return encoder


@torch.no_grad()
def encode_image(pipe, image, encoder="default", shape=None):
    """uint8 [H, W, 3|4] numpy image -> pipeline latent [1, C, h, w] in the
    UNet's dtype. TAESD: encoder(x) * scaling_factor; VAE: (posterior mean -
    shift_factor) * scaling_factor. shape: the latent shape the stream needs
    (default: the UNet's native size); the image must be exactly
    (h * f, w * f) pixels, f the encoder's scale factor."""
    enc = encoder_of(pipe, encoder)
    if not isinstance(enc, (AutoencoderTiny, AutoencoderKL)):
        raise ValueError(f"no image encoder: {type(enc).__name__}")
    shape = tuple(shape or frames.latent_shape(pipe))
    f = enc.scale_factor
    a = np.asarray(image)
    want = (shape[2] * f, shape[3] * f)
    if a.ndim != 3 or tuple(a.shape[:2]) != want:
        raise ValueError(f"the image is {list(a.shape[:2])} (H, W) pixels, but the stream needs {list(want)}")
    dtype = next(pipe["unet"].parameters()).dtype
    x = image_to_unit(a).to(dtype)
    lat = enc.scale_latents(enc.encode(x))
    if tuple(lat.shape) != shape:
        raise ValueError(f"the encoder made a {list(lat.shape)} latent, not {list(shape)}")
    return lat


def extend(pipe, image, descs, encoder="default", shape=None):
    """Extend from an image: x[-1] = encode(image), then the frames of descs
    run as frames.run_frames does, frame 0 taking x[-1] as its previous
    latent (anchor_frame k >= 0 names an earlier frame of this clip). The
    decoder is the encoder's kind. Returns dict(encoded, frames (the list of
    frames.frame results))."""
    enc = encoder_of(pipe, encoder)
    x = encode_image(pipe, image, enc, shape)
    cache = frames.PromptCache(pipe["text_encoder"], pipe.get("tokenizer"))
    results = []
    for k, d in enumerate(descs):
        prev = results[-1]["latents"] if results else x
        af = d.get("anchor_frame")
        if af is not None and not 0 <= af < k:
            raise ValueError(f"frame {k}: anchor_frame {af} is not an earlier frame")
        anchor = results[af]["latents"] if af is not None else None
        results.append(frames.frame(pipe, d, prev, anchor, cache, x.shape, enc))
    return {"encoded": x, "frames": results}


def fill_t(i, n):
    """t of in-between i (1..n) of n: i / (n + 1) in float64."""
    return i / (n + 1)


def fill_init(la, lb, t):
    """slerp(la, lb, t) over the whole flattened latent with a float64 t (not
    rounded to float32): coefficients in float64 (frames.slerp_coefficients),
    then as the latent's dtype, init = ca * la + cb * lb (each product
    rounded, then the sum)."""
    if la.shape != lb.shape:
        raise ValueError(f"keyframe latents {list(la.shape)} and {list(lb.shape)} differ")
    t = float(t)
    if not (math.isfinite(t) and 0.0 <= t <= 1.0):
        raise ValueError(f"t {t} is not in [0, 1]")
    ca, cb = frames.slerp_coefficients(frames.cosine(la, lb), t)
    dt = la.dtype
    return torch.tensor(ca, dtype=torch.float64).to(dt) * la + torch.tensor(cb, dtype=torch.float64).to(dt) * lb


def fill_desc(prompt, seed, strength, steps):
    """The frame description of an in-between: one prompt, no motion, no
    anchor, no guidance."""
    return {"prompts": [dict(prompt, weight=prompt.get("weight", 1.0))], "blend": "linear", "negative": None,
            "guidance_scale": 0.0, "seed": seed, "seed_to": None, "seed_mix": 0.0, "strength": strength,
            "steps": steps, "zoom": 1.0, "pan_x": 0.0, "pan_y": 0.0, "rotate": 0.0, "anchor_weight": 0.0,
            "anchor_frame": None, "warp_only": False}


def fill(pipe, image_a, image_b, n, prompt, seed, strength, steps, encoder="default", shape=None):
    """Fill n frames between keyframes A and B: la, lb = encode(A), encode(B);
    in-between i = 1..n starts from init = slerp(la, lb, i / (n + 1)) and is
    an img2img frame (identity motion, no anchor) with the prompt ({text} or
    {text, ids}), seed, strength (< 1) and steps. Returns dict(encoded_a,
    encoded_b, t (list), frames (frames.frame results, each with init))."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the number of in-between frames must be an integer >= 1, got {n!r}")
    if not frames.f32(strength) < 1.0:
        raise ValueError(f"fill needs a strength < 1 (the keyframes' content is kept), got {strength}")
    if isinstance(prompt, str):
        prompt = {"text": prompt}
    enc = encoder_of(pipe, encoder)
    la = encode_image(pipe, image_a, enc, shape)
    lb = encode_image(pipe, image_b, enc, shape)
    cache = frames.PromptCache(pipe["text_encoder"], pipe.get("tokenizer"))
    desc = fill_desc(prompt, seed, strength, steps)
    ts, results = [], []
    for i in range(1, int(n) + 1):
        t = fill_t(i, int(n))
        init = fill_init(la, lb, t)
        ts.append(t)
        results.append(frames.frame(pipe, desc, init, None, cache, la.shape, enc))
    return {"encoded_a": la, "encoded_b": lb, "t": ts, "frames": results}

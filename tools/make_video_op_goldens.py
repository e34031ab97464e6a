#!/usr/bin/python3
"""Goldens for the seed's video operations (issue 20, notes/VIDEO_OPS_SPEC.md):
what tools/reverie_ref/video_ops.py (float32) makes when it extends a clip from
keyframe A and fills 3 frames between keyframes A and B, on the tiny fixture
(tests/fixtures/tiny-sd15: LCM; once with the TAESD encoder/decoder and once
with the VAE's) and on the shipped model (models/reverie-tiny: Euler trailing,
v-prediction, TAESD), with the runtime's seeded noise, so the C engine's
operations can be checked against them. Writes <out>/keyframe_a.png,
keyframe_b.png (only when missing, or with --remake-keyframes; the goldens are
always made from the PNG as read back), video_ops.safetensors and
video_ops.json (every case's parameters, the tensor names, the weights'
sha256, a float32-vs-float64 cross-check). Not a benchmark. Run it again
whenever the semantics or the weights change:

    /usr/bin/python3 tools/make_video_op_goldens.py [--only tiny-sd15|reverie-tiny] [--out-root DIR]
"""

import argparse
import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reverie_ref import frames, video_ops, safetensors_io as st  # noqa: E402
from reverie_ref.diffusers_folder import load_pipeline  # noqa: E402
from reverie_ref.pipeline import decode_latents, to_uint8  # noqa: E402
from make_frame_goldens import weight_hashes, sha256  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROMPT = "a lighthouse on a cliff at sunset"
EXTEND_SEED = 7
EXTEND_STRENGTH = 0.5
EXTEND_STEPS = 1
EXTEND_MOTIONS = [
    {"zoom": 1.0, "pan_x": 0.0, "pan_y": 0.0, "rotate": 0.0},
    {"zoom": 1.05, "pan_x": 0.0, "pan_y": 0.0, "rotate": 0.0},
    {"zoom": 1.0, "pan_x": 0.0, "pan_y": 0.0, "rotate": 3.0},
]
EXTEND_IMAGE_FRAMES = (2,)  # the frames whose decoded images are kept
FILL_N = 3
FILL_SEED = 9
FILL_STRENGTH = 0.3
FILL_STEPS = 1
FP64_EXTEND_FRAME = 1
FP64_FILL_FRAME = 2  # in-between index i (1..N)

MODELS = {
    "tiny-sd15": {
        "model": os.path.join("tests", "fixtures", "tiny-sd15"),
        "out": os.path.join("tests", "fixtures", "tiny-sd15"),
        # kind -> pipeline component used as encoder and decoder
        "coders": {"taesd": "vae_tiny", "vae": "vae"},
        "keyframes": "drawn",
    },
    "reverie-tiny": {
        "model": os.path.join("models", "reverie-tiny"),
        "out": os.path.join("tests", "fixtures", "reverie-tiny"),
        "coders": {"taesd": "vae"},  # the shipped model's vae is its AutoencoderTiny
        "keyframes": "frame_goldens",  # frames 0 and 3 of frames.safetensors, decoded
    },
}
KEYFRAME_FILES = ("keyframe_a.png", "keyframe_b.png")
KEYFRAME_GOLDEN_FRAMES = (0, 3)


def smooth_disk(h, w, cx, cy, r, soft=1.5):
    """Coverage in [0, 1] of an anti-aliased disk (pixel centres)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    d = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
    return np.clip((r - d) / soft + 0.5, 0.0, 1.0)


def smooth_box(h, w, x0, y0, x1, y1, soft=1.5):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    cx = np.clip(np.minimum(x - x0, x1 - x) / soft + 0.5, 0.0, 1.0)
    cy = np.clip(np.minimum(y - y0, y1 - y) / soft + 0.5, 0.0, 1.0)
    return cx * cy


def drawn_keyframes(h, w):
    """Two smooth synthetic pictures (sky gradient, ground, sun, a tower),
    float64 arithmetic only, rounded once to uint8 RGB."""
    y = (np.arange(h, dtype=np.float64)[:, None, None] + 0.5) / h
    x = (np.arange(w, dtype=np.float64)[None, :, None] + 0.5) / w

    def picture(sky_top, sky_bottom, ground, sun, sun_c, tower, tower_x):
        img = np.asarray(sky_top) * (1 - y) + np.asarray(sky_bottom) * y + 0 * x
        g = np.clip((y - 0.62) * h / 1.5 + 0.5, 0.0, 1.0)
        shade = np.asarray(ground) * (1.1 - 0.3 * y) + 0 * x
        img = img * (1 - g) + shade * g
        s = smooth_disk(h, w, sun_c[0] * w, sun_c[1] * h, 0.12 * min(h, w))[:, :, None]
        img = img * (1 - s) + np.asarray(sun) * s
        b = smooth_box(h, w, tower_x * w, 0.3 * h, (tower_x + 0.1) * w, 0.7 * h)[:, :, None]
        img = img * (1 - b) + np.asarray(tower) * b
        return np.clip(np.round(img), 0, 255).astype(np.uint8)

    a = picture((40, 60, 160), (250, 150, 80), (60, 140, 60), (255, 230, 120), (0.7, 0.3), (200, 40, 40), 0.25)
    b = picture((10, 10, 50), (90, 60, 140), (40, 80, 50), (230, 230, 250), (0.3, 0.22), (120, 110, 100), 0.6)
    return a, b


def golden_keyframes(pipe, out_dir):
    """Frames 0 and 3 of the model's frame goldens, decoded by the frame decoder."""
    g = st.load_torch(os.path.join(out_dir, "frames.safetensors"))
    dec = frames.frame_decoder(pipe)
    with torch.no_grad():
        return [to_uint8(decode_latents(dec, g[f"frame{k}.latents"]))[0].numpy() for k in KEYFRAME_GOLDEN_FRAMES]


def read_png(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB") if im.mode not in ("RGB", "RGBA") else im).copy()


def write_png(path, rgb):
    from PIL import Image
    Image.fromarray(rgb, "RGB").save(path, optimize=True)


def keyframes(name, spec, pipe, out_dir, remake):
    shape = frames.latent_shape(pipe)
    f = frames.frame_decoder(pipe).scale_factor
    h, w = shape[2] * f, shape[3] * f
    paths = [os.path.join(out_dir, fn) for fn in KEYFRAME_FILES]
    if remake or not all(os.path.exists(p) for p in paths):
        if spec["keyframes"] == "drawn":
            imgs = drawn_keyframes(h, w)
            source = "drawn by make_video_op_goldens.drawn_keyframes"
        else:
            imgs = golden_keyframes(pipe, os.path.join(REPO, spec["out"]))
            source = "frames.safetensors frame0/frame3 latents decoded"
        for p, im in zip(paths, imgs):
            write_png(p, im)
        print(f"{name}: wrote {', '.join(KEYFRAME_FILES)} ({source})")
    out = [read_png(p) for p in paths]
    for p, im in zip(paths, out):
        if im.shape[:2] != (h, w):
            raise SystemExit(f"{p} is {im.shape[1]}x{im.shape[0]}, the model needs {w}x{h}")
    return out


def prompt(tok, text):
    return {"text": text, "ids": tok(text), "weight": 1.0}


def extend_descs(tok):
    out = []
    for m in EXTEND_MOTIONS:
        d = video_ops.fill_desc(prompt(tok, PROMPT), EXTEND_SEED, EXTEND_STRENGTH, EXTEND_STEPS)
        d.update(m)
        out.append(d)
    return out


def nmse(ref, x):
    ref, x = ref.double(), x.double()
    return float(((x - ref) ** 2).sum() / (ref * ref).sum())


def schedule_json(r):
    return {"num_steps": r["schedule"][0], "first_step": r["schedule"][1], "timesteps": r["timesteps"]}


def warp_json(d, h, w):
    if frames.is_identity(d["zoom"], d["pan_x"], d["pan_y"], d["rotate"]):
        return None
    minv, off = frames.warp_coefficients(w, h, d["zoom"], d["pan_x"], d["pan_y"], d["rotate"])
    return {"minv": [float(v) for v in minv], "offset": [float(v) for v in off]}


def coder_json(pipe, comp):
    m = pipe[comp]
    return {"decoder": comp, "decoder_class": type(m).__name__,
            "scaling_factor": float(m.config["scaling_factor"]),
            "shift_factor": float(m.config.get("shift_factor") or 0.0)}


def model_hashes(model_dir):
    """sha256 of the model's component weights (files in its component folders;
    not the goldens that share the fixture's top folder)."""
    return {rel: h for rel, h in weight_hashes(model_dir).items() if os.sep in rel or "/" in rel}


def to64(pipe):
    return {c: copy.deepcopy(v).to(torch.float64) if isinstance(v, torch.nn.Module) else v for c, v in pipe.items()}


@torch.no_grad()
def make(name, spec, out_root, fp64=True, remake_keyframes=False):
    model_dir = os.path.join(REPO, spec["model"])
    pipe = load_pipeline(model_dir)
    tok = pipe["tokenizer"]
    shape = frames.latent_shape(pipe)
    _, _, h, w = shape
    out_dir = os.path.join(out_root, spec["out"]) if out_root else os.path.join(REPO, spec["out"])
    os.makedirs(out_dir, exist_ok=True)
    img_a, img_b = keyframes(name, spec, pipe, out_dir, remake_keyframes)
    descs = extend_descs(tok)
    fprompt = prompt(tok, PROMPT)
    pipe64 = to64(pipe) if fp64 else None
    tensors, cases, checks = {}, [], []
    for kind, comp in spec["coders"].items():
        coder = coder_json(pipe, comp)
        # ------------------------------------------------ extend
        ext = video_ops.extend(pipe, img_a, descs, comp)
        tensors[f"{kind}.encoded_a"] = ext["encoded"]
        fdocs = []
        for k, (d, r) in enumerate(zip(descs, ext["frames"])):
            outs = {"latents": f"{kind}.extend.frame{k}.latents"}
            tensors[outs["latents"]] = r["latents"]
            if k in EXTEND_IMAGE_FRAMES:
                outs["image"] = f"{kind}.extend.frame{k}.image"
                tensors[outs["image"]] = r["image"]
            fdocs.append(dict({"index": k}, **d, schedule=schedule_json(r), warp=warp_json(d, h, w), outputs=outs))
            print(f"{name} {kind} extend frame {k}: latents mean {float(r['latents'].mean()):+.4f} std "
                  f"{float(r['latents'].std()):.4f} schedule {r['schedule']}")
        cases.append(dict({"name": f"{kind}.extend", "op": "extend"}, **coder, image=KEYFRAME_FILES[0],
                          encoded=f"{kind}.encoded_a", frames=fdocs))
        # ------------------------------------------------ fill
        fil = video_ops.fill(pipe, img_a, img_b, FILL_N, fprompt, FILL_SEED, FILL_STRENGTH, FILL_STEPS, comp)
        assert torch.equal(fil["encoded_a"], ext["encoded"])
        tensors[f"{kind}.encoded_b"] = fil["encoded_b"]
        cos = frames.cosine(fil["encoded_a"], fil["encoded_b"])
        idocs = []
        for i, (t, r) in enumerate(zip(fil["t"], fil["frames"]), start=1):
            outs = {key: f"{kind}.fill.frame{i}.{key}" for key in ("init", "latents", "image")}
            tensors[outs["init"]], tensors[outs["latents"]], tensors[outs["image"]] = \
                r["init"], r["latents"], r["image"]
            ca, cb = frames.slerp_coefficients(cos, t)
            idocs.append({"index": i, "t": t, "slerp": {"cos": cos, "ca": ca, "cb": cb},
                          "schedule": schedule_json(r), "outputs": outs})
            print(f"{name} {kind} fill frame {i} (t {t}): latents mean {float(r['latents'].mean()):+.4f} std "
                  f"{float(r['latents'].std()):.4f} schedule {r['schedule']}")
        cases.append(dict({"name": f"{kind}.fill", "op": "fill"}, **coder, image_a=KEYFRAME_FILES[0],
                          image_b=KEYFRAME_FILES[1], encoded_a=f"{kind}.encoded_a", encoded_b=f"{kind}.encoded_b",
                          n=FILL_N, prompt=fprompt, seed=FILL_SEED, strength=FILL_STRENGTH, steps=FILL_STEPS,
                          frames=idocs))
        # ------------------------------------------------ float64 cross-check (each op in float64 end to end)
        if fp64:
            e64 = video_ops.extend(pipe64, img_a, descs, comp)
            f64 = video_ops.fill(pipe64, img_a, img_b, FILL_N, fprompt, FILL_SEED, FILL_STRENGTH, FILL_STEPS, comp)
            c = {"decoder": comp, "extend_frame": FP64_EXTEND_FRAME, "fill_frame": FP64_FILL_FRAME,
                 "nmse_encoded_a": nmse(e64["encoded"], ext["encoded"]),
                 "nmse_encoded_b": nmse(f64["encoded_b"], fil["encoded_b"]),
                 "extend_nmse_latents": [nmse(a["latents"], b["latents"])
                                         for a, b in zip(e64["frames"], ext["frames"])],
                 "extend_nmse_image_float": [nmse(a["image_float"], b["image_float"])
                                             for a, b in zip(e64["frames"], ext["frames"])],
                 "fill_nmse_init": [nmse(a["init"], b["init"]) for a, b in zip(f64["frames"], fil["frames"])],
                 "fill_nmse_latents": [nmse(a["latents"], b["latents"]) for a, b in zip(f64["frames"], fil["frames"])],
                 "fill_nmse_image_float": [nmse(a["image_float"], b["image_float"])
                                           for a, b in zip(f64["frames"], fil["frames"])]}
            c["extend_frame_nmse_latents"] = c["extend_nmse_latents"][FP64_EXTEND_FRAME]
            c["fill_frame_nmse_latents"] = c["fill_nmse_latents"][FP64_FILL_FRAME - 1]
            checks.append(c)
            print(f"{name} {kind}: float32 vs float64 NMSE: encoded {c['nmse_encoded_a']:.2e}/"
                  f"{c['nmse_encoded_b']:.2e}; extend latents " + " ".join(f"{v:.2e}" for v in c["extend_nmse_latents"])
                  + "; fill latents " + " ".join(f"{v:.2e}" for v in c["fill_nmse_latents"])
                  + "; extend images " + " ".join(f"{v:.2e}" for v in c["extend_nmse_image_float"])
                  + "; fill images " + " ".join(f"{v:.2e}" for v in c["fill_nmse_image_float"]))

    tensors = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
    st.save(os.path.join(out_dir, "video_ops.safetensors"), tensors,
            metadata={"format": "pt", "generator": "tools/make_video_op_goldens.py"})
    meta = {
        "about": "reverie_ref/video_ops.py (float32) per notes/VIDEO_OPS_SPEC.md (issue 20); made by "
                 "tools/make_video_op_goldens.py. Keyframe PNGs (8-bit RGB, alpha 255 when read as RGBA8) are "
                 "encoded as x = (float)v * (2.0f/255.0f) - 1.0f by the case's encoder (the decoder component; "
                 "TAESD: encoder(x) * scaling_factor; VAE: (posterior mean - shift_factor) * scaling_factor) to "
                 "encoded_a / encoded_b. extend: frame 0 takes encoded_a as its previous latent, frame k frame "
                 "k-1's latents (notes/FRAMES_SPEC.md; the frame descriptions are frames.json's). fill: in-between "
                 "i = 1..n starts from init = slerp(encoded_a, encoded_b, t = i/(n+1)) over the whole latent "
                 "(slerp.ca/cb: float64 coefficients, applied as float32) and is an img2img frame with identity "
                 "motion, no anchor, no guidance, the prompt, seed, strength and steps. latents are pipeline "
                 "latents; image: uint8 [1][H][W][3] RGB of the case's decoder, round(clamp(x/2+0.5,0,1)*255). "
                 "Euler/LCM noise as frames.json: scene noise N(seed) (stream 0), LCM step i stream 1+i.",
        "generator": "tools/make_video_op_goldens.py",
        "file": "video_ops.safetensors",
        "model": spec["model"],
        "weights_sha256": model_hashes(model_dir),
        "scheduler": pipe["scheduler_config"].get("_class_name"),
        "prediction_type": pipe["scheduler_config"].get("prediction_type", "epsilon"),
        "latent_shape": list(shape),
        "image_size": {"width": int(img_a.shape[1]), "height": int(img_a.shape[0])},
        "keyframes": {fn: {"width": int(im.shape[1]), "height": int(im.shape[0]), "channels": int(im.shape[2]),
                           "sha256": sha256(os.path.join(out_dir, fn))}
                      for fn, im in zip(KEYFRAME_FILES, (img_a, img_b))},
        "cases": cases,
        "fp64_check": checks or None,
        "tensors": {k: {"dtype": "U8" if v.dtype == torch.uint8 else "F32", "shape": list(v.shape)}
                    for k, v in sorted(tensors.items())},
    }
    with open(os.path.join(out_dir, "video_ops.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    size = os.path.getsize(os.path.join(out_dir, "video_ops.safetensors"))
    print(f"{name}: video_ops.safetensors {size} bytes, {len(tensors)} tensors")
    return meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=sorted(MODELS), action="append")
    ap.add_argument("--out-root", default=None, help="write under this folder instead of the repository")
    ap.add_argument("--no-fp64", action="store_true", help="skip the float64 cross-check")
    ap.add_argument("--remake-keyframes", action="store_true", help="draw/decode the keyframe PNGs again")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    for name in args.only or list(MODELS):
        make(name, MODELS[name], args.out_root, fp64=not args.no_fp64, remake_keyframes=args.remake_keyframes)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Goldens for the frame loop (issue 18, notes/FRAMES_SPEC.md): what
tools/reverie_ref/frames.py (float32) makes over a short scene on the tiny
fixture (tests/fixtures/tiny-sd15: LCM, TAESD + VAE) and on the shipped model
(models/reverie-tiny: Euler trailing, v-prediction, TAESD), with the runtime's
seeded noise, plus standalone warp cases, so the C engine's loop can be
checked against them. Writes <out>/frames.safetensors and <out>/frames.json
(the frame descriptions in plain JSON, the tensor names, the weights' sha256).
Not a benchmark. Run it again whenever the frame semantics or the weights change:

    /usr/bin/python3 tools/make_frame_goldens.py [--only tiny-sd15|reverie-tiny] [--out-root DIR]
"""

import argparse
import copy
import hashlib
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reverie_ref import frames, noise, safetensors_io as st  # noqa: E402
from reverie_ref.diffusers_folder import load_pipeline  # noqa: E402
from reverie_ref.pipeline import decode_latents, to_uint8  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MOTION = {"zoom": 1.05, "pan_x": 0.02, "pan_y": -0.01, "rotate": 2.0}
NO_MOTION = {"zoom": 1.0, "pan_x": 0.0, "pan_y": 0.0, "rotate": 0.0}

MODELS = {
    "tiny-sd15": {
        "model": os.path.join("tests", "fixtures", "tiny-sd15"),
        "out": os.path.join("tests", "fixtures", "tiny-sd15"),
        "prompts": ["a photograph of an astronaut riding a horse", "a red cube on a blue sphere, studio lighting",
                    "a watercolor painting of a lighthouse"],
        "seeds": (42, 43),
        "extra_decoders": {"image_vae": "vae"},
    },
    "reverie-tiny": {
        "model": os.path.join("models", "reverie-tiny"),
        "out": os.path.join("tests", "fixtures", "reverie-tiny"),
        "prompts": ["a red lighthouse on a hill at sunset, watercolor",
                    "a castle by the lake at night with the moon and stars",
                    "a green tower in the mountains in falling snow, cartoon style"],
        "seeds": (7, 8),
        "extra_decoders": {},
    },
}

# standalone warp cases on a small non-square latent (N(0,1), seed WARP_SEED)
WARP_SHAPE = (1, 4, 6, 10)
WARP_SEED = 5
WARP_CASES = {
    "frame_motion": MOTION,
    "zoom_out_rotate": {"zoom": 0.75, "pan_x": 0.0, "pan_y": 0.0, "rotate": -30.0},
    "pan_rotate_90": {"zoom": 1.3, "pan_x": -0.2, "pan_y": 0.15, "rotate": 90.0},
}

IMAGE_FRAMES = (3, 4)  # the frames whose decoded images are kept
FP64_FRAME = 1


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def weight_hashes(folder):
    out = {}
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for fn in sorted(files):
            if fn.endswith(".safetensors") and fn.count(".") == 1:  # not the fp16/bf16 variants
                p = os.path.join(root, fn)
                out[os.path.relpath(p, folder)] = sha256(p)
    return out


def prompt(tok, text, weight):
    return {"text": text, "ids": tok(text), "weight": weight}


def diffusion_frame(prompts, blend, seed, strength, steps, motion, seed_to=None, seed_mix=0.0,
                    anchor_weight=0.0, anchor_frame=None):
    d = {"prompts": prompts, "blend": blend, "negative": None, "guidance_scale": 0.0, "seed": seed,
         "seed_to": seed_to, "seed_mix": seed_mix, "strength": strength, "steps": steps,
         "anchor_weight": anchor_weight, "anchor_frame": anchor_frame, "warp_only": False}
    d.update(motion)
    return d


def scene(tok, texts, seeds):
    """The five frames every model runs (see the module's doc and frames.json)."""
    a, b, c = texts
    s1, s2 = seeds
    warp_only = {"prompts": [], "blend": "linear", "negative": None, "guidance_scale": 0.0, "seed": s1,
                 "seed_to": None, "seed_mix": 0.0, "strength": 0.0, "steps": 0, "anchor_weight": 0.0,
                 "anchor_frame": None, "warp_only": True}
    warp_only.update(NO_MOTION, zoom=1.02)
    return [
        diffusion_frame([prompt(tok, a, 1.0)], "linear", s1, 1.0, 2, NO_MOTION),
        diffusion_frame([prompt(tok, a, 1.0)], "linear", s1, 0.5, 1, MOTION),
        diffusion_frame([prompt(tok, a, 1.0), prompt(tok, b, 1.0)], "slerp", s1, 0.5, 1, MOTION,
                        seed_to=s2, seed_mix=0.3),
        diffusion_frame([prompt(tok, a, 1.0), prompt(tok, b, 2.0), prompt(tok, c, 1.0)], "linear", s1, 0.6, 2,
                        MOTION, anchor_weight=0.2, anchor_frame=0),
        warp_only,
    ]


def nmse(ref, x):
    ref, x = ref.double(), x.double()
    return float(((x - ref) ** 2).sum() / (ref * ref).sum())


def coefficients_json(w, h, m):
    minv, off = frames.warp_coefficients(w, h, m["zoom"], m["pan_x"], m["pan_y"], m["rotate"])
    return {"minv": [float(v) for v in minv], "offset": [float(v) for v in off]}


@torch.no_grad()
def make(name, spec, out_root, fp64=True):
    model_dir = os.path.join(REPO, spec["model"])
    pipe = load_pipeline(model_dir)
    tok = pipe["tokenizer"]
    shape = frames.latent_shape(pipe)
    descs = scene(tok, spec["prompts"], spec["seeds"])
    res = frames.run_frames(pipe, descs, shape)
    tensors, docs = {}, []
    _, _, h, w = shape
    for k, (d, r) in enumerate(zip(descs, res)):
        outs = {"latents": f"frame{k}.latents"}
        tensors[outs["latents"]] = r["latents"]
        if r["init"] is not None and not d["warp_only"]:
            outs["init"] = f"frame{k}.init"
            tensors[outs["init"]] = r["init"]
        if k == 2:
            outs["noise"] = f"frame{k}.noise"
            tensors[outs["noise"]] = r["noise"]
        if len(d["prompts"]) > 1:
            outs["embeds"] = f"frame{k}.embeds"
            tensors[outs["embeds"]] = r["embeds"]
        if k in IMAGE_FRAMES:
            outs["image"] = f"frame{k}.image"
            tensors[outs["image"]] = r["image"]
            for key, comp in spec["extra_decoders"].items():
                outs[key] = f"frame{k}.{key}"
                tensors[outs[key]] = to_uint8(decode_latents(pipe[comp], r["latents"]))
        doc = dict({"index": k}, **d, outputs=outs)
        if r["schedule"] is not None:
            doc["schedule"] = {"num_steps": r["schedule"][0], "first_step": r["schedule"][1],
                               "timesteps": r["timesteps"]}
        motion = {key: d[key] for key in MOTION}
        doc["warp"] = None if frames.is_identity(**_motion_args(motion)) else coefficients_json(w, h, motion)
        docs.append(doc)
        print(f"{name} frame {k}: latents mean {float(r['latents'].mean()):+.4f} std "
              f"{float(r['latents'].std()):.4f}" + (f" schedule {r['schedule']}" if r["schedule"] else ""))

    # standalone warp cases
    x = torch.from_numpy(noise.latent_noise(WARP_SEED, WARP_SHAPE))
    tensors["warp.input"] = x
    warp_docs = []
    for cname, m in WARP_CASES.items():
        tensors[f"warp.{cname}"] = frames.warp(x, **_motion_args(m))
        warp_docs.append(dict(m, name=cname, input="warp.input", output=f"warp.{cname}",
                              **coefficients_json(WARP_SHAPE[3], WARP_SHAPE[2], m)))

    # float32 vs float64 on one img2img frame, from the same x[k-1]
    check = None
    if fp64:
        pipe64 = {c: copy.deepcopy(v).to(torch.float64) if isinstance(v, torch.nn.Module) else v
                  for c, v in pipe.items()}
        k = FP64_FRAME
        r64 = frames.frame(pipe64, descs[k], res[k - 1]["latents"].double(), None, None, shape)
        check = {"frame": k, "nmse_latents": nmse(r64["latents"], res[k]["latents"]),
                 "max_abs_diff_latents": float((r64["latents"] - res[k]["latents"].double()).abs().max()),
                 "max_abs_latents": float(r64["latents"].abs().max()),
                 "nmse_image_float": nmse(r64["image_float"], res[k]["image_float"])}
        print(f"{name}: frame {k} float32 vs float64: NMSE {check['nmse_latents']:.3e} (latents), "
              f"{check['nmse_image_float']:.3e} (decoded)")
        # the whole scene in float64 (its own chain), latents NMSE per frame
        seq64 = frames.run_frames(pipe64, descs, shape)
        check["scene_nmse_latents"] = [nmse(a["latents"], b["latents"]) for a, b in zip(seq64, res)]
        print(f"{name}: scene in float64, latents NMSE per frame: "
              + " ".join(f"{v:.2e}" for v in check["scene_nmse_latents"]))

    out_dir = os.path.join(out_root, spec["out"]) if out_root else os.path.join(REPO, spec["out"])
    os.makedirs(out_dir, exist_ok=True)
    tensors = {k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
    st.save(os.path.join(out_dir, "frames.safetensors"), tensors,
            metadata={"format": "pt", "generator": "tools/make_frame_goldens.py"})
    dec = "vae_tiny" if pipe.get("vae_tiny") is not None else "vae"
    meta = {
        "about": "reverie_ref/frames.py (float32) over a five-frame scene with the runtime's seeded noise, per "
                 "notes/FRAMES_SPEC.md (issue 18); made by tools/make_frame_goldens.py. Frame k starts from "
                 "frame k-1's latents. Real-valued parameters are used as float32 values (widened to float64 "
                 "for coefficients). latents are the pipeline latents (not scaled by the VAE factor). "
                 "image: uint8 [1][H][W][3] RGB of the frame decoder (" + dec + "), "
                 "round(clamp(x/2+0.5,0,1)*255); the RGBA8 frame adds alpha 255. init: the latent after warp "
                 "and anchor, before re-noising (frame 4: the warp-only result). noise: the scene noise after "
                 "the seed slerp. embeds: the blended prompt embedding [1][77][D]. LCM step noise for "
                 "schedule index i is stream 1+i of `seed` (i absolute in the num_steps schedule, as gen).",
        "generator": "tools/make_frame_goldens.py",
        "file": "frames.safetensors",
        "model": spec["model"],
        "weights_sha256": weight_hashes(model_dir),
        "scheduler": pipe["scheduler_config"].get("_class_name"),
        "prediction_type": pipe["scheduler_config"].get("prediction_type", "epsilon"),
        "decoder": dec,
        "latent_shape": list(shape),
        "frames": docs,
        "warp_cases": warp_docs,
        "fp64_check": check,
        "tensors": {k: {"dtype": "U8" if v.dtype == torch.uint8 else "F32", "shape": list(v.shape)}
                    for k, v in sorted(tensors.items())},
    }
    with open(os.path.join(out_dir, "frames.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return meta


def _motion_args(m):
    return {"zoom": m["zoom"], "pan_x": m["pan_x"], "pan_y": m["pan_y"], "rotate_deg": m["rotate"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=sorted(MODELS), action="append")
    ap.add_argument("--out-root", default=None, help="write under this folder instead of the repository")
    ap.add_argument("--no-fp64", action="store_true", help="skip the float64 cross-check")
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    for name in args.only or list(MODELS):
        make(name, MODELS[name], args.out_root, fp64=not args.no_fp64)
    return 0


if __name__ == "__main__":
    sys.exit(main())

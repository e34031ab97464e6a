#!/usr/bin/python3
"""Evaluates a diffusers folder (the shipped model) against its captions:

- attribute accuracy: prompts from scenegen scenes -- every held-out
  composition (split.py) with its combination stated in the prompt, plus
  train-split scenes -- are generated, read back by the attribute classifier
  (attr_classifier.py) and compared with what the prompt states (time and
  weather when stated, terrain, style, sky colour in colour styles, the main
  object, its colour when stated); also the rate at which both values of the
  held-out pair are right. Rows: the real renders of the same scenes, the
  same through the model's autoencoder, the distilled model at 1, 2 and 4
  Euler steps, and the multi-step teacher (25 steps, guidance 4).
- frame stability: a frame's latent is re-noised to strength 0.5 and denoised
  again with the same prompt (2 steps of the 4-step trailing schedule), ten
  times, with the scene's fixed noise and with fresh noise each frame; mean
  absolute pixel change per frame (0..255) and drift from the first frame.

Writes OUT/eval.json and sample grids. Not training.

    evaluate.py --model models/reverie-tiny --teacher models/reverie-tiny-teacher --out RUNS/eval

The classifier is models/attr-classifier (attr_classifier.py export) unless
--cls names another folder or a train run's ckpt.pt.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import scenegen as sg  # noqa: E402
from reverie_ref.diffusers_folder import load_pipeline  # noqa: E402
from reverie_ref.pipeline import image_to_image, text_to_image  # noqa: E402
from reverie_ref.schedulers import make_scheduler  # noqa: E402
from train.attr_classifier import COLOR_STYLES, FACTOR_NAMES, load_classifier, predict  # noqa: E402
from train.common import REPO, RUNS, device, save_grid, setup, to_tensor, to_uint8  # noqa: E402
from train.sampling import noise_for  # noqa: E402

EVAL_SEED = 900000


def _stated_combo(scene, combo, tries=64):
    """A caption of scene that states both values of the held-out combination."""
    for k in range(tries):
        cap = sg.make_caption(scene, np.random.default_rng([scene["seed"], k, 0xE7A]))
        p = sg.parse_caption(cap)
        ok = True
        for f, v in combo.items():
            if f == "color":
                ok &= p["colors"].get(scene["objects"][0]["kind"]) == v
            elif f == "object":
                ok &= v in p["objects"]
            else:
                ok &= p[f] == v
        if ok:
            return cap
    return None


def _renders(scene):
    try:
        return sg.render_scene(scene, 256)
    except (IndexError, ValueError):  # rare scenegen layout failures: the scene is skipped
        return None


def eval_prompts(per_combo=8, n_train=64):
    """([(scene, caption, combo or None)], their renders at 256x256):
    held-out combinations first."""
    out, real = [], []
    for i, combo in enumerate(sg.heldout_combinations()):
        k = 0
        got = 0
        while got < per_combo and k < 50 * per_combo:
            scene = sg.sample_scene(EVAL_SEED + 1000 * i + k, "heldout", **sg.fixed_for(combo))
            k += 1
            cap = _stated_combo(scene, combo)
            img = _renders(scene) if cap is not None else None
            if img is not None:
                out.append((scene, cap, combo))
                real.append(img)
                got += 1
    k, n_held = 0, len(out)
    while len(out) < n_held + n_train and k < 2 * n_train + 10:
        scene = sg.sample_scene(EVAL_SEED + 500000 + k, "train")
        k += 1
        img = _renders(scene)
        if img is not None:
            out.append((scene, sg.make_caption(scene), None))
            real.append(img)
    return out, np.stack(real)


def stated_truth(scene, caption):
    """{factor: true value} for the factors the caption states."""
    p = sg.parse_caption(caption)
    attrs = sg.attributes(scene)
    truth = {"terrain": attrs["terrain"], "style": attrs["style"], "object": attrs["object"]}
    if p["time"] is not None:
        truth["time"] = attrs["time"]
    if p["weather"] is not None:
        truth["weather"] = attrs["weather"]
    if attrs["style"] in COLOR_STYLES:
        truth["sky_color"] = attrs["sky_color"]
    if attrs["object"] != "none" and attrs["object"] in p["colors"]:
        truth["object_color"] = attrs["object_color"]
    return truth


def score(pred, prompts):
    """Attribute accuracy of class predictions [N, 7] against the stated truths."""
    per = {k: [0, 0] for k in FACTOR_NAMES}
    combo_hits = [0, 0]
    split_acc = {"heldout": [0, 0], "train": [0, 0]}
    for row, (scene, cap, combo) in zip(pred, prompts):
        truth = stated_truth(scene, cap)
        got = {k: sg.FACTORS[k][row[FACTOR_NAMES.index(k)]] for k in FACTOR_NAMES}
        for k, v in truth.items():
            per[k][0] += int(got[k] == v)
            per[k][1] += 1
            s = split_acc["heldout" if combo else "train"]
            s[0] += int(got[k] == v)
            s[1] += 1
        if combo:
            ok = all(got["object_color" if f == "color" else f] == v for f, v in combo.items())
            combo_hits[0] += int(ok)
            combo_hits[1] += 1
    total = [sum(v[0] for v in per.values()), sum(v[1] for v in per.values())]
    return {"attribute_accuracy": total[0] / max(1, total[1]),
            "heldout_attribute_accuracy": split_acc["heldout"][0] / max(1, split_acc["heldout"][1]),
            "train_split_attribute_accuracy": split_acc["train"][0] / max(1, split_acc["train"][1]),
            "heldout_pair_accuracy": combo_hits[0] / max(1, combo_hits[1]),
            "per_factor": {k: v[0] / v[1] for k, v in per.items() if v[1]},
            "counts": {"prompts": len(prompts), "attributes": total[1], "heldout_prompts": combo_hits[1]}}


def _scheduler(pipe):
    return make_scheduler(pipe["scheduler_config"])


def _load(folder):
    """A diffusers folder through reverie_ref, its modules on the training device."""
    pipe = load_pipeline(folder)
    for k in ("unet", "text_encoder", "vae"):
        pipe[k] = pipe[k].to(device())
    return pipe


@torch.no_grad()
def generate_all(pipe, prompts, steps, guidance, batch=32, seed=0):
    tok, lat = pipe["tokenizer"], pipe["unet"].config["sample_size"]
    ch = pipe["unet"].config["in_channels"]
    images, latents = [], []
    for b in range(0, len(prompts), batch):
        chunk = prompts[b:b + batch]
        dev = device()
        ids = torch.tensor([tok(c) for _, c, _ in chunk], device=dev)
        neg = torch.tensor([tok("")] * len(chunk), device=dev)
        noise = noise_for([seed * 100003 + b + i for i in range(len(chunk))], (ch, lat, lat)).to(dev)
        out = text_to_image(pipe["unet"], pipe["text_encoder"], _scheduler(pipe), pipe["vae"], ids, noise, steps,
                            guidance_scale=guidance, negative_ids=neg)
        images.append(to_uint8(out["image"]))
        latents.append(out["latents"])
    return np.concatenate(images), torch.cat(latents)


@torch.no_grad()
def stability(pipe, prompts, frames=10, strength=0.5, schedule=4, first_steps=2):
    """Mean |frame_k - frame_k-1| and |frame_k - frame_0| (0..255) over
    re-noise/denoise iterations, with the same noise each frame and with fresh noise."""
    tok, lat = pipe["tokenizer"], pipe["unet"].config["sample_size"]
    ch = pipe["unet"].config["in_channels"]
    dev = device()
    ids = torch.tensor([tok(c) for _, c, _ in prompts], device=dev)
    noise = noise_for(range(len(prompts)), (ch, lat, lat)).to(dev)
    first = text_to_image(pipe["unet"], pipe["text_encoder"], _scheduler(pipe), pipe["vae"], ids, noise,
                          first_steps)
    out = {}
    for mode in ("fixed_noise", "fresh_noise"):
        latents, prev = first["latents"], to_uint8(first["image"]).astype(np.float32)
        img0 = prev
        steps, drift = [], []
        strip = [to_uint8(first["image"][:1])[0]]
        for f in range(frames):
            z = noise if mode == "fixed_noise" else noise_for([10007 * (f + 1) + i for i in range(len(prompts))],
                                                              (ch, lat, lat)).to(dev)
            r = image_to_image(pipe["unet"], pipe["text_encoder"], _scheduler(pipe), pipe["vae"], ids, latents, z,
                               schedule, strength)
            latents = r["latents"]
            cur = to_uint8(r["image"]).astype(np.float32)
            steps.append(float(np.abs(cur - prev).mean()))
            drift.append(float(np.abs(cur - img0).mean()))
            prev = cur
            strip.append(cur[0].astype(np.uint8))
        out[mode] = {"mean_abs_change_per_frame": float(np.mean(steps)), "per_frame": steps,
                     "drift_from_first_after": drift[-1], "strip": strip}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--teacher", default=None, help="teacher diffusers folder (export.py of the teacher run)")
    ap.add_argument("--cls", default=os.path.join(REPO, "models", "attr-classifier"),
                    help="attribute classifier: its folder, or a train run's ckpt.pt")
    ap.add_argument("--out", default=os.path.join(RUNS, "eval"))
    ap.add_argument("--per-combo", type=int, default=8)
    ap.add_argument("--train-scenes", type=int, default=64)
    ap.add_argument("--teacher-steps", type=int, default=25)
    ap.add_argument("--teacher-guidance", type=float, default=4.0)
    ap.add_argument("--samples", default=None, help="also write the model card's samples.png here")
    args = ap.parse_args(argv)
    setup()
    os.makedirs(args.out, exist_ok=True)
    net = load_classifier(args.cls)
    prompts, real = eval_prompts(args.per_combo, args.train_scenes)
    pipe = _load(args.model)
    res = {"model": args.model, "prompts": len(prompts), "rows": {}}
    grids = {}
    t0 = time.time()
    grids["real"] = real
    res["rows"]["real"] = score(predict(net, real)[0], prompts)
    with torch.no_grad():
        ae = pipe["vae"]
        rec = np.concatenate([to_uint8(ae.decode(ae.encode(to_tensor(real[i:i + 32]).to(device()))))
                              for i in range(0, len(real), 32)])
    grids["autoencoder"] = rec
    res["rows"]["real_through_autoencoder"] = score(predict(net, rec)[0], prompts)
    for n in (1, 2, 4):
        imgs, _ = generate_all(pipe, prompts, n, 0.0)
        grids[f"{n}_step"] = imgs
        res["rows"][f"model_{n}_step"] = score(predict(net, imgs)[0], prompts)
        print(f"EVAL: {n} step(s): {res['rows'][f'model_{n}_step']['attribute_accuracy']:.3f}", flush=True)
    if args.teacher:
        tpipe = _load(args.teacher)
        imgs, _ = generate_all(tpipe, prompts, args.teacher_steps, args.teacher_guidance)
        grids["teacher"] = imgs
        res["rows"][f"teacher_{args.teacher_steps}_steps_cfg{args.teacher_guidance:g}"] = score(
            predict(net, imgs)[0], prompts)
    stab = stability(pipe, [p for p in prompts if p[2]][:: max(1, args.per_combo)][:16])
    strips = [np.stack(v.pop("strip")) for v in stab.values()]
    res["stability"] = stab
    res["seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(args.out, "eval.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(args.out, "prompts.txt"), "w") as f:
        f.write("\n".join(c for _, c, _ in prompts) + "\n")
    # sample grid: one column per prompt (every 8th held-out prompt, then train ones), rows per method
    pick = list(range(0, len([p for p in prompts if p[2]]), max(1, args.per_combo)))[:10]
    order = [k for k in ("real", "teacher", "1_step", "2_step", "4_step") if k in grids]
    sheet = np.concatenate([grids[k][pick] for k in order])
    save_grid(os.path.join(args.out, "samples.png"), sheet, cols=len(pick))
    with open(os.path.join(args.out, "samples.txt"), "w") as f:
        f.write(f"rows: {', '.join(order)}\n" + "\n".join(prompts[i][1] for i in pick) + "\n")
    save_grid(os.path.join(args.out, "stability.png"), np.concatenate(strips), cols=strips[0].shape[0])
    if args.samples:
        save_grid(args.samples, sheet, cols=len(pick))
    print(json.dumps({k: v["attribute_accuracy"] for k, v in res["rows"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

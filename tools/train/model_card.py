#!/usr/bin/python3
"""Writes models/reverie-tiny/README.md, the model card, from the run's
records: flops.json and eval.json in the model folder, the training logs and
checkpoints under RUNS. Figures come from those files, never typed in.
Not the evaluation itself.

    model_card.py --model models/reverie-tiny --runs /work/train-runs
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import scenegen as sg  # noqa: E402


def read_log(path):
    recs = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    recs.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return recs


def run_summary(runs, name):
    """(last step, hours between first and last record, last training record,
    hardware: from the log's start records, else RUNS/hardware.json)."""
    allrecs = read_log(os.path.join(runs, name, "log.jsonl"))
    # a log appended to by a run that was later discarded and started over
    # from scratch: the records from the last restart at step <= 100 are this
    # run's (a resume after a kill goes back only to its last checkpoint)
    cut = 0
    for i in range(1, len(allrecs)):
        if "step" in allrecs[i] and allrecs[i]["step"] <= 100 and \
                allrecs[i]["step"] < max((r.get("step", 0) for r in allrecs[cut:i]), default=0):
            cut = i
    while cut > 0 and allrecs[cut - 1].get("event") == "start":
        cut -= 1
    allrecs = allrecs[cut:]
    recs = [r for r in allrecs if "step" in r]
    if not recs:
        return None
    # (older logs wrote "1 threads")
    hw = sorted({r["hardware"].replace("CPU, 1 threads", "CPU, 1 thread")
                 for r in allrecs if r.get("event") == "start" and r.get("hardware")})
    if not hw:
        hw = [meta(os.path.join(runs, "hardware.json")).get(name, "not recorded")]
    times = [r["time"] for r in recs if "time" in r]
    train = [r for r in recs if "loss" in r]
    hours = 0.0
    for a, b in zip(times, times[1:]):
        hours += min(b - a, 1800) / 3600  # gaps over 30 min are pauses between sessions
    step = recs[-1]["step"]
    ck = os.path.join(runs, name, "ckpt.pt")
    if os.path.exists(ck):  # logs are every 50 steps; the checkpoint has the last one
        from train.common import load_checkpoint
        step = load_checkpoint(ck).get("step", step)
    rates = sorted(r["samples_per_s"] for r in train if r.get("samples_per_s"))
    return {"step": step, "hours": hours, "last": train[-1] if train else {}, "hardware": "; ".join(hw),
            "rate": rates[len(rates) // 2] if rates else None}


def meta(path):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def weights_bytes(folder):
    """Bytes of the safetensors files under a diffusers folder."""
    return sum(os.path.getsize(os.path.join(r, fn)) for r, _, fs in os.walk(folder) for fn in fs
               if fn.endswith(".safetensors"))


def pct(x):
    return f"{100 * x:.1f}%"


SAMPLER_NAMES = {"euler": "Euler", "dpm2m": "DPM-Solver++(2M)"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/reverie-tiny")
    ap.add_argument("--runs", default=os.environ.get("REVERIE_RUNS", "/work/train-runs"))
    ap.add_argument("--teacher", default=None, help="the teacher's folder: also write its README.md")
    ap.add_argument("--cls", default=os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "models", "attr-classifier"), help="the classifier's folder (its val.json)")
    args = ap.parse_args(argv)
    fl = meta(os.path.join(args.model, "flops.json"))
    ev = meta(os.path.join(args.model, "eval.json"))
    f = fl.get("flops", {})
    p = fl.get("parameters", {})
    g = {k: v["total"] / 1e9 for k, v in f.items()}
    # RUNS/stages.json, where the teacher was trained in more stages than
    # make_model.sh's (a run continued over sessions on other hardware):
    # {"teacher": [[run folder, stage, what], ...], "teacher_data": [line, ...],
    #  "student_init": what the student started from, where not the teacher,
    #  "recorded": {run folder: "N steps, M min[, rate] | hardware"} for runs whose
    #  logs are gone (made on another machine; the figures copied from the card
    #  of the model they made), "distillation": [[run folder, stage, what], ...]
    #  where the student too was trained in more stages, "ae_data": the
    #  autoencoder's data where RUNS/data no longer holds it, "pairs" and
    #  "cls_val": the distillation pairs' meta.json and the classifier's
    #  val.json where those are gone, "distillation_note": a sentence for the
    #  card's Distillation section}; written back as <model>/stages.json
    history = meta(os.path.join(args.runs, "stages.json"))
    names = ["ae", "ae-decoder", "teacher16", "teacher32a", "teacher32", "student32", "cls"]
    names += [r[0] for r in history.get("teacher", []) + history.get("distillation", []) if r[0] not in names]
    runs = {k: run_summary(args.runs, k) for k in names}
    lat128 = meta(os.path.join(args.runs, "data", "lat128", "meta.json"))
    lat256 = meta(os.path.join(args.runs, "data", "lat256", "meta.json"))
    pairs = meta(os.path.join(args.runs, "pairs32", "meta.json")) or history.get("pairs", {})
    cls_val = (meta(os.path.join(args.runs, "cls", "val.json")) or meta(os.path.join(args.cls, "val.json"))
               or history.get("cls_val", {}))
    weights = weights_bytes(args.model)

    def steps(name):
        r = runs.get(name)
        if not r:
            return history.get("recorded", {}).get(name, "not run | —")
        b = r.get("rate")
        rate = f", median {b:,.0f} samples/s" if b else ""
        return f"{r['step']} steps, {r['hours'] * 60:.1f} min{rate} | {r['hardware']}"

    L = []
    w = L.append
    w("# reverie-tiny\n")
    w("Reverie's own text-to-image model: a few-step distilled latent diffusion model trained from scratch on")
    w("procedural scenes (tools/scenegen) by Reverie's tools (tools/train), in the diffusers folder layout of")
    w("SD-Turbo (CLIP tokenizer and text encoder, UNet2DConditionModel, AutoencoderTiny, Euler scheduler with")
    w("trailing spacing), so the runtime loads it through the same code path as real checkpoints. It draws the")
    w("scenes its captions describe — terrains, buildings, boats, weather, time of day, five drawing styles —")
    w("at 256×256 in 1–4 steps; it knows nothing else.\n")
    rows = ev.get("rows", {})
    s1, s2 = rows.get("model_1_step", {}), rows.get("model_2_step", {})
    if s1 and s2:
        # the targets are on held-out compositions; older eval.json files lack that row
        def acc(r):
            return r.get("heldout_attribute_accuracy", r["attribute_accuracy"])
        ok2, ok1 = acc(s2) >= 0.8, acc(s1) >= 0.7
        ok = ok1 and ok2
        status = ("meets the project's targets" if ok else "below the project's targets" if not ok1 and not ok2
                  else f"meets the project's {'1' if ok1 else '2'}-step target, below its {'2' if ok1 else '1'}-step one")
        teacher = next((v for k, v in rows.items() if k.startswith("teacher")), {})
        w(f"**Status: {status}** (attribute accuracy on held-out "
          f"compositions ≥ 80% at 2 steps and ≥ 70% at 1 step): {pct(acc(s2))} at 2 steps, "
          f"{pct(acc(s1))} at 1 step"
          + (f", its teacher {pct(acc(teacher))}" if teacher else "")
          + (", real renders " + pct(acc(rows["real"])) if "real" in rows else "")
          + f" (all {s2.get('counts', {}).get('prompts', '?')} prompts, held-out and train-split together: "
          + f"{pct(s2['attribute_accuracy'])} at 2 steps and {pct(s1['attribute_accuracy'])} at 1).")
        # which attributes come through at 2 steps and which do not, from the
        # evaluation (the weak ones stay in view when the targets are met)
        real = rows.get("real", {}).get("per_factor", {})
        factors = s2.get("per_factor", {})
        strong = [f.replace("_", " ") for f, v in factors.items() if v >= 0.8]
        weak = [f"{f.replace('_', ' ')} {pct(v)}" + (f" (real renders {pct(real[f])})" if f in real else "")
                for f, v in factors.items() if v < 0.8]
        if strong and weak:
            w(f"At 2 steps {', '.join(strong)} come through (each ≥ 80%); weaker: {', '.join(weak)}.")
        if not ok:
            if teacher and acc(teacher) >= 0.8:
                w("The teacher is past the 2-step target; the student trails it, distilled from few teacher")
                w("samples in short runs (see their times). More pairs and a longer distillation are the fix.")
            else:
                w("The training runs below are short (see their times): the teacher is under-trained, and the")
                w("student can only be as good as its teacher. Rerunning `make_model.sh` with longer budgets is the fix.")
        w("")
    w("![samples](samples.png)\n")
    w("`samples.png`: one column per prompt (held-out compositions), rows: the procedural render of the scene,")
    w("the 25-step teacher, the shipped model at 1, 2 and 4 steps. Prompts are in "
      "`samples.txt`.\n")
    w("    reverie gen --model models/reverie-tiny \"a red lighthouse on a hill at sunset, watercolor\" --steps 2\n")
    if args.teacher and os.path.isdir(args.teacher):
        tname = os.path.basename(os.path.normpath(args.teacher))
        w(f"Its teacher ships beside it as `models/{tname}` (25 steps with guidance 4; see its README).\n")
    w("## Budget and architecture\n")
    w(f"Weights: {weights / 1e6:.2f} MB (fp16 safetensors; budget 16 MB). One 256×256 frame, 1 UNet step + "
      f"decoder: {fl.get('frame_1_step_gflop', float('nan')):.2f} GFLOP (budget 4), counted by `tools/flops.py` "
      f"(conv, linear and attention multiply-adds ×2).\n")
    w("| component | class | config | parameters | GFLOP at 256×256 |")
    w("|---|---|---|---|---|")
    w("| tokenizer | CLIPTokenizer | byte-level BPE fitted to the captions, CLIP rules, 77 tokens | — | — |")
    w(f"| text_encoder | CLIPTextModel | 3 layers, width 128, 4 heads, MLP 512, gelu | {p.get('text_encoder', 0):,} "
      f"| {g.get('text_encoder', 0):.2f} per prompt (cached) |")
    w(f"| unet | UNet2DConditionModel | [32, 64, 128], 1 layer per block, cross-attention at 16×16, 8×8 and mid, "
      f"heads of width 32, linear projections, v-prediction | {p.get('unet', 0):,} | {g.get('unet_step', 0):.2f} per step |")
    w(f"| vae | AutoencoderTiny | 8×, 4 latent channels; encoder width 32 [1,1,1,1], decoder width 16 [3,3,2,1] "
      f"| {p.get('vae', 0):,} | decoder {g.get('decoder', 0):.2f}, encoder {g.get('encoder', 0):.2f} |")
    w("| scheduler | EulerDiscreteScheduler | SD's scaled_linear betas, trailing spacing, v_prediction | — | — |\n")
    w("## Data\n")
    w(f"Procedural scenes from tools/scenegen, train split only: {len(sg.heldout_combinations())} value pairs "
      "(purple lighthouse, campfire by the sea, windmill in cartoon style, city in fog, ...) never appear in "
      "training and are used for evaluation. Captions are redrawn with a new phrasing every time a scene is used.\n")
    a256 = meta(os.path.join(args.runs, "data", "ae256", "meta.json")).get("count", 0)
    a128 = meta(os.path.join(args.runs, "data", "ae128", "meta.json")).get("count", 0)
    data_lines = {"ae": f"{a256:,} renders at 256×256 (128×128 crops) and {a128:,} at 128×128",
                  "teacher": f"{lat128.get('count', 0):,} scenes at 128×128 (16×16 latents), then "
                             f"{lat256.get('count', 0):,} at 256×256 (32×32 latents)"}
    w("- autoencoder: " + history.get("ae_data", data_lines["ae"]))
    scaling = lat256.get("scaling_factor", meta(os.path.join(args.model, "vae", "config.json")).get("scaling_factor"))
    w("- teacher: " + "; ".join(history.get("teacher_data", [data_lines["teacher"]]))
      + f"; latent scaling_factor {scaling if scaling is not None else 'n/a'}")
    w(f"- distillation: {pairs.get('count', 0):,} teacher samples (noise, latent) made with "
      f"{pairs.get('steps', '?')} {SAMPLER_NAMES[pairs.get('sampler', 'euler')]} steps at guidance "
      f"{pairs.get('guidance', '?')}\n")
    w("## Training\n")
    w("Times are wall-clock from the logs (training with its in-loop previews); hardware per stage.\n")
    w("| stage | what | run | hardware |")
    w("|---|---|---|---|")
    w(f"| autoencoder, phase 1 | encoder + a wider decoder: L1 + MSE + image-gradient L1 + gradient-energy "
      f"texture term, latent range penalty | {steps('ae')} |")
    w(f"| autoencoder, phase 2 | the shipped decoder on the frozen encoder | {steps('ae-decoder')} |")
    first = ["teacher16", "teacher, 16×16",
             "text encoder (from scratch) + UNet, v-prediction, min-SNR-5, 10% caption dropout, EMA"]
    if history.get("teacher"):
        teacher = history["teacher"]
    elif runs.get("teacher32a"):
        teacher = [first, ["teacher32a", "teacher, 32×32, part 1", "continued at the shipped resolution"],
                   ["teacher32", "teacher, 32×32, part 2", "continued from part 1's EMA weights with a fresh optimizer"]]
    else:
        teacher = [first, ["teacher32", "teacher, 32×32", "continued at the shipped resolution"]]
    for run, stage, what in teacher:
        w(f"| {stage} | {what} | {steps(run)} |")
    for run, stage, what in history.get("distillation", [["student32", "distillation",
                                                          "student on the teacher's samples (below)"]]):
        w(f"| {stage} | {what} | {steps(run)} |")
    w("")
    w("## Distillation\n")
    w("Knowledge distillation after Luhman & Luhman 2021: the teacher maps noise z to a sample x0*(z) with a")
    w("deterministic many-step sampler and classifier-free guidance; the student, initialised from "
      + history.get("student_init", "the teacher") + ",")
    w("learns that map. To serve Euler's 1–4-step trailing schedules the student is trained on the straight path")
    w("x_t = sqrt(a_t) x0* + sqrt(1 − a_t) z (rectified flow's k-step distillation, Liu et al. 2022): if it")
    w("returns x0* from any point of that path, Euler's update stays on it, so 1, 2 and 4 steps agree, and a")
    w("frame re-noised with the noise that made it is a fixed point — what Reverie's frame loop does. Chosen over")
    w("consistency distillation (two teacher calls and an EMA target per step) and progressive distillation")
    w("(one training round per halving) because the teacher's samples are made once and reused, which is what")
    w("the compute at hand affords. Guidance is baked in: run it with guidance 0 (one UNet call per step),")
    w("like SD-Turbo." + (" " + history["distillation_note"] if history.get("distillation_note") else "") + "\n")
    w("## Evaluation\n")
    if ev:
        rows = ev.get("rows", {})
        cnt = next(iter(rows.values()), {}).get("counts", {})
        w("An attribute classifier (tools/train/attr_classifier.py; validation accuracy on renders: "
          + ", ".join(f"{k} {pct(v)}" for k, v in cls_val.items()) + ") reads what each image shows; "
          f"{cnt.get('prompts', '?')} prompts ({cnt.get('heldout_prompts', '?')} stating a held-out composition, "
          "the rest train-split scenes) are scored on the attributes they state. Pair accuracy: both values of "
          "the held-out pair right.\n")
        w("| images | attribute accuracy | held-out prompts | train-split prompts | held-out pair |")
        w("|---|---|---|---|---|")
        for k, r in rows.items():
            w(f"| {k} | {pct(r['attribute_accuracy'])} | {pct(r['heldout_attribute_accuracy'])} | "
              f"{pct(r['train_split_attribute_accuracy'])} | {pct(r['heldout_pair_accuracy'])} |")
        w("")
        facs = list(next(iter(rows.values()))["per_factor"])
        w("| images | " + " | ".join(facs) + " |")
        w("|---|" + "---|" * len(facs))
        for k, r in rows.items():
            w(f"| {k} | " + " | ".join(pct(r["per_factor"].get(x, 0)) for x in facs) + " |")
        w("")
        st = ev.get("stability", {})
        if st:
            w("Frame stability (16 held-out prompts; 10 rounds of re-noising the last latent to strength 0.5 and")
            w("denoising with the last 2 steps of the 4-step schedule; mean absolute pixel change, 0–255):\n")
            w("| noise each frame | change per frame | drift from the first frame after 10 |")
            w("|---|---|---|")
            for k, v in st.items():
                w(f"| {k.replace('_', ' ')} | {v['mean_abs_change_per_frame']:.2f} | "
                  f"{v['drift_from_first_after']:.2f} |")
            w("")
    else:
        w("Not evaluated yet.\n")
    w("## Limitations\n")
    w("- It only knows scenegen's world: 12 terrains, 11 objects, 5 times of day, 6 weathers, 11 colours, 5 styles,")
    w("  and the caption grammar (tokens outside the 116 caption words fall back to byte symbols the encoder has")
    w("  never been trained on).")
    w("- 256×256 is the trained size (32×32 latents); other sizes work convolutionally but were not trained.")
    w("- The tiny autoencoder blurs fine detail (rain streaks, hatching, lit windows); its texture term gives")
    w("  such regions texture of the right strength, not their exact lines.")
    w("- The student reproduces its teacher's samples; it cannot be more diverse than the pairs it saw.")
    w("- Guidance is baked in; guidance_scale > 1 or negative prompts are not meaningful for this UNet.\n")
    w("## Reproduce\n")
    w("    bash tools/train/make_model.sh     # resumable; see tools/train/README.md")
    w("")
    with open(os.path.join(args.model, "README.md"), "w") as fh:
        fh.write("\n".join(L))
    # the card's history beside it, in stages.json's form: a runs folder does
    # not outlive its machine, so seed_runs.py puts this back as RUNS/stages.json
    # and the next card still lists every stage with its figures
    shown = [r[0] for r in teacher] + [r[0] for r in history.get("distillation", [["student32"]])]
    kept = dict(history)
    kept["recorded"] = dict(history.get("recorded", {}))
    for name in ["ae", "ae-decoder"] + shown:
        if runs.get(name):
            kept["recorded"][name] = steps(name)
    kept["teacher"] = teacher
    kept.setdefault("ae_data", data_lines["ae"])
    kept.setdefault("teacher_data", [data_lines["teacher"]])
    # what this card was made from, not what an older one was
    kept["pairs"] = {k: pairs[k] for k in ("count", "steps", "sampler", "guidance") if k in pairs}
    kept["cls_val"] = cls_val
    with open(os.path.join(args.model, "stages.json"), "w") as fh:
        json.dump(kept, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    if args.teacher and os.path.isdir(args.teacher):
        teacher_card(args, ev, g, [(stage, what, steps(run)) for run, stage, what in teacher])
    return 0


def teacher_card(args, ev, g, stages):
    """<teacher>/README.md: the multi-step teacher that ships beside the
    student, so that distillation can go on without training it again."""
    name = os.path.basename(os.path.normpath(args.teacher))
    student = os.path.basename(os.path.normpath(args.model))
    weights = weights_bytes(args.teacher)
    row_name, row = next(((k, v) for k, v in ev.get("rows", {}).items() if k.startswith("teacher")), (None, None))
    L = []
    w = L.append
    w(f"# {name}\n")
    w(f"The multi-step teacher that `{student}` is distilled from: the same architecture and folder layout")
    w("(CLIP tokenizer and text encoder, UNet2DConditionModel with v-prediction, AutoencoderTiny, Euler")
    w("scheduler), trained by the diffusion loss rather than distilled, so it needs many steps and")
    w("classifier-free guidance. It ships so that a new machine can distil from it without training it again")
    w("(`tools/train/seed_runs.py` turns it back into a checkpoint), and to show what the student aims at.\n")
    w(f"    reverie gen --model models/{name} \"a red lighthouse on a hill at sunset, watercolor\" "
      "--steps 25 --guidance 4\n")
    unet = g.get("unet_step", float("nan"))
    w(f"Weights: {weights / 1e6:.2f} MB (fp16). A 256×256 frame at 25 steps with guidance: 50 UNet calls of "
      f"{unet:.2f} GFLOP and the decoder ({g.get('decoder', float('nan')):.2f}), "
      f"{50 * unet + g.get('decoder', 0):.0f} GFLOP, against the student's "
      f"{unet + g.get('decoder', 0):.2f} for one step.\n")
    if row:
        w(f"Attribute accuracy ({row_name}; the student's card, `models/{student}/README.md`, gives the method "
          f"and the other rows): {pct(row['heldout_attribute_accuracy'])} on held-out compositions, "
          f"{pct(row['attribute_accuracy'])} on all prompts; per attribute "
          + ", ".join(f"{k} {pct(v)}" for k, v in row["per_factor"].items()) + ".\n")
    w("## Training\n")
    w("| stage | what | run | hardware |")
    w("|---|---|---|---|")
    for stage, what, run in stages:
        w(f"| {stage} | {what} | {run} |")
    w("")
    with open(os.path.join(args.teacher, "README.md"), "w") as fh:
        fh.write("\n".join(L))


if __name__ == "__main__":
    sys.exit(main())

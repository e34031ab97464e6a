#!/usr/bin/env bash
# Reproduces models/reverie-tiny from nothing: procedural data, tokenizer,
# autoencoder, teacher (16x16 then 32x32 latents), distilled student, export,
# attribute classifier and evaluation. Every stage resumes from its own
# checkpoints and skips work already done, so after a kill just run it again.
# Not a scheduler: stages run one after another (they share the CPU cores).
#
#   bash tools/train/make_model.sh            # everything (hours on 2 CPU cores)
#   SMOKE=1 bash tools/train/make_model.sh    # tiny sizes, minutes: checks the whole path
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-/usr/bin/python3}
export OMP_WAIT_POLICY=PASSIVE
if [ "${SMOKE:-0}" = 1 ]; then
  RUNS=${REVERIE_RUNS:-/tmp/reverie-smoke}; OUT=${OUT:-$RUNS/model}
  : "${TOK_SCENES:=2000}" "${AE_N256:=256}" "${AE_N128:=256}" "${AE_STEPS:=40}" "${AEDEC_STEPS:=20}" "${LAT128:=512}" "${LAT256:=256}"
  : "${T16_STEPS:=40}" "${T32_STEPS:=20}" "${PAIRS:=64}" "${STUDENT_STEPS:=20}" "${CLS_N:=400}" "${CLS_STEPS:=40}"
  : "${EVAL_PER_COMBO:=1}" "${EVAL_TRAIN:=4}" "${CLS_VAL:=100}" "${BATCH16:=16}" "${BATCH32:=8}"
else
  RUNS=${REVERIE_RUNS:-/work/train-runs}; OUT=${OUT:-models/reverie-tiny}
  : "${TOK_SCENES:=20000}" "${AE_N256:=6144}" "${AE_N128:=4096}" "${AE_STEPS:=4000}" "${AEDEC_STEPS:=3000}" "${LAT128:=60000}"
  : "${LAT256:=20480}" "${T16_STEPS:=8000}" "${T32_STEPS:=3000}" "${PAIRS:=8192}" "${STUDENT_STEPS:=6000}"
  : "${CLS_N:=16000}" "${CLS_STEPS:=4000}" "${EVAL_PER_COMBO:=8}" "${EVAL_TRAIN:=64}" "${CLS_VAL:=1000}" "${BATCH16:=64}" "${BATCH32:=32}"
fi
export REVERIE_RUNS=$RUNS
T=tools/train
stage() { echo "== $* ($(date '+%F %T'))"; }

stage tokenizer
[ -f "$RUNS/tokenizer/merges.txt" ] || $PY $T/fit_tokenizer.py "$RUNS/tokenizer" --scenes "$TOK_SCENES"

stage autoencoder data
$PY tools/make_scenes.py dataset "$RUNS/data/ae256" -n "$AE_N256" --size 256 --seed 101 --split train \
  --workers 2 --shard-size 512
$PY tools/make_scenes.py dataset "$RUNS/data/ae128" -n "$AE_N128" --size 128 --seed 102 --split train \
  --workers 2 --shard-size 1024

stage autoencoder
$PY $T/train_ae.py --run "$RUNS/ae" --steps "$AE_STEPS"
stage shipped decoder on the frozen encoder
$PY $T/train_ae.py --phase decoder --encoder "$RUNS/ae/ckpt.pt" --run "$RUNS/ae-decoder" --steps "$AEDEC_STEPS"

stage latents
$PY $T/encode_latents.py "$RUNS/data/lat128" --ae "$RUNS/ae/ckpt.pt" -n "$LAT128" --size 128 --seed 0
$PY $T/encode_latents.py "$RUNS/data/lat256" --ae "$RUNS/ae/ckpt.pt" -n "$LAT256" --size 256 --seed 1 \
  --shard-size 2048

stage teacher at 16x16 latents
$PY $T/train_teacher.py --run "$RUNS/teacher16" --latents "$RUNS/data/lat128" --steps "$T16_STEPS" \
  --batch "$BATCH16"
stage teacher at 32x32 latents
$PY $T/train_teacher.py --run "$RUNS/teacher32" --latents "$RUNS/data/lat256" --init "$RUNS/teacher16/ckpt.pt" \
  --steps "$T32_STEPS" --batch "$BATCH32" --lr 2e-4

stage distillation pairs
$PY $T/distill.py pairs --teacher "$RUNS/teacher32/ckpt.pt" --out "$RUNS/pairs32" -n "$PAIRS"
stage distillation
$PY $T/distill.py train --teacher "$RUNS/teacher32/ckpt.pt" --pairs "$RUNS/pairs32" --run "$RUNS/student32" \
  --steps "$STUDENT_STEPS" --batch "$BATCH32"

stage export
$PY $T/export.py --unet "$RUNS/student32/ckpt.pt" --ae "$RUNS/ae-decoder/ckpt.pt" --out "$OUT"
$PY $T/export.py --unet "$RUNS/teacher32/ckpt.pt" --ae "$RUNS/ae-decoder/ckpt.pt" --out "$RUNS/teacher-folder"

stage attribute classifier
$PY $T/attr_classifier.py data "$RUNS/data/cls" -n "$CLS_N"
$PY $T/attr_classifier.py train --data "$RUNS/data/cls" --run "$RUNS/cls" --steps "$CLS_STEPS" --val "$CLS_VAL"

stage evaluation
$PY $T/evaluate.py --model "$OUT" --teacher "$RUNS/teacher-folder" --cls "$RUNS/cls/ckpt.pt" --out "$RUNS/eval" \
  --per-combo "$EVAL_PER_COMBO" --train-scenes "$EVAL_TRAIN" --samples "$OUT/samples.png"
cp "$RUNS/eval/eval.json" "$OUT/eval.json"
$PY tools/flops.py "$OUT" --size 256 > "$OUT/flops.json"
$PY $T/model_card.py --model "$OUT" --runs "$RUNS"
stage done

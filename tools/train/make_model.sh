#!/usr/bin/env bash
# Reproduces models/reverie-tiny from nothing: procedural data, tokenizer,
# autoencoder, teacher (16x16 then 32x32 latents), distilled student, export,
# attribute classifier and evaluation. Every stage resumes from its own
# checkpoints and skips work already done, so after a kill just run it again.
#
#   bash tools/train/make_model.sh            # everything
#   SMOKE=1 bash tools/train/make_model.sh    # tiny sizes, minutes: checks the whole path
#   FROM=pairs UNTIL=eval bash tools/train/make_model.sh   # a range of stages (SKIP="a b" leaves some out)
#   REVERIE_RUNS=R FROM=export bash tools/train/make_model.sh  # after GPU training: export, evaluation,
#                                                              # model card, test_shipped's goldens (CPU)
#
# Besides OUT (models/reverie-tiny) it writes the multi-step teacher to
# TEACHER_OUT (OUT-teacher) and the attribute classifier, the evaluation's
# instrument, to CLS_OUT (attr-classifier beside OUT): a runs folder does not
# outlive its machine, and with these seed_runs.py lets a new one go on from
# the teacher (distillation) without training it again. TEACHER: the teacher
# checkpoint the distillation uses (RUNS/teacher32/ckpt.pt; RUNS/teacher/ckpt.pt
# after seed_runs.py). SD_WEIGHT: distill.py's --sd-weight (0).
#
# On a CUDA machine (PyTorch sees a GPU) the training stages run there and are
# sized in seconds of training time (the *_SECONDS knobs) rather than steps,
# rendering uses every core, and the shipped decoder and the attribute
# classifier train beside the teacher. On CPUs it runs the stages one after
# another by step counts (hours on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-/usr/bin/python3}
export OMP_WAIT_POLICY=PASSIVE
if [ -z "${GPU:-}" ]; then
  GPU=$($PY -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)
fi
W=${WORKERS:-$([ "$GPU" = 1 ] && nproc || echo 2)}
if [ "${SMOKE:-0}" = 1 ]; then
  RUNS=${REVERIE_RUNS:-/tmp/reverie-smoke}; OUT=${OUT_MODEL:-$RUNS/model}
  : "${TOK_SCENES:=2000}" "${AE_N256:=256}" "${AE_N128:=256}" "${AE_STEPS:=40}" "${AEDEC_STEPS:=20}" "${LAT128:=512}" "${LAT256:=256}"
  : "${T16_STEPS:=40}" "${T32_STEPS:=20}" "${PAIRS:=64}" "${STUDENT_STEPS:=20}" "${CLS_N:=400}" "${CLS_STEPS:=40}"
  : "${EVAL_PER_COMBO:=1}" "${EVAL_TRAIN:=4}" "${CLS_VAL:=100}" "${BATCH16:=16}" "${BATCH32:=8}" "${PAIR_BATCH:=64}"
else
  RUNS=${REVERIE_RUNS:-/work/train-runs}; OUT=${OUT_MODEL:-models/reverie-tiny}
  : "${TOK_SCENES:=20000}" "${AE_N256:=6144}" "${AE_N128:=4096}" "${AE_STEPS:=4000}" "${LAT128:=60000}" "${LAT256:=20480}"
  : "${CLS_N:=16000}" "${EVAL_PER_COMBO:=8}" "${EVAL_TRAIN:=64}" "${CLS_VAL:=1000}"
  if [ "$GPU" = 1 ]; then
    # steps are caps; the *_SECONDS budgets end the runs and shape their learning-rate schedules
    : "${AEDEC_STEPS:=1000000}" "${T16_STEPS:=1000000}" "${T32_STEPS:=1000000}" "${STUDENT_STEPS:=1000000}"
    : "${AEDEC_SECONDS:=360}" "${T16_SECONDS:=240}" "${T32_SECONDS:=180}" "${STUDENT_SECONDS:=240}"
    : "${PAIRS:=32768}" "${PAIR_BATCH:=1024}" "${CLS_STEPS:=6000}" "${BATCH16:=256}" "${BATCH32:=128}"
    : "${AEDEC_BATCH:=32}" "${CLS_BATCH:=128}"
  else
    : "${AEDEC_STEPS:=3000}" "${T16_STEPS:=8000}" "${T32_STEPS:=3000}" "${STUDENT_STEPS:=6000}"
    : "${PAIRS:=8192}" "${PAIR_BATCH:=64}" "${CLS_STEPS:=4000}" "${BATCH16:=64}" "${BATCH32:=32}"
  fi
fi
: "${AEDEC_BATCH:=16}" "${CLS_BATCH:=64}"
secs() { [ -n "${!1:-}" ] && echo "--seconds ${!1}" || true; }
# T16_STOP_AFTER / T32_STOP_AFTER: end this call's share of a teacher run early (checkpointed); the
# chain stops there, and the same command run again goes on with the same schedule
stop_after() { [ -n "${!1:-}" ] && echo "--stop-after ${!1}" || true; }
unfinished() {
  if [ ! -f "$RUNS/$1/finished" ]; then
    echo "make_model.sh: $1 stopped before the end of its schedule; run the same command again to go on"
    join_background
    exit 0
  fi
}
export REVERIE_RUNS=$RUNS
TEACHER=${TEACHER:-$RUNS/teacher32/ckpt.pt}
TEACHER_OUT=${TEACHER_OUT:-$OUT-teacher}
CLS_OUT=${CLS_OUT:-$(dirname "$OUT")/attr-classifier}
T=tools/train
STAGES="tokenizer aedata ae latents decoder clsdata cls teacher16 teacher32 pairs student export eval card goldens"
FROM=${FROM:-tokenizer}; UNTIL=${UNTIL:-goldens}
case " $STAGES " in *" $FROM "*) ;; *) echo "make_model.sh: FROM=$FROM is not one of: $STAGES" >&2; exit 2;; esac
case " $STAGES " in *" $UNTIL "*) ;; *) echo "make_model.sh: UNTIL=$UNTIL is not one of: $STAGES" >&2; exit 2;; esac
on=0
for s in $STAGES; do
  [ "$s" = "$FROM" ] && on=1
  [ $on = 1 ] && eval "RUN_$s=1"
  [ "$s" = "$UNTIL" ] && on=0
done
for s in ${SKIP:-}; do eval "RUN_$s=0"; done  # SKIP: stages inside the range to leave out
want() { [ "$(eval echo "\${RUN_$1:-0}")" = 1 ]; }
stage() { echo "== $* ($(date '+%F %T'))"; }
lat128() {  # idempotent: finished shards are kept
  $PY $T/encode_latents.py "$RUNS/data/lat128" --ae "$RUNS/ae/ckpt.pt" -n "$LAT128" --size 128 --seed 0 --workers "$W"
}
lat256() {
  $PY $T/encode_latents.py "$RUNS/data/lat256" --ae "$RUNS/ae/ckpt.pt" -n "$LAT256" --size 256 --seed 1 \
    --shard-size 2048 --workers "$1"
}

BG=()
background() {  # name command...: runs beside the main chain on a GPU, inline on CPUs
  local name=$1; shift
  if [ "$GPU" = 1 ]; then
    stage "$name (in the background, log $RUNS/$name.log)"
    "$@" > "$RUNS/$name.log" 2>&1 &
    BG+=("$!:$name")
  else
    stage "$name"
    "$@"
  fi
}
join_background() {  # [name]: waits for that background job, or for all
  local failed=0 rest=()
  for e in "${BG[@]+"${BG[@]}"}"; do
    if [ -n "${1:-}" ] && [ "${e#*:}" != "$1" ]; then rest+=("$e"); continue; fi
    if ! wait "${e%%:*}"; then echo "make_model.sh: ${e#*:} failed (log $RUNS/${e#*:}.log)" >&2; failed=1; fi
  done
  BG=("${rest[@]+"${rest[@]}"}")
  return $failed
}
mkdir -p "$RUNS"

if want tokenizer; then
  stage tokenizer
  [ -f "$RUNS/tokenizer/merges.txt" ] || $PY $T/fit_tokenizer.py "$RUNS/tokenizer" --scenes "$TOK_SCENES"
fi

if want aedata; then
  stage autoencoder data
  $PY tools/make_scenes.py dataset "$RUNS/data/ae256" -n "$AE_N256" --size 256 --seed 101 --split train \
    --workers "$W" --shard-size 512
  $PY tools/make_scenes.py dataset "$RUNS/data/ae128" -n "$AE_N128" --size 128 --seed 102 --split train \
    --workers "$W" --shard-size 1024
fi

if want ae; then
  stage autoencoder
  $PY $T/train_ae.py --run "$RUNS/ae" --steps "$AE_STEPS"
fi

# beside the GPU jobs, rendering leaves cores to their Python threads
BW=$(( W > 8 ? W / 2 : W ))
if want latents; then
  stage latents at 128x128
  lat128
  background latents256 lat256 "$BW"
fi

if want decoder; then
  background ae-decoder $PY $T/train_ae.py --phase decoder --encoder "$RUNS/ae/ckpt.pt" --run "$RUNS/ae-decoder" \
    --steps "$AEDEC_STEPS" $(secs AEDEC_SECONDS) --batch "$AEDEC_BATCH"
fi

if want clsdata || want cls; then
  cls_chain() {
    if want clsdata; then $PY $T/attr_classifier.py data "$RUNS/data/cls" -n "$CLS_N" --workers "$(( BW > 4 ? BW / 2 : BW ))"; fi
    if want cls; then
      $PY $T/attr_classifier.py train --data "$RUNS/data/cls" --run "$RUNS/cls" --steps "$CLS_STEPS" \
        --val "$CLS_VAL" --batch "$CLS_BATCH"
      $PY $T/attr_classifier.py export --run "$RUNS/cls" --out "$CLS_OUT"
    fi
  }
  background classifier cls_chain
fi

if [ "$GPU" = 1 ] && [ "${TUNE:-1}" = 1 ] && { want teacher16 || want teacher32 || want student; }; then
  # measured, not guessed: the fastest of the step's speed options on this GPU (once per runs folder)
  if [ ! -s "$RUNS/bench_step.env" ]; then
    stage tuning the training step
    # bounded: a compiler that hangs must not eat a lent GPU's minutes (then: fused attention only)
    if timeout "${TUNE_TIMEOUT:-240}" $PY $T/bench_step.py --batch "$BATCH32" --seconds 4 --env \
        --log "$RUNS/bench_step.jsonl" --configs "${TUNE_CONFIGS:-plain,sdpa,cl,compile}" > "$RUNS/bench_step.env.tmp"; then
      mv "$RUNS/bench_step.env.tmp" "$RUNS/bench_step.env"
    else
      echo "make_model.sh: tuning failed or timed out; training with the defaults" >&2
      echo "export REVERIE_SDPA=1 REVERIE_CHANNELS_LAST=0 REVERIE_COMPILE=0" > "$RUNS/bench_step.env"
    fi
  fi
  . "$RUNS/bench_step.env"
  echo "REVERIE_SDPA=$REVERIE_SDPA REVERIE_CHANNELS_LAST=$REVERIE_CHANNELS_LAST REVERIE_COMPILE=$REVERIE_COMPILE"
fi

if want teacher16; then
  lat128  # when the run starts here on a fresh machine
  stage teacher at 16x16 latents
  $PY $T/train_teacher.py --run "$RUNS/teacher16" --latents "$RUNS/data/lat128" --steps "$T16_STEPS" \
    ${T16_INIT:+--init "$T16_INIT"} \
    $(secs T16_SECONDS) --batch "$BATCH16" --lr "${LR16:-4e-4}" --warmup "${WARMUP:-500}" \
    --object-weight "${OBJECT_WEIGHT:-0}" $(stop_after T16_STOP_AFTER)
  unfinished teacher16
fi
if want teacher32; then
  join_background latents256
  lat256 "$W"  # when the run starts here on a fresh machine
  stage teacher at 32x32 latents
  $PY $T/train_teacher.py --run "$RUNS/teacher32" --latents "$RUNS/data/lat256" --init "${T32_INIT:-$RUNS/teacher16/ckpt.pt}" \
    --steps "$T32_STEPS" $(secs T32_SECONDS) --batch "$BATCH32" --lr "${LR32:-2e-4}" --warmup "${WARMUP:-500}" \
    --object-weight "${OBJECT_WEIGHT:-0}" $(stop_after T32_STOP_AFTER)
  unfinished teacher32
fi

if want pairs; then
  stage distillation pairs
  $PY $T/distill.py pairs --teacher "$TEACHER" --out "$RUNS/pairs32" -n "$PAIRS" --batch "$PAIR_BATCH" \
    --sampler "${PAIR_SAMPLER:-euler}" --steps "${PAIR_STEPS:-25}" \
    --shard-size "$(( PAIR_BATCH > 512 ? PAIR_BATCH * 4 : 512 ))"
fi
if want student; then
  stage distillation
  $PY $T/distill.py train --teacher "$TEACHER" --pairs "$RUNS/pairs32" --run "$RUNS/student32" \
    ${STUDENT_INIT:+--init "$STUDENT_INIT"} --steps "$STUDENT_STEPS" $(secs STUDENT_SECONDS) --batch "$BATCH32" \
    --sd-weight "${SD_WEIGHT:-0}"
fi

join_background

if want export; then
  stage export
  $PY $T/export.py --unet "$RUNS/student32/ckpt.pt" --ae "$RUNS/ae-decoder/ckpt.pt" --out "$OUT"
  # the teacher's folder is written where its checkpoint was trained here (a seeded one is that folder)
  if [ "$TEACHER" = "$RUNS/teacher32/ckpt.pt" ]; then
    $PY $T/export.py --unet "$TEACHER" --ae "$RUNS/ae-decoder/ckpt.pt" --out "$TEACHER_OUT"
  fi
fi

if want eval; then
  stage evaluation
  $PY $T/evaluate.py --model "$OUT" --teacher "$TEACHER_OUT" --cls "$CLS_OUT" --out "$RUNS/eval" \
    --per-combo "$EVAL_PER_COMBO" --train-scenes "$EVAL_TRAIN" --samples "$OUT/samples.png"
  cp "$RUNS/eval/eval.json" "$RUNS/eval/samples.txt" "$OUT/"
fi

if want card; then
  stage model card
  $PY tools/flops.py "$OUT" --size 256 > "$OUT/flops.json"
  $PY $T/model_card.py --model "$OUT" --runs "$RUNS" --cls "$CLS_OUT" --teacher "$TEACHER_OUT"
fi

if want goldens; then
  # test_shipped's PyTorch samples of the shipped folder (only for the shipped folder itself)
  if [ "$(cd "$OUT" 2>/dev/null && pwd)" = "$(pwd)/models/reverie-tiny" ]; then
    stage runtime goldens
    $PY tools/make_shipped_goldens.py --model "$OUT"
  fi
fi
stage done

#!/usr/bin/env bash
# The recipe of tools/train/README.md for a GPU lent per call (each call at
# most 10 minutes, the machine warm for a short while after it): one command
# per call, each ending with a handoff pack in $OUT.
#
#   R=/tmp/runs OUT=$OUT bash tools/train/lent_gpu.sh 1 SEED   # SEED: a runs folder with tokenizer/ and ae/ckpt.pt
#   R=/tmp/runs OUT=$OUT bash tools/train/lent_gpu.sh 2 [HANDOFF_DIR]
#   R=/tmp/runs OUT=$OUT bash tools/train/lent_gpu.sh 3 [HANDOFF_DIR]
#
# Calls 2 and 3 go on from $R when the machine is still the same one (the
# 32x32 teacher resumes with its optimizer and schedule). On a fresh machine
# they unpack the last handoff (handoff.tar.NN in HANDOFF_DIR) instead: call 2
# then restarts the 32x32 teacher from its EMA weights on a shorter schedule,
# and call 3 distils whatever teacher the handoff holds.
#
# KNOBS replaces the stage sizes (for a dry run on a CPU, say); STOP1 and
# STOP2 are the 32x32 teacher's seconds in calls 1 and 2 (T32_SECONDS in all).
set -euo pipefail
cd "$(dirname "$0")/../.."
call=${1:?usage: lent_gpu.sh 1 SEED | 2 [HANDOFF_DIR] | 3 [HANDOFF_DIR]}
R=${R:?set R to the runs folder on this machine}
OUT=${OUT:?set OUT to the folder that comes back}
export PY=${PY:-python3} REVERIE_RUNS=$R
read -r -a K <<< "${KNOBS:-LAT128=40000 LAT256=32768 T16_SECONDS=150 T32_SECONDS=800 BATCH16=1024 BATCH32=512 LR16=8e-4 LR32=4e-4 WARMUP=100 STUDENT_SECONDS=200}"
T=tools/train
# the first part of a restarted teacher travels as logs only (the model card's table)
pack() { $PY $T/handoff.py pack "$R" "$OUT/handoff.tar" --skip teacher16 --no-weights teacher32a; }
chain() { env "${K[@]}" "$@" bash $T/make_model.sh; }
# a full checkpoint (with the optimizer) to resume from, not a slim one from a handoff
resumable() { [ -f "$R/$1/ckpt.pt" ] && $PY -c "
import sys; sys.path.insert(0, 'tools')
from train.common import load_checkpoint
sys.exit(0 if 'opt' in (load_checkpoint('$R/$1/ckpt.pt') or {}) else 1)"; }
unpack() {
  local dir=${1:?this machine has no run in $R: name the folder holding the last handoff.tar.NN}
  $PY $T/handoff.py unpack "$dir"/handoff.tar.* --runs "$R"
}

case $call in
1)
  seed=${2:?call 1 needs the runs folder holding tokenizer/ and ae/ckpt.pt}
  mkdir -p "$R/ae" "$OUT"
  cp -r "$seed/tokenizer" "$R/"
  cp "$seed/ae/ckpt.pt" "$R/ae/ckpt.pt"
  chain T32_STOP_AFTER="${STOP1:-150}" FROM=latents UNTIL=teacher32 SKIP="decoder clsdata cls"
  ;;
2)
  mkdir -p "$OUT"
  if resumable teacher32; then
    chain T32_STOP_AFTER="${STOP2:-480}" FROM=teacher32 UNTIL=teacher32
  else
    echo "lent_gpu.sh: a fresh machine: the 32x32 teacher restarts from the handoff's EMA weights"
    unpack "${2:-}"
    if [ ! -f "$R/teacher32/finished" ]; then
      rm -rf "$R/teacher32a" && mv "$R/teacher32" "$R/teacher32a"
      chain T32_INIT="$R/teacher32a/ckpt.pt" T32_SECONDS="${STOP2:-480}" WARMUP=50 FROM=teacher32 UNTIL=teacher32
    fi
  fi
  ;;
3)
  mkdir -p "$OUT"
  if resumable teacher32 || [ -f "$R/teacher32/finished" ]; then
    chain FROM=teacher32 UNTIL=student
  else
    echo "lent_gpu.sh: a fresh machine: distilling the handoff's teacher as it is"
    unpack "${2:-}"
    chain FROM=pairs UNTIL=student
  fi
  ;;
*)
  echo "lent_gpu.sh: the call is 1, 2 or 3, not '$call'" >&2
  exit 2
  ;;
esac
pack

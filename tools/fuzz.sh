#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz: builds them with clang-14
# (ASan + UBSan + coverage) into build-fuzz/, runs each for TIME seconds,
# one target at a time (one process: the CI machine has 2 shared cores), and
# prints per target the executions, coverage (libFuzzer's final cov: and
# ft:) and crashes found. New interesting inputs stay in
# build-fuzz/corpus/<name>/ unless --merge copies them into the seed corpus
# tests/fuzz/corpus/<name>/; crash reproducers land in
# build-fuzz/crashes/<name>/ (save a fixed one to the corpus as crash-*).
#
# usage: tools/fuzz.sh [--merge] [--no-build] TIME [target...]
#        (targets: the <name> of tests/fuzz/fuzz_<name>.c; default all)
set -u
cd "$(dirname "$0")/.."
root=$PWD
merge=0
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --merge) merge=1; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 1 ;;
    *) break ;;
  esac
done
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
  echo "usage: tools/fuzz.sh [--merge] [--no-build] TIME [target...]" >&2
  exit 1
fi
time_s=$1
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do
    n=$(basename "$f" .c)
    targets+=("${n#fuzz_}")
  done
fi
bdir=$root/build-fuzz
mkdir -p "$bdir"
if [ $build = 1 ]; then
  command -v clang-14 > /dev/null || { echo "fuzz.sh: clang-14 is needed (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }
  CC=clang-14 cmake -S . -B "$bdir" -DREVERIE_FUZZ=ON -DREVERIE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    > "$bdir/configure.log" 2>&1 || { cat "$bdir/configure.log"; exit 1; }
  t=()
  for n in "${targets[@]}"; do t+=(--target "fuzz_$n"); done
  cmake --build "$bdir" -j2 "${t[@]}" > "$bdir/build.log" 2>&1 || { tail -40 "$bdir/build.log"; exit 1; }
fi
export RV_SOURCE_DIR=$root
# a leak or UB report is a crash too
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
printf '%-18s %8s %12s %8s %8s %8s\n' target seconds executions cov ft crashes > "$bdir/summary.txt"
status=0
for n in "${targets[@]}"; do
  bin=$bdir/tests/fuzz/fuzz_$n
  [ -x "$bin" ] || { echo "fuzz.sh: no $bin" >&2; status=1; continue; }
  mkdir -p "$bdir/corpus/$n" "$bdir/crashes/$n"
  log=$bdir/fuzz_$n.log
  before=$(ls "$bdir/crashes/$n" | wc -l)
  start=$(date +%s)
  "$bin" -max_total_time="$time_s" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$bdir/crashes/$n/" "$bdir/corpus/$n" "tests/fuzz/corpus/$n" > "$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
  crashes=$(( $(ls "$bdir/crashes/$n" | wc -l) - before ))
  printf '%-18s %8s %12s %8s %8s %8s\n' "$n" "$secs" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$crashes" >> "$bdir/summary.txt"
  if [ $crashes -gt 0 ] || [ $rc -ne 0 ]; then
    status=1
    echo "fuzz.sh: $n: exit $rc, $crashes new reproducer(s) in $bdir/crashes/$n (log: $log)" >&2
    grep -m3 -E 'ERROR: |runtime error|SUMMARY' "$log" >&2
  fi
  if [ $merge = 1 ]; then
    "$bin" -merge=1 "tests/fuzz/corpus/$n" "$bdir/corpus/$n" > "$bdir/merge_$n.log" 2>&1 ||
      echo "fuzz.sh: $n: merge failed (see $bdir/merge_$n.log)" >&2
  fi
done
cat "$bdir/summary.txt"
exit $status

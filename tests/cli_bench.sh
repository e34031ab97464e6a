#!/usr/bin/env bash
# `reverie bench ops --compare-torch`: one small case timed in Reverie and in
# PyTorch in the same run gives the peak, the torch figures and the ratio in
# its JSON. Checks the output's shape only, never a timing.
set -u
bin="$1"
. "$(dirname "$0")/expect.sh"
expect "torch threads" 1 "--torch-threads must be a number" -- "$bin" bench ops --torch-threads many
if /usr/bin/python3 -c "import torch" 2> /dev/null; then
  expect "compare torch" 0 '"ratio_to_torch": [0-9]' -- "$bin" bench ops --op "silu 320" --precision f32 --time 0.05 --compare-torch
  # the same run's output: the peak in the JSON, the columns in the table
  if grep -qE '"fma_peak_gflops": [0-9]' "$tmp/out" && grep -qE 'torch GF/s +ratio' "$tmp/err"; then ok; else bad "peak or table missing"; fi
else
  echo "cli_bench: no /usr/bin/python3 with torch: --compare-torch not checked"
fi
finish cli_bench

#!/usr/bin/env bash
# The main job: sets up, builds and runs Reverie. Today that is the device
# report and a headless render with the shipped model (models/reverie-tiny,
# 2 steps, writes reverie.png; arguments go to `reverie gen`); it becomes the
# story player on that model as the front end grows. Without a GPU it runs
# on Mesa's lavapipe CPU device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)"
if ! ./build/reverie devices > /dev/null 2>&1; then
  echo "run: no hardware Vulkan device usable; using lavapipe (CPU)"
  export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
./build/reverie devices
if [ $# -eq 0 ]; then
  set -- "a red lighthouse on a hill at sunset, watercolor" --steps 2 --seed 1
fi
./build/reverie gen -o reverie.png "$@"

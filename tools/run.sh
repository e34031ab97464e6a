#!/usr/bin/env bash
# The main job: sets up, builds and runs Reverie: the device report, then
# the story player (`reverie play`, an SDL2 window) on the default story
# (scenes/lighthouse.json) and the shipped model (models/reverie-tiny); with
# no display, a headless render of that story to reverie.mp4. Without a GPU
# it runs on Mesa's lavapipe CPU device.
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
# With a display: the story player on the default story and the shipped
# model (arguments go to `reverie play`). Without one: the default story
# rendered headless along a scripted path, to reverie.mp4.
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec ./build/reverie play "$@"
fi
echo "run: no display found (\$DISPLAY is not set): rendering the default story headless instead"
echo "run: (to watch it live: xvfb-run or a desktop session, then bash tools/run.sh)"
./build/reverie render scenes/lighthouse.json --choices 0,0,0 --fps 6 --seconds 20 -o reverie.mp4 "$@"
echo "run: wrote $PWD/reverie.mp4"

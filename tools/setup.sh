#!/usr/bin/env bash
# Installs the Debian 12 packages Reverie needs to build, test and run
# (`--tests`: also those the Python tools' tests need).
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libvulkan-dev libvulkan-volk-dev glslang-tools vulkan-validationlayers mesa-vulkan-drivers
  libcjson-dev libpcre2-dev libutf8proc-dev libpng-dev
  libsdl2-dev libsdl2-ttf-dev fonts-dejavu-core
  libavcodec-dev libavformat-dev libswscale-dev libavutil-dev libimage-exiftool-perl
)
# Graphviz: `reverie story graph` output is rendered with dot in tests/cli_story.sh
PACKAGES+=(graphviz)

# with --tests: what the tests of the Python tools (tools/tests: reference,
# scene generator, training tools) need: Debian's PyTorch, a fast BLAS, regex
# (the CLIP tokenizer's \p{L}) and Pillow (PNG sheets)
if [ "${1:-}" = "--tests" ]; then
  PACKAGES+=(python3 python3-numpy python3-torch libopenblas0-pthread python3-regex python3-pil)
fi

# tools/fuzz.sh: clang and its libFuzzer runtime
PACKAGES+=(clang-14 libclang-rt-14-dev)

# the player's tests (tests/cli_play.sh): a virtual X server and screenshots of it
PACKAGES+=(xvfb xauth imagemagick x11-apps xdotool)
# and its real X drag and drop (tests/xdnd_drop.py, an XDND source)
PACKAGES+=(python3-xlib)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: missing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: run as root:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

#!/usr/bin/env bash
# `reverie inspect`: architectures, parameter counts, checkpoint checks and
# memory of the fixtures and the real SD configs; bad folders give a clear
# error and exit status 1.
set -u
bin="$1"
src="${RV_SOURCE_DIR:-..}"
shared="${RV_SHARED_DIR:-../../shared}"
. "$(dirname "$0")/expect.sh"
expect "help" 0 "usage: reverie inspect" -- "$bin" inspect --help
expect "no folder" 1 "usage: reverie inspect" -- "$bin" inspect
expect "bad option" 1 "unknown option" -- "$bin" inspect --frob "$tmp"
expect "empty folder" 1 "neither model_index.json nor config.json" -- "$bin" inspect "$tmp"
expect "tiny-sd15" 0 "parameters: 546,676" -- "$bin" inspect "$src/tests/fixtures/tiny-sd15"
expect "tiny-sd15 checkpoints" 0 "every tensor matches; F32 798,352" -- "$bin" inspect "$src/tests/fixtures/tiny-sd15"
expect "tiny-sd21 sharded" 0 "model.safetensors.index.json \(3 files\)" -- "$bin" inspect "$src/tests/fixtures/tiny-sd21"
expect "component" 0 "BF16 17,351" -- "$bin" inspect "$src/tests/fixtures/tiny-sd21/vae_tiny" --variant bf16
expect "f32 memory" 0 "weights 2.1 MiB in f32" -- "$bin" inspect "$src/tests/fixtures/tiny-sd15/unet" --precision f32
expect "sd15 counts" 1 "parameters: 859,520,964" -- "$bin" inspect "$shared/models/sd15"
expect "sd21 counts" 1 "parameters: 340,387,840" -- "$bin" inspect "$shared/models/sd21-base"
expect "no weights" 1 "no safetensors weights" -- "$bin" inspect "$shared/models/sd15"
expect "pndm as euler" 1 "as EulerDiscreteScheduler: 1000 training timesteps, linspace spacing" -- "$bin" inspect "$shared/models/sd21-base"
expect "shipped teacher" 0 "every tensor matches" -- "$bin" inspect "$src/models/reverie-tiny-teacher"
expect "lcm scheduler" 0 "LCMScheduler: 1000 training timesteps, leading spacing .*original_inference_steps 50" -- "$bin" inspect "$src/tests/fixtures/tiny-sd15"
mkdir -p "$tmp/bad"
printf '{"_class_name": "UNet2DConditionModel", "block_out_channels": [16, 32], "wobble": 1}' > "$tmp/bad/config.json"
expect "bad config" 1 "key \"wobble\": unknown option" -- "$bin" inspect "$tmp/bad"
printf '{"unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers"]}' > "$tmp/model_index.json"
expect "bad index" 1 "key \"vae\"" -- "$bin" inspect "$tmp"
finish cli_inspect

#!/usr/bin/env bash
# Makes a diffusers folder of configs without weights, for timing a real
# architecture with REVERIE_RANDOM_WEIGHTS=SEED (every weight seeded random;
# the pictures are noise): SD-Turbo's shape by default, that is Stable
# Diffusion 2.1's UNet, OpenCLIP ViT-H text encoder and VAE (the real configs
# in ../shared/models/sd21-base) with SD-Turbo's scheduler (Euler, trailing
# timesteps).
#
# usage: tools/make_random_model.sh OUT [SOURCE]   (SOURCE default ../shared/models/sd21-base)
# then:  REVERIE_RANDOM_WEIGHTS=1 reverie bench frames --model OUT --width 512 --height 512
set -euo pipefail
out=${1:?usage: tools/make_random_model.sh OUT [SOURCE]}
src=${2:-$(cd "$(dirname "$0")/.." && pwd)/../shared/models/sd21-base}
[ -f "$src/model_index.json" ] || { echo "make_random_model: no $src/model_index.json" >&2; exit 1; }
mkdir -p "$out"
cp "$src/model_index.json" "$out/"
for c in text_encoder unet vae tokenizer; do
  mkdir -p "$out/$c"
  cp "$src/$c/"*.json "$out/$c/" 2>/dev/null || true
  cp "$src/$c/"*.txt "$out/$c/" 2>/dev/null || true
done
mkdir -p "$out/scheduler"
# SD-Turbo's scheduler: the SD 2.1 betas, Euler, trailing spacing, epsilon prediction
cat > "$out/scheduler/scheduler_config.json" <<'JSON'
{
  "_class_name": "EulerDiscreteScheduler",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "num_train_timesteps": 1000,
  "prediction_type": "epsilon",
  "steps_offset": 1,
  "timestep_spacing": "trailing",
  "interpolation_type": "linear",
  "use_karras_sigmas": false
}
JSON
# the pipeline names its scheduler class too
sed -i 's/"PNDMScheduler"/"EulerDiscreteScheduler"/' "$out/model_index.json"
echo "wrote $out (configs only: run with REVERIE_RANDOM_WEIGHTS=SEED)"

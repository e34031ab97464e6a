#!/usr/bin/env bash
# Hostile command lines and model folders (issue 16): "--" ends the options
# in every command, signs and blanks in numbers, a directory as a noise
# file, config sizes that used to wrap around (exit 1, naming the file and
# key), checkpoints holding NaN weights. Exit codes and messages.
set -u
bin="$1"
src="${RV_SOURCE_DIR:-..}"
fx="$src/tests/fixtures"
m="$fx/tiny-sd21"
. "$(dirname "$0")/expect.sh"

# ---- class 6: one option parser, "--" ends the options ----
expect "-- prompt" 0 "wrote" -- "$bin" gen --model "$m" -o "$tmp/dash.png" -- "-a prompt starting with a dash"
chunk() { tr '\0' '|' < "$1" | grep -aqF "tEXt$2|$3"; }
chunk "$tmp/dash.png" prompt "-a prompt starting with a dash" && ok || bad "-- prompt: PNG prompt chunk"
expect "option after prompt" 0 "wrote" -- "$bin" gen "x" --model "$m" -o "$tmp/after.png"
expect "--opt=value" 0 "wrote" -- "$bin" gen --model="$m" --steps=1 "x" -o "$tmp/eq.png"
expect "tokenize --" 0 "^ids: 49406 268 10206 49407$" -- "$bin" tokenize --model "$m" -- "-dash"
for c in devices demo bench inspect gen tokenize; do
  expect "$c unknown option" 1 "^reverie $c: unknown option \"--frob\" \(see --help\)$" -- "$bin" $c --frob
  expect "$c -h" 0 "usage: reverie $c" -- "$bin" $c -h
done
expect "missing value" 1 "^reverie gen: --steps needs a value$" -- "$bin" gen --model "$m" x --steps
expect "flag with value" 1 "^reverie gen: --profile takes no value$" -- "$bin" gen --model "$m" x --profile=1
expect "short missing value" 1 "^reverie demo: -o needs a value$" -- "$bin" demo -o
expect "gpu option missing value" 1 "^reverie gen: --device needs a value$" -- "$bin" gen --model "$m" x --device
expect "bench time" 1 "--time must be a number" -- "$bin" bench ops --time soon

# ---- class 3: signs and blanks in numbers ----
expect "seed blank minus" 1 "^reverie gen: --seed must be an integer from 0 to 2\^64-1, not \" -1\"$" -- \
  "$bin" gen --model "$m" x --seed " -1" -o "$tmp/x.png"
expect "seed plus" 1 "--seed must be an integer" -- "$bin" gen --model "$m" x --seed "+5" -o "$tmp/x.png"
expect "seed too big" 1 "--seed must be an integer" -- "$bin" gen --model "$m" x --seed 18446744073709551616
expect "steps blank" 1 "^reverie gen: --steps must be an integer from 1 to [0-9]+, not \" 2\"$" -- \
  "$bin" gen --model "$m" x --steps " 2"
expect "seed max" 0 "seed 18446744073709551615" -- "$bin" gen --model "$m" x --seed 18446744073709551615 \
  -o "$tmp/max.png"

# ---- class 4: errors that named the wrong thing ----
mkdir -p "$tmp/dir.bin"
expect "noise dir" 1 "^reverie gen: --noise-file $tmp/dir.bin is a directory, not a file of float32 values$" -- \
  "$bin" gen --model "$m" x --noise-file "$tmp/dir.bin" -o "$tmp/x.png"
# a model folder whose UNet config is edited (the rest linked)
edit_unet() { # edit_unet SED-EXPRESSION
  rm -rf "$tmp/m"
  mkdir -p "$tmp/m/unet"
  for c in "$m"/*; do [ "$(basename "$c")" = unet ] || ln -s "$c" "$tmp/m/"; done
  ln -s "$m"/unet/*.safetensors "$tmp/m/unet/"
  sed "$1" "$m/unet/config.json" > "$tmp/m/unet/config.json"
}
edit_unet 's/"layers_per_block": [0-9]*/"layers_per_block": 100/'
expect "layers_per_block" 1 "LOAD: $tmp/m/unet/config.json: key \"layers_per_block\": 100 is more than Reverie supports \(at most 7\)" -- \
  "$bin" gen --model "$tmp/m" x -o "$tmp/x.png"
edit_unet 's/"sample_size": [0-9]*/"sample_size": 1073741824/'
expect "sample_size" 1 "key \"sample_size\": 1073741824 is more than Reverie supports \(at most 2048\)" -- \
  "$bin" gen --model "$tmp/m" x -o "$tmp/x.png"
expect "inspect sample_size" 1 "key \"sample_size\": 1073741824 is more than" -- "$bin" inspect "$tmp/m"
# ---- class 3: NaN weights (the fixture: tiny-sd15 with one UNet weight patched) ----
# nan_model DIR TENSOR INDEX: links tiny-sd15 into DIR, copies its UNet
# checkpoint and overwrites element INDEX of the F32 tensor TENSOR with a NaN
nan_model() {
  local d=$1 name=$2 idx=$3 src15="$fx/tiny-sd15"
  mkdir -p "$d/unet"
  for c in "$src15"/*; do [ "$(basename "$c")" = unet ] || ln -s "$c" "$d/"; done
  cp "$src15/unet/config.json" "$d/unet/"
  local st="$d/unet/diffusion_pytorch_model.safetensors"
  cp "$src15/unet/diffusion_pytorch_model.safetensors" "$st"
  local n begin
  n=$(head -c 8 "$st" | od -An -tu8 | tr -d ' ')
  begin=$(head -c $((8 + n)) "$st" | tail -c "$n" | grep -o "\"$name\":{[^}]*}" | sed 's/.*"data_offsets":\[\([0-9]*\),.*/\1/')
  printf '\x00\x00\xc0\x7f' | dd of="$st" bs=1 seek=$((8 + n + begin + 4 * idx)) conv=notrunc status=none
}
nan_model "$tmp/nan" conv_in.weight 5
expect "NaN weights refused" 1 "^reverie gen: format error: LOAD: $tmp/nan/unet/diffusion_pytorch_model.safetensors: tensor 'conv_in.weight' holds NaN \(element 5\): the checkpoint has non-finite weights and would give a garbage picture \(--allow-nonfinite loads it anyway\)$" -- \
  "$bin" gen --model "$tmp/nan" "x" -o "$tmp/nan.png"
[ -e "$tmp/nan.png" ] && bad "NaN weights: a PNG was written" || ok
# with --allow-nonfinite the model loads (with a warning), its UNet turns
# the latent non-finite, and gen fails naming that stage: no PNG
expect "NaN weights allowed: the stage is named" 1 "^reverie gen: invalid input: GEN: $tmp/nan: the output of the UNet at step 0 is not finite \\(NaN or Inf\\)" -- \
  "$bin" gen --model "$tmp/nan" "x" --allow-nonfinite -o "$tmp/nan2.png"
expect "NaN weights allowed: warned" 1 "warning: 1 weight tensor holds NaN or Inf" -- \
  "$bin" gen --model "$tmp/nan" "x" --allow-nonfinite -o "$tmp/nan2.png"
[ -e "$tmp/nan2.png" ] && bad "NaN latent: a PNG was written" || ok
# ---- class 3: a tokenizer with ids past the text encoder's vocabulary ----
# the engine compares the sizes at load: an error, not an unwritten embedding row
mkdir -p "$tmp/vocab/tokenizer"
for c in "$m"/*; do [ "$(basename "$c")" = tokenizer ] || ln -s "$c" "$tmp/vocab/"; done
for f in "$m"/tokenizer/*; do [ "$(basename "$f")" = vocab.json ] || ln -s "$f" "$tmp/vocab/tokenizer/"; done
sed 's/"a<\/w>": *320/"a<\/w>": 49500/' "$m/tokenizer/vocab.json" > "$tmp/vocab/tokenizer/vocab.json"
expect "tokenize beyond the encoder" 0 "ids: 49406 49500 49407" -- "$bin" tokenize --model "$tmp/vocab" "a"
expect "vocabulary sizes" 1 "the tokenizer's vocabulary has ids up to 49500 \(a</w>\) but the text encoder's vocab_size is 49408" -- \
    "$bin" gen --model "$tmp/vocab" "a" -o "$tmp/v.png"
finish cli_hardening

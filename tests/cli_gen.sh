#!/usr/bin/env bash
# `reverie gen` and `reverie tokenize`: the 1-step golden generation of both
# fixtures through the CLI (--noise-file with the golden noise, --latent-out
# compared with the golden latent by NMSE, in f32 and f16), the PNG and its
# text chunks, bit-identical output for the same seed, and clear errors with
# a non-zero exit for bad models, configs, noise files, sizes and prompts.
# Goldens are read straight from goldens.safetensors with od (no Python).
set -u
bin="$1"
src="${RV_SOURCE_DIR:-..}"
fx="$src/tests/fixtures"
. "$(dirname "$0")/expect.sh"

# golden FILE NAME OUT: copies tensor NAME (F32) of a safetensors file to OUT.
golden() {
  local file=$1 name=$2 out=$3 n hdr off
  n=$(head -c 8 "$file" | od -An -tu8 | tr -d ' ')
  hdr=$(head -c $((8 + n)) "$file" | tail -c "$n")
  off=$(printf '%s' "$hdr" | grep -o "\"$name\":{[^}]*}" | grep -o '"data_offsets":\[[0-9]*,[0-9]*\]' |
        grep -o '[0-9][0-9]*' | tr '\n' ' ')
  set -- $off
  if [ $# -ne 2 ]; then
    echo "golden: no tensor $name in $file" >&2
    return 1
  fi
  tail -c +$((8 + n + $1 + 1)) "$file" | head -c $(($2 - $1)) > "$out"
}

# nmse GOT WANT: NMSE of two raw float32 files of the same size (printed).
nmse() {
  if [ "$(stat -c %s "$1")" -ne "$(stat -c %s "$2")" ]; then
    echo "size-mismatch"
    return
  fi
  paste <(od -An -v -tf4 -w4 "$1") <(od -An -v -tf4 -w4 "$2") |
    awk '{ d = $1 - $2; num += d * d; den += $2 * $2 } END { printf "%.3e\n", (den > 0 ? num / den : num) }'
}

# le LIMIT VALUE: VALUE <= LIMIT (floats)
le() { awk -v a="$2" -v b="$1" 'BEGIN { exit !(a <= b) }'; }

# chunk PNG KEY VALUE: the PNG has a tEXt chunk KEY=VALUE.
chunk() { tr '\0' '|' < "$1" | grep -aqF "tEXt$2|$3"; }

prompt_a="a photograph of an astronaut riding a horse"

# ---- golden 1-step generations ----
for case in "tiny-sd21 48 32" "tiny-sd15 96 64"; do
  set -- $case
  name=$1 w=$2 h=$3
  golden "$fx/$name/goldens.safetensors" gen_1step.noise "$tmp/noise.bin" || { bad "$name noise"; continue; }
  golden "$fx/$name/goldens.safetensors" gen_1step.latents "$tmp/want.bin" || { bad "$name latents"; continue; }
  for prec in f32 f16; do
    limit=1e-5
    [ "$prec" = f16 ] && limit=1e-3
    expect "$name $prec gen" 0 "wrote .*lat.bin" -- "$bin" gen --model "$fx/$name" "$prompt_a" --steps 1 \
      --width "$w" --height "$h" --noise-file "$tmp/noise.bin" --latent-out "$tmp/lat.bin" --precision "$prec" \
      --validation -o "$tmp/$name-$prec.png"
    grep -q "GPU time per part: text .* step0 .* sched0 .* decode .* rgba" "$tmp/out" && ok || bad "$name $prec: stage times"
    e=$(nmse "$tmp/lat.bin" "$tmp/want.bin")
    echo "$name gen_1step $prec: latent NMSE $e (limit $limit)"
    le "$limit" "$e" && ok || bad "$name $prec latent NMSE $e > $limit"
  done
  png="$tmp/$name-f32.png"
  head -c 8 "$png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" && ok || bad "$name: not a PNG"
  size=$(head -c 24 "$png" | tail -c 8 | od -An -tu1 | awk '{ print $3 * 256 + $4 "x" $7 * 256 + $8 }')
  [ "$size" = "${w}x${h}" ] && ok || bad "$name: PNG is $size, want ${w}x${h}"
  sched=EulerDiscreteScheduler
  [ "$name" = tiny-sd15 ] && sched=LCMScheduler
  for kv in "prompt|$prompt_a" "steps|1" "seed|0" "size|${w}x${h}" "scheduler|$sched" "model|$fx/$name" \
            "decoder|tiny" "guidance|0" "Software|Reverie" "Comment|initial noise: $tmp/noise.bin"; do
    chunk "$png" "${kv%%|*}" "${kv#*|}" && ok || bad "$name: PNG lacks tEXt ${kv%%|*}=${kv#*|}"
  done
done

# ---- determinism: same seed, bit-identical latent and PNG ----
m="$fx/tiny-sd21"
for r in 1 2; do
  expect "seeded run $r" 0 "wrote" -- "$bin" gen --model "$m" "a red lighthouse" --seed 7 --guidance 2.5 \
    --negative "fog" -o "$tmp/seed$r.png" --latent-out "$tmp/seed$r.bin"
done
cmp -s "$tmp/seed1.png" "$tmp/seed2.png" && ok || bad "same seed: the PNGs differ"
cmp -s "$tmp/seed1.bin" "$tmp/seed2.bin" && ok || bad "same seed: the latents differ"
expect "other seed" 0 "seed 8" -- "$bin" gen --model "$m" "a red lighthouse" --seed 8 --guidance 2.5 \
  --negative "fog" -o "$tmp/seed3.png" --latent-out "$tmp/seed3.bin"
cmp -s "$tmp/seed1.bin" "$tmp/seed3.bin" && bad "another seed gave the same latent" || ok
chunk "$tmp/seed1.png" negative_prompt fog && chunk "$tmp/seed1.png" seed 7 && ok || bad "seeded PNG chunks"

# ---- errors ----
expect "help" 0 "usage: reverie gen" -- "$bin" gen --help
expect "no args" 1 "usage: reverie gen" -- "$bin" gen
expect "no prompt" 1 "usage: reverie gen" -- "$bin" gen --model "$m"
expect "missing model" 1 "no such model folder" -- "$bin" gen --model "$tmp/nope" "x" -o "$tmp/x.png"
REVERIE_MODEL="$tmp/nope2" expect "missing \$REVERIE_MODEL" 1 "nope2: no such model folder \(\\\$REVERIE_MODEL\)" -- \
  "$bin" gen "x" -o "$tmp/x.png"
# without --model: the shipped model, 256x256, its 1 trailing step
expect "default model" 0 "256x256 pixels.*1 steps?, EulerDiscreteScheduler" -- "$bin" gen "a castle by the lake" \
  --seed 3 -o "$tmp/default.png"
chunk "$tmp/default.png" model "$src/models/reverie-tiny" && ok || bad "default model PNG chunk"
expect "profile" 0 "unet\.mid_block +[0-9.]+ ms +[0-9.]+%" -- "$bin" gen --model "$m" "x" --profile -o "$tmp/p.png"
expect "not a model" 1 "model_index.json" -- "$bin" gen --model "$tmp" "x" -o "$tmp/x.png"
mkdir -p "$tmp/m"
for c in "$m"/*; do ln -s "$c" "$tmp/m/"; done
rm "$tmp/m/scheduler"
mkdir "$tmp/m/scheduler"
printf '{"_class_name": "EulerDiscreteScheduler", "beta_start": 0.00085,' > "$tmp/m/scheduler/scheduler_config.json"
expect "malformed scheduler" 1 "scheduler_config.json:[0-9]+:[0-9]+: malformed JSON" -- "$bin" gen --model "$tmp/m" "x" -o "$tmp/x.png"
printf '{"_class_name": "DDIMScheduler", "beta_start": 0.00085}' > "$tmp/m/scheduler/scheduler_config.json"
expect "unsupported scheduler" 1 "\"DDIMScheduler\" is not supported.*--scheduler" -- "$bin" gen --model "$tmp/m" \
  "x" -o "$tmp/x.png"
expect "scheduler override" 0 "EulerDiscreteScheduler" -- "$bin" gen --model "$tmp/m" "x" --scheduler euler \
  -o "$tmp/x.png"
printf '{"_class_name": "EulerDiscreteScheduler", "timestep_spacing": "sideways"}' > "$tmp/m/scheduler/scheduler_config.json"
expect "bad scheduler value" 1 "key \"timestep_spacing\"" -- "$bin" gen --model "$tmp/m" "x" -o "$tmp/x.png"
expect "bad --scheduler" 1 "must be euler or lcm" -- "$bin" gen --model "$m" "x" --scheduler ddim
head -c 100 /dev/zero > "$tmp/short.bin"
expect "wrong-size noise" 1 "has 100 bytes.*\[1, 4, 8, 8\].*needs 1024 bytes" -- "$bin" gen --model "$m" "x" \
  --noise-file "$tmp/short.bin" -o "$tmp/x.png"
expect "missing noise" 1 "noise-file .*No such file" -- "$bin" gen --model "$m" "x" --noise-file "$tmp/none.bin" \
  -o "$tmp/x.png"
expect "odd width" 1 "multiples of 4" -- "$bin" gen --model "$m" "x" --width 33 -o "$tmp/x.png"
expect "zero height" 1 "--height must be an integer from 1" -- "$bin" gen --model "$m" "x" --height 0
expect "bad width" 1 "--width must be an integer" -- "$bin" gen --model "$m" "x" --width wide
expect "bad steps" 1 "--steps must be an integer" -- "$bin" gen --model "$m" "x" --steps -2
expect "bad guidance" 1 "--guidance must be a number" -- "$bin" gen --model "$m" "x" --guidance lots
expect "bad decoder" 1 "--decoder must be tiny or vae" -- "$bin" gen --model "$m" "x" --decoder big
expect "clip skip" 1 "clip-skip 9: the text encoder has 3 layers" -- "$bin" gen --model "$m" "x" --clip-skip 9
expect "unknown option" 1 "unknown option" -- "$bin" gen --model "$m" "x" --frobnicate 1
expect "two prompts" 1 "one prompt at a time" -- "$bin" gen --model "$m" "x" "y"
expect "empty prompt" 1 "prompt is empty" -- "$bin" gen --model "$m" "" -o "$tmp/x.png"
expect "blank prompt" 1 "prompt is empty" -- "$bin" gen --model "$m" "   " -o "$tmp/x.png"
expect "invalid UTF-8" 1 "UTF-8" -- "$bin" gen --model "$m" $'\xff\xfe' -o "$tmp/x.png"
long=$(printf 'lighthouse %.0s' $(seq 90))
expect "overlong prompt" 0 "warning: the prompt has 90 tokens; CLIP reads 75" -- "$bin" gen --model "$m" "$long" \
  -o "$tmp/long.png"
[ -s "$tmp/long.png" ] && ok || bad "overlong prompt: no PNG"
expect "unwritable png" 1 "cannot create" -- "$bin" gen --model "$m" "x" -o /nonexistent-dir/x.png
expect "unwritable latent" 1 "latent-out" -- "$bin" gen --model "$m" "x" -o "$tmp/x.png" --latent-out /nonexistent-dir/l.bin
expect "utf-8 prompt" 0 "wrote" -- "$bin" gen --model "$m" "café au lait ☕" -o "$tmp/utf8.png"
tr '\0' '|' < "$tmp/utf8.png" | grep -aqF "iTXtprompt|" && ok || bad "a UTF-8 prompt goes in an iTXt chunk"

# ---- REVERIE_RANDOM_WEIGHTS: a folder of configs only runs with seeded random weights ----
mkdir -p "$tmp/rand"
( cd "$fx/tiny-sd15" && find model_index.json scheduler tokenizer text_encoder unet vae_tiny -name '*.json' -o -name '*.txt' |
  while read -r f; do mkdir -p "$tmp/rand/$(dirname "$f")"; cp "$f" "$tmp/rand/$f"; done )
expect "configs only" 1 "no safetensors weights" -- "$bin" gen --model "$tmp/rand" "a cat" --steps 1 -o "$tmp/r0.png"
expect "random weights" 0 "wrote" -- env REVERIE_RANDOM_WEIGHTS=5 "$bin" gen --model "$tmp/rand" "a cat" --steps 1 \
  -o "$tmp/r1.png"
expect "random weights again" 0 "wrote" -- env REVERIE_RANDOM_WEIGHTS=5 "$bin" gen --model "$tmp/rand" "a cat" \
  --steps 1 -o "$tmp/r2.png"
cmp -s "$tmp/r1.png" "$tmp/r2.png" && ok || bad "random weights: the same seed gives the same picture"
expect "random weights, other seed" 0 "wrote" -- env REVERIE_RANDOM_WEIGHTS=6 "$bin" gen --model "$tmp/rand" "a cat" \
  --steps 1 -o "$tmp/r3.png"
cmp -s "$tmp/r1.png" "$tmp/r3.png" && bad "random weights: another seed, another picture" || ok

# ---- tokenize ----
expect "tokenize" 0 "^ids: 49406 320 736 13717 49407$" -- "$bin" tokenize --model "$m" "a red lighthouse"
grep -q "^5/77 tokens (padded with 0)$" "$tmp/out" && ok || bad "tokenize: 5/77 tokens (SD 2.x pads with 0)"
expect "tokenize sd15" 0 "padded with 49407" -- "$bin" tokenize --model "$fx/tiny-sd15" "a red lighthouse"
expect "tokenize --all" 0 "49407( 0){72}$" -- "$bin" tokenize --model "$m" "a red lighthouse" --all
expect "tokenize long" 0 "warning: the prompt has 90 tokens; CLIP reads 75, so 15 are cut" -- "$bin" tokenize \
  --model "$m" "$long"
grep -q "^77/77 tokens$" "$tmp/out" && ok || bad "tokenize long: 77/77 tokens"
expect "tokenize empty" 0 "^2/77 tokens" -- "$bin" tokenize --model "$m" ""
expect "tokenize no model" 1 "vocab.json" -- "$bin" tokenize --model "$tmp/nope" "x"
expect "tokenize usage" 1 "usage: reverie tokenize" -- "$bin" tokenize "x"

finish cli_gen

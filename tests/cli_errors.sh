#!/usr/bin/env bash
# CLI behaviour: exit codes and messages for no device, oversized work,
# broken shaders and bad arguments, and a good demo run that writes a PNG.
set -u
bin="$1"
. "$(dirname "$0")/expect.sh"
expect "usage" 1 "usage: reverie" -- "$bin"
expect "help" 0 "commands:" -- "$bin" --help
expect "unknown command" 1 "unknown command" -- "$bin" frobnicate
for c in devices demo bench; do
  expect "$c --help" 0 "usage: reverie $c" -- "$bin" $c --help
done
expect "bad option" 1 "unknown option" -- "$bin" devices --bogus
expect "bad precision" 1 "precision must be" -- "$bin" demo --precision f8
expect "no device" 2 "no Vulkan device" -- env -u VK_DRIVER_FILES -u VK_ADD_DRIVER_FILES VK_ICD_FILENAMES=/nonexistent/icd.json "$bin" devices
expect "no device demo" 2 "no Vulkan device" -- env -u VK_DRIVER_FILES -u VK_ADD_DRIVER_FILES VK_ICD_FILENAMES=/nonexistent/icd.json "$bin" demo -o "$tmp/x.png"
expect "bad device name" 2 "no device name contains" -- "$bin" demo --device no-such-gpu -o "$tmp/x.png"
expect "size range" 1 "from 4 to 256" -- "$bin" demo --size 8192 -o "$tmp/x.png"
expect "memory exhausted" 2 "out of device memory.*budget exhausted" -- "$bin" demo --max-memory 1 -o "$tmp/x.png"
expect "memory exhausted env" 2 "out of device memory.*budget exhausted" -- env RV_MAX_MEMORY_MB=1 "$bin" demo -o "$tmp/x.png"
expect "bad memory option" 1 "max-memory needs" -- "$bin" demo --max-memory lots
mkdir -p "$tmp/shaders"
printf 'not spir-v at all' > "$tmp/shaders/conv_f16.spv"
for v in conv_f32 dconv_f16 dconv_f32; do cp "$tmp/shaders/conv_f16.spv" "$tmp/shaders/$v.spv"; done
expect "broken shader" 2 "pipeline error.*d?conv_f(16|32) is not SPIR-V" -- env RV_SHADER_DIR="$tmp/shaders" "$bin" demo -o "$tmp/x.png"
expect "unwritable png" 2 "cannot create" -- "$bin" demo --size 16 -o /nonexistent-dir/x.png
expect "demo" 0 "NMSE .* OK" -- "$bin" demo --size 24 --validation -o "$tmp/demo.png"
if head -c 8 "$tmp/demo.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a"; then
  ok
else
  bad "demo png: not a PNG"
fi
expect "demo fp32" 0 "precision f32.*" -- "$bin" demo --size 20 --precision f32 -o "$tmp/demo32.png"
expect "bench json" 0 '"gflops"' -- "$bin" bench ops --op silu --time 0.05
finish cli_errors

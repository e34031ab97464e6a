#!/usr/bin/env bash
# Media files from the outside: a PNG, an MP4 and a WebM written by the media
# layer (test_media_video --write) are read by exiftool (prompt and IPTC
# digital source type) and by `reverie inspect FILE`; bad files give a clear
# error and exit status 1.
set -u
bin="$1"
gen="$(dirname "$bin")/tests/test_media_video"
. "$(dirname "$0")/expect.sh"
dst="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
prompt="a lighthouse at dusk, café & <waves>"

if ! "$gen" --write "$tmp" > "$tmp/gen.log" 2>&1; then
  bad "writing the samples with $gen"; cat "$tmp/gen.log"
fi

# exiftool: what every other tool will see
if command -v exiftool > /dev/null; then
  same() { # same NAME WANT GOT
    if [ "$2" = "$3" ]; then ok; else bad "$1: got '$3', want '$2'"; fi
  }
  png_params=$(exiftool -b -PNG:Parameters "$tmp/sample.png")
  same "exiftool png prompt" "$prompt" "$(printf '%s\n' "$png_params" | head -1)"
  same "exiftool png source type" "$dst" "$(exiftool -s3 -XMP-iptcExt:DigitalSourceType "$tmp/sample.png")"
  mp4_comment=$(exiftool -s3 -ItemList:Comment "$tmp/sample.mp4")
  case "$mp4_comment" in "$prompt"*) ok ;; *) bad "exiftool mp4 comment: '$mp4_comment'" ;; esac
  same "exiftool mp4 source type" "$dst" "$(exiftool -s3 -XMP-iptcExt:DigitalSourceType "$tmp/sample.mp4")"
  case "$(exiftool -s3 -XMP-dc:Description "$tmp/sample.mp4")" in "$prompt"*) ok ;; *) bad "exiftool mp4 XMP description" ;; esac
  case "$(exiftool -s3 -Matroska:Comment "$tmp/sample.webm")" in "$prompt"*) ok ;; *) bad "exiftool webm comment" ;; esac
  same "exiftool webm source type" "$dst" "$(exiftool -s3 -Matroska:DigitalSourceType "$tmp/sample.webm")"
  same "exiftool mp4 size" "64x48" "$(exiftool -s3 -ImageSize "$tmp/sample.mp4")"
else
  bad "exiftool is not installed (Debian: libimage-exiftool-perl; tools/setup.sh installs it)"
fi

# reverie inspect FILE
expect "inspect png" 0 "sample.png: png, 64x48" -- "$bin" inspect "$tmp/sample.png"
expect "inspect png prompt" 0 "parameters: a lighthouse at dusk, café & <waves>" -- "$bin" inspect "$tmp/sample.png"
expect "inspect png settings" 0 "Steps: 2, Sampler: euler, Seed: 7, Size: 64x48, Model hash: 0123abcd, Model: reverie-tiny, Denoising strength: 0.5, Version: Reverie" -- "$bin" inspect "$tmp/sample.png"
expect "inspect png source" 0 "digital source type: $dst \(made by a generative model\)" -- "$bin" inspect "$tmp/sample.png"
expect "inspect mp4" 0 "sample.mp4: mp4, h264 64x48, 12 frames at 12 fps \(1.00 s\)" -- "$bin" inspect "$tmp/sample.mp4"
expect "inspect mp4 prompt" 0 "parameters: a lighthouse at dusk, café" -- "$bin" inspect "$tmp/sample.mp4"
expect "inspect mp4 source" 0 "digital source type: $dst" -- "$bin" inspect "$tmp/sample.mp4"
expect "inspect webm" 0 "sample.webm: webm, vp9 64x48, 12 frames at 12 fps" -- "$bin" inspect "$tmp/sample.webm"
expect "inspect webm source" 0 "digital source type: $dst" -- "$bin" inspect "$tmp/sample.webm"

# bad files
printf 'not a picture\n' > "$tmp/text.png"
expect "not a png" 1 "text.png is not a PNG file" -- "$bin" inspect "$tmp/text.png"
head -c 300 "$tmp/sample.png" > "$tmp/cut.png"
expect "truncated png" 1 "cut.png: damaged PNG" -- "$bin" inspect "$tmp/cut.png"
head -c 100 "$tmp/sample.mp4" > "$tmp/cut.mp4"
expect "truncated mp4" 1 "cut.mp4" -- "$bin" inspect "$tmp/cut.mp4"
expect "missing file" 1 "cannot open $tmp/none.mp4: No such file" -- "$bin" inspect "$tmp/none.mp4"
finish cli_media

# `reverie render` on the tiny fixture: an MP4 read back with libavformat
# (frame count, size, fps, every frame against the PNG sequence of the same
# render), metadata and provenance through `inspect` and exiftool, choices
# followed, Ctrl-C ends a playable file, and bad inputs give clear errors and
# leave no file behind. Usage: cli_render.sh path/to/reverie
. "$(dirname "$0")/expect.sh"
bin=$1
src=$(cd "$(dirname "$0")/.." && pwd)
fx="$src/tests/fixtures"
m="$fx/tiny-sd15"
cmp="$(dirname "$bin")/tests/video_compare"
story="$fx/stories/render_choice.json"

# a prompt with keyframes to an MP4 and the same frames to PNGs
expect "prompt to mp4" 0 "wrote $tmp/p.mp4: 8 frames \(2.0 s at 4 fps\)" -- \
  "$bin" render --model "$m" --prompt "a red lighthouse" --prompt-to "a castle at night" --zoom 1.1 \
    --width 64 --height 64 --frames 8 --fps 4 -o "$tmp/p.mp4"
expect "prompt to pngs" 0 "wrote $tmp/seq/f_%04d.png: 8 frames" -- \
  "$bin" render --model "$m" --prompt "a red lighthouse" --prompt-to "a castle at night" --zoom 1.1 \
    --width 64 --height 64 --frames 8 --fps 4 -o "$tmp/seq/f_%04d.png"
expect "mp4 against pngs (libavformat)" 0 "8 frames 64x64 at 4.000 fps, worst luma PSNR" -- \
  "$cmp" "$tmp/p.mp4" "$tmp/seq/f_%04d.png" 30
expect "inspect mp4" 0 "mp4, h264 64x64, 8 frames at 4 fps" -- "$bin" inspect "$tmp/p.mp4"
expect "inspect mp4: parameters" 0 "parameters: a red lighthouse" -- "$bin" inspect "$tmp/p.mp4"
expect "inspect mp4: provenance" 0 "digital source type: http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia" -- \
  "$bin" inspect "$tmp/p.mp4"
if command -v exiftool > /dev/null; then
  expect "exiftool mp4: source type" 0 "Digital Source Type *: http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia" -- \
    exiftool "$tmp/p.mp4"
  expect "exiftool mp4: prompt" 0 "a red lighthouse" -- exiftool "$tmp/p.mp4"
  expect "exiftool png: parameters" 0 "^Parameters *: a red lighthouse" -- exiftool "$tmp/seq/f_0000.png"
  expect "exiftool png: source type" 0 "Digital Source Type *: http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia" -- \
    exiftool "$tmp/seq/f_0000.png"
else
  bad "exiftool is missing (tools/setup.sh --tests installs libimage-exiftool-perl)"
fi
# the same render twice gives the same frames (bit-identical PNG pixels)
"$bin" render --model "$m" --prompt "a red lighthouse" --prompt-to "a castle at night" --zoom 1.1 \
  --width 64 --height 64 --frames 8 --fps 4 -o "$tmp/seq2/f_%04d.png" > /dev/null 2>&1
same=1
for i in 0 1 2 3 4 5 6 7; do cmp -s "$tmp/seq/f_000$i.png" "$tmp/seq2/f_000$i.png" || same=0; done
[ "$same" = 1 ] && ok || bad "the same render twice gave different PNG files"
# one frame in flight (--depth 1) writes the same files as two (the default)
"$bin" render --model "$m" --prompt "a red lighthouse" --prompt-to "a castle at night" --zoom 1.1 \
  --width 64 --height 64 --frames 8 --fps 4 --depth 1 -o "$tmp/seq1/f_%04d.png" > /dev/null 2>&1
same=1
for i in 0 1 2 3 4 5 6 7; do cmp -s "$tmp/seq/f_000$i.png" "$tmp/seq1/f_000$i.png" || same=0; done
[ "$same" = 1 ] && ok || bad "--depth 1 and --depth 2 gave different PNG files"
expect "bad depth" 1 "--depth" -- "$bin" render --model "$m" --prompt "a red lighthouse" --depth 3 -o "$tmp/d3.mp4"

# a story: the choice is followed (the frames' parameters name the new scene's
# prompt); the first scene waits 2 s (8 frames) for its choice, the ending 2 s
expect "story with a choice" 0 "wrote $tmp/s/f_%03d.png: 16 frames" -- \
  "$bin" render "$story" --model "$m" --fps 4 --choices 1 -o "$tmp/s/f_%03d.png"
grep -aq "a beach at noon" "$tmp/s/f_000.png" && ok || bad "story: the first frame's parameters lack the first scene's prompt"
grep -aq "a pine forest in the snow" "$tmp/s/f_015.png" && ok || bad "story: choice 1 did not lead to the forest"
"$bin" render "$story" --model "$m" --fps 4 --choices 1 --depth 1 -o "$tmp/s1/f_%03d.png" > /dev/null 2>&1
same=1
for i in $(seq -w 0 15); do cmp -s "$tmp/s/f_0$i.png" "$tmp/s1/f_0$i.png" || same=0; done
[ "$same" = 1 ] && ok || bad "story: --depth 1 and --depth 2 gave different PNG files"
expect "story: bad choice index" 1 "--choices: choice 5 at scene \"shore\"" -- \
  "$bin" render "$story" --model "$m" --fps 4 --choices 5 -o "$tmp/bad.mp4"
[ -e "$tmp/bad.mp4" ] && bad "a failed render left $tmp/bad.mp4" || ok
ls -a "$tmp" | grep -q '\.part' && bad "a failed render left a temporary file" || ok

# Ctrl-C: the file ends at the last frame made, and plays
"$bin" render --model "$m" --prompt "a red lighthouse" --width 64 --height 64 --frames 400 --fps 4 \
  -o "$tmp/int.mp4" > "$tmp/int.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q "render:.*->" "$tmp/int.out" && break; sleep 0.1; done
sleep 3
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] && ok || bad "interrupted render: exit $rc (want 130)"
grep -q "interrupted: the file ends at the last frame made" "$tmp/int.out" && ok || bad "interrupted render: no summary"
expect "interrupted mp4 plays" 0 "mp4, h264 64x64, [0-9]+ frames at 4 fps" -- "$bin" inspect "$tmp/int.mp4"

# extend a picture; fill between two keyframes (first, 3 between, last)
"$bin" gen --model "$m" "a red lighthouse" --seed 1 -o "$tmp/ka.png" > /dev/null 2>&1
"$bin" gen --model "$m" "a castle at night" --seed 2 -o "$tmp/kb.png" > /dev/null 2>&1
expect "extend an image" 0 "wrote $tmp/ext.mp4: 4 frames" -- \
  "$bin" render --model "$m" --prompt "a red lighthouse" --init-image "$tmp/ka.png" --width 64 --height 64 \
    --frames 4 -o "$tmp/ext.mp4"
expect "fill between keyframes" 0 "wrote $tmp/fill/f_%02d.png: 5 frames" -- \
  "$bin" render --model "$m" --prompt "a red lighthouse" --init-image "$tmp/ka.png" --end-image "$tmp/kb.png" \
    --width 64 --height 64 --frames 3 -o "$tmp/fill/f_%02d.png"
expect "init image missing" 1 "cannot open $tmp/nope.png" -- \
  "$bin" render --model "$m" --prompt x --init-image "$tmp/nope.png" --width 64 --height 64 --frames 2 -o "$tmp/x.mp4"
expect "init image of another size" 1 "$tmp/ka.png is 64x64, but 128x128 is needed" -- \
  "$bin" render --model "$m" --prompt x --init-image "$tmp/ka.png" --width 128 --height 128 --frames 2 -o "$tmp/x.mp4"
printf 'not a png' > "$tmp/bad.png"
expect "init image not a PNG" 1 "$tmp/bad.png" -- \
  "$bin" render --model "$m" --prompt x --init-image "$tmp/bad.png" --width 64 --height 64 --frames 2 -o "$tmp/x.mp4"
expect "end image alone" 1 "needs --init-image and --prompt" -- \
  "$bin" render --model "$m" --prompt x --end-image "$tmp/kb.png" -o "$tmp/x.mp4"

# a tiny decoder from another folder (TAESD as published, beside any model)
expect "--tiny-decoder" 0 "wrote $tmp/td.png: 1 frames" -- \
  "$bin" render --model "$fx/tiny-sd21" --tiny-decoder "$m/vae_tiny" --prompt x --frames 1 -o "$tmp/td.png"
expect "--tiny-decoder missing" 1 "--tiny-decoder $tmp/none: no such folder" -- \
  "$bin" render --model "$fx/tiny-sd21" --tiny-decoder "$tmp/none" --prompt x --frames 1 -o "$tmp/td.png"

# style presets are the stories' data
expect "style preset" 0 "wrote $tmp/st.png: 1 frames" -- \
  "$bin" render --model "$m" --prompt "a cat" --style watercolor --width 64 --height 64 --frames 1 -o "$tmp/st.png"
grep -aq "a cat, watercolor painting" "$tmp/st.png" && ok || bad "the style preset is not in the PNG's parameters"
expect "unknown style" 1 "error\[E206\]: unknown style \"nosuch\" \(known: none, realistic, watercolor" -- \
  "$bin" render --model "$m" --prompt "a cat" --style nosuch --frames 1 -o "$tmp/st2.png"

# bad inputs: clear errors, nothing left behind
expect "no output" 1 "^reverie render: -o FILE is required" -- "$bin" render --prompt x
expect "story and prompt" 1 "give a story file or --prompt, not both" -- "$bin" render "$story" --prompt x -o "$tmp/x.mp4"
expect "bad choices" 1 "--choices must be indices from 0 separated by commas, not \"1,x\"" -- \
  "$bin" render "$story" --choices 1,x -o "$tmp/x.mp4"
printf '{"format": "reverie-story/1",\n  "scenes": [\n    {"id": 3}\n' > "$tmp/broken.json"
expect "broken story: file:line:col" 1 "$tmp/broken.json:[0-9]+:[0-9]+: error\[E1" -- \
  "$bin" render "$tmp/broken.json" --model "$m" -o "$tmp/x.mp4"
expect "unwritable folder" 1 "$tmp/no/such/dir/x.mp4" -- \
  "$bin" render --model "$m" --prompt x --width 64 --height 64 --frames 2 -o "$tmp/no/such/dir/x.mp4"
expect "missing model" 1 "no such model folder" -- \
  "$bin" render --model "$tmp/nomodel" --prompt x --frames 2 -o "$tmp/x.mp4"
[ -e "$tmp/x.mp4" ] && bad "a failed render left x.mp4" || ok
finish cli_render

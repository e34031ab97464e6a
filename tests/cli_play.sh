#!/usr/bin/env bash
# The story player (`reverie play`) in a real X server (Xvfb) on lavapipe:
# a script makes a choice, edits the prompt, rolls back, saves and loads and
# presses every key of the help (save slots included); the harness
# screenshots the window through X (ImageMagick `import`) at each step and
# checks the pictures. Also: a lost window surface, a real XDND drag and
# drop, a quiz, a replay, a model that fails to load. Screenshots are kept
# under the build dir (tests/play-shots). Not a benchmark.
set -u
bin=$1
. "$(dirname "$0")/expect.sh"
cd "$(dirname "$0")/.."
src=$PWD
shots=$(dirname "$(readlink -f "$bin")")/tests/play-shots
rm -rf "$shots"
mkdir -p "$shots"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
for tool in xvfb-run import compare convert; do
  if ! command -v $tool > /dev/null; then
    echo "cli_play: $tool missing (tools/setup.sh installs xvfb, xauth, imagemagick)"
    exit 1
  fi
done

# ---- without a display: a clear message and the headless command
expect no-display 2 "Render the story headless instead:  reverie render" -- env -u DISPLAY -u WAYLAND_DISPLAY "$bin" play
expect bad-size 1 "--size must be WxH" -- "$bin" play --size 12
expect bad-present 1 "--present must be auto, vulkan or sdl" -- "$bin" play --present gl
expect two-stories 1 "one story at a time" -- "$bin" play a.json b.json
printf 'frames 1\nfly away\n' > "$tmp/bad.script"
DISPLAY=:0 expect bad-script 1 "bad.script:2: unknown command \"fly\"" -- "$bin" play --script "$tmp/bad.script"
DISPLAY=:0 expect missing-story 1 "nope.json" -- "$bin" play "$tmp/nope.json"

# ---- the scripted session (the tiny test model: the picture content does not matter)
cp scenes/lighthouse.json "$tmp/story.json"
req=$tmp/shot.request
# the harness: each `shot NAME` of the script writes NAME into $req and waits
# until the file is gone; we grab the screen then. "touch-story" changes the
# story file on disk instead (hot reload).
cat > "$tmp/harness.sh" <<'EOF2'
# run inside xvfb-run: harness.sh REQUEST SHOTS STORY -- reverie play ...
req=$1 shots=$2 story=$3
shift 4
"$@" &
pid=$!
while kill -0 "$pid" 2> /dev/null; do
  if [ -f "$req" ]; then
    name=$(cat "$req")
    if [ -z "$name" ]; then # not written yet: read it again
      sleep 0.05
      continue
    elif [ "$name" = touch-story ]; then
      sed -i 's/Rain lashes the shore/Rain LASHES the shore/' "$story"
    elif [ "${name#resize:}" != "$name" ]; then # the window resized from outside (as a window manager does)
      size=${name#resize:}
      xdotool windowsize "$(xdotool search --pid "$pid" 2> /dev/null | head -1)" "${size%x*}" "${size#*x}"
    elif [ "${name#xdnd:}" != "$name" ]; then # a real X drag and drop of a file onto the window
      wid=$(xdotool search --pid "$pid" 2> /dev/null | head -1)
      /usr/bin/python3 tests/xdnd_drop.py "$wid" "${name#xdnd:}" > "$shots/xdnd.txt" 2>&1 &
    else
      import -display "$DISPLAY" -window root "$shots/$name.png" 2> /dev/null || echo "harness: import $name failed" >&2
    fi
    rm -f "$req"
  fi
  sleep 0.05
done
wait "$pid"
rc=$?
echo $rc > "$req.rc"
exit $rc
EOF2
# xvfb-run's own exit code can be its cleanup's: the player's is read from $req.rc
xvfb() { rm -f "$req.rc"; xvfb-run -a -s "-screen 0 384x384x24" "$@"; }
player_rc() { cat "$req.rc" 2> /dev/null || echo none; }
cat > "$tmp/play.script" <<'EOF'
# the first scene waits at a choice
frames 1
shot 01-start
frames 1
shot 02-later
key Space
shot 03-choice
print
key F5
choose 1
expect-scene cliff_path
key Space
frames 2
key Space
shot 04-chosen
key Tab
type , with a red kite
shot 05-editing
key Return
key Space
frames 2
key Space
shot 06-edited
key Backspace
expect-scene shore
shot 07-rollback
choose 2
expect-scene harbor
key shift+2
key F5
key shift+3
key F9
expect-scene harbor
key shift+1
key F9
expect-scene shore
key shift+2
key F9
expect-scene harbor
key shift+1
key F9
expect-scene shore
print
key ?
shot 08-help
key ?
key R
key +
key -
key ]
key [
key F12
key Space
key F10
frames 2
key F10
key F11
key F11
key Space
key H
shot 09-nohud
key H
shot 09-hud
key Space
shot touch-story
wait 1.5
shot 10-reloaded
key ctrl+r
wait 1
print
drop scenes/playground.json
expect-scene menu
drop scenes/missing.json
expect-scene menu
key Q
EOF
xvfb bash "$tmp/harness.sh" "$req" "$shots" "$tmp/story.json" -- \
  "$bin" play "$tmp/story.json" --model tests/fixtures/tiny-sd15 --size 64x64 --window 384x384 \
  --script "$tmp/play.script" --shot-request "$req" --out-dir "$shots" --data-dir "$tmp/data" \
  > "$tmp/out" 2> "$tmp/err"
rc=$(player_rc)
cp "$tmp/out" "$shots/stdout.txt"
cp "$tmp/err" "$shots/stderr.txt"
if [ $rc -eq 0 ]; then ok; else bad "session: exit $rc"; sed 's/^/  | /' "$tmp/out" "$tmp/err" | tail -30; fi
if grep -q "VK: validation" "$tmp/err"; then bad "validation messages"; grep "VK: validation" "$tmp/err" | head -5; else ok; fi
for n in 01-start 02-later 03-choice 04-chosen 05-editing 06-edited 07-rollback 08-help 09-nohud 09-hud 10-reloaded; do
  [ -s "$shots/$n.png" ] && ok || bad "no screenshot $n"
done

# pixels that differ between two screenshots in a region (WxH+X+Y)
# (a number, or compare's error in one word, as "unable_to_open_image...")
diff_px() {
  local out
  out=$(compare -metric AE -crop "$3" "$shots/$1.png" "$shots/$2.png" null: 2>&1 | head -1)
  case $out in [0-9]*) echo "${out%% *}" ;; *) echo "${out// /_}" ;; esac
}
# the fraction of bright pixels (text on the dark panels) in a region
bright() { convert "$shots/$1.png" -crop "$2" +repage -colorspace Gray -threshold 80% -format "%[fx:mean]" info:; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[0-9.e+-]+$/ && a + 0 > b + 0) }'; }
picture=384x95+0+180    # below the HUD and the toasts, above the narration
story_panel=384x90+0+294
hud=300x50+0+0

d=$(diff_px 01-start 02-later $picture)
gt "${d:-0}" 500 && ok || bad "frames do not change over time ($d pixels differ)"
gt "$(bright 01-start $story_panel)" 0.01 && ok || bad "no narration text drawn"
d=$(diff_px 09-nohud 09-hud $hud)
gt "${d:-0}" 500 && ok || bad "no HUD drawn, or H does not hide it ($d pixels differ)"
d=$(diff_px 09-nohud 09-hud $picture)
[ "${d:-1}" = 0 ] && ok || bad "the picture changed while paused ($d pixels differ)"
d=$(diff_px 03-choice 04-chosen $story_panel)
gt "${d:-0}" 300 && ok || bad "the choice did not change the scene's text ($d pixels differ)"
grep -q "play: chose 1 -> scene cliff_path" "$tmp/out" && ok || bad "choice not reported"
d=$(diff_px 04-chosen 05-editing 384x60+0+100)
gt "${d:-0}" 2000 && ok || bad "the prompt editor is not drawn ($d pixels differ)"
grep -q 'play: prompt ".*, with a red kite"' "$tmp/out" && ok || bad "the prompt edit was not applied"
d=$(diff_px 03-choice 07-rollback $picture)
[ "${d:-1}" = 0 ] && ok || bad "rollback did not restore the picture ($d pixels differ)"
grep -q "play: rollback -> scene shore (picture restored)" "$tmp/out" && ok || bad "rollback not reported"
saved=$(sed -n 's/^play: saved slot 1 .*(state \([0-9a-f]*\))$/\1/p' "$tmp/out")
loaded=$(sed -n 's/^play: loaded slot 1 .*(state \([0-9a-f]*\))$/\1/p' "$tmp/out" | sort -u)
[ -n "$saved" ] && [ "$saved" = "$loaded" ] && ok || bad "save/load does not round-trip ($saved vs $loaded)"
# several slots: Shift+2 picks slot 2 (F5 saves there), an empty slot 3
# loads nothing, slots 1 and 2 load back their own states
saved2=$(sed -n 's/^play: saved slot 2 .*(state \([0-9a-f]*\))$/\1/p' "$tmp/out")
loaded2=$(sed -n 's/^play: loaded slot 2 .*(state \([0-9a-f]*\))$/\1/p' "$tmp/out")
[ -n "$saved2" ] && [ "$saved2" = "$loaded2" ] && [ "$saved2" != "$saved" ] && [ -s "$tmp/data/slot-2.json" ] && ok ||
  bad "slot 2 does not round-trip its own state ($saved2 vs $loaded2; slot 1 $saved)"
grep -q "play: slot 2 selected (empty)" "$tmp/out" && grep -q "play: slot 2 selected (saved)" "$tmp/out" &&
  grep -q "play: slot 3 selected (empty)" "$tmp/out" && grep -q "cannot read .*/slot-3.json" "$tmp/err" &&
  [ ! -e "$tmp/data/slot-3.json" ] && ok || bad "Shift+digit does not pick slots, or an empty slot is not reported"
[ -s "$tmp/data/slot-1.json" ] && grep -qE '"format":[[:space:]]*"reverie-player-save/1"' "$tmp/data/slot-1.json" && ok ||
  bad "no versioned save slot"
d=$(diff_px 07-rollback 08-help 300x120+42+132)
gt "${d:-0}" 8000 && ok || bad "? shows no help ($d pixels differ)"
grep -q "play: strength +0.00 steps +0 seed +1" "$tmp/out" && ok || bad "R did not reseed"
grep -q "play: strength +0.05 steps +0" "$tmp/out" && grep -q "play: strength +0.00 steps +1" "$tmp/out" &&
  grep -q "play: strength +0.00 steps +0 seed" "$tmp/out" && ok || bad "+ - [ ] did not adjust"
png=$(sed -n 's/^play: screenshot //p' "$tmp/out")
[ -s "$png" ] && grep -aq "Steps: " "$png" && grep -aq "trainedAlgorithmicMedia" "$png" && ok ||
  bad "F12: no PNG with parameters and provenance ($png)"
mp4=$(sed -n 's/^play: recorded [0-9]* frames to //p' "$tmp/out")
[ -s "$mp4" ] && ok || bad "F10: no recording"
grep -q "play: fullscreen on" "$tmp/out" && grep -q "play: fullscreen off" "$tmp/out" && ok || bad "F11"
grep -q "play: reloaded" "$tmp/out" && ok || bad "the story was not reloaded after it changed on disk"
[ "$(grep -c "play: reloaded" "$tmp/out")" -ge 2 ] && ok || bad "Ctrl+R did not reload the story"
grep -q "play: story scenes/playground.json" "$tmp/out" && ok || bad "a dropped story was not opened"
grep -q "scenes/missing.json" "$tmp/err" && ok || bad "a dropped missing story says nothing"
gt "$(diff_px 07-rollback 10-reloaded $story_panel)" 100 && ok || bad "the reloaded narration is not shown"

# a replay log plays back live: each choice, rollback and edit at its time
cat > "$tmp/log.script" <<'EOF'
frames 1
choose 1
wait 0.5
key Backspace
edit a stormy sea
wait 0.5
choose 2
expect-scene harbor
quit
EOF
cat > "$tmp/replay.script" <<'EOF'
wait-scene harbor
print
quit
EOF
xvfb bash "$tmp/harness.sh" "$req" "$shots" "$tmp/story.json" -- "$bin" play scenes/lighthouse.json \
  --model tests/fixtures/tiny-sd15 --size 64x64 --script "$tmp/log.script" --log "$shots/replay.json" \
  > "$tmp/out2" 2> "$tmp/err2"
rc=$(player_rc)
[ $rc -eq 0 ] && grep -q '"reverie-replay/1"' "$shots/replay.json" && ok || { bad "replay log: exit $rc"; tail -5 "$tmp/err2"; }
xvfb bash "$tmp/harness.sh" "$req" "$shots" "$tmp/story.json" -- "$bin" play scenes/lighthouse.json \
  --model tests/fixtures/tiny-sd15 --size 64x64 --replay "$shots/replay.json" --script "$tmp/replay.script" \
  > "$tmp/out2" 2> "$tmp/err2"
rc=$(player_rc)
[ $rc -eq 0 ] && ok || { bad "replay: exit $rc"; tail -5 "$tmp/err2"; }
grep -q "play: replay event 4 of 4" "$tmp/out2" && grep -q "play: rollback -> scene shore" "$tmp/out2" &&
  grep -q 'play: prompt "a stormy sea"' "$tmp/out2" && grep -q "play: chose 2 -> scene harbor" "$tmp/out2" && ok ||
  { bad "the replay did not play the log's events"; cat "$tmp/out2"; }
printf '{"format": "reverie-replay/1"}' > "$tmp/bad-log.json"
expect bad-replay 1 "bad-log.json" -- env DISPLAY=:0 "$bin" play scenes/lighthouse.json --replay "$tmp/bad-log.json"

# a quiz: the question, the answers and the feedback are drawn
cat > "$tmp/quiz.script" <<'EOF'
frames 1
choose 1
wait-scene quiz_evaporation
key Space
shot 13-quiz
choose 1
shot 14-feedback
print
quit
EOF
xvfb bash "$tmp/harness.sh" "$req" "$shots" "$tmp/story.json" -- \
  "$bin" play "$src/scenes/water_cycle.json" --model tests/fixtures/tiny-sd15 --size 64x64 --window 384x384 \
  --script "$tmp/quiz.script" --shot-request "$req" > "$tmp/out5" 2> "$tmp/err5"
rc=$(player_rc)
[ $rc -eq 0 ] && ok || { bad "quiz: exit $rc"; tail -5 "$tmp/err5"; }
d=$(diff_px 13-quiz 14-feedback 384x150+0+234)
gt "${d:-0}" 300 && ok || bad "the quiz's feedback is not shown ($d pixels differ)"

# a lost window surface: an out-of-date swapchain is made again, a lost
# surface gets a new presenter and the session goes on with the same
# picture; a surface that cannot be made again is a clear message, exit 2
cat > "$tmp/lost.script" <<'EOF'
frames 1
key Space
shot 15-before-loss
fault out-of-date
fault surface-lost
shot 16-after-loss
key Space
frames 1
print
quit
EOF
xvfb bash "$tmp/harness.sh" "$req" "$shots" "$tmp/story.json" -- \
  "$bin" play scenes/lighthouse.json --model tests/fixtures/tiny-sd15 --size 64x64 --window 384x384 \
  --script "$tmp/lost.script" --shot-request "$req" > "$tmp/out6" 2> "$tmp/err6"
rc=$(player_rc)
[ $rc -eq 0 ] && grep -q "play: state scene shore" "$tmp/out6" && ok || { bad "lost surface: exit $rc"; tail -5 "$tmp/err6"; }
grep -q "presentation failed (presentation: vkAcquireNextImageKHR failed (VK_ERROR_SURFACE_LOST_KHR" "$tmp/err6" &&
  grep -q "making the window's surface again" "$tmp/err6" && ok || bad "a lost surface is not reported"
grep -q "play: presentation restored on a new surface" "$tmp/out6" && ok || bad "the surface was not made again"
grep -qE "play: presented [0-9]+ pictures .* [1-9][0-9]* swapchains made again" "$tmp/out6" && ok ||
  bad "an out-of-date swapchain was not made again"
d=$(diff_px 15-before-loss 16-after-loss 384x280+0+100)
[ "${d:-1}" = 0 ] && ok || bad "the picture changed across the lost surface ($d pixels differ)"
grep -q "VK: validation" "$tmp/err6" && bad "validation messages (lost surface)" || ok
# (and without --shot-request, `shot` reads the GPU's composite back)
printf 'frames 1\nshot 17-readback\nfault surface-gone\nwait 5\nquit\n' > "$tmp/gone.script"
xvfb bash "$tmp/harness.sh" "$req" "$shots" "$tmp/story.json" -- \
  "$bin" play scenes/lighthouse.json --model tests/fixtures/tiny-sd15 --size 64x64 --window 384x384 \
  --script "$tmp/gone.script" --out-dir "$shots" > "$tmp/out7" 2> "$tmp/err7"
rc=$(player_rc)
[ -s "$shots/17-readback.png" ] && gt "$(bright 17-readback $story_panel)" 0.01 &&
  gt "$(convert "$shots/17-readback.png" -crop $picture +repage -format "%[fx:standard_deviation]" info:)" 0.02 &&
  ok || bad "the GPU composite read back (17-readback) lacks the picture or the text"
[ $rc -eq 2 ] && grep -q "the window's Vulkan surface is lost and could not be made again: .*VK_ERROR_SURFACE_LOST_KHR" "$tmp/err7" &&
  ok || { bad "a surface that cannot be made again: exit $rc"; tail -5 "$tmp/err7"; }
printf 'fault sideways\n' > "$tmp/bad-fault.script"
DISPLAY=:0 expect bad-fault 1 "bad-fault.script:1: fault must be out-of-date, surface-lost or surface-gone" -- \
  "$bin" play --script "$tmp/bad-fault.script"

# the window resized to 380x260: the swapchain follows, and the GPU scales
# the square frame to 260x260 in the middle with black bars left and right
printf 'frames 1\nkey Space\nshot resize:380x260\nwait 1\nshot 18-resized\nquit\n' > "$tmp/resize.script"
xvfb bash "$tmp/harness.sh" "$req" "$shots" "$tmp/story.json" -- \
  "$bin" play scenes/lighthouse.json --model tests/fixtures/tiny-sd15 --size 64x64 --window 384x384 \
  --script "$tmp/resize.script" --shot-request "$req" > "$tmp/out9" 2> "$tmp/err9"
rc=$(player_rc)
[ $rc -eq 0 ] && ok || { bad "resize: exit $rc"; tail -5 "$tmp/err9"; }
# left bar, right bar (black), the picture between (not flat)
[ "$(convert "$shots/18-resized.png" -crop 56x70+0+70 +repage -format "%[fx:maxima]" info:)" = 0 ] &&
  [ "$(convert "$shots/18-resized.png" -crop 56x70+324+70 +repage -format "%[fx:maxima]" info:)" = 0 ] &&
  gt "$(convert "$shots/18-resized.png" -crop 240x70+70+70 +repage -format "%[fx:standard_deviation]" info:)" 0.02 &&
  ok || bad "after a resize the frame is not scaled with its aspect kept (18-resized)"
grep -q "VK: validation" "$tmp/err9" && bad "validation messages (resize)" || ok

# a real X drag and drop (XDND from a small X client, tests/xdnd_drop.py
# with python3-xlib) opens the dropped story
if /usr/bin/python3 -c "import Xlib" 2> /dev/null; then
  printf 'frames 1\nshot xdnd:%s\nwait-scene menu\nprint\nquit\n' "$src/scenes/playground.json" > "$tmp/xdnd.script"
  xvfb bash "$tmp/harness.sh" "$req" "$shots" "$tmp/story.json" -- \
    "$bin" play scenes/lighthouse.json --model tests/fixtures/tiny-sd15 --size 64x64 --script "$tmp/xdnd.script" \
    --shot-request "$req" > "$tmp/out8" 2> "$tmp/err8"
  rc=$(player_rc)
  [ $rc -eq 0 ] && grep -q "play: story $src/scenes/playground.json" "$tmp/out8" &&
    grep -q "play: state scene menu" "$tmp/out8" && grep -q "XdndFinished" "$shots/xdnd.txt" && ok ||
    { bad "XDND: a dragged story was not opened (exit $rc)"; cat "$shots/xdnd.txt"; tail -5 "$tmp/err8"; }
else
  echo "cli_play: skipping the XDND drag and drop (python3-xlib missing; tools/setup.sh installs it)"
fi

# a model that fails to load: the message, no crash
xvfb bash "$tmp/harness.sh" "$req" "$shots" "$tmp/story.json" -- "$bin" play "$tmp/story.json" --model "$tmp/no-model" --frames 1 \
  > "$tmp/out3" 2> "$tmp/err3"
rc=$(player_rc)
[ $rc -eq 2 ] && grep -q "the model did not load" "$tmp/err3" && ok || { bad "bad model: exit $rc"; tail -5 "$tmp/err3"; }

# the shipped model once: the editor marks words the model does not know
cat > "$tmp/shipped.script" <<'EOF'
frames 1
key Space
key Tab
type  zyzzogeton
shot 11-shipped-editing
key Escape
quit
EOF
xvfb bash "$tmp/harness.sh" "$req" "$shots" "$tmp/story.json" -- \
  "$bin" play "$src/scenes/lighthouse.json" --size 128x128 --window 384x384 --script "$tmp/shipped.script" \
  --shot-request "$req" --present sdl > "$tmp/out4" 2> "$tmp/err4"
rc=$(player_rc)
[ $rc -eq 0 ] && ok || { bad "shipped model: exit $rc"; tail -5 "$tmp/err4"; }
grep -q "window 384x384 (SDL_Renderer" "$tmp/out4" && ok || bad "--present sdl does not use SDL_Renderer"
grep -q "window 384x384 (Vulkan swapchain on" "$shots/stdout.txt" && ok || bad "the session did not present through Vulkan"
# the editor's "not known to the model" line is red
red() { convert "$shots/$1.png" -crop "$2" +repage -fuzz 12% -fill white -opaque "rgb(255,110,110)" \
  -fill black +opaque white -colorspace Gray -format "%[fx:mean]" info:; }
gt "$(red 11-shipped-editing 384x120+0+96)" 0.002 && ok || bad "shipped: the unknown word is not marked"
grep -q "VK: validation" "$tmp/err4" && bad "validation messages (shipped)" || ok
echo "cli_play: screenshots in $shots"
finish cli_play

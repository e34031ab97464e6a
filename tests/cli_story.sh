#!/usr/bin/env bash
# CLI behaviour of the story tools: `reverie check` (exit codes, text and
# --json output, model checks), `reverie story graph` (DOT that Graphviz
# renders) and `reverie story play --text` (scripted playthroughs reaching
# every ending of the examples; save, load and back in the terminal).
set -u
bin="$1"
src="$(cd "$(dirname "$0")/.." && pwd)"
. "$(dirname "$0")/expect.sh"
model="$src/models/reverie-tiny"
lh="$src/scenes/lighthouse.json"
wc="$src/scenes/water_cycle.json"
pg="$src/scenes/playground.json"

# check: exit codes 0 clean, 1 warnings, 2 errors, 3 usage / unreadable
for s in "$lh" "$wc" "$pg"; do
  expect "check $(basename "$s")" 0 ": 0 errors, 0 warnings" -- "$bin" check "$s" --model "$model"
done
expect "check help" 0 "usage: reverie check" -- "$bin" check --help
expect "check usage" 3 "usage: reverie check" -- "$bin" check
expect "check bad option" 3 "unknown option" -- "$bin" check --frobnicate "$lh"
expect "check missing file" 3 "cannot open .*nope.json" -- "$bin" check "$tmp/nope.json"
expect "check bad model" 3 "--model $tmp" -- "$bin" check "$lh" --model "$tmp"
expect "check errors" 2 'unknown_target.json:6:55: error\[E201\]: unknown scene "cave"' -- "$bin" check "$src/tests/story/unknown_target.json"
expect "check warnings" 1 'warning\[W301\]' -- "$bin" check "$src/tests/story/unreachable.json"
expect "check json" 2 '"code":[[:space:]]*"E204"' -- "$bin" check --json "$src/tests/story/expression_syntax.json"
expect "check -- ends options" 3 "cannot open .*--json" -- "$bin" check -- --json
cat > "$tmp/knight.json" <<'JSON'
{"format": "reverie-story/1", "title": "k",
 "scenes": [{"id": "a", "prompt": "a knight by a castle at night", "ending": true},
            {"id": "b", "ending": true}]}
JSON
expect "unknown word" 1 '"knight" is not a word .* was trained on \(its tokenizer reads k \+ night\)' -- "$bin" check "$tmp/knight.json" --model "$model"
long=$(for i in $(seq 40); do printf 'a red boat '; done)
printf '{"format": "reverie-story/1", "title": "l", "scenes": [{"id": "a", "prompt": "%s", "ending": true}]}\n' "$long" > "$tmp/long.json"
expect "long prompt" 1 'W305.*prompt takes 122 tokens .* the model reads 77' -- "$bin" check "$tmp/long.json" --model "$model"
expect "no model, no word check" 0 "0 errors, 0 warnings" -- "$bin" check "$tmp/long.json"

# graph: DOT that Graphviz renders
for s in "$lh" "$wc" "$pg"; do
  n=$(basename "$s" .json)
  expect "graph $n" 0 "wrote .*$n.dot" -- "$bin" story graph "$s" -o "$tmp/$n.dot"
  if command -v dot > /dev/null; then
    if dot -Tpng "$tmp/$n.dot" -o "$tmp/$n.png" && head -c 4 "$tmp/$n.png" | grep -q PNG; then ok; else bad "dot -Tpng $n"; fi
  fi
done
expect "graph stdout" 0 '"harbor" -> "crossing"' -- "$bin" story graph "$lh"
expect "graph unreachable" 0 'xlabel="unreachable"' -- "$bin" story graph "$src/tests/story/unreachable.json"
expect "graph broken" 2 "does not load" -- "$bin" story graph "$src/tests/story/dead_end.json"
expect "story usage" 1 "unknown subcommand" -- "$bin" story frob
expect "play needs --text" 1 "only --text" -- "$bin" story play "$lh"

# play: every ending of every example, from typed input
play() { # play NAME STORY ENDING INPUT
  printf '%b' "$4" > "$tmp/in"
  expect "$1" 0 "ENDING: $3" -- sh -c '"$1" story play --text "$2" < "$3"' _ "$bin" "$2" "$tmp/in"
}
play "light returns" "$lh" "The light returns" '3\n1\n1\n1\n1\n'
play "lost at sea" "$lh" "Lost at sea" '2\n1\n1\n1\n'
play "quiet island" "$lh" "The quiet island" '3\n1\n1\n2\n2\n1\n1\n1\n'
play "expert" "$wc" "Water cycle expert" '1\n1\n2\n1\n'
play "explorer" "$wc" "Water cycle explorer" '1\n1\n2\n2\n'
play "review loop" "$wc" "Water cycle explorer" '1\n2\n1\n2\n2\n1\n'
play "demo end" "$pg" "The end of the demo" '4\n'
# back, save and load in the terminal
play "back" "$lh" "The light returns" '2\nback\n3\n1\n1\n1\n1\n'
play "save/load slot" "$lh" "The light returns" '3\nsave\n2\n1\nload\n1\n1\n1\n1\n'
play "save/load file" "$lh" "The light returns" "3\nsave $tmp/s.json\n2\nload $tmp/s.json\n1\n1\n1\n1\n"
# hot reload: the harbor scene gains a new narration while it is shown
cp "$lh" "$tmp/lh.json"
sed 's/The harbor is empty but for a small boat/The harbor is RELOADED/' "$lh" > "$tmp/lh2.json"
expect "reload" 0 "reloaded" -- sh -c 'cp "$2" "$3"; { printf "2\n"; sleep 0.2; cp "$4" "$3"; printf "reload\n1\n1\n1\n"; } | "$1" story play --text "$3"' _ "$bin" "$lh" "$tmp/lh.json" "$tmp/lh2.json"
if grep -q "The harbor is RELOADED" "$tmp/out" && grep -q "ENDING: Lost at sea" "$tmp/out"; then ok; else bad "reload: new narration shown, state kept"; fi
printf '2\n' > "$tmp/in"
expect "input ends" 3 "input ended before an ending" -- sh -c '"$1" story play --text "$2" < "$3"' _ "$bin" "$lh" "$tmp/in"
expect "bad choice" 3 "choice 9 is not available" -- sh -c 'printf "9\n" | "$1" story play --text "$2"' _ "$bin" "$lh"
# a replay log picks up where the session stopped
printf '3\n1\n' > "$tmp/in"
"$bin" story play --text "$lh" --log "$tmp/log.json" < "$tmp/in" > /dev/null
printf '1\n1\n1\n' > "$tmp/in"
expect "replay" 0 "ENDING: The light returns" -- sh -c '"$1" story play --text "$2" --replay "$3" < "$4"' _ "$bin" "$lh" "$tmp/log.json" "$tmp/in"
finish cli_story

# Sourced by the tests/cli_*.sh scripts: a temp dir, pass/fail counters,
# `expect` (a command's exit code and a pattern in its output) and the
# closing "N passed, N failed" line. Not a test itself.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
expect() { # expect NAME CODE PATTERN -- command...
  local name=$1 code=$2 pat=$3
  shift 4
  "$@" > "$tmp/out" 2> "$tmp/err"
  local rc=$?
  if [ "$rc" -eq "$code" ] && grep -qiE -- "$pat" "$tmp/out" "$tmp/err"; then
    ok
  else
    bad "$name: exit $rc (want $code), pattern '$pat'"
    sed 's/^/  | /' "$tmp/out" "$tmp/err" | head -30
  fi
}
finish() { # finish SUITE: prints the closing line, returns non-zero on failures
  echo "$1: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}

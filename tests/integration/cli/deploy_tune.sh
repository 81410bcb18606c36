#!/usr/bin/env bash
# deploy/tune: reports without changing anything, refuses unknown options,
# and --apply sets the recommended value (restored afterwards).
set -euo pipefail
src=$(cd "$(dirname "$0")/../../.." && pwd)
tune=$src/deploy/tune
knob=/sys/module/haltpoll/parameters/guest_halt_poll_ns

fail() { echo "FAIL: $*" >&2; exit 1; }

before=$(cat "$knob" 2>/dev/null || echo none)
out=$("$tune") || fail "report mode exited $?"
echo "$out"
echo "$out" | grep -qE '^guest_halt_poll_ns +([0-9]+|not on this machine)' ||
    fail "no guest_halt_poll_ns line"
[ "$(cat "$knob" 2>/dev/null || echo none)" = "$before" ] || fail "report mode changed $knob"
rc=0
"$tune" --bogus >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "an unknown option exited $rc, not 2"

if [ "$before" != none ] && [ -w "$knob" ]; then
    trap 'echo "$before" > "$knob"' EXIT
    "$tune" --apply || fail "--apply exited $?"
    [ "$(cat "$knob")" = 200000 ] || fail "--apply left $knob at $(cat "$knob")"
    "$tune" | grep -q '200000 (recommended)' || fail "report after --apply"
fi
echo "ok: deploy/tune"

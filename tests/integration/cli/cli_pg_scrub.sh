#!/usr/bin/env bash
# `cairn pg scrub` and `pg deep-scrub` against monitors only (no OSD, so
# no scrub runs): usage errors exit 2; a PG or pool that does not exist and
# a PG without an OSD up fail with exit 1, one line per PG on stdout naming
# the reason and a summary on stderr; --pool walks every PG of the pool in
# order; --json gives one array with the documented fields.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

cluster_up --mons 1
expect_rc 0 cairn pool create rbd --size 1 --pg-num 4

expect_rc 2 cairn pg scrub
expect_rc 2 cairn pg deep-scrub 1.zz
grep -q "bad PGID '1.zz'" "$DIR/stderr" || fail "bad PGID message: $(cat "$DIR/stderr")"
expect_rc 2 cairn pg scrub 1.0 --pool rbd
expect_rc 2 cairn pg scrub --pool
expect_rc 2 cairn pg scrub --deep 1.0

expect_rc 1 cairn pg scrub 1.9 7.0
[[ $(cat "$DIR/stdout") == "pg 1.9: scrub failed: pg 1.9 does not exist (pool 1 has 4 PGs)
pg 7.0: scrub failed: pool 7 does not exist" ]] || fail "missing PG and pool: $(cat "$DIR/stdout")"
[[ $(cat "$DIR/stderr") == "cairn: pg scrub 1.9: 2 of 2 PGs failed" ]] ||
    fail "summary: $(cat "$DIR/stderr")"
expect_rc 1 cairn pg deep-scrub --pool nope
[[ $(cat "$DIR/stderr") == "cairn: pg deep-scrub: pool 'nope' does not exist" ]] ||
    fail "unknown pool: $(cat "$DIR/stderr")"

expect_rc 1 cairn pg deep-scrub 1.2 --timeout 1
grep -qx 'pg 1.2: deep-scrub failed: pg 1.2 has no OSD up to serve it (waited 1000 ms)' \
    "$DIR/stdout" || fail "no OSD: $(cat "$DIR/stdout")"

expect_rc 1 cairn pg deep-scrub --pool rbd --timeout 0.5 --json
"$PY" - "$DIR/stdout" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
assert [p["pgid"] for p in a] == ["1.0", "1.1", "1.2", "1.3"], a
for p in a:
    assert p["deep"] is True and p["result"] == "error", p
    assert p["objects"] is None and p["inconsistent"] is None, p
    assert p["repaired"] is None and p["duration_ms"] is None, p
    assert "has no OSD up" in p["error"], p
PY
log "ok"

#!/usr/bin/env bash
# Pools through the CLI: create, ls, set, rm, with the exit codes of the
# operator contract: 1 and a one-line reason for a failed operation (a
# duplicate), 2 with usage for a bad command line.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

cluster_up --mons 3

expect_rc 0 cairn pool create rbd --size 3 --pg-num 64
expect_rc 1 cairn pool create rbd
[[ $(cat "$DIR/stderr") == "cairn: pool create rbd: pool 'rbd' already exists" ]] ||
    fail "duplicate pool message: $(cat "$DIR/stderr")"
[[ $(wc -l <"$DIR/stderr") == 1 ]] || fail "the failure is not one line"

cairn pool ls --json >"$DIR/pools.json"
"$PY" - "$DIR/pools.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["pools"]
assert len(p) == 1, p
assert p[0]["name"] == "rbd" and p[0]["size"] == 3 and p[0]["pg_num"] == 64, p
assert p[0]["min_size"] == 2 and p[0]["failure_domain"] == "host", p
PY
cairn pool ls | grep -qE '^[0-9]+ +rbd +3 +2 +64 +host$' || fail "pool ls table: $(cairn pool ls)"

expect_rc 0 cairn pool set rbd min_size 1
[[ $(cairn pool ls --json | json 'j["pools"][0]["min_size"]') == 1 ]] || fail "pool set min_size"
expect_rc 1 cairn pool set rbd size 0
expect_rc 1 cairn pool set nosuch size 2
expect_rc 1 cairn pool set rbd colour 2
grep -q "unknown pool property" "$DIR/stderr" || fail "pool set reason: $(cat "$DIR/stderr")"

# Usage errors: exit 2, usage on stderr, nothing done.
expect_rc 2 cairn pool create
grep -q "^usage:" "$DIR/stderr" || fail "no usage on stderr"
expect_rc 2 cairn pool create x --size many
expect_rc 2 cairn pool create x --failure-domain rack
expect_rc 2 cairn pool set rbd size
expect_rc 2 cairn pool frobnicate
expect_rc 2 cairn pool rm rbd
grep -q -- "--yes-i-really-mean-it" "$DIR/stderr" || fail "pool rm without confirmation"
[[ $(cairn pool ls --json | json 'len(j["pools"])') == 1 ]] || fail "a usage error changed pools"

expect_rc 0 cairn pool rm rbd --yes-i-really-mean-it
[[ $(cairn pool ls --json | json 'len(j["pools"])') == 0 ]] || fail "pool rm"
expect_rc 1 cairn pool rm rbd --yes-i-really-mean-it
expect_rc 0 cairn pool create rbd --failure-domain osd
[[ $(cairn pool ls --json | json 'j["pools"][0]["failure_domain"]') == osd ]] ||
    fail "--failure-domain osd"
[[ $(cairn status --json | json 'j["pools"]') == 1 ]] || fail "status pool count"
log "ok"

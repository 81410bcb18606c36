#!/usr/bin/env bash
# cairn bench: write then read back small objects for a second each, the
# JSON keys of the report, read before write failing clearly, cleanup.
# Skips (77) while OSDs cannot be started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_osd.sh"

osd_cluster_up 3
expect_rc 0 cairn pool create bench --size 3 --pg-num 16

expect_rc 1 cairn bench bench read --seconds 1
grep -q "run \`cairn bench bench write\` first" "$DIR/stderr" ||
    fail "read before write: $(cat "$DIR/stderr")"

cairn bench bench write --size 64K --threads 4 --seconds 1 --objects 8 --json >"$DIR/w.json"
"$PY" - "$DIR/w.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("ops", "seconds", "ops_per_s", "mb_per_s", "lat_p50_us", "lat_p99_us",
          "lat_max_us", "errors"):
    assert k in r, k
assert r["ops"] > 0 and r["errors"] == 0, r
assert r["lat_p50_us"] <= r["lat_p99_us"] <= r["lat_max_us"], r
PY
expect_rc 0 cairn bench bench read --size 64K --threads 4 --seconds 1 --objects 8
grep -q "^ops/s " "$DIR/stdout" || fail "human bench output: $(cat "$DIR/stdout")"
[[ $(cairn ls bench | grep -c '^bench\.') == 8 ]] || fail "bench objects: $(cairn ls bench)"
expect_rc 0 cairn bench bench cleanup
[[ $(cairn ls bench | wc -l) == 0 ]] || fail "cleanup left: $(cairn ls bench)"
expect_rc 2 cairn bench bench write --size 0
expect_rc 2 cairn bench bench fly
log "ok"

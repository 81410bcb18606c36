#!/usr/bin/env bash
# PGs in the CLI's views: `osd tree` counts each OSD's PGs (total and
# primary, from the map) over every pool, `status --json` maps PG states (as
# the primaries report them) to counts, and health turns degraded PGs into
# a warning with the count. Skips (77) while OSDs cannot be started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_osd.sh"

osd_cluster_up 3
expect_rc 0 cairn pool create a --size 3 --pg-num 16
expect_rc 0 cairn pool create b --size 2 --pg-num 8

cairn osd tree --json >"$DIR/tree.json"
"$PY" - "$DIR/tree.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
osds = [o for h in t["hosts"] for o in h["osds"]]
assert len(t["hosts"]) == 3 and len(osds) == 3, t
# size 3 over 3 hosts: every OSD holds all 16 PGs of a; b's 8 PGs, 2 copies each.
assert sum(o["pgs"] for o in osds) == 16 * 3 + 8 * 2, osds
assert sum(o["primary_pgs"] for o in osds) == 16 + 8, osds
assert all(o["pgs"] >= 16 and o["up"] and o["in"] for o in osds), osds
PY
cairn osd tree | head -1 | grep -qE '^ID +WEIGHT +NAME +STATUS +IN +PGS +PRIMARY$' ||
    fail "osd tree header: $(cairn osd tree | head -1)"

# The primaries' first beacons carry the new pools' PGs within a second or two.
clean() { cairn status --json | json 'j["pgs"]["active+clean"]' | grep -qx 24; }
wait_for 30 clean || fail "PGs not active+clean: $(cairn status --json)"
cairn status --json >"$DIR/status.json"
"$PY" - "$DIR/status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["pgs"] == {"total": 24, "active+clean": 24}, s["pgs"]
assert s["health"]["status"] == "ok", s["health"]
for k in ("health", "monitors", "osds", "epoch", "pools"):
    assert k in s, k
PY
cairn status | grep -qE '^pgs: +24 \(24 active\+clean\)$' || fail "human pgs: $(cairn status)"

# One OSD down: a's PGs lose a copy (degraded); warn with the count.
kill -9 "$(cat "$DIR/pid/osd.2.pid")"
degraded() {
    [[ $(cairn status --json |
         json 'sum(n for s, n in j["pgs"].items() if "degraded" in s.split("+"))') -gt 0 ]]
}
wait_for 60 degraded || fail "no degraded PGs after osd.2 died: $(cairn status --json)"
cairn health | grep -qE '^  [0-9]+ PGs? degraded: (osd\.2 is down|fewer copies up than size)$' ||
    fail "health: $(cairn health)"
[[ $(cairn health --json | json 'j["status"]') == warn ]] || fail "health status"
log "ok"

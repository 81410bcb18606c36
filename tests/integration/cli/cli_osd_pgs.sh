#!/usr/bin/env bash
# PGs in the CLI's views: `osd tree` counts each OSD's PGs (total and
# primary, from the map) over every pool, `osd map` places one object (the
# PG and up set `pg ls` shows for it), `status --json` maps PG states (as
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

# osd map: text and JSON agree, with pg ls's up set for that PG; the pool's
# size is the up set's; an unknown pool fails (1), a missing name is usage (2).
cairn osd map a obj1 >"$DIR/map.txt"
grep -qE "^pool 'a' \([0-9]+\) object 'obj1' -> pg [0-9]+\.[0-9a-f]+ -> up \[[0-9],[0-9],[0-9]\], primary osd\.[0-9]$" \
    "$DIR/map.txt" || fail "osd map a obj1: $(cat "$DIR/map.txt")"
cairn --json osd map a obj1 >"$DIR/map.json"
cairn --json osd map b obj1 >"$DIR/map_b.json"
cairn --json pool ls >"$DIR/pools.json"
cairn --json pg ls >"$DIR/pgs.json"
"$PY" - "$DIR/map.json" "$DIR/map_b.json" "$DIR/pools.json" "$DIR/pgs.json" "$DIR/map.txt" <<'PY'
import json, sys
m, mb, pools, pgs = (json.load(open(f)) for f in sys.argv[1:5])
text = open(sys.argv[5]).read().strip()
ids = {p["name"]: p["id"] for p in pools["pools"]}
assert sorted(m) == ["object", "pgid", "pool", "pool_id", "primary", "up"], m
assert m["pool"] == "a" and m["pool_id"] == ids["a"] and m["object"] == "obj1", m
assert m["pgid"].split(".")[0] == str(ids["a"]), m
assert len(m["up"]) == 3 and len(set(m["up"])) == 3 and m["primary"] == m["up"][0], m
assert text == "pool 'a' (%d) object 'obj1' -> pg %s -> up [%s], primary osd.%d" % (
    m["pool_id"], m["pgid"], ",".join(map(str, m["up"])), m["primary"]), (text, m)
assert [p["up"] for p in pgs if p["pgid"] == m["pgid"]] == [m["up"]], (m, pgs)
assert mb["pool_id"] == ids["b"] and len(mb["up"]) == 2 and mb["primary"] == mb["up"][0], mb
assert [p["up"] for p in pgs if p["pgid"] == mb["pgid"]] == [mb["up"]], (mb, pgs)
PY
expect_rc 1 cairn osd map nopool obj1
grep -qx "cairn: osd map nopool: pool 'nopool' does not exist" "$DIR/stderr" ||
    fail "osd map of an unknown pool: $(cat "$DIR/stderr")"
expect_rc 1 cairn --json osd map nopool obj1
[[ ! -s $DIR/stdout ]] || fail "osd map --json of an unknown pool printed: $(cat "$DIR/stdout")"
expect_rc 2 cairn osd map a

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
# osd map follows the map: osd.2 has left the up set.
map_without_2() {
    cairn --json osd map a obj1 |
        json '2 not in j["up"] and len(j["up"]) == 2 and j["primary"] == j["up"][0]' | grep -qx True
}
wait_for 30 map_without_2 || fail "osd map with osd.2 down: $(cairn osd map a obj1)"
log "ok"

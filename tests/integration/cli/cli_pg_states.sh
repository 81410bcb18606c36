#!/usr/bin/env bash
# Real PG states, as the primaries report them in their beacons and the
# leader monitor hands out: `status --json` reaches pgs.total ==
# pgs["active+clean"] for a new size-3 pool on 3 OSDs, every monitor answers
# PG_STATS (the followers relay it to the leader), `pg ls --json` lists
# every PG with its up and acting sets, and after kill -9 of one OSD (once
# the map marks it down) status, pg ls and health show the PGs degraded and
# undersized, naming the down OSD. Skips (77) while OSDs cannot be started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_osd.sh"

osd_cluster_up 3 3
expect_rc 0 cairn pool create a --size 3 --pg-num 16

# all_clean: the OSDs' reports (not the map) say every PG is active+clean.
all_clean() {
    cairn status --json | json 'j["pg_stats"] == "osds" and j["pgs"]["total"] == 16 and
                                j["pgs"]["total"] == j["pgs"]["active+clean"]' | grep -qx True
}
wait_for 60 all_clean || fail "PGs not active+clean: $(cairn status --json)"
cairn status | grep -qE '^pgs: +16 \(16 active\+clean\)$' || fail "human pgs: $(cairn status)"
cairn status | grep -qE '^recovery: +0 objects missing, [0-9.]+ objects/s$' ||
    fail "human recovery line: $(cairn status)"

# Every monitor has the answer: the leader its own, the followers relayed.
MTC=$CAIRN_BUILD_DIR/tests/integration/mon/mon_test_client
if [[ -x $MTC ]]; then
    asked=0
    for addr in $(sed -n 's/^mon_host = //p' "$CONF" | tr ',' '\n' | cut -d= -f2); do
        got=$("$MTC" -k "$DIR/keyring" pg-stats "$addr") || fail "pg-stats from $addr failed"
        [[ $got == pgs=16 ]] || fail "pg-stats from $addr: $got"
        asked=$((asked + 1))
    done
    [[ $asked == 3 ]] || fail "asked $asked monitors, not 3"
else
    log "$MTC is missing; not asking each monitor"
fi

cairn pg ls --json >"$DIR/pgs.json"
cairn pool ls --json >"$DIR/pools.json"
"$PY" - "$DIR/pgs.json" "$DIR/pools.json" <<'PY'
import json, re, sys
pgs = json.load(open(sys.argv[1]))
pools = json.load(open(sys.argv[2]))
pools = pools["pools"] if isinstance(pools, dict) else pools
pool = [p for p in pools if p["name"] == "a"][0]["id"]
assert sorted(p["pgid"] for p in pgs) == sorted("%d.%x" % (pool, ps) for ps in range(16)), pgs
for p in pgs:
    assert p["state"] == "active+clean", p
    assert p["pool"] == pool and p["pgid"] == "%d.%x" % (pool, p["ps"]), p
    assert len(p["up"]) == 3 and sorted(p["up"]) == [0, 1, 2], p
    assert p["acting"] == p["up"] and p["primary"] == p["acting"][0], p
    assert re.fullmatch(r"\d+'\d+", p["last_update"]), p
    assert p["missing"] == 0 and isinstance(p["objects"], int), p
    assert "last_scrub" in p and "last_deep_scrub" in p, p
PY
[[ $(cairn pg ls --pool a --json | json 'len(j)') == 16 ]] || fail "pg ls --pool a"
expect_rc 1 cairn pg ls --pool nosuch
expect_rc 2 cairn pg ls --bogus
cairn pg ls | head -1 | grep -qE '^PG +STATE +OBJECTS +MISSING +UP +ACTING +LAST_UPDATE +LAST_SCRUB +LAST_DEEP_SCRUB$' ||
    fail "pg ls header: $(cairn pg ls | head -1)"
[[ $(cairn pg ls | wc -l) == 17 ]] || fail "pg ls lines: $(cairn pg ls)"
log "16 PGs active+clean, listed with their acting sets"

# osd.2 dies: once the map says so, every PG lost a copy.
kill -9 "$(cat "$DIR/pid/osd.2.pid")"
wait_for 60 osds_up_is 2 || fail "osd.2 never marked down: $(cairn status --json)"
degraded_all() {
    cairn status --json | json 'j["pg_stats"] == "osds" and sum(n for s, n in j["pgs"].items()
        if "degraded" in s.split("+") and "undersized" in s.split("+")) == 16' | grep -qx True
}
wait_for 30 degraded_all || fail "PGs not degraded+undersized: $(cairn status --json)"
cairn status --json >"$DIR/status.json"
"$PY" - "$DIR/status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["health"]["status"] == "warn", s["health"]
assert "16 PGs degraded: osd.2 is down" in s["health"]["reasons"], s["health"]
assert s["pgs"]["total"] == 16 and s["pgs"]["active+clean"] == 0, s["pgs"]
r = s["recovery"]
assert isinstance(r["objects_missing"], int) and r["objects_per_s"] >= 0, r
PY
cairn health | grep -qx '  16 PGs degraded: osd\.2 is down' || fail "health: $(cairn health)"
[[ $(cairn health --json | json 'j["status"]') == warn ]] || fail "health --json"
cairn pg ls --json | json 'all(2 not in p["up"] and len(p["up"]) == 2 and
                               "undersized" in p["state"] for p in j)' | grep -qx True ||
    fail "pg ls after osd.2 died: $(cairn pg ls)"
log "ok"

#!/usr/bin/env bash
# deploy/cluster up with 3 monitors; `cairn status --json` carries the
# operator-contract fields with the right values; `osd ls` is empty; `down`
# leaves no process behind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

cluster_up --mons 3
cairn status --json >"$DIR/status.json"
cat "$DIR/status.json" >&2
"$PY" - "$DIR/status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
def check(cond, what):
    if not cond:
        sys.exit("status --json: " + what + ": " + json.dumps(s))
check(s["health"]["status"] in ("ok", "warn", "error"), "health.status")
check(isinstance(s["health"]["reasons"], list), "health.reasons")
check(all(isinstance(r, str) and r for r in s["health"]["reasons"]), "reasons are sentences")
check(s["health"]["status"] == "warn", "no OSDs means warn")
check("no OSDs in the cluster" in s["health"]["reasons"], "the no-OSD reason")
m = s["monitors"]
check(sorted(m["quorum"]) == ["a", "b", "c"], "3 monitors in quorum")
check(m["leader"] in ("a", "b", "c"), "a leader")
check(m["total"] == 3, "3 monitors")
check(s["osds"] == {"total": 0, "up": 0, "in": 0}, "osds")
check(isinstance(s["epoch"], int) and s["epoch"] >= 1, "epoch >= 1")
check(s["pools"] == 0, "pools")
check(len(s["fsid"]) == 36, "fsid")
PY
grep -q "^fsid = $(cairn status --json | json 'j["fsid"]')$" "$CONF" || fail "fsid differs from the config's"

# Human output and the JSON of health.
cairn status | grep -q '^health: *HEALTH_WARN' || fail "human status lacks the health line"
[[ $(cairn health --json | json 'j["status"]') == warn ]] || fail "health --json"
expect_rc 0 cairn health

# No OSDs yet.
[[ $(cairn osd ls --json | json 'len(j["osds"])') == 0 ]] || fail "osd ls --json not empty"
[[ $(cairn osd ls | wc -l) == 1 ]] || fail "osd ls prints more than its header"
[[ $(cairn osd tree --json | json 'len(j["hosts"])') == 0 ]] || fail "osd tree not empty"
[[ $(cairn mon ls --json | json 'len(j["monitors"])') == 3 ]] || fail "mon ls"

mapfile -t pids < <(live_pids)
[[ ${#pids[@]} -eq 3 ]] || fail "expected 3 running monitors, found ${#pids[@]}"
"$CLUSTER" down --dir "$DIR" >&2
for pid in "${pids[@]}"; do
    ! kill -0 "$pid" 2>/dev/null || fail "pid $pid still runs after down"
done
if pgrep -f -- "$CONF" >/dev/null; then
    fail "processes using $CONF survive down: $(pgrep -af -- "$CONF")"
fi
log "ok"

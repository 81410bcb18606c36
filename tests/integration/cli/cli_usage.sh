#!/usr/bin/env bash
# Store capacity and use end to end: the OSDs' beacons carry their store's
# size and use, the leader keeps them, every monitor answers them (the
# followers relay), and `cairn status` and libcairn's statfs show them.
#   - bytes_total is exactly the sum of the three data files: a store
#     reports whole 4 KiB blocks of its data file and CAIRN_OSD_DATA_SIZE
#     (256M) is a whole number of them, so no tolerance is needed;
#   - a 64 MiB object in a size-3 pool raises bytes_used by at least
#     3 x 64 MiB less 3 MiB (1 MiB per replica: the aligned object goes to
#     fresh 4 KiB blocks, so nothing should be missing; the slack only
#     keeps the check from depending on how the OSD splits one write,
#     while a missing replica, 64 MiB, still fails it);
#   - cairn_fs_statfs (through usage_probe) gives those totals over the
#     pool's 3 replicas in 4 KiB blocks;
#   - a killed OSD stops counting once the map marks it down.
# Skips (77) while OSDs cannot be started.
set -euo pipefail
export CAIRN_OSD_DATA_SIZE=256M
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_osd.sh"
PROBE=$CAIRN_BUILD_DIR/tests/integration/cli/usage_probe
MTC=$CAIRN_BUILD_DIR/tests/integration/mon/mon_test_client
for bin in "$PROBE" "$MTC"; do
    if [[ ! -x $bin ]]; then
        log "$bin is missing; skipping"
        exit 77
    fi
done

STORE=$((256 << 20))
OBJ=$((64 << 20))
osd_cluster_up 3 3

# usage KEY: status --json's usage.KEY, or "none" while usage is unknown.
usage() { cairn status --json | json "j['usage']['$1'] if 'usage' in j else 'none'"; }
total_is() { [[ $(usage bytes_total) == "$1" ]]; }
used_at_least() { local u; u=$(usage bytes_used); [[ $u != none ]] && ((u >= $1)); }

wait_for 30 total_is $((3 * STORE)) ||
    fail "bytes_total is $(usage bytes_total), not 3 x $STORE: $(cairn status --json)"
cairn status --json | json 'j["usage"]["bytes_avail"] == j["usage"]["bytes_total"] -
                           j["usage"]["bytes_used"]' | grep -qx True ||
    fail "bytes_avail is not total - used: $(cairn status --json)"
cairn status | grep -qE '^usage: +[0-9.]+ (B|KiB|MiB) used of 768 MiB \([0-9]+%\)$' ||
    fail "human usage line: $(cairn status)"

# Every monitor hands out the same usage (followers relay to the leader).
for addr in $(sed -n 's/^mon_host = //p' "$CONF" | tr ',' '\n' | cut -d= -f2); do
    got=$("$MTC" -k "$DIR/keyring" pg-usage "$addr") || fail "pg-usage from $addr failed"
    [[ $got =~ ^osds=3\ total=$((3 * STORE))\ used=[0-9]+$ ]] || fail "pg-usage from $addr: $got"
done
log "bytes_total $((3 * STORE)) from every monitor"

# 64 MiB into a size-3 pool: every replica's blocks show up in bytes_used.
expect_rc 0 cairn pool create cap --size 3 --min-size 2 --pg-num 16
before=$(usage bytes_used)
head -c "$OBJ" /dev/urandom >"$DIR/big"
expect_rc 0 cairn put cap big "$DIR/big"
rm -f "$DIR/big"
want=$((before + 3 * OBJ - 3 * (1 << 20)))
wait_for 30 used_at_least "$want" ||
    fail "bytes_used went from $before to $(usage bytes_used), wanted >= $want"
log "bytes_used $before -> $(usage bytes_used) after a 64 MiB object x 3"

# statfs of a volume in that pool: the same figures over 3 replicas. The
# probe samples the usage before and after its statfs; compare only a
# sample in which no beacon landed in between.
expect_rc 0 cairn fs create capfs --pool cap
statfs_matches() {
    "$PROBE" "$CONF" cap capfs >"$DIR/probe.json" || fail "usage_probe failed"
    "$PY" - "$DIR/probe.json" "$((3 * STORE))" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
u, f = p["usage_before"], p["statfs"]
if u is None or u != p["usage_after"]:
    sys.exit(1)  # unknown, or moving: sample again
def check(cond, what):
    if not cond:
        print("statfs: " + what + ": " + json.dumps(p), file=sys.stderr)
        sys.exit(2)
check(u["bytes_total"] == int(sys.argv[2]), "usage total")
check(f["bsize"] == 4096 and f["frsize"] == 4096, "block sizes")
check(f["blocks"] == u["bytes_total"] // 4096 // 3, "blocks = total / 3 replicas")
check(f["bfree"] == (u["bytes_total"] - u["bytes_used"]) // 4096 // 3, "bfree")
check(f["bavail"] == f["bfree"], "bavail")
check(f["blocks"] - f["bfree"] >= (64 << 20) // 4096, "the object's blocks are in use")
check(f["namemax"] == 255, "namemax")
check(f["files"] > 0 and f["ffree"] > 0 and f["files"] >= f["ffree"], "inode counts")
PY
}
rc=0
for _ in $(seq 20); do
    rc=0
    statfs_matches || rc=$?
    [[ $rc -eq 1 ]] || break
done
[[ $rc -eq 0 ]] || fail "statfs does not match the usage (rc $rc): $(cat "$DIR/probe.json")"
log "statfs: $(cat "$DIR/probe.json")"

# osd.2 dies: once the map has it down its store no longer counts.
kill -9 "$(cat "$DIR/pid/osd.2.pid")"
wait_for 60 osds_up_is 2 || fail "osd.2 never marked down: $(cairn status --json)"
total_is $((2 * STORE)) || fail "bytes_total with osd.2 down: $(usage bytes_total)"
log "ok"

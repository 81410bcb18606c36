#!/usr/bin/env bash
# An OSD killed with -9 is marked down by the monitors (peers' failure
# reports, or the beacon grace) within a deadline; `deploy/cluster up`
# restarts it and it comes back up, keeping its data.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

cluster_up --osds 3 --hosts 3
expect_rc 0 cairn pool create data --size 1 --pg-num 16
echo "survives a restart" | cairn put data keep
pid=$(cat "$DIR/pid/osd.1.pid")
kill -9 "$pid"
start=$SECONDS
wait_for 15 osd_is 1 down || fail "osd.1 still up $((SECONDS - start))s after kill -9"
log "osd.1 marked down after $((SECONDS - start))s"
grep -h "osd.1 silent" "$DIR"/log/osd.[02].log >&2 || log "(no heartbeat report: beacon grace)"
[[ $(osds_up) == 2 ]] || fail "status: $(osds_up) OSDs up, not 2"

"$CLUSTER" up --dir "$DIR" >"$DIR/up2.out" 2>&1 || fail "up: $(cat "$DIR/up2.out")"
grep -q "started osd.1" "$DIR/up2.out" || fail "up did not restart osd.1"
osd_is 1 up || fail "osd.1 not up after deploy/cluster up"
[[ $(cairn get data keep) == "survives a restart" ]] || fail "object lost across the restart"
log "ok"

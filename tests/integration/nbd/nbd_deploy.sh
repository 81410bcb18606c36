#!/usr/bin/env bash
# deploy/cluster up --nbd PORT starts cairn-nbd there (daemon nbd.0, pool
# "images" created), `status` lists it, a real client reaches an image
# through it, and `down` stops it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools nbdinfo

PORT=$(free_port)
cluster_up --mons 1 --osds 1 --hosts 1 --nbd "$PORT"
grep -q "nbd.0" "$DIR/up.out" || fail "up did not report nbd.0"
mkimage vol 16M
nbdinfo --json "$(uri vol)" | json "j['exports'][0]['export-size']" >"$DIR/size" ||
    fail "nbdinfo through the deployed cairn-nbd failed"
[[ $(cat "$DIR/size") -eq $((16 << 20)) ]] || fail "size $(cat "$DIR/size")"
"$CLUSTER" status --dir "$DIR" >"$DIR/status" 2>&1 || fail "status failed"
grep -q "^nbd.0 *running" "$DIR/status" || fail "status does not show nbd.0: $(cat "$DIR/status")"
pid=$(cat "$DIR/pid/nbd.0.pid")
"$CLUSTER" down --dir "$DIR" >/dev/null || fail "down failed"
! kill -0 "$pid" 2>/dev/null || fail "cairn-nbd still runs after down"
log "ok"

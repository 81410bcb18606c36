#!/usr/bin/env bash
# 10,000 objects of 0 B to 16 MiB written by 8 concurrent clients, read back
# and compared byte for byte, listed; then one OSD is killed with SIGKILL and
# restarted, and every object must read back the same and be listed again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

dp_cluster_up 3 dp
DPO=("$DP_BIN/dp_objects" "$CONF" dp --objects 10000 --clients 8 --seed 7)
"${DPO[@]}" write || fail "writing the objects failed"
"${DPO[@]}" verify || fail "the objects did not read back"
"${DPO[@]}" list || fail "the listing was wrong"

victim=1
kill -9 "$(osd_pid $victim)"
wait_for 30 osd_is_down $victim || fail "osd.$victim was not marked down"
cluster_up
wait_for 60 osd_is_up $victim || fail "osd.$victim did not come back up"
"${DPO[@]}" verify || fail "objects changed across the OSD restart"
"${DPO[@]}" list || fail "the listing changed across the OSD restart"
log "ok"

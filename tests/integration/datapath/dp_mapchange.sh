#!/usr/bin/env bash
# A client keeps working across map changes: 4 clients write and read back
# objects without pause while the map moves on (new pools), an OSD is
# killed (its PGs wait, the map marks it down) and restarted (they resume).
# Every op must succeed, and every object must read back afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

dp_cluster_up 3 dp
CHURN_S=40
"$DP_BIN/dp_objects" "$CONF" dp churn --seconds $CHURN_S --clients 4 --seed 11 \
    --max-size $((1 << 20)) >"$DIR/churn.out" 2>&1 &
churn=$!
for p in a b c; do
    cairn pool create "mc-$p" --size 1 --pg-num 8 >/dev/null || fail "pool create mc-$p"
done
victim=2
kill -9 "$(osd_pid $victim)"
wait_for 30 osd_is_down $victim || fail "osd.$victim was not marked down"
cluster_up
wait_for 60 osd_is_up $victim || fail "osd.$victim did not come back up"
cairn pool create mc-d --size 1 --pg-num 8 >/dev/null || fail "pool create mc-d"
wait "$churn" || { cat "$DIR/churn.out" >&2; fail "ops failed across the map changes"; }
cat "$DIR/churn.out" >&2
n=$(sed -n 's/^churned \([0-9]*\) objects$/\1/p' "$DIR/churn.out")
[[ -n $n && $n -gt 0 ]] || fail "the churn wrote nothing"
"$DP_BIN/dp_objects" "$CONF" dp verify --objects "$n" --clients 4 --seed 11 \
    --max-size $((1 << 20)) || fail "objects written across the map changes did not read back"
log "ok ($n objects)"

#!/usr/bin/env bash
# OSDs killed with SIGKILL at random moments under write load lose no
# acknowledged write: 4 clients overwrite 64 objects (4 KiB to 1 MiB each,
# every block stamped with its generation) for WRITE_S seconds while this
# script kills a random OSD every 2-5 s and restarts it at once; then
# osd_kill_writer checks that every object holds one whole generation, at
# least the last one acknowledged (tests/fault/osd_kill_writer.c).
set -euo pipefail
source "$(dirname "$0")/../integration/datapath/lib.sh"
WRITER=$CAIRN_BUILD_DIR/tests/fault/osd_kill_writer
[[ -x $WRITER ]] || { log "$WRITER is missing; skipping"; exit 77; }

OSDS=3
WRITE_S=${CAIRN_KILL_SECONDS:-45}
KILL_S=$((WRITE_S - 15))
SEED=${CAIRN_SEED:-$RANDOM}
log "seed $SEED (replay: CAIRN_SEED=$SEED)"
RANDOM=$SEED

dp_cluster_up $OSDS dp
"$WRITER" "$CONF" dp --seconds "$WRITE_S" --objects 64 --clients 4 >"$DIR/writer.out" 2>&1 &
writer=$!
kills=0
deadline=$((SECONDS + KILL_S))
while ((SECONDS < deadline)); do
    sleep "$((2 + RANDOM % 4)).$((RANDOM % 10))" # the fault schedule, not a wait
    victim=$((RANDOM % OSDS))
    pid=$(osd_pid $victim)
    kill -0 "$pid" 2>/dev/null || continue
    kill -9 "$pid"
    kills=$((kills + 1))
    log "killed osd.$victim (pid $pid)"
    cluster_up
done
wait_for 60 osds_up_is $OSDS || fail "the OSDs did not all come back up"
rc=0
wait "$writer" || rc=$?
cat "$DIR/writer.out" >&2
[[ $rc -eq 0 ]] || fail "acknowledged writes were lost or altered, or writes failed ($kills kills)"
((kills > 0)) || fail "no OSD was killed"
log "ok: $kills kills"

#!/usr/bin/env bash
# cairn-nbd killed with SIGKILL at random moments under write load loses no
# acknowledged write: nbd_kill_writer.py (4 libnbd connections, up to 4
# writes in flight each, FUA or write + flush) overwrites 128 stamped ranges
# of a 64 MiB image (1 MiB objects) for WRITE_S seconds while this script
# kills cairn-nbd 4-8 times and restarts it on the same port. After every
# reconnect (before writing on) and at the end the writer checks that each
# range holds one whole generation, at least the last one acknowledged and
# at most the last one attempted. CAIRN_SEED replays a schedule, CAIRN_KILL_SECONDS
# sets the write time (default 45 s: kills in the first 30 s).
set -euo pipefail
export CAIRN_SOURCE_DIR=${CAIRN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$(dirname "$0")/../integration/nbd/lib.sh"
WRITER=$SRC/tests/fault/nbd_kill_writer.py
# nbd_cleanup's "(exit $rc)" under set -e would end the trap before the
# cluster is stopped whenever the test fails: run it without errexit.
kill_test_cleanup() {
    local rc=$?
    set +e
    (exit "$rc")
    nbd_cleanup
}
trap kill_test_cleanup EXIT
"$PY" -c 'import nbd' 2>/dev/null || { log "$PY has no nbd module (python3-libnbd); skipping"; exit 77; }

WRITE_S=${CAIRN_KILL_SECONDS:-45}
KILL_S=$((WRITE_S - 15))
SEED=${CAIRN_SEED:-$RANDOM}
log "seed $SEED (replay: CAIRN_SEED=$SEED)"
RANDOM=$SEED

# nbd_run: starts cairn-nbd on $PORT (appending to $DIR/nbd.log) and waits
# until it accepts; a start that fails (say, the port not yet free) is
# retried until the deadline.
nbd_run() {
    local deadline=$((SECONDS + 30))
    while ((SECONDS < deadline)); do
        "$NBD" -c "$CONF" --listen "127.0.0.1:$PORT" >>"$DIR/nbd.log" 2>&1 &
        NBD_PID=$!
        wait_for 10 nbd_accepts && return 0
        kill -0 "$NBD_PID" 2>/dev/null && break # runs but does not accept
        wait "$NBD_PID" || true
        log "cairn-nbd exited before accepting; starting it again"
    done
    fail "cairn-nbd does not accept on $PORT"
}

now_ms() { echo $((${EPOCHREALTIME//[.,]/} / 1000)); }

# Accepts on the port, and is still the process we started (not a stray).
nbd_accepts() { kill -0 "$NBD_PID" 2>/dev/null && accepts "$PORT"; }

cluster_up --mons 1 --osds 2 --hosts 2
wait_for 60 osds_up_is 2 || fail "the OSDs did not come up"
cairn pool create images --size 1 --min-size 1 --pg-num 16 >/dev/null ||
    fail "pool create images failed"
mkimage disk 64M 1M
PORT=$(free_port)
nbd_run

"$PY" "$WRITER" "$(uri disk)" --seconds "$WRITE_S" --seed "$SEED" --conns 4 --ranges 128 \
    >"$DIR/writer.out" 2>&1 &
writer=$!
kills=0
nkills=$((4 + RANDOM % 5))
# The fault schedule: nkills moments (ms after the writer started) drawn
# from 0.5 s .. KILL_S s; sleeping until each is the point, not a wait.
# ($RANDOM is read in this shell only: bash reseeds it in subshells.)
at=()
for ((i = 0; i < nkills; i++)); do
    at+=($((500 + (RANDOM * 32768 + RANDOM) % (KILL_S * 1000 - 500))))
done
mapfile -t at < <(printf '%s\n' "${at[@]}" | sort -n)
start_ms=$(now_ms)
for t in "${at[@]}"; do
    ms=$((start_ms + t - $(now_ms)))
    ((ms <= 0)) || sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
    kill -0 "$writer" 2>/dev/null || break
    kill -9 "$NBD_PID"
    wait "$NBD_PID" 2>/dev/null || true
    kills=$((kills + 1))
    killed_ms=$(now_ms)
    nbd_run
    log "kill $kills/$nkills of cairn-nbd at +${t} ms; accepting again after $(($(now_ms) - killed_ms)) ms"
done
rc=0
wait "$writer" || rc=$?
cat "$DIR/writer.out" >&2
((kills >= 4)) || fail "only $kills kills of cairn-nbd (the writer ended early?)"
[[ $rc -eq 0 ]] || fail "acknowledged writes were lost or altered, or writes failed ($kills kills)"
nbd_stop
log "ok: $kills kills"

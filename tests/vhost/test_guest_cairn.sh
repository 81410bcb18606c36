#!/usr/bin/env bash
# A real Linux guest (QEMU under TCG, busybox initramfs) on a
# vhost-user-blk-pci device served by cairn-vhost from a Cairn image on a
# local cluster (1 monitor, 1 OSD). The scenarios are tests/vhost/guest/
# lib.sh's, the same ones qemu-storage-daemon passes (test_guest_qsd.sh):
#
# Boot 1 writes patterns at several offsets with O_DIRECT, makes and uses an
# ext2, discards a range; then `cairn image export` must hold the patterns,
# a clean ext2 with the guest's files, and zeros where it discarded. Boot 2
# kills -9 cairn-vhost while the guest is idle, restarts it on the same
# socket; QEMU (reconnect=1) reconnects and the guest must read and write
# on, which the export checks again. Boot 3 kills -9 cairn-vhost twice at
# random moments while the guest writes and reads patterns (seed printed,
# CAIRN_SEED replays it): requests in flight at the kill are resubmitted by
# the restarted cairn-vhost from the inflight area QEMU keeps
# (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD), so the guest's I/O completes and
# every pattern reads back, in the guest and in the export. Skips (77)
# without QEMU, a guest kernel or the binaries.
set -euo pipefail
source "$(dirname "$0")/../integration/cli/lib.sh"
# shellcheck source=guest/lib.sh
source "$(dirname "$0")/guest/lib.sh"

OSD=$CAIRN_BUILD_DIR/osd/cairn-osd
VHOST=${CAIRN_VHOST_BIN:-$CAIRN_BUILD_DIR/gateway/vhost/cairn-vhost}
for bin in "$OSD" "$VHOST"; do
    [[ -x $bin ]] || { log "$bin is missing; skipping"; exit 77; }
done
guest_need

SOCK=$DIR/vhost.sock
VHOST_PID=""

vhost_cleanup() {
    local rc=$?
    set +e
    guest_cleanup
    if [[ -n $VHOST_PID ]]; then
        kill -KILL "$VHOST_PID" 2>/dev/null
        wait "$VHOST_PID" 2>/dev/null
    fi
    if [[ $rc -ne 0 && $rc -ne 77 ]]; then
        for f in "$DIR"/vhost.log "$DIR"/*.log.qemu "$DIR"/io.log "$DIR"/restart.log; do
            [[ -s $f ]] || continue
            echo "==> $f <==" >&2
            tail -n 30 "$f" >&2
        done
    fi
    (exit "$rc")
    cleanup
}
trap vhost_cleanup EXIT

# The backend: cairn-vhost serving image "disk" on $SOCK.
backend_start() {
    rm -f "$SOCK"
    "$VHOST" -c "$CONF" --image disk --socket "$SOCK" --queues 2 >>"$DIR/vhost.log" 2>&1 &
    VHOST_PID=$!
    wait_for 30 vhost_ready || fail "cairn-vhost does not listen on $SOCK"
}
vhost_ready() {
    kill -0 "$VHOST_PID" 2>/dev/null || fail "cairn-vhost exited: $(tail -n 3 "$DIR/vhost.log")"
    [[ -S $SOCK ]]
}
vhost_gone() { ! kill -0 "$VHOST_PID" 2>/dev/null; }
backend_kill() {
    kill -KILL "$VHOST_PID"
    wait "$VHOST_PID" 2>/dev/null || true
    VHOST_PID=""
}
# SIGTERM: cairn-vhost ends the session once its requests completed, and
# exits 0; every acknowledged write is in the cluster by then.
backend_stop() {
    local rc=0
    kill -TERM "$VHOST_PID"
    wait_for 30 vhost_gone || fail "cairn-vhost still runs 30 s after SIGTERM"
    wait "$VHOST_PID" || rc=$?
    VHOST_PID=""
    [[ $rc -eq 0 ]] || fail "cairn-vhost exited $rc on SIGTERM"
}
backend_export() {
    cairn image export disk "$DIR/export.raw" >/dev/null 2>"$DIR/export.err" ||
        { cat "$DIR/export.err" >&2; return 1; }
    echo "$DIR/export.raw"
}
backend_discard_zeroes() { true; } # a discarded range of an image reads as zeros

cluster_up --mons 1 --osds 1 --hosts 1
cairn pool create images --size 1 --min-size 1 --pg-num 16 >/dev/null ||
    fail "pool create images failed"
# Objects of 1 MiB: the plan's patterns then cover whole objects and parts.
cairn image create disk --size "${GUEST_DISK_MB}M" --object-size 1M >/dev/null ||
    fail "image create failed"
guest_make_data "$DIR/data"

# guest_scenario_busy_restart: kill -9 and restart cairn-vhost twice while
# the guest is doing I/O, at seeded random moments.
guest_scenario_busy_restart() {
    local seed=${CAIRN_SEED:-$RANDOM} raw rc=0 k delay
    log "boot 3: cairn-vhost killed twice during guest I/O (seed $seed)"
    RANDOM=$seed
    backend_start
    guest_run "$DIR/busy.log" --reconnect \
        --env CAIRN_STEPS=patterns:1,patterns:2,patterns:1,patterns:2,verify:1,verify:2 &
    RG_PID=$!
    wait_for "$GUEST_TIMEOUT_S" guest_marker "$DIR/busy.log" "CAIRN-GUEST-STEP patterns:1" ||
        fail "the guest never started its I/O"
    for k in 1 2; do
        delay=$((200 + RANDOM % 1800))
        # A random moment inside the I/O, not a wait for a condition.
        sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
        kill -0 "$RG_PID" 2>/dev/null || break
        backend_kill
        log "kill $k: cairn-vhost killed (SIGKILL) ${delay} ms into the guest's I/O"
        backend_start
    done
    wait "$RG_PID" || rc=$?
    RG_PID=""
    [[ $rc -eq 0 ]] || fail "the guest's I/O did not survive cairn-vhost being killed (seed $seed)"
    log "resubmitted after restarts: $(grep -o 'resubmitting [0-9]* requests' "$DIR/vhost.log" |
        awk '{s += $2} END {print s + 0}') requests"
    backend_stop
    raw=$(backend_export) || fail "cannot export the disk"
    guest_check_patterns "$raw" 1 2
}

guest_scenario_io
guest_scenario_restart
guest_scenario_busy_restart
grep -q "session closed" "$DIR/vhost.log" || fail "cairn-vhost logged no session end"
log "PASS"

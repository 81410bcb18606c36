#!/usr/bin/env bash
# A real Linux guest (QEMU under TCG, busybox initramfs) on a vhost-user-blk
# socket served by QEMU's reference backend, qemu-storage-daemon, over a raw
# file: proves the guest harness (run-guest, guest_io.sh, lib.sh) before
# cairn-vhost exists. A cairn-vhost test sources lib.sh the same way and
# replaces only the backend_* functions below.
#
# Boot 1 writes patterns at several offsets with O_DIRECT, makes and uses an
# ext2, discards a range; the host then checks the raw file (patterns,
# e2fsck, the files, zeros where discarded). Boot 2 (skip it with
# CAIRN_GUEST_RESTART=0) kills -9 qemu-storage-daemon while the guest is
# idle, restarts it on the same socket, and the guest, whose QEMU has
# reconnect=1, must read and write on. Skips (77) without QEMU or a kernel.
# CAIRN_GUEST_KEEP=1 keeps the temp dir (console logs, qsd.log).
set -euo pipefail

TEST=$(basename "$0" .sh)
log() { echo "$TEST: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

command -v qemu-storage-daemon >/dev/null ||
    { log "qemu-storage-daemon is missing (qemu-system-common); skipping"; exit 77; }
guest_need

DIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-$TEST.XXXXXX")
SOCK=$DIR/vhost.sock
DISK=$DIR/disk.raw
QSD_PID=""

cleanup() {
    local rc=$?
    set +e
    guest_cleanup
    if [[ -n $QSD_PID ]]; then
        kill -KILL "$QSD_PID" 2>/dev/null
        wait "$QSD_PID" 2>/dev/null
    fi
    if [[ $rc -ne 0 && $rc -ne 77 && -s $DIR/qsd.log ]]; then
        echo "==> qemu-storage-daemon's log <==" >&2
        tail -n 30 "$DIR/qsd.log" >&2
    fi
    if [[ -n ${CAIRN_GUEST_KEEP:-} ]]; then
        log "kept $DIR (console logs *.log)"
    else
        rm -rf "$DIR"
    fi
    exit "$rc"
}
trap cleanup EXIT

# The backend: qemu-storage-daemon exporting $DISK on $SOCK. It writes its
# pid file only once the export listens.
backend_start() {
    rm -f "$SOCK" "$DIR/qsd.pid"
    qemu-storage-daemon \
        --blockdev "driver=file,node-name=disk,filename=$DISK,discard=unmap" \
        --export "type=vhost-user-blk,id=exp,node-name=disk,writable=on,num-queues=1,addr.type=unix,addr.path=$SOCK" \
        --pidfile "$DIR/qsd.pid" >>"$DIR/qsd.log" 2>&1 &
    QSD_PID=$!
    wait_for 30 qsd_ready || fail "qemu-storage-daemon does not listen on $SOCK"
}
qsd_ready() {
    kill -0 "$QSD_PID" 2>/dev/null || fail "qemu-storage-daemon exited: $(tail -n 3 "$DIR/qsd.log")"
    [[ -s $DIR/qsd.pid && -S $SOCK ]]
}
backend_kill() {
    kill -KILL "$QSD_PID"
    wait "$QSD_PID" 2>/dev/null || true
    QSD_PID=""
}
backend_stop() {
    local rc=0
    kill -TERM "$QSD_PID"
    wait_for 30 qsd_gone || fail "qemu-storage-daemon still runs 30 s after SIGTERM"
    wait "$QSD_PID" || rc=$?
    QSD_PID=""
    [[ $rc -eq 0 ]] || fail "qemu-storage-daemon exited $rc on SIGTERM"
}
qsd_gone() { ! kill -0 "$QSD_PID" 2>/dev/null; }
backend_export() { echo "$DISK"; }
backend_discard_zeroes() { true; } # discard=unmap punches holes in the file

truncate -s "${GUEST_DISK_MB}M" "$DISK"
guest_make_data "$DIR/data"

guest_scenario_io
if [[ ${CAIRN_GUEST_RESTART:-1} != 0 ]]; then
    guest_scenario_restart
else
    log "restart scenario skipped (CAIRN_GUEST_RESTART=0)"
fi
log "PASS"

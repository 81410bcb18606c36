#!/usr/bin/env bash
# cairn-nbd against malformed and hostile clients (nbd_malformed.py: raw
# sockets), then checks that the same server still serves a real client
# (qemu-img round trip) and exits 0 on SIGTERM.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools qemu-img cmp

nbd_cluster_up
mkimage disk1 8M
nbd_start

"$PY" "$(dirname "$0")/nbd_malformed.py" "$PORT" disk1 $((8 << 20)) || fail "malformed input cases"
kill -0 "$NBD_PID" || fail "cairn-nbd died"

head -c $((8 << 20)) /dev/urandom >"$DIR/src.raw"
qemu-img convert -n -f raw -O raw "$DIR/src.raw" "$(uri disk1)" || fail "qemu-img convert in failed"
qemu-img convert -f raw -O raw "$(uri disk1)" "$DIR/dst.raw" || fail "qemu-img convert out failed"
cmp "$DIR/src.raw" "$DIR/dst.raw" || fail "round trip after malformed input differs"

nbd_stop
log "ok"

#!/usr/bin/env bash
# Validates the test front-end (vhost_hostile, vhost_load) against QEMU's
# reference vhost-user-blk backend: qemu-storage-daemon serving a raw file
# with 2 queues. vhost_hostile --lenient passes; a 4k randwrite then randread
# with --verify (2 s each, QD 8, 2 queues) finds no error or mismatch and the
# read run sees the tags written by the write run; qemu-storage-daemon is
# still alive at the end. Skips (77) without qemu-storage-daemon.
set -euo pipefail

TEST=$(basename "$0" .sh)
SRC=${CAIRN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${CAIRN_BUILD_DIR:-$SRC/build}
HOSTILE=$BUILD/tests/vhost/vhost_hostile
LOAD=$BUILD/tests/vhost/vhost_load
PY=/usr/bin/python3

log() { echo "$TEST: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

QSD=$(command -v qemu-storage-daemon || true)
if [[ -z $QSD ]]; then
    log "qemu-storage-daemon is not installed (apt-get install qemu-system-common); skipping"
    exit 77
fi
for bin in "$HOSTILE" "$LOAD" "$PY"; do
    [[ -x $bin ]] || { log "$bin is missing; skipping"; exit 77; }
done

DIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-$TEST.XXXXXX")
SOCK=$DIR/vhost.sock
QSD_PID=

cleanup() {
    local rc=$?
    if [[ -n $QSD_PID ]] && kill -0 "$QSD_PID" 2>/dev/null; then
        kill "$QSD_PID" 2>/dev/null || true
        wait "$QSD_PID" 2>/dev/null || true
    fi
    if [[ $rc -ne 0 && $rc -ne 77 && -f $DIR/qsd.log ]]; then
        echo "==> qemu-storage-daemon log <==" >&2
        tail -n 40 "$DIR/qsd.log" >&2
    fi
    rm -rf "$DIR"
    exit "$rc"
}
trap cleanup EXIT

# wait_for SECONDS CMD...: polls CMD until it succeeds or the time is up.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

qsd_alive() { kill -0 "$QSD_PID" 2>/dev/null && [[ $(ps -o stat= -p "$QSD_PID") != Z* ]]; }

truncate -s 256M "$DIR/disk.raw"
"$QSD" --blockdev "driver=file,node-name=f,filename=$DIR/disk.raw" \
    --export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$SOCK,writable=on,num-queues=2" \
    >"$DIR/qsd.log" 2>&1 &
QSD_PID=$!
wait_for 30 test -S "$SOCK" || fail "qemu-storage-daemon did not create $SOCK"

"$HOSTILE" --socket "$SOCK" --lenient --pid "$QSD_PID" --timeout-ms 1000 >"$DIR/hostile.out" 2>&1 ||
    { cat "$DIR/hostile.out" >&2; fail "vhost_hostile --lenient failed"; }
cat "$DIR/hostile.out"
grep -q ' 0 failed$' "$DIR/hostile.out" || fail "vhost_hostile did not report 0 failures"
# the harness must really have exercised both kinds of behaviour
grep -q 'got IOERR' "$DIR/hostile.out" || fail "no case saw IOERR"
grep -q 'got BROKEN' "$DIR/hostile.out" || fail "no case saw the device broken and recovered"
qsd_alive || fail "qemu-storage-daemon died during vhost_hostile"

load() {
    "$LOAD" --socket "$SOCK" --bs 4k --qd 8 --queues 2 --seconds 2 --verify --json --size 64M "$@"
}
load --rw randwrite >"$DIR/w.json" || fail "vhost_load randwrite --verify failed"
load --rw randread >"$DIR/r.json" || fail "vhost_load randread --verify failed"
cat "$DIR/w.json" "$DIR/r.json"
"$PY" - "$DIR/w.json" "$DIR/r.json" <<'PYEOF' || fail "vhost_load results are wrong"
import json, sys
w = json.load(open(sys.argv[1]))
r = json.load(open(sys.argv[2]))
for j in (w, r):
    assert j["errors"] == 0 and j["mismatches"] == 0, j
    assert j["ios"] > 100 and j["queues"] == 2, j
    assert 0 < j["lat_p50_us"] <= j["lat_p99_us"], j
# the write run read back everything it wrote; the read run found those tags
assert w["verified_sectors"] > 0, w
assert r["verified_sectors"] > 0, r
PYEOF
qsd_alive || fail "qemu-storage-daemon died during vhost_load"
log "ok"

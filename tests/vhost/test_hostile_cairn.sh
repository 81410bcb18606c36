#!/usr/bin/env bash
# cairn-vhost's exit codes, every request type (tests/vhost/vhost_ops.c),
# then cairn-vhost against a hostile front-end (tests/vhost/vhost_hostile.c), on
# an image of a local cluster (1 monitor, 1 OSD). Every malformed chain
# (addresses outside guest memory, loops, zero-length and too many
# segments, nested indirect tables, short headers, read-only status, bad
# types and ranges) must complete with IOERR or UNSUPP, or come back
# without status when it has none, and a valid write and read-back must
# work after each; every protocol abuse (oversize and truncated messages,
# bad memory tables, ring sizes and indexes) must be refused, and a new
# front-end must still be served. All strictly: no --lenient. Then
# vhost_load --verify writes and reads back tagged blocks on 2 queues, and
# cairn-vhost must still run and stop cleanly on SIGTERM.
set -euo pipefail
source "$(dirname "$0")/../integration/cli/lib.sh"

OSD=$CAIRN_BUILD_DIR/osd/cairn-osd
VHOST=${CAIRN_VHOST_BIN:-$CAIRN_BUILD_DIR/gateway/vhost/cairn-vhost}
HOSTILE=$CAIRN_BUILD_DIR/tests/vhost/vhost_hostile
LOAD=$CAIRN_BUILD_DIR/tests/vhost/vhost_load
OPS=$CAIRN_BUILD_DIR/tests/vhost/vhost_ops
for bin in "$OSD" "$VHOST" "$HOSTILE" "$LOAD" "$OPS"; do
    [[ -x $bin ]] || { log "$bin is missing; skipping"; exit 77; }
done

SOCK=$DIR/vhost.sock
VHOST_PID=""

vhost_cleanup() {
    local rc=$?
    set +e
    if [[ -n $VHOST_PID ]]; then
        kill -KILL "$VHOST_PID" 2>/dev/null
        wait "$VHOST_PID" 2>/dev/null
    fi
    if [[ $rc -ne 0 && $rc -ne 77 && -s $DIR/vhost.log ]]; then
        echo "==> vhost.log <==" >&2
        tail -n 40 "$DIR/vhost.log" >&2
    fi
    (exit "$rc")
    cleanup
}
trap vhost_cleanup EXIT

vhost_alive() { kill -0 "$VHOST_PID" 2>/dev/null; }
vhost_gone() { ! vhost_alive; }

cluster_up --mons 1 --osds 1 --hosts 1
cairn pool create images --size 1 --min-size 1 --pg-num 16 >/dev/null || fail "pool create failed"
cairn image create disk --size 256M >/dev/null || fail "image create failed"

# The operator contract: usage errors exit 2, a missing image 1, each with
# one line on stderr.
expect_rc 2 "$VHOST" -c "$CONF" --image disk
expect_rc 2 "$VHOST" -c "$CONF" --image disk --socket "$DIR/x.sock" --queues 17
expect_rc 1 "$VHOST" -c "$CONF" --image nosuch --socket "$DIR/x.sock"
grep -q "image nosuch in pool images: no such image" "$DIR/stderr" ||
    fail "unclear error for a missing image: $(cat "$DIR/stderr")"
[[ ! -e $DIR/x.sock ]] || fail "a failed start left a socket behind"

"$VHOST" -c "$CONF" --image disk --socket "$SOCK" --queues 2 >"$DIR/vhost.log" 2>&1 &
VHOST_PID=$!
wait_for 30 test -S "$SOCK" || fail "cairn-vhost did not listen on $SOCK"

"$HOSTILE" --socket "$SOCK" --pid "$VHOST_PID" --timeout-ms 5000 >"$DIR/hostile.out" 2>&1 ||
    { cat "$DIR/hostile.out" >&2; fail "vhost_hostile failed"; }
cat "$DIR/hostile.out"
grep -q ' 0 failed$' "$DIR/hostile.out" || fail "vhost_hostile did not report 0 failures"
grep -q 'got IOERR' "$DIR/hostile.out" || fail "no case saw IOERR"
grep -q 'got UNSUPP' "$DIR/hostile.out" || fail "no case saw UNSUPP"
vhost_alive || fail "cairn-vhost died under the hostile front-end"

load() {
    "$LOAD" --socket "$SOCK" --bs 4k --qd 16 --queues 2 --seconds 2 --verify --json --size 64M "$@"
}
load --rw randwrite >"$DIR/w.json" || fail "vhost_load randwrite --verify failed"
load --rw randread >"$DIR/r.json" || fail "vhost_load randread --verify failed"
for f in w r; do
    json "j['errors'] == 0 and j['ios'] > 0" <"$DIR/$f.json" | grep -qx True ||
        fail "vhost_load $f: $(cat "$DIR/$f.json")"
done
vhost_alive || fail "cairn-vhost died under load"

# Every request type with its effect (GET_ID, OUT/IN, WRITE_ZEROES with and
# without unmap, DISCARD, FLUSH) and the config the device offers (after
# the load: it overwrites part of what vhost_load verifies).
"$OPS" --socket "$SOCK" --id disk --size $((256 << 20)) ||
    fail "vhost_ops found a request type misbehaving"

kill -TERM "$VHOST_PID"
wait_for 30 vhost_gone || fail "cairn-vhost still runs 30 s after SIGTERM"
rc=0
wait "$VHOST_PID" || rc=$?
VHOST_PID=""
[[ $rc -eq 0 ]] || fail "cairn-vhost exited $rc on SIGTERM"
[[ ! -e $SOCK ]] || fail "cairn-vhost left its socket behind"

# --read-only: writes, discards and write-zeroes fail with IOERR and change
# nothing; reads and flushes work.
"$VHOST" -c "$CONF" --image disk --socket "$SOCK" --read-only >>"$DIR/vhost.log" 2>&1 &
VHOST_PID=$!
wait_for 30 test -S "$SOCK" || fail "cairn-vhost --read-only did not listen on $SOCK"
"$OPS" --socket "$SOCK" --id disk --size $((256 << 20)) --read-only ||
    fail "vhost_ops found the read-only device misbehaving"
log "PASS"

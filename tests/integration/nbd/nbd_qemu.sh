#!/usr/bin/env bash
# cairn-nbd with qemu's NBD client over TCP and a unix socket: qemu-img
# info reports the image size; qemu-img convert writes a pattern file into
# the image and reads it back byte-identical; qemu-io writes, reads back,
# zeroes and discards, also with 64 aio requests in flight; SIGTERM with
# writes in flight answers them and exits 0.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools qemu-img qemu-io cmp

nbd_cluster_up
mkimage disk1 64M 1M
mkimage small 3M
nbd_start

size=$(qemu-img info -f raw --output=json "$(uri disk1)" | json "j['virtual-size']")
[[ $size -eq $((64 << 20)) ]] || fail "qemu-img info: size $size"
size=$(qemu-img info -f raw --output=json "$(unix_uri small)" | json "j['virtual-size']")
[[ $size -eq $((3 << 20)) ]] || fail "qemu-img info over the unix socket: size $size"
# an unknown export is refused, not served
if qemu-img info -f raw "$(uri nosuch)" >/dev/null 2>&1; then
    fail "qemu-img info of a missing image succeeded"
fi

# A pattern with data, zero runs and an unaligned tail region.
"$PY" - "$DIR/pattern.raw" <<'PYEOF'
import os, random, sys
rnd = random.Random(42)
buf = bytearray(64 << 20)
for _ in range(200):
    off = rnd.randrange(0, len(buf) - 70000)
    n = rnd.randrange(1, 70000)
    buf[off:off + n] = os.urandom(n)
open(sys.argv[1], "wb").write(buf)
PYEOF
qemu-img convert -n -f raw -O raw "$DIR/pattern.raw" "$(uri disk1)" ||
    fail "qemu-img convert into the image failed"
qemu-img convert -f raw -O raw "$(uri disk1)" "$DIR/out.raw" ||
    fail "qemu-img convert out of the image failed"
cmp "$DIR/pattern.raw" "$DIR/out.raw" || fail "the image does not read back what was written"
qemu-img convert -f raw -O raw "$(unix_uri disk1)" "$DIR/out2.raw" ||
    fail "qemu-img convert over the unix socket failed"
cmp "$DIR/pattern.raw" "$DIR/out2.raw" || fail "unix socket read differs"

qemu-io -f raw -c 'write -P 0x5a 1M 64K' -c 'read -P 0x5a 1M 64K' \
    -c 'write -P 0x33 3000 5000' -c 'read -P 0x33 3000 5000' \
    -c 'write -z 1M 64K' -c 'read -P 0 1M 64K' \
    -c 'write -z -u 4M 2M' -c 'read -P 0 4M 2M' \
    -c 'discard 8M 1M' -c 'read -P 0 8M 1M' \
    -c 'write -f -P 0x77 10M 4K' -c 'read -P 0x77 10M 4K' -c 'flush' \
    "$(uri disk1)" >"$DIR/qemu-io.out" 2>&1 || { cat "$DIR/qemu-io.out" >&2; fail "qemu-io failed"; }
if grep -qi -e "fail" -e "error" -e "pattern verification" "$DIR/qemu-io.out"; then
    cat "$DIR/qemu-io.out" >&2
    fail "qemu-io reported an error"
fi
# aio: 64 writes of distinct patterns in flight at once, a flush, then 64
# reads in flight, each verifying its pattern.
aio=()
for i in $(seq 0 63); do aio+=(-c "aio_write -P $((i + 1)) $((16 * 1024 + i * 256))K 64K"); done
aio+=(-c aio_flush)
for i in $(seq 0 63); do aio+=(-c "aio_read -P $((i + 1)) $((16 * 1024 + i * 256))K 64K"); done
aio+=(-c aio_flush)
qemu-io -f raw "${aio[@]}" "$(uri disk1)" >"$DIR/qemu-aio.out" 2>&1 ||
    { cat "$DIR/qemu-aio.out" >&2; fail "qemu-io aio failed"; }
if grep -qi -e "fail" -e "error" -e "pattern verification" "$DIR/qemu-aio.out" ||
    [[ $(grep -c '^wrote 65536/65536' "$DIR/qemu-aio.out") -ne 64 ||
        $(grep -c '^read 65536/65536' "$DIR/qemu-aio.out") -ne 64 ]]; then
    cat "$DIR/qemu-aio.out" >&2
    fail "qemu-io aio did not write and verify 64 requests"
fi
# past the end: qemu-io refuses or the server does; either way no success
if qemu-io -f raw -c 'read 63M 2M' "$(uri disk1)" 2>&1 | grep -q "^read "; then
    fail "a read past the end succeeded"
fi

# SIGTERM with writes in flight: the server answers (successfully) what it
# has received, closes, and exits 0.
"$PY" "$(dirname "$0")/nbd_malformed.py" "$PORT" disk1 $((64 << 20)) --drain "$DIR/sent" &
client_pid=$!
wait_for 30 test -e "$DIR/sent" || fail "the drain client did not send its writes"
nbd_stop
wait "$client_pid" || fail "in-flight writes were not answered correctly"
log "ok"

#!/usr/bin/env bash
# cairn-nbd with libnbd's tools: nbdinfo shows the size and block sizes and
# lists every image; nbdinfo --map shows holes and data after writes and
# after a whole-object trim; nbdcopy copies in and out over several
# connections byte-identically; fio (if installed) verifies random writes
# with 32 in flight.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools nbdinfo nbdcopy nbdsh cmp

nbd_cluster_up
mkimage disk1 16M 1M
mkimage disk2 8M
nbd_start

nbdinfo --json "$(uri disk1)" >"$DIR/info.json" || fail "nbdinfo failed"
j() { json "$1" <"$DIR/info.json"; }
[[ $(j "j['exports'][0]['export-size']") -eq $((16 << 20)) ]] || fail "nbdinfo: wrong size"
[[ $(j "j['exports'][0]['block_size_minimum']") -eq 1 ]] || fail "minimum block size"
[[ $(j "j['exports'][0]['block_size_preferred']") -eq 4096 ]] || fail "preferred block size"
[[ $(j "j['exports'][0]['block_size_maximum']") -eq $((32 << 20)) ]] || fail "maximum block size"
[[ $(j "j['exports'][0]['can_multi_conn']") == True ]] || fail "multi-conn not advertised"
nbdinfo --list --json "$(uri disk1)" | json "sorted(e['export-name'] for e in j['exports'])" \
    >"$DIR/list" || fail "nbdinfo --list failed"
[[ $(cat "$DIR/list") == "['disk1', 'disk2']" ]] || fail "nbdinfo --list: $(cat "$DIR/list")"

# A fresh image is one hole.
nbdinfo --map --json "$(uri disk1)" >"$DIR/map.json" || fail "nbdinfo --map failed"
[[ $(json "[(e['offset'], e['length'], e['type']) for e in j]" <"$DIR/map.json") == \
    "[(0, 16777216, 3)]" ]] || fail "fresh map: $(cat "$DIR/map.json")"

# Data in objects 2 and 5 (1 MiB objects), then trim object 5 whole.
nbdsh -u "$(uri disk1)" -c '
h.pwrite(b"\x11" * 4096, 2 * 1024 * 1024 + 100)
h.pwrite(b"\x22" * 65536, 5 * 1024 * 1024)
h.flush()
' || fail "nbdsh writes failed"
map=$(nbdinfo --map --json "$(uri disk1)" | json "[(e['offset'] >> 20, e['length'] >> 20, e['type']) for e in j]")
[[ $map == "[(0, 2, 3), (2, 1, 0), (3, 2, 3), (5, 1, 0), (6, 10, 3)]" ]] ||
    fail "map after writes: $map"
nbdsh -u "$(uri disk1)" -c 'h.trim(1024 * 1024, 5 * 1024 * 1024)' || fail "trim failed"
map=$(nbdinfo --map --json "$(uri disk1)" | json "[(e['offset'] >> 20, e['length'] >> 20, e['type']) for e in j]")
[[ $map == "[(0, 2, 3), (2, 1, 0), (3, 13, 3)]" ]] || fail "map after trim: $map"
nbdsh -u "$(uri disk1)" -c '
assert h.pread(4096, 2 * 1024 * 1024 + 100) == b"\x11" * 4096
assert h.pread(65536, 5 * 1024 * 1024) == bytes(65536)
' || fail "reads after trim differ"

# nbdcopy in and out with 4 connections and many requests in flight.
head -c $((16 << 20)) /dev/urandom >"$DIR/src.raw"
nbdcopy --connections=4 --requests=32 "$DIR/src.raw" "$(uri disk1)" || fail "nbdcopy in failed"
nbdcopy --connections=4 --requests=32 "$(uri disk1)" "$DIR/dst.raw" || fail "nbdcopy out failed"
cmp "$DIR/src.raw" "$DIR/dst.raw" || fail "nbdcopy round trip differs"
nbdcopy "$(unix_uri disk1)" - | cmp - "$DIR/src.raw" || fail "nbdcopy over the unix socket differs"

# fio's nbd engine, 32 random 4K writes in flight, every block verified.
if command -v fio >/dev/null; then
    (cd "$DIR" && fio --name=verify --ioengine=nbd --uri="$(uri disk2)" --rw=randwrite --bs=4k \
        --iodepth=32 --size=8M --verify=crc32c --do_verify=1 >"$DIR/fio.out" 2>&1) ||
        { cat "$DIR/fio.out" >&2; fail "fio verify failed"; }
else
    log "fio is not installed; its part is skipped"
fi

nbd_stop
log "ok"

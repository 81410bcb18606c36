#!/usr/bin/env bash
# `cairn image` against a real cluster: import of a file with a known
# pattern and holes, export back (to a file, sparse, and to stdout), cmp
# identical; import from stdin; info (allocation follows the holes), ls,
# resize, rm; the default pool created on first use; and the failures of
# the operator contract (exit 1 for a missing image, exit 2 for a bad size
# or name).
set -euo pipefail
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/../cli/lib_osd.sh"

osd_cluster_up 2

# 20 MiB + 1000 bytes: data, a 8 MiB hole, data, a hole to the end; the
# last data chunk is not 4 KiB aligned at its end.
IN=$DIR/in.img
truncate -s $(((20 << 20) + 1000)) "$IN"
head -c $((3 << 20)) /dev/urandom | dd of="$IN" conv=notrunc status=none
head -c 5000 /dev/urandom | dd of="$IN" bs=1 seek=$((12 << 20)) conv=notrunc status=none
printf 'tail' | dd of="$IN" bs=1 seek=$(((20 << 20) + 996)) conv=notrunc status=none

# The default pool does not exist yet: import creates it.
expect_rc 0 cairn image import "$IN" disk
[[ ! -s $DIR/stderr ]] || fail "import printed on a stderr that is no terminal: $(cat "$DIR/stderr")"
cairn pool ls --json | json "[p['name'] for p in j['pools']]" | grep -q images ||
    fail "the default pool was not created"

info=$(cairn image info disk --json)
size=$(json 'j["size"]' <<<"$info")
[[ $size == $(stat -c %s "$IN") ]] || fail "info size $size"
[[ $(json 'j["object_size"]' <<<"$info") == $((4 << 20)) ]] || fail "object size: $info"
# Objects 0 (data 0..3M), 3 (12M) and 5 (the tail): 3 of 6 allocated.
alloc=$(json 'j["allocated"]' <<<"$info")
[[ $alloc == $(((8 << 20) + 1000)) ]] || fail "allocated $alloc, holes were written: $info"
cairn image info disk | grep -qE '^size [0-9]+$' || fail "info text: $(cairn image info disk)"

expect_rc 0 cairn image export disk "$DIR/out.img"
cmp "$IN" "$DIR/out.img" || fail "export differs from the import"
used=$(du -k "$DIR/out.img" | cut -f1)
((used < 12 * 1024)) || fail "export wrote the holes (${used} KiB used)"
cairn image export disk | cmp - "$IN" || fail "export to stdout differs"
cairn image export disk - | cmp - "$IN" || fail "export to - differs"

# stdin: the image grows as it reads and ends at the input's size.
head -c $((5 << 20)) /dev/urandom >"$DIR/small"
cairn image import - fromstdin --object-size 64K <"$DIR/small" || fail "import from stdin"
[[ $(cairn image info fromstdin --json | json 'j["size"]') == $((5 << 20)) ]] ||
    fail "stdin import size"
[[ $(cairn image info fromstdin --json | json 'j["object_size"]') == 65536 ]] ||
    fail "stdin import object size"
cairn image export fromstdin | cmp - "$DIR/small" || fail "stdin import round trip"

# ls, create, resize, rm.
expect_rc 0 cairn image create blank --size 256M
[[ $(cairn image ls | sort | tr '\n' ' ') == "blank disk fromstdin " ]] ||
    fail "ls: $(cairn image ls)"
[[ $(cairn image ls --json | json 'sorted(j)') == "['blank', 'disk', 'fromstdin']" ]] ||
    fail "ls --json: $(cairn image ls --json)"
[[ $(cairn image info blank --json | json 'j["allocated"]') == 0 ]] || fail "blank allocated"
expect_rc 0 cairn image resize disk --size 4M
expect_rc 0 cairn image resize disk --size 1G
expect_rc 0 cairn image export disk "$DIR/resized.img"
[[ $(stat -c %s "$DIR/resized.img") == $((1 << 30)) ]] || fail "export size after resize"
cmp -n $((4 << 20)) "$DIR/resized.img" "$IN" || fail "data before the shrink changed"
cmp -i $((4 << 20)) -n $((1020 << 20)) "$DIR/resized.img" /dev/zero ||
    fail "data beyond the shrink came back"
rm -f "$DIR/resized.img"
expect_rc 0 cairn image rm disk
expect_rc 0 cairn image rm blank
[[ $(cairn image ls) == fromstdin ]] || fail "ls after rm: $(cairn image ls)"

# Other pools: must exist.
expect_rc 1 cairn image create x --size 1M --pool nosuchpool
grep -q "pool 'nosuchpool' does not exist" "$DIR/stderr" || fail "$(cat "$DIR/stderr")"
expect_rc 0 cairn pool create other --size 1 --pg-num 8
expect_rc 0 cairn image create x --size 1M --pool other
[[ $(cairn image ls --pool other) == x ]] || fail "ls --pool"

# Failures: exit 1 with one line, exit 2 for usage.
for cmd in "info gone" "rm gone" "export gone" "resize gone --size 1M"; do
    # shellcheck disable=SC2086
    expect_rc 1 cairn image $cmd
    [[ $(wc -l <"$DIR/stderr") == 1 ]] && grep -q "no such image" "$DIR/stderr" ||
        fail "image $cmd: $(cat "$DIR/stderr")"
done
[[ ! -e $DIR/gone.img ]] || fail "a file was created for a missing image"
expect_rc 1 cairn image create fromstdin --size 1M
grep -q "already exists" "$DIR/stderr" || fail "create twice: $(cat "$DIR/stderr")"
expect_rc 1 cairn image import "$DIR/nosuchfile" y
expect_rc 2 cairn image create y --size 12Q
expect_rc 2 cairn image create y --size -5
expect_rc 2 cairn image create y
expect_rc 2 cairn image create y --size 1M --object-size 3K
expect_rc 2 cairn image create .hidden --size 1M
expect_rc 2 cairn image create y --size 1M --bogus
expect_rc 2 cairn image info
log "ok"

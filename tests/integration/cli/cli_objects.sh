#!/usr/bin/env bash
# Objects through the CLI against real OSDs: put/get round trips of 0 B,
# 1 B, 4 KiB+1, 10 MiB and 70 MiB (the chunked path) compared with cmp,
# stdin and stdout, stat fields, rm, ls, and the failures of the operator
# contract (exit 1 with one line for an unknown pool or a missing object,
# exit 2 for a 1025-byte name). Skips (77) while OSDs cannot be started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_osd.sh"

osd_cluster_up 3
expect_rc 0 cairn pool create data --size 3 --pg-num 16

mkdir "$DIR/in" "$DIR/out"
: >"$DIR/in/empty"
printf x >"$DIR/in/one"
head -c 4097 /dev/urandom >"$DIR/in/page1"
head -c $((10 << 20)) /dev/urandom >"$DIR/in/ten"
head -c $((70 << 20)) /dev/urandom >"$DIR/in/seventy"

for f in empty one page1 ten seventy; do
    expect_rc 0 cairn put data "obj.$f" "$DIR/in/$f"
    expect_rc 0 cairn get data "obj.$f" "$DIR/out/$f"
    cmp "$DIR/in/$f" "$DIR/out/$f" || fail "round trip of $f differs"
    size=$(cairn stat data "obj.$f" --json | json 'j["size"]')
    [[ $size == $(stat -c %s "$DIR/in/$f") ]] || fail "stat size of $f: $size"
done

# stdin and stdout.
cairn put data obj.stdin <"$DIR/in/page1" || fail "put from stdin"
cairn get data obj.stdin >"$DIR/out/stdin" || fail "get to stdout"
cmp "$DIR/in/page1" "$DIR/out/stdin" || fail "stdin/stdout round trip differs"
head -c $((70 << 20)) /dev/urandom >"$DIR/in/seventy2"
cairn put data obj.stdin70 <"$DIR/in/seventy2" || fail "chunked put from stdin"
cairn get data obj.stdin70 | cmp - "$DIR/in/seventy2" || fail "chunked stdin round trip"

# stat: size, mtime, version; a rewrite raises the version.
cairn stat data obj.one --json >"$DIR/stat1.json"
"$PY" - "$DIR/stat1.json" <<'PY'
import json, sys, time
s = json.load(open(sys.argv[1]))
assert s["name"] == "obj.one" and s["pool"] == "data", s
assert s["size"] == 1, s
assert s["version"] > 0, s
assert abs(s["mtime_ns"] / 1e9 - time.time()) < 600, s
assert s["mtime"].endswith("Z"), s
PY
v1=$(json 'j["version"]' <"$DIR/stat1.json")
echo yy | cairn put data obj.one
v2=$(cairn stat data obj.one --json | json 'j["version"]')
((v2 > v1)) || fail "version did not grow: $v1 -> $v2"
cairn stat data obj.one | grep -qE '^data/obj.one size 3 mtime [0-9T:.-]+Z version [0-9]+$' ||
    fail "stat human output: $(cairn stat data obj.one)"

# ls lists what was put, one per line and as JSON.
cairn ls data | sort >"$DIR/ls.txt"
printf '%s\n' obj.empty obj.one obj.page1 obj.seventy obj.stdin obj.stdin70 obj.ten |
    cmp - "$DIR/ls.txt" || fail "ls: $(cat "$DIR/ls.txt")"
[[ $(cairn ls data --json | json 'len(j)') == 7 ]] || fail "ls --json"

# rm, then get fails with exit 1 and one line.
expect_rc 0 cairn rm data obj.ten
expect_rc 1 cairn get data obj.ten "$DIR/out/gone"
[[ $(cat "$DIR/stderr") == "cairn: get data/obj.ten: no such object" ]] ||
    fail "get of a removed object: $(cat "$DIR/stderr")"
[[ ! -e $DIR/out/gone ]] || fail "a failed get created its output file"
expect_rc 1 cairn rm data obj.ten
expect_rc 1 cairn stat data obj.ten

# Unknown pool, oversize name.
expect_rc 1 cairn put data-nope obj "$DIR/in/one"
[[ $(cat "$DIR/stderr") == "cairn: put data-nope/obj: pool 'data-nope' does not exist" ]] ||
    fail "unknown pool: $(cat "$DIR/stderr")"
long=$(head -c 1025 /dev/zero | tr '\0' n)
expect_rc 2 cairn put data "$long" "$DIR/in/one"
grep -q "bad object name: 1025 bytes (1 to 1024)" "$DIR/stderr" || fail "long name: $(cat "$DIR/stderr")"
expect_rc 0 cairn put data "${long:0:1024}" "$DIR/in/one"
expect_rc 2 cairn get data
log "ok"

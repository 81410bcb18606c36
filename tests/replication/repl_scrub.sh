#!/usr/bin/env bash
# Bit rot: a byte flipped in one copy's data file is found by deep scrub and
# repaired, and clients never read the bad byte.
#
# A size-3 pool of 8 PGs on 3 OSDs over 3 hosts holds 20 objects of 64-256
# KiB of random data. flip_byte.py XORs one byte of an object's copy in an
# OSD's data file ($DIR/osd.N/data, where the store checks a crc32c per 4
# KiB block); `cairn osd map` says which OSDs hold the object.
#   replica: a client read returns the original bytes (it reads the
#     primary); `pg deep-scrub` of its PG finds 1 inconsistent object and
#     repairs it; a second one and one of the whole pool find nothing, and a
#     shallow `pg scrub --pool` passes.
#   primary, read first: the read returns the original bytes (the primary
#     repairs its copy from a replica and runs the read again: its log says
#     "read-repair repaired"), and a deep scrub then finds nothing.
#   primary, scrubbed first: a deep scrub finds and repairs the copy (the
#     primary pulls a good one), then the read returns the original.
#   throughput: 64 MiB more in the pool, a timed deep scrub of the pool
#     (logged, not asserted).
#   scheduled: a replica's copy corrupted with osd_deep_scrub_interval = 3s
#     is repaired by a scheduled deep scrub (the OSD logs say so), every PG
#     gets a newer deep-scrub stamp, and a manual deep scrub finds nothing.
# The scheduled phase comes last, and only then do the OSDs run with the
# 3 s interval (the cluster restarts with it in cairn.conf): were scheduled
# scrubs running from the start, one could repair the earlier corruptions
# before the manual deep scrubs whose counts the first phases assert, and
# would disturb the timed one. Until then the default intervals (a day, a
# week, counted from the OSDs' start) keep scheduled scrubs away.
# The objects and sizes are chosen by seed (CAIRN_SEED=N replays).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

FLIP=$(dirname "$0")/flip_byte.py
POOL=scrub
N=20
OFFSET=8192 # a block-aligned needle well inside every object
SEED=${CAIRN_SEED:-$RANDOM}
RANDOM=$SEED
log "seed $SEED (replay: CAIRN_SEED=$SEED)"

# name I: the name of object I.
name() { printf 'rot-%02d' "$1"; }

# place NAME: "PGID PRIMARY REPLICA1 REPLICA2" from `cairn osd map`.
place() {
    cairn --json osd map $POOL "$1" | json '" ".join([j["pgid"]] + [str(o) for o in j["up"]])'
}

# flip OSD NAME: corrupts osd.OSD's copy of object NAME.
flip() {
    local pos
    pos=$("$PY" "$FLIP" "$DIR/osd.$1/data" "$DIR/obj/$2" $OFFSET) ||
        fail "cannot corrupt osd.$1's copy of $2"
    log "flipped a byte of $2 in osd.$1's data file at $pos"
}

# read_same NAME: a client read of NAME returns exactly its original bytes.
read_same() {
    rm -f "$DIR/got"
    cairn get $POOL "$1" "$DIR/got" 2>"$DIR/get.err" || fail "get $1: $(cat "$DIR/get.err")"
    cmp -s "$DIR/got" "$DIR/obj/$1" || fail "get $1 returned bytes that differ from the original"
}

# repaired_in_log OSD WHAT NAME: osd.OSD logged that WHAT (deep-scrub,
# read-repair) repaired object NAME.
repaired_in_log() {
    grep -qE "pg [0-9]+\.[0-9a-f]+: $2 repaired $3\$" "$DIR/log/osd.$1.log"
}

# scrub VERB ARGS...: `cairn --json pg VERB ARGS...`; sets SCRUB_RC to its
# exit status and SCRUB to "PGS OBJECTS INCONSISTENT REPAIRED ERRORS",
# summed over its PGs.
scrub() {
    SCRUB_RC=0
    cairn --json pg "$@" >"$DIR/scrub.json" 2>"$DIR/scrub.err" || SCRUB_RC=$?
    SCRUB=$(json '"%d %d %d %d %d" % (len(j), sum(p["objects"] or 0 for p in j),
        sum(p["inconsistent"] or 0 for p in j), sum(p["repaired"] or 0 for p in j),
        sum(p["result"] == "error" for p in j))' <"$DIR/scrub.json") ||
        fail "pg $*: exit $SCRUB_RC, no JSON: $(cat "$DIR/scrub.err")"
}

# expect_scrub INCONSISTENT REPAIRED VERB ARGS...: the scrub exits 0, no PG
# fails, and it finds and repairs that many objects.
expect_scrub() {
    local want_inc=$1 want_rep=$2 pgs objects inc rep err
    shift 2
    scrub "$@"
    read -r pgs objects inc rep err <<<"$SCRUB"
    ((SCRUB_RC == 0 && err == 0 && inc == want_inc && rep == want_rep)) ||
        fail "pg $*: exit $SCRUB_RC, $inc inconsistent, $rep repaired, $err failed" \
            "(want $want_inc and $want_rep): $(cat "$DIR/scrub.json" "$DIR/scrub.err")"
    log "pg $*: $pgs PGs, $objects objects, $inc inconsistent, $rep repaired"
}

repl_cluster_up 3 3
cairn pool create $POOL --size 3 --min-size 2 --pg-num 8 >/dev/null || fail "pool create"
mkdir "$DIR/obj"
for ((i = 0; i < N; i++)); do
    head -c $(((64 + RANDOM % 193) * 1024)) /dev/urandom >"$DIR/obj/$(name $i)"
    cairn put $POOL "$(name $i)" "$DIR/obj/$(name $i)" || fail "put $(name $i)"
done
wait_clean 60
# The primaries' reports count every object (each report recounts a PG).
pool_objects_are() {
    [[ $(cairn pg ls --pool $POOL --json | json 'sum(p["objects"] or 0 for p in j)') == "$1" ]]
}
wait_for 30 pool_objects_are $N || fail "cairn pg ls does not count $N objects in $POOL"

# Four distinct objects, one per phase.
a=$(name $((RANDOM % N)))
b=$a
while [[ $b == "$a" ]]; do b=$(name $((RANDOM % N))); done
c=$a
while [[ $c == "$a" || $c == "$b" ]]; do c=$(name $((RANDOM % N))); done
d=$a
while [[ $d == "$a" || $d == "$b" || $d == "$c" ]]; do d=$(name $((RANDOM % N))); done

phase "a replica's copy of $a"
read -r pg primary rep1 rep2 <<<"$(place "$a")"
[[ -n ${rep2:-} ]] || fail "$a: osd map gives fewer than 3 OSDs: $(cairn osd map $POOL "$a")"
log "$(cairn osd map $POOL "$a")"
victim=$rep1
((RANDOM % 2)) && victim=$rep2
flip "$victim" "$a"
read_same "$a"
expect_scrub 1 1 deep-scrub "$pg"
repaired_in_log "$primary" deep-scrub "$a" || fail "osd.$primary did not log the repair of $a"
expect_scrub 0 0 deep-scrub "$pg"
expect_scrub 0 0 deep-scrub --pool $POOL
expect_scrub 0 0 scrub --pool $POOL
read_same "$a"

phase "the primary's copy of $b, read first"
read -r pg primary rep1 rep2 <<<"$(place "$b")"
log "$(cairn osd map $POOL "$b")"
flip "$primary" "$b"
# The primary finds its copy unreadable, repairs it from a replica and
# serves the read: the client gets the original bytes, not an error.
read_same "$b"
repaired_in_log "$primary" read-repair "$b" || fail "osd.$primary did not log a read repair of $b"
log "get $b with the primary's copy corrupted: the original bytes, repaired by the read"
read_same "$b"
expect_scrub 0 0 deep-scrub "$pg"

phase "the primary's copy of $d, scrubbed first"
read -r pg primary rep1 rep2 <<<"$(place "$d")"
log "$(cairn osd map $POOL "$d")"
flip "$primary" "$d"
expect_scrub 1 1 deep-scrub "$pg"
repaired_in_log "$primary" deep-scrub "$d" || fail "osd.$primary did not log the repair of $d"
read_same "$d"
expect_scrub 0 0 deep-scrub "$pg"

phase "deep-scrub throughput"
big=0
for ((i = 0; i < 16; i++)); do
    head -c 4M /dev/urandom >"$DIR/big"
    cairn put $POOL "big-$i" "$DIR/big" || fail "put big-$i"
done
rm -f "$DIR/big"
for f in "$DIR"/obj/*; do big=$((big + $(stat -c %s "$f"))); done
big=$((big + 16 * 4 * 1048576))
wait_clean 60
t0=$(date +%s.%N)
expect_scrub 0 0 deep-scrub --pool $POOL
t1=$(date +%s.%N)
log "$(awk -v b="$big" -v t0="$t0" -v t1="$t1" 'BEGIN {
    printf "deep-scrub: %.1f MiB (of each of 3 copies) in %.2f s = %.1f MiB/s",
        b / 1048576, t1 - t0, b / 1048576 / (t1 - t0) }')"

phase "scheduled deep scrub of $c"
"$CLUSTER" down --dir "$DIR" >/dev/null 2>&1 || fail "deploy/cluster down failed"
printf '\n[osd]\nosd_deep_scrub_interval = 3s\n' >>"$CONF"
cluster_up
wait_for 60 osds_up_at_least 3 || fail "only $(osds_up) of 3 OSDs came back up"
read -r pg primary rep1 rep2 <<<"$(place "$c")"
log "$(cairn osd map $POOL "$c")"
since=$(date -u -d '+1 second' +%Y-%m-%dT%H:%M:%SZ)
flip "$rep1" "$c"
wait_for 30 repaired_in_log "$primary" deep-scrub "$c" ||
    fail "no scheduled deep scrub repaired $c within 30s"
log "a scheduled deep scrub repaired $c: $(grep -E "repaired $c\$" "$DIR/log/osd.$primary.log")"
# A request joins the scrub its PG runs (osd__scrub_request): the manual
# deep scrub below must not join the one that repaired $c and report its
# counts, so it runs once that one has ended.
repair_scrub_ended() {
    awk -v pg="pg $pg: deep-scrub " -v oid="$c" '
        index($0, pg "repaired " oid) && $NF == oid { repaired = 1 }
        repaired && (index($0, pg "done: ") || index($0, pg "stopped: ")) { ended = 1 }
        END { exit !ended }' "$DIR/log/osd.$primary.log"
}
wait_for 30 repair_scrub_ended || fail "the deep scrub of pg $pg that repaired $c did not end"
deep_scrubbed_since() {
    cairn --json pg ls --pool $POOL |
        json "all((p['last_deep_scrub'] or '') >= '$1' for p in j) and len(j) == 8" | grep -qx True
}
wait_for 30 deep_scrubbed_since "$since" ||
    fail "not every PG deep-scrubbed since $since: $(cairn pg ls --pool $POOL)"
log "every PG deep-scrubbed since $since"
expect_scrub 0 0 deep-scrub --pool $POOL
read_same "$c"
phase finished
log "ok: seed $SEED"

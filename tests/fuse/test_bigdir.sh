#!/usr/bin/env bash
# One big directory through mount.cairn (the FUSE issue: "100,000 entries in
# one directory with fast lookup and paginated readdir"). fs_load makes
# BIGDIR_N (default 100,000) empty files in one directory through client/fs.h
# with 8 threads (the create path is not what this tests), and 100 in
# another. Then, through the mount: `ls -f` counts every entry (readdir paged
# through FUSE); `ls -l` of a sample; 1,000 stats of random names on a
# second mount without entry or attribute caching, timed, against the same
# in the 100-entry directory: lookups must not grow with the directory
# (ratio below BIGDIR_RATIO_MAX, default 5); a name made on the second mount
# appears on the first; 1,000 unlinks, then the count drops by 1,000.
# BIGDIR_SEED replays the random names (the seed is printed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

LOAD=$CAIRN_BUILD_DIR/tests/bench/fs_load
[[ -x $LOAD ]] || { log "$LOAD is not built; skipping"; exit 77; }
N=${BIGDIR_N:-100000}
SMALL_N=100
K=1000
RATIO_MAX=${BIGDIR_RATIO_MAX:-5}
SEED=${BIGDIR_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
((N > K)) || fail "BIGDIR_N must be above $K"
log "seed $SEED (BIGDIR_SEED=$SEED replays it), $N entries"

# count DIR: entries `ls -f` lists, "." and ".." left out.
count() { echo $(($(ls -f "$1" | wc -l) - 2)); }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# stats DIR ENTRIES: stats K random names of f.00000000..ENTRIES-1 in DIR
# (with repeats when ENTRIES < K); prints the milliseconds per stat.
stats() {
    "$PY" - "$1" "$2" "$K" "$SEED" <<'PY'
import os, random, sys, time

d, n, k, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
names = [f"f.{rng.randrange(n):08d}" for _ in range(k)]
t0 = time.monotonic()
for name in names:
    os.stat(os.path.join(d, name))
print(f"{(time.monotonic() - t0) * 1000 / k:.3f}")
PY
}

step "cluster with --fuse $MNT"
cluster_up_fuse

step "$N entries in big/ through client/fs.h, 8 threads"
t0=$(now_ms)
"$LOAD" -c "$CONF" create big --files "$N" --threads 8 --size 0 >"$DIR/fill.out" \
    2>"$DIR/fill.err" || fail "fs_load create failed: $(tail -n 5 "$DIR/fill.err")"
log "$(cat "$DIR/fill.out")"
"$LOAD" -c "$CONF" create small --files "$SMALL_N" --threads 4 --size 0 >/dev/null 2>&1 ||
    fail "fs_load create small failed"
step "made in $(($(now_ms) - t0)) ms"

step "ls -f | wc -l through the mount"
t0=$(now_ms)
got=$(count "$MNT/big")
log "ls -f of $N entries: $(($(now_ms) - t0)) ms"
[[ $got -eq $N ]] || fail "ls -f listed $got entries, not $N"

step "ls -l of a sample"
mapfile -t sample < <("$PY" -c 'import random, sys
rng = random.Random(int(sys.argv[2]) + 1)
for i in rng.sample(range(int(sys.argv[1])), 20): print(f"f.{i:08d}")' "$N" "$SEED")
(cd "$MNT/big" && ls -l "${sample[@]}") >"$DIR/sample.out" || fail "ls -l of the sample failed"
[[ $(grep -c '^-rw-r--r-- .* 0 .* f\.[0-9]\{8\}$' "$DIR/sample.out") -eq 20 ]] ||
    { cat "$DIR/sample.out" >&2; fail "ls -l of 20 names did not list 20 empty files"; }

step "$K stats of random names, uncached, in big/ ($N) and small/ ($SMALL_N)"
mount2 "attr_timeout=0,entry_timeout=0"
small_ms=$(stats "$MNT2/small" "$SMALL_N") || fail "a stat in small/ failed"
big_ms=$(stats "$MNT2/big" "$N") || fail "a stat in big/ failed"
log "per stat: $big_ms ms with $N entries, $small_ms ms with $SMALL_N"
"$PY" -c 'import sys
big, small, bound = map(float, sys.argv[1:4])
ratio = big / small
print(f"test_bigdir: lookup ratio big/small {ratio:.2f} (bound {bound:g})", file=sys.stderr)
sys.exit(ratio >= bound)' "$big_ms" "$small_ms" "$RATIO_MAX" ||
    fail "stats in big/ are $RATIO_MAX times (or more) slower than in small/"

step "a name made on the second mount appears on the first"
: >"$MNT2/big/from-mnt2"
wait_for 10 test -e "$MNT/big/from-mnt2" || fail "$MNT does not see big/from-mnt2"
rm "$MNT/big/from-mnt2"

step "unlink $K names through the mount"
t0=$(now_ms)
"$PY" - "$MNT/big" "$N" "$K" "$SEED" <<'PY' || fail "an unlink failed"
import os, random, sys

d, n, k, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for i in random.Random(seed + 2).sample(range(n), k):
    os.unlink(os.path.join(d, f"f.{i:08d}"))
PY
log "$K unlinks: $(($(now_ms) - t0)) ms"
got=$(count "$MNT2/big")
[[ $got -eq $((N - K)) ]] || fail "ls -f on the second mount listed $got entries, not $((N - K))"
log "ok"

#!/usr/bin/env bash
# kill -9 of a FUSE client in the middle of creates and cross-directory
# renames (crash.py): after each kill `cairn fs check --repair` must leave
# a consistent volume, and the next mount must show every acknowledged
# change, none lost and none undone. mount.cairn runs in the foreground
# under crash.py (so its pid is known), on $DIR/mnt; the cluster has no
# --fuse mount of its own. Arguments go to crash.py (--rounds N, --seed S).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

step "cluster, pool fs, volume default"
"$CLUSTER" up --dir "$DIR" --osds 3 >"$DIR/up.out" 2>&1 || {
    cat "$DIR/up.out" >&2
    fail "deploy/cluster up failed"
}
cairn pool create fs --size 3 --min-size 1 >/dev/null || fail "cannot create pool fs"
cairn fs create default >/dev/null || fail "cannot create volume default"
mkdir -p "$MNT"

step "crash.py"
"$PY" "$SRC/tests/fuse/crash.py" "$MNT" "$DIR" --mount "$MOUNT" --cairn "$CAIRN" \
    --conf "$CONF" "$@" || fail "crash.py failed (its seed and journal: $DIR/journal)"
! is_mounted "$MNT" || fail "crash.py left $MNT mounted"
log "ok"

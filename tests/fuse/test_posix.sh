#!/usr/bin/env bash
# POSIX behaviour of mount.cairn (posix.py, exact errnos): a 3-OSD cluster
# with volume "default" mounted by deploy/cluster up --fuse on $DIR/mnt,
# and a second mount of it by mount.cairn on $DIR/mnt2 for the two-mount
# cases (with -o default_permissions: the permission cases run again
# there, checked by the kernel). Then `up` must remount after mount.cairn
# was killed, and `down` must leave no mount behind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

step "cluster with --fuse $MNT"
cluster_up_fuse
step "second mount on $MNT2"
mount2 default_permissions
step "posix.py"
"$PY" "$SRC/tests/fuse/posix.py" "$MNT" "$MNT2" "$@" || fail "posix.py failed"
if [[ $# -eq 0 ]]; then
    step "posix.py: permissions under default_permissions"
    "$PY" "$SRC/tests/fuse/posix.py" "$MNT2" "$MNT" nonroot eisdir enotdir ||
        fail "posix.py on the default_permissions mount failed"
fi

step "up again remounts after mount.cairn died"
pid=$(cat "$DIR/pid/fuse.0.pid")
kill -KILL "$pid"
wait_for 10 bash -c "! kill -0 $pid 2>/dev/null" || fail "mount.cairn survived SIGKILL"
if ! "$CLUSTER" up --dir "$DIR" >"$DIR/up2.out" 2>&1; then
    cat "$DIR/up2.out" >&2
    fail "up again failed"
fi
[[ $(cat "$DIR/pid/fuse.0.pid") != "$pid" ]] || fail "up did not restart fuse.0"
mountpoint -q "$MNT" || fail "up did not remount $MNT"
[[ -d $MNT/$(ls "$MNT2" | head -n1) ]] || fail "the remounted volume lost its tree"

step "down unmounts"
unmount "$MNT2"
"$CLUSTER" down --dir "$DIR" >/dev/null || fail "down failed"
! is_mounted "$MNT" || fail "down left $MNT mounted"
log "ok"

#!/usr/bin/env bash
# Locks across clients (locks.py): a 3-OSD cluster with volume "default"
# mounted on $DIR/mnt by deploy/cluster and on $DIR/mnt2 by mount.cairn;
# fcntl record locks, F_GETLK, blocking waits and their interruption,
# release on close and on process death, and flock(), each contested from
# the other mount.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

step "cluster with --fuse $MNT"
cluster_up_fuse
step "second mount on $MNT2"
mount2
step "locks.py"
"$PY" "$SRC/tests/fuse/locks.py" "$MNT" "$MNT2" "$@" || fail "locks.py failed"
log "ok"

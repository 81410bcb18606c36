#!/usr/bin/env bash
# Several mounts of one volume changing the same directories at once
# (churn.py): volume "default" mounted on $DIR/mnt by deploy/cluster, on
# $DIR/mnt2 and $DIR/mnt3 by mount.cairn (default 1 s attribute and entry
# timeouts); two workers per mount create, rename, link and unlink their
# own names in four shared directories for 15 s. Then every mount must
# show exactly the union of the workers' models, and `cairn fs check`
# (no repair) must find the volume consistent. Arguments go to churn.py
# (--seed S, --seconds S, --ops N, --per-mount N).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MNT3=$DIR/mnt3

step "cluster with --fuse $MNT"
cluster_up_fuse
step "second mount on $MNT2"
mount2
step "third mount on $MNT3"
mkdir -p "$MNT3"
MOUNTS+=("$MNT3")
"$MOUNT" default "$MNT3" -c "$CONF" -o allow_other 2>"$DIR/mount3.err" ||
    fail "mount.cairn default $MNT3 failed: $(cat "$DIR/mount3.err")"
is_mounted "$MNT3" || fail "mount.cairn exited 0 but $MNT3 is not mounted"

step "churn.py"
"$PY" "$SRC/tests/fuse/churn.py" "$MNT/churn" "$MNT2/churn" "$MNT3/churn" \
    --cairn "$CAIRN" --conf "$CONF" --workdir "$DIR" "$@" ||
    fail "churn.py failed (its seeds are above)"
log "ok"

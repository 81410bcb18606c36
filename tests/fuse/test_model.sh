#!/usr/bin/env bash
# The randomized model test (model.py): thousands of random operations on
# mount.cairn and on a directory of the local disk, compared after every
# step and as whole trees. Then a second mount (attribute and entry
# timeouts 0) must show the same final tree, and `cairn fs check` must
# find the volume consistent. Arguments go to model.py (--ops N, --seed S;
# CAIRN_SEED also replays).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

step "cluster with --fuse $MNT"
cluster_up_fuse
mkdir "$DIR/local" "$MNT/model"
step "model.py"
"$PY" "$SRC/tests/fuse/model.py" "$MNT/model" "$DIR/local" --mtimes "$DIR/mtimes.json" "$@" ||
    fail "model.py found the mount and the local directory differ (its seed is above)"

step "the final tree through a second mount"
mount2 attr_timeout=0,entry_timeout=0
"$PY" "$SRC/tests/fuse/model.py" --compare "$MNT2/model" "$DIR/local" \
    --mtimes "$DIR/mtimes.json" || fail "the second mount sees another tree"
unmount "$MNT2"

step "cairn fs check"
cairn --json fs check default >"$DIR/check.json" || fail "fs check failed: $(cat "$DIR/check.json")"
"$PY" - "$DIR/check.json" <<'PY' || fail "fs check: $(cat "$DIR/check.json")"
import json, sys
r = json.load(open(sys.argv[1]))
bad = {k: r[k] for k in ("orphans", "dangling", "bad_nlink", "intents") if r[k]}
assert r["consistent"] and not bad, bad
assert r["entries"] > 0 and r["inodes"] > 0, r
print("fs check: consistent, %d inodes, %d directories, %d entries" %
      (r["inodes"], r["directories"], r["entries"]))
PY
log "ok"

#!/usr/bin/env bash
# client/image.h against a real cluster with a size-1 pool: every check of
# img_api (lifecycle, thin reads, boundaries, discard, write_zeroes, map,
# bounds, resize, two concurrent writers, flush). Pass a seed as $1 to
# replay a run; img_api prints the one it used.
set -euo pipefail
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/../cli/lib_osd.sh"
IMG_API=$CAIRN_BUILD_DIR/tests/integration/image/img_api
if [[ ! -x $IMG_API ]]; then
    log "$IMG_API is missing; skipping"
    exit 77
fi

osd_cluster_up 2
cairn pool create imgtest --size 1 --min-size 1 --pg-num 16 >/dev/null ||
    fail "pool create failed"
"$IMG_API" "$CONF" imgtest ${1:+--seed "$1"} || fail "img_api failed"
log "ok"

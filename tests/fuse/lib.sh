# shellcheck shell=bash
# Shared by the FUSE tests (sourced, not run): skips (exit 77) without
# /dev/fuse, fusermount3 or the binaries; makes a temp dir (mode 0755 so
# the unprivileged test user can reach the mounts below it); a trap that
# unmounts every mount it made (fusermount3 -u, else umount -l), stops the
# cluster, prints log tails on failure and removes the dir; and helpers
# to start the cluster with --fuse and to add a second mount.
# Environment from ctest: CAIRN_BUILD_DIR, CAIRN_SOURCE_DIR.
# CAIRN_KEEP=1 keeps the temp dir.

TEST=$(basename "$0" .sh)
SRC=${CAIRN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export CAIRN_BUILD_DIR=${CAIRN_BUILD_DIR:-$SRC/build}
CLUSTER=$SRC/deploy/cluster
CAIRN=$CAIRN_BUILD_DIR/tools/cli/cairn
MOUNT=$CAIRN_BUILD_DIR/gateway/fuse/mount.cairn
PY=/usr/bin/python3

log() { echo "$TEST: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
step() { echo "$TEST: [$(date -u +%T)] $*" >&2; }

if [[ ! -c /dev/fuse ]] || ! command -v fusermount3 >/dev/null; then
    log "no /dev/fuse or fusermount3; skipping"
    exit 77
fi
for bin in "$CAIRN" "$MOUNT" "$CAIRN_BUILD_DIR/monitor/cairn-mon" \
    "$CAIRN_BUILD_DIR/osd/cairn-osd" "$PY"; do
    if [[ ! -x $bin ]]; then
        log "$bin is missing; skipping"
        exit 77
    fi
done

DIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-$TEST.XXXXXX")
chmod 0755 "$DIR"
CONF=$DIR/cairn.conf
MNT=$DIR/mnt
MNT2=$DIR/mnt2
MOUNTS=()

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

unmount() {
    is_mounted "$1" || return 0
    fusermount3 -u "$1" 2>/dev/null || umount -l "$1" 2>/dev/null || true
}

fuse_cleanup() {
    local rc=$? m pids
    trap - EXIT
    # Background writers first, so nothing keeps a mount busy.
    mapfile -t pids < <(jobs -p)
    if ((${#pids[@]} > 0)); then
        kill "${pids[@]}" 2>/dev/null || true
        wait 2>/dev/null || true
    fi
    for m in "${MOUNTS[@]}" "$MNT"; do unmount "$m"; done
    if [[ -f $DIR/daemons ]]; then
        "$CLUSTER" down --dir "$DIR" >/dev/null 2>&1 || true
    fi
    if [[ $rc -ne 0 && $rc -ne 77 ]]; then
        for f in "$DIR"/log/*.log; do
            [[ -f $f ]] || continue
            echo "==> $f <==" >&2
            case $f in
            */fuse.*) tail -n 60 "$f" >&2 ;;
            *) tail -n 15 "$f" >&2 ;;
            esac
        done
    fi
    if [[ -n ${CAIRN_KEEP:-} ]]; then
        log "kept $DIR"
    elif is_mounted "$MNT" || is_mounted "$MNT2"; then
        log "a mount is still there; not removing $DIR"
    else
        rm -rf "$DIR"
    fi
    exit "$rc"
}
trap fuse_cleanup EXIT

cairn() { "$CAIRN" -c "$CONF" "$@"; }

# wait_for SECONDS CMD...: retries CMD until it succeeds or SECONDS pass.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# cluster_up_fuse: 3 OSDs and volume "default" mounted on $MNT.
cluster_up_fuse() {
    "$CLUSTER" up --dir "$DIR" --osds 3 --fuse "$MNT" >"$DIR/up.out" 2>&1 || {
        cat "$DIR/up.out" >&2
        fail "deploy/cluster up --fuse failed"
    }
    is_mounted "$MNT" || fail "deploy/cluster up --fuse did not mount $MNT"
}

# mount2 [OPTS]: a second mount of volume "default" on $MNT2, by
# mount.cairn itself (daemonized: it exits 0 once mounted).
mount2() {
    mkdir -p "$MNT2"
    MOUNTS+=("$MNT2")
    "$MOUNT" default "$MNT2" -c "$CONF" -o "allow_other${1:+,$1}" 2>"$DIR/mount2.err" ||
        fail "mount.cairn default $MNT2 failed: $(cat "$DIR/mount2.err")"
    is_mounted "$MNT2" || fail "mount.cairn exited 0 but $MNT2 is not mounted"
}

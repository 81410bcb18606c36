# shellcheck shell=bash
# Shared by the NBD tests (sourced): the CLI tests' harness (binaries, temp
# run dir, cleanup trap, wait_for), plus a cluster of one monitor and one
# OSD with a size-1 pool "images", an image maker, and cairn-nbd started on
# a free TCP port and a unix socket in the run dir.
# shellcheck source=../cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"

OSD=$CAIRN_BUILD_DIR/osd/cairn-osd
NBD=${CAIRN_NBD_BIN:-$CAIRN_BUILD_DIR/gateway/nbd/cairn-nbd} # or a sanitizer build
MKIMAGE=$CAIRN_BUILD_DIR/tests/integration/nbd/nbd_mkimage
for bin in "$OSD" "$NBD" "$MKIMAGE"; do
    if [[ ! -x $bin ]]; then
        log "$bin is missing; skipping"
        exit 77
    fi
done

# need_tools TOOL...: skip unless every TOOL is on PATH.
need_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || { log "$t is not installed; skipping"; exit 77; }
    done
}

osds_up() { cairn status --json | json "j['osds']['up']"; }
# For wait_for, which must re-run the check: true when N OSDs are up.
osds_up_is() { [[ $(osds_up) -eq $1 ]]; }

# nbd_cluster_up: one monitor, one OSD, pool "images" of size 1.
nbd_cluster_up() {
    cluster_up --mons 1 --osds 1 --hosts 1
    wait_for 60 osds_up_is 1 || fail "the OSD did not come up"
    cairn pool create images --size 1 --min-size 1 --pg-num 16 >/dev/null ||
        fail "pool create images failed"
}

# mkimage NAME SIZE [OBJECT_SIZE]
mkimage() { "$MKIMAGE" "$CONF" images "$@" || fail "cannot create image $1"; }

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# accepts PORT|PATH: whether something accepts connections there.
accepts() {
    "$PY" - "$1" <<'PYEOF'
import socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_UNIX if a.startswith("/") else socket.AF_INET)
try:
    s.connect(a if a.startswith("/") else ("127.0.0.1", int(a)))
except OSError:
    sys.exit(1)
PYEOF
}

# nbd_start: starts cairn-nbd on a free port ($PORT) and on $SOCK, waits
# until both accept; its pid is $NBD_PID, its log $DIR/nbd.log.
nbd_start() {
    PORT=$(free_port)
    SOCK=$DIR/nbd.sock
    "$NBD" -c "$CONF" --listen "127.0.0.1:$PORT" --socket "$SOCK" "$@" >"$DIR/nbd.log" 2>&1 &
    NBD_PID=$!
    wait_for 30 accepts "$PORT" || { cat "$DIR/nbd.log" >&2; fail "cairn-nbd does not accept on $PORT"; }
    wait_for 30 accepts "$SOCK" || fail "cairn-nbd does not accept on $SOCK"
}

# nbd_stop: SIGTERM, then cairn-nbd must exit 0 within 30 s.
nbd_stop() {
    local rc=0
    kill -TERM "$NBD_PID"
    wait_for 30 nbd_exited || fail "cairn-nbd still runs 30 s after SIGTERM"
    wait "$NBD_PID" || rc=$?
    [[ $rc -eq 0 ]] || { cat "$DIR/nbd.log" >&2; fail "cairn-nbd exited $rc after SIGTERM"; }
}

nbd_exited() { ! kill -0 "$NBD_PID" 2>/dev/null; }


# Stops cairn-nbd before the cluster on any exit.
nbd_cleanup() {
    local rc=$?
    if [[ -n ${NBD_PID:-} ]] && kill -0 "$NBD_PID" 2>/dev/null; then
        kill -TERM "$NBD_PID" 2>/dev/null
        wait "$NBD_PID" 2>/dev/null || true
    fi
    if [[ $rc -ne 0 && $rc -ne 77 && -f $DIR/nbd.log ]]; then
        echo "==> nbd.log <==" >&2
        tail -n 40 "$DIR/nbd.log" >&2
    fi
    set +e # a failing command here must not end the trap before cleanup
    (exit "$rc")
    cleanup
}
trap nbd_cleanup EXIT

uri() { echo "nbd://127.0.0.1:$PORT/$1"; }
unix_uri() { echo "nbd+unix:///$1?socket=$SOCK"; }

# nbdsh ARGS...: libnbd's shell under Debian's python3 (the first python3
# on PATH may lack the nbd module).
nbdsh() { PATH=/usr/bin:$PATH command nbdsh "$@"; }

# shellcheck shell=bash
# Shared by the S3 gateway integration tests (sourced, not run): finds the
# binaries (exit 77 = skip when one is missing), makes a private temp dir
# (also $HOME, so no client config leaks in or out), a trap that stops the
# cluster, prints the log tails on failure and removes the dir, and starts
# a 3-OSD cluster with cairn-s3 on a free loopback port.
# Environment from ctest: CAIRN_BUILD_DIR, CAIRN_SOURCE_DIR.
# CAIRN_KEEP=1 keeps the temp dir (and prints its path).

TEST=$(basename "$0" .sh)
SRC=${CAIRN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export CAIRN_BUILD_DIR=${CAIRN_BUILD_DIR:-$SRC/build}
CLUSTER=$SRC/deploy/cluster
CAIRN=$CAIRN_BUILD_DIR/tools/cli/cairn
S3D=$CAIRN_BUILD_DIR/gateway/s3/cairn-s3
PY=/usr/bin/python3

log() { echo "$TEST: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
step() { echo "$TEST: [$(date -u +%T)] $*" >&2; }

for bin in "$CAIRN" "$S3D" "$CAIRN_BUILD_DIR/monitor/cairn-mon" "$PY"; do
    if [[ ! -x $bin ]]; then
        log "$bin is missing; skipping"
        exit 77
    fi
done

DIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-$TEST.XXXXXX")
CONF=$DIR/cairn.conf
mkdir -p "$DIR/home"
export HOME=$DIR/home
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_CONFIG_FILE \
    AWS_SHARED_CREDENTIALS_FILE AWS_ENDPOINT_URL
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1

s3_cleanup() {
    local rc=$?
    if [[ -f $DIR/daemons ]]; then
        "$CLUSTER" down --dir "$DIR" >/dev/null 2>&1 || true
    fi
    if [[ $rc -ne 0 && $rc -ne 77 ]]; then
        for f in "$DIR"/log/*.log; do
            [[ -f $f ]] || continue
            echo "==> $f <==" >&2
            case $f in
            */s3.*) tail -n 60 "$f" >&2 ;;
            *) tail -n 15 "$f" >&2 ;;
            esac
        done
    fi
    if [[ -n ${CAIRN_KEEP:-} ]]; then
        log "kept $DIR"
    else
        rm -rf "$DIR"
    fi
    exit "$rc"
}
trap s3_cleanup EXIT

free_port() {
    "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# s3_cluster_up: monitors, 3 OSDs and cairn-s3 on a free port; sources
# DIR/s3.env (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, CAIRN_S3_ENDPOINT)
# and sets S3_PORT. One retry on another port (the free port can be taken
# between the probe and cairn-s3's bind).
s3_cluster_up() {
    local try
    for try in 1 2; do
        S3_PORT=$(free_port)
        if "$CLUSTER" up --dir "$DIR" --osds 3 --s3 "$S3_PORT" >"$DIR/up.out" 2>&1; then
            break
        fi
        if ((try == 2)) || grep -q "user" "$DIR/up.out"; then
            cat "$DIR/up.out" >&2
            fail "deploy/cluster up --osds 3 --s3 $S3_PORT failed"
        fi
        "$CLUSTER" down --dir "$DIR" >/dev/null 2>&1 || true
    done
    [[ -s $DIR/s3.env ]] || fail "deploy/cluster wrote no $DIR/s3.env"
    # shellcheck disable=SC1091
    source "$DIR/s3.env"
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY CAIRN_S3_ENDPOINT
    [[ -n ${AWS_ACCESS_KEY_ID:-} && -n ${AWS_SECRET_ACCESS_KEY:-} && -n ${CAIRN_S3_ENDPOINT:-} ]] ||
        fail "$DIR/s3.env lacks keys or the endpoint: $(cat "$DIR/s3.env")"
    step "cluster up, cairn-s3 at $CAIRN_S3_ENDPOINT (log $DIR/log/s3.0.log)"
}

# s3_user_create NAME PREFIX: creates S3 user NAME and sets
# ${PREFIX}_ACCESS_KEY_ID and ${PREFIX}_SECRET_ACCESS_KEY (exported).
s3_user_create() {
    local name=$1 prefix=$2 json ak sk
    json=$("$CAIRN" -c "$CONF" s3 user create "$name" --json) ||
        fail "cairn s3 user create $name failed"
    ak=$("$PY" -c 'import json, sys; print(json.loads(sys.argv[1])["access_key"])' "$json") ||
        fail "bad JSON from cairn s3 user create: $json"
    sk=$("$PY" -c 'import json, sys; print(json.loads(sys.argv[1])["secret_key"])' "$json") ||
        fail "bad JSON from cairn s3 user create: $json"
    printf -v "${prefix}_ACCESS_KEY_ID" '%s' "$ak"
    printf -v "${prefix}_SECRET_ACCESS_KEY" '%s' "$sk"
    export "${prefix}_ACCESS_KEY_ID" "${prefix}_SECRET_ACCESS_KEY"
}

# s3_alive: fails when cairn-s3 exited (a crash is worth saying first).
s3_alive() {
    local pid
    pid=$(cat "$DIR/pid/s3.0.pid" 2>/dev/null) || return 0
    kill -0 "$pid" 2>/dev/null || fail "cairn-s3 (pid $pid) is gone; see the log tail below"
}

# shellcheck shell=bash
# Shared by the CLI integration tests (sourced, not run): finds the
# binaries (exit 77 = skip when one is missing), makes a temp run directory
# and a trap that stops the cluster and removes it, and small helpers.
# Environment from ctest: CAIRN_BUILD_DIR, CAIRN_SOURCE_DIR.

TEST=$(basename "$0" .sh)
SRC=${CAIRN_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
export CAIRN_BUILD_DIR=${CAIRN_BUILD_DIR:-$SRC/build}
CLUSTER=$SRC/deploy/cluster
CAIRN=$CAIRN_BUILD_DIR/tools/cli/cairn
MON=$CAIRN_BUILD_DIR/monitor/cairn-mon
PY=/usr/bin/python3

log() { echo "$TEST: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

for bin in "$CAIRN" "$MON" "$PY"; do
    if [[ ! -x $bin ]]; then
        log "$bin is missing; skipping"
        exit 77
    fi
done

DIR=$(mktemp -d "${TMPDIR:-/tmp}/cairn-$TEST.XXXXXX")
CONF=$DIR/cairn.conf

cleanup() {
    local rc=$?
    if [[ -f $DIR/daemons ]]; then
        "$CLUSTER" down --dir "$DIR" >/dev/null 2>&1 || true
    fi
    if [[ $rc -ne 0 && $rc -ne 77 ]]; then
        for f in "$DIR"/log/*.log; do
            [[ -f $f ]] || continue
            echo "==> $f <==" >&2
            tail -n 30 "$f" >&2
        done
    fi
    rm -rf "$DIR"
    exit "$rc"
}
trap cleanup EXIT

# cairn ARGS...: the CLI on this cluster.
cairn() { "$CAIRN" -c "$CONF" "$@"; }

# expect_rc WANT CMD...: runs CMD, fails unless it exits WANT; its stderr
# is left in $DIR/stderr.
expect_rc() {
    local want=$1 rc=0
    shift
    "$@" 2>"$DIR/stderr" >"$DIR/stdout" || rc=$?
    [[ $rc -eq $want ]] || fail "'$*' exited $rc, not $want: $(cat "$DIR/stderr")"
}

# json EXPR: evaluates the Python expression EXPR on the JSON document on
# stdin (as `j`) and prints the result.
json() {
    "$PY" -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

cluster_up() {
    "$CLUSTER" up --dir "$DIR" "$@" >"$DIR/up.out" 2>&1 || {
        cat "$DIR/up.out" >&2
        fail "deploy/cluster up $* failed"
    }
}

# wait_for SECONDS CMD...: retries CMD until it succeeds or SECONDS pass.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# The pids deploy/cluster recorded that still run.
live_pids() {
    local f pid
    for f in "$DIR"/pid/*.pid; do
        [[ -f $f ]] || continue
        pid=$(cat "$f")
        kill -0 "$pid" 2>/dev/null && echo "$pid"
    done
    return 0
}

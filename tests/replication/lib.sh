# shellcheck shell=bash
# Shared by the replication tests (sourced): the data-path harness
# (../integration/datapath/lib.sh: binaries, temp run dir, cleanup trap,
# cairn/wait_for/fail/osd_pid helpers) plus what replicated pools need:
# waiting for every PG to be active+clean (wait_clean) or active
# (wait_active), killing and starting single OSDs, the object writer and
# verifier (repl_objects) and timing of the phases.
# The harness finds the tree three levels above the script: not ours.
CAIRN_SOURCE_DIR=${CAIRN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=../integration/datapath/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/datapath/lib.sh"

REPL_BIN=$CAIRN_BUILD_DIR/tests/replication
OBJECTS=$REPL_BIN/repl_objects
if [[ ! -x $OBJECTS ]]; then
    log "$OBJECTS is missing; skipping"
    exit 77
fi
# Every OSD writes its whole data file at mkfs: keep four of them small.
export CAIRN_OSD_DATA_SIZE=${CAIRN_OSD_DATA_SIZE:-256M}

# ---- timing and cleanup ----

T_START=$SECONDS
T_PHASE=$SECONDS
PHASE=setup
# phase NAME: ends the current phase (printing its duration) and starts NAME.
phase() {
    log "phase $PHASE took $((SECONDS - T_PHASE))s (total $((SECONDS - T_START))s); now: $1"
    PHASE=$1
    T_PHASE=$SECONDS
}

# Commands run at exit before the harness's cleanup (which stops the
# cluster and removes $DIR): add one with `at_exit CMD...`.
AT_EXIT=()
at_exit() { AT_EXIT+=("$*"); }
repl_cleanup() {
    local rc=$? i
    set +e # the scripts' errexit would end this trap at `(exit "$rc")`
    for ((i = ${#AT_EXIT[@]} - 1; i >= 0; i--)); do
        eval "${AT_EXIT[$i]}" >/dev/null 2>&1 || true
    done
    log "exit $rc after $((SECONDS - T_START))s (in phase $PHASE)"
    (exit "$rc")
    cleanup
}
trap repl_cleanup EXIT

# ---- the cluster ----

# repl_cluster_up OSDS HOSTS [SECTION KEY VALUE]...: one monitor and OSDS
# OSDs over HOSTS hosts, all up. Extra options go into cairn.conf, after
# which the daemons restart to read them (deploy/cluster takes no options).
repl_cluster_up() {
    local osds=$1 hosts=$2
    shift 2
    cluster_up --mons 1 --osds "$osds" --hosts "$hosts"
    if (($# > 0)); then
        while (($# >= 3)); do
            printf '\n[%s]\n%s = %s\n' "$1" "$2" "$3" >>"$CONF"
            shift 3
        done
        "$CLUSTER" down --dir "$DIR" >/dev/null 2>&1 || fail "deploy/cluster down failed"
        cluster_up
    fi
    wait_for 60 osds_up_at_least "$osds" || fail "only $(osds_up) of $osds OSDs came up"
}

osds_up_at_least() { (($(osds_up) >= $1)); }

# osd_count: the OSDs this cluster runs (deploy/cluster's DIR/daemons).
osd_count() { grep -c '^osd ' "$DIR/daemons"; }

# osd_boots ID: how often osd.ID went ACTIVE (its "up at" log lines).
osd_boots() { grep -c "osd.$1 up at" "$DIR/log/osd.$1.log" || true; }
osd_booted_after() { (($(osd_boots "$1") > $2)); }

# pid_gone PID: the process is no more (a zombie whose threads all exited
# counts as gone).
pid_gone() {
    # A zombie main thread is not enough: the other threads (one finishing
    # an fdatasync, say) still hold the process's files and locks.
    [[ ! -e /proc/$1 ]] ||
        { [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]] &&
            (($(ls "/proc/$1/task" 2>/dev/null | wc -l) <= 1)); }
}

# osd_kill9 ID: SIGKILL to osd.ID, returning once it is dead.
osd_kill9() {
    local pid
    pid=$(osd_pid "$1")
    kill -9 "$pid" 2>/dev/null || true
    wait_for 10 pid_gone "$pid" || fail "osd.$1 (pid $pid) survived SIGKILL"
}

# osd_start ID: starts osd.ID as deploy/cluster does (same log and pid
# file) without waiting: `wait_for N osd_booted_after ID COUNT` waits.
# OSD_WRAP (an array) may prefix the command, e.g. (ip netns exec NS).
# (Started from a subshell, as deploy/cluster does, so that it is not a job
# of this shell and its SIGKILL is not reported here.)
OSD_WRAP=()
osd_start() {
    (
        "${OSD_WRAP[@]}" setsid "$OSD" --name "osd.$1" -c "$CONF" >>"$DIR/log/osd.$1.log" 2>&1 \
            </dev/null &
        echo $! >"$DIR/pid/osd.$1.pid"
    )
}

# osd_restart ID: starts osd.ID and waits (60 s) until it is ACTIVE again.
osd_restart() {
    local boots
    boots=$(osd_boots "$1")
    osd_start "$1"
    wait_for 60 osd_booted_after "$1" "$boots" || fail "osd.$1 did not come back up within 60s"
}

# ---- PG states ----

# pg_check WANT_UP MODE: reads `cairn status --json` on stdin and prints
# "ok EPOCH" when at least WANT_UP OSDs are up and every PG is active+clean
# (MODE clean: also no object missing) or in some active state (MODE
# active), else what is not. The PG total is pgs["total"] when the CLI gives
# it, else the sum of the per-state counts. When the CLI says where the
# states come from ("pg_stats"), they must be the primaries' reports
# ("osds"), not the map's guess.
pg_check() {
    "$PY" -c '
import json, sys
want, mode = int(sys.argv[1]), sys.argv[2]
try:
    s = json.load(sys.stdin)
except ValueError:
    print("no answer from the monitors"); sys.exit()
pgs = s.get("pgs", {})
counts = {k: v for k, v in pgs.items() if k != "total" and isinstance(v, int)}
total = pgs.get("total", sum(counts.values()))
if mode == "clean":
    good = counts.get("active+clean", 0)
else:
    good = sum(v for k, v in counts.items() if k.split("+")[0] == "active")
up = s["osds"]["up"]
missing = s.get("recovery", {}).get("objects_missing", 0)
if up < want:
    print("%d of %d OSDs up; pgs %s" % (up, want, json.dumps(pgs)))
elif total == 0:
    print("no PGs")
elif s.get("pg_stats", "osds") != "osds":
    print("PG states come from the %s, not from the OSDs: %s" % (s["pg_stats"], json.dumps(pgs)))
elif good != total:
    print("%d of %d PGs %s: %s" % (good, total, "active+clean" if mode == "clean" else "active",
                                   json.dumps(pgs)))
elif mode == "clean" and missing:
    print("%d objects missing (recovery: %s)" % (missing, json.dumps(s["recovery"])))
else:
    print("ok %d" % s["epoch"])' "$1" "$2"
}

# wait_pgs DEADLINE_S WANT_UP MODE: polls until pg_check says ok 4 times
# in a row (1.5 s) at the same map epoch, so that a state reported before
# the last map change (primaries report every beacon, 1 s) does not count,
# or fails with the last status.
wait_pgs() {
    local deadline=$((SECONDS + $1)) want=$2 mode=$3 t0=$SECONDS state last="" n=0 json=""
    while :; do
        json=$(cairn --timeout 5 status --json 2>/dev/null || true)
        state=$(pg_check "$want" "$mode" <<<"$json")
        if [[ $state == ok* && $state == "$last" ]]; then
            n=$((n + 1))
        elif [[ $state == ok* ]]; then
            n=1
        else
            n=0
        fi
        last=$state
        if ((n >= 4)); then
            log "all PGs $mode after $((SECONDS - t0))s (epoch ${state#ok }$(
                ((want == 0)) || echo ", at least $want OSDs up"))"
            return 0
        fi
        if ((SECONDS >= deadline)); then
            log "last status: $json"
            fail "PGs not all $mode within $1s: $state"
        fi
        sleep 0.5
    done
}

# wait_clean DEADLINE_S [OSDS]: every PG active+clean and OSDS OSDs up
# (default: every OSD of the cluster).
wait_clean() { wait_pgs "$1" "${2:-$(osd_count)}" clean; }
# wait_active DEADLINE_S [OSDS]: every PG active (clean or not) and OSDS up.
wait_active() { wait_pgs "$1" "${2:-0}" active; }

# osd_pgs: "ID PGS" per OSD of `cairn osd tree --json` (the PGs whose up
# set holds it), sorted by id.
osd_pgs() {
    cairn osd tree --json | json '"\n".join("%d %d" % (o["id"], o["pgs"])
        for h in j["hosts"] for o in sorted(h["osds"], key=lambda o: o["id"]))' | sort -n
}

# ---- objects ----

# quiet CMD...: CMD with libcairn's per-connection INFO lines dropped.
quiet() { "$@" 2> >(grep -v ' INFO msgr: conn ' >&2); }

# objects_write JOURNAL PREFIX FROM COUNT GEN: repl_objects write to pool
# $POOL (the script sets it), failing the test when a write is not
# acknowledged.
objects_write() {
    quiet "$OBJECTS" "$CONF" "${POOL:?}" write "$1" --prefix "$2" --from "$3" --count "$4" \
        --gen "$5" >&2 || fail "writes of $2.$3..$(($3 + $4 - 1)) (generation $5) failed"
}

# objects_verify JOURNAL WHAT: every object of JOURNAL reads back as its
# last journaled generation, or the test fails saying WHAT was checked.
objects_verify() {
    quiet "$OBJECTS" "$CONF" "$POOL" verify "$1" >&2 || fail "objects did not verify $2"
}

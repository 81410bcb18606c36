# Shared helpers of the cairn-mon integration tests (sourced): a temp dir
# with a config and a keyring, monitors a, b, c... on free loopback ports,
# start / stop / kill -9, and cleanup on exit that shows the monitors' logs
# when the test failed. Needs CAIRN_BUILD_DIR (set by ctest) or a ./build.
set -euo pipefail

BUILD=${CAIRN_BUILD_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)/build}
MON=$BUILD/monitor/cairn-mon
CLIENT=$BUILD/tests/integration/mon/mon_test_client
if [ ! -x "$MON" ] || [ ! -x "$CLIENT" ]; then
    echo "SKIP: build the cairn-mon and mon_test_client targets in $BUILD first"
    exit 77
fi

TMP=$(mktemp -d /tmp/cairn-mon-test.XXXXXX)
CONF=$TMP/cairn.conf
declare -A PID=() ADDR=()
NAMES=()
PASSED=0
T0=$(date +%s%N)

cleanup() {
    local n
    for n in "${!PID[@]}"; do kill -9 "${PID[$n]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ "$PASSED" != 1 ]; then
        for n in "$TMP"/mon.*.log; do
            [ -f "$n" ] && { echo "==== $n (last 60 lines)"; tail -n 60 "$n"; }
        done
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

log() {
    local ms=$((($(date +%s%N) - T0) / 1000000))
    printf '[%3d.%03ds] %s\n' $((ms / 1000)) $((ms % 1000)) "$*"
}
fail() { echo "FAIL: $*" >&2; exit 1; }
client() { "$CLIENT" -k "$TMP/keyring" "$@"; }

# "a=ADDR b=ADDR ..." for the named monitors (all by default).
mon_args() {
    local n out=()
    for n in "${@:-${NAMES[@]}}"; do out+=("$n=${ADDR[$n]}"); done
    echo "${out[@]}"
}

keyring_entry() { printf '[%s]\nkey = %s\n\n' "$1" "$("$MON" --gen-key)"; }

# setup_cluster N [EXTRA_CONFIG_LINES]: config and keyring for monitors
# a, b, c... (N of them in mon_host) plus a spare "d" outside mon_host, and
# mkfs of the N. Extra lines go to [mon]. The keyring also holds osd.0..2.
setup_cluster() {
    local n=$1 extra=${2:-} all=(a b c d e f g) ports i hosts=""
    mapfile -t ports < <("$CLIENT" ports $((n + 1)))
    for ((i = 0; i <= n; i++)); do ADDR[${all[$i]}]=127.0.0.1:${ports[$i]}; done
    for ((i = 0; i < n; i++)); do
        NAMES+=("${all[$i]}")
        hosts+="${hosts:+,}${all[$i]}=${ADDR[${all[$i]}]}"
    done
    SPARE=${all[$n]}
    {
        keyring_entry client.admin
        keyring_entry client.other
        for ((i = 0; i <= n; i++)); do keyring_entry "mon.${all[$i]}"; done
        for i in 0 1 2; do keyring_entry "osd.$i"; done # fake OSDs of mon_test_client
    } > "$TMP/keyring"
    {
        printf '[global]\nfsid = %s\nmon_host = %s\nkeyring = %s\n' \
            "$(cat /proc/sys/kernel/random/uuid)" "$hosts" "$TMP/keyring"
        printf '[mon]\nmon_tick_interval = 50ms\nmon_allow_test_commands = true\n%s\n' "$extra"
        for ((i = 0; i <= n; i++)); do
            printf '[mon.%s]\nmon_data = %s/mon.%s\nmon_addr = %s\n' \
                "${all[$i]}" "$TMP" "${all[$i]}" "${ADDR[${all[$i]}]}"
        done
    } > "$CONF"
    for i in "${NAMES[@]}"; do
        "$MON" -c "$CONF" --name "mon.$i" --mkfs > /dev/null || fail "mkfs of mon.$i"
    done
}

start_mon() {
    "$MON" -c "$CONF" --name "mon.$1" >> "$TMP/mon.$1.log" 2>&1 &
    PID[$1]=$!
}

start_all() { local n; for n in "${NAMES[@]}"; do start_mon "$n"; done; }

kill9_mon() {
    kill -9 "${PID[$1]}"
    wait "${PID[$1]}" 2>/dev/null || true
    unset "PID[$1]"
}

# stop_mon NAME: SIGTERM; the monitor must exit 0 within 10 s.
stop_mon() {
    local pid=${PID[$1]} i rc=0
    kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    wait "$pid" || rc=$?
    unset "PID[$1]"
    [ "$rc" = 0 ] || fail "mon.$1 exited with status $rc after SIGTERM"
}

stop_all() { local n; for n in "${!PID[@]}"; do stop_mon "$n"; done; }

# wait_for SECS CMD...: runs CMD every 0.1 s until it succeeds.
wait_for() {
    local end=$(( $(date +%s) + $1 )); shift
    until "$@" > /dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.1
    done
}

epoch_of() { client epoch "${ADDR[$1]}"; }

pass() {
    PASSED=1
    log "PASS"
}

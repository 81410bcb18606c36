# shellcheck shell=bash
# Host side of the vhost-user-blk guest tests (sourced, not run): test data
# for guest_io.sh, markers in the console log, host-side checks of the disk
# a guest wrote, and the two scenarios every backend runs:
#
#   guest_scenario_io       one boot: patterns, ext2, discard; then the host
#                           checks the disk image
#   guest_scenario_restart  one boot with reconnect=1: the guest writes,
#                           goes idle; the host SIGKILLs the backend,
#                           restarts it on the same socket and resumes the
#                           guest, which must read and write on
#
# The sourcing test provides the backend as five functions, so that
# test_guest_qsd.sh (qemu-storage-daemon) and a cairn-vhost test differ only
# in them:
#   backend_start     serve the disk on $SOCK; return once it listens
#   backend_kill      SIGKILL it and reap it
#   backend_stop      stop it cleanly (all writes durable)
#   backend_export    print the path of a raw file with the disk's content
#   backend_discard_zeroes  true when a discarded range must read as zeros
# and the variables DIR (a private temp dir) and SOCK. Uses log, fail and
# wait_for from tests/integration/cli/lib.sh when sourced after it, else
# defines its own. Its trap must call guest_cleanup (kills a background
# run-guest and so its QEMU) before stopping the backend.
#
# A cairn-vhost variant, roughly: source ../../integration/cli/lib.sh (a
# cluster in $DIR), then this file; make a ${GUEST_DISK_MB} MiB image;
# backend_start runs `cairn-vhost --image NAME --socket $SOCK` and waits
# until the socket exists; backend_export runs `cairn image export` into
# $DIR/export.raw and prints that path; backend_discard_zeroes is true only
# if cairn-vhost promises zeros after a discard.

GUEST_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN_GUEST=$GUEST_HOME/run-guest
GUEST_TEST=${TEST:-$(basename "$0" .sh)}
# shellcheck disable=SC2034 # for the sourcing test: the disk size to make
GUEST_DISK_MB=64                  # the disk guest_make_data plans for
GUEST_FS_KB=$((24 * 1024))        # ext2 on [0, 24 MiB)
GUEST_TIMEOUT_S=${GUEST_TIMEOUT_S:-90} # per boot; a boot takes ~4-10 s
RG_PID=""

declare -F log >/dev/null || log() { echo "$GUEST_TEST: $*" >&2; }
declare -F fail >/dev/null || fail() { log "FAIL: $*"; exit 1; }
declare -F wait_for >/dev/null || wait_for() { # SECONDS CMD...
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# guest_need: skips (77) unless QEMU and a guest kernel are at hand.
guest_need() {
    command -v qemu-system-x86_64 >/dev/null || { log "qemu-system-x86_64 is missing; skipping"; exit 77; }
    "$GUEST_HOME/fetch-kernel" >/dev/null || { log "no guest kernel; skipping"; exit 77; }
}

# guest_make_data DATADIR: pattern files and DATADIR/plan ("NAME OFFSET
# PHASE") for guest_io.sh; sets DATA=DATADIR and GUEST_FILES to the
# run-guest --file arguments. Every 512-byte sector starts with its pattern name and sector
# number, the rest is seeded pseudo-random: the same on every run.
guest_make_data() {
    local d=$1 f
    DATA=$d
    mkdir -p "$d"
    /usr/bin/python3 - "$d" <<'PYEOF' || fail "cannot make the guest test data"
import random, sys
d = sys.argv[1]
MiB, KiB = 1 << 20, 1 << 10
plan = [  # name, offset, size, phase; ext2 owns [0, 24 MiB)
    ("p1a", 24 * MiB, 1 * MiB, "1"),            # 64K-aligned
    ("p1b", 30 * MiB + 512, 64 * KiB, "1"),     # only sector-aligned
    ("p1c", 40 * MiB + 3 * 4096, 256 * KiB, "1"),
    ("p1d", 63 * MiB, 1 * MiB, "1"),            # the last MiB
    ("p2a", 44 * MiB, 512 * KiB, "2"),          # written after a restart
    ("p2b", 46 * MiB + 1536, 32 * KiB, "2"),
    ("d1", 52 * MiB, 1 * MiB, "discard"),       # written, then discarded
    ("f1", 0, 300 * KiB, "fs"),                 # files in the ext2
    ("f2", 0, 5000, "fs"),
]
with open(f"{d}/plan", "w") as p:
    for name, off, size, phase in plan:
        rnd = random.Random(name)
        out = bytearray()
        for s in range((size + 511) // 512):
            tag = f"CAIRN {name} sector {s:08d} ".encode()
            out += tag + rnd.randbytes(512 - len(tag))
        with open(f"{d}/{name}", "wb") as f:
            f.write(out[:size])
        p.write(f"{name} {off} {phase}\n")
PYEOF
    GUEST_FILES=()
    for f in "$d"/*; do
        GUEST_FILES+=(--file "$f")
    done
}

# guest_marker LOG MARKER: whether a console line starts with MARKER.
guest_marker() { [[ -f $1 ]] && tr -d '\r' <"$1" | grep -q "^$2"; }

# guest_info LOG KEY: the value of KEY=VALUE on the CAIRN-GUEST-INFO lines.
guest_info() {
    tr -d '\r' <"$1" | grep '^CAIRN-GUEST-INFO ' | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# guest_send CTL LINE: one line to an idle guest (run-guest --ctl CTL).
guest_send() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 10 bash -c 'echo "$2" >"$1.in"' _ "$1" "$2" ||
        fail "cannot write to the guest's control channel $1.in"
}

# guest_check_patterns RAW PHASE...: the disk image RAW holds each plan
# pattern of the PHASEs at its offset.
guest_check_patterns() {
    local raw=$1 name off phase n=0
    shift
    while read -r name off phase; do
        [[ " $* " == *" $phase "* ]] || continue
        cmp -s -n "$(stat -c %s "$DATA/$name")" -i "$off:0" "$raw" "$DATA/$name" ||
            fail "the disk does not hold pattern $name at $off (phase $phase)"
        n=$((n + 1))
    done <"$DATA/plan"
    ((n > 0)) || fail "no patterns of phases $* to check"
    log "the disk holds the $n patterns of phases $*"
}

# guest_check_zeros RAW NAME: the range of plan entry NAME reads as zeros.
guest_check_zeros() {
    local raw=$1 off size
    read -r off < <(awk -v n="$2" '$1 == n { print $2 }' "$DATA/plan")
    size=$(stat -c %s "$DATA/$2")
    cmp -s -n "$size" -i "$off:0" "$raw" /dev/zero ||
        fail "the discarded range $off+$size does not read as zeros on the host"
}

# guest_check_fs RAW: the ext2 the guest made is clean and holds its files.
guest_check_fs() {
    local raw=$1 name off phase
    if ! command -v e2fsck >/dev/null || ! command -v debugfs >/dev/null; then
        log "e2fsprogs is missing; not checking the file system on the host"
        return 0
    fi
    e2fsck -fn "$raw" >"$DIR/e2fsck.out" 2>&1 || {
        cat "$DIR/e2fsck.out" >&2
        fail "e2fsck finds errors in the guest's file system"
    }
    while read -r name off phase; do
        [[ $phase == fs ]] || continue
        debugfs -R "dump /dir/$name $DIR/fs.$name" "$raw" >/dev/null 2>&1
        cmp -s "$DIR/fs.$name" "$DATA/$name" || fail "file /dir/$name differs on the host"
    done <"$DATA/plan"
    [[ $(debugfs -R "cat /hello" "$raw" 2>/dev/null) == "hello from the guest" ]] ||
        fail "file /hello differs on the host"
    log "e2fsck: clean; the guest's files match"
}

# guest_run LOG ARGS...: run-guest on $SOCK with guest_io.sh and the data.
guest_run() {
    local log=$1
    shift
    "$RUN_GUEST" --socket "$SOCK" --script "$GUEST_HOME/guest_io.sh" --log "$log" \
        --timeout "$GUEST_TIMEOUT_S" --env "CAIRN_FS_KB=$GUEST_FS_KB" "${GUEST_FILES[@]}" "$@"
}

# Kills a background run-guest (which kills its QEMU); for the test's trap.
guest_cleanup() {
    if [[ -n $RG_PID ]] && kill -0 "$RG_PID" 2>/dev/null; then
        kill -TERM "$RG_PID" 2>/dev/null
        wait "$RG_PID" 2>/dev/null || true
    fi
    RG_PID=""
}

guest_scenario_io() {
    local raw how
    log "boot 1: patterns, ext2, discard"
    backend_start
    guest_run "$DIR/io.log" || fail "the guest I/O run failed"
    how=$(guest_info "$DIR/io.log" discard)
    log "guest: io=$(guest_info "$DIR/io.log" io) discard=$how" \
        "discard_max_bytes=$(guest_info "$DIR/io.log" discard_max_bytes)" \
        "reads_zero=$(guest_info "$DIR/io.log" reads_zero)"
    backend_stop
    raw=$(backend_export) || fail "cannot export the disk"
    guest_check_patterns "$raw" 1
    guest_check_fs "$raw"
    if backend_discard_zeroes; then
        [[ $how == blkdiscard ]] || fail "blkdiscard did not work in the guest (discard=$how)"
        [[ $(guest_info "$DIR/io.log" reads_zero) == yes ]] ||
            fail "the discarded range does not read as zeros in the guest"
        guest_check_zeros "$raw" d1
        log "the discarded range reads as zeros on the host"
    fi
}

guest_scenario_restart() {
    local raw rc=0
    log "boot 2: write, idle, backend killed and restarted, read and write on"
    backend_start
    guest_run "$DIR/restart.log" --reconnect --ctl "$DIR/ctl" \
        --env CAIRN_STEPS=patterns:1,idle,verify:1,patterns:2 &
    RG_PID=$!
    wait_for "$GUEST_TIMEOUT_S" guest_idle_or_gone "$DIR/restart.log" ||
        fail "the guest never went idle"
    kill -0 "$RG_PID" 2>/dev/null || fail "the guest ended before it went idle"
    backend_kill
    log "backend killed (SIGKILL) while the guest is idle; restarting it"
    backend_start
    guest_send "$DIR/ctl" resume
    wait "$RG_PID" || rc=$?
    RG_PID=""
    if [[ $rc -ne 0 ]]; then
        guest_marker "$DIR/restart.log" CAIRN-GUEST-RESUMED &&
            log "the guest resumed, but its I/O after the restart failed or hung"
        fail "the guest did not survive a backend restart (run-guest exited $rc)"
    fi
    backend_stop
    raw=$(backend_export) || fail "cannot export the disk"
    guest_check_patterns "$raw" 1 2
}

guest_idle_or_gone() {
    guest_marker "$1" CAIRN-GUEST-IDLE || ! kill -0 "$RG_PID" 2>/dev/null
}

#!/bin/bash
# The leader's failure detector end to end, with fake OSDs (mon_test_client
# osd-*): three monitors with mon_osd_down_grace = 2s, mon_osd_out_after = 4s;
# osd.0..2 boot, osd.0 and osd.1 beacon, osd.2 is silent. osd.2 goes down,
# then out; the beaconing ones stay up and in. osd.0 reports osd.1 failed
# (through a follower, while osd.1 still beacons, so only the report can be
# why): osd.1 goes down. The leader is killed -9: the new leader's detector
# starts afresh and must not mark the still-beaconing osd.0 down. osd.2 boots
# again: up, and still out (boot keeps in/out, monitor/core/cluster.h).
# Timing: only deadlines, never "not before".
. "$(dirname "$0")/lib.sh"

GRACE=2
declare -A BEACON=()
stop_beacon() {
    kill "${BEACON[$1]}" 2>/dev/null || true
    wait "${BEACON[$1]}" 2>/dev/null || true
    unset "BEACON[$1]"
}
cleanup_osds() {
    local id f
    for id in "${!BEACON[@]}"; do stop_beacon "$id"; done
    if [ "$PASSED" != 1 ]; then
        for f in "$TMP"/beacon.*.log; do
            [ -f "$f" ] && { echo "==== $f"; cat "$f"; }
        done
    fi
    cleanup
}
trap cleanup_osds EXIT

# start_beacon ID: osd.ID beacons to the leader among the live monitors
# (started directly, not through client(), so that $! is the process).
start_beacon() {
    "$CLIENT" -k "$TMP/keyring" osd-beacon 600 "$1" $(mon_args "${live[@]}") \
        >> "$TMP/beacon.$1.log" 2>&1 &
    BEACON[$1]=$!
}
beacon_alive() { kill -0 "${BEACON[$1]}" 2>/dev/null || fail "osd.$1's beacon sender died"; }

# boot ADDR ID: OSD_BOOT as osd.ID (retried while a leader settles).
boot() {
    local i out
    for ((i = 0; i < 20; i++)); do
        out=$(client osd-boot "$1" "$2" "host$2" 2>&1) && break
        sleep 0.25
    done
    [ "$out" = "$2" ] || fail "boot of osd.$2: $out"
}

# expect_state ADDR ID STATE...: the monitor's map shows it now.
expect_state() {
    local addr=$1 id=$2 got
    shift 2
    got=$(client osd-state "$addr" "$id") || fail "osd-state of osd.$id"
    [ "$got" = "$*" ] || fail "osd.$id is '$got', not '$*'"
}

# wait_state SECS ADDR ID STATE...: within SECS seconds.
wait_state() {
    client wait-osd-state "$@" > /dev/null || fail "osd.$3 did not become '${*:4}' within $1 s"
    log "osd.$3 is ${*:4}"
}

setup_cluster 3 "mon_osd_down_grace = ${GRACE}s
mon_osd_out_after = 4s"
start_all
live=("${NAMES[@]}")
leader=$(client wait-leader 20 $(mon_args)) || fail "no leader elected"
L=${ADDR[$leader]}
follower=
for n in "${NAMES[@]}"; do [ "$n" = "$leader" ] || { follower=$n; break; }; done
log "leader is mon.$leader"

for id in 0 1 2; do
    boot "${ADDR[$follower]}" "$id"
    [ "$id" = 2 ] || start_beacon "$id"
done
for id in 0 1 2; do expect_state "$L" "$id" up in; done
log "osd.0..2 booted (through mon.$follower); osd.0 and osd.1 beacon, osd.2 is silent"

# Silence: down after the grace (+ up to a detector period of 1 s), then out.
wait_state 10 "$L" 2 down in
for id in 0 1; do expect_state "$L" "$id" up in; done
wait_state 15 "$L" 2 down out
for id in 0 1; do expect_state "$L" "$id" up in; beacon_alive "$id"; done

# A peer's report (min_reporters is 1) marks osd.1 down although it beacons.
client osd-report "${ADDR[$follower]}" 0 1 > /dev/null || fail "osd.0's report was refused"
log "osd.0 reported osd.1 failed (through mon.$follower)"
wait_state 10 "$L" 1 down in
stop_beacon 1
grep -q "failure detector: osd down osd.1" "$TMP"/mon.*.log ||
    fail "no monitor log shows the detector marking osd.1 down"
expect_state "$L" 0 up in

# Nobody acts for another OSD: osd.0 may not beacon for osd.2 or boot as
# osd.1 (EACCES, 13), and osd.1, now down, has no say about osd.0.
rc=0; client -n osd.0 beacon-cmd "$L" 2 > /dev/null 2>&1 || rc=$?
[ "$rc" = 13 ] || fail "osd.0 beaconing for osd.2 got $rc, not EACCES"
rc=0; client -n osd.1 osd-boot "$L" 0 host0 > /dev/null 2>&1 || rc=$?
[ "$rc" = 13 ] || fail "osd.1 booting as osd.0 got $rc, not EACCES"
out=$(client osd-report "$L" 1 0) || fail "the report of the down osd.1 failed: $out"
case "$out" in *ignored*) ;; *) fail "the down osd.1's report was not ignored: $out" ;; esac
sleep "$GRACE"
expect_state "$L" 0 up in
log "foreign beacons and boots refused, a down reporter ignored"

# A new leader's detector gives every OSD a fresh grace; osd.0's beacons find
# it, so osd.0 stays up and in.
kill9_mon "$leader"
log "killed the leader mon.$leader"
live=()
for n in "${NAMES[@]}"; do [ "$n" = "$leader" ] || live+=("$n"); done
new=$(client wait-leader 20 $(mon_args "${live[@]}")) || fail "no new leader"
L=${ADDR[$new]}
log "new leader is mon.$new"
sleep $((2 * GRACE))
expect_state "$L" 0 up in
beacon_alive 0
expect_state "$L" 2 down out
wait_state 15 "$L" 1 down out # the out timer restarts on the new leader
expect_state "$L" 0 up in
log "osd.0 stayed up and in across the leader change"

# osd.2 comes back: up, and still out (OSD_BOOT keeps in/out).
boot "$L" 2
start_beacon 2
wait_state 10 "$L" 2 up out
sleep $((2 * GRACE))
for n in "${live[@]}"; do
    client wait-osd-state 10 "${ADDR[$n]}" 2 up out > /dev/null || fail "mon.$n: osd.2 not up out"
    expect_state "${ADDR[$n]}" 0 up in
done
beacon_alive 2
if grep -q "failure detector: osd down osd.0" "$TMP"/mon.*.log; then
    fail "a detector marked the beaconing osd.0 down"
fi
log "osd.2 booted again: up and out; osd.0 never marked down"
stop_all
pass

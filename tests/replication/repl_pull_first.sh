#!/usr/bin/env bash
# A returning primary pulls the object an op waits for ahead of the others:
# the op waits for one pull, not for recovery to walk to its name.
#
# A size-3 pool with one PG on 3 OSDs over 3 hosts, recovery throttled to
# one object at a time (osd_recovery_max_active 1). The PG's primary is
# killed and 1,200 objects are written while it is down (fewer than the PG
# log keeps, so it catches up from the log: it activates at once and pulls
# what it lacks while it serves). Once it logs that it activates while
# pulling, the object whose name sorts last, the one the name-ordered walk
# reaches last, is read: it must read back before the primary logs that it
# pulled everything. Then every object verifies once the PG is clean.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

POOL=pf
N=1200

repl_cluster_up 3 3 osd osd_recovery_max_active 1
cairn pool create $POOL --size 3 --min-size 2 --pg-num 1 >/dev/null || fail "pool create"
wait_clean 60 3
primary=$(cairn osd map $POOL probe --json | json "j['primary']")
log "osd.$primary is the PG's primary"

phase "osd.$primary down, $N objects written"
osd_kill9 "$primary"
wait_for 30 osd_is_down "$primary" || fail "osd.$primary was not marked down within 30s"
objects_write "$DIR/journal" obj 0 $N 1
last=$(for ((i = 0; i < N; i++)); do echo "obj.$i"; done | LC_ALL=C sort | tail -n 1)

phase "osd.$primary back, $last read while it pulls"
osd_log=$DIR/log/osd.$primary.log
activations=$(grep -c "activating while pulling" "$osd_log" || true)
activated_again() { (($(grep -c "activating while pulling" "$osd_log" || true) > activations)); }
pulls_done=$(grep -c "objects it lacked" "$osd_log" || true)
osd_restart "$primary"
wait_for 60 activated_again || fail "osd.$primary did not activate while pulling within 60s"
t0=$SECONDS
cairn get $POOL "$last" "$DIR/last.out" || fail "reading $last failed"
if (($(grep -c "objects it lacked" "$osd_log" || true) > pulls_done)); then
    fail "$last was served only after every lacking object was pulled (it waited for the walk)"
fi
log "$last read in $((SECONDS - t0))s while osd.$primary was still pulling"

phase "clean"
wait_clean 120 3
objects_verify "$DIR/journal" "after osd.$primary pulled what it lacked"
phase finished
log "ok: the waiting op's object was pulled first"

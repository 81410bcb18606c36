#!/usr/bin/env bash
# An OSD that dies and stays down is marked out, its data is re-replicated
# onto the others, and when it comes back in it serves nothing stale.
#
# A size-3 pool on 4 OSDs over 4 hosts, with mon_osd_out_after = 5s: 200
# objects are written, one OSD is killed (SIGKILL) and kept down; the
# monitor must mark it down and then out by itself; the 3 others must reach
# active+clean (fully redundant without it) and serve every object; 100 new
# objects are written and 100 old ones overwritten while it is out; then it
# is restarted, marked in (`cairn osd in`), all PGs must be active+clean
# again on 4 OSDs, and every object must read back as its newest version.
# The victim is chosen by seed (CAIRN_SEED=N replays).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

OSDS=4
POOL=out
N=200
SEED=${CAIRN_SEED:-$RANDOM}
RANDOM=$SEED
victim=$((RANDOM % OSDS))
log "seed $SEED (replay: CAIRN_SEED=$SEED): osd.$victim goes out"

repl_cluster_up $OSDS $OSDS mon mon_osd_out_after 5s
cairn pool create $POOL --size 3 --min-size 2 --pg-num 32 >/dev/null || fail "pool create"
objects_write "$DIR/journal" obj 0 $N 1
objects_verify "$DIR/journal" "after writing them"

phase "osd.$victim down and out"
osd_kill9 $victim
wait_for 30 osd_is_down $victim || fail "osd.$victim was not marked down within 30s"
osd_is_out() {
    [[ $(cairn osd ls --json | json "[o['in'] for o in j['osds'] if o['id'] == $1][0]") == False ]]
}
wait_for 30 osd_is_out $victim || fail "osd.$victim was not marked out 5s after going down"
wait_clean 120 $((OSDS - 1))
objects_verify "$DIR/journal" "with osd.$victim out (re-replicated onto 3 OSDs)"

phase "writes while osd.$victim is out"
objects_write "$DIR/journal" obj $N 100 1
objects_write "$DIR/journal" obj 0 100 2
objects_verify "$DIR/journal" "after writing with osd.$victim out"

phase "osd.$victim back in"
osd_restart $victim
cairn osd in $victim >/dev/null || fail "osd in $victim"
wait_clean 120 $OSDS
objects_verify "$DIR/journal" "after osd.$victim came back in (stale copies served?)"
phase finished
log "ok: osd.$victim out and back in, seed $SEED"

#!/usr/bin/env bash
# A size-3 pool (min_size 2) on 4 OSDs over 4 hosts loses no acknowledged
# write while OSDs are killed with SIGKILL and restarted at random, one at a
# time, under write load; afterwards the cluster heals to active+clean and
# every replica agrees.
#
# 4 clients of tests/fault/osd_kill_writer overwrite 64 objects (every block
# stamped with its generation; each acknowledged write journaled as object,
# generation, size, crc32c, version) while this script kills a random OSD
# CAIRN_CHAOS_KILLS times (default 20; CAIRN_SOAK=1: 300) and restarts it at
# once. Before each kill the previous victim must be ACTIVE again and at
# least 3 OSDs up, so at most one OSD is ever down and min_size holds.
# Then: all PGs active+clean (120 s), the writer checks every object (one
# whole generation, no older than the last acknowledged one) and records
# what it read (the manifest); then each OSD in turn is killed, and once its
# PGs are active without it every object must read back exactly as in the
# manifest (served by the other replicas), and it is restarted. In between,
# a deep scrub of every PG must find all copies equal (data included).
# The seed is printed first; CAIRN_SEED=N replays the kill schedule.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
WRITER=$CAIRN_BUILD_DIR/tests/fault/osd_kill_writer
[[ -x $WRITER ]] || { log "$WRITER is missing; skipping"; exit 77; }

OSDS=4
POOL=chaos
if [[ ${CAIRN_SOAK:-0} == 1 ]]; then
    KILLS=${CAIRN_CHAOS_KILLS:-300}
else
    KILLS=${CAIRN_CHAOS_KILLS:-20}
fi
SEED=${CAIRN_SEED:-$RANDOM}
log "seed $SEED (replay: CAIRN_SEED=$SEED), $KILLS kills"
RANDOM=$SEED

repl_cluster_up $OSDS $OSDS
cairn pool create $POOL --size 3 --min-size 2 --pg-num 32 >/dev/null || fail "pool create"

phase "kill loop under write load"
"$WRITER" "$CONF" $POOL --seconds 3600 --objects 64 --clients 4 --journal "$DIR/journal" \
    --manifest "$DIR/manifest" >"$DIR/writer.out" 2>&1 &
writer=$!
at_exit "kill -9 $writer"
kills=0 victim=0 boots=0
while ((kills < KILLS)); do
    if ((kills > 0)); then
        wait_for 60 osd_booted_after $victim "$boots" ||
            fail "osd.$victim was not ACTIVE again 60s after its restart (kill $kills, seed $SEED)"
    fi
    wait_for 60 osds_up_at_least 3 || fail "fewer than 3 OSDs up for 60s (seed $SEED)"
    kill -0 $writer 2>/dev/null || fail "the writer stopped early: $(cat "$DIR/writer.out")"
    sleep "$((1 + RANDOM % 3)).$((RANDOM % 10))" # the fault schedule, not a wait
    victim=$((RANDOM % OSDS))
    boots=$(osd_boots $victim)
    osd_kill9 $victim
    osd_start $victim
    kills=$((kills + 1))
    log "kill $kills: osd.$victim (restarted at once, t+$((SECONDS - T_PHASE))s)"
done
wait_for 60 osd_booted_after $victim "$boots" || fail "osd.$victim did not come back up"

phase "heal under load"
wait_clean 120
kill -USR1 $writer
rc=0
wait $writer || rc=$?
cat "$DIR/writer.out" >&2
[[ $rc -eq 0 ]] || fail "acknowledged writes were lost or altered, or writes failed " \
    "($kills kills, seed $SEED)"
log "journal: $(wc -l <"$DIR/journal") acknowledged writes"

# The replicas agree object by object: a deep scrub of every PG compares
# existence, version, size, xattrs, omap and data of all copies.
phase "deep scrub"
scrub=$(cairn --json pg deep-scrub --pool $POOL) || fail "deep scrub failed: $scrub"
bad=$(json 'sum(p["inconsistent"] for p in j)' <<<"$scrub")
objs=$(json 'sum(p["objects"] for p in j)' <<<"$scrub")
((objs > 0)) || fail "deep scrub compared no object: $scrub"
((bad == 0)) || fail "deep scrub found $bad inconsistent objects after the chaos (seed $SEED): $scrub"
log "deep scrub: $objs objects, all copies agree"

# Every replica holds every object: with one OSD stopped, the PGs it was
# primary of are served by another replica, which must hold the same bytes.
for ((i = 0; i < OSDS; i++)); do
    phase "reads without osd.$i"
    osd_kill9 $i
    wait_for 30 osd_is_down $i || fail "osd.$i was not marked down within 30s"
    wait_active 60
    objects_verify "$DIR/manifest" "with osd.$i stopped (seed $SEED)"
    osd_restart $i
    wait_clean 120
done
phase finished
log "ok: $kills kills, seed $SEED"

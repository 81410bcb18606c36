#!/bin/bash
# Three monitors; a stream of pool creates with kill -9 of the leader in the
# middle. A new leader is elected, every acknowledged pool is on every
# surviving monitor, and the old leader, restarted, catches up to the same
# epoch (through a snapshot: mon_snapshot_every is small). Also: a map
# subscriber gets the new epoch pushed, and SIGTERM stops monitors cleanly.
. "$(dirname "$0")/lib.sh"

setup_cluster 3 "mon_snapshot_every = 16"
start_all
leader=$(client wait-leader 20 $(mon_args)) || fail "no leader elected"
log "leader is mon.$leader"
client watch "${ADDR[$leader]}" watched > /dev/null || fail "subscriber got no map update"

others=()
for n in "${NAMES[@]}"; do [ "$n" = "$leader" ] || others+=("$n"); done
acked=$TMP/acked
: > "$acked"
total=150
client stream "$acked" pool $total $(mon_args "$leader" "${others[@]}") &
stream=$!
lines_at_least() { [ "$(wc -l < "$1")" -ge "$2" ]; }
wait_for 30 lines_at_least "$acked" 10 || fail "the stream did not get going"
kill9_mon "$leader"
at_kill=$(wc -l < "$acked")
log "killed the leader mon.$leader after $at_kill acknowledged creates"
[ "$at_kill" -lt "$total" ] || fail "the stream ended before the kill"
wait "$stream" || fail "the pool stream failed"
log "stream done: $(wc -l < "$acked") acknowledged"

new=$(client wait-leader 20 $(mon_args "${others[@]}")) || fail "no new leader"
[ "$new" != "$leader" ] || fail "the dead monitor is still the leader"
log "new leader is mon.$new"
client check "$acked" $(mon_args "${others[@]}") || fail "acknowledged pools lost"

start_mon "$leader"
want=$(epoch_of "$new")
client wait-epoch 30 "$want" "${ADDR[$leader]}" > /dev/null || fail "mon.$leader did not catch up"
client check "$acked" $(mon_args) || fail "acknowledged pools lost after the restart"
for n in "${NAMES[@]}"; do
    [ "$(epoch_of "$n")" = "$want" ] || fail "mon.$n serves epoch $(epoch_of "$n"), not $want"
done
log "all monitors at epoch $want"
stop_all
pass

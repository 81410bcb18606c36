#!/bin/bash
# Partition: the leader of three monitors is cut off from its peers with the
# test command "isolate" (the messenger's blackhole on every monitor-to-
# monitor connection; mon_allow_test_commands = true). The isolated minority
# cannot commit: a write sent to it fails. The majority elects a leader and
# commits. After healing, the old leader catches up to the majority's epoch
# and holds every acknowledged change.
. "$(dirname "$0")/lib.sh"

setup_cluster 3
start_all
leader=$(client wait-leader 20 $(mon_args)) || fail "no leader elected"
log "leader is mon.$leader"
acked=$TMP/acked
client create "${ADDR[$leader]}" before > /dev/null || fail "create before the partition"
echo before > "$acked"

client isolate "${ADDR[$leader]}" 1 > /dev/null || fail "isolate refused"
log "mon.$leader isolated"
others=()
for n in "${NAMES[@]}"; do [ "$n" = "$leader" ] || others+=("$n"); done

rc=0
client create "${ADDR[$leader]}" minority > /dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "the isolated minority committed a write"
log "write to the isolated mon.$leader failed as it must (errno $rc)"

new=$(client wait-leader 20 $(mon_args "${others[@]}")) || fail "the majority elected no leader"
log "majority leader is mon.$new"
client stream "$acked" during 10 $(mon_args "${others[@]}") || fail "the majority cannot commit"
status=$(client status "${ADDR[$leader]}")
case "$status" in
leader=\ *) log "isolated monitor knows no leader: $status" ;;
*) fail "the isolated monitor still reports a leader: $status" ;;
esac
rc=0
client create "${ADDR[$leader]}" minority > /dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "the isolated minority committed a write"

client isolate "${ADDR[$leader]}" 0 > /dev/null || fail "heal refused"
log "healed"
want=$(epoch_of "$new")
client wait-epoch 20 "$want" "${ADDR[$leader]}" > /dev/null || fail "mon.$leader did not catch up"
client check "$acked" $(mon_args) || fail "acknowledged pools missing"
client create "${ADDR[$leader]}" after > /dev/null || fail "no commit after healing"
client check "$acked" $(mon_args) > /dev/null
for n in "${NAMES[@]}"; do
    client wait-epoch 10 $((want + 1)) "${ADDR[$n]}" > /dev/null || fail "mon.$n missed the last change"
done
[ "$(client epoch "${ADDR[$leader]}")" = "$(epoch_of "$new")" ] || fail "epochs differ after healing"
log "all monitors agree at epoch $(epoch_of "$new")"
stop_all
pass

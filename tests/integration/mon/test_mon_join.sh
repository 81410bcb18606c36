#!/bin/bash
# A fourth monitor joins a running cluster: mon.d is created empty with
# --mkfs --join, started, and added with MON_ADD through a follower (which
# forwards to the leader). The leader commits the map change, then adds d as
# a Raft voter; d receives a snapshot (mon_snapshot_every is small, and the
# log never starts at index 1), then new entries, and counts in the quorum.
# Keys made with KEY_CREATE then open every monitor to a new entity.
. "$(dirname "$0")/lib.sh"

setup_cluster 3 "mon_snapshot_every = 8"
start_all
leader=$(client wait-leader 20 $(mon_args)) || fail "no leader elected"
acked=$TMP/acked
client stream "$acked" early 20 $(mon_args) > /dev/null || fail "early writes"

d=$SPARE
"$MON" -c "$CONF" --name "mon.$d" --mkfs --join > /dev/null || fail "mkfs --join"
start_mon "$d"
follower=a; [ "$leader" != a ] || follower=b
client mon-add "${ADDR[$follower]}" "$d" "${ADDR[$d]}" > /dev/null || fail "mon add"
NAMES+=("$d")
want=$(epoch_of "$leader")
client wait-epoch 20 "$want" "${ADDR[$d]}" > /dev/null || fail "mon.$d did not catch up"
grep -q "restored snapshot at index [1-9]" "$TMP/mon.$d.log" || fail "mon.$d got no snapshot"
in_quorum() { client status "${ADDR[$leader]}" | grep -q "quorum=.*$d"; }
wait_for 20 in_quorum || fail "mon.$d is not in the quorum: $(client status "${ADDR[$leader]}")"
log "mon.$d joined: $(client status "${ADDR[$leader]}")"
client stream "$acked" late 5 $(mon_args "$d") > /dev/null || fail "writes through mon.$d"
for n in "${NAMES[@]}"; do
    client wait-epoch 10 "$(epoch_of "$leader")" "${ADDR[$n]}" > /dev/null || fail "mon.$n lags"
done
client check "$acked" $(mon_args) > /dev/null || fail "acknowledged pools missing"

# Keys created through the monitors let a new entity in on every monitor
# (the joined one included); removing the key locks it out again.
key=$(client key-create "${ADDR[$follower]}" client.newbie) || fail "key create"
{ awk '/^\[/ { keep = ($0 ~ /^\[mon\./) } keep' "$TMP/keyring"
  printf '[client.newbie]\nkey = %s\n' "$key"; } > "$TMP/newbie.keyring"
newbie() { "$CLIENT" -k "$TMP/newbie.keyring" -n client.newbie "$@"; }
for n in "${NAMES[@]}"; do
    wait_for 10 newbie status "${ADDR[$n]}" || fail "client.newbie refused by mon.$n"
done
client key-rm "${ADDR[$leader]}" client.newbie > /dev/null || fail "key rm"
locked_out() { ! newbie status "$1"; }
for n in "${NAMES[@]}"; do
    wait_for 10 locked_out "${ADDR[$n]}" || fail "mon.$n still accepts a removed key"
done
log "key create / rm reach every monitor's keyring"
stop_all
pass

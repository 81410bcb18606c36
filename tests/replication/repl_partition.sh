#!/usr/bin/env bash
# An OSD cut off from the network (alive, but unreachable both ways) is
# marked down, writes go on without it, and after the heal it rejoins and
# catches up: no write lost, nothing stale served.
#
# A size-3 pool on 4 OSDs over 4 hosts. osd.3 runs in its own network
# namespace, joined to the loopback of the others port by port by
# netns_relay.py (no firewall, no address outside 127.0.0.0/8); the relay
# cuts every connection and new connection on SIGUSR1 and restores them on
# SIGUSR2. 200 objects are written; the partition starts; 100 new objects
# and 100 overwrites must be acknowledged during it; the map must mark
# osd.3 down while its process still runs; every object must read back from
# the others; after the heal osd.3 must be up again (same process), all PGs
# active+clean, and every object must read back as its newest version.
# Needs root for `ip netns` (else skips).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

OSDS=4
POOL=part
N=200
victim=3
if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
    log "needs root and ip(8) for a network namespace; skipping"
    exit 77
fi

repl_cluster_up $OSDS $OSDS
cairn pool create $POOL --size 3 --min-size 2 --pg-num 32 >/dev/null || fail "pool create"

phase "osd.$victim into its own network namespace"
NS=cairn-$(basename "$DIR" | tr -c 'A-Za-z0-9\n' '-')
ip netns add "$NS" || { log "cannot create network namespace $NS; skipping"; exit 77; }
at_exit "ip netns del $NS"
ip netns exec "$NS" ip link set lo up
# port_of ID: osd.ID's port, from its osd_addr in cairn.conf.
port_of() { sed -n "/^\[osd\.$1\]/,/^\[/s/^osd_addr = 127\.0\.0\.1://p" "$CONF"; }
relay_args=(--in "$(port_of $victim)")
for p in $(sed -n 's/^mon_host = //p' "$CONF" | tr ',' '\n' | sed 's/.*://'); do
    relay_args+=(--out "$p")
done
for ((i = 0; i < OSDS; i++)); do
    ((i == victim)) || relay_args+=(--out "$(port_of $i)")
done
# The OSD leaves its port in the root namespace to the relay.
old_pid=$(osd_pid $victim)
kill -TERM "$old_pid"
wait_for 30 pid_gone "$old_pid" || fail "osd.$victim did not stop on SIGTERM"
"$PY" "$(dirname "$0")/netns_relay.py" "$NS" --ready "$DIR/relay.ready" "${relay_args[@]}" \
    >>"$DIR/log/relay.log" 2>&1 &
relay=$!
at_exit "kill $relay"
wait_for 10 test -s "$DIR/relay.ready" ||
    fail "netns_relay did not start: $(cat "$DIR/log/relay.log")"
OSD_WRAP=(ip netns exec "$NS")
boots=$(osd_boots $victim)
osd_start $victim
OSD_WRAP=()
wait_for 60 osd_booted_after $victim "$boots" || fail "osd.$victim in $NS did not come up"
wait_clean 60
pid=$(osd_pid $victim)

phase "writes before the partition"
objects_write "$DIR/journal" obj 0 $N 1
objects_verify "$DIR/journal" "before the partition"

phase "partition of osd.$victim"
kill -USR1 $relay
objects_write "$DIR/journal" obj $N 100 1
objects_write "$DIR/journal" obj 0 100 2
wait_for 30 osd_is_down $victim || fail "the partitioned osd.$victim was not marked down within 30s"
kill -0 "$pid" 2>/dev/null || fail "osd.$victim died during the partition instead of waiting"
wait_active 60
objects_write "$DIR/journal" obj 100 50 2
objects_verify "$DIR/journal" "during the partition (served without osd.$victim)"

phase "heal"
kill -USR2 $relay
wait_for 60 osd_is_up $victim || fail "osd.$victim was not up again 60s after the heal"
if [[ $(osd_pid $victim) != "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
    fail "osd.$victim was restarted, not rejoined"
fi
wait_clean 120 $OSDS
objects_verify "$DIR/journal" "after the heal (osd.$victim caught up, nothing stale)"
phase finished
log "ok: osd.$victim partitioned and rejoined"

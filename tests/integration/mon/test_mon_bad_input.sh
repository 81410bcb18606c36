#!/bin/bash
# Bad input never brings a monitor down: raw garbage on its port, a client
# whose key the monitors do not know, a client with a wrong key, malformed
# and forbidden requests, test commands from a non-admin. Also the command
# line contract: usage errors exit 2, failures exit 1 with one line on
# stderr, mkfs refuses an existing data dir.
. "$(dirname "$0")/lib.sh"

setup_cluster 1
start_all
a=${ADDR[a]}
client wait-leader 20 $(mon_args) > /dev/null || fail "no leader elected"

client garbage "$a" > /dev/null || fail "garbage: the monitor kept a bad stream open"
client bad-requests "$a" || fail "malformed requests were not refused as expected"

# The clients know the monitor's real key (so they accept it); the monitor
# does not know theirs.
mon_keys() { awk '/^\[/ { keep = ($0 ~ /^\[mon\./) } keep' "$TMP/keyring"; }
{ mon_keys; printf '[client.intruder]\nkey = %s\n' "$("$MON" --gen-key)"; } > "$TMP/intruder.keyring"
rc=0
"$CLIENT" -k "$TMP/intruder.keyring" -n client.intruder status "$a" 2> /dev/null || rc=$?
[ "$rc" = 13 ] || fail "an unknown entity got status $rc, not EACCES (13)"
{ mon_keys; printf '[client.admin]\nkey = %s\n' "$("$MON" --gen-key)"; } > "$TMP/wrong.keyring"
rc=0
"$CLIENT" -k "$TMP/wrong.keyring" status "$a" 2> /dev/null || rc=$?
[ "$rc" = 13 ] || fail "a wrong key got status $rc, not EACCES (13)"
rc=0
client -n client.other isolate "$a" 1 > /dev/null 2>&1 || rc=$?
[ "$rc" = 13 ] || fail "a test command from client.other got $rc, not EACCES (13)"
log "refused: garbage, unknown entity, wrong key, malformed and forbidden requests"

kill -0 "${PID[a]}" || fail "the monitor died"
client create "$a" still-works > /dev/null || fail "the monitor stopped serving"
[ "$(grep -c "refused conn from" "$TMP/mon.a.log")" -ge 2 ] ||
    fail "no log lines for the refused handshakes"

# The command line.
rc=0; "$MON" --bogus 2> /dev/null || rc=$?
[ "$rc" = 2 ] || fail "a usage error exited $rc, not 2"
rc=0; "$MON" -c "$CONF" --name mon.a --mkfs 2> "$TMP/err" > /dev/null || rc=$?
[ "$rc" = 1 ] && [ "$(wc -l < "$TMP/err")" = 1 ] || fail "mkfs over a data dir: status $rc"
rc=0; "$MON" -c "$TMP/none.conf" --name mon.a 2> /dev/null || rc=$?
[ "$rc" = 1 ] || fail "a missing config exited $rc, not 1"
rc=0; "$MON" -c "$CONF" --name mon.a 2> "$TMP/err" || rc=$?
[ "$rc" = 1 ] || fail "a second mon.a exited $rc, not 1"
grep -q "another cairn-mon" "$TMP/mon.a.log" "$TMP/err" || fail "no reason for the second mon.a"
log "command line: usage 2, failures 1"
stop_all
pass

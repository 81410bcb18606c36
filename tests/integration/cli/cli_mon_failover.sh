#!/usr/bin/env bash
# kill -9 of one of 3 monitors: `cairn health` names it out of quorum within
# a deadline, the CLI keeps working through the other two, and
# `deploy/cluster up` restarts it until health no longer names it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

cluster_up --mons 3
leader=$(cairn status --json | json 'j["monitors"]["leader"]')
# Kill a follower, so the quorum keeps its leader.
victim=a
[[ $leader != a ]] || victim=b
kill -9 "$(cat "$DIR/pid/mon.$victim.pid")"

names_victim() { cairn health 2>/dev/null | grep -q "1 monitor out of quorum: mon.$victim\$"; }
wait_for 30 names_victim || fail "health never named mon.$victim: $(cairn health 2>&1)"
[[ $(cairn health --json | json 'j["status"]') == warn ]] || fail "health status"
expect_rc 0 cairn health
# Writes still commit with 2 of 3.
expect_rc 0 cairn pool create after-kill
"$CLUSTER" status --dir "$DIR" >"$DIR/cluster-status" || fail "deploy/cluster status failed"
grep -q "^mon.$victim *stopped" "$DIR/cluster-status" || fail "cluster status: $(cat "$DIR/cluster-status")"

cluster_up
grep -q "started mon.$victim" "$DIR/up.out" || fail "up did not restart mon.$victim"
grep -q "started mon.$leader" "$DIR/up.out" && fail "up restarted a running monitor"
back() { ! cairn health 2>/dev/null | grep -q "out of quorum"; }
wait_for 30 back || fail "mon.$victim never rejoined: $(cairn health 2>&1)"
[[ $(cairn status --json | json 'len(j["monitors"]["quorum"])') == 3 ]] || fail "quorum of 3"
[[ $(cairn pool ls --json | json 'j["pools"][0]["name"]') == after-kill ]] || fail "pool lost"

# With every monitor gone, a call fails within --timeout, naming what it tried.
"$CLUSTER" down --dir "$DIR" >/dev/null
start=$SECONDS
expect_rc 1 "$CAIRN" -c "$CONF" --timeout 2 status
grep -q "^cairn: cannot reach any monitor (tried a=127.0.0.1:[0-9]*, b=127.0.0.1:[0-9]*, c=127.0.0.1:[0-9]*)$" \
    "$DIR/stderr" || fail "unreachable message: $(cat "$DIR/stderr")"
((SECONDS - start <= 4)) || fail "--timeout 2 took $((SECONDS - start)) s"
[[ -z $(live_pids) ]] || fail "down left $(live_pids)"
log "ok"

#!/usr/bin/env bash
# deploy/cluster up --vhost IMAGE starts cairn-vhost (daemon vhost.0) on
# DIR/vhost.sock serving IMAGE (pool "images" and a 1 GiB image created),
# `status` lists it, a front-end reaches the image through it, `up` again
# restarts it after a kill, and `down` stops it and removes the socket.
set -euo pipefail
source "$(dirname "$0")/../integration/cli/lib.sh"

OPS=$CAIRN_BUILD_DIR/tests/vhost/vhost_ops
for bin in "$CAIRN_BUILD_DIR/osd/cairn-osd" "$CAIRN_BUILD_DIR/gateway/vhost/cairn-vhost" "$OPS"; do
    [[ -x $bin ]] || { log "$bin is missing; skipping"; exit 77; }
done

cluster_up --mons 1 --osds 1 --hosts 1 --vhost vm1
grep -q "vhost.0" "$DIR/up.out" || fail "up did not report vhost.0"
[[ -S $DIR/vhost.sock ]] || fail "no socket $DIR/vhost.sock"
cairn image ls | grep -qx vm1 || fail "image vm1 was not created"
"$OPS" --socket "$DIR/vhost.sock" --id vm1 --size $((1 << 30)) ||
    fail "vhost_ops through the deployed cairn-vhost failed"
"$CLUSTER" status --dir "$DIR" >"$DIR/status" 2>&1 || fail "status failed"
grep -q "^vhost.0 *running" "$DIR/status" || fail "status does not show vhost.0: $(cat "$DIR/status")"

pid=$(cat "$DIR/pid/vhost.0.pid")
kill -KILL "$pid"
wait_for 10 bash -c "! kill -0 $pid 2>/dev/null" || fail "cairn-vhost survived SIGKILL"
cluster_up --mons 1 --osds 1 --hosts 1
[[ $(cat "$DIR/pid/vhost.0.pid") != "$pid" ]] || fail "up did not restart vhost.0"
wait_for 30 test -S "$DIR/vhost.sock" || fail "the restarted cairn-vhost made no socket"
"$OPS" --socket "$DIR/vhost.sock" --id vm1 --size $((1 << 30)) ||
    fail "vhost_ops through the restarted cairn-vhost failed"

pid=$(cat "$DIR/pid/vhost.0.pid")
"$CLUSTER" down --dir "$DIR" >/dev/null || fail "down failed"
! kill -0 "$pid" 2>/dev/null || fail "cairn-vhost still runs after down"
[[ ! -e $DIR/vhost.sock ]] || fail "down left the socket behind"
log "ok"

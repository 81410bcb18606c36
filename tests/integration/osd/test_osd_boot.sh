#!/usr/bin/env bash
# Three OSDs on three hosts boot through deploy/cluster: they show up in
# the map (cairn status, cairn osd ls) at the addresses of the config, on
# the hosts deploy/cluster gave them, and become primaries once a pool exists.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

cluster_up --osds 3 --hosts 3
grep -q "osd.2 " "$DIR/up.out" || fail "up did not print the OSDs: $(cat "$DIR/up.out")"
[[ $(osds_up) == 3 ]] || fail "status: $(osds_up) OSDs up, not 3"
cairn osd ls --json >"$DIR/osds.json"
"$PY" - "$DIR/osds.json" "$CONF" <<'PY'
import json, re, sys
osds = json.load(open(sys.argv[1]))["osds"]
conf = open(sys.argv[2]).read()
assert len(osds) == 3, osds
for o in osds:
    sec = re.search(r"\[osd\.%d\]\n(.*?)\n\n" % o["id"], conf, re.S).group(1)
    addr = re.search(r"osd_addr = (\S+)", sec).group(1)
    assert o["addr"] == addr, (o, addr)
    assert o["host"] == "host%d" % o["id"], o
    assert o["up"] and o["in"], o
PY
for i in 0 1 2; do
    grep -q "osd.$i up at 127.0.0.1:[0-9]*, epoch [0-9]*" "$DIR/log/osd.$i.log" ||
        fail "osd.$i logged no boot line"
done
# A second daemon on the same store refuses to start, with a reason.
expect_rc 1 "$OSD" --name osd.0 -c "$CONF"
grep -q "in use by another cairn-osd\|failed to start" "$DIR/stderr" "$DIR/log/osd.0.log" ||
    fail "second osd.0: $(cat "$DIR/stderr")"

expect_rc 0 cairn pool create data --size 1 --pg-num 32
wait_for 10 grep -q "primary of" "$DIR/log/osd.0.log" || fail "osd.0 took no PGs"
log "ok"

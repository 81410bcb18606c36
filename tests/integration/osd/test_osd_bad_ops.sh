#!/usr/bin/env bash
# Malformed client ops (garbage metadata, wrong data lengths, bad crc32c,
# oversize names, unknown steps, misdirected ops) get the documented errors
# from a real OSD, which keeps serving afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CLIENT=$CAIRN_BUILD_DIR/tests/integration/osd/osd_test_client
[[ -x $CLIENT ]] || { log "$CLIENT is missing; skipping"; exit 77; }

cluster_up --osds 1
expect_rc 0 cairn pool create data --size 1 --pg-num 8
pool=$(cairn pool ls --json | json '[p for p in j["pools"] if p["name"] == "data"][0]["id"]')
epoch=$(cairn status --json | json 'j["epoch"]')
addr=$(cairn osd ls --json | json 'j["osds"][0]["addr"]')
# The OSD may not have seen the pool's epoch yet: ops wait for it (bounded).
"$CLIENT" -k "$DIR/keyring" "$addr" "$pool" 8 "$epoch" bad-ops >&2 ||
    fail "osd_test_client reported failures"
kill -0 "$(cat "$DIR/pid/osd.0.pid")" || fail "the OSD died"
log "ok"

#!/usr/bin/env bash
# Bad input and corrupted payloads through libcairn get clear errors and
# change nothing (dp_errors lists the cases).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

dp_cluster_up 2 dp
"$DP_BIN/dp_errors" "$CONF" dp || fail "a bad input was not refused as it should be"
log "ok"

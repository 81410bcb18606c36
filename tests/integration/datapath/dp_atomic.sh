#!/usr/bin/env bash
# The atomic primitives under contention from 8 concurrent clients: a
# counter incremented 10,000 times ends at exactly 10,000, and the other
# invariants dp_atomic states.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

dp_cluster_up 3 dp
"$DP_BIN/dp_atomic" "$CONF" dp --total 10000 --clients 8 || fail "an invariant broke"
log "ok"

#!/usr/bin/env bash
# Kill -9 of cairn-s3 in the middle of uploads (simple and multipart), five
# times: no acknowledged write is lost or altered, nothing half-written
# becomes visible, and `cairn s3 gc` reclaims what the kills cut off without
# touching live data (tests/s3/crash_check.py says how).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

s3_cluster_up
"$PY" "$SRC/tests/s3/crash_check.py" "${CAIRN_CRASH_ROUNDS:-5}" "$DIR" "$CAIRN" "$CLUSTER" ||
    fail "crash_check failed"
s3_alive
step "PASS"

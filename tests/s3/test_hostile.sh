#!/usr/bin/env bash
# Bad input against a live cairn-s3 (tests/s3/hostile.py): malformed HTTP,
# oversized heads, bad and expired signatures, lying bodies, tampered
# aws-chunked uploads, hostile keys, broken XML; S3 errors, nothing partial
# visible, the gateway stays up.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

s3_cluster_up
"$PY" "$SRC/tests/s3/hostile.py" || fail "hostile.py failed"
s3_alive
step "PASS"

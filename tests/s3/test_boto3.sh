#!/usr/bin/env bash
# cairn-s3 against boto3: starts a 3-OSD cluster with cairn-s3
# (deploy/cluster up --s3), creates a second S3 user "other" for the
# cross-user AccessDenied checks and runs tests/s3/test_boto3.py with
# pytest (all cases, not stopping at the first failure).
# Extra pytest arguments: CAIRN_PYTEST_ARGS (e.g. "-k multipart -x").
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$PY" -c 'import boto3, pytest' 2>/dev/null || {
    log "python3-boto3 or python3-pytest is missing; skipping"
    exit 77
}

s3_cluster_up
s3_user_create other OTHER
step "user other created"

rc=0
export PYTHONDONTWRITEBYTECODE=1
# shellcheck disable=SC2086
(cd "$DIR" && "$PY" -m pytest -q -ra --tb=short -p no:cacheprovider \
    ${CAIRN_PYTEST_ARGS:-} "$SRC/tests/s3/test_boto3.py") || rc=$?
s3_alive
step "pytest exited $rc"
exit "$rc"

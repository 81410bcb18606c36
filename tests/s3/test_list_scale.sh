#!/usr/bin/env bash
# 100,000 keys in one bucket (put into the index by s3_fill, as cairn-s3
# writes empty objects), listed completely with ListObjectsV2, ListObjects
# and ListObjectVersions, page by page, plus delimiter and prefix listings
# (tests/s3/list_scale.py). Prints the time per page.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

FILL=$CAIRN_BUILD_DIR/tests/s3/s3_fill
[[ -x $FILL ]] || { log "$FILL is not built; skipping"; exit 77; }
COUNT=${CAIRN_LIST_KEYS:-100000}
s3_cluster_up
"$PY" -c "
import boto3, os
from botocore.config import Config
boto3.client('s3', endpoint_url=os.environ['CAIRN_S3_ENDPOINT'], region_name='us-east-1',
             config=Config(signature_version='s3v4', s3={'addressing_style': 'path'})
             ).create_bucket(Bucket='scale')" || fail "cannot create bucket scale"
step "filling bucket scale with $COUNT keys"
"$FILL" -c "$CONF" --bucket scale --count "$COUNT" --dirs 100 || fail "s3_fill failed"
step "listing"
"$PY" "$SRC/tests/s3/list_scale.py" scale "$COUNT" 100 || fail "list_scale.py failed"
s3_alive
step "PASS"

#!/usr/bin/env bash
# cairn-s3 against the S3 clients Debian ships: awscli (aws s3, aws s3api),
# s3cmd, boto3 and rclone, on one 3-OSD cluster. For each: make a bucket,
# put a file and get it back, ls, a server-side cp, sync a directory tree
# (nested dirs, a name with spaces) up and back down (diff -r), a 100 MiB
# multipart upload and download, a ranged get, a presigned GET with curl,
# delete, remove the bucket. One line per step; exits at the first failure
# saying what failed. CAIRN_S3_CLIENTS="aws s3cmd" runs a subset.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

AWS=/usr/bin/aws
S3CMD=/usr/bin/s3cmd
RCLONE=/usr/bin/rclone
for bin in "$AWS" "$S3CMD" "$RCLONE" /usr/bin/curl; do
    [[ -x $bin ]] || { log "$bin is missing; skipping"; exit 77; }
done
"$PY" -c 'import boto3' 2>/dev/null || { log "python3-boto3 is missing; skipping"; exit 77; }
CLIENTS=${CAIRN_S3_CLIENTS:-aws s3cmd boto3 rclone}

# run DESC CMD...: one step; on failure prints its output and fails.
run() {
    local desc=$1 rc=0
    shift
    step "$desc"
    "$@" >"$DIR/step.out" 2>&1 || rc=$?
    if ((rc != 0)); then
        tail -n 40 "$DIR/step.out" | cut -c1-600 >&2
        s3_alive
        fail "$desc: '$*' exited $rc"
    fi
}

# same A B DESC: cmp, failing with DESC.
same() {
    cmp "$1" "$2" >"$DIR/cmp.out" 2>&1 || fail "$3: $1 and $2 differ: $(cat "$DIR/cmp.out")"
}

# same_tree A B DESC: diff -r, failing with DESC.
same_tree() {
    diff -r "$1" "$2" >"$DIR/diff.out" 2>&1 || {
        head -n 20 "$DIR/diff.out" >&2
        fail "$3: trees $1 and $2 differ"
    }
}

# ---- data ----
DATA=$DIR/data
mkdir -p "$DATA"
head -c $((1024 * 1024 + 37)) /dev/urandom >"$DATA/small.bin"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$DATA/big.bin"
dd if="$DATA/small.bin" of="$DATA/range-100-199" bs=100 skip=1 count=1 status=none
TREE=$DATA/tree
for d in a a/b a/b/c d "dir with spaces" e/f; do
    mkdir -p "$TREE/$d"
done
n=0
for d in a a/b a/b/c d "dir with spaces" e/f; do
    for i in 1 2 3 4 5; do
        n=$((n + 1))
        head -c $((RANDOM % 5000 + 1)) /dev/urandom >"$TREE/$d/file$i.dat"
    done
done
head -c 300 /dev/urandom >"$TREE/dir with spaces/name with spaces.txt"
head -c 0 /dev/urandom >"$TREE/a/empty"
step "data: $((n + 2)) files in a tree, 1 MiB and 100 MiB files"

s3_cluster_up
HOSTPORT=${CAIRN_S3_ENDPOINT#http://}

# ---- client configurations, all under HOME=$DIR/home ----
mkdir -p "$HOME/.aws" "$HOME/.config/rclone"
cat >"$HOME/.aws/config" <<EOF
[default]
region = us-east-1
s3 =
    addressing_style = path
    signature_version = s3v4
EOF
cat >"$HOME/.s3cfg" <<EOF
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $HOSTPORT
host_bucket = $HOSTPORT
use_https = False
signature_v2 = False
bucket_location = us-east-1
check_ssl_certificate = False
EOF
cat >"$HOME/.config/rclone/rclone.conf" <<EOF
[cairn]
type = s3
provider = Other
access_key_id = $AWS_ACCESS_KEY_ID
secret_access_key = $AWS_SECRET_ACCESS_KEY
endpoint = $CAIRN_S3_ENDPOINT
region = us-east-1
force_path_style = true
EOF

aws() { "$AWS" --endpoint-url "$CAIRN_S3_ENDPOINT" "$@"; }
# aws s3 cp/sync without the progress meter (it floods the log).
aws_s3() { aws s3 "$@" --no-progress; }
s3cmd() { "$S3CMD" -c "$HOME/.s3cfg" "$@"; }
rclone() {
    env -u AWS_CA_BUNDLE "$RCLONE" --config "$HOME/.config/rclone/rclone.conf" \
        --low-level-retries 1 --retries 1 "$@"
}

# presigned_get BUCKET KEY OUT [RANGE]: curl on an `aws s3 presign` URL.
presigned_get() {
    local url
    url=$(aws s3 presign "s3://$1/$2" --expires-in 300) || return 1
    if [[ -n ${4:-} ]]; then
        curl -fsS -r "$4" -o "$3" "$url"
    else
        curl -fsS -o "$3" "$url"
    fi
}

# etag_multipart BUCKET KEY: the ETag of a multipart upload ends in -N.
etag_multipart() {
    local etag
    etag=$(aws s3api head-object --bucket "$1" --key "$2" --query ETag --output text)
    [[ $etag =~ -[0-9]+\"?$ ]] || { echo "ETag $etag is not a multipart ETag"; return 1; }
}

# gone_from_ls FILE KEY: KEY does not appear in the listing in FILE.
not_listed() { ! grep -qF -- "$2" "$1"; }

# ================================================================ awscli
client_aws() {
    local b=cl-aws-$RANDOM$RANDOM o=$DIR/out/aws
    mkdir -p "$o"
    run "aws: s3 mb" aws s3 mb "s3://$b"
    run "aws: s3 cp (put)" aws_s3 cp "$DATA/small.bin" "s3://$b/small.bin"
    run "aws: s3 cp (get)" aws_s3 cp "s3://$b/small.bin" "$o/small.bin"
    same "$DATA/small.bin" "$o/small.bin" "aws: get after put"
    run "aws: s3 ls" aws s3 ls "s3://$b/"
    grep -q "small.bin" "$DIR/step.out" || fail "aws: s3 ls does not list small.bin: $(cat "$DIR/step.out")"
    run "aws: s3 ls (buckets)" aws s3 ls
    grep -q "$b" "$DIR/step.out" || fail "aws: s3 ls does not list bucket $b"
    run "aws: s3 cp (server-side copy)" aws_s3 cp "s3://$b/small.bin" "s3://$b/copy/of small.bin"
    run "aws: s3 cp (get the copy)" aws_s3 cp "s3://$b/copy/of small.bin" "$o/copy.bin"
    same "$DATA/small.bin" "$o/copy.bin" "aws: server-side copy"
    local t0=$SECONDS
    run "aws: s3 sync (up)" aws_s3 sync "$TREE" "s3://$b/tree"
    # 32 small files take a few seconds; a minute means a request stalled
    # until the gateway's idle timeout (seen after a 0-byte PUT).
    ((SECONDS - t0 < 30)) || fail "aws: s3 sync (up) of $((n + 2)) small files took $((SECONDS - t0)) s"
    run "aws: s3 sync (down)" aws_s3 sync "s3://$b/tree" "$o/tree"
    same_tree "$TREE" "$o/tree" "aws: sync round trip"
    run "aws: s3 sync (again: nothing to do)" aws_s3 sync "$TREE" "s3://$b/tree"
    [[ ! -s $DIR/step.out ]] || fail "aws: a second sync uploaded again: $(head -3 "$DIR/step.out")"
    run "aws: s3 cp 100 MiB (multipart)" aws_s3 cp "$DATA/big.bin" "s3://$b/big.bin"
    run "aws: multipart ETag" etag_multipart "$b" big.bin
    run "aws: s3 cp 100 MiB (get, ranged parts)" aws_s3 cp "s3://$b/big.bin" "$o/big.bin"
    same "$DATA/big.bin" "$o/big.bin" "aws: 100 MiB round trip"
    rm -f "$o/big.bin"
    run "aws: s3api get-object --range" aws s3api get-object --bucket "$b" --key small.bin \
        --range bytes=100-199 "$o/range"
    grep -q '"ContentRange": "bytes 100-199/' "$DIR/step.out" ||
        fail "aws: get-object --range gave no ContentRange: $(cat "$DIR/step.out")"
    same "$DATA/range-100-199" "$o/range" "aws: ranged get"
    run "aws: s3 presign + curl" presigned_get "$b" small.bin "$o/presigned.bin"
    same "$DATA/small.bin" "$o/presigned.bin" "aws: presigned GET"
    run "aws: s3api put-object" aws s3api put-object --bucket "$b" --key api/obj \
        --body "$DATA/small.bin" --content-type text/x-test --metadata k=v
    run "aws: s3api head-object" aws s3api head-object --bucket "$b" --key api/obj
    { grep -q '"ContentType": "text/x-test"' "$DIR/step.out" &&
        grep -q '"k": "v"' "$DIR/step.out"; } || fail "aws: head-object: $(cat "$DIR/step.out")"
    run "aws: s3api list-objects-v2" aws s3api list-objects-v2 --bucket "$b" --prefix api/
    grep -q '"Key": "api/obj"' "$DIR/step.out" || fail "aws: list-objects-v2: $(cat "$DIR/step.out")"
    run "aws: s3api copy-object" aws s3api copy-object --bucket "$b" --key api/copy \
        --copy-source "$b/api/obj"
    run "aws: s3api get-object" aws s3api get-object --bucket "$b" --key api/copy "$o/api-copy"
    same "$DATA/small.bin" "$o/api-copy" "aws: s3api copy-object"
    run "aws: s3api create/upload-part/complete" aws_s3api_multipart "$b" "$o"
    run "aws: s3api delete-object" aws s3api delete-object --bucket "$b" --key api/obj
    run "aws: s3 rm" aws s3 rm "s3://$b/small.bin"
    run "aws: s3 ls after rm" aws s3 ls "s3://$b/"
    not_listed "$DIR/step.out" small.bin || fail "aws: small.bin still listed after rm"
    run "aws: s3 rm --recursive" aws s3 rm --recursive "s3://$b"
    run "aws: s3 rb" aws s3 rb "s3://$b"
    run "aws: s3 ls (buckets) after rb" aws s3 ls
    not_listed "$DIR/step.out" "$b" || fail "aws: bucket $b still listed after rb"
}

# The low-level multipart calls, 2 parts (5 MiB + the rest of 6 MiB).
aws_s3api_multipart() {
    local b=$1 o=$2 uid e1 e2
    head -c $((6 * 1024 * 1024)) "$DATA/big.bin" >"$o/six" || return 1
    head -c $((5 * 1024 * 1024)) "$o/six" >"$o/p1" || return 1
    tail -c +$((5 * 1024 * 1024 + 1)) "$o/six" >"$o/p2" || return 1
    uid=$(aws s3api create-multipart-upload --bucket "$b" --key api/mp --query UploadId \
        --output text) || return 1
    e1=$(aws s3api upload-part --bucket "$b" --key api/mp --upload-id "$uid" --part-number 1 \
        --body "$o/p1" --query ETag --output text) || return 1
    e2=$(aws s3api upload-part --bucket "$b" --key api/mp --upload-id "$uid" --part-number 2 \
        --body "$o/p2" --query ETag --output text) || return 1
    aws s3api list-parts --bucket "$b" --key api/mp --upload-id "$uid" \
        --query 'Parts[].PartNumber' --output text >"$o/parts.txt" || return 1
    grep -qx $'1\t2' "$o/parts.txt" || { echo "list-parts: $(cat "$o/parts.txt")"; return 1; }
    "$PY" -c 'import json, sys
print(json.dumps({"Parts": [{"PartNumber": 1, "ETag": sys.argv[1]},
                            {"PartNumber": 2, "ETag": sys.argv[2]}]}))' "$e1" "$e2" \
        >"$o/parts.json" || return 1
    aws s3api complete-multipart-upload --bucket "$b" --key api/mp --upload-id "$uid" \
        --multipart-upload "file://$o/parts.json" || return 1
    aws s3api get-object --bucket "$b" --key api/mp "$o/mp.out" >/dev/null || return 1
    cmp "$o/six" "$o/mp.out"
}

# ================================================================= s3cmd
client_s3cmd() {
    local b=cl-s3cmd-$RANDOM$RANDOM o=$DIR/out/s3cmd
    mkdir -p "$o"
    run "s3cmd: mb" s3cmd mb "s3://$b"
    run "s3cmd: put" s3cmd put "$DATA/small.bin" "s3://$b/small.bin"
    run "s3cmd: get" s3cmd get --force "s3://$b/small.bin" "$o/small.bin"
    same "$DATA/small.bin" "$o/small.bin" "s3cmd: get after put"
    run "s3cmd: ls" s3cmd ls "s3://$b/"
    grep -q "s3://$b/small.bin" "$DIR/step.out" || fail "s3cmd: ls does not list small.bin"
    run "s3cmd: ls (buckets)" s3cmd ls
    grep -q "s3://$b" "$DIR/step.out" || fail "s3cmd: ls does not list bucket $b"
    run "s3cmd: cp (server-side)" s3cmd cp "s3://$b/small.bin" "s3://$b/copy/of small.bin"
    run "s3cmd: get the copy" s3cmd get --force "s3://$b/copy/of small.bin" "$o/copy.bin"
    same "$DATA/small.bin" "$o/copy.bin" "s3cmd: server-side copy"
    run "s3cmd: sync (up)" s3cmd sync "$TREE/" "s3://$b/tree/"
    mkdir -p "$o/tree"
    run "s3cmd: sync (down)" s3cmd sync "s3://$b/tree/" "$o/tree/"
    same_tree "$TREE" "$o/tree" "s3cmd: sync round trip"
    run "s3cmd: put 100 MiB (multipart, 5 MiB chunks)" s3cmd put --multipart-chunk-size-mb=5 \
        "$DATA/big.bin" "s3://$b/big.bin"
    run "s3cmd: multipart ETag" etag_multipart "$b" big.bin
    run "s3cmd: get 100 MiB" s3cmd get --force "s3://$b/big.bin" "$o/big.bin"
    same "$DATA/big.bin" "$o/big.bin" "s3cmd: 100 MiB round trip"
    rm -f "$o/big.bin"
    # s3cmd has no ranged get; its signurl is SigV2 only: a SigV4 presigned
    # URL (aws s3 presign) with a Range header on curl.
    run "s3cmd: ranged get (presigned URL + curl -r)" presigned_get "$b" small.bin "$o/range" 100-199
    same "$DATA/range-100-199" "$o/range" "s3cmd: ranged get"
    run "s3cmd: del" s3cmd del "s3://$b/small.bin"
    run "s3cmd: ls after del" s3cmd ls "s3://$b/"
    not_listed "$DIR/step.out" "s3://$b/small.bin" || fail "s3cmd: small.bin still listed after del"
    run "s3cmd: del --recursive --force" s3cmd del --recursive --force "s3://$b"
    run "s3cmd: rb" s3cmd rb "s3://$b"
    run "s3cmd: ls (buckets) after rb" s3cmd ls
    not_listed "$DIR/step.out" "s3://$b" || fail "s3cmd: bucket $b still listed after rb"
}

# ================================================================= boto3
client_boto3() {
    local b=cl-boto3-$RANDOM$RANDOM o=$DIR/out/boto3 url
    mkdir -p "$o"
    step "boto3: bucket, put/get, ls, copy, tree up/down, 100 MiB upload_file/download_file, range, delete"
    "$PY" - "$b" "$DATA" "$o" <<'PYEOF' || fail "boto3: the script above failed"
import filecmp, os, sys, time
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

bucket, data, out = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=os.environ["CAIRN_S3_ENDPOINT"], region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


def step(msg):
    print("test_clients: [%s] boto3: %s" % (time.strftime("%H:%M:%S", time.gmtime()), msg),
          file=sys.stderr, flush=True)


def check(cond, what):
    if not cond:
        print("test_clients: FAIL: boto3: %s" % what, file=sys.stderr)
        sys.exit(1)


MiB = 1024 * 1024
step("create_bucket")
s3.create_bucket(Bucket=bucket)
step("upload_file / download_file")
s3.upload_file(os.path.join(data, "small.bin"), bucket, "small.bin")
s3.download_file(bucket, "small.bin", os.path.join(out, "small.bin"))
check(filecmp.cmp(os.path.join(data, "small.bin"), os.path.join(out, "small.bin"), shallow=False),
      "small.bin differs after upload_file/download_file")
step("list_objects_v2")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
check(keys == ["small.bin"], "listing %r" % keys)
step("copy_object")
s3.copy_object(Bucket=bucket, Key="copy/of small.bin", CopySource={"Bucket": bucket, "Key": "small.bin"})
body = s3.get_object(Bucket=bucket, Key="copy/of small.bin")["Body"].read()
check(body == open(os.path.join(data, "small.bin"), "rb").read(), "copy differs")
step("tree up (upload_file of each file)")
tree = os.path.join(data, "tree")
for root, _, files in os.walk(tree):
    for f in files:
        p = os.path.join(root, f)
        s3.upload_file(p, bucket, "tree/" + os.path.relpath(p, tree))
step("tree down (paginated listing, download_file)")
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="tree/",
                                                          PaginationConfig={"PageSize": 7}):
    for o in page.get("Contents", []):
        dst = os.path.join(out, o["Key"])
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        s3.download_file(bucket, o["Key"], dst)
step("upload_file 100 MiB (multipart, 5 MiB parts)")
tc = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
s3.upload_file(os.path.join(data, "big.bin"), bucket, "big.bin", Config=tc)
etag = s3.head_object(Bucket=bucket, Key="big.bin")["ETag"]
check(etag.endswith('-20"'), "multipart ETag %s does not end in -20" % etag)
step("download_file 100 MiB (ranged parts)")
s3.download_file(bucket, "big.bin", os.path.join(out, "big.bin"), Config=tc)
check(filecmp.cmp(os.path.join(data, "big.bin"), os.path.join(out, "big.bin"), shallow=False),
      "big.bin differs after the round trip")
os.unlink(os.path.join(out, "big.bin"))
step("get_object Range")
r = s3.get_object(Bucket=bucket, Key="small.bin", Range="bytes=100-199")
check(r["ContentRange"].startswith("bytes 100-199/"), "ContentRange %r" % r.get("ContentRange"))
open(os.path.join(out, "range"), "wb").write(r["Body"].read())
step("generate_presigned_url")
url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "small.bin"},
                                ExpiresIn=300)
open(os.path.join(out, "presigned.url"), "w").write(url)
PYEOF
    same "$DATA/range-100-199" "$o/range" "boto3: ranged get"
    same_tree "$TREE" "$o/tree" "boto3: tree round trip"
    url=$(cat "$o/presigned.url")
    run "boto3: presigned GET with curl" curl -fsS -o "$o/presigned.bin" "$url"
    same "$DATA/small.bin" "$o/presigned.bin" "boto3: presigned GET"
    step "boto3: delete_object, delete_objects, delete_bucket"
    "$PY" - "$b" <<'PYEOF' || fail "boto3: deleting failed"
import os, sys
import boto3
from botocore.config import Config
bucket = sys.argv[1]
s3 = boto3.client("s3", endpoint_url=os.environ["CAIRN_S3_ENDPOINT"], region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
s3.delete_object(Bucket=bucket, Key="small.bin")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
assert "small.bin" not in keys, keys
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
    objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
    if objs:
        r = s3.delete_objects(Bucket=bucket, Delete={"Objects": objs})
        assert not r.get("Errors"), r["Errors"]
s3.delete_bucket(Bucket=bucket)
assert bucket not in [x["Name"] for x in s3.list_buckets()["Buckets"]]
PYEOF
}

# ================================================================ rclone
client_rclone() {
    local b=cl-rclone-$RANDOM$RANDOM o=$DIR/out/rclone
    local mp=(--s3-upload-cutoff 5M --s3-chunk-size 5M)
    mkdir -p "$o"
    run "rclone: mkdir" rclone mkdir "cairn:$b"
    run "rclone: copyto (put)" rclone copyto "$DATA/small.bin" "cairn:$b/small.bin"
    run "rclone: copyto (get)" rclone copyto "cairn:$b/small.bin" "$o/small.bin"
    same "$DATA/small.bin" "$o/small.bin" "rclone: get after put"
    run "rclone: ls" rclone ls "cairn:$b"
    grep -q "small.bin" "$DIR/step.out" || fail "rclone: ls does not list small.bin"
    run "rclone: lsd (buckets)" rclone lsd cairn:
    grep -q "$b" "$DIR/step.out" || fail "rclone: lsd does not list bucket $b"
    run "rclone: copyto (server-side copy)" rclone copyto "cairn:$b/small.bin" "cairn:$b/copy/of small.bin"
    # shellcheck disable=SC2016
    run "rclone: cat the copy" bash -c 'env -u AWS_CA_BUNDLE "$0" --config "$1" cat "$2" >"$3"' \
        "$RCLONE" "$HOME/.config/rclone/rclone.conf" "cairn:$b/copy/of small.bin" "$o/copy.bin"
    same "$DATA/small.bin" "$o/copy.bin" "rclone: server-side copy"
    run "rclone: sync (up)" rclone sync "$TREE" "cairn:$b/tree"
    run "rclone: sync (down)" rclone sync "cairn:$b/tree" "$o/tree"
    same_tree "$TREE" "$o/tree" "rclone: sync round trip"
    run "rclone: check" rclone check "$TREE" "cairn:$b/tree"
    run "rclone: copyto 100 MiB (multipart, 5M chunks)" rclone copyto "${mp[@]}" \
        "$DATA/big.bin" "cairn:$b/big.bin"
    run "rclone: multipart ETag" etag_multipart "$b" big.bin
    run "rclone: copyto 100 MiB (get)" rclone copyto "${mp[@]}" "cairn:$b/big.bin" "$o/big.bin"
    same "$DATA/big.bin" "$o/big.bin" "rclone: 100 MiB round trip"
    rm -f "$o/big.bin"
    # shellcheck disable=SC2016
    run "rclone: cat --offset 100 --count 100" bash -c \
        'env -u AWS_CA_BUNDLE "$0" --config "$1" cat --offset 100 --count 100 "$2" >"$3"' \
        "$RCLONE" "$HOME/.config/rclone/rclone.conf" "cairn:$b/small.bin" "$o/range"
    same "$DATA/range-100-199" "$o/range" "rclone: ranged get"
    run "rclone: presigned GET (aws s3 presign + curl)" presigned_get "$b" "copy/of small.bin" "$o/presigned.bin"
    same "$DATA/small.bin" "$o/presigned.bin" "rclone: presigned GET"
    run "rclone: deletefile" rclone deletefile "cairn:$b/small.bin"
    run "rclone: lsf after deletefile" rclone lsf "cairn:$b"
    not_listed "$DIR/step.out" small.bin || fail "rclone: small.bin still listed after deletefile"
    run "rclone: purge (objects and bucket)" rclone purge "cairn:$b"
    run "rclone: lsd after purge" rclone lsd cairn:
    not_listed "$DIR/step.out" "$b" || fail "rclone: bucket $b still listed after purge"
}

for c in $CLIENTS; do
    "client_$c"
    s3_alive
    step "$c: all steps passed"
done
step "PASS ($CLIENTS)"

"""cairn-s3 against boto3: every operation and error code the gateway
implements, asserted as real S3 answers them (codes and HTTP statuses).

Run by test_boto3.sh, which starts a cluster and exports:
  CAIRN_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   (user admin)
  OTHER_ACCESS_KEY_ID, OTHER_SECRET_ACCESS_KEY                  (user other)
Alone: source DIR/s3.env, export the OTHER_* keys, then
  /usr/bin/python3 -m pytest -q tests/s3/test_boto3.py
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import io
import os
import re
import time
import types
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
import zlib
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import boto3
import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("CAIRN_S3_ENDPOINT", "")
REGION = "us-east-1"
ADMIN = (os.environ.get("AWS_ACCESS_KEY_ID", ""), os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
OTHER = (os.environ.get("OTHER_ACCESS_KEY_ID", ""), os.environ.get("OTHER_SECRET_ACCESS_KEY", ""))
MiB = 1024 * 1024

pytestmark = pytest.mark.skipif(not ENDPOINT or not ADMIN[0], reason="CAIRN_S3_ENDPOINT/keys not set")


# ---------------------------------------------------------------- helpers

def make_client(creds=ADMIN, **kw):
    opts = {"max_pool_connections": 32, "connect_timeout": 10, "read_timeout": 30, **kw}
    cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                 retries={"total_max_attempts": 1}, **opts)
    return boto3.session.Session().client(
        "s3", endpoint_url=ENDPOINT, region_name=REGION,
        aws_access_key_id=creds[0], aws_secret_access_key=creds[1], config=cfg)


def expect_error(code, status, fn, *args, **kw):
    """Calls fn and asserts a ClientError with this code and HTTP status."""
    with pytest.raises(ClientError) as ei:
        fn(*args, **kw)
    err = ei.value.response
    got = (err.get("Error", {}).get("Code"), err["ResponseMetadata"]["HTTPStatusCode"])
    assert got == (code, status), "expected %s %s, got %r" % (code, status, err)
    return err


def md5hex(data):
    return hashlib.md5(data).hexdigest()


def etag_of(data):
    return '"%s"' % md5hex(data)


def mp_etag(parts):
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return '"%s-%d"' % (digest, len(parts))


def b64(raw):
    return base64.b64encode(raw).decode()


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def checksum_b64(algo, data):
    if algo == "CRC32":
        return b64((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big"))
    if algo == "CRC32C":
        return b64(crc32c(data).to_bytes(4, "big"))
    if algo == "SHA1":
        return b64(hashlib.sha1(data).digest())
    if algo == "SHA256":
        return b64(hashlib.sha256(data).digest())
    raise ValueError(algo)


def rand(n):
    return os.urandom(n)


def unique_name(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:16])


def empty_bucket(client, name):
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            for k in keys:
                client.delete_object(Bucket=name, Key=k["Key"])
        ups = client.list_multipart_uploads(Bucket=name).get("Uploads", [])
        for u in ups:
            client.abort_multipart_upload(Bucket=name, Key=u["Key"], UploadId=u["UploadId"])
    except ClientError:
        pass


def drop_bucket(client, name):
    empty_bucket(client, name)
    try:
        client.delete_bucket(Bucket=name)
    except ClientError:
        pass


class _Signer(S3SigV4Auth):
    """botocore's SigV4 for S3, with an optional forced payload hash."""

    def __init__(self, creds, payload_hash=None):
        super().__init__(creds, "s3", REGION)
        self._forced = payload_hash

    def payload(self, request):
        return self._forced if self._forced is not None else super().payload(request)


def raw(method, path, query="", body=None, headers=None, creds=ADMIN, sign=True,
        payload_hash=None, sign_time=None):
    """One HTTP request signed with botocore's S3SigV4Auth (the pure-Python
    signer), sent with http.client. path is sent (and signed) as given, so
    it must be percent-encoded already. Returns (status, headers, body)."""
    target = path + ("?" + query if query else "")
    hdrs = dict(headers or {})
    if sign:
        req = AWSRequest(method=method, url=ENDPOINT + target, data=body or b"", headers=hdrs)
        signer = _Signer(Credentials(*creds), payload_hash)
        if sign_time is not None:
            class _Clock(datetime.datetime):
                @classmethod
                def utcnow(cls):
                    return sign_time
            with mock.patch.object(botocore.auth, "datetime",
                                   types.SimpleNamespace(datetime=_Clock)):
                signer.add_auth(req)
        else:
            signer.add_auth(req)
        hdrs = dict(req.headers.items())
    u = urllib.parse.urlsplit(ENDPOINT)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request(method, target, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.headers, data
    finally:
        conn.close()


def xml_code(data):
    m = re.search(rb"<Code>([^<]*)</Code>", data or b"")
    return m.group(1).decode() if m else None


def assert_raw_error(resp, code, status):
    st, _, data = resp
    assert (xml_code(data), st) == (code, status), "expected %s %s, got %s %r" % (
        code, status, st, data[:500])


def url_get(url, headers=None):
    """GET with urllib (no SDK). Returns (status, body, headers)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def put_many(client, bucket, keys, body=b"x"):
    with ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda k: client.put_object(Bucket=bucket, Key=k, Body=body), keys))


def bytewise(keys):
    return sorted(keys, key=lambda k: k.encode("utf-8"))


# --------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def s3():
    return make_client(ADMIN)


@pytest.fixture(scope="session")
def other():
    if not OTHER[0]:
        pytest.skip("OTHER_ACCESS_KEY_ID not set")
    return make_client(OTHER)


@pytest.fixture
def bucket(s3, request):
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:30].strip("-")
    name = "%s-%s" % (base, uuid.uuid4().hex[:10])
    s3.create_bucket(Bucket=name)
    yield name
    drop_bucket(s3, name)


# ---------------------------------------------------------------- buckets

def test_bucket_lifecycle(s3):
    name = unique_name("life")
    r = s3.create_bucket(Bucket=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    try:
        assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        # us-east-1: S3 answers an empty LocationConstraint (boto3: None).
        assert s3.get_bucket_location(Bucket=name).get("LocationConstraint") in (None, "")
        s3.put_object(Bucket=name, Key="k", Body=b"1")
        expect_error("BucketNotEmpty", 409, s3.delete_bucket, Bucket=name)
        s3.delete_object(Bucket=name, Key="k")
        r = s3.delete_bucket(Bucket=name)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
        expect_error("404", 404, s3.head_bucket, Bucket=name)
        assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        expect_error("NoSuchBucket", 404, s3.delete_bucket, Bucket=name)
        expect_error("NoSuchBucket", 404, s3.list_objects_v2, Bucket=name)
        expect_error("NoSuchBucket", 404, s3.put_object, Bucket=name, Key="k", Body=b"")
        expect_error("NoSuchBucket", 404, s3.get_object, Bucket=name, Key="k")
    finally:
        drop_bucket(s3, name)


def test_bucket_create_with_location(s3):
    name = unique_name("loc")
    expect_error("InvalidLocationConstraint", 400, s3.create_bucket, Bucket=name,
                 CreateBucketConfiguration={"LocationConstraint": "mars-1"})
    expect_error("404", 404, s3.head_bucket, Bucket=name)


def test_bucket_recreate_by_owner(s3, bucket):
    expect_error("BucketAlreadyOwnedByYou", 409, s3.create_bucket, Bucket=bucket)


def test_bucket_create_taken_by_other(s3, other, bucket):
    expect_error("BucketAlreadyExists", 409, other.create_bucket, Bucket=bucket)


def test_head_missing_bucket(s3):
    expect_error("404", 404, s3.head_bucket, Bucket=unique_name("nope"))


def test_list_buckets_only_own(s3, other, bucket):
    theirs = unique_name("theirs")
    other.create_bucket(Bucket=theirs)
    try:
        mine = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        seen = [b["Name"] for b in other.list_buckets()["Buckets"]]
        assert bucket in mine and theirs not in mine
        assert theirs in seen and bucket not in seen
        r = s3.list_buckets()
        assert all("CreationDate" in b for b in r["Buckets"])
        assert mine == sorted(mine)
    finally:
        drop_bucket(other, theirs)


@pytest.mark.parametrize("name", [
    "ab", "Upper", "under_score", "-dash", "dash-", "a" * 64, "bad..dots",
    "192.168.5.4", "xn--abc", "abc-s3alias"])
def test_invalid_bucket_names(s3, name):
    try:
        expect_error("InvalidBucketName", 400, s3.create_bucket, Bucket=name)
    except BaseException:
        drop_bucket(s3, name)   # created after all: leave nothing behind
        raise


@pytest.mark.parametrize("name", ["bad%21name", "has%20space", "star%2A"])
def test_invalid_bucket_names_raw(name):
    # Names boto3 refuses client-side, sent as a raw signed request.
    assert_raw_error(raw("PUT", "/" + name), "InvalidBucketName", 400)


def test_valid_bucket_name_edges(s3):
    for name in ["abc", "a" * 63, "a.b-c" + uuid.uuid4().hex[:8]]:
        s3.create_bucket(Bucket=name)
        try:
            s3.head_bucket(Bucket=name)
        finally:
            drop_bucket(s3, name)


def test_other_user_denied(s3, other, bucket):
    s3.put_object(Bucket=bucket, Key="secret", Body=b"mine")
    expect_error("403", 403, other.head_bucket, Bucket=bucket)
    expect_error("AccessDenied", 403, other.list_objects_v2, Bucket=bucket)
    expect_error("AccessDenied", 403, other.list_objects, Bucket=bucket)
    expect_error("AccessDenied", 403, other.get_object, Bucket=bucket, Key="secret")
    expect_error("403", 403, other.head_object, Bucket=bucket, Key="secret")
    expect_error("AccessDenied", 403, other.put_object, Bucket=bucket, Key="x", Body=b"x")
    expect_error("AccessDenied", 403, other.delete_object, Bucket=bucket, Key="secret")
    expect_error("AccessDenied", 403, other.delete_bucket, Bucket=bucket)
    expect_error("AccessDenied", 403, other.get_bucket_location, Bucket=bucket)
    expect_error("AccessDenied", 403, other.create_multipart_upload, Bucket=bucket, Key="m")
    expect_error("AccessDenied", 403, other.list_multipart_uploads, Bucket=bucket)
    expect_error("AccessDenied", 403, other.list_object_versions, Bucket=bucket)
    theirs = unique_name("theirs")
    other.create_bucket(Bucket=theirs)
    try:
        expect_error("AccessDenied", 403, other.copy_object, Bucket=theirs, Key="c",
                     CopySource={"Bucket": bucket, "Key": "secret"})
    finally:
        drop_bucket(other, theirs)
    assert s3.get_object(Bucket=bucket, Key="secret")["Body"].read() == b"mine"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["secret"]


@pytest.mark.parametrize("call", [
    lambda s3, b: s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"}),
    lambda s3, b: s3.put_bucket_policy(Bucket=b, Policy='{"Version":"2012-10-17","Statement":[]}'),
    lambda s3, b: s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}),
    lambda s3, b: s3.put_bucket_acl(Bucket=b, ACL="public-read"),
    lambda s3, b: s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={
        "Rules": [{"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""},
                   "Expiration": {"Days": 1}}]}),
    lambda s3, b: s3.put_object_tagging(Bucket=b, Key="k", Tagging={"TagSet": []}),
    lambda s3, b: s3.put_object_acl(Bucket=b, Key="k", ACL="public-read"),
    lambda s3, b: s3.get_object_tagging(Bucket=b, Key="k"),
    lambda s3, b: s3.delete_object_tagging(Bucket=b, Key="k"),
    lambda s3, b: s3.get_bucket_policy(Bucket=b),
    lambda s3, b: s3.delete_bucket_policy(Bucket=b),
], ids=["versioning", "policy", "bucket-tagging", "bucket-acl", "lifecycle",
        "object-tagging", "object-acl", "get-object-tagging", "delete-object-tagging",
        "get-bucket-policy", "delete-bucket-policy"])
def test_not_implemented(s3, bucket, call):
    s3.put_object(Bucket=bucket, Key="k", Body=b"k", Metadata={"m": "1"})
    try:
        expect_error("NotImplemented", 501, call, s3, bucket)
    finally:
        # A subresource request must never be taken for a plain object or
        # bucket operation: the object and the bucket are untouched.
        g = s3.get_object(Bucket=bucket, Key="k")
        assert (g["Body"].read(), g["Metadata"]) == (b"k", {"m": "1"})
        s3.head_bucket(Bucket=bucket)


@pytest.mark.parametrize("op", ["delete_bucket_policy", "delete_bucket_tagging",
                                "delete_bucket_lifecycle", "delete_bucket_cors",
                                "delete_bucket_website", "delete_bucket_encryption"])
def test_bucket_subresource_delete_keeps_bucket(s3, bucket, op):
    # On an empty bucket: DELETE /bucket?policy must not be a DeleteBucket.
    try:
        expect_error("NotImplemented", 501, getattr(s3, op), Bucket=bucket)
    finally:
        assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_get_bucket_versioning_unversioned(s3, bucket):
    r = s3.get_bucket_versioning(Bucket=bucket)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Status" not in r


# ---------------------------------------------------------------- objects

def test_put_get_head(s3, bucket):
    data = rand(100_000)
    r = s3.put_object(Bucket=bucket, Key="obj", Body=data)
    assert r["ETag"] == etag_of(data)
    g = s3.get_object(Bucket=bucket, Key="obj")
    assert g["Body"].read() == data
    assert g["ETag"] == etag_of(data)
    assert g["ContentLength"] == len(data)
    h = s3.head_object(Bucket=bucket, Key="obj")
    assert h["ContentLength"] == len(data)
    assert h["ETag"] == etag_of(data)
    assert isinstance(h["LastModified"], datetime.datetime)
    age = abs((datetime.datetime.now(datetime.timezone.utc) - h["LastModified"]).total_seconds())
    assert age < 120
    assert h.get("AcceptRanges") == "bytes"


def test_headers_and_metadata_round_trip(s3, bucket):
    s3.put_object(Bucket=bucket, Key="m", Body=b"hello",
                  ContentType="text/x-cairn; charset=utf-8", ContentEncoding="identity",
                  ContentDisposition='attachment; filename="a b.txt"',
                  CacheControl="max-age=60, private", ContentLanguage="fr",
                  Metadata={"Color": "blue", "x-y": "1 2 3"})
    for r in (s3.head_object(Bucket=bucket, Key="m"), s3.get_object(Bucket=bucket, Key="m")):
        assert r["ContentType"] == "text/x-cairn; charset=utf-8"
        assert r["ContentEncoding"] == "identity"
        assert r["ContentDisposition"] == 'attachment; filename="a b.txt"'
        assert r["CacheControl"] == "max-age=60, private"
        assert r["ContentLanguage"] == "fr"
        assert r["Metadata"] == {"color": "blue", "x-y": "1 2 3"}


def test_default_content_type(s3, bucket):
    # No Content-Type sent at all: S3 stores binary/octet-stream.
    st, _, _ = raw("PUT", "/%s/nct" % bucket, body=b"abc")
    assert st == 200
    assert s3.head_object(Bucket=bucket, Key="nct")["ContentType"] in (
        "binary/octet-stream", "application/octet-stream")


def test_get_missing_key(s3, bucket):
    expect_error("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="missing")
    expect_error("404", 404, s3.head_object, Bucket=bucket, Key="missing")


def test_ranges(s3, bucket):
    data = rand(100)
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    cases = [("bytes=0-9", data[0:10], "bytes 0-9/100"),
             ("bytes=-5", data[-5:], "bytes 95-99/100"),
             ("bytes=10-", data[10:], "bytes 10-99/100"),
             ("bytes=90-200", data[90:], "bytes 90-99/100"),
             ("bytes=99-99", data[99:], "bytes 99-99/100"),
             ("bytes=-500", data, "bytes 0-99/100")]
    for rng, want, cr in cases:
        g = s3.get_object(Bucket=bucket, Key="r", Range=rng)
        assert g["ResponseMetadata"]["HTTPStatusCode"] == 206, rng
        assert g["ContentRange"] == cr, rng
        assert g["ContentLength"] == len(want), rng
        assert g["Body"].read() == want, rng
    for rng in ("bytes=100-", "bytes=200-300"):
        expect_error("InvalidRange", 416, s3.get_object, Bucket=bucket, Key="r", Range=rng)


def test_range_on_empty_and_large(s3, bucket):
    s3.put_object(Bucket=bucket, Key="e", Body=b"")
    expect_error("InvalidRange", 416, s3.get_object, Bucket=bucket, Key="e", Range="bytes=0-0")
    data = rand(9 * MiB + 123)
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    lo, hi = 4 * MiB - 7, 8 * MiB + 11        # across stripe boundaries
    g = s3.get_object(Bucket=bucket, Key="big", Range="bytes=%d-%d" % (lo, hi))
    assert g["ContentRange"] == "bytes %d-%d/%d" % (lo, hi, len(data))
    assert g["Body"].read() == data[lo:hi + 1]


def test_conditional_get(s3, bucket):
    data = b"conditional"
    s3.put_object(Bucket=bucket, Key="c", Body=data)
    etag = etag_of(data)
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    past = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == data
    expect_error("PreconditionFailed", 412, s3.get_object, Bucket=bucket, Key="c",
                 IfMatch='"0123456789abcdef0123456789abcdef"')
    expect_error("304", 304, s3.get_object, Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"ffff"')["Body"].read() == data
    expect_error("304", 304, s3.get_object, Bucket=bucket, Key="c", IfModifiedSince=future)
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)["Body"].read() == data
    expect_error("PreconditionFailed", 412, s3.get_object, Bucket=bucket, Key="c",
                 IfUnmodifiedSince=past)
    assert s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=future)["Body"].read() == data
    # HEAD: same decisions, no body, so botocore gives the status as code.
    expect_error("412", 412, s3.head_object, Bucket=bucket, Key="c", IfMatch='"00"')
    expect_error("304", 304, s3.head_object, Bucket=bucket, Key="c", IfNoneMatch=etag)
    # If-Match true wins over If-Unmodified-Since false (RFC 7232 / S3).
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag,
                         IfUnmodifiedSince=past)["Body"].read() == data


def test_overwrite(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"first version, longer")
    second = b"second"
    r = s3.put_object(Bucket=bucket, Key="o", Body=second)
    g = s3.get_object(Bucket=bucket, Key="o")
    assert g["Body"].read() == second
    assert g["ETag"] == r["ETag"] == etag_of(second)
    assert g["ContentLength"] == len(second)


def test_delete_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="d", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_error("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="d")
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="never")["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_error("NoSuchBucket", 404, s3.delete_object, Bucket=unique_name("nob"), Key="d")


def test_content_md5(s3, bucket):
    data = b"digest me"
    s3.put_object(Bucket=bucket, Key="ok", Body=data, ContentMD5=b64(hashlib.md5(data).digest()))
    assert s3.get_object(Bucket=bucket, Key="ok")["Body"].read() == data
    expect_error("BadDigest", 400, s3.put_object, Bucket=bucket, Key="bad", Body=data,
                 ContentMD5=b64(hashlib.md5(b"something else").digest()))
    expect_error("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="bad")


@pytest.mark.parametrize("algo", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_checksum_algorithms(s3, bucket, algo):
    data = rand(70_000)
    want = checksum_b64(algo, data)
    r = s3.put_object(Bucket=bucket, Key="ck", Body=data, ChecksumAlgorithm=algo)
    assert r.get("Checksum" + algo) == want
    g = s3.get_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert g.get("Checksum" + algo) == want
    assert g["Body"].read() == data
    h = s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert h.get("Checksum" + algo) == want


@pytest.mark.parametrize("algo", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_checksum_wrong_value(s3, bucket, algo):
    data = b"checksummed body"
    wrong = checksum_b64(algo, b"another body")
    expect_error("BadDigest", 400, s3.put_object, Bucket=bucket, Key="bad", Body=data,
                 **{"Checksum" + algo: wrong})
    expect_error("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="bad")


def test_empty_object(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert r["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    g = s3.get_object(Bucket=bucket, Key="empty")
    assert g["ContentLength"] == 0 and g["Body"].read() == b""
    assert s3.head_object(Bucket=bucket, Key="empty")["ContentLength"] == 0
    objs = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in objs] == [("empty", 0)]


def test_keepalive_after_empty_put(bucket):
    # One connection: a PUT with Content-Length: 0, then PUTs with a body
    # (and with Expect: 100-continue, as awscli sends file bodies).
    one = make_client(max_pool_connections=1, read_timeout=10)
    for i, body in enumerate([b"", b"abc", b"", io.BytesIO(b"def"), io.BytesIO(b""), b"ghi"]):
        r = one.put_object(Bucket=bucket, Key="ka%d" % i, Body=body)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert one.get_object(Bucket=bucket, Key="ka3")["Body"].read() == b"def"


def test_large_object(s3, bucket):
    data = rand(20 * MiB + 17)
    r = s3.put_object(Bucket=bucket, Key="large", Body=data)
    assert r["ETag"] == etag_of(data)
    g = s3.get_object(Bucket=bucket, Key="large")
    assert g["ContentLength"] == len(data)
    assert g["Body"].read() == data


UNUSUAL_KEYS = [
    "café é", "日本/語.txt", "emoji 😀🚀", "with space", "a+b+c", "100% sure",
    "../dotdot", "dir/../x", "q?mark=1&x", "hash#tag", "double//slash", "trailing/",
    "semi;colon", "tilde~quote'\"", "equals=and&amp", "tab\there", "star*[brackets]",
    "./dot", "back\\slash", "crlf-free <xml> & stuff",
]


def test_unusual_keys(s3, bucket):
    for i, key in enumerate(UNUSUAL_KEYS):
        s3.put_object(Bucket=bucket, Key=key, Body=("body %d" % i).encode())
    listed = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        listed += [o["Key"] for o in page.get("Contents", [])]
    assert listed == bytewise(UNUSUAL_KEYS)
    v1 = [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]]
    assert v1 == bytewise(UNUSUAL_KEYS)
    for i, key in enumerate(UNUSUAL_KEYS):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == ("body %d" % i).encode(), key
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len("body %d" % i)
    for key in UNUSUAL_KEYS:
        s3.delete_object(Bucket=bucket, Key=key)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_key_length(s3, bucket):
    ok = "k" * 1024
    s3.put_object(Bucket=bucket, Key=ok, Body=b"1024")
    assert s3.get_object(Bucket=bucket, Key=ok)["Body"].read() == b"1024"
    expect_error("KeyTooLongError", 400, s3.put_object, Bucket=bucket, Key="k" * 1025, Body=b"x")
    # 1024 bytes of UTF-8 is the limit, not 1024 characters.
    expect_error("KeyTooLongError", 400, s3.put_object, Bucket=bucket, Key="é" * 513, Body=b"x")


def test_metadata_size(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ok", Body=b"", Metadata={"a": "v" * 1900})
    assert s3.head_object(Bucket=bucket, Key="ok")["Metadata"]["a"] == "v" * 1900
    expect_error("MetadataTooLarge", 400, s3.put_object, Bucket=bucket, Key="big", Body=b"",
                 Metadata={"big": "x" * 2100})
    expect_error("MetadataTooLarge", 400, s3.put_object, Bucket=bucket, Key="many", Body=b"",
                 Metadata={"k%02d" % i: "y" * 100 for i in range(25)})


# ------------------------------------------------------------ copy_object

def test_copy_directives(s3, bucket):
    data = rand(3000)
    s3.put_object(Bucket=bucket, Key="src", Body=data, ContentType="image/x-src",
                  Metadata={"origin": "src"}, CacheControl="no-cache")
    r = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == etag_of(data)
    h = s3.head_object(Bucket=bucket, Key="copy")
    assert h["ContentType"] == "image/x-src"
    assert h["Metadata"] == {"origin": "src"}
    assert h["CacheControl"] == "no-cache"
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == data
    s3.copy_object(Bucket=bucket, Key="repl", CopySource="%s/src" % bucket,
                   MetadataDirective="REPLACE", ContentType="text/plain",
                   Metadata={"new": "meta"})
    h = s3.head_object(Bucket=bucket, Key="repl")
    assert h["ContentType"] == "text/plain"
    assert h["Metadata"] == {"new": "meta"}
    assert "CacheControl" not in h
    assert s3.get_object(Bucket=bucket, Key="repl")["Body"].read() == data
    # The source is untouched.
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"origin": "src"}


def test_copy_to_itself(s3, bucket):
    s3.put_object(Bucket=bucket, Key="self", Body=b"same", Metadata={"v": "1"})
    expect_error("InvalidRequest", 400, s3.copy_object, Bucket=bucket, Key="self",
                 CopySource={"Bucket": bucket, "Key": "self"})
    s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"},
                   MetadataDirective="REPLACE", Metadata={"v": "2"})
    h = s3.head_object(Bucket=bucket, Key="self")
    assert h["Metadata"] == {"v": "2"}
    assert s3.get_object(Bucket=bucket, Key="self")["Body"].read() == b"same"


def test_copy_missing_source(s3, bucket):
    expect_error("NoSuchKey", 404, s3.copy_object, Bucket=bucket, Key="dst",
                 CopySource={"Bucket": bucket, "Key": "missing"})
    expect_error("NoSuchBucket", 404, s3.copy_object, Bucket=bucket, Key="dst",
                 CopySource={"Bucket": unique_name("nob"), "Key": "k"})
    expect_error("NoSuchBucket", 404, s3.copy_object, Bucket=unique_name("nob"), Key="dst",
                 CopySource={"Bucket": bucket, "Key": "k"})


def test_copy_conditions_and_unusual_key(s3, bucket):
    key = "src é+%/x y"
    s3.put_object(Bucket=bucket, Key=key, Body=b"cond")
    etag = etag_of(b"cond")
    expect_error("PreconditionFailed", 412, s3.copy_object, Bucket=bucket, Key="d",
                 CopySource={"Bucket": bucket, "Key": key}, CopySourceIfMatch='"00"')
    s3.copy_object(Bucket=bucket, Key="d", CopySource={"Bucket": bucket, "Key": key},
                   CopySourceIfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="d")["Body"].read() == b"cond"


def test_copy_multipart_object(s3, bucket):
    parts = [rand(5 * MiB), rand(MiB + 5)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="x/mp")
    etags = [s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=i + 1,
                            Body=p)["ETag"] for i, p in enumerate(parts)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e}
                                                            for i, e in enumerate(etags)]})
    s3.copy_object(Bucket=bucket, Key="mp-copy", CopySource={"Bucket": bucket, "Key": "mp"})
    g = s3.get_object(Bucket=bucket, Key="mp-copy")
    assert g["Body"].read() == b"".join(parts)
    assert g["ContentType"] == "x/mp"


def test_copy_between_buckets(s3, bucket):
    dst = unique_name("dst")
    s3.create_bucket(Bucket=dst)
    try:
        s3.put_object(Bucket=bucket, Key="k", Body=b"across")
        s3.copy_object(Bucket=dst, Key="k2", CopySource={"Bucket": bucket, "Key": "k"})
        assert s3.get_object(Bucket=dst, Key="k2")["Body"].read() == b"across"
    finally:
        drop_bucket(s3, dst)


# ---------------------------------------------------------- delete_objects

def test_delete_objects(s3, bucket):
    for k in ("a", "b", "c/d"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a"}, {"Key": "c/d"}, {"Key": "missing"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["a", "c/d", "missing"]
    assert not r.get("Errors")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["b"]
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}, {"Key": "zz"}],
                                                 "Quiet": True})
    assert "Deleted" not in r and not r.get("Errors")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_unusual_keys(s3, bucket):
    keys = ["a&b", "<lt>", "é 日本", "x'\"y"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in r["Deleted"]) == sorted(keys)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_malformed(s3, bucket):
    body = b"<Delete><Object><Key>a</Key></Object><Object><Key>"   # cut short
    md5 = b64(hashlib.md5(body).digest())
    resp = raw("POST", "/%s" % bucket, "delete", body=body,
               headers={"Content-MD5": md5, "Content-Type": "application/xml"})
    assert_raw_error(resp, "MalformedXML", 400)
    body = b"<NotDelete><Object><Key>a</Key></Object></NotDelete>"
    resp = raw("POST", "/%s" % bucket, "delete", body=body,
               headers={"Content-MD5": b64(hashlib.md5(body).digest())})
    assert_raw_error(resp, "MalformedXML", 400)


def test_delete_objects_over_1000(s3, bucket):
    objs = [{"Key": "k%04d" % i} for i in range(1001)]
    expect_error("MalformedXML", 400, s3.delete_objects, Bucket=bucket, Delete={"Objects": objs})


# ---------------------------------------------------------------- listing

TREE = ["a/1", "a/2", "a/b/3", "a/b/4", "b/1", "c", "d/", "e", "e/f", "f.txt"]


MAX_PAGES = 3000   # a listing that does not advance must fail, not spin


def listing_v2(s3, **kw):
    keys, prefixes, token = [], [], None
    for _ in range(MAX_PAGES):
        args = dict(kw)
        if token:
            args["ContinuationToken"] = token
        r = s3.list_objects_v2(**args)
        keys += [o["Key"] for o in r.get("Contents", [])]
        prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        assert r["KeyCount"] == len(r.get("Contents", [])) + len(r.get("CommonPrefixes", []))
        if "MaxKeys" in kw:
            assert r["KeyCount"] <= kw["MaxKeys"]
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            return keys, prefixes
        assert r["NextContinuationToken"] != token, "the listing does not advance: %r" % r
        token = r["NextContinuationToken"]
    pytest.fail("list_objects_v2 %r: more than %d pages" % (kw, MAX_PAGES))


def listing_v1(s3, **kw):
    keys, prefixes, marker = [], [], None
    for _ in range(MAX_PAGES):
        args = dict(kw)
        if marker:
            args["Marker"] = marker
        r = s3.list_objects(**args)
        contents = [o["Key"] for o in r.get("Contents", [])]
        cps = [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        keys += contents
        prefixes += cps
        if not r["IsTruncated"]:
            return keys, prefixes
        # NextMarker is only given with a delimiter; else the last key is the marker.
        last = marker
        marker = r.get("NextMarker") or (contents[-1] if contents else None)
        if "Delimiter" in kw:
            assert "NextMarker" in r
        assert marker and marker != last, "the listing does not advance: %r" % r
    pytest.fail("list_objects %r: more than %d pages" % (kw, MAX_PAGES))


def test_list_prefix_delimiter(s3, bucket):
    put_many(s3, bucket, TREE)
    for lister in (listing_v2, listing_v1):
        assert lister(s3, Bucket=bucket) == (TREE, [])
        assert lister(s3, Bucket=bucket, Prefix="a/") == (["a/1", "a/2", "a/b/3", "a/b/4"], [])
        assert lister(s3, Bucket=bucket, Delimiter="/") == (["c", "e", "f.txt"], ["a/", "b/", "d/", "e/"])
        assert lister(s3, Bucket=bucket, Prefix="a/", Delimiter="/") == (["a/1", "a/2"], ["a/b/"])
        assert lister(s3, Bucket=bucket, Prefix="zzz") == ([], [])
        assert lister(s3, Bucket=bucket, Prefix="d/", Delimiter="/") == (["d/"], [])
        assert lister(s3, Bucket=bucket, Delimiter=".") == (
            ["a/1", "a/2", "a/b/3", "a/b/4", "b/1", "c", "d/", "e", "e/f"], ["f."])
        # Small pages, where CommonPrefixes count toward MaxKeys.
        for n in (1, 2, 3):
            assert lister(s3, Bucket=bucket, Delimiter="/", MaxKeys=n) == (
                ["c", "e", "f.txt"], ["a/", "b/", "d/", "e/"]), n
            assert lister(s3, Bucket=bucket, MaxKeys=n) == (TREE, []), n


def test_list_v2_fields(s3, bucket):
    put_many(s3, bucket, TREE, body=b"12345")
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=3, Prefix="a/")
    assert r["Name"] == bucket and r["Prefix"] == "a/" and r["MaxKeys"] == 3
    assert r["KeyCount"] == 3 and r["IsTruncated"] is True
    o = r["Contents"][0]
    assert o["Size"] == 5 and o["ETag"] == etag_of(b"12345") and "LastModified" in o
    assert o.get("StorageClass") == "STANDARD"
    assert "Owner" not in o
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=1, FetchOwner=True)
    assert "ID" in r["Contents"][0]["Owner"]
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert r["KeyCount"] == 0 and "Contents" not in r
    r = s3.list_objects(Bucket=bucket, MaxKeys=1)
    assert "ID" in r["Contents"][0]["Owner"]


def test_list_start_after(s3, bucket):
    put_many(s3, bucket, TREE)
    assert listing_v2(s3, Bucket=bucket, StartAfter="b/1") == (TREE[5:], [])
    assert listing_v2(s3, Bucket=bucket, StartAfter="a/b") == (TREE[2:], [])
    assert listing_v2(s3, Bucket=bucket, StartAfter="zzz") == ([], [])
    assert listing_v2(s3, Bucket=bucket, StartAfter="a/2", MaxKeys=2) == (TREE[2:], [])
    assert listing_v1(s3, Bucket=bucket, Marker="b/1") == (TREE[5:], [])


def test_list_encoding_type_url(s3, bucket):
    keys = ["plain", "sp ace", "plus+plus", "é/日本", "pct%41", "amp&lt;"]
    put_many(s3, bucket, keys)
    # boto3 asks for EncodingType=url itself and decodes (unquote_plus).
    for lister in (listing_v2, listing_v1):
        assert lister(s3, Bucket=bucket) == (bytewise(keys), [])
        assert lister(s3, Bucket=bucket, Delimiter="/") == (
            [k for k in bytewise(keys) if "/" not in k], ["é/"])
    r = s3.list_objects_v2(Bucket=bucket, Prefix="é", EncodingType="url")
    # An explicit EncodingType: botocore leaves the decoding to the caller.
    assert [urllib.parse.unquote_plus(o["Key"]) for o in r["Contents"]] == ["é/日本"]
    # Raw: with encoding-type=url every Key is URL-encoded, nothing else.
    st, _, body = raw("GET", "/%s" % bucket, "encoding-type=url&list-type=2")
    assert st == 200, body
    raw_keys = re.findall(rb"<Key>([^<]*)</Key>", body)
    assert all(re.fullmatch(rb"[A-Za-z0-9%+._~*/-]*", k) for k in raw_keys), raw_keys
    assert [urllib.parse.unquote_plus(k.decode()) for k in raw_keys] == bytewise(keys)
    assert b"<EncodingType>url</EncodingType>" in body
    # Raw without encoding-type: XML-escaped, not URL-encoded.
    st, _, body = raw("GET", "/%s" % bucket, "list-type=2")
    assert st == 200
    root = ET.fromstring(body)
    ns = {"s": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {}
    path = "s:Contents/s:Key" if ns else "Contents/Key"
    assert [e.text for e in root.findall(path, ns)] == bytewise(keys)


def test_list_invalid_encoding_type(bucket):
    assert_raw_error(raw("GET", "/%s" % bucket, "encoding-type=bogus&list-type=2"),
                     "InvalidArgument", 400)


def test_list_object_versions(s3, bucket):
    put_many(s3, bucket, TREE)
    s3.put_object(Bucket=bucket, Key="c", Body=b"overwritten")
    seen, key_marker, vid_marker = [], None, None
    for _ in range(MAX_PAGES):
        args = {"Bucket": bucket, "MaxKeys": 3}
        if key_marker is not None:
            args["KeyMarker"] = key_marker
            if vid_marker is not None:
                args["VersionIdMarker"] = vid_marker
        r = s3.list_object_versions(**args)
        for v in r.get("Versions", []):
            assert v["VersionId"] == "null" and v["IsLatest"] is True, v
            seen.append(v["Key"])
        assert not r.get("DeleteMarkers")
        if not r["IsTruncated"]:
            break
        assert (r["NextKeyMarker"], r.get("NextVersionIdMarker")) != (key_marker, vid_marker)
        key_marker, vid_marker = r["NextKeyMarker"], r.get("NextVersionIdMarker")
    assert seen == TREE
    r = s3.list_object_versions(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [v["Key"] for v in r["Versions"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/b/"]
    c = [v for v in s3.list_object_versions(Bucket=bucket, Prefix="c")["Versions"]]
    assert len(c) == 1 and c[0]["ETag"] == etag_of(b"overwritten") and c[0]["Size"] == 11


def test_list_2500_keys(s3, bucket):
    keys = ["k/%05d/%s" % (i, uuid.uuid4().hex[:6]) for i in range(2500)]
    keys[7] = "k/é-unicode"
    keys[8] = "k/ space"
    put_many(s3, bucket, keys)
    want = bytewise(keys)
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=5000)
    assert r["KeyCount"] == 1000 and r["IsTruncated"] is True
    for page_size in (1000, 7):
        pages = []
        for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, PaginationConfig={"PageSize": page_size}):
            pages.append([o["Key"] for o in page.get("Contents", [])])
        got = [k for p in pages for k in p]
        assert got == want, page_size
        assert all(len(p) == page_size for p in pages[:-1])
        assert len(pages) == -(-2500 // page_size)
    assert listing_v2(s3, Bucket=bucket, MaxKeys=1000) == (want, [])
    assert listing_v1(s3, Bucket=bucket, MaxKeys=1000) == (want, [])
    got = []
    for page in s3.get_paginator("list_objects").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 7}):
        got += [o["Key"] for o in page.get("Contents", [])]
    assert got == want
    got = []
    for page in s3.get_paginator("list_object_versions").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 1000}):
        got += [v["Key"] for v in page.get("Versions", [])]
    assert got == want
    assert listing_v2(s3, Bucket=bucket, Delimiter="/") == ([], ["k/"])


# -------------------------------------------------------------- multipart

def _complete(s3, bucket, key, upload_id, etags):
    return s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in etags]})


def test_multipart_basic(s3, bucket):
    parts = [rand(5 * MiB), rand(MiB)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="application/x-mp",
                                    Metadata={"kind": "multipart"})
    uid = up["UploadId"]
    assert up["Bucket"] == bucket and up["Key"] == "mp" and uid
    ups = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in ups.get("Uploads", [])] == [("mp", uid)]
    etags = []
    for n, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=n, Body=p)
        assert r["ETag"] == etag_of(p)
        etags.append((n, r["ETag"]))
    lp = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in lp["Parts"]] == [
        (1, 5 * MiB, etag_of(parts[0])), (2, MiB, etag_of(parts[1]))]
    lp1 = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid, MaxParts=1)
    assert lp1["IsTruncated"] is True and [p["PartNumber"] for p in lp1["Parts"]] == [1]
    lp2 = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid,
                        PartNumberMarker=lp1["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in lp2["Parts"]] == [2] and lp2["IsTruncated"] is False
    # Not visible as an object before completion.
    expect_error("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="mp")
    r = _complete(s3, bucket, "mp", uid, etags)
    assert r["ETag"] == mp_etag(parts)
    assert r["ETag"].endswith('-2"')
    g = s3.get_object(Bucket=bucket, Key="mp")
    assert g["ETag"] == mp_etag(parts)
    assert g["ContentType"] == "application/x-mp"
    assert g["Metadata"] == {"kind": "multipart"}
    assert g["ContentLength"] == 6 * MiB
    assert g["Body"].read() == b"".join(parts)
    g = s3.get_object(Bucket=bucket, Key="mp", Range="bytes=%d-%d" % (5 * MiB - 3, 5 * MiB + 2))
    assert g["Body"].read() == parts[0][-3:] + parts[1][:3]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    expect_error("NoSuchUpload", 404, s3.list_parts, Bucket=bucket, Key="mp", UploadId=uid)
    lst = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in lst] == [("mp", 6 * MiB, mp_etag(parts))]


def test_multipart_concurrent_parts(s3, bucket):
    # As awscli, rclone and boto3's upload_file send them: in parallel.
    parts = {n: rand(5 * MiB) for n in range(1, 9)}
    uid = s3.create_multipart_upload(Bucket=bucket, Key="cc")["UploadId"]
    with ThreadPoolExecutor(8) as ex:
        etags = dict(ex.map(lambda n: (n, s3.upload_part(
            Bucket=bucket, Key="cc", UploadId=uid, PartNumber=n, Body=parts[n])["ETag"]), parts))
    listed = s3.list_parts(Bucket=bucket, Key="cc", UploadId=uid).get("Parts", [])
    assert [p["PartNumber"] for p in listed] == list(parts)
    _complete(s3, bucket, "cc", uid, sorted(etags.items()))
    assert s3.get_object(Bucket=bucket, Key="cc")["Body"].read() == b"".join(parts.values())


def test_multipart_part_overwrite_and_subset(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ow")["UploadId"]
    a, b, c = rand(5 * MiB), rand(5 * MiB), rand(100)
    s3.upload_part(Bucket=bucket, Key="ow", UploadId=uid, PartNumber=1, Body=rand(5 * MiB))
    e1 = s3.upload_part(Bucket=bucket, Key="ow", UploadId=uid, PartNumber=1, Body=a)["ETag"]
    s3.upload_part(Bucket=bucket, Key="ow", UploadId=uid, PartNumber=2, Body=b)
    e3 = s3.upload_part(Bucket=bucket, Key="ow", UploadId=uid, PartNumber=3, Body=c)["ETag"]
    # Parts 1 and 3 only (gaps are allowed; part 2 is dropped).
    r = _complete(s3, bucket, "ow", uid, [(1, e1), (3, e3)])
    assert r["ETag"] == mp_etag([a, c])
    assert s3.get_object(Bucket=bucket, Key="ow")["Body"].read() == a + c


def test_multipart_invalid_part(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ip")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="ip", UploadId=uid, PartNumber=1, Body=rand(5 * MiB))
    e2 = s3.upload_part(Bucket=bucket, Key="ip", UploadId=uid, PartNumber=2, Body=b"x")["ETag"]
    expect_error("InvalidPart", 400, _complete, s3, bucket, "ip", uid,
                 [(1, '"0123456789abcdef0123456789abcdef"'), (2, e2)])
    expect_error("InvalidPart", 400, _complete, s3, bucket, "ip", uid,
                 [(1, etag_of(b"x")), (2, e2), (3, e2)])


def test_multipart_invalid_part_order(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="po")["UploadId"]
    p1, p2 = rand(5 * MiB), rand(5 * MiB)   # both big enough: only the order is wrong
    e1 = s3.upload_part(Bucket=bucket, Key="po", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="po", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    expect_error("InvalidPartOrder", 400, _complete, s3, bucket, "po", uid, [(2, e2), (1, e1)])
    # The upload survives failed completions.
    r = _complete(s3, bucket, "po", uid, [(1, e1), (2, e2)])
    assert r["ETag"] == mp_etag([p1, p2])


def test_multipart_entity_too_small(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    p1, p2 = rand(MiB), rand(MiB)
    e1 = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    expect_error("EntityTooSmall", 400, _complete, s3, bucket, "small", uid, [(1, e1), (2, e2)])
    # A single small part is fine (the last part has no minimum).
    r = _complete(s3, bucket, "small", uid, [(1, e1)])
    assert r["ETag"] == mp_etag([p1])
    assert s3.get_object(Bucket=bucket, Key="small")["Body"].read() == p1


def test_multipart_abort(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ab")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="ab", UploadId=uid, PartNumber=1, Body=b"abc")
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [uid]
    r = s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=uid)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_error("NoSuchUpload", 404, s3.list_parts, Bucket=bucket, Key="ab", UploadId=uid)
    expect_error("NoSuchUpload", 404, s3.upload_part, Bucket=bucket, Key="ab", UploadId=uid,
                 PartNumber=2, Body=b"x")
    expect_error("NoSuchUpload", 404, _complete, s3, bucket, "ab", uid, [(1, etag_of(b"abc"))])
    expect_error("NoSuchUpload", 404, s3.abort_multipart_upload, Bucket=bucket, Key="ab",
                 UploadId=uid)
    expect_error("NoSuchUpload", 404, s3.list_parts, Bucket=bucket, Key="ab",
                 UploadId="no-such-upload-id")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    expect_error("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="ab")


def test_multipart_uploads_listing(s3, bucket):
    ids = {}
    for k in ("x/1", "x/2", "y", "x/1"):
        ids.setdefault(k, []).append(s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"])
    r = s3.list_multipart_uploads(Bucket=bucket)
    got = [(u["Key"], u["UploadId"]) for u in r["Uploads"]]
    assert sorted(got) == sorted((k, u) for k, us in ids.items() for u in us)
    assert [k for k, _ in got] == ["x/1", "x/1", "x/2", "y"]
    r = s3.list_multipart_uploads(Bucket=bucket, Prefix="x/", Delimiter="/")
    assert [u["Key"] for u in r["Uploads"]] == ["x/1", "x/1", "x/2"]
    r = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in r.get("Uploads", [])] == ["y"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["x/"]
    r = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2)
    assert r["IsTruncated"] is True and len(r["Uploads"]) == 2
    r2 = s3.list_multipart_uploads(Bucket=bucket, KeyMarker=r["NextKeyMarker"],
                                   UploadIdMarker=r["NextUploadIdMarker"])
    assert len(r["Uploads"]) + len(r2["Uploads"]) == 4
    for k, us in ids.items():
        for u in us:
            s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=u)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_multipart_invalid_part_number(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="pn")["UploadId"]
    for n in (0, 10001):
        expect_error("InvalidArgument", 400, s3.upload_part, Bucket=bucket, Key="pn",
                     UploadId=uid, PartNumber=n, Body=b"x")
    s3.upload_part(Bucket=bucket, Key="pn", UploadId=uid, PartNumber=10000, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="pn", UploadId=uid)


def test_upload_part_copy(s3, bucket):
    src = rand(6 * MiB + 100)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="pc")["UploadId"]
    cut = 5 * MiB
    r1 = s3.upload_part_copy(Bucket=bucket, Key="pc", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange="bytes=0-%d" % (cut - 1))
    assert r1["CopyPartResult"]["ETag"] == etag_of(src[:cut])
    r2 = s3.upload_part_copy(Bucket=bucket, Key="pc", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange="bytes=%d-%d" % (cut, len(src) - 1))
    e3 = s3.upload_part(Bucket=bucket, Key="pc", UploadId=uid, PartNumber=3, Body=b"tail")["ETag"]
    # Part 2 is not last, so it is too small; complete without part 3.
    expect_error("EntityTooSmall", 400, _complete, s3, bucket, "pc", uid, [
        (1, r1["CopyPartResult"]["ETag"]), (2, r2["CopyPartResult"]["ETag"]), (3, e3)])
    _complete(s3, bucket, "pc", uid, [(1, r1["CopyPartResult"]["ETag"]),
                                      (2, r2["CopyPartResult"]["ETag"])])
    assert s3.get_object(Bucket=bucket, Key="pc")["Body"].read() == src
    # Whole-object part copy.
    uid = s3.create_multipart_upload(Bucket=bucket, Key="pc2")["UploadId"]
    r = s3.upload_part_copy(Bucket=bucket, Key="pc2", UploadId=uid, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyPartResult"]["ETag"] == etag_of(src)
    _complete(s3, bucket, "pc2", uid, [(1, r["CopyPartResult"]["ETag"])])
    assert s3.get_object(Bucket=bucket, Key="pc2")["Body"].read() == src


def test_complete_malformed_xml(s3, bucket):
    key = "mx"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"x")["ETag"]
    q = "uploadId=" + urllib.parse.quote(uid, safe="")
    bodies = [
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>",
        b"not xml at all",
        b"<CompleteMultipartUpload></CompleteMultipartUpload>",
    ]
    for body in bodies:
        assert_raw_error(raw("POST", "/%s/%s" % (bucket, key), q, body=body),
                         "MalformedXML", 400)
    ok = ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
          "</CompleteMultipartUpload>" % e1).encode()
    st, _, data = raw("POST", "/%s/%s" % (bucket, key), q, body=ok)
    assert st == 200 and b"<ETag>" in data, data


# ------------------------------------------------------------ aws-chunked

def _signing_key(secret, date):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def _streaming_put(path, data, chunk=64 * 1024, corrupt=False, creds=ADMIN):
    """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD (aws-chunked, signed
    chunks), as the Java/Go SDKs send over plain http."""
    nchunks = -(-len(data) // chunk)
    enc_len = 0
    for i in range(nchunks):
        n = len(data[i * chunk:(i + 1) * chunk])
        enc_len += len("%x" % n) + len(";chunk-signature=") + 64 + 2 + n + 2
    enc_len += 1 + len(";chunk-signature=") + 64 + 4
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
               "Content-Length": str(enc_len)}
    req = AWSRequest(method="PUT", url=ENDPOINT + path, data=b"", headers=headers)
    _Signer(Credentials(*creds), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD").add_auth(req)
    hdrs = dict(req.headers.items())
    amz_date = hdrs["X-Amz-Date"]
    seed = re.search(r"Signature=([0-9a-f]{64})", hdrs["Authorization"]).group(1)
    scope = "%s/%s/s3/aws4_request" % (amz_date[:8], REGION)
    key = _signing_key(creds[1], amz_date[:8])
    empty = hashlib.sha256(b"").hexdigest()
    prev, out = seed, []
    pieces = [data[i * chunk:(i + 1) * chunk] for i in range(nchunks)] + [b""]
    for i, piece in enumerate(pieces):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty,
                         hashlib.sha256(piece).hexdigest()])
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        if corrupt and i == 1:
            sig = "0" * 64
        out.append(b"%x;chunk-signature=%s\r\n%s\r\n" % (len(piece), sig.encode(), piece))
        prev = sig
    body = b"".join(out)
    assert len(body) == enc_len
    u = urllib.parse.urlsplit(ENDPOINT)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("PUT", path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def test_aws_chunked_signed(s3, bucket):
    data = rand(200_000)
    st, hdrs, body = _streaming_put("/%s/chunked" % bucket, data)
    assert st == 200, body
    assert hdrs.get("ETag") == etag_of(data)
    g = s3.get_object(Bucket=bucket, Key="chunked")
    assert g["ContentLength"] == len(data) and g["Body"].read() == data
    assert g.get("ContentEncoding") in (None, "")   # aws-chunked is not stored
    assert_raw_error(_streaming_put("/%s/bad" % bucket, data, corrupt=True),
                     "SignatureDoesNotMatch", 403)
    expect_error("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="bad")


def test_aws_chunked_unsigned_trailer(s3, bucket):
    data = rand(100_000)
    crc = checksum_b64("CRC32", data)
    for name, value, ok in (("good", crc, True), ("bad", checksum_b64("CRC32", b"no"), False)):
        body = b"%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % (len(data), data, value.encode())
        resp = raw("PUT", "/%s/%s" % (bucket, name), body=body,
                   payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                   headers={"Content-Encoding": "aws-chunked",
                            "x-amz-decoded-content-length": str(len(data)),
                            "x-amz-trailer": "x-amz-checksum-crc32"})
        if ok:
            assert resp[0] == 200, resp[2]
            g = s3.get_object(Bucket=bucket, Key=name, ChecksumMode="ENABLED")
            assert g["Body"].read() == data
            assert g.get("ChecksumCRC32") == crc
        else:
            assert_raw_error(resp, "BadDigest", 400)


# ------------------------------------------------------------------- auth

def test_wrong_secret(bucket):
    bad = make_client((ADMIN[0], ADMIN[1][:-1] + ("A" if ADMIN[1][-1] != "A" else "B")))
    expect_error("SignatureDoesNotMatch", 403, bad.list_objects_v2, Bucket=bucket)
    expect_error("SignatureDoesNotMatch", 403, bad.list_buckets)
    expect_error("SignatureDoesNotMatch", 403, bad.put_object, Bucket=bucket, Key="k", Body=b"x")


def test_unknown_access_key(bucket):
    bad = make_client(("AKIANOSUCHKEY0000000", ADMIN[1]))
    expect_error("InvalidAccessKeyId", 403, bad.list_objects_v2, Bucket=bucket)
    expect_error("InvalidAccessKeyId", 403, bad.list_buckets)


def test_body_hash_mismatch(bucket):
    resp = raw("PUT", "/%s/h" % bucket, body=b"actual body",
               payload_hash=hashlib.sha256(b"declared body").hexdigest())
    assert_raw_error(resp, "XAmzContentSHA256Mismatch", 400)


def test_presigned_get_put(s3, bucket):
    data = rand(1000)
    s3.put_object(Bucket=bucket, Key="p r/é", Body=data)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p r/é"},
                                    ExpiresIn=300)
    st, body, _ = url_get(url)
    assert (st, body) == (200, data)
    st, body, hdrs = url_get(url, headers={"Range": "bytes=10-19"})
    assert (st, body) == (206, data[10:20])
    assert hdrs["Content-Range"] == "bytes 10-19/1000"
    tampered = re.sub(r"X-Amz-Signature=[0-9a-f]{4}", "X-Amz-Signature=0000", url)
    st, body, _ = url_get(tampered)
    assert (st, xml_code(body)) == (403, "SignatureDoesNotMatch")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up"},
                                        ExpiresIn=300)
    req = urllib.request.Request(put_url, data=b"presigned put", method="PUT")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
    assert s3.get_object(Bucket=bucket, Key="up")["Body"].read() == b"presigned put"


def test_presigned_expired(s3, bucket):
    s3.put_object(Bucket=bucket, Key="exp", Body=b"soon gone")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "exp"},
                                    ExpiresIn=1)
    deadline = time.monotonic() + 15
    while True:
        st, body, _ = url_get(url)
        if st != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (st, xml_code(body)) == (403, "AccessDenied"), body


def test_anonymous(s3, bucket):
    s3.put_object(Bucket=bucket, Key="anon", Body=b"private")
    for path in ("/%s/anon" % bucket, "/%s" % bucket, "/"):
        st, body, _ = url_get(ENDPOINT + path)
        assert (st, xml_code(body)) == (403, "AccessDenied"), (path, body)
    assert_raw_error(raw("PUT", "/%s/anon2" % bucket, body=b"x", sign=False), "AccessDenied", 403)
    expect_error("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="anon2")


def test_clock_skew(bucket):
    past = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    assert_raw_error(raw("GET", "/%s" % bucket, sign_time=past), "RequestTimeTooSkewed", 403)
    future = datetime.datetime.utcnow() + datetime.timedelta(minutes=20)
    assert_raw_error(raw("GET", "/%s" % bucket, sign_time=future), "RequestTimeTooSkewed", 403)
    near = datetime.datetime.utcnow() - datetime.timedelta(minutes=5)
    assert raw("GET", "/%s" % bucket, sign_time=near)[0] == 200


def test_error_body_format(bucket):
    st, hdrs, body = raw("GET", "/%s/missing-key" % bucket)
    assert st == 404
    assert hdrs.get("Content-Type", "").startswith("application/xml")
    root = ET.fromstring(body)
    assert root.tag == "Error"
    assert root.findtext("Code") == "NoSuchKey"
    assert root.findtext("Message")
    assert root.findtext("Key") == "missing-key"
    assert hdrs.get("x-amz-request-id")

"""Bad input against a live cairn-s3 (run by test_hostile.sh): malformed
HTTP, oversized heads, wrong and tampered signatures, bodies that lie about
their length or hash, tampered aws-chunked bodies, hostile keys, broken
XML. Each gets its S3 error (or HTTP status for what is not yet S3), the
gateway stays up, and nothing from a refused upload becomes visible.

    hostile.py        (endpoint and keys from CAIRN_S3_ENDPOINT, AWS_*)
"""
import hashlib
import hmac
import os
import socket
import sys
import time
import urllib.parse

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

EP = os.environ["CAIRN_S3_ENDPOINT"]
HOST, PORT = urllib.parse.urlparse(EP).hostname, urllib.parse.urlparse(EP).port
CREDS = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
BUCKET = "hostile"
s3 = boto3.client("s3", endpoint_url=EP, region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                retries={"total_max_attempts": 1}))
failures = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f": {detail}"), flush=True)
    if not cond:
        failures.append(name)


def raw(data, read_timeout=10.0, shut=False):
    """Sends raw bytes; returns everything the server sends until it closes
    or goes quiet."""
    s = socket.create_connection((HOST, PORT), timeout=read_timeout)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
            if b"\r\n\r\n" in out and not shut:
                head, _, body = out.partition(b"\r\n\r\n")
                cl = [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length:")]
                if cl and len(body) >= int(cl[0].split(b":")[1]):
                    break
    except socket.timeout:
        pass
    s.close()
    return out


def status(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return -1


def code(resp):
    body = resp.partition(b"\r\n\r\n")[2]
    if b"<Code>" not in body:
        return ""
    return body.split(b"<Code>")[1].split(b"</Code>")[0].decode()


class HashAuth(S3SigV4Auth):
    """Signs with the payload hash we choose (botocore would hash the body)."""

    def __init__(self, creds, payload_hash):
        super().__init__(creds, "s3", "us-east-1")
        self.fixed = payload_hash

    def payload(self, request):
        return self.fixed


def signed(method, path, body=b"", headers=None, payload_hash=None, creds=CREDS):
    """A SigV4-signed request as raw bytes (botocore signs it)."""
    url = EP + path
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    HashAuth(creds, payload_hash or hashlib.sha256(body).hexdigest()).add_auth(req)
    return to_bytes(req, body)


def to_bytes(req, body):
    """A signed AWSRequest as the bytes of an HTTP/1.1 request."""
    p = req.prepare()
    u = urllib.parse.urlparse(p.url)
    lines = [f"{p.method} {u.path}{'?' + u.query if u.query else ''} HTTP/1.1"]
    hdrs = dict(p.headers)
    hdrs.setdefault("Host", u.netloc)
    if body or p.method in ("PUT", "POST"):
        hdrs["Content-Length"] = str(len(body))
    for k, v in hdrs.items():
        lines.append(f"{k}: {v.decode() if isinstance(v, bytes) else v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def visible(key):
    try:
        s3.head_object(Bucket=BUCKET, Key=key)
        return True
    except ClientError:
        return False


def alive():
    try:
        s3.head_bucket(Bucket=BUCKET)
        return True
    except ClientError:
        return False


def malformed_http():
    r = raw(b"\x00\x01garbage\r\n\r\n", shut=True)
    check("garbage request line -> 400", status(r) == 400, r[:80])
    r = raw(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", shut=True)
    check("20 KiB header -> 431", status(r) == 431, r[:80])
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(200))
    r = raw(b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n", shut=True)
    check("200 headers -> 431", status(r) == 431, r[:80])
    r = raw(b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", shut=True)
    check("HTTP/9.9 -> 505 or 400", status(r) in (400, 505), r[:80])
    r = raw(b"PUT /hostile/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", shut=True)
    check("bad Content-Length -> 400", status(r) == 400, r[:80])
    r = raw(b"PUT /hostile/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            shut=True)
    check("bad chunk size -> 4xx", 400 <= status(r) < 500, r[:80])
    r = raw(b"GET /hostile/a%00b HTTP/1.1\r\nHost: x\r\n\r\n", shut=True)
    check("%00 in the path -> 400", status(r) == 400, r[:80])
    r = raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    check("anonymous -> 403 AccessDenied", status(r) == 403 and code(r) == "AccessDenied", r[:200])


def bad_auth():
    bad = Credentials(os.environ["AWS_ACCESS_KEY_ID"], "x" * 40)
    r = raw(signed("PUT", f"/{BUCKET}/badsig", b"data", creds=bad))
    check("wrong secret -> 403 SignatureDoesNotMatch",
          status(r) == 403 and code(r) == "SignatureDoesNotMatch", r[:300])
    check("  ... and nothing stored", not visible("badsig"))
    r = raw(signed("GET", f"/{BUCKET}", creds=Credentials("AKIANOTAREALKEY00000", "x" * 40)))
    check("unknown key -> 403 InvalidAccessKeyId",
          status(r) == 403 and code(r) == "InvalidAccessKeyId", r[:300])
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "k"},
                                    ExpiresIn=1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        u = urllib.parse.urlparse(url)
        r = raw(f"GET {u.path}?{u.query} HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
        if status(r) == 403:
            break
    check("expired presigned URL -> 403 AccessDenied",
          status(r) == 403 and code(r) == "AccessDenied", r[:300])
    tampered = url.replace("X-Amz-Expires=1", "X-Amz-Expires=3600")
    u = urllib.parse.urlparse(tampered)
    r = raw(f"GET {u.path}?{u.query} HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
    check("presigned URL with a changed expiry -> 403", status(r) == 403, r[:300])


def lying_bodies():
    data = b"x" * 1000
    req = signed("PUT", f"/{BUCKET}/short", data)
    r = raw(req[:-500], read_timeout=5, shut=True)
    check("body shorter than Content-Length: not stored", not visible("short"), r[:120])
    req = signed("PUT", f"/{BUCKET}/sha", data,
                 payload_hash=hashlib.sha256(b"other").hexdigest())
    r = raw(req)
    check("x-amz-content-sha256 mismatch -> 400 XAmzContentSHA256Mismatch",
          status(r) == 400 and code(r) == "XAmzContentSHA256Mismatch", r[:300])
    check("  ... and nothing stored", not visible("sha"))
    md5 = "AAAAAAAAAAAAAAAAAAAAAA=="
    r = raw(signed("PUT", f"/{BUCKET}/md5", data, headers={"Content-MD5": md5}))
    check("wrong Content-MD5 -> 400 BadDigest", status(r) == 400 and code(r) == "BadDigest",
          r[:300])
    check("  ... and nothing stored", not visible("md5"))


def chunked_tampered():
    """A STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload whose one chunk signature
    is wrong."""
    now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    payload = b"a" * 1024
    framed = (b"400;chunk-signature=" + b"0" * 64 + b"\r\n" + payload + b"\r\n" +
              b"0;chunk-signature=" + b"0" * 64 + b"\r\n\r\n")
    req = signed("PUT", f"/{BUCKET}/chunked", framed,
                 headers={"Content-Encoding": "aws-chunked",
                          "x-amz-decoded-content-length": str(len(payload)), "x-amz-date": now},
                 payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    r = raw(req)
    check("aws-chunked with a bad chunk signature -> 403 SignatureDoesNotMatch",
          status(r) == 403 and code(r) == "SignatureDoesNotMatch", r[:300])
    check("  ... and nothing stored", not visible("chunked"))


def signing_key(secret, date):
    k = ("AWS4" + secret).encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def streaming_uploads():
    """Valid aws-chunked uploads, as SDKs send them: signed chunks
    (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) and unsigned chunks with a CRC32
    trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER, current SDKs' default)."""
    import base64
    import zlib
    payload = os.urandom(70000)
    now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    date = now[:8]
    scope = f"{date}/us-east-1/s3/aws4_request"
    chunks = [payload[:65536], payload[65536:], b""]
    req = AWSRequest(method="PUT", url=f"{EP}/{BUCKET}/signed-chunked",
                     headers={"Content-Encoding": "aws-chunked", "x-amz-date": now,
                              "x-amz-decoded-content-length": str(len(payload))})
    auth = HashAuth(CREDS, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    auth._timestamp = lambda: now
    auth.add_auth(req)
    seed = req.headers["Authorization"].split("Signature=")[1]
    key = signing_key(CREDS.secret_key, date)
    prev, framed = seed, b""
    for c in chunks:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", req.headers["x-amz-date"], scope, prev,
                         hashlib.sha256(b"").hexdigest(), hashlib.sha256(c).hexdigest()])
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        framed += b"%x;chunk-signature=%s\r\n" % (len(c), sig.encode()) + c + b"\r\n"
        prev = sig
    r = raw(to_bytes(req, framed))
    check("signed aws-chunked upload -> 200", status(r) == 200, r[:300])
    got = s3.get_object(Bucket=BUCKET, Key="signed-chunked")["Body"].read()
    check("  ... reads back whole", got == payload)

    crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
    body = (b"%x\r\n" % 65536 + payload[:65536] + b"\r\n" +
            b"%x\r\n" % (len(payload) - 65536) + payload[65536:] + b"\r\n" +
            b"0\r\nx-amz-checksum-crc32:" + crc.encode() + b"\r\n\r\n")
    hdrs = {"Content-Encoding": "aws-chunked", "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-decoded-content-length": str(len(payload))}
    r = raw(signed("PUT", f"/{BUCKET}/trailer", body, headers=hdrs,
                   payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER"))
    check("unsigned aws-chunked upload with a CRC32 trailer -> 200", status(r) == 200, r[:300])
    obj = s3.get_object(Bucket=BUCKET, Key="trailer", ChecksumMode="ENABLED")
    check("  ... reads back whole, with its CRC32",
          obj["Body"].read() == payload and obj.get("ChecksumCRC32") == crc,
          obj.get("ChecksumCRC32"))
    bad = body.replace(crc.encode(), b"AAAAAA==")
    r = raw(signed("PUT", f"/{BUCKET}/badtrailer", bad, headers=hdrs,
                   payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER"))
    check("a wrong CRC32 trailer -> 400 BadDigest", status(r) == 400 and code(r) == "BadDigest",
          r[:300])
    check("  ... and nothing stored", not visible("badtrailer"))


def virtual_host():
    """Host: BUCKET.localhost addresses BUCKET (cairn-s3 --domain localhost)."""
    s3.put_object(Bucket=BUCKET, Key="vh", Body=b"virtual")
    req = AWSRequest(method="GET", url=f"http://{BUCKET}.localhost:{PORT}/vh")
    HashAuth(CREDS, hashlib.sha256(b"").hexdigest()).add_auth(req)
    r = raw(to_bytes(req, b""))
    check("virtual-host-style GET", status(r) == 200 and r.endswith(b"virtual"), r[:300])


def hostile_keys():
    for key in ["../../etc/passwd", "a/../b", "./x", "日本/é/🙂", "sp ace+plus%25", "//lead",
                "trail/", "q?x=1#frag"]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
        got = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        check(f"key {key!r} stored and read as itself", got == key.encode(), got[:40])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    check("listing returns the keys verbatim, in byte order",
          "../../etc/passwd" in keys and keys == sorted(keys, key=lambda k: k.encode()), keys)
    try:
        s3.put_object(Bucket=BUCKET, Key="k" * 1025, Body=b"")
        check("1,025-byte key -> KeyTooLongError", False, "accepted")
    except ClientError as e:
        check("1,025-byte key -> KeyTooLongError",
              e.response["Error"]["Code"] == "KeyTooLongError", e.response["Error"])


def broken_xml():
    for body in [b"<Delete><Object><Key>a</Key></Object>", b"<!DOCTYPE x [<!ENTITY a 'b'>]>"
                 b"<Delete><Object><Key>&a;</Key></Object></Delete>", b"\xff\xfe<Delete/>",
                 b"<Delete>" * 100 + b"</Delete>" * 100, b"<NotDelete/>"]:
        md5 = __import__("base64").b64encode(hashlib.md5(body).digest()).decode()
        r = raw(signed("POST", f"/{BUCKET}?delete", body, headers={"Content-MD5": md5}))
        check(f"DeleteObjects body {body[:30]!r}... -> 400 MalformedXML",
              status(r) == 400 and code(r) == "MalformedXML", r[:300])
    u = s3.create_multipart_upload(Bucket=BUCKET, Key="mpx")["UploadId"]
    r = raw(signed("POST", f"/{BUCKET}/mpx?uploadId={u}", b"<CompleteMultipartUpload><Part>"))
    check("CompleteMultipartUpload broken body -> 400 MalformedXML",
          status(r) == 400 and code(r) == "MalformedXML", r[:300])
    s3.abort_multipart_upload(Bucket=BUCKET, Key="mpx", UploadId=u)


def main():
    s3.create_bucket(Bucket=BUCKET)
    for t in (malformed_http, bad_auth, lying_bodies, chunked_tampered, streaming_uploads,
              virtual_host, hostile_keys, broken_xml):
        t()
        check(f"gateway alive after {t.__name__}", alive())
    if failures:
        sys.exit(f"hostile: {len(failures)} failed: {failures}")
    print("hostile: every bad input refused with its error; the gateway stayed up")


main()

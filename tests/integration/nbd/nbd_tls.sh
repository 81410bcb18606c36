#!/usr/bin/env bash
# cairn-nbd with TLS (NBD_OPT_STARTTLS), certificates made here with the
# openssl CLI. With --tls require: nbdinfo over nbds:// with the right CA
# reports the size; qemu-img (tls-creds-x509) writes a pattern and reads it
# back byte-identical; a plain nbdinfo and a plain qemu-img are refused and
# the server stays up; a client trusting another CA fails; a raw client
# sees ERR_TLS_REQD before TLS, ERR_INVALID for a second STARTTLS and is
# served after it. With --tls on --tls-ca: plain clients are served, TLS
# clients must present a certificate the CA signed. The nbd_tls_* config
# keys do the same as the options. Bad certificate or key files stop the
# server at start with a clear error.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools openssl nbdinfo qemu-img cmp

PKI=$DIR/pki
mkdir -p "$PKI/ca" "$PKI/rogue" "$PKI/client" "$PKI/nocert" "$PKI/wrongca" "$PKI/foreign"

# mkca DIR NAME: a self-signed CA, DIR/ca-cert.pem and DIR/ca-key.pem.
mkca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$1/ca-key.pem" -out "$1/ca-cert.pem" -days 2 -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1 ||
        fail "openssl: cannot make CA $2"
}

# mkcert CADIR OUT_PREFIX CN USAGE: a key and a certificate signed by the CA
# in CADIR (OUT_PREFIX-cert.pem, OUT_PREFIX-key.pem).
mkcert() {
    local ext=$1/ext.cnf
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=$4" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$2-key.pem" -out "$2.csr" -subj "/CN=$3" >/dev/null 2>&1 ||
        fail "openssl: cannot make a key for $3"
    openssl x509 -req -in "$2.csr" -CA "$1/ca-cert.pem" -CAkey "$1/ca-key.pem" \
        -CAcreateserial -days 2 -extfile "$ext" -out "$2-cert.pem" >/dev/null 2>&1 ||
        fail "openssl: cannot sign the certificate of $3"
}

mkca "$PKI/ca" "cairn test CA"
# An impostor CA with the same name, so clients do offer its certificates.
mkca "$PKI/rogue" "cairn test CA"
mkcert "$PKI/ca" "$PKI/server" localhost serverAuth
# GnuTLS-style directories, as libnbd and qemu read them.
mkcert "$PKI/ca" "$PKI/client/client" "client.test" clientAuth
cp "$PKI/ca/ca-cert.pem" "$PKI/client/"
cp "$PKI/ca/ca-cert.pem" "$PKI/nocert/"
cp "$PKI/rogue/ca-cert.pem" "$PKI/wrongca/"
# Trusts the server's CA but has a client certificate of another, for --tls-ca.
cp "$PKI/ca/ca-cert.pem" "$PKI/foreign/"
mkcert "$PKI/rogue" "$PKI/foreign/client" "intruder" clientAuth
TLS_OPTS=(--tls-cert "$PKI/server-cert.pem" --tls-key "$PKI/server-key.pem")

nbd_cluster_up
mkimage disk1 16M 1M

# ---- start-up errors: one clear line, exit 1 (2 for a bad --tls) ----
startup_fails() { # WANT_RC PATTERN ARGS...
    local want=$1 pattern=$2 rc=0
    shift 2
    timeout 60 "$NBD" -c "$CONF" --listen "127.0.0.1:$(free_port)" "$@" >"$DIR/start.out" 2>&1 ||
        rc=$?
    [[ $rc -eq $want ]] || fail "cairn-nbd $* exited $rc, not $want: $(cat "$DIR/start.out")"
    grep -q -- "$pattern" "$DIR/start.out" ||
        fail "cairn-nbd $*: no '$pattern' in: $(cat "$DIR/start.out")"
}
startup_fails 1 "does not match" --tls-cert "$PKI/server-cert.pem" \
    --tls-key "$PKI/client/client-key.pem"
startup_fails 1 "TLS certificate $DIR/nosuch.pem" --tls-cert "$DIR/nosuch.pem" \
    --tls-key "$PKI/server-key.pem"
startup_fails 1 "needs a certificate" --tls require
startup_fails 2 "usage" --tls maybe "${TLS_OPTS[@]}"

# ---- --tls require (FORCEDTLS) ----
nbd_start "${TLS_OPTS[@]}" --tls require
tls_uri() { echo "nbds://127.0.0.1:$PORT/$1?tls-certificates=$2"; }

nbdinfo --json "$(tls_uri disk1 "$PKI/client")" >"$DIR/info.json" || fail "nbdinfo over TLS failed"
[[ $(json "j['exports'][0]['export-size']" <"$DIR/info.json") -eq $((16 << 20)) ]] ||
    fail "nbdinfo over TLS: wrong size"
nbdinfo --list --json "$(tls_uri disk1 "$PKI/nocert")" |
    json "[e['export-name'] for e in j['exports']]" >"$DIR/list" || fail "nbdinfo --list over TLS"
[[ $(cat "$DIR/list") == "['disk1']" ]] || fail "nbdinfo --list over TLS: $(cat "$DIR/list")"

# qemu: a pattern in and out over TLS.
QEMU_TLS=(--object "tls-creds-x509,id=tls0,dir=$PKI/client,endpoint=client")
qemu_opts() { echo "driver=nbd,host=127.0.0.1,port=$PORT,export=$1,tls-creds=tls0"; }
"$PY" -c 'import os, sys; open(sys.argv[1], "wb").write(os.urandom(3 << 20) + bytes(13 << 20))' \
    "$DIR/pattern.raw"
size=$(qemu-img info "${QEMU_TLS[@]}" --output=json --image-opts "$(qemu_opts disk1)" |
    json "j['virtual-size']") || fail "qemu-img info over TLS failed"
[[ $size -eq $((16 << 20)) ]] || fail "qemu-img info over TLS: size $size"
qemu-img convert -n "${QEMU_TLS[@]}" -f raw --target-image-opts "$DIR/pattern.raw" \
    "$(qemu_opts disk1)" || fail "qemu-img convert into the image over TLS failed"
qemu-img convert "${QEMU_TLS[@]}" --image-opts "$(qemu_opts disk1)" -O raw "$DIR/out.raw" ||
    fail "qemu-img convert out of the image over TLS failed"
cmp "$DIR/pattern.raw" "$DIR/out.raw" || fail "the image over TLS does not read back"

# Plain clients are refused; the server stays up.
if nbdinfo "$(uri disk1)" >/dev/null 2>"$DIR/plain.err"; then
    fail "a plain nbdinfo was served with --tls require"
fi
if qemu-img info -f raw "$(uri disk1)" >/dev/null 2>&1; then
    fail "a plain qemu-img was served with --tls require"
fi
kill -0 "$NBD_PID" || fail "cairn-nbd died after refusing a plain client"
# A client that trusts another CA.
if nbdinfo "$(tls_uri disk1 "$PKI/wrongca")" >/dev/null 2>&1; then
    fail "a client trusting another CA accepted the server"
fi

# The option rules, from a raw client (Python's ssl for the TLS part).
"$PY" - "$PORT" "$PKI/ca/ca-cert.pem" <<'PYEOF' || fail "raw STARTTLS checks failed"
import socket, ssl, struct, sys
port, ca = int(sys.argv[1]), sys.argv[2]
IHAVEOPT = 0x49484156454F5054
def opt(s, o, data=b""):
    s.sendall(struct.pack(">QII", IHAVEOPT, o, len(data)) + data)
def exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("connection closed")
        b += c
    return b
def reply(s, want_opt):
    magic, o, typ, n = struct.unpack(">QIII", exact(s, 20))
    assert magic == 0x3e889045565a9 and o == want_opt, (hex(magic), o)
    exact(s, n)
    return typ
def hello():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    exact(s, 18)
    s.sendall(struct.pack(">I", 3))
    return s
info = struct.pack(">I", 5) + b"disk1" + struct.pack(">H", 0)
s = hello()
assert reply(s, opt(s, 6, info) or 6) == 0x80000005, "INFO before TLS: not ERR_TLS_REQD"
assert reply(s, opt(s, 3) or 3) == 0x80000005, "LIST before TLS: not ERR_TLS_REQD"
assert reply(s, opt(s, 5, b"x") or 5) == 0x80000003, "STARTTLS with data: not ERR_INVALID"
assert reply(s, opt(s, 5) or 5) == 1, "STARTTLS: not ACK"
ctx = ssl.create_default_context(cafile=ca)
t = ctx.wrap_socket(s, server_hostname="localhost")
assert reply(t, opt(t, 5) or 5) == 0x80000003, "second STARTTLS: not ERR_INVALID"
assert reply(t, opt(t, 6, info) or 6) == 3, "INFO over TLS: no NBD_REP_INFO"
t.close()
# EXPORT_NAME before TLS closes (it has no error reply).
s = hello()
opt(s, 1, b"disk1")
try:
    got = s.recv(1)
except ConnectionResetError:
    got = b""
assert got == b"", "EXPORT_NAME before TLS was answered"
PYEOF
nbdinfo "$(tls_uri disk1 "$PKI/client")" >/dev/null || fail "nbdinfo over TLS after the refusals"
nbd_stop

# ---- --tls on (SELECTIVETLS) with --tls-ca: client certificates ----
nbd_start "${TLS_OPTS[@]}" --tls on --tls-ca "$PKI/ca/ca-cert.pem"
nbdinfo "$(uri disk1)" >/dev/null || fail "--tls on: a plain client was refused"
nbdinfo "$(tls_uri disk1 "$PKI/client")" >/dev/null ||
    fail "--tls-ca: a client with a good certificate was refused"
nbdcopy "$(tls_uri disk1 "$PKI/client")" - 2>/dev/null | cmp - "$DIR/pattern.raw" ||
    fail "--tls-ca: nbdcopy over TLS differs"
if nbdinfo "$(tls_uri disk1 "$PKI/nocert")" >/dev/null 2>&1; then
    fail "--tls-ca: a client without a certificate was served"
fi
if nbdinfo "$(tls_uri disk1 "$PKI/foreign")" >/dev/null 2>&1; then
    fail "--tls-ca: a client with a certificate of another CA was served"
fi
grep -q "peer did not return a certificate" "$DIR/nbd.log" ||
    fail "--tls-ca: the server did not log the missing client certificate"
grep -q "certificate verify failed" "$DIR/nbd.log" ||
    fail "--tls-ca: the server did not log the foreign client certificate"
kill -0 "$NBD_PID" || fail "cairn-nbd died after refusing clients"
nbd_stop

# ---- the same from the config: nbd_tls_* keys of [client] ----
cp "$CONF" "$DIR/tls.conf"
printf '%s\n' "[client]" "nbd_tls_cert = $PKI/server-cert.pem" \
    "nbd_tls_key = $PKI/server-key.pem" "nbd_tls = require" >>"$DIR/tls.conf"
CONF=$DIR/tls.conf nbd_start
if nbdinfo "$(uri disk1)" >/dev/null 2>&1; then
    fail "nbd_tls = require: a plain client was served"
fi
nbdinfo "$(tls_uri disk1 "$PKI/nocert")" >/dev/null || fail "nbd_tls_* from the config: no TLS"
nbd_stop
log "ok"

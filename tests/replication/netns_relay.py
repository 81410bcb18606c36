#!/usr/bin/python3
"""netns_relay: joins one daemon in its own network namespace to the
loopback of the root namespace, port by port, and cuts it off on demand.
repl_partition.sh uses it to partition one OSD from the cluster with no
firewall and no address outside 127.0.0.0/8.

    netns_relay.py NETNS --ready FILE [--in PORT]... [--out PORT]...

--in PORT: listens on 127.0.0.1:PORT in the root namespace and forwards each
connection to 127.0.0.1:PORT inside NETNS (the cluster reaching the daemon).
--out PORT: listens on 127.0.0.1:PORT inside NETNS and forwards to
127.0.0.1:PORT in the root namespace (the daemon reaching the cluster).
FILE is created once every listener is bound.

SIGUSR1 partitions: from then on nothing is forwarded (no bytes, no new
connection, no close) until SIGUSR2 heals, like a network that drops every
packet while TCP keeps retrying: what was held is delivered after the heal,
unless an end gave up meanwhile. SIGTERM ends the relay.
"""
import argparse
import ctypes
import os
import signal
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000
GATE = threading.Event()  # set: traffic flows; clear: partitioned
GATE.set()
LIBC = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    """Moves the calling thread (only it) into the network namespace fd."""
    if LIBC.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    return s


def pump(src, dst):
    """Copies src to dst; every read (data or EOF) waits for the gate."""
    try:
        while True:
            data = src.recv(65536)
            GATE.wait()
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(lsock, port, target_ns_fd):
    """Accepts on lsock; connects to 127.0.0.1:port from target_ns_fd's
    namespace (this thread moves there: sockets keep the namespace they
    were created in)."""
    setns(target_ns_fd)
    while True:
        client, _ = lsock.accept()
        GATE.wait()
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            upstream.connect(("127.0.0.1", port))
        except OSError:
            client.close()
            upstream.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("netns")
    ap.add_argument("--ready", required=True)
    ap.add_argument("--in", dest="inward", type=int, action="append", default=[])
    ap.add_argument("--out", type=int, action="append", default=[])
    args = ap.parse_args()

    root_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
    ns_fd = os.open("/run/netns/" + args.netns, os.O_RDONLY)
    servers = [(listener(p), p, ns_fd) for p in args.inward]
    setns(ns_fd)
    servers += [(listener(p), p, root_fd) for p in args.out]
    setns(root_fd)
    for lsock, port, fd in servers:
        threading.Thread(target=serve, args=(lsock, port, fd), daemon=True).start()

    def partition(signum, frame):
        GATE.clear()
        print("netns_relay: partitioned", file=sys.stderr, flush=True)

    def heal(signum, frame):
        GATE.set()
        print("netns_relay: healed", file=sys.stderr, flush=True)

    signal.signal(signal.SIGUSR1, partition)
    signal.signal(signal.SIGUSR2, heal)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    with open(args.ready, "w") as f:
        f.write("%d\n" % os.getpid())
    while True:
        signal.pause()


if __name__ == "__main__":
    main()

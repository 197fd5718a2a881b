"""The kernel side of an interop test: a TCP client or server on the Linux kernel's TCP.

Run inside the test's namespace (``ip netns exec NS python3 kpeer.py ...``). It reports what
happened as JSON lines on stdout (``{"event": ...}``) and, with ``--pause``, waits for a line on
stdin before it closes (so the test can look at the kernel's states with ``ss`` first).

    kpeer.py client ADDR PORT [--bind-port P] [--send N] [--recv M] [--eof] [--shut]
                    [--fastopen] [--cc NAME]
    kpeer.py server ADDR PORT [--reuseaddr] [--fastopen] [--cc NAME] ...

``--fastopen``: a client opens with sendto(MSG_FASTOPEN) carrying its first data (RFC 7413); a
server sets TCP_FASTOPEN (queue 16) on its listener. ``--cc``: TCP_CONGESTION.

After the connection: (``--echo``: echo everything until EOF, then ``--shut`` half-closes;
``--after-eof``: the sending starts only after EOF) a thread sends N pseudo-random bytes (seed 1; ``--shut``: then
shutdown(SHUT_WR)); the main thread reads M bytes (``--eof``: then until EOF). Then it reports
``done`` with the counts and SHA-256 digests, optionally pauses, closes, reports ``closed``.
Standard library only (it runs with the system python3).
"""

import argparse
import contextlib
import errno
import hashlib
import json
import os
import random
import select
import socket
import sys
import threading
import time


def say(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=("client", "server"))
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("--bind-port", type=int, default=0)
    p.add_argument("--reuseaddr", action="store_true")
    p.add_argument("--send", type=int, default=0)
    p.add_argument("--recv", type=int, default=0)
    p.add_argument("--eof", action="store_true")
    p.add_argument("--shut", action="store_true")
    p.add_argument("--pause", action="store_true")
    p.add_argument("--pause-before-send", action="store_true")
    p.add_argument("--after-eof", action="store_true", help="send only after the peer's EOF")
    p.add_argument("--echo", action="store_true", help="echo what arrives until EOF")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--no-hash", action="store_true", help="skip SHA-256 (benchmarks)")
    p.add_argument("--fastopen", action="store_true", help="TCP Fast Open (see above)")
    p.add_argument("--cc", default=None, help="TCP_CONGESTION for the socket")
    a = p.parse_args()
    data = random.Random(a.seed).randbytes(a.send) if a.send else b""
    family = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    if a.reuseaddr:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if a.cc:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, a.cc.encode())
    s.settimeout(a.timeout)
    first = 0
    try:
        if a.role == "client":
            if a.bind_port:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("", a.bind_port))
            if a.fastopen:
                # No cookie yet: the SYN asks for one, the data waits and sendto() fails with
                # EINPROGRESS (a socket with a timeout is non-blocking underneath).
                with contextlib.suppress(BlockingIOError):
                    first = s.sendto(data[:1000], socket.MSG_FASTOPEN, (a.addr, a.port))
                # Either way sendto() returns with the SYN sent and the socket still SYN-SENT,
                # where getpeername() is ENOTCONN (Linux inet_getname): wait for the handshake
                # (writable once ESTABLISHED, or on error) before reporting "connected".
                select.select([], [s], [], a.timeout)
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))
            else:
                s.connect((a.addr, a.port))
            conn = s
        else:
            s.bind((a.addr, a.port))
            if a.fastopen:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
            s.listen(8)
            say(event="listening")
            conn, _ = s.accept()
            s.close()
    except OSError as exc:
        say(event="error", errno=errno.errorcode.get(exc.errno, str(exc.errno)))
        return
    conn.settimeout(a.timeout)
    say(event="connected", local=list(conn.getsockname()[:2]), peer=list(conn.getpeername()[:2]))
    t0 = time.monotonic()
    if a.pause_before_send:
        sys.stdin.readline()
    result = {"sent": len(data), "sent_sha": "" if a.no_hash else hashlib.sha256(data).hexdigest()}

    def sender():
        try:
            view = memoryview(data)[first:]
            while view:
                n = conn.send(view[:262144])
                view = view[n:]
            if a.shut:
                conn.shutdown(socket.SHUT_WR)
        except OSError as exc:
            result["send_error"] = errno.errorcode.get(exc.errno, str(exc.errno))

    t = threading.Thread(target=sender, daemon=True)
    if not a.after_eof and not a.echo:
        t.start()
    h = hashlib.sha256()
    got = 0
    eof = False
    try:
        while got < a.recv or (a.eof and not eof):
            chunk = conn.recv(262144)
            if not chunk:
                eof = True
                break
            got += len(chunk)
            if not a.no_hash:
                h.update(chunk)
            if a.echo:
                conn.sendall(chunk)
    except OSError as exc:
        result["recv_error"] = errno.errorcode.get(exc.errno, str(exc.errno))
    if a.echo:
        result["sent"], result["sent_sha"] = got, h.hexdigest()
        if a.shut:
            conn.shutdown(socket.SHUT_WR)
    elif a.after_eof:
        t.start()
    if t.is_alive():
        t.join(a.timeout)
    say(event="done", elapsed=time.monotonic() - t0, recv=got, recv_sha=h.hexdigest(), eof=eof, **result)
    if a.pause:
        sys.stdin.readline()
    conn.close()
    say(event="closed")


if __name__ == "__main__":
    main()

"""The kernel side of benchmarks/connections.py: open and close TCP connections as fast as the
kernel lets one Python process, or serve them. Standard library only (it runs with the system
python3 inside a namespace). Reports one JSON line on stdout.

    churn.py client ADDR PORT [--seconds 2] [--parallel 8] [--connections N]
    churn.py server ADDR PORT

One connection, both ways the same: the client connects, half-closes at once (FIN), waits for
the server's FIN (EOF) and closes; the server accepts, reads to EOF and closes. So a connection
is a handshake and an orderly close, and the client ends in TIME_WAIT. The client keeps
``--parallel`` connections going at once (non-blocking sockets, one selector) and starts a new
one whenever one ends, for ``--seconds`` (or until ``--connections`` are done).
"""

import argparse
import errno
import json
import selectors
import socket
import sys
import time


def say(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def client(addr, port, seconds, parallel, count=0):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sel = selectors.DefaultSelector()
    done = failed = 0
    t0 = time.monotonic()
    end = t0 + seconds

    def start():
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((addr, port))
        sel.register(s, selectors.EVENT_WRITE, "connecting")

    for _ in range(parallel):
        start()
    last = t0
    while sel.get_map():
        for key, _ in sel.select(5.0):
            s = key.fileobj
            if key.data == "connecting":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    failed += 1
                    sel.unregister(s)
                    s.close()
                    if failed > 100:
                        say(event="error", errno=errno.errorcode.get(err, str(err)), done=done)
                        return
                else:
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ, "closing")
                    continue
            else:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                    failed += 1
                if data:
                    continue
                sel.unregister(s)
                s.close()
                done += 1
                last = time.monotonic()
            if time.monotonic() < end and (not count or done + len(sel.get_map()) < count):
                start()
    say(event="done", connections=done, failed=failed, elapsed=last - t0)


def server(addr, port):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    lst = socket.socket(family, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind((addr, port))
    lst.listen(4096)
    lst.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lst, selectors.EVENT_READ, None)
    say(event="listening")
    served = 0
    while True:
        for key, _ in sel.select():
            if key.data is None:
                while True:
                    try:
                        conn, _ = lst.accept()
                    except BlockingIOError:
                        break
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, "conn")
                continue
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(conn)
                conn.close()
                served += 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=("client", "server"))
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--connections", type=int, default=0, help="stop after this many (0: no limit)")
    a = p.parse_args()
    if a.role == "client":
        client(a.addr, a.port, a.seconds, a.parallel, a.connections)
    else:
        server(a.addr, a.port)


if __name__ == "__main__":
    main()

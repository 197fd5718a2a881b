"""``tcplab serve echo|discard|chargen``: a tcplab host serving on a TUN device until interrupted.

    sudo tcplab serve echo --tun tlab0 --address 198.18.0.2/24 --peer-address 198.18.0.1/24
    nc 198.18.0.2 9527            # from another terminal: the kernel's TCP talks to tcplab

Ctrl-C (SIGINT) or SIGTERM closes every connection cleanly (FINs out, a short wait for the
peers' answers). While it runs, ``tcplab netstat --stack NAME`` shows its connection table (the
stack name defaults to the TUN device's name).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

from tcplab.commands.tunhost import TunHost, add_tun_arguments

SERVICES = ("echo", "discard", "chargen")
_CHUNK = 65536


def _chargen_block(offset: int, nlines: int) -> tuple[bytes, int]:
    """RFC 864 character generator lines: 72 printable characters, rotating, CR LF."""
    chars = bytes(range(32, 127))
    out = bytearray()
    for i in range(nlines):
        start = (offset + i) % 95
        out += (chars[start:] + chars[:start])[:72] if start + 72 > 95 else chars[start : start + 72]
        out += b"\r\n"
    return bytes(out), (offset + nlines) % 95


class Session:
    __slots__ = ("done", "eof", "offset", "pending", "sock")

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.pending = bytearray()
        self.eof = False
        self.done = False
        self.offset = 0


def _service(service: str, s: Session) -> None:
    sock = s.sock
    try:
        while not s.eof and (service != "echo" or len(s.pending) < 4 * _CHUNK):
            try:
                data = sock.recv(_CHUNK)
            except BlockingIOError:
                break
            if not data:
                s.eof = True
                break
            if service == "echo":
                s.pending += data
        if service == "chargen" and not s.eof:
            while len(s.pending) < _CHUNK:
                block, s.offset = _chargen_block(s.offset, 64)
                s.pending += block
        while s.pending:
            try:
                n = sock.send(s.pending)
            except BlockingIOError:
                break
            if n <= 0:
                break
            del s.pending[:n]
        if s.eof and (not s.pending or service == "chargen"):
            sock.close()  # FIN after the echoed data (or RST if unread data remains, as Linux)
            s.done = True
    except OSError:
        with contextlib.suppress(OSError):
            sock.close()
        s.done = True


def open_listeners(host: Any, addresses: list[str], port: int, reuseaddr: bool = True) -> list:
    from tcplab.socket import AF_INET, AF_INET6, SO_REUSEADDR, SOL_SOCKET, Socket

    out = []
    for ip in addresses:
        sock = Socket(host, AF_INET6 if ":" in ip else AF_INET)
        if reuseaddr:
            sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(128)
        sock.setblocking(False)
        out.append(sock)
    return out


def run_serve(args: Any) -> int:
    from tcplab.cli import CLIError

    if not 0 < args.port < 65536:
        raise CLIError(f"bad port {args.port}: 1..65535")
    tun = TunHost(args)
    try:
        try:
            listeners = open_listeners(tun.host, tun.link.host_addresses(), args.port)
        except OSError as exc:
            raise CLIError(f"cannot listen on port {args.port}: {exc.strerror or exc}") from None
        tun.catch_signals()
        where = ", ".join(f"[{a}]:{args.port}" if ":" in a else f"{a}:{args.port}" for a in tun.link.host_addresses())
        print(
            f"tcplab: {args.service} on {where} via {args.tun} (stack {tun.name}); Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        sessions: list[Session] = []
        runtime = tun.runtime
        while not tun.stopping:
            runtime.step(1.0)
            for lsock in listeners:
                while True:
                    try:
                        conn, _ = lsock.accept()
                    except (BlockingIOError, OSError):
                        break
                    conn.setblocking(False)
                    sessions.append(Session(conn))
            for s in sessions:
                _service(args.service, s)
            sessions = [s for s in sessions if not s.done]
        # Interrupted: close everything cleanly.
        for lsock in listeners:
            lsock.close()
        for s in sessions:
            with contextlib.suppress(OSError):
                with contextlib.suppress(BlockingIOError):
                    while s.sock.recv(_CHUNK):
                        pass  # unread data would turn close() into a RST (as Linux)
                s.sock.close()  # FIN out; the host finishes the close in the background
        tun.settle(3.0)
        print("tcplab: stopped", file=sys.stderr)
    finally:
        tun.close()
    return 0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve", help="serve echo/discard/chargen on a TUN device", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("service", choices=SERVICES)
    p.add_argument("--port", type=int, default=9527, help="TCP port (default 9527)")
    p.add_argument("-v", "--verbose", action="store_true", help="say what the link does (offloads granted or refused)")
    add_tun_arguments(p)
    p.set_defaults(func=run_serve)

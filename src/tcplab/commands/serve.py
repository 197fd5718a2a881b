"""``tcplab serve echo|discard|chargen|http``: a tcplab host serving on a TUN device until
interrupted.

    sudo tcplab serve echo --tun tlab0 --address 198.18.0.2/24 --peer-address 198.18.0.1/24
    nc 198.18.0.2 9527            # from another terminal: the kernel's TCP talks to tcplab
    sudo tcplab serve http --port 8080 ...; curl -i http://198.18.0.2:8080/

``http`` answers every GET (and HEAD) with a small HTTP/1.1 page: the request, both ends'
addresses and the connection's TCP_INFO as tcplab sees it (state, RTT, RTO, cwnd, MSS, bytes);
connections are kept alive as HTTP/1.1 says unless the client asks to close.

Ctrl-C (SIGINT) or SIGTERM closes every connection cleanly (FINs out, a short wait for the
peers' answers). While it runs, ``tcplab netstat --stack NAME`` shows its connection table (the
stack name defaults to the TUN device's name).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Any

from tcplab.commands.tunhost import TunHost, add_tun_arguments

SERVICES = ("echo", "discard", "chargen", "http")
_CHUNK = 65536
_MAX_HEAD = 16384
_INFO_FIELDS = (
    "state",
    "rtt",
    "rttvar",
    "rto",
    "snd_cwnd",
    "snd_ssthresh",
    "snd_mss",
    "rcv_mss",
    "snd_wscale",
    "rcv_wscale",
    "bytes_acked",
    "bytes_received",
    "segs_in",
    "segs_out",
    "total_retrans",
)


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
    __slots__ = ("closing", "done", "eof", "inbox", "offset", "pending", "sock")

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.pending = bytearray()
        self.inbox = bytearray()  # http: what arrived and was not answered yet
        self.eof = False
        self.closing = False  # http: close once the pending answer is out
        self.done = False
        self.offset = 0


def http_page(sock: Any, head: bytes) -> tuple[bytes, bool]:
    """The answer to one request ``head`` (request line and headers): ``(bytes, close)``."""
    from tcplab.socket import IPPROTO_TCP, TCP_INFO, tcpinfo

    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ":" in ln)}
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return _http(400, "Bad Request", b"bad request line\n", close=True, head=False), True
    method, target, version = parts
    close = headers.get("connection", "").lower() == "close" or (
        version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive"
    )
    if method not in ("GET", "HEAD"):
        return _http(405, "Method Not Allowed", b"GET or HEAD\n", close=close, head=False, allow=True), close
    info = tcpinfo.unpack(sock.getsockopt(IPPROTO_TCP, TCP_INFO, 512))
    peer, local = sock.getpeername(), sock.getsockname()
    body = [
        "tcplab answers over its own TCP",
        f"request: {method} {target} {version}",
        f"client: {peer[0]} port {peer[1]}",
        f"server: {local[0]} port {local[1]}",
        "tcp_info (Linux's struct tcp_info, times in microseconds):",
        *(f"  {name}: {info[name]}" for name in _INFO_FIELDS),
        "",
    ]
    return _http(200, "OK", "\n".join(body).encode(), close=close, head=method == "HEAD"), close


def _http(code: int, reason: str, body: bytes, *, close: bool, head: bool, allow: bool = False) -> bytes:
    out = [
        f"HTTP/1.1 {code} {reason}",
        "Server: tcplab",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
    ]
    if allow:
        out.append("Allow: GET, HEAD")
    if close:
        out.append("Connection: close")
    return ("\r\n".join(out) + "\r\n\r\n").encode() + (b"" if head else body)


def _http_service(s: Session) -> None:
    """Answer every complete request that arrived (HTTP/1.1, pipelining allowed)."""
    while not s.closing:
        end = s.inbox.find(b"\r\n\r\n")
        if end < 0:
            if len(s.inbox) > _MAX_HEAD:
                s.pending += _http(431, "Request Header Fields Too Large", b"", close=True, head=False)
                s.closing = True
            return
        head = bytes(s.inbox[:end])
        del s.inbox[: end + 4]
        page, close = http_page(s.sock, head)
        s.pending += page
        s.closing = close


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
            elif service == "http":
                s.inbox += data
        if service == "http":
            _http_service(s)
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
        if (s.eof or s.closing) and (not s.pending or service == "chargen"):
            sock.close()  # FIN after the echoed data (or RST if unread data remains, as Linux)
            s.done = True
    except OSError:
        with contextlib.suppress(OSError):
            sock.close()
        s.done = True


def _accept_all(lsock: Any, sessions: dict[Session, None], ready: dict[Any, None]) -> None:
    """Every connection waiting on ``lsock``: a session each, to be serviced at once."""
    while True:
        try:
            conn, _ = lsock.accept()
        except (BlockingIOError, OSError):
            return
        conn.setblocking(False)
        s = Session(conn)
        sessions[s] = None
        ready[s] = None
        conn.add_waker(functools.partial(ready.__setitem__, s, None))


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
        sessions: dict[Session, None] = {}
        # Readiness: a session (or listener) is serviced only when something happened to its
        # socket (data, a state change, room to send: the socket's wakers), not on every step.
        ready: dict[Any, None] = dict.fromkeys(listeners)
        for lsock in listeners:
            lsock.add_waker(functools.partial(ready.__setitem__, lsock, None))
        runtime = tun.runtime
        while not tun.stopping:
            runtime.step(1.0)
            todo = list(ready)
            ready.clear()
            for item in todo:
                if not isinstance(item, Session):
                    _accept_all(item, sessions, ready)
                elif not item.done:
                    _service(args.service, item)
                    if item.done:
                        del sessions[item]
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

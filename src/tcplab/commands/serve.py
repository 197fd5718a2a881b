"""``tcplab serve echo|discard|chargen``: a tcplab host serving on a TUN device until interrupted.

    sudo tcplab serve echo --tun tlab0 --address 198.18.0.2/24 --peer-address 198.18.0.1/24
    nc 198.18.0.2 9527            # from another terminal: the kernel's TCP talks to tcplab

Ctrl-C (SIGINT) or SIGTERM closes every connection cleanly (FINs out, a short wait for the
peers' answers). While it runs, ``tcplab netstat --stack NAME`` shows its connection table (the
stack name defaults to the TUN device's name).
"""

from __future__ import annotations

import contextlib
import signal
import socket as _pysocket
import sys
from typing import Any

SERVICES = ("echo", "discard", "chargen")
_CHUNK = 65536


def add_stack_arguments(p: Any) -> None:
    """The options every TUN-backed command takes."""
    p.add_argument("--tun", metavar="NAME", default="tlab0", help="TUN device name (created if needed; default tlab0)")
    p.add_argument(
        "--address", metavar="ADDR/PLEN", default="198.18.0.2/24", help="tcplab's IPv4 address (default 198.18.0.2/24)"
    )
    p.add_argument(
        "--peer-address",
        metavar="ADDR/PLEN",
        default="198.18.0.1/24",
        help="the kernel side's IPv4 address (default 198.18.0.1/24)",
    )
    p.add_argument("--address6", metavar="ADDR/PLEN", default=None, help="tcplab's IPv6 address (e.g. fd00::2/64)")
    p.add_argument(
        "--peer-address6", metavar="ADDR/PLEN", default=None, help="the kernel side's IPv6 address (e.g. fd00::1/64)"
    )
    p.add_argument("--pcap", metavar="FILE", default=None, help="write every packet crossing the link to FILE (pcap)")
    p.add_argument("--netns", metavar="NS", default=None, help="create the TUN device in this network namespace")
    p.add_argument("--mtu", type=int, default=1500, help="link MTU (default 1500)")
    p.add_argument(
        "--name", metavar="STACK", default=None, help="stack name for 'tcplab netstat --stack' (default: the TUN name)"
    )
    p.add_argument(
        "--loss",
        type=float,
        default=0.0,
        metavar="PCT",
        help="drop this percentage of packets, both directions (like netem loss)",
    )
    p.add_argument(
        "--delay",
        type=float,
        default=0.0,
        metavar="MS",
        help="delay packets by this many milliseconds, both directions",
    )
    p.add_argument(
        "--reorder",
        type=float,
        default=0.0,
        metavar="PCT",
        help="with --delay: send this percentage at once (reordering, like netem)",
    )


class Stack:
    """A TUN link, a host on it, the I/O loop and the control socket: what serve/connect run."""

    def __init__(self, args: Any) -> None:
        from tcplab.cli import CLIError
        from tcplab.control import ControlError, ControlServer
        from tcplab.host import Host
        from tcplab.net.netns import NetnsError
        from tcplab.net.tun import Impairment, TunError, TunLink, TunRuntime

        if (args.address6 is None) != (args.peer_address6 is None):
            raise CLIError("give both --address6 and --peer-address6 (or neither)")
        self.name = args.name or args.tun
        loss = getattr(args, "loss", 0.0)
        delay = getattr(args, "delay", 0.0)
        reorder = getattr(args, "reorder", 0.0)
        for what, value in (("--loss", loss), ("--reorder", reorder)):
            if not 0.0 <= value <= 100.0:
                raise CLIError(f"bad {what} {value:g}: a percentage, 0..100")
        if not 0.0 <= delay <= 60000.0:
            raise CLIError(f"bad --delay {delay:g}: milliseconds, 0..60000")
        impairment = None
        if loss or delay or reorder:
            impairment = Impairment(loss=loss / 100, reorder=reorder / 100, delay=delay / 1000, direction="both")
        try:
            self.link = TunLink(
                args.tun,
                args.peer_address,
                args.address,
                kernel_address6=args.peer_address6,
                host_address6=args.address6,
                netns=args.netns,
                pcap=args.pcap,
                mtu=args.mtu,
            )
            self.link.open()
        except (TunError, NetnsError) as exc:
            raise CLIError(str(exc)) from None
        except OSError as exc:
            raise CLIError(f"cannot set up {args.tun}: {exc}") from None
        try:
            self.host = Host(self.name, self.link.host_addresses())
            self.runtime = TunRuntime(self.link, self.host, impairment=impairment)
        except BaseException:
            self.link.close()
            raise
        try:
            self.control: Any = ControlServer(self.host, self.name, self.runtime)
        except (ControlError, OSError) as exc:
            self.control = None
            print(
                f"tcplab: warning: no control socket ({exc}); 'tcplab netstat' will not see this stack", file=sys.stderr
            )
        self.stopping = False
        self._wake_r, self._wake_w = _pysocket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.runtime.add_reader(self._wake_r, self._drain_wake)
        self._old: dict[int, Any] = {}

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(512):
                pass

    def catch_signals(self) -> None:
        def handler(signum: int, frame: Any) -> None:
            self.stopping = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, handler)
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w.fileno())

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def settle(self, timeout: float = 3.0) -> None:
        """After closing: run until every connection is gone or in TIME_WAIT (bounded)."""
        from tcplab.tcp.states import State

        def settled() -> bool:
            return all(ep.conn.state in (State.TIME_WAIT, State.CLOSED) for ep in self.host.conns.values())

        self.runtime.run_until(settled, timeout)

    def close(self) -> None:
        for sig, old in self._old.items():
            with contextlib.suppress(Exception):
                signal.signal(sig, old)
        if self._old:
            with contextlib.suppress(Exception):
                signal.set_wakeup_fd(self._old_wakeup)
        if self.control is not None:
            self.control.close()
        self.runtime.close()
        self.link.close()
        self._wake_r.close()
        self._wake_w.close()


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
    from tcplab.socket import AF_INET, AF_INET6, SO_REUSEADDR, SOL_SOCKET

    out = []
    for ip in addresses:
        sock = host.socket(AF_INET6 if ":" in ip else AF_INET)
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
    stack = Stack(args)
    try:
        try:
            listeners = open_listeners(stack.host, stack.link.host_addresses(), args.port)
        except OSError as exc:
            raise CLIError(f"cannot listen on port {args.port}: {exc.strerror or exc}") from None
        stack.catch_signals()
        where = ", ".join(f"[{a}]:{args.port}" if ":" in a else f"{a}:{args.port}" for a in stack.link.host_addresses())
        print(
            f"tcplab: {args.service} on {where} via {args.tun} (stack {stack.name}); Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        sessions: list[Session] = []
        runtime = stack.runtime
        while not stack.stopping:
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
        stack.settle(3.0)
        print("tcplab: stopped", file=sys.stderr)
    finally:
        stack.close()
    return 0


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve", help="serve echo/discard/chargen on a TUN device", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("service", choices=SERVICES)
    p.add_argument("--port", type=int, default=9527, help="TCP port (default 9527)")
    add_stack_arguments(p)
    p.set_defaults(func=run_serve)

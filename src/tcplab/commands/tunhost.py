"""The TUN plumbing ``tcplab serve`` and ``tcplab connect`` share: their options, and a tcplab
host on a TUN device with its I/O loop, control socket and signal handling."""

from __future__ import annotations

import contextlib
import signal
import socket as _pysocket
import sys
from typing import Any

MAX_BUSY_POLL = 1_000_000  # --busy-poll's ceiling, in microseconds (a second of spinning)


def add_tun_arguments(p: Any) -> None:
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
        "--no-offload",
        dest="offload",
        action="store_false",
        help="plain packets: no checksum or segmentation offloads on the TUN device (-v says which are on)",
    )
    p.add_argument(
        "--busy-poll",
        type=int,
        default=0,
        metavar="USEC",
        help="before sleeping, poll the TUN device for up to USEC microseconds (like Linux's "
        "net.core.busy_poll: lower latency, a busier CPU; default 0, off)",
    )
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


class TunHost:
    """A tcplab host on a TUN device: the link, the host, its I/O loop (the host's runtime) and
    the control socket ``tcplab netstat --stack NAME`` reads. What serve and connect run."""

    def __init__(self, args: Any) -> None:
        from tcplab.cli import CLIError
        from tcplab.control import ControlError, ControlServer
        from tcplab.host import Host
        from tcplab.net.allocator import keep_freed_memory
        from tcplab.net.netns import NetnsError
        from tcplab.net.tun import Impairment, TunError, TunLink, TunRuntime
        from tcplab.trace.events import EventLog

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
        busy_poll = getattr(args, "busy_poll", 0)
        if not 0 <= busy_poll <= MAX_BUSY_POLL:
            raise CLIError(f"bad --busy-poll {busy_poll}: microseconds, 0..{MAX_BUSY_POLL}")
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
                offload=args.offload,
            )
            self.link.open()
        except (TunError, NetnsError) as exc:
            raise CLIError(str(exc)) from None
        except OSError as exc:
            raise CLIError(f"cannot set up {args.tun}: {exc}") from None
        keep_freed_memory()  # 64 KB packets come and go: reuse their memory (net/allocator.py)
        if getattr(args, "verbose", False):
            print(f"tcplab: {args.tun}: {self.link.offload_note}", file=sys.stderr, flush=True)
        try:
            # Its events go to whoever watches (tcplab netstat --watch, through the control
            # socket) and are kept nowhere: nothing reads a ring here, and a host nobody
            # watches then builds no events at all.
            self.host = Host(self.name, self.link.host_addresses(), log=EventLog(limit=0))
            self.runtime = TunRuntime(self.link, self.host, impairment=impairment, busy_poll=busy_poll / 1e6)
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

        self.runtime.wait_until(settled, timeout)

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

"""What every scenario shares: the ``Scenario`` record, the ``Run`` it returns, the bench.

A scenario is a short script on the simulated network (``tcplab.net.sim``): two hosts,
``client`` (198.18.0.1) and ``server`` (198.18.0.2), joined by one link, driven through
``tcplab.socket`` sockets (blocking calls run the simulation on its virtual clock) and, for the
rare moments, the network's fault rules. Everything observable lands in one ``EventLog``.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tcplab.host import Host
from tcplab.net.sim import Network
from tcplab.net.simhost import SimRuntime
from tcplab.socket import Socket
from tcplab.tcp.config import Config, profile
from tcplab.tcp.states import State
from tcplab.trace.events import EventLog

CLIENT_IP = "198.18.0.1"
SERVER_IP = "198.18.0.2"
SERVER_PORT = 9527  # no protocol Wireshark knows: it shows plain TCP (8080 would decode as HTTP)
DEFAULT_DELAY = 0.05  # one-way link delay in seconds: round numbers on the ladder


def errno_name(exc: OSError) -> str:
    """The symbolic name of an OSError's errno (``ECONNREFUSED``)."""
    return errno.errorcode.get(exc.errno or 0, str(exc.errno))


def scenario_config(**changes: Any) -> Config:
    """The teaching profile: MSS only (no window scaling, timestamps or SACK, so the ladder
    labels stay short), 64 KB buffers, MSL 30 s (TIME_WAIT 60 s, as Linux)."""
    return profile("classic").copy(**changes)


@dataclass
class Run:
    """The result of one scenario run."""

    name: str
    log: EventLog
    network: Network
    hosts: dict[str, Any]
    left: str = "client"
    right: str = "server"
    summary: str = ""  # one line: what happened
    data: dict[str, Any] = field(default_factory=dict)  # scenario-specific facts for tests

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.log.events

    def paths(self) -> dict[str, list[list[str]]]:
        """Per host, the state path of each connection (in order of first appearance)."""
        out: dict[str, list[list[str]]] = {}
        current: dict[tuple[str, str], list[str]] = {}
        for e in self.log.events:
            if e["kind"] != "state":
                continue
            key = (e.get("host", ""), e.get("conn", ""))
            path = current.get(key)
            # A connection that reached CLOSED is over: the same 4-tuple later is a new one.
            if path is None or path[-1] == "CLOSED" or path[-1] != e["from"]:
                path = current[key] = [e["from"]]
                out.setdefault(key[0], []).append(path)
            path.append(e["to"])
        return out

    def transitions(self, host: str | None = None) -> list[tuple[str, str, str]]:
        return [
            (e["from"], e["to"], e["cause"])
            for e in self.log.events
            if e["kind"] == "state" and (host is None or e.get("host") == host)
        ]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str  # one line
    explanation: str  # a paragraph: what happens and why, with RFC 9293 clauses
    script: Callable[[Bench], str]  # plays the story on the bench, returns the summary line
    left: str = "client"
    right: str = "server"
    defaults: dict[str, Any] = field(default_factory=dict)  # link impairments for this story
    config: dict[str, Any] = field(default_factory=dict)  # Config changes for this story
    options: dict[str, Any] = field(default_factory=dict)  # Bench options (e.g. client_node)

    def run(self, seed: int = 0, loss: float | None = None, delay: float | None = None, **options: Any) -> Run:
        """Play the story. ``delay`` is the one-way link delay in seconds (None: 50 ms);
        ``loss`` a per-packet loss probability on the link (None: the story's own, 0 for all
        but lossy-transfer). Options: ``tap`` (a writer with
        ``write(packet, t, comment=, interface=)``, a ``PcapngWriter`` or ``PcapWriter``, that sees
        every packet sent, with its fate),
        ``config`` (a ``Config`` for both hosts) and whatever the story itself takes."""
        bench = self.bench(seed, loss, delay, **options)
        summary = self.script(bench)
        return Run(self.name, bench.log, bench.net, bench.hosts, self.left, self.right, summary, bench.data)

    def bench(self, seed: int = 0, loss: float | None = None, delay: float | None = None, **options: Any) -> Bench:
        """The story's stage, set up but not played (``run`` plays ``script`` on it)."""
        options = {**self.options, **options}
        if "config" not in options and self.config:
            options["config"] = scenario_config(**self.config)
        return Bench(
            seed=seed,
            loss=loss,
            delay=DEFAULT_DELAY if delay is None else delay,
            impairments=dict(self.defaults),
            **options,
        )


class Bench:
    """Two hosts on one simulated link, and small helpers for writing stories."""

    def __init__(
        self,
        seed: int = 0,
        loss: float | None = None,
        delay: float = DEFAULT_DELAY,
        impairments: dict[str, Any] | None = None,
        tap: Any = None,
        config: Config | None = None,
        client_node: Callable[[Host], Any] | None = None,
        **options: Any,
    ) -> None:
        self.log = EventLog()
        self.net = Network(seed=seed, log=self.log)
        self.seed = seed
        self.delay = delay
        self.stretch = max(1.0, delay / DEFAULT_DELAY)
        self.options = options
        self.data: dict[str, Any] = {}
        self.config = config if config is not None else scenario_config()
        self.client = Host("client", (CLIENT_IP, "fd00::1"), self.config, seed=seed, log=self.log)
        self.server = Host("server", (SERVER_IP, "fd00::2"), self.config, seed=seed + 1, log=self.log)
        self.hosts = {"client": self.client, "server": self.server}
        node = client_node(self.client) if client_node is not None else self.client
        self.net.add(node)
        self.net.add(self.server)
        params = dict(impairments or {})
        if loss is not None:
            params["loss"] = loss
        self.link = self.net.link(node, self.server, delay=delay, **params)
        SimRuntime.attach(self.net, self.client, self.server)
        if tap is not None:
            self.net.capture(tap)

    # -- time ---------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.net.now

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass. The stories are written for the default 50 ms
        link; on a slower link every wait stretches in proportion, so the story keeps its
        shape (with a 500 ms link, ``wait(0.2)`` waits 2 s)."""
        self.net.run(until=self.net.now + seconds * self.stretch)

    def settle(self, limit: float = 3600.0) -> None:
        """Run until nothing is left to happen (every timer, TIME_WAIT included), at most
        ``limit`` virtual seconds."""
        self.net.run(until=self.net.now + limit)

    def until(self, predicate: Callable[[], bool], timeout: float = 600.0) -> bool:
        return self.net.run_until(predicate, timeout=timeout * self.stretch)

    def note(self, host: str, text: str) -> None:
        self.log.record("note", self.net.now, host=host, text=text)

    # -- sockets ------------------------------------------------------------------------------
    def listen(self, port: int = SERVER_PORT, backlog: int = 16, **opts: Any) -> Any:
        sock = Socket(self.server)
        if opts.get("reuseaddr"):
            from tcplab.socket import SO_REUSEADDR, SOL_SOCKET

            sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        sock.bind((SERVER_IP, port))
        sock.listen(backlog)
        return sock

    def connect(self, port: int = SERVER_PORT, bind: int | None = None) -> Any:
        sock = Socket(self.client)
        if bind is not None:
            sock.bind((CLIENT_IP, bind))
        sock.connect((SERVER_IP, port))
        return sock

    def pair(self, port: int = SERVER_PORT, listener: Any = None) -> tuple[Any, Any, Any]:
        """A listener (new unless given), a connected client socket and the accepted server
        socket, with the handshake's last ACK delivered."""
        lsock = listener if listener is not None else self.listen(port)
        csock = self.connect(port)
        ssock, _ = lsock.accept()
        return lsock, csock, ssock

    @staticmethod
    def state(sock: Any) -> str:
        ep = sock.endpoint
        return str(ep.conn.state) if ep is not None else "CLOSED"

    @staticmethod
    def endpoint(sock: Any) -> Any:
        return sock.endpoint

    @staticmethod
    def linger0(sock: Any) -> None:
        from tcplab.socket import SO_LINGER, SOL_SOCKET

        sock.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("ii", 1, 0))

    def abort(self, sock: Any) -> None:
        """close() with SO_LINGER {1, 0}: the connection is aborted (RST, no FIN, no TIME_WAIT).
        A connection in TIME_WAIT is out of a Linux socket's reach (the socket reads CLOSED and
        its close() leaves the TIME_WAIT alone): RFC 9293 3.10.5's ABORT is then the engine's
        call, made after the close()."""
        ep = sock.endpoint
        waiting = ep is not None and ep.conn.state is State.TIME_WAIT
        self.linger0(sock)
        sock.close()
        if waiting and ep.conn.state is State.TIME_WAIT:
            ep.conn.abort(self.now)
            sock.host.service(ep, self.now)

    def expect_reset(self, host: str, call: Callable[[], object]) -> None:
        """Run a socket call that should meet a reset; note how it failed (and keep the errno)."""
        try:
            call()
        except ConnectionResetError as exc:
            self.data["errno"] = exc.errno
            self.note(host, f"recv() failed: {exc.strerror}")

    def kill(self, host: Any, ep: Any) -> None:
        """Abort a connection from outside its (possibly closed) socket, as ``ss -K`` does: the
        engine's ABORT (RFC 9293 3.10.5) on the host's endpoint."""
        ep.conn.abort(self.net.now)
        host.service(ep, self.net.now)
        self.net.kick(host)

    def inject(
        self,
        src_host: Any,
        src: tuple[str, int],
        dst: tuple[str, int],
        *,
        seq: int,
        ack: int = 0,
        flags: str = "S",
        window: int = 65535,
        options: tuple = (),
        payload: bytes = b"",
    ) -> None:
        """Put a hand-made segment on the wire as if ``src_host`` had sent it."""
        from tcplab.wire import build_packet
        from tcplab.wire.tcp import Segment, parse_flags

        seg = Segment(
            src[1],
            dst[1],
            seq & 0xFFFFFFFF,
            ack & 0xFFFFFFFF,
            parse_flags(flags),
            window,
            options=options,
            payload=payload,
        )
        self.net.inject(src_host.name, build_packet(src[0], dst[0], seg))

"""A host builds its events only when its log listens (it keeps them, or a trace, ``watch`` or
the control socket subscribes): nobody listening, no event is made and the host behaves the
same; someone listening, the very same events as a full trace."""

from __future__ import annotations

import json
import socket as pysocket
from typing import Any

import pytest

from tcplab import control
from tcplab.host import Host
from tcplab.net.sim import Network
from tcplab.net.simhost import SimRuntime
from tcplab.socket import Socket
from tcplab.trace.events import EventLog


class CountingLog(EventLog):
    """An EventLog that counts the events made through it."""

    def __init__(self, limit: int | None = None) -> None:
        super().__init__(limit)
        self.made = 0

    def record(self, kind: str, t: float, host: str | None = None, **fields: Any) -> dict:
        self.made += 1
        return super().record(kind, t, host, **fields)


def _story(client_log: EventLog, server_log: EventLog) -> tuple[Host, Host]:
    """Connections that make every kind of host event: data over a lossy link (cwnd and rtt
    changes, retransmissions), an orderly close both ways, a refused connect (a reset)."""
    net = Network(seed=5, log=None)
    client = net.add(Host("client", ["198.18.0.1"], seed=1, log=client_log))
    server = net.add(Host("server", ["198.18.0.2"], seed=2, log=server_log))
    net.link(client, server, delay=0.005, loss=0.03)
    SimRuntime.attach(net)
    lst = Socket(server)
    lst.bind(("", 80))
    lst.listen()
    a = Socket(client)
    a.connect(("198.18.0.2", 80))
    b, _ = lst.accept()
    a.sendall(b"x" * 200_000)
    got = 0
    while got < 200_000:
        got += len(b.recv(65536))
    a.close()
    assert b.recv(10) == b""
    b.close()
    refused = Socket(client)
    with pytest.raises(ConnectionRefusedError):
        refused.connect(("198.18.0.2", 81))
    net.run(until=net.now + 200)
    return client, server


def test_a_host_nobody_listens_to_makes_no_events_and_behaves_the_same():
    quiet_c, quiet_s = CountingLog(limit=0), CountingLog(limit=0)
    qc, qs = _story(quiet_c, quiet_s)
    assert quiet_c.made == 0 and quiet_s.made == 0
    fc, fs = _story(EventLog(), EventLog())
    assert len(fc.log) > 20 and {e["kind"] for e in fc.log} >= {"state", "outcome", "cwnd", "rtt"}
    # counters, states and outcomes are the host's own, not the events'
    assert qc.counters == fc.counters and qs.counters == fs.counters
    assert qc.counters["segments_retransmitted"] > 0 and qc.counters["failed_attempts"] == 1
    assert qc.conns.keys() == fc.conns.keys()  # the client's TIME_WAIT
    assert [ep.conn.state for ep in qc.conns.values()] == [ep.conn.state for ep in fc.conns.values()]


def test_a_subscriber_sees_exactly_the_events_of_a_full_trace():
    full_c, full_s = EventLog(), EventLog()
    _story(full_c, full_s)
    seen_c: list[dict] = []
    seen_s: list[dict] = []
    live_c, live_s = CountingLog(limit=0), CountingLog(limit=0)
    live_c.subscribe(seen_c.append)
    live_s.subscribe(seen_s.append)
    _story(live_c, live_s)
    assert seen_c == full_c.events and seen_s == full_s.events
    assert len(live_c) == 0 and len(live_s) == 0  # kept nowhere


def test_the_control_socket_listens_only_while_a_client_watches(tmp_path, monkeypatch):
    class Loop:  # the part of a TUN runtime the control server uses
        def __init__(self) -> None:
            self.readers: dict[int, Any] = {}

        def add_reader(self, fd: Any, callback: Any) -> None:
            self.readers[fd if isinstance(fd, int) else fd.fileno()] = callback

        def remove_reader(self, fd: Any) -> None:
            self.readers.pop(fd if isinstance(fd, int) else fd.fileno(), None)

        def run(self) -> None:
            for callback in list(self.readers.values()):
                callback()

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    host = Host("stack", ["198.18.0.2"], log=EventLog(limit=0))
    loop = Loop()
    server = control.ControlServer(host, "stack", loop)
    try:
        assert not host.log.listening
        snapshot = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_STREAM)
        snapshot.connect(server.path)
        snapshot.sendall(b'{"cmd": "snapshot"}\n')
        loop.run()
        loop.run()
        with snapshot.makefile() as answer:
            assert json.loads(answer.readline())["host"] == "stack"
        snapshot.close()
        assert not host.log.listening  # a snapshot is no watch
        watcher = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_STREAM)
        watcher.connect(server.path)
        watcher.sendall(b'{"cmd": "watch"}\n')
        loop.run()
        loop.run()
        assert host.log.listening
        host.restart(1.0)  # a note: the watcher gets it
        lines = watcher.makefile()
        assert json.loads(lines.readline())["type"] == "snapshot"
        event = json.loads(lines.readline())
        assert event["type"] == "event" and event["event"]["text"].startswith("host restarted")
        lines.close()
        watcher.close()  # the watcher goes away
        loop.run()
        assert not host.log.listening
    finally:
        server.close()

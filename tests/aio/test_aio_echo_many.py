"""The echo example: 200 concurrent clients, 64 KB each, on the simulated network."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import tcplab.aio
from tcplab.netstat import rows

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))

import echo_client  # noqa: E402
import echo_server  # noqa: E402


def test_200_concurrent_clients_echo_64k_intact_then_netstat():
    net, client, server = echo_server.build_network(seed=7)
    clients, size = 200, 65536
    ok = tcplab.aio.run(echo_client.run_clients(client, server, clients, size), net)
    assert len(ok) == clients and all(ok)
    net.run(until=net.now + 1.0)  # the last ACKs of the close land
    # The clients closed first (write_eof): every client connection is in TIME_WAIT; the
    # server's connections are CLOSED, gone from its table (and its listener is closed).
    client_rows = rows(client)
    assert len(client_rows) == clients
    assert {r.state for r in client_rows} == {"TIME_WAIT"}
    assert all(r.recv_q == 0 and r.send_q == 0 for r in client_rows)
    assert len({r.local for r in client_rows}) == clients  # 200 distinct ephemeral ports
    assert rows(server) == []
    assert client.errors == [] and server.errors == []
    assert server.counters["passive_opens"] == clients
    assert client.counters["active_opens"] == clients
    net.run(until=net.now + 60)  # 2 MSL later the TIME_WAITs are gone too
    assert rows(client) == []


def test_payloads_differ_per_client():
    a, b = echo_client.payload(0, 1000), echo_client.payload(1, 1000)
    assert len(a) == 1000 and a != b
    assert hashlib.sha256(a).digest() != hashlib.sha256(b).digest()


def test_examples_run_directly(capsys):
    assert echo_server.main(["--clients", "2", "--size", "5000"]) == 0
    out = capsys.readouterr().out
    assert "2/2 clients got their 5000 bytes back intact" in out

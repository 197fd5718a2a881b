"""Orphans (connections closed by their application, not gone yet) are bounded by
tcp_max_orphans: one too many is reset at once (Linux tcp_close, TCPAbortOnMemory)."""

from __future__ import annotations

from tcplab.net.sim import Match, Rule
from tcplab.net.simhost import two_hosts
from tcplab.socket import Socket
from tcplab.tcp import Config


def test_one_orphan_too_many_is_reset():
    net, client, server = two_hosts(seed=5, config=Config(max_orphans=2))
    srv = Socket(server)
    srv.bind(("", 9527))
    srv.listen()
    socks = []
    for _ in range(3):
        c = Socket(client)
        c.connect(("198.18.0.2", 9527))
        srv.accept()
        socks.append(c)
    net.add_rule(Rule("drop", Match(src="server", count=None)))  # the peer vanishes
    for c in socks[:2]:
        c.close()  # FIN_WAIT_1, waiting for an ACK that never comes: orphans
    net.run(until=net.now + 1)
    assert client.orphans == 2 and client.counters["aborts_on_memory"] == 0
    socks[2].close()  # the third is one too many: reset at once, no FIN
    net.run(until=net.now + 0.001)
    assert client.counters["aborts_on_memory"] == 1 and client.orphans == 2
    last = [e for e in net.log.of_kind("segment") if e["src"] == "client"][-1]
    # Linux tcp_close: tcp_check_oom, then tcp_send_active_reset (RST with an ACK)
    assert last["flags"] == "R." and last["dport"] == 9527
    assert [e["text"] for e in client.log.of_kind("note") if "orphan" in e["text"]] == [
        f"too many orphaned sockets: {socks[2].endpoint.label} reset"
    ]
    # The two orphans give up (tcp_orphan_retries) and the count goes back to zero.
    net.run(until=net.now + 600)
    assert client.orphans == 0 and client.conns == {}

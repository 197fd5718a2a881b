"""Stories of the modern TCP Linux runs (issue 11): ECN, TCP Fast Open, a tail loss probe.

They run with the teaching profile plus what each story is about (SACK and timestamps where the
mechanism needs them), on the usual 50 ms link.
"""

from __future__ import annotations

import dataclasses

from tcplab.net.sim import Match, Rule
from tcplab.scenarios.base import SERVER_IP, SERVER_PORT, Bench
from tcplab.socket import IPPROTO_TCP, MSG_FASTOPEN, TCP_FASTOPEN, Socket

SEGMENT = 1460  # the teaching profile's MSS, no options


def ecn(b: Bench) -> str:
    """ECN negotiated in the handshake; an AQM on the way marks some data CE instead of
    dropping it; the server echoes ECE until the client's CWR; the client halves its window
    once, retransmitting nothing."""
    _lsock, csock, ssock = b.pair()
    forward = b.net.direction(b.client, b.server)
    calm = forward.params
    csock.sendall(bytes(2 * SEGMENT))
    forward.params = dataclasses.replace(calm, ecn_mark=1.0)  # congestion: every packet marked
    b.note("client", "the link's queue builds up: its AQM marks CE instead of dropping")
    csock.sendall(bytes(2 * SEGMENT))
    b.wait(0.001)
    forward.params = calm
    csock.sendall(bytes(2 * SEGMENT))
    b.wait(0.3)  # the echoes come back; the window is reduced
    csock.sendall(bytes(4 * SEGMENT))  # the first new segment carries CWR
    got = 0
    while got < 10 * SEGMENT:
        got += len(ssock.recv(1 << 16))
    b.wait(0.5)
    csock.close()
    ssock.close()
    b.settle(5)
    segs = b.log.of_kind("segment")
    marked = sum(1 for e in segs if e["fate"] == "marked")
    echoes = sum(1 for e in segs if e["src"] == "server" and "E" in e["flags"] and "S" not in e["flags"])
    cwr = sum(1 for e in segs if e["src"] == "client" and "W" in e["flags"] and "S" not in e["flags"])
    rtx = b.client.counters["segments_retransmitted"]
    b.data.update(marked=marked, echoes=echoes, cwr=cwr, retransmitted=rtx)
    return (
        f"ECN negotiated (SEW, SE.); {marked} segments marked CE on the way; the server echoed "
        f"ECE on {echoes} ACKs until the client's CWR; {rtx} retransmissions"
    )


def fast_open(b: Bench) -> str:
    """The first connection asks for a cookie; the second sends its request in the SYN and the
    server answers before the handshake completes: one round trip saved."""
    lsock = Socket(b.server)
    lsock.setsockopt(IPPROTO_TCP, TCP_FASTOPEN, 16)
    lsock.bind((SERVER_IP, SERVER_PORT))
    lsock.listen(16)
    times = []
    for attempt in ("first", "second"):
        b.note("client", f"{attempt} connection: sendto(request, MSG_FASTOPEN)")
        start = b.now
        csock = Socket(b.client)
        # With a cookie the call returns at once (the data is in the SYN), as on Linux; without
        # one it waits for the handshake to send the request after it.
        csock.setblocking(attempt == "first")
        csock.sendto(b"GET / HTTP/1.0\r\n\r\n", MSG_FASTOPEN, (SERVER_IP, SERVER_PORT))
        csock.setblocking(True)
        ssock, _ = lsock.accept()
        request = ssock.recv(100)
        ssock.sendall(b"HTTP/1.0 200 OK\r\n\r\nhello " + request[:3])
        reply = csock.recv(100)
        times.append(b.now - start)
        b.data.setdefault("replies", []).append(reply)
        csock.close()
        ssock.close()
        b.wait(0.5)
    b.settle(5)
    b.data["times"] = times
    return (
        f"reply after {times[0] * 1000:.0f} ms without a cookie, {times[1] * 1000:.0f} ms with one "
        "(the request rode on the SYN)"
    )


def tail_loss_probe(b: Bench) -> str:
    """The last two segments of a reply are lost: no duplicate ACKs come, but the tail loss
    probe resends the last segment after 2 SRTT, the peer's SACK of it shows the other hole
    (RACK), and fast recovery repairs both well before the RTO."""
    _lsock, csock, ssock = b.pair()
    mss = ssock.tcp_info()["snd_mss"]  # full segments: 1448 with timestamps
    b.net.add_rule(Rule("drop", Match(src="server", data=True, nth=5, count=2)))
    ssock.sendall(bytes(6 * mss))
    got = 0
    while got < 6 * mss:
        got += len(csock.recv(1 << 16))
    done = b.now
    csock.close()
    ssock.close()
    b.settle(5)
    segs = [e for e in b.log.of_kind("segment") if e["src"] == "server" and e["len"]]
    first = segs[0]["t"]
    rexmits = segs[6:]  # after the six originals
    timeouts = [e for e in b.log.of_kind("cwnd") if e["host"] == "server" and e["reason"] == "retransmission timeout"]
    b.data.update(retransmitted=[(e["t"] - first, e["seq"]) for e in rexmits], done=done - first, rto=len(timeouts))
    return (
        f"the last two segments were lost; a probe resent the last one "
        f"{1000 * (rexmits[0]['t'] - first):.0f} ms after the reply began, RACK found the other "
        f"lost and recovery resent it; all {got} bytes in after {1000 * (done - first):.0f} ms, "
        f"{len(timeouts)} retransmission timeouts"
    )

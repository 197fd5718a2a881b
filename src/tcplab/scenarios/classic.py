"""The classic TCP stories: opens, closes, refusals, timeouts, resets, MSS, loss.

Each story is a function ``story(bench) -> summary`` played on a :class:`~.base.Bench`; the
registry in ``tcplab.scenarios`` pairs it with a name, a line of description and an explanation.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from typing import Any

from tcplab.net.sim import Match, Rule
from tcplab.scenarios.base import CLIENT_IP, SERVER_IP, SERVER_PORT, Bench, errno_name
from tcplab.socket import SHUT_WR, Socket, wait


def handshake(b: Bench) -> str:
    lsock, csock, ssock = b.pair()
    b.data["sockets"] = (lsock, csock, ssock)
    return "SYN, SYN-ACK, ACK: both ends ESTABLISHED"


def active_close(b: Bench) -> str:
    _lsock, csock, ssock = b.pair()
    b.wait(0.1)
    csock.close()  # client: FIN_WAIT_1
    assert ssock.recv(100) == b""  # server: the FIN arrives, CLOSE_WAIT, EOF for the app
    b.wait(0.1)
    ssock.close()  # server: LAST_ACK
    b.settle()
    return "client closed first and waited 2MSL (60 s) in TIME_WAIT; the server went straight to CLOSED"


def server_close(b: Bench) -> str:
    _lsock, csock, ssock = b.pair()
    b.wait(0.1)
    ssock.close()  # server: FIN_WAIT_1
    assert csock.recv(100) == b""
    b.wait(0.1)
    csock.close()
    b.settle()
    return "server closed first, so the server (not the client) waited 2MSL in TIME_WAIT"


def half_close(b: Bench) -> str:
    _lsock, csock, ssock = b.pair()
    csock.sendall(b"GET /three-chunks\r\n")
    csock.shutdown(SHUT_WR)  # FIN after the request: FIN_WAIT_1
    request = b""
    while True:
        chunk = ssock.recv(1000)
        if not chunk:
            break
        request += chunk
    got = b""
    for k in range(3):  # the server keeps sending from CLOSE_WAIT
        b.wait(0.2)
        ssock.sendall(b"chunk %d\n" % k)
        got += csock.recv(1000)  # the client keeps receiving in FIN_WAIT_2
    ssock.close()
    while True:
        chunk = csock.recv(1000)
        if not chunk:
            break
        got += chunk
    csock.close()
    b.settle()
    b.data["request"], b.data["reply"] = request, got
    return f"the client sent {len(request)} bytes then FIN; the server answered {len(got)} bytes from CLOSE_WAIT"


def fin_ack_together(b: Bench) -> str:
    _lsock, csock, ssock = b.pair()
    b.wait(0.1)
    # The engine acknowledges a FIN at once; Linux delays that ACK (pingpong mode) and, when the
    # application closes within the delayed-ACK time, the ACK rides on the FIN. Here the lone
    # ACK of the client's FIN is lost, so the server's FIN, sent at once, carries that ACK.
    b.net.add_rule(Rule("drop", Match(src="server", flags=".")))
    csock.close()
    assert ssock.recv(100) == b""
    ssock.close()  # the same virtual instant: FIN+ACK
    b.settle()
    return "the server's FIN carried the ACK of the client's FIN: FIN_WAIT_1 straight to TIME_WAIT"


def open_simultaneously(b: Bench, cport: int = 40000, sport: int = 40001) -> tuple[Any, Any]:
    csock = Socket(b.client)
    ssock = Socket(b.server)
    csock.bind((CLIENT_IP, cport))
    ssock.bind((SERVER_IP, sport))
    for sock, peer in ((csock, (SERVER_IP, sport)), (ssock, (CLIENT_IP, cport))):
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            sock.connect(peer)
    return csock, ssock


def simultaneous_open(b: Bench) -> str:
    csock, ssock = open_simultaneously(b)
    b.until(lambda: b.state(csock) == b.state(ssock) == "ESTABLISHED", timeout=10)
    b.wait(0.2)
    return "both SYNs crossed: each end went SYN_SENT -> SYN_RCVD -> ESTABLISHED, one connection"


def simultaneous_close(b: Bench) -> str:
    _lsock, csock, ssock = b.pair()
    b.wait(0.1)
    csock.close()
    ssock.close()  # the same virtual instant: the FINs cross
    b.settle()
    return "the FINs crossed: both ends went FIN_WAIT_1 -> CLOSING -> TIME_WAIT, and both waited 2MSL"


def refused(b: Bench) -> str:
    csock = Socket(b.client)
    try:
        csock.connect((SERVER_IP, 9))
    except ConnectionRefusedError as exc:
        b.data["errno"] = exc.errno
        b.note("client", f"connect() failed: {exc.strerror} (errno {errno_name(exc)})")
    b.settle()
    return "nobody listens on port 9: the server host answered the SYN with RST, connect() got ECONNREFUSED"


def syn_timeout(b: Bench) -> str:
    b.net.add_rule(Rule("drop", Match(src="client", flags="S", count=None)))
    csock = Socket(b.client)
    csock.settimeout(None)
    try:
        csock.connect((SERVER_IP, SERVER_PORT))
    except OSError as exc:
        b.data["errno"] = exc.errno
        b.note("client", f"connect() failed after {b.now:.0f} s: {exc.strerror} (errno {errno_name(exc)})")
    gave_up = b.now
    b.settle()
    syns = [e["t"] for e in b.log.of_kind("segment") if e["flags"] == "S"]
    b.data["syn_times"] = syns
    return f"{len(syns)} SYNs at {', '.join(f'{t:g}' for t in syns)} s went unanswered: ETIMEDOUT after {gave_up:.0f} s"


def reset_in_syn_rcvd(b: Bench) -> str:
    lsock = b.listen()
    b.wait(0.1)
    # RFC 9293 Figure 8: an old duplicate SYN (from a connection long gone) reaches the server.
    b.note("client", "an old duplicate SYN from port 41000 (a dead incarnation) is still in the network")
    b.inject(b.client, (CLIENT_IP, 41000), (SERVER_IP, SERVER_PORT), seq=90000, flags="S")
    b.wait(0.5)
    csock = b.connect()  # the real connection afterwards
    ssock, _ = lsock.accept()
    b.data["sockets"] = (lsock, csock, ssock)
    return (
        "the old SYN got a SYN-ACK, which the client host answered with RST: the child went "
        "back to LISTEN; the next connection was unaffected"
    )


def close_in_syn_rcvd(b: Bench) -> str:
    csock, ssock = open_simultaneously(b)
    b.until(lambda: b.state(csock) == "SYN_RCVD", timeout=10)
    csock.close()  # SYN_RCVD: FIN
    b.until(lambda: b.state(ssock) == "CLOSE_WAIT", timeout=10)
    ssock.close()
    b.settle()
    return "close() in SYN_RCVD sent a FIN at once (FIN_WAIT_1); the connection then closed normally"


def listen_then_send(b: Bench) -> str:
    lsock = b.listen()
    host = b.client
    now = b.now
    local = (CLIENT_IP, 40000)
    ep = host.new_connection(host.conn_config(CLIENT_IP), local, (SERVER_IP, SERVER_PORT))
    host.register(ep)
    # The engine's OPEN/SEND directly (the sockets have no such call): a passive OPEN that names
    # its remote socket, then a SEND.
    ep.live().listen(now)
    host.service(ep, now)
    b.wait(0.2)
    ep.live().send(b"hello", b.now)
    host.service(ep, b.now)
    b.net.kick(host)
    ssock, _ = lsock.accept()
    data = ssock.recv(100)
    b.wait(0.2)
    b.data["received"] = data
    return f"SEND in LISTEN turned the listening end into an active opener; the server got {data!r}"


def lost_final_ack(b: Bench) -> str:
    _lsock, csock, ssock = b.pair()
    b.wait(0.1)
    csock.close()
    assert ssock.recv(100) == b""
    b.wait(0.1)
    b.net.add_rule(Rule("drop", Match(src="client", flags=".")))  # the client's last ACK
    ssock.close()
    b.settle()
    fins = [e["t"] for e in b.log.of_kind("segment") if e["src"] == "server" and "F" in e["flags"]]
    b.data["server_fins"] = fins
    return (
        f"the last ACK was lost: the server retransmitted its FIN after "
        f"{fins[-1] - fins[0]:.1f} s and TIME_WAIT acknowledged it again, restarting 2MSL"
    )


def abort(b: Bench) -> str:
    _lsock, csock, ssock = b.pair()
    b.wait(0.1)
    b.abort(csock)  # RST, no FIN, no TIME_WAIT
    b.expect_reset("server", lambda: ssock.recv(100))
    ssock.close()
    b.settle()
    return "close() with SO_LINGER {1, 0} sent RST: both ends CLOSED at once, no TIME_WAIT"


def mss(b: Bench) -> str:
    _lsock, csock, ssock = b.pair()
    payload = bytes(range(256)) * 12  # 3072 bytes each way
    ssock.sendall(payload)
    csock.sendall(payload)
    got_c = got_s = b""
    while len(got_c) < len(payload) or len(got_s) < len(payload):
        readers, _ = wait([csock, ssock], [], 10)
        if csock in readers:
            got_c += csock.recv(65536)
        if ssock in readers:
            got_s += ssock.recv(65536)
    csock.close()
    assert ssock.recv(100) == b""
    ssock.close()
    b.settle()
    sizes: dict[str, list[int]] = {"client": [], "server": []}
    for e in b.log.of_kind("segment"):
        if e["len"]:
            sizes[e["src"]].append(e["len"])
    b.data["sizes"] = sizes
    return (
        f"server -> client segments {sizes['server']} (the client's SYN had no MSS: 536); "
        f"client -> server {sizes['client']} (the server offered 1460)"
    )


class StripMSS:
    """A node in front of the client host that removes the MSS option from its SYNs, as an old
    stack that sends none would look on the wire (everything else passes through)."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.name = host.name

    def addresses(self) -> list[Any]:
        return self.host.addresses()

    def deliver(self, packet: bytes, now: float) -> None:
        self.host.deliver(packet, now)

    def next_deadline(self) -> float | None:
        return self.host.next_deadline()

    def handle_timeout(self, now: float) -> None:
        self.host.handle_timeout(now)

    def poll_transmit(self) -> list[bytes]:
        from dataclasses import replace

        from tcplab.wire import build_packet, parse_packet
        from tcplab.wire.tcp import MSS

        out = []
        for packet in self.host.poll_transmit():
            pkt = parse_packet(packet, verify_checksum=False)
            seg = pkt.tcp
            if seg is not None and seg.syn and seg.option(MSS) is not None:
                seg = replace(seg, options=tuple(o for o in seg.options if type(o) is not MSS), data_offset=None)
                packet = build_packet(str(pkt.src), str(pkt.dst), seg)
            out.append(packet)
        return out


def lossy_transfer(b: Bench) -> str:
    size = int(b.options.get("size", 1 << 20))
    data = random.Random(b.seed).randbytes(size)
    _lsock, csock, ssock = b.pair()
    csock.setblocking(False)  # select-style: send() takes what fits, never waits for the rest
    sent = 0
    got = bytearray()
    while len(got) < size:
        readers, writers = wait([ssock], [csock] if sent < size else [], 600)
        if csock in writers:
            sent += csock.send(data[sent : sent + 65536])
        if ssock in readers:
            got += ssock.recv(1 << 20)
    csock.close()
    assert ssock.recv(100) == b""
    ssock.close()
    b.settle()
    segs = b.log.of_kind("segment")
    data_segs = [e for e in segs if e["src"] == "client" and e["len"]]
    dropped = sum(1 for e in segs if e["fate"] == "dropped")
    rtx = b.client.counters["segments_retransmitted"]
    same = hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    b.data.update(
        sent_sha256=hashlib.sha256(data).hexdigest(),
        received_sha256=hashlib.sha256(bytes(got)).hexdigest(),
        dropped=dropped,
        retransmitted=rtx,
        data_segments=len(data_segs),
        reordered=b.net.stats.reordered,
    )
    return (
        f"{size} bytes in {len(data_segs)} data segments, {dropped} segments lost, "
        f"{b.net.stats.reordered} reordered, {rtx} retransmitted by the client; "
        f"SHA-256 {'matches' if same else 'DIFFERS'}"
    )

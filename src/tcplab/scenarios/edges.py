"""The rarer exits of the state diagram: RST, ABORT and timeouts in every state, close with
unread data, TIME_WAIT reopened by a SYN, SYN_RCVD back to LISTEN on a SYN, and the host stories
(restarting a server over TIME_WAIT, a full listen backlog).

Stories with several acts use one connection per act (each with its own client port), so every
endpoint's state path in the trace is one act.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from tcplab.net.sim import Match, Rule
from tcplab.scenarios.base import CLIENT_IP, SERVER_IP, SERVER_PORT, Bench, errno_name
from tcplab.scenarios.classic import open_simultaneously
from tcplab.socket import SHUT_WR, SO_REUSEADDR, SOL_SOCKET, SOL_TCP, TCP_USER_TIMEOUT, Socket


def _child_of(b: Bench, csock: Any) -> Any:
    """The server's endpoint for the client socket's connection."""
    local = csock.endpoint.conn.local
    key = (SERVER_IP, SERVER_PORT, local[0], local[1])
    return b.server.conns[key]


def _eof(sock: Any) -> None:
    assert sock.recv(100) == b""


def rst_everywhere(b: Bench) -> str:
    lsock = b.listen()
    acts = [act(b, lsock) for act in _RST_ACTS]
    b.settle()
    return "a RST arrived in " + ", ".join(acts) + ": each time straight to CLOSED"


def _rst_in_fin_wait_1(b: Bench, lsock: Socket) -> str:
    """The ACK of the client's FIN is lost; the server answers with RST (abort)."""
    b.note("client", "act 1: RST in FIN_WAIT_1")
    _, csock, ssock = b.pair(listener=lsock)
    rule = b.net.add_rule(Rule("drop", Match(src="server", flags=".")))
    csock.close()
    _eof(ssock)
    b.abort(ssock)
    b.wait(1.0)
    b.net.remove_rule(rule)
    return "FIN_WAIT_1"


def _rst_in_fin_wait_2(b: Bench, lsock: Socket) -> str:
    """The FIN was acknowledged, then the server aborts."""
    b.note("client", "act 2: RST in FIN_WAIT_2")
    _, csock, ssock = b.pair(listener=lsock)
    csock.close()
    _eof(ssock)
    b.wait(0.2)
    b.abort(ssock)
    b.wait(1.0)
    return "FIN_WAIT_2"


def _rst_in_close_wait(b: Bench, lsock: Socket) -> str:
    """The client half-closed, then aborts from FIN_WAIT_2."""
    b.note("client", "act 3: RST in CLOSE_WAIT")
    _, csock, ssock = b.pair(listener=lsock)
    csock.shutdown(SHUT_WR)
    _eof(ssock)
    b.wait(0.2)
    b.abort(csock)
    b.wait(1.0)
    ssock.close()
    return "CLOSE_WAIT"


def _rst_in_closing(b: Bench, lsock: Socket) -> str:
    """Simultaneous close, the server's ACK of the client's FIN is lost; the server's TIME_WAIT
    is killed (ss -K); the client's retransmitted FIN finds the listener: RST."""
    b.note("client", "act 4: RST in CLOSING")
    _, csock, ssock = b.pair(listener=lsock)
    sep = _child_of(b, csock)
    rule = b.net.add_rule(Rule("drop", Match(src="server", flags=".")))
    csock.close()
    ssock.close()
    b.until(lambda: sep.conn.state.value == "TIME_WAIT", timeout=5)
    b.net.remove_rule(rule)
    b.kill(b.server, sep)
    b.wait(5.0)
    return "CLOSING"


def _rst_in_last_ack(b: Bench, lsock: Socket) -> str:
    """The client's last ACK is lost and its TIME_WAIT killed; the server's retransmitted FIN
    finds no connection at the client host: RST."""
    b.note("client", "act 5: RST in LAST_ACK")
    _, csock, ssock = b.pair(listener=lsock)
    cep = csock.endpoint
    csock.close()
    _eof(ssock)
    b.wait(0.1)
    rule = b.net.add_rule(Rule("drop", Match(src="client", flags=".")))
    ssock.close()
    b.until(lambda: cep.conn.state.value == "TIME_WAIT", timeout=5)
    b.net.remove_rule(rule)
    b.kill(b.client, cep)
    b.wait(5.0)
    return "LAST_ACK"


def _rst_in_time_wait(b: Bench, lsock: Socket) -> str:
    """RFC 1337's hazard H1. An old duplicate ACK reaches the client in TIME_WAIT; it answers
    with an ACK; the server (connection gone) answers that with RST, which kills the TIME_WAIT
    (Linux net.ipv4.tcp_rfc1337=0)."""
    b.note("client", "act 6: RST in TIME_WAIT (RFC 1337 TIME-WAIT assassination)")
    _, csock, ssock = b.pair(listener=lsock)
    cep = csock.endpoint
    sconn = _child_of(b, csock).conn
    server_nxt = sconn.snd_nxt
    client_nxt = cep.conn.snd_nxt
    cport = cep.conn.local[1]
    csock.close()
    _eof(ssock)
    ssock.close()
    b.until(lambda: cep.conn.state.value == "TIME_WAIT" and sconn.state.value == "CLOSED", timeout=5)
    b.wait(1.0)
    b.note("server", "an old duplicate ACK from the server's port (sent long ago) arrives")
    b.inject(b.server, (SERVER_IP, SERVER_PORT), (CLIENT_IP, cport), seq=server_nxt - 1000, ack=client_nxt, flags=".")
    b.wait(5.0)
    return "TIME_WAIT"


def _rst_in_syn_rcvd(b: Bench, lsock: Socket) -> str:
    """A simultaneous open where the client's SYN-ACK is lost and the client aborts in
    SYN_RCVD (actively opened)."""
    b.note("client", "act 7: RST in SYN_RCVD (simultaneous open)")
    rule = b.net.add_rule(Rule("drop", Match(src="client", flags="S.")))
    csock, ssock = open_simultaneously(b)
    b.until(lambda: b.state(csock) == "SYN_RCVD", timeout=5)
    b.abort(csock)
    b.wait(5.0)
    b.net.remove_rule(rule)
    ssock.close()
    return "SYN_RCVD"


_RST_ACTS: tuple[Callable[[Bench, Socket], str], ...] = (
    _rst_in_fin_wait_1,
    _rst_in_fin_wait_2,
    _rst_in_close_wait,
    _rst_in_closing,
    _rst_in_last_ack,
    _rst_in_time_wait,
    _rst_in_syn_rcvd,
)


def abort_everywhere(b: Bench) -> str:
    _abort_in_listen(b)
    lsock = b.listen()
    for act in _ABORT_ACTS:
        act(b, lsock)
    b.settle()
    return "ABORT in every state: RST from the synchronized states up to CLOSE_WAIT, silence elsewhere"


def _abort_in_listen(b: Bench) -> None:
    """An engine-level passive OPEN, then ABORT (sockets close a listener with CLOSE)."""
    now = b.now
    b.note("server", "act 1: ABORT in LISTEN (the engine's call; a socket's close() is CLOSE)")
    host = b.server
    ep = host.new_connection(host.conn_config(SERVER_IP), (SERVER_IP, 7000), None)
    ep.live().listen(now)
    host.service(ep, now)
    b.wait(0.1)
    ep.conn.abort(b.now)
    host.service(ep, b.now)


def _abort_in_syn_sent(b: Bench, lsock: Socket) -> None:
    """close() while connecting (CLOSE), then SO_LINGER 0 close (ABORT)."""
    b.note("client", "act 2: CLOSE and ABORT in SYN_SENT")
    for linger in (False, True):
        csock = Socket(b.client)
        csock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            csock.connect((SERVER_IP, 9))
        if linger:
            b.abort(csock)
        else:
            csock.close()
        b.wait(0.5)


# From here on each act has its own connection, with SO_LINGER {1, 0} on the socket that aborts.
def _abort_in_fin_wait_1_and_close_wait(b: Bench, lsock: Socket) -> None:
    b.note("client", "act 3: ABORT in FIN_WAIT_1 (client) and CLOSE_WAIT (server)")
    _, csock, ssock = b.pair(listener=lsock)
    csock.shutdown(SHUT_WR)
    b.abort(csock)  # before the ACK of its FIN arrives
    b.wait(0.2)
    ssock.close()
    b.wait(1.0)


def _abort_in_fin_wait_2(b: Bench, lsock: Socket) -> None:
    b.note("client", "act 4: ABORT in FIN_WAIT_2 (client)")
    _, csock, ssock = b.pair(listener=lsock)
    csock.shutdown(SHUT_WR)
    _eof(ssock)
    b.wait(0.2)
    b.abort(csock)
    b.wait(0.5)
    ssock.close()
    b.wait(1.0)


def _abort_in_last_ack_and_established(b: Bench, lsock: Socket) -> None:
    b.note("server", "act 5: ABORT in LAST_ACK (server) and ESTABLISHED")
    _, csock, ssock = b.pair(listener=lsock)
    csock.shutdown(SHUT_WR)
    _eof(ssock)
    ssock.shutdown(SHUT_WR)  # LAST_ACK
    b.abort(ssock)
    b.wait(0.5)
    csock.close()
    _, csock, ssock = b.pair(listener=lsock)
    b.abort(ssock)
    b.wait(0.5)
    csock.close()


def _abort_in_time_wait_and_closing(b: Bench, lsock: Socket) -> None:
    b.note("client", "act 6: ABORT in TIME_WAIT (client) and CLOSING (server)")
    _, csock, ssock = b.pair(listener=lsock)
    csock.shutdown(SHUT_WR)
    ssock.shutdown(SHUT_WR)  # the FINs cross: both CLOSING
    b.until(lambda: b.state(csock) == "TIME_WAIT", timeout=5)
    b.abort(csock)
    b.until(lambda: b.state(ssock) == "CLOSING" or b.state(ssock) == "TIME_WAIT", timeout=5)
    b.wait(0.2)
    b.abort(ssock)
    b.wait(0.5)


def _abort_in_closing(b: Bench, lsock: Socket) -> None:
    b.note("client", "act 7: ABORT in CLOSING (client)")
    rule = b.net.add_rule(Rule("drop", Match(src="server", flags=".")))
    _, csock, ssock = b.pair(listener=lsock)
    b.net.remove_rule(rule)
    rule = b.net.add_rule(Rule("drop", Match(src="server", flags=".")))
    csock.shutdown(SHUT_WR)
    ssock.shutdown(SHUT_WR)
    b.until(lambda: b.state(csock) == "CLOSING", timeout=5)
    b.abort(csock)
    b.wait(2.0)
    b.net.remove_rule(rule)
    ssock.close()


def _abort_in_syn_rcvd(b: Bench, lsock: Socket) -> None:
    b.note("client", "act 8: ABORT in SYN_RCVD (simultaneous open)")
    csock, ssock = open_simultaneously(b)
    b.until(lambda: b.state(csock) == "SYN_RCVD", timeout=5)
    b.abort(csock)
    b.wait(2.0)
    ssock.close()


_ABORT_ACTS: tuple[Callable[[Bench, Socket], None], ...] = (
    _abort_in_syn_sent,
    _abort_in_fin_wait_1_and_close_wait,
    _abort_in_fin_wait_2,
    _abort_in_last_ack_and_established,
    _abort_in_time_wait_and_closing,
    _abort_in_closing,
    _abort_in_syn_rcvd,
)


def unread_data_close(b: Bench) -> str:
    lsock = b.listen()
    # ESTABLISHED: data arrived, the application closes without reading it.
    b.note("client", "act 1: close() in ESTABLISHED with unread data")
    _, csock, ssock = b.pair(listener=lsock)
    ssock.sendall(b"unread reply")
    b.wait(0.2)
    csock.close()
    b.wait(0.5)
    ssock.close()

    # CLOSE_WAIT: data and FIN arrived, nothing read.
    b.note("client", "act 2: close() in CLOSE_WAIT with unread data")
    _, csock, ssock = b.pair(listener=lsock)
    ssock.sendall(b"unread reply")
    ssock.close()
    b.wait(0.2)
    csock.close()
    b.wait(1.0)

    # FIN_WAIT_1: the client half-closes; data crosses its FIN; close() before the ACK.
    b.note("client", "act 3: close() in FIN_WAIT_1 with unread data")
    _, csock, ssock = b.pair(listener=lsock)
    csock.shutdown(SHUT_WR)
    ssock.sendall(b"unread reply")  # the same instant: crosses the FIN
    b.until(lambda: csock.endpoint.conn.recv_buffered > 0, timeout=5)
    csock.close()
    b.wait(0.5)
    ssock.close()

    # FIN_WAIT_2: half-closed and acknowledged, then data arrives unread.
    b.note("client", "act 4: close() in FIN_WAIT_2 with unread data")
    _, csock, ssock = b.pair(listener=lsock)
    csock.shutdown(SHUT_WR)
    _eof(ssock)
    b.wait(0.2)
    ssock.sendall(b"unread reply")
    b.wait(0.2)
    csock.close()
    b.wait(0.5)
    ssock.close()
    b.settle()
    return "close() with unread data sent RST instead of FIN (RFC 1122 4.2.2.13), in all four states"


def timeout_everywhere(b: Bench) -> str:
    lsock = b.listen()
    ut = 10_000  # TCP_USER_TIMEOUT 10 s (RFC 5482): give up sooner than R2's 15 retries

    def pair() -> tuple[Any, Any]:
        _, csock, ssock = b.pair(listener=lsock)
        for sock in (csock, ssock):
            sock.setsockopt(SOL_TCP, TCP_USER_TIMEOUT, ut)
        return csock, ssock

    def cut(**match: Any) -> Rule:
        return b.net.add_rule(Rule("drop", Match(count=None, **match)))

    b.note("client", "act 1: ESTABLISHED, the link goes down while both send")
    csock, ssock = pair()
    rule = cut()
    csock.send(b"ping")
    ssock.send(b"pong")
    b.wait(60)
    b.net.remove_rule(rule)
    csock.close()
    ssock.close()

    b.note("server", "act 2: SYN_RCVD, every SYN-ACK is lost")
    rule = cut(src="server")
    b.inject(b.client, (CLIENT_IP, 41000), (SERVER_IP, SERVER_PORT), seq=777, flags="S")
    b.wait(120)
    b.net.remove_rule(rule)

    b.note("client", "act 3: FIN_WAIT_1 (both ends close, no FIN gets through)")
    csock, ssock = pair()
    rule = cut()
    csock.close()
    ssock.close()
    b.wait(60)
    b.net.remove_rule(rule)

    b.note("client", "act 4: CLOSING (the FINs cross, every ACK is lost)")
    csock, ssock = pair()
    rule = cut(flags=".")
    csock.close()
    ssock.close()
    b.wait(60)
    b.net.remove_rule(rule)

    b.note("client", "act 5: CLOSE_WAIT (server data never acknowledged); orphaned FIN_WAIT_2")
    csock, ssock = pair()
    csock.close()
    _eof(ssock)
    b.wait(0.2)
    rule = cut(src="client")
    ssock.send(b"late data")
    b.wait(90)
    b.net.remove_rule(rule)
    ssock.close()

    b.note("client", "act 6: LAST_ACK (the server's FIN never arrives); orphaned FIN_WAIT_2")
    csock, ssock = pair()
    csock.close()
    _eof(ssock)
    b.wait(0.2)
    rule = cut(src="server")
    ssock.close()
    b.wait(90)
    b.net.remove_rule(rule)
    b.settle()
    return (
        "retransmissions gave up (user timeout 10 s, SYN-ACK retries 5) in every state that "
        "waits for an ACK; orphaned FIN_WAIT_2 expired after tcp_fin_timeout (60 s)"
    )


def time_wait_reopen(b: Bench) -> str:
    lsock = b.listen()
    csock = b.connect(bind=40000)
    ssock, _ = lsock.accept()
    ssock.close()  # the server closes first: its end goes to TIME_WAIT
    _eof(csock)
    csock.close()
    b.wait(5.0)
    b.note("client", "a new connection from the same port 40000, 5 s later")
    csock = b.connect(bind=40000)
    ssock, _ = lsock.accept()
    b.wait(0.2)
    csock.close()
    _eof(ssock)
    ssock.close()
    b.settle()
    return "the SYN of the new incarnation ended the server's TIME_WAIT (its ISN was beyond RCV.NXT)"


def syn_in_syn_rcvd(b: Bench) -> str:
    b.listen()
    # The handshake's last ACK is lost, so the server's child stays in SYN_RCVD.
    rule = b.net.add_rule(Rule("drop", Match(src="client", flags=".")))
    csock = b.connect()
    cconn = csock.endpoint.conn
    b.net.remove_rule(rule)
    b.note("client", "a SYN with another ISN from the same port (a restarted client) arrives")
    b.inject(b.client, cconn.local, (SERVER_IP, SERVER_PORT), seq=cconn.snd_nxt + 5000, flags="S")
    b.wait(0.2)

    def send_then_recv() -> None:
        csock.sendall(b"hello")
        csock.recv(100)

    b.expect_reset("client", send_then_recv)
    csock.close()
    b.settle()
    return (
        "without RFC 5961 a SYN in the window sends a passive SYN_RCVD back to LISTEN "
        "(RFC 9293 3.10.7.4 fourth); the client's data then met a listener: RST"
    )


def time_wait_restart(b: Bench) -> str:
    lsock, csock, ssock = b.pair()
    ssock.close()  # the server closes first: TIME_WAIT on its port
    _eof(csock)
    csock.close()
    lsock.close()  # the server program exits
    b.wait(1.0)
    b.note("server", f"the server restarts on port {SERVER_PORT}")
    sock = Socket(b.server)
    try:
        sock.bind((SERVER_IP, SERVER_PORT))
    except OSError as exc:
        b.data["first_errno"] = exc.errno
        b.note(
            "server",
            f"bind({SERVER_PORT}) failed: {errno_name(exc)} ({exc.strerror}): the old connection is in TIME_WAIT",
        )
    sock.close()
    sock = Socket(b.server)
    sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    sock.bind((SERVER_IP, SERVER_PORT))
    sock.listen(16)
    b.data["second_bind"] = "ok"
    b.note("server", f"with SO_REUSEADDR bind({SERVER_PORT}) and listen() succeed")
    csock = b.connect()
    ssock, _ = sock.accept()
    b.wait(0.2)
    csock.close()
    _eof(ssock)
    ssock.close()
    sock.close()
    b.settle()
    return (
        "bind() failed with EADDRINUSE while the old connection sat in TIME_WAIT; "
        "with SO_REUSEADDR it succeeded and served a new client"
    )


def backlog(b: Bench) -> str:
    lsock = b.listen(backlog=2)
    clients = []
    for _ in range(5):
        sock = Socket(b.client)
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            sock.connect((SERVER_IP, SERVER_PORT))
        clients.append(sock)
    b.wait(2.0)  # the server is busy: nothing accepted yet
    accepted: list[tuple[float, Socket]] = []
    while len(accepted) < 5:
        if not b.until(lambda: bool(lsock.listener.accept_queue), timeout=200):
            break  # some client gave up (only on very slow or lossy links)
        sock, _ = lsock.accept()
        accepted.append((b.now, sock))
        b.wait(0.5)  # one connection at a time
    b.until(lambda: all(b.state(c) == "ESTABLISHED" for c in clients), timeout=60)
    counters = b.server.counters
    syns = sum(1 for e in b.log.of_kind("segment") if e["flags"] == "S")
    b.data.update(
        listen_drops=counters["listen_drops"],
        listen_overflows=counters["listen_overflows"],
        syns=syns,
        accept_times=[t for t, _ in accepted],
    )
    for sock in clients:
        sock.close()
    for _, sock in accepted:
        _eof(sock)
        sock.close()
    lsock.close()
    b.settle()
    return (
        f"backlog 2, five clients: {syns} SYNs for 5 connections, "
        f"{counters['listen_drops']} dropped by the listener, {len(accepted)} of 5 accepted "
        "in the end"
    )


def syn_flood(b: Bench) -> str:
    lsock = b.listen(backlog=2)
    spoofed = 4
    b.note("server", f"listen(2); {spoofed} SYNs come from spoofed addresses that will never answer")
    for i in range(spoofed):
        b.inject(b.client, (f"203.0.113.{i + 1}", 1024 + i), (SERVER_IP, SERVER_PORT), seq=1000 * (i + 1), flags="S")
    b.wait(0.2)
    children = len(lsock.listener.syn_queue)
    b.note("server", f"{children} half-open children fill the SYN queue: a new SYN gets a cookie, nothing is kept")
    csock = b.connect()
    ssock, _ = lsock.accept()
    csock.sendall(b"served during a flood")
    b.data["received"] = ssock.recv(100)
    csock.close()
    _eof(ssock)
    ssock.close()
    b.until(lambda: not lsock.listener.syn_queue, timeout=60)  # the spoofed children give up
    counters = b.server.counters
    b.data.update(
        syn_queue=children,
        syncookies_sent=counters["syncookies_sent"],
        syncookies_recv=counters["syncookies_recv"],
    )
    lsock.close()
    b.settle()
    return (
        f"{spoofed} spoofed SYNs filled the SYN queue; the client's SYN got a SYN cookie "
        f"(SyncookiesSent {counters['syncookies_sent']}, SyncookiesRecv {counters['syncookies_recv']}) "
        "and the ACK that brought it back made the connection"
    )


def _icmp_about(b: Bench, to_host: Any, ep: Any, icmp_type: int, code: int) -> None:
    """An ICMP error about the segment ``ep``'s connection sent last (its SND.UNA), quoting its IP
    header and first 8 bytes (RFC 792), from the far end of the link as a router would send it."""
    from tcplab.wire import build_icmp_error, build_packet
    from tcplab.wire.tcp import Flags, Segment

    conn = ep.conn
    (lip, lport), (rip, rport) = conn.local, conn.remote
    quoted = build_packet(lip, rip, Segment(lport, rport, conn.snd_una, 0, Flags.SYN, 65535))[:28]
    sender = b.server if to_host is b.client else b.client
    what = {(3, 3): "port unreachable", (3, 1): "host unreachable"}.get((icmp_type, code), f"type {icmp_type}")
    b.note(to_host.name, f"ICMP {what} arrives, quoting sequence number {conn.snd_una - conn.iss} (relative)")
    b.net.inject(sender.name, build_icmp_error(rip, lip, icmp_type, code, quoted))


def icmp_errors(b: Bench) -> str:
    # Act 1: a firewall in front of the server rejects the SYN with "port unreachable".
    b.note("client", "act 1: the SYN is rejected with ICMP port unreachable")
    rule = b.net.add_rule(Rule("drop", Match(src="client", flags="S")))
    csock = Socket(b.client)
    csock.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        csock.connect((SERVER_IP, SERVER_PORT + 1))
    cep = csock.endpoint
    b.wait(0.05)
    _icmp_about(b, b.client, cep, 3, 3)
    b.wait(0.1)
    b.net.remove_rule(rule)
    code = csock.connect_ex((SERVER_IP, SERVER_PORT + 1))
    first = errno_name(OSError(code, ""))
    b.note("client", f"connect() failed: {first}, at once (no SYN retransmissions)")
    b.data["errno"] = code
    csock.close()

    # Act 2: the SYN-ACK of a passive open meets "host unreachable": the request is dropped
    # (Linux tcp_req_err) and the client's retransmitted SYN opens the connection after all.
    b.note("server", "act 2: the SYN-ACK meets ICMP host unreachable")
    lsock = b.listen()
    rule = b.net.add_rule(Rule("drop", Match(src="server", flags="S.")))
    csock = Socket(b.client)
    csock.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        csock.connect((SERVER_IP, SERVER_PORT))
    b.wait(0.1)
    child = _child_of(b, csock)
    _icmp_about(b, b.server, child, 3, 1)
    b.wait(0.1)
    b.net.remove_rule(rule)
    b.until(lambda: b.state(csock) == "ESTABLISHED", timeout=5)
    ssock, _ = lsock.accept()
    ssock.close()
    csock.close()
    b.wait(0.5)

    # Act 3: a simultaneous open; one end's SYN-ACK meets "host unreachable" in SYN_RCVD.
    b.note("client", "act 3: simultaneous open, ICMP host unreachable in SYN_RCVD")
    rule = b.net.add_rule(Rule("drop", Match(src="server", flags="S.")))
    asock, bsock = open_simultaneously(b)
    b.until(lambda: b.state(asock) == "SYN_RCVD", timeout=5)
    _icmp_about(b, b.client, asock.endpoint, 3, 1)
    b.wait(0.1)
    b.net.remove_rule(rule)
    b.abort(bsock)
    asock.close()
    b.settle()
    return (
        f"an ICMP error ends a connection still opening (connect(): {first}; a simultaneous open in "
        "SYN_RCVD too), and drops a passive SYN_RCVD back to LISTEN"
    )


def syn_everywhere(b: Bench) -> str:
    """RFC 793's rule (RFC 5961 off): an in-window SYN in a synchronized state resets."""
    lsock = b.listen()
    acts: list[str] = []

    def syn_to(host: Any, ep: Any, from_host: Any) -> None:
        conn = ep.conn
        b.note(from_host.name, f"a SYN from the peer's port, in {host.name}'s window, arrives")
        b.inject(from_host, conn.remote, conn.local, seq=conn.rcv_nxt, flags="S")
        b.wait(0.2)

    def act(title: str, state: str, prepare: Any, rule: Any = None) -> None:
        b.note("server", f"act {len(acts) + 1}: SYN in {title}")
        _, csock, ssock = b.pair(listener=lsock)
        sep = _child_of(b, csock)
        dropping = b.net.add_rule(rule) if rule is not None else None
        prepare(csock, ssock)
        b.until(lambda: sep.conn.state.value == state, timeout=5)
        syn_to(b.server, sep, b.client)
        if dropping is not None:
            b.net.remove_rule(dropping)
        b.abort(csock)
        ssock.close()
        b.wait(1.0)
        acts.append(state)

    def nothing(csock: Any, ssock: Any) -> None:
        pass

    def client_half_closes(csock: Any, ssock: Any) -> None:
        csock.shutdown(SHUT_WR)
        _eof(ssock)

    def both_half_close(csock: Any, ssock: Any) -> None:
        csock.shutdown(SHUT_WR)
        _eof(ssock)
        ssock.shutdown(SHUT_WR)

    def server_half_closes(csock: Any, ssock: Any) -> None:
        ssock.shutdown(SHUT_WR)

    def both_at_once(csock: Any, ssock: Any) -> None:
        csock.shutdown(SHUT_WR)
        ssock.shutdown(SHUT_WR)

    def server_then_client(csock: Any, ssock: Any) -> None:
        ssock.shutdown(SHUT_WR)
        _eof(csock)
        csock.shutdown(SHUT_WR)

    act("ESTABLISHED", "ESTABLISHED", nothing)
    act("CLOSE_WAIT", "CLOSE_WAIT", client_half_closes)
    client_acks = Match(src="client", flags=".", count=None)
    act("LAST_ACK (the last ACK lost)", "LAST_ACK", both_half_close, Rule("drop", client_acks))
    act("FIN_WAIT_1 (the ACK of the FIN lost)", "FIN_WAIT_1", server_half_closes, Rule("drop", client_acks))
    act("FIN_WAIT_2", "FIN_WAIT_2", server_half_closes)
    act("CLOSING (the FINs crossed, the ACKs lost)", "CLOSING", both_at_once, Rule("drop", client_acks))
    act("TIME_WAIT", "TIME_WAIT", server_then_client)

    # SYN_RCVD of an active open: a simultaneous open whose SYN-ACK to the client is lost.
    b.note("client", f"act {len(acts) + 1}: SYN in SYN_RCVD (simultaneous open)")
    rule = b.net.add_rule(Rule("drop", Match(src="server", flags="S.")))
    csock, ssock = open_simultaneously(b)
    b.until(lambda: b.state(csock) == "SYN_RCVD", timeout=5)
    syn_to(b.client, csock.endpoint, b.server)
    b.net.remove_rule(rule)
    b.linger0(ssock)
    ssock.close()
    csock.close()
    acts.append("SYN_RCVD")
    b.settle()
    return "without RFC 5961, an in-window SYN in " + ", ".join(acts) + " drew a RST and closed the connection"

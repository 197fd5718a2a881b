"""Two incarnations of one connection: why TIME_WAIT lasts 2 MSL, and why a restarted host may
keep quiet for MSL (RFC 9293 3.4.3 and 3.6).

Both stories need an "old duplicate": a segment of the first incarnation that wandered in the
network (a router held it, a path changed) and arrives after the second incarnation of the same
4-tuple began. The stories put that copy back on the wire themselves (``Bench.inject``), exactly
as the first incarnation sent it, at a chosen moment. They run on a TCP without the later
defences — no timestamps (so no PAWS, RFC 7323) and no RFC 5961 ACK check — which is the TCP the
RFC's reasoning is about; with those, the old segment would be rejected too.
"""

from __future__ import annotations

import contextlib
from typing import Any

from tcplab.scenarios.base import CLIENT_IP, SERVER_IP, SERVER_PORT, Bench, errno_name
from tcplab.socket import Socket

FRESH = b"fresh data of the new incarnation\n"


def _old_stream(n: int) -> bytes:
    """Recognisable bytes: the first incarnation's transfer."""
    line = b"old incarnation data......\n"
    return (line * (n // len(line) + 1))[:n]


def _transfer(b: Bench, sender: Any, receiver: Any, data: bytes) -> bytes:
    """``sender`` sends ``data`` while ``receiver`` reads it; what arrived."""
    sender.setblocking(False)
    receiver.setblocking(False)
    sent, got = 0, bytearray()
    end = b.now + 120.0 * b.stretch
    while len(got) < len(data) and b.now < end:
        if sent < len(data):
            with contextlib.suppress(BlockingIOError):
                sent += sender.send(data[sent : sent + 65536])
        with contextlib.suppress(BlockingIOError):
            got += receiver.recv(len(data))
        b.wait(0.01)
    return bytes(got)


def _read(sock: Any, n: int, b: Bench, timeout: float = 10.0) -> bytes:
    got = bytearray()
    sock.setblocking(False)
    end = b.now + timeout * b.stretch
    while len(got) < n and b.now < end:
        try:
            chunk = sock.recv(n - len(got))
        except BlockingIOError:
            b.wait(0.01)
            continue
        if not chunk:
            break
        got += chunk
    return bytes(got)


def _sent_segments(b: Bench, port: int) -> list[dict[str, Any]]:
    """The data segments the server sent to the client's ``port``, as the trace saw them."""
    return [
        e
        for e in b.log.events
        if e["kind"] == "segment" and e["src"] == "server" and e["dport"] == port and e["len"] > 0
    ]


def _old_duplicate(b: Bench, port: int, old_isn: int, old: bytes, covering: int) -> dict[str, Any] | None:
    """The first incarnation's data segment whose sequence range holds ``covering``."""
    for e in _sent_segments(b, port):
        start = e["abs_seq"]
        if (covering - start) % 2**32 < e["len"]:
            off = (start - old_isn - 1) % 2**32
            return {"seq": start, "ack": e["abs_ack"], "off": off, "payload": old[off : off + e["len"]]}
    return None


def _connect_nonblocking(b: Bench, port: int) -> Any:
    sock = Socket(b.client)
    sock.bind((CLIENT_IP, port))
    sock.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        sock.connect((SERVER_IP, SERVER_PORT))
    return sock


def _new_incarnation_reads(b: Bench, client: Any, server: Any) -> bool:
    """The new server sends FRESH; True when the client read something else (corrupted)."""
    server.sendall(FRESH)
    got = _read(client, len(FRESH), b, timeout=2.0)
    b.data.setdefault("read", []).append(got)
    corrupted = got != FRESH
    what = "OLD bytes as new" if corrupted else "its own data"
    b.note("client", f"the new connection read {what}: {got[:27]!r}")
    return corrupted


def _wait_established(b: Bench, sock: Any) -> None:
    b.until(lambda: b.state(sock) == "ESTABLISHED", timeout=120.0)


def _inject(b: Bench, port: int, dup: dict[str, Any]) -> None:
    end = dup["off"] + len(dup["payload"])
    b.note("server", f"a late copy of an old segment (bytes {dup['off']}..{end} of the first incarnation) arrives")
    b.inject(
        b.server,
        (SERVER_IP, SERVER_PORT),
        (CLIENT_IP, port),
        seq=dup["seq"],
        ack=dup["ack"],
        flags="P.",
        payload=dup["payload"],
    )


def _verdict(b: Bench, corrupted: list[bool], story: str) -> str:
    """Let everything finish; the summary line (``story`` when act 1 was corrupted, act 2 not)."""
    b.data["corrupted"] = corrupted
    b.settle()
    return story if corrupted == [True, False] else f"old duplicate accepted as new, act by act: {corrupted}"


def why_time_wait(b: Bench) -> str:
    lsock = b.listen()
    old = _old_stream(1_000_000)
    results = []
    for act, keep_time_wait in ((1, False), (2, True)):
        port = 40000 + act
        way = "closes normally: TIME_WAIT" if keep_time_wait else "closes with SO_LINGER 0: RST, no TIME_WAIT"
        b.note("client", f"act {act}: the first incarnation from port {port}; the client {way}")
        csock = b.connect(bind=port)
        ssock, _ = lsock.accept()
        old_isn = ssock.endpoint.conn.iss
        assert _transfer(b, ssock, csock, old) == old
        if not keep_time_wait:
            b.linger0(csock)
        csock.close()
        with contextlib.suppress(OSError):  # the server reads end-of-file, or the reset
            _read(ssock, 1, b, timeout=1.0)
        ssock.close()
        b.wait(0.2)
        # The server will pick the new incarnation's ISN when the new SYN arrives: one link
        # delay from now. The old segment that covers it lands right in the new window.
        t_syn = b.now + b.delay
        new_isn = b.server.isn((SERVER_IP, SERVER_PORT), (CLIENT_IP, port), t_syn)
        dup = _old_duplicate(b, port, old_isn, old, (new_isn + 1) % 2**32)
        again = None
        try:
            again = b.connect(bind=port)
        except OSError as exc:
            b.note("client", f"connect from port {port} again: {errno_name(exc)}: the old 4-tuple is in TIME_WAIT")
        if dup is not None:
            b.wait(0.2)
            _inject(b, port, dup)
        if again is None:
            b.wait(61.0)  # 2 MSL: TIME_WAIT ends, and any old duplicate with it
            again = b.connect(bind=port)
        fresh_sock, _ = lsock.accept()
        b.wait(0.2)
        results.append(_new_incarnation_reads(b, again, fresh_sock))
        again.close()
        fresh_sock.close()
        b.wait(1.0)
    return _verdict(
        b,
        results,
        "without TIME_WAIT an old duplicate of the first incarnation was accepted as new data; "
        "with TIME_WAIT it was rejected and the new connection read its own bytes",
    )


def quiet_time(b: Bench) -> str:
    old = _old_stream(200_000)
    results = []
    for act, quiet in ((1, False), (2, True)):
        port = 40200 + act
        b.server.config.quiet_time = False
        b.note("server", f"act {act}: the server host boots")
        b.server.restart(b.now)
        lsock = b.listen()
        csock = b.connect(bind=port)
        ssock, _ = lsock.accept()
        old_isn = ssock.endpoint.conn.iss
        assert _transfer(b, ssock, csock, old) == old
        b.wait(0.5)
        b.server.config.quiet_time = quiet
        state = "on" if quiet else "off"
        b.note("server", f"the server host crashes and restarts (quiet time {state}): it forgets every connection")
        b.server.restart(b.now)
        b.wait(0.1)
        lsock = b.listen()  # the server program starts again
        b.linger0(csock)
        csock.close()  # the client gives up on the old connection and connects again
        # The restarted server picks the ISN when the new SYN arrives, one link delay from now;
        # its clock started again from zero, so that ISN lies in the old sequence space.
        new_isn = b.server.isn((SERVER_IP, SERVER_PORT), (CLIENT_IP, port), b.now + b.delay)
        dup = _old_duplicate(b, port, old_isn, old, (new_isn + 1) % 2**32)
        again = _connect_nonblocking(b, port)
        if dup is not None:
            b.wait(0.3)
            _inject(b, port, dup)
        _wait_established(b, again)
        fresh_sock, _ = lsock.accept()
        b.data.setdefault("isn_shift", []).append((fresh_sock.endpoint.conn.iss - old_isn) % 2**32)
        results.append(_new_incarnation_reads(b, again, fresh_sock))
        again.close()
        fresh_sock.close()
        lsock.close()
        b.wait(1.0)
    return _verdict(
        b,
        results,
        "restarted at once, the server reused its old ISN and an old duplicate was read as new; "
        "with quiet time it stayed silent for MSL and the new connection was clean",
    )

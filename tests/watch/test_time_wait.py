"""TIME_WAIT as ``tcplab watch`` reports it, against the real kernel (root only).

The active closer of every close below waits in TIME_WAIT; Linux keeps it 60 s
(TCP_TIMEWAIT_LEN, no sysctl changes it). The tests end it the way an administrator can: ``ss -K``
destroys the minisock through sock_diag (SOCK_DESTROY), and the watcher must report that end too,
without claiming it was the 2MSL timeout. The natural 60 s end is covered with a scripted
sock_diag in test_units.py.

Every test uses its own namespace, address and port (the tracepoint is global).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tcplab.watch import KernelWatcher, sequence

from .conftest import Netns

# The client connects, sends 1000 bytes, the server reads them; then the scenario's closes.
PROLOGUE = """
    import socket, struct, time
    A, P = {addr!r}, {port}
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((A, P))
    s.listen()
    c = socket.create_connection((A, P))
    print(c.getsockname()[1], flush=True)
    a, _ = s.accept()
    c.sendall(b"x" * 1000)
    assert len(a.recv(2000)) == 1000
"""

CLIENT_CLOSES_FIRST = """
    c.close()                   # orphaned: its FIN_WAIT_2 becomes a minisock
    time.sleep({delay})
    assert a.recv(1) == b""
    a.close()
    s.close()
"""

SERVER_CLOSES_FIRST = """
    a.close()
    assert c.recv(1) == b""
    time.sleep(0.1)
    c.close()
    s.close()
"""

CLIENT_SHUTDOWN = """
    c.shutdown(socket.SHUT_WR)  # not orphaned: FIN_WAIT_2 stays a full socket
    assert a.recv(1) == b""
    time.sleep(0.1)
    a.close()
    assert c.recv(1) == b""
    time.sleep(0.1)             # the client is in TIME_WAIT already, its descriptor still open
    c.close()
    s.close()
"""

# Both FINs leave before either arrives: a token bucket on lo (emptied by three UDP datagrams)
# holds them for about 0.1 s, so they cross. Each end receives a FIN that does not acknowledge
# its own: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both (RFC 9293 3.6, Figure 13).
SIMULTANEOUS = """
    import subprocess
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((A, 0))
    subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "200kbit",
                    "burst", "2kb", "limit", "100kb"], check=True)
    for _ in range(3):
        u.sendto(b"f" * 1400, u.getsockname())
    c.close()
    a.close()
    time.sleep(1.0)
    subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=True)
    s.close()
"""

CLIENT = ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED"]
SERVER_PASSIVE_CLOSE = ["LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
SERVER_ACTIVE_CLOSE = ["LISTEN", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED"]
CLIENT_PASSIVE_CLOSE = ["CLOSED", "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]


def _states(seen: list[dict], conn: str) -> list[str]:
    """The states one side went through: the first ``from``, then every ``to``."""
    mine = [e for e in seen if e["kind"] == "state" and e["conn"] == conn]
    return [mine[0]["from"], *sequence(mine)] if mine else []


def _kill_time_wait(ns: Netns) -> None:
    subprocess.run(
        ["ip", "netns", "exec", ns.name, "ss", "-K", "-tn", "state", "time-wait"], check=True, capture_output=True
    )


def _run(ns: Netns, w: KernelWatcher, code: str, *, live: bool = True, **fmt: object) -> int:
    """Run the prologue and ``code`` in the namespace; the client's port. ``live``: the watcher
    reads while it runs (as ``tcplab watch`` does); else only afterwards (read late)."""
    code = (textwrap.dedent(PROLOGUE) + textwrap.dedent(code)).format(addr=ns.addr, port=ns.port, **fmt)
    if not live:
        return int(ns.run_py(code).stdout)
    cmd = ["ip", "netns", "exec", ns.name, sys.executable, "-c", code]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        while proc.poll() is None:
            w.poll(0.05)
        out, err = proc.communicate()
    assert proc.returncode == 0, err
    return int(out)


def _play(ns: Netns, w: KernelWatcher, closes: str, *, closers: int = 1, **fmt: object) -> tuple[str, str]:
    """Run the prologue and ``closes``; wait for ``closers`` TIME_WAITs and the closes; end
    the TIME_WAITs with ``ss -K`` and wait for those ends. Returns (client, server) endpoints."""
    cport = _run(ns, w, closes, **fmt)
    client, server = f"{ns.addr}:{cport}", f"{ns.addr}:{ns.port}"
    conns = (f"{client}-{server}", f"{server}-{client}")

    def closed(ev: list[dict]) -> bool:
        waits = sum(1 for e in ev if e["to"] == "TIME_WAIT" and e["conn"] in conns)
        ends = sum(1 for e in ev if e["to"] == "CLOSED" and e["conn"] in conns)
        return waits == closers and ends == 2 - closers

    seen = w.wait_for(closed, timeout=10)
    assert closed(seen), f"did not see {closers} TIME_WAIT(s): {seen}"
    _kill_time_wait(ns)
    w.wait_for(lambda ev: sum(1 for e in ev if e["to"] == "CLOSED" and e["conn"] in conns) == 2, timeout=10)
    return client, server


def _ended_early(seen: list[dict], conn: str) -> None:
    """The TIME_WAIT that ``ss -K`` ended: reported, and not as the 2MSL timeout."""
    end = [e for e in seen if e["kind"] == "state" and e["conn"] == conn][-1]
    assert (end["from"], end["to"], end["rfc_cause"]) == ("TIME_WAIT", "CLOSED", None)
    assert end["linux"].startswith("timewait minisock gone ")
    assert end["linux"].endswith("before its timer's end: an RST or SOCK_DESTROY (ss -K) ended it")


def _ordered(seen: list[dict], conn: str) -> list[float]:
    times = [e["t"] for e in seen if e["kind"] == "state" and e["conn"] == conn]
    assert times == sorted(times)
    return times


@pytest.mark.parametrize(("delay", "live"), [(0.1, True), (0.5, True), (0.5, False)])
def test_client_closes_first_server_later(netns: Netns, delay: float, live: bool) -> None:
    """The issue's story: close() orphans the client's socket; its FIN_WAIT_2 becomes a minisock
    that moves to TIME_WAIT without a tracepoint when the server's FIN comes, 0.1 or 0.5 s on
    (watched live, or read afterwards: then the minisock is in TIME_WAIT when first looked at)."""
    with KernelWatcher(port=netns.port, address=netns.addr, netns=netns.name) as w:
        client, server = _play(netns, w, CLIENT_CLOSES_FIRST, delay=delay, live=live)
        seen = w.log
    c, s = f"{client}-{server}", f"{server}-{client}"
    assert _states(seen, c) == CLIENT
    assert _states(seen, s) == SERVER_PASSIVE_CLOSE
    tw = next(e for e in seen if e.get("conn") == c and e.get("to") == "TIME_WAIT")
    assert tw["rfc_cause"] == "rcv FIN"
    assert 59.0 < tw["timer"] <= 60.0  # TIME_WAIT_LEN, just started
    _ended_early(seen, c)
    # the move to TIME_WAIT (dated from the minisock's timer) lies between the server's FIN
    # and the server's LAST_ACK ending on the client's ACK of it
    fin_sent = next(e["t"] for e in seen if e.get("conn") == s and e.get("to") == "LAST_ACK")
    last_ack_done = next(e["t"] for e in seen if e.get("conn") == s and e.get("to") == "CLOSED")
    assert fin_sent <= tw["t"] <= last_ack_done
    fin_wait_2 = next(e["t"] for e in seen if e.get("conn") == c and e.get("to") == "FIN_WAIT_2")
    assert tw["t"] - fin_wait_2 > delay - 0.06  # not the 50 ms "gone" of the old bug
    _ordered(seen, c)
    notes = [e["text"] for e in seen if e["kind"] == "note"]
    assert any(n.startswith("Linux: after close() a FIN_WAIT_2 socket becomes a minisock") for n in notes)


def test_server_closes_first(netns: Netns) -> None:
    with KernelWatcher(port=netns.port, address=netns.addr, netns=netns.name) as w:
        client, server = _play(netns, w, SERVER_CLOSES_FIRST)
        seen = w.log
    c, s = f"{client}-{server}", f"{server}-{client}"
    assert _states(seen, s) == SERVER_ACTIVE_CLOSE
    assert _states(seen, c) == CLIENT_PASSIVE_CLOSE
    tw = next(e for e in seen if e.get("conn") == s and e.get("to") == "TIME_WAIT")
    assert tw["rfc_cause"] == "rcv FIN"
    _ended_early(seen, s)
    _ordered(seen, s)


def test_shutdown_instead_of_close(netns: Netns) -> None:
    """shutdown(SHUT_WR): FIN_WAIT_2 is a full socket, its move to TIME_WAIT is a tracepoint
    FIN_WAIT2 -> CLOSE (the handover to the minisock), reported as FIN_WAIT_2 -> TIME_WAIT."""
    with KernelWatcher(port=netns.port, address=netns.addr, netns=netns.name) as w:
        client, server = _play(netns, w, CLIENT_SHUTDOWN)
        seen = w.log
    c, s = f"{client}-{server}", f"{server}-{client}"
    assert _states(seen, c) == CLIENT
    assert _states(seen, s) == SERVER_PASSIVE_CLOSE
    tw = next(e for e in seen if e.get("conn") == c and e.get("to") == "TIME_WAIT")
    assert tw["rfc_cause"] == "rcv FIN"
    assert tw["linux"] == "TCP_FIN_WAIT2 -> TCP_CLOSE: timewait minisock"
    _ended_early(seen, c)
    _ordered(seen, c)


def test_simultaneous_close_through_closing(netns: Netns) -> None:
    with KernelWatcher(port=netns.port, address=netns.addr, netns=netns.name) as w:
        client, server = _play(netns, w, SIMULTANEOUS, closers=2)
        seen = w.log
    c, s = f"{client}-{server}", f"{server}-{client}"
    both = ["ESTABLISHED", "FIN_WAIT_1", "CLOSING", "TIME_WAIT", "CLOSED"]
    assert _states(seen, c) == ["CLOSED", "SYN_SENT", *both]
    assert _states(seen, s) == ["LISTEN", "SYN_RCVD", *both]
    for conn in (c, s):
        tw = next(e for e in seen if e.get("conn") == conn and e.get("to") == "TIME_WAIT")
        assert (tw["from"], tw["rfc_cause"]) == ("CLOSING", "rcv ACK of FIN")
        assert tw["linux"] == "TCP_CLOSING -> TCP_CLOSE: timewait minisock"
        _ended_early(seen, conn)
        _ordered(seen, conn)


def test_orphan_fin_wait_2_times_out(netns: Netns) -> None:
    """tcp_fin_timeout (a per-namespace sysctl) ends an orphan's FIN_WAIT_2 minisock; the
    server's late FIN then meets no socket and gets an RST."""
    subprocess.run(
        ["ip", "netns", "exec", netns.name, "sysctl", "-q", "-w", "net.ipv4.tcp_fin_timeout=1"],
        check=True, capture_output=True,
    )  # fmt: skip
    closes = """
        c.close()
        time.sleep(2.0)             # longer than tcp_fin_timeout
        a.close()
        time.sleep(0.1)
        s.close()
    """
    with KernelWatcher(port=netns.port, address=netns.addr, netns=netns.name) as w:
        cport = _run(netns, w, closes)
        client, server = f"{netns.addr}:{cport}", f"{netns.addr}:{netns.port}"
        c, s = f"{client}-{server}", f"{server}-{client}"
        w.wait_for(lambda ev: sum(1 for e in ev if e["to"] == "CLOSED" and e["conn"] in (c, s)) == 2, timeout=10)
        seen = w.log
    assert _states(seen, c) == ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSED"]
    assert _states(seen, s) == SERVER_PASSIVE_CLOSE
    end = [e for e in seen if e["kind"] == "state" and e["conn"] == c][-1]
    assert (end["rfc_cause"], end["linux"]) == ("timeout FIN_WAIT_2", "timewait minisock gone")
    fin_wait_2, gone = [e["t"] for e in seen if e["kind"] == "state" and e["conn"] == c][-2:]
    assert gone - fin_wait_2 >= 0.7  # tcp_fin_time(): at least 1 s, or 3.5 RTO
    assert not any(e.get("to") == "TIME_WAIT" for e in seen)

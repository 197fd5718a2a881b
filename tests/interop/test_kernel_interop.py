"""tcplab's TCP against the Linux kernel's TCP over a TUN device: transfers, closes, half-closes,
address reuse, TIME_WAIT reuse. The kernel side runs as ``kpeer.py`` inside the namespace; its
states are read with ``ss -tan``; tcplab's from its event log and ``tcplab.netstat``."""

from __future__ import annotations

import errno
import hashlib

import pytest

from tcplab import netstat
from tcplab.socket import AF_INET, AF_INET6, Socket

from .helpers import H4, H6, K4, K6, MB, TunBench, blob, exchange, listen

PORT = 9527
BIG = 20 * MB


def _fmt(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _ss_now(tun: TunBench, local: str, peer: str) -> str | None:
    for state, lo, pe in tun.ss():
        if lo == local and pe == peer:
            return state
    return None


def _ss_row(tun: TunBench, local: str, peer: str, want: str | None) -> str | None:
    """The kernel's state of the connection in ``ss -tan`` (None: no row), once it is ``want``
    or after a bounded wait (packets in flight on the link are processed meanwhile)."""
    for _ in range(100):
        state = _ss_now(tun, local, peer)
        if state == want:
            return state
        tun.runtime.run_until(lambda: False, 0.05)
    return state


def _tcplab_now(tun: TunBench, local: tuple[str, int], remote: tuple[str, int]) -> str | None:
    for row in netstat.snapshot(tun.host)["rows"]:
        if row["local"] == _fmt(*local) and row["peer"] == _fmt(*remote):
            return row["state"]
    return None


def _tcplab_state(tun: TunBench, local: tuple[str, int], remote: tuple[str, int], want: str | None) -> str | None:
    """tcplab's state of the connection in its netstat rows, once it is ``want`` or after a
    bounded wait."""
    tun.runtime.run_until(lambda: _tcplab_now(tun, local, remote) == want, 5)
    return _tcplab_now(tun, local, remote)


FAMILIES = [pytest.param((K4, H4), id="ipv4"), pytest.param((K6, H6), id="ipv6")]


@pytest.mark.parametrize("addrs", FAMILIES)
def test_kernel_client_echo_client_closes_first(tun: TunBench, addrs) -> None:
    kip, hip = addrs
    srv = listen(tun, hip)
    peer = tun.kpeer("client", hip, PORT, "--send", BIG, "--recv", BIG)
    conn, (pip, pport, *_) = srv.accept()
    assert pip == kip
    got = exchange(tun, conn, b"", None, echo=True, until_eof=True)
    done = peer.wait("done")
    assert len(got) == BIG
    assert hashlib.sha256(got).hexdigest() == done["sent_sha"] == done["recv_sha"]
    assert done["recv"] == BIG
    peer.wait("closed")
    # tcplab got the FIN first: CLOSE_WAIT while the kernel waits in FIN_WAIT_2.
    assert _tcplab_state(tun, (hip, PORT), (kip, pport), "CLOSE_WAIT") == "CLOSE_WAIT"
    assert _ss_row(tun, _fmt(kip, pport), _fmt(hip, PORT), "FIN-WAIT-2") == "FIN-WAIT-2"
    conn.close()
    label = f"{_fmt(hip, PORT)}-{_fmt(kip, pport)}"
    tun.runtime.run_until(lambda: tun.states(label)[-1:] == ["CLOSED"], 10)
    assert tun.states(label) == ["LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    # The kernel closed first: it holds TIME_WAIT; tcplab has forgotten the connection.
    assert _ss_row(tun, _fmt(kip, pport), _fmt(hip, PORT), "TIME-WAIT") == "TIME-WAIT"
    assert _tcplab_state(tun, (hip, PORT), (kip, pport), None) is None
    assert tun.host.counters["internal_errors"] == 0
    srv.close()


@pytest.mark.parametrize("addrs", FAMILIES)
def test_kernel_client_echo_server_closes_first(tun: TunBench, addrs) -> None:
    kip, hip = addrs
    srv = listen(tun, hip)
    peer = tun.kpeer("client", hip, PORT, "--send", BIG, "--recv", BIG, "--eof", "--pause")
    conn, (_, pport, *_) = srv.accept()
    got = exchange(tun, conn, b"", BIG, echo=True)
    assert len(got) == BIG
    conn.close()  # tcplab closes first
    done = peer.wait("done")
    assert done["eof"] is True
    assert hashlib.sha256(got).hexdigest() == done["sent_sha"] == done["recv_sha"]
    assert _ss_row(tun, _fmt(kip, pport), _fmt(hip, PORT), "CLOSE-WAIT") == "CLOSE-WAIT"
    assert _tcplab_state(tun, (hip, PORT), (kip, pport), "FIN_WAIT_2") == "FIN_WAIT_2"
    peer.resume()
    peer.wait("closed")
    label = f"{_fmt(hip, PORT)}-{_fmt(kip, pport)}"
    tun.runtime.run_until(lambda: tun.states(label)[-1:] == ["TIME_WAIT"], 10)
    assert tun.states(label) == ["LISTEN", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert _tcplab_state(tun, (hip, PORT), (kip, pport), "TIME_WAIT") == "TIME_WAIT"
    # The kernel went LAST_ACK -> CLOSED: no row left.
    assert _ss_row(tun, _fmt(kip, pport), _fmt(hip, PORT), None) is None
    srv.close()


@pytest.mark.parametrize("addrs", FAMILIES)
def test_tcplab_client_kernel_echo_server_client_closes_first(tun: TunBench, addrs) -> None:
    kip, hip = addrs
    peer = tun.kpeer("server", kip, PORT, "--echo", "--eof", "--pause")
    peer.wait("listening", 20)
    sock = Socket(tun.host, AF_INET6 if ":" in kip else AF_INET)
    sock.settimeout(10)
    sock.connect((kip, PORT))
    lport = sock.getsockname()[1]
    data = blob(BIG, seed=7)
    got = exchange(tun, sock, data, BIG, shut=True)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    done = peer.wait("done")
    assert done["recv_sha"] == hashlib.sha256(data).hexdigest()
    # tcplab half-closed first: the kernel is in CLOSE_WAIT, tcplab in FIN_WAIT_2.
    assert _ss_row(tun, _fmt(kip, PORT), _fmt(hip, lport), "CLOSE-WAIT") == "CLOSE-WAIT"
    assert _tcplab_state(tun, (hip, lport), (kip, PORT), "FIN_WAIT_2") == "FIN_WAIT_2"
    peer.resume()
    peer.wait("closed")
    label = f"{_fmt(hip, lport)}-{_fmt(kip, PORT)}"
    tun.runtime.run_until(lambda: tun.states(label)[-1:] == ["TIME_WAIT"], 10)
    sock.close()
    assert tun.states(label) == ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert _tcplab_state(tun, (hip, lport), (kip, PORT), "TIME_WAIT") == "TIME_WAIT"
    assert _ss_row(tun, _fmt(kip, PORT), _fmt(hip, lport), None) is None


@pytest.mark.parametrize("addrs", FAMILIES)
def test_tcplab_client_kernel_server_closes_first(tun: TunBench, addrs) -> None:
    kip, hip = addrs
    peer = tun.kpeer("server", kip, PORT, "--send", BIG, "--recv", BIG)
    peer.wait("listening", 20)
    sock = Socket(tun.host, AF_INET6 if ":" in kip else AF_INET)
    sock.settimeout(10)
    sock.connect((kip, PORT))
    lport = sock.getsockname()[1]
    data = blob(BIG, seed=9)
    got = exchange(tun, sock, data, BIG, until_eof=True)
    done = peer.wait("closed")  # the kernel closed first after its transfer
    assert hashlib.sha256(got).hexdigest() == peer.event("done")["sent_sha"]
    assert peer.event("done")["recv_sha"] == hashlib.sha256(data).hexdigest()
    assert done["event"] == "closed"
    assert _ss_row(tun, _fmt(kip, PORT), _fmt(hip, lport), "FIN-WAIT-2") == "FIN-WAIT-2"
    assert _tcplab_state(tun, (hip, lport), (kip, PORT), "CLOSE_WAIT") == "CLOSE_WAIT"
    sock.close()
    label = f"{_fmt(hip, lport)}-{_fmt(kip, PORT)}"
    tun.runtime.run_until(lambda: tun.states(label)[-1:] == ["CLOSED"], 10)
    assert tun.states(label) == ["CLOSED", "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert _ss_row(tun, _fmt(kip, PORT), _fmt(hip, lport), "TIME-WAIT") == "TIME-WAIT"


def test_half_close_kernel_shuts_write_tcplab_keeps_sending(tun: TunBench) -> None:
    srv = listen(tun, H4)
    peer = tun.kpeer("client", H4, PORT, "--send", MB, "--shut", "--eof")
    conn, _ = srv.accept()
    got = exchange(tun, conn, b"", None, until_eof=True)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(blob(MB)).hexdigest()
    # The kernel has shut its write side; tcplab (CLOSE_WAIT) keeps sending 5 MB.
    reply = blob(5 * MB, seed=3)
    exchange(tun, conn, reply, None)
    conn.close()
    done = peer.wait("closed")
    assert peer.event("done")["recv_sha"] == hashlib.sha256(reply).hexdigest()
    assert peer.event("done")["eof"] is True
    assert done["event"] == "closed"
    srv.close()


def test_half_close_tcplab_shuts_write_kernel_keeps_sending(tun: TunBench) -> None:
    peer = tun.kpeer("server", K4, PORT, "--after-eof", "--eof", "--send", 5 * MB)
    peer.wait("listening", 20)
    sock = Socket(tun.host)
    sock.settimeout(10)
    sock.connect((K4, PORT))
    lport = sock.getsockname()[1]
    data = blob(MB, seed=5)
    exchange(tun, sock, data, 0, shut=True)  # send 1 MB, then FIN
    got = exchange(tun, sock, b"", None, until_eof=True)  # the kernel keeps sending 5 MB
    done = peer.wait("closed")
    assert peer.event("done")["recv_sha"] == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(got).hexdigest() == peer.event("done")["sent_sha"]
    assert len(got) == 5 * MB
    assert done["event"] == "closed"
    label = f"{_fmt(H4, lport)}-{_fmt(K4, PORT)}"
    tun.runtime.run_until(lambda: tun.states(label)[-1:] == ["TIME_WAIT"], 10)
    assert tun.states(label) == ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    sock.close()


def test_restart_after_server_closed_first_and_time_wait_reuse(tun: TunBench) -> None:
    srv = listen(tun, H4)
    peer = tun.kpeer("client", H4, PORT, "--bind-port", 40000, "--send", 1000, "--recv", 1000, "--eof")
    conn, _ = srv.accept()
    exchange(tun, conn, b"", 1000, echo=True)
    conn.close()  # tcplab closes first -> TIME_WAIT on its side
    peer.wait("closed")
    assert _tcplab_state(tun, (H4, PORT), (K4, 40000), "TIME_WAIT") == "TIME_WAIT"
    srv.close()
    # Restarted at once on the same port: EADDRINUSE without SO_REUSEADDR ...
    again = Socket(tun.host)
    with pytest.raises(OSError) as info:
        again.bind((H4, PORT))
    assert info.value.errno == errno.EADDRINUSE
    again.close()
    # ... success with it.
    srv2 = listen(tun, H4, reuseaddr=True)
    # The kernel reconnects from the same port while tcplab still holds TIME_WAIT for that
    # 4-tuple: its new SYN (ISN and timestamp newer) reopens the connection, as Linux does.
    peer2 = tun.kpeer("client", H4, PORT, "--bind-port", 40000, "--send", 2000, "--recv", 2000)
    conn2, addr2 = srv2.accept()
    assert addr2 == (K4, 40000)
    exchange(tun, conn2, b"", None, echo=True, until_eof=True)
    done = peer2.wait("closed")
    assert peer2.event("done")["recv_sha"] == peer2.event("done")["sent_sha"]
    assert done["event"] == "closed"
    conn2.close()
    srv2.close()
    label = f"{_fmt(H4, PORT)}-{_fmt(K4, 40000)}"
    tun.runtime.run_until(lambda: tun.states(label)[-1:] == ["CLOSED"] and tun.states(label).count("CLOSED") == 2, 10)
    states = tun.states(label)
    # (FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT, or straight to TIME_WAIT when the kernel's ACK of
    # our FIN rides on its own FIN: both happen, depending on when the kernel's reader wakes.)
    first = states[: states.index("TIME_WAIT") + 1]
    assert first in (
        ["LISTEN", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"],
        ["LISTEN", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1", "TIME_WAIT"],
    )
    # The SYN ended the TIME_WAIT incarnation; a new one went through the listener.
    assert states[len(first) :] == ["CLOSED", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    causes = [
        e["cause"]
        for e in tun.host.log.events
        if e["kind"] == "state" and e.get("conn") == label and e["from"] == "TIME_WAIT"
    ]
    assert causes == ["rcv SYN in TIME_WAIT"]
    assert tun.host.counters["no_listener_resets"] == 0
    assert tun.host.counters["internal_errors"] == 0

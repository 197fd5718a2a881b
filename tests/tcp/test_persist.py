"""The persist timer gives up as Linux's tcp_probe_timer does (measured on this machine:
/work/notes/linux-behaviour.md I and /work/notes/persist.md): tcp_retries2 unanswered probes,
TCP_USER_TIMEOUT after the first probe even if answered, tcp_orphan_retries for a closed socket.
Before, a zero window and a vanished peer kept a connection ESTABLISHED for ever."""

from __future__ import annotations

import errno

from tcplab.net.simhost import two_hosts
from tcplab.socket import Socket
from tcplab.tcp import State
from tcplab.tcp.events import TimedOut

from .helpers import ISS, PEER_ISS, Peer, classic, seg

PROBE = (".", ISS + 1, PEER_ISS + 1, 65535, 1)  # one octet of new data (RFC 9293 3.8.6.1)


def zero_window(**config) -> Peer:
    """ESTABLISHED (RTO 200 ms), the peer's window closed, 100 bytes waiting to be sent."""
    p = Peer(classic(**config)).to_established()
    p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=0))
    p.conn.send(b"x" * 100, 0.0)
    assert p.out() == []  # nothing may go into a zero window
    return p


def test_unanswered_probes_give_up_after_retries2():
    # Linux, tcp_retries2=4, peer silent: probes at 0.21, 0.64, 1.48, 3.14 s, ETIMEDOUT at 6.50 s.
    p = zero_window(retries2=4)
    assert p.advance(30 * 24 * 3600.0) == [(t, *PROBE) for t in (0.2, 0.6, 1.4, 3.0)]
    assert p.state is State.CLOSED
    assert p.transitions[-1] == ("ESTABLISHED", "CLOSED", "timeout")
    assert p.conn.error == errno.ETIMEDOUT
    assert any(isinstance(ev, TimedOut) for ev in p.events())
    assert p.conn.next_deadline() is None  # no RST was sent and nothing is left to do


def test_default_retries2_gives_up_within_the_hour():
    p = zero_window()  # tcp_retries2 = 15: the backoff reaches the 120 s ceiling
    probes = 0
    while p.state is not State.CLOSED:
        probes += len(p.advance(p.conn.next_deadline()))
    assert probes == 15
    assert round(p.now, 1) == 924.6  # the figure of Linux's tcp_retries2 model (RTO 200 ms)


def test_user_timeout_ends_it_even_while_the_peer_answers():
    # Linux, TCP_USER_TIMEOUT 3000 ms, probes answered with a zero window: 4 probes, ETIMEDOUT
    # at 3.33 s = first probe + 3 s (the last wait is cut to end there).
    p = zero_window(user_timeout=3.0)
    times = []
    while p.state is not State.CLOSED:
        times += [t for t, *_ in p.advance(p.conn.next_deadline())]
        if p.state is not State.CLOSED:
            p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=0))
    assert times == [0.2, 0.6, 1.4, 3.0]
    assert round(p.now, 6) == 3.2
    assert p.conn.error == errno.ETIMEDOUT


def test_an_orphan_gets_orphan_retries_probes():
    # Linux, a closed socket (FIN queued behind the data: FIN_WAIT_1), peer silent: 8 probes
    # (tcp_orphan_retries 0 means 8), gone at 106.5 s without a RST.
    p = zero_window()
    p.conn.close(0.0)
    assert p.state is State.FIN_WAIT_1 and p.out() == []
    sent = p.advance(3600.0)
    assert [t for t, *_ in sent] == [0.2, 0.6, 1.4, 3.0, 6.2, 12.6, 25.4, 51.0]
    assert p.state is State.CLOSED and p.transitions[-1] == ("FIN_WAIT_1", "CLOSED", "timeout")


def test_an_answered_orphan_goes_once_the_backoff_reaches_the_ceiling():
    # Answers keep resetting the probe count, but an orphan may not live for ever: Linux kills
    # it once its RTO backoff reaches TCP_RTO_MAX (tcp_orphan_retries(sk, alive=false) = 0).
    p = zero_window()
    p.conn.close(0.0)
    times = []
    while p.state is not State.CLOSED:
        times += [t for t, *_ in p.advance(p.conn.next_deadline())]
        if p.state is not State.CLOSED:
            p.recv(seg(".", PEER_ISS + 1, ISS + 1, win=0))
    assert len(times) == 10 and times[-1] == 204.6
    assert round(p.now, 6) == 324.6  # 120 s (the ceiling) after the last probe


def test_a_blocking_sendall_returns_when_the_peer_vanishes():
    # The receiver stops reading (its window closes), then disappears: sendall() used to wait
    # for ever; now the persist timer gives up and sendall raises ETIMEDOUT.
    net, client, server = two_hosts(seed=3)
    srv = Socket(server)
    srv.bind(("", 9527))
    srv.listen()
    c = Socket(client)
    c.connect(("198.18.0.2", 9527))
    conn, _ = srv.accept()
    link = net.links[0]

    def vanish():
        if c.connection.snd_wnd == 0:
            link.set(loss=1.0)  # the peer is gone: no more answers
        else:
            net.call_later(0.1, vanish)

    net.call_later(0.1, vanish)
    c.settimeout(3 * 3600)
    t0 = net.now
    try:
        c.sendall(b"y" * 2_000_000)
    except OSError as exc:
        assert exc.errno == errno.ETIMEDOUT, exc
    else:
        raise AssertionError("sendall() returned although the data never went")
    assert net.now - t0 < 1300  # tcp_retries2 probes, not the 3 h socket timeout
    assert c.connection.state is State.CLOSED
    conn.close()

"""TCP Fast Open (RFC 7413) in the engine, segment by segment, as Linux does it (measured:
notes/linux-behaviour.md G and notes/linux-modern.md)."""

import pytest

from tcplab.tcp import Config, Connection, FixedISN, State
from tcplab.tcp import fastopen as tfo
from tcplab.tcp.events import DataReadable, FastOpenAccepted, FastOpenCookie
from tcplab.wire.tcp import MSS, NOP, FastOpen, SackPermitted, Timestamps, WindowScale, flags_str

from .helpers import ISS, LOCAL, PEER_ISS, REMOTE, Peer, seg

KEY = tfo.CookieKey(b"server secret")
COOKIE = KEY.cookie(REMOTE[0], LOCAL[0])  # the cookie for the peer (the client) at this server
D = ISS + 1
A = PEER_ISS + 1


def cfg(**changes) -> Config:
    base = dict(timestamps=False, window_scaling=False, rcv_buf=65535, snd_buf=65535, nodelay=True)
    base.update(changes)
    return Config(**base)


# ---------------------------------------------------------------------------- the cookie
def test_cookies_are_8_bytes_keyed_by_the_addresses():
    assert len(COOKIE) == 8
    assert KEY.valid(COOKIE, REMOTE[0], LOCAL[0])
    assert not KEY.valid(COOKIE, "198.18.0.9", LOCAL[0])
    assert not tfo.CookieKey(b"another").valid(COOKIE, REMOTE[0], LOCAL[0])
    assert tfo.usable_cookie(bytes(8)) and not tfo.usable_cookie(bytes(3)) and not tfo.usable_cookie(bytes(5))


# ---------------------------------------------------------------------------- client
def _client(**changes) -> Peer:
    return Peer(cfg(**changes))


def test_without_a_cookie_the_syn_asks_for_one_and_the_data_follows_the_handshake():
    p = _client()
    assert p.conn.connect(p.now, data=b"hello", fastopen_cookie=b"") == 5
    [syn] = p.raw_out()
    assert not syn.payload and syn.options[-3:] == (FastOpen(), NOP(), NOP())
    cookie = bytes(range(8))
    out = p.recv(seg("S.", PEER_ISS, D, options=(MSS(1460), FastOpen(cookie), NOP(), NOP())), at=0.1)
    assert FastOpenCookie(cookie) in p.events()
    # The data itself acknowledges the SYN-ACK: no pure ACK first (measured).
    assert out == [("P.", D, A, 64240, 5)]


def test_with_a_cookie_the_data_rides_on_the_syn():
    p = _client()
    p.conn.connect(p.now, data=b"hello world", fastopen_cookie=COOKIE)
    [syn] = p.raw_out()
    assert flags_str(syn.flags) == "S" and syn.payload == b"hello world"
    assert FastOpen(COOKIE) in syn.options
    out = p.recv(seg("S.", PEER_ISS, D + 11, options=(MSS(1460),)), at=0.1)  # data acknowledged
    assert out == [(".", D + 11, A, 64240, 0)] and p.state is State.ESTABLISHED
    assert p.conn.send_buffered == 0


def test_syn_data_the_server_refused_goes_again_at_once():
    p = _client()
    p.conn.connect(p.now, data=b"hello world", fastopen_cookie=COOKIE)
    p.out()
    out = p.recv(seg("S.", PEER_ISS, D, options=(MSS(1460), FastOpen(COOKIE), NOP(), NOP())), at=0.1)
    assert out == [("P.", D, A, 64240, 11)]  # measured: P. 1:12(11) ack 1, no pure ACK


def test_the_no_cookie_bit_sends_syn_data_without_the_option():
    p = _client(fastopen=tfo.CLIENT | tfo.CLIENT_NO_COOKIE)
    p.conn.connect(p.now, data=b"x" * 13, fastopen_cookie=b"")
    [syn] = p.raw_out()
    assert syn.payload == b"x" * 13 and syn.option(FastOpen) is None


def test_syn_data_is_bounded_by_the_mss_less_the_option_space():
    p = _client()
    p.conn.connect(p.now, data=bytes(3000), fastopen_cookie=COOKIE)
    assert len(p.raw_out()[0].payload) == 1460 - 40  # Linux tcp_send_syn_data
    assert p.conn.send_buffered == 3000


def test_a_retransmitted_syn_carries_no_data():
    p = _client()
    p.conn.connect(p.now, data=b"hello", fastopen_cookie=COOKIE)
    p.out()
    sent = p.advance(1.01)
    assert sent and sent[0][1] == "S" and sent[0][5] == 0


# ---------------------------------------------------------------------------- server
def _server(key: tfo.CookieKey | None = KEY, **changes) -> Connection:
    changes.setdefault("fastopen", tfo.CLIENT | tfo.SERVER)
    # the host gives a listener's child the key when its Fast Open queue has room
    conn = Connection(cfg(**changes), LOCAL, REMOTE, isn=FixedISN(ISS), fastopen_key=key)
    conn.listen(0.0)
    conn.events()
    return conn


def _syn(*opts, data: bytes = b""):
    return seg("S", PEER_ISS, options=(MSS(1460), *opts), data=data)


def test_a_cookie_request_gets_a_cookie():
    conn = _server()
    conn.segment_arrives(_syn(FastOpen(), NOP(), NOP()), 0.0)
    [synack] = conn.segments_to_send()
    assert synack.ack == A and synack.options[-3:] == (FastOpen(COOKIE), NOP(), NOP())


def test_syn_data_with_a_valid_cookie_is_acknowledged_and_readable_at_once():
    conn = _server()
    conn.segment_arrives(_syn(FastOpen(COOKIE), NOP(), NOP(), data=b"hello"), 0.0)
    [synack] = conn.segments_to_send()
    assert flags_str(synack.flags) == "S." and synack.ack == A + 5
    assert synack.option(FastOpen) is None  # measured: no cookie when the data was taken
    events = conn.events()
    assert FastOpenAccepted() in events and DataReadable(5) in events
    assert conn.state is State.SYN_RCVD and conn.receive(now=0.0) == b"hello"
    assert conn.tcp_info()["fastopen"]
    # The server may answer before the handshake completes (RFC 7413 4.2.2).
    conn.send(b"reply", 0.01)
    assert [s.payload for s in conn.segments_to_send()] == [b"reply"]
    conn.segment_arrives(seg(".", A + 5, D + 5), 0.1)
    assert conn.state is State.ESTABLISHED


@pytest.mark.parametrize(
    "opts",
    [(FastOpen(bytes(8)), NOP(), NOP()), (FastOpen(COOKIE[:4]), NOP(), NOP()), (FastOpen(), NOP(), NOP())],
    ids=["wrong", "short", "request"],
)
def test_syn_data_without_a_valid_cookie_is_neither_acked_nor_delivered(opts):
    conn = _server()
    conn.segment_arrives(_syn(*opts, data=b"hello"), 0.0)
    [synack] = conn.segments_to_send()
    assert synack.ack == A and synack.option(FastOpen) == FastOpen(COOKIE)  # the right one
    assert conn.recv_buffered == 0 and FastOpenAccepted() not in conn.events()


def test_syn_data_without_the_option_gets_no_cookie():
    conn = _server()
    conn.segment_arrives(_syn(data=b"hello"), 0.0)
    [synack] = conn.segments_to_send()
    assert synack.ack == A and synack.option(FastOpen) is None and conn.recv_buffered == 0


def test_the_server_no_cookie_bit_takes_any_syn_data():
    conn = _server(fastopen=tfo.CLIENT | tfo.SERVER | tfo.SERVER_NO_COOKIE)
    conn.segment_arrives(_syn(data=b"hello"), 0.0)
    assert conn.segments_to_send()[0].ack == A + 5


def test_without_a_key_no_fast_open():
    conn = _server(key=None)
    conn.segment_arrives(_syn(FastOpen(COOKIE), NOP(), NOP(), data=b"hello"), 0.0)
    [synack] = conn.segments_to_send()
    assert synack.ack == A and synack.option(FastOpen) is None


def test_option_layout_with_sack_timestamps_and_window_scale():
    p = Peer(Config())
    p.conn.connect(p.now, fastopen_cookie=COOKIE, data=b"x")
    [syn] = p.raw_out()
    kinds = [type(o) for o in syn.options]
    assert kinds == [MSS, SackPermitted, Timestamps, NOP, WindowScale, FastOpen, NOP, NOP]


# ------------------------------------------------------ the application closes in SYN-RECEIVED
def _child_in_syn_rcvd(**changes) -> Connection:
    """A Fast Open child that took 1000 bytes of SYN data (the application read them)."""
    conn = _server(**changes)
    conn.segment_arrives(_syn(FastOpen(COOKIE), NOP(), NOP(), data=bytes(1000)), 0.0)
    [synack] = conn.segments_to_send()
    assert synack.ack == A + 1000 and conn.receive(now=0.0) == bytes(1000)
    return conn


def sent(conn: Connection) -> list[tuple]:
    return [(flags_str(s.flags), s.seq, s.ack, len(s.payload)) for s in conn.segments_to_send()]


def test_shutdown_in_syn_received_holds_the_fin_until_the_handshake_completes():
    """Linux (notes/tfo-syn-recv.md B): tcp_shutdown sends no FIN from SYN_RECV; the ACK that
    completes the handshake brings `F. 1:1(0) ack 1001` (before its own data is processed),
    then `. 2:2(0) ack 2001`, FIN-WAIT-1; the data and FIN after it: `. 2:2(0) ack 3002`."""
    conn = _child_in_syn_rcvd()
    conn.shutdown(0.01)
    assert sent(conn) == [] and conn.state is State.SYN_RCVD
    conn.segment_arrives(seg(".", A + 1000, D, data=bytes(1000)), 0.2)
    assert sent(conn) == [("F.", D, A + 1000, 0), (".", D + 1, A + 2000, 0)]
    assert conn.state is State.FIN_WAIT_1
    conn.segment_arrives(seg("F.", A + 2000, D + 1, data=bytes(1000)), 0.5)
    assert sent(conn) == [(".", D + 1, A + 3001, 0)]
    assert conn.state is State.TIME_WAIT
    assert conn.receive(now=0.5) == bytes(1000) * 2 and conn.eof


def test_data_sent_in_syn_received_goes_at_once_and_the_held_fin_after_it():
    """Measured (D): send(500) in SYN_RECV leaves at once, `P. 1:501(500)`; shutdown() holds the
    FIN; the handshake's ACK (acknowledging the data) brings `F. 501:501(0) ack 1001`."""
    conn = _child_in_syn_rcvd()
    conn.send(bytes(500), 0.01)
    assert sent(conn) == [("P.", D, A + 1000, 500)]
    conn.shutdown(0.02)
    assert sent(conn) == []
    conn.segment_arrives(seg(".", A + 1000, D + 500), 0.3)
    assert sent(conn) == [("F.", D + 500, A + 1000, 0)]
    assert conn.state is State.FIN_WAIT_1


def test_close_in_syn_received_sends_the_fin_at_once():
    """Measured (C): close() in SYN_RECV is tcp_close, whose FIN goes at once (FIN_WAIT1) -- also
    after a shutdown() that held it."""
    for shutdown_first in (False, True):
        conn = _child_in_syn_rcvd()
        if shutdown_first:
            conn.shutdown(0.01)
            assert sent(conn) == []
        conn.close(0.02)
        assert sent(conn) == [("F.", D, A + 1000, 0)]
        assert conn.state is State.FIN_WAIT_1


def test_rfc_profile_sends_the_fin_of_a_shutdown_in_syn_received_at_once():
    """RFC 9293 3.10.4, CLOSE in SYN-RECEIVED: "If no SENDs have been issued and there is no
    pending data to send, then form a FIN segment and send it, and enter FIN-WAIT-1 state"."""
    conn = _child_in_syn_rcvd(syn_rcvd_shutdown="rfc")
    conn.shutdown(0.01)
    assert sent(conn) == [("F.", D, A + 1000, 0)]
    assert conn.state is State.FIN_WAIT_1

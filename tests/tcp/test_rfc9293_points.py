"""RFC 9293 where it is clear, Linux where it leaves a choice: the five points of issue 11.

Each test plays the peer segment by segment and states the exact segments (flags, seq, ack,
window, length) and the states reached. Linux facts are from this machine's kernel
(/work/notes/linux-behaviour.md and /work/notes/kprobe-engine/).
"""

from __future__ import annotations

import errno

import pytest

from tcplab.tcp import Config, State
from tcplab.tcp.events import Reset
from tcplab.tcp.timers import Timer
from tcplab.wire.tcp import MSS, NOP, SackPermitted, Timestamps, WindowScale

from .helpers import ISS, PEER_ISS, WIN, Peer, classic, seg

S = State

SYNCHRONIZED = {
    "ESTABLISHED": Peer.to_established,
    "FIN_WAIT_1": Peer.to_fin_wait_1,
    "FIN_WAIT_2": Peer.to_fin_wait_2,
    "CLOSE_WAIT": Peer.to_close_wait,
    "CLOSING": Peer.to_closing,
    "LAST_ACK": Peer.to_last_ack,
    "TIME_WAIT": Peer.to_time_wait,
}


# ------------------------------------------------------------- 1. SYN without RFC 5961
@pytest.mark.parametrize("state", list(SYNCHRONIZED))
@pytest.mark.parametrize("flags", ["S", "S.", "SF"])
def test_in_window_syn_without_rfc5961_resets_and_closes(state, flags):
    """3.10.7.4 fourth, "for implementations that do not follow RFC 5961": an in-window SYN is an
    error: send a reset, flush the queues, signal "connection reset", enter CLOSED. The reset
    is formed per 3.5.2: <SEQ=SEG.ACK><CTL=RST> when the SYN carries ACK, else
    <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>."""
    p = Peer(classic(rfc5961=False, time_wait_rules="rfc"))
    SYNCHRONIZED[state](p)
    p.conn.send(b"queued", p.now) if state in ("ESTABLISHED", "CLOSE_WAIT") else None
    p.out()
    rcv_nxt = p.conn.rcv_nxt
    syn_seq = rcv_nxt + 10  # in the window
    out = p.recv(seg(flags, syn_seq, ack=777 if "." in flags else 0))
    seg_len = 1 + (1 if "F" in flags else 0)
    expected = ("R", 777, 0, 0, 0) if "." in flags else ("R.", 0, syn_seq + seg_len, 0, 0)
    assert out == [expected]
    assert p.state is S.CLOSED
    assert p.transitions[-1] == (state, "CLOSED", "rcv SYN")
    assert p.conn.error == errno.ECONNRESET and p.conn.send_buffered == 0
    assert [e.errno for e in p.events() if isinstance(e, Reset)] == [errno.ECONNRESET]


def test_in_window_syn_without_rfc5961_in_actively_opened_syn_rcvd():
    """3.10.7.4 fourth, SYN-RECEIVED: "If the connection was initiated with a passive OPEN, then
    return this connection to the LISTEN state and return. Otherwise, handle per the directions
    for synchronized states" — a simultaneous open is reset."""
    p = Peer(classic(rfc5961=False)).to_syn_sent()
    assert p.recv(seg("S", PEER_ISS)) == [("S.", ISS, PEER_ISS + 1, WIN, 0)]
    assert p.recv(seg("S", PEER_ISS + 1)) == [("R.", 0, PEER_ISS + 2, 0, 0)]
    assert p.state is S.CLOSED
    assert p.transitions[-1] == ("SYN_RCVD", "CLOSED", "rcv SYN")


def test_out_of_window_syn_without_rfc5961_is_only_acknowledged():
    """ "If the SYN is not in the window, this step would not be reached and an ACK would have
    been sent in the first step (sequence number check)"."""
    p = Peer(classic(rfc5961=False)).to_established()
    assert p.recv(seg("S", PEER_ISS + 1 + 100_000)) == [(".", ISS + 1, PEER_ISS + 1, WIN, 0)]
    assert p.state is S.ESTABLISHED


@pytest.mark.parametrize("state", [s for s in SYNCHRONIZED if s != "TIME_WAIT"])
def test_in_window_syn_with_rfc5961_is_challenged(state):
    """RFC 5961 4.2 (the default, as Linux): <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, no change."""
    p = Peer(classic())
    SYNCHRONIZED[state](p)
    snd_nxt, rcv_nxt = p.conn.snd_max, p.conn.rcv_nxt
    out = p.recv(seg("S", rcv_nxt + 10))
    assert [(f, s, a) for f, s, a, _w, _n in out] == [(".", snd_nxt, rcv_nxt)]
    assert p.state.value == state


# ------------------------------------------------------------- 2. text and FIN on a SYN
def test_rfc_syn_text_is_queued_until_established():
    """3.10.7.2 third: "any other control or text should be queued for processing later": the
    SYN-ACK acknowledges only the SYN; the final ACK makes the connection ESTABLISHED and the
    text is processed then (seventh step): delivered and acknowledged."""
    p = Peer(classic(accept_syn_text=True, quickack=0)).to_listen()
    assert p.recv(seg("S", PEER_ISS, data=b"hello", options=(MSS(1460),))) == [("S.", ISS, PEER_ISS + 1, WIN, 0)]
    assert p.conn.recv_buffered == 0
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 1)) == []  # the ACK of the text is delayed
    assert p.state is S.ESTABLISHED
    assert p.advance(1.0) == [(0.04, ".", ISS + 1, PEER_ISS + 6, WIN - 5, 0)]
    assert p.conn.receive(now=p.now) == b"hello"
    assert p.conn.rcv_nxt == PEER_ISS + 6
    # The peer, whose text was not acknowledged by the SYN-ACK, may send it again: a duplicate.
    assert p.recv(seg("P.", PEER_ISS + 1, ISS + 1, data=b"hello")) == [(".", ISS + 1, PEER_ISS + 6, WIN - 5, 0)]


def test_rfc_syn_fin_is_queued_until_established():
    p = Peer(classic(accept_syn_text=True, quickack=0)).to_listen()
    assert p.recv(seg("SF", PEER_ISS, data=b"bye", options=(MSS(1460),))) == [("S.", ISS, PEER_ISS + 1, WIN, 0)]
    # (The window keeps its right edge: RCV.NXT moved over 3 octets and the FIN.)
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 1)) == [(".", ISS + 1, PEER_ISS + 5, WIN - 4, 0)]
    assert p.state is S.CLOSE_WAIT and p.conn.eof
    assert [t[2] for t in p.transitions[-2:]] == ["rcv ACK of SYN", "rcv FIN"]


def test_rfc_simultaneous_open_queues_syn_text():
    """3.10.7.3 fourth, SYN without ACK: "If there are other controls or text in the segment,
    queue them for processing after the ESTABLISHED state has been reached"."""
    p = Peer(classic(accept_syn_text=True, quickack=0)).to_syn_sent()
    assert p.recv(seg("S", PEER_ISS, data=b"simdata")) == [("S.", ISS, PEER_ISS + 1, WIN, 0)]
    assert p.recv(seg("S.", PEER_ISS, ISS + 1)) == [(".", ISS + 1, PEER_ISS + 8, WIN - 7, 0)]
    assert p.state is S.ESTABLISHED and p.conn.receive(now=p.now) == b"simdata"


def test_rfc_syn_ack_text_and_fin_are_processed_at_once():
    """3.10.7.3 fourth, our SYN acknowledged: "If there are other controls or text in the
    segment, then continue processing at the sixth step"."""
    p = Peer(classic(accept_syn_text=True, quickack=0)).to_syn_sent()
    out = p.recv(seg("SF.", PEER_ISS, ISS + 1, data=b"hello", options=(MSS(1460),)))
    assert out == [(".", ISS + 1, PEER_ISS + 7, WIN - 6, 0)]
    assert p.state is S.CLOSE_WAIT and p.conn.receive(now=p.now) == b"hello"


def test_linux_drops_text_and_fin_of_a_syn():
    """Linux without TCP Fast Open (measured): SYN data is not acknowledged and never delivered
    (the peer sends it again); a SYN+FIN to a listener is dropped without a reply."""
    p = Peer(classic()).to_listen()
    assert p.recv(seg("S", PEER_ISS, data=b"hello", options=(MSS(1460),))) == [("S.", ISS, PEER_ISS + 1, WIN, 0)]
    assert p.recv(seg(".", PEER_ISS + 1, ISS + 1)) == []
    assert p.state is S.ESTABLISHED and p.conn.recv_buffered == 0
    q = Peer(classic()).to_listen()
    assert q.recv(seg("SF", PEER_ISS, options=(MSS(1460),))) == []
    assert q.state is S.LISTEN


def test_linux_ignores_text_and_fin_on_a_syn_ack():
    """Measured (notes/kprobe-engine/out_synack_text.txt): a SYN-ACK with 5 bytes and FIN gets
    `. 1:1(0) ack 1`, ESTABLISHED, and recv() finds nothing."""
    p = Peer(classic()).to_syn_sent()
    out = p.recv(seg("SF.", PEER_ISS, ISS + 1, data=b"hello", options=(MSS(1460),)))
    assert out == [(".", ISS + 1, PEER_ISS + 1, WIN, 0)]
    assert p.state is S.ESTABLISHED and p.conn.recv_buffered == 0


def test_linux_simultaneous_open_drops_syn_text():
    p = Peer(classic()).to_syn_sent()
    assert p.recv(seg("S", PEER_ISS, data=b"simdata")) == [("S.", ISS, PEER_ISS + 1, WIN, 0)]
    assert p.recv(seg("S.", PEER_ISS, ISS + 1)) == [(".", ISS + 1, PEER_ISS + 1, WIN, 0)]
    assert p.state is S.ESTABLISHED and p.conn.recv_buffered == 0


# ------------------------------------------------------------- 3. TIME_WAIT, arrival by arrival
# In TIME_WAIT (reached by Peer.to_time_wait at t=0): SND.NXT = ISS + 2, RCV.NXT = PEER_ISS + 2,
# the window field of its ACKs is WIN - 1 (the FIN's byte of the classic 65535 buffer).
TW_ACK = (".", ISS + 2, PEER_ISS + 2, WIN - 1, 0)
TW_MSL = 30.0


def _time_wait(rules: str, **changes) -> Peer:
    p = Peer(classic(msl=TW_MSL, time_wait_rules=rules, **changes)).to_time_wait()
    p.now = 10.0
    return p


def _tw_deadline(p: Peer) -> float:
    d = p.conn.timers.deadline(Timer.TIME_WAIT)
    assert d is not None
    return d


RESTARTED, KEPT = 10.0 + 2 * TW_MSL, 2 * TW_MSL

# (what arrives, linux: (reply, timer), rfc: (reply, timer))
TIME_WAIT_ARRIVALS = [
    # 3.10.7.4 fifth/eighth: the retransmitted FIN: acknowledge it, restart 2MSL (both).
    ("retransmitted FIN", seg("F.", PEER_ISS + 1, ISS + 2), ([TW_ACK], RESTARTED), ([TW_ACK], RESTARTED)),
    # A FIN at RCV.NXT: the same (RCV.NXT does not move: the peer's FIN was received).
    ("FIN at RCV.NXT", seg("F.", PEER_ISS + 2, ISS + 2), ([TW_ACK], RESTARTED), ([TW_ACK], RESTARTED)),
    # Seventh step: text "should not occur ... Ignore the segment text"; Linux ACKs it.
    ("data at RCV.NXT", seg("P.", PEER_ISS + 2, ISS + 2, data=b"late"), ([TW_ACK], RESTARTED), ([], KEPT)),
    # An in-window ACK: nothing to do (RFC); Linux restarts the timer silently.
    ("pure ACK at RCV.NXT", seg(".", PEER_ISS + 2, ISS + 2), ([], RESTARTED), ([], KEPT)),
    # First step: not acceptable: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; Linux also restarts.
    ("old pure ACK", seg(".", PEER_ISS, ISS + 2), ([TW_ACK], RESTARTED), ([TW_ACK], KEPT)),
    ("data beyond the window", seg("P.", PEER_ISS + 9**6, ISS + 2, data=b"x"), ([TW_ACK], RESTARTED), ([TW_ACK], KEPT)),
    # Second step: a RST at RCV.NXT ends TIME_WAIT (both; tcp_rfc1337=0).
    ("RST at RCV.NXT", seg("R", PEER_ISS + 2), ([], None), ([], None)),
    # A RST in the window but not exact: RFC 5961 3.2 challenge ACK; Linux ignores it.
    ("inexact RST", seg("R", PEER_ISS + 12), ([], KEPT), ([TW_ACK], KEPT)),
    ("old RST", seg("R", PEER_ISS), ([], KEPT), ([], KEPT)),
    # A SYN the host did not take as a new incarnation (here: below RCV.NXT): Linux ACKs it
    # (no ACK flag: no restart); RFC 5961 4.2 challenges it.
    ("old SYN", seg("S", PEER_ISS), ([TW_ACK], KEPT), ([TW_ACK], KEPT)),
    ("SYN-ACK", seg("S.", PEER_ISS + 2, ISS + 2), ([TW_ACK], RESTARTED), ([TW_ACK], KEPT)),
]


@pytest.mark.parametrize("rules", ["linux", "rfc"])
@pytest.mark.parametrize(
    ("what", "arrival", "linux", "rfc"), TIME_WAIT_ARRIVALS, ids=[a[0] for a in TIME_WAIT_ARRIVALS]
)
def test_time_wait_arrivals(rules, what, arrival, linux, rfc):
    p = _time_wait(rules)
    reply, timer = linux if rules == "linux" else rfc
    assert p.recv(arrival) == reply
    if timer is None:
        assert p.state is S.CLOSED and p.transitions[-1] == ("TIME_WAIT", "CLOSED", "rcv RST")
    else:
        assert p.state is S.TIME_WAIT and _tw_deadline(p) == pytest.approx(timer)


def test_time_wait_without_rfc5961_resets_on_an_in_window_syn():
    p = _time_wait("rfc", rfc5961=False)
    assert p.recv(seg("S", PEER_ISS + 5)) == [("R.", 0, PEER_ISS + 6, 0, 0)]
    assert p.state is S.CLOSED and p.transitions[-1] == ("TIME_WAIT", "CLOSED", "rcv SYN")


def _ts_time_wait(rules: str) -> Peer:
    """TIME_WAIT with timestamps: TS.Recent = 500 (the peer's FIN carried TSval 500)."""
    p = Peer(Config(msl=TW_MSL, time_wait_rules=rules, window_scaling=False, sack=False), iss=ISS)
    p.to_syn_sent()
    p.recv(seg("S.", PEER_ISS, ISS + 1, options=(MSS(1460), NOP(), NOP(), Timestamps(100, 0))))
    p.conn.close(p.now)
    p.out()
    p.recv(seg(".", PEER_ISS + 1, ISS + 2, options=(NOP(), NOP(), Timestamps(200, 0))))
    p.recv(seg("F.", PEER_ISS + 1, ISS + 2, options=(NOP(), NOP(), Timestamps(500, 0))))
    assert p.state is S.TIME_WAIT and p.conn.ts_recent == 500
    return p


def test_linux_time_wait_pure_ack_updates_ts_recent_and_paws_acks_old_timestamps():
    p = _ts_time_wait("linux")
    assert p.recv(seg(".", PEER_ISS + 2, ISS + 2, options=(NOP(), NOP(), Timestamps(510, 0))), at=5.0) == []
    assert p.conn.ts_recent == 510 and _tw_deadline(p) == pytest.approx(5.0 + 2 * TW_MSL)
    # PAWS: an old timestamp is a duplicate: ACKed (echoing TS.Recent), timer restarted.
    p.now = 7.0
    p.conn.segment_arrives(seg(".", PEER_ISS + 2, ISS + 2, options=(NOP(), NOP(), Timestamps(400, 0))), p.now)
    (ack,) = p.raw_out()
    assert (ack.flags, ack.seq, ack.ack) == (0x10, ISS + 2, PEER_ISS + 2)
    assert ack.option(Timestamps).ecr == 510
    assert _tw_deadline(p) == pytest.approx(7.0 + 2 * TW_MSL)


# ------------------------------------------------------------- 5. a SYN in TIME_WAIT, per profile
def _syn_ts(seq: int, tsval: int | None):
    options = (MSS(1460), SackPermitted(), NOP(), WindowScale(7))
    if tsval is not None:
        options = (MSS(1460), SackPermitted(), Timestamps(tsval, 0), NOP(), WindowScale(7))
    return seg("S", seq, options=options)


# Linux's rule (tcp_timewait_state_process; every row measured, notes/linux-behaviour.md E):
# RCV.NXT = PEER_ISS + 2, TS.Recent = 500.
LINUX_TW_SYN = [
    ("no TS, seq beyond RCV.NXT", PEER_ISS + 1000, None, True),
    ("no TS, seq = RCV.NXT", PEER_ISS + 2, None, False),
    ("no TS, seq below RCV.NXT", PEER_ISS - 1000, None, False),
    ("TS newer, seq beyond", PEER_ISS + 1000, 600, True),
    ("TS equal, seq beyond", PEER_ISS + 1000, 500, True),
    ("TS older, seq beyond (PAWS)", PEER_ISS + 1000, 400, False),
    ("TS newer, seq below", PEER_ISS - 1000, 600, True),
    ("TS newer, seq = RCV.NXT", PEER_ISS + 2, 600, True),
    ("TS older, seq below", PEER_ISS - 1000, 400, False),
    ("TS equal, seq below", PEER_ISS - 1000, 500, False),
]


@pytest.mark.parametrize(("what", "seq", "tsval", "accepted"), LINUX_TW_SYN, ids=[r[0] for r in LINUX_TW_SYN])
def test_linux_time_wait_syn_rule(what, seq, tsval, accepted):
    p = _ts_time_wait("linux")
    assert p.conn.time_wait_accepts_syn(_syn_ts(seq, tsval), p.now) is accepted


def test_linux_time_wait_without_timestamps_takes_sequence_only():
    p = _time_wait("linux")
    assert p.conn.time_wait_accepts_syn(seg("S", PEER_ISS + 3), p.now)
    assert not p.conn.time_wait_accepts_syn(seg("S", PEER_ISS + 2), p.now)
    assert not p.conn.time_wait_accepts_syn(seg("S.", PEER_ISS + 3, ISS + 2), p.now)
    # The new incarnation's ISS follows the old sequence space: old SND.NXT + 65537.
    assert p.conn.reopen(p.now) == ISS + 2 + 65537
    p.events()
    assert p.transitions[-1] == ("TIME_WAIT", "CLOSED", "rcv SYN in TIME_WAIT")


@pytest.mark.parametrize(("what", "seq", "tsval", "accepted"), LINUX_TW_SYN, ids=[r[0] for r in LINUX_TW_SYN])
def test_rfc_time_wait_never_reopens_and_challenges_every_syn(what, seq, tsval, accepted):
    """RFC 5961 4.2: a SYN in TIME-WAIT, whatever its sequence number, draws a challenge ACK."""
    p = _ts_time_wait("rfc")
    syn = _syn_ts(seq, tsval)
    assert not p.conn.time_wait_accepts_syn(syn, p.now)
    p.conn.segment_arrives(syn, p.now)
    (ack,) = p.raw_out()
    assert (ack.flags, ack.seq, ack.ack) == (0x10, ISS + 2, PEER_ISS + 2)
    assert p.state is S.TIME_WAIT

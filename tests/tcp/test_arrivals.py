"""RFC 9293 3.10.7.1 (CLOSED) and 3.10.7.2 (LISTEN): the rules the engine and the host share."""

import pytest

from tcplab.tcp.arrivals import ListenVerdict, listen_verdict, reset_for
from tcplab.wire.tcp import Flags, Segment, parse_flags


def _seg(flags: str, seq: int = 1000, ack: int = 0, payload: bytes = b"") -> Segment:
    return Segment(40000, 8080, seq, ack, parse_flags(flags), 65535, payload=payload)


def test_closed_answers_an_ack_with_seq_seg_ack_rst():
    assert reset_for(_seg(".", ack=777)) == Segment(8080, 40000, 777, 0, Flags.RST, 0)


def test_closed_answers_no_ack_with_seq_zero_and_ack_covering_the_segment():
    # <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>: SYN and FIN count, and so does the payload.
    assert reset_for(_seg("S")) == Segment(8080, 40000, 0, 1001, Flags.RST | Flags.ACK, 0)
    assert reset_for(_seg("F", payload=b"abc")) == Segment(8080, 40000, 0, 1004, Flags.RST | Flags.ACK, 0)
    assert reset_for(_seg("S", seq=0xFFFFFFFF)) == Segment(8080, 40000, 0, 0, Flags.RST | Flags.ACK, 0)


@pytest.mark.parametrize("flags", ["R", "R."])
def test_closed_never_answers_a_rst(flags):
    assert reset_for(_seg(flags, ack=5)) is None


@pytest.mark.parametrize(
    ("flags", "verdict"),
    [
        ("R", ListenVerdict.IGNORE),
        ("R.", ListenVerdict.IGNORE),
        ("S.", ListenVerdict.RESET),
        (".", ListenVerdict.RESET),
        ("F.", ListenVerdict.RESET),
        ("S", ListenVerdict.SYN),
        ("F", ListenVerdict.DROP),
        ("P", ListenVerdict.DROP),
    ],
)
def test_listen_verdicts_follow_the_checks_in_order(flags, verdict):
    for accept_syn_text in (False, True):
        assert listen_verdict(_seg(flags, ack=9), accept_syn_text=accept_syn_text) is verdict


def test_syn_fin_to_a_listener_per_profile():
    # Linux drops SYN+FIN at a listener (measured: no reply, no connection); RFC 9293 3.10.7.2
    # third check takes the SYN and queues the FIN ("any other control or text").
    assert listen_verdict(_seg("SF"), accept_syn_text=False) is ListenVerdict.DROP
    assert listen_verdict(_seg("SF"), accept_syn_text=True) is ListenVerdict.SYN

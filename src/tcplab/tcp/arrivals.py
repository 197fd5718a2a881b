"""SEGMENT ARRIVES in CLOSED and LISTEN (RFC 9293 3.10.7.1 and the checks of 3.10.7.2).

These two rules hold whether or not a ``Connection`` object exists: the engine applies them to a
connection in CLOSED or LISTEN, and the host applies the same functions to a segment that matches
no connection at all (a RST in reply) and to a segment for a listening socket (before it makes a
child connection for a SYN). The rules are written here once.
"""

from __future__ import annotations

import enum

from tcplab.tcp import seq as sq
from tcplab.wire.tcp import FLAGS, Segment

_ACK, _RST = 0x10, 0x04


def reset_for(seg: Segment) -> Segment | None:
    """RFC 9293 3.10.7.1 (CLOSED): the reply to a segment for a connection that does not exist.

    "An incoming segment containing a RST is discarded": None. Otherwise "If the ACK bit is off,
    sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; if the ACK bit is
    on, <SEQ=SEG.ACK><CTL=RST>". The reply goes back to where the segment came from.
    """
    if seg.rst:
        return None
    if seg.has_ack:
        return Segment(seg.dst_port, seg.src_port, seg.ack, 0, FLAGS[_RST], 0)
    return Segment(seg.dst_port, seg.src_port, 0, sq.add(seg.seq, seg.seg_len), FLAGS[_RST | _ACK], 0)


class ListenVerdict(enum.Enum):
    """What RFC 9293 3.10.7.2 does with a segment that arrives in LISTEN."""

    IGNORE = "ignore"  # first: "An incoming RST should be ignored"
    RESET = "reset"  # second: "Any acknowledgment is bad": <SEQ=SEG.ACK><CTL=RST> (reset_for)
    SYN = "syn"  # third: a SYN opens a connection in SYN-RECEIVED
    DROP = "drop"  # fourth: "Any other control or text-bearing segment ... drop it"


def listen_verdict(seg: Segment) -> ListenVerdict:
    """The check of RFC 9293 3.10.7.2 that decides ``seg``'s fate in LISTEN."""
    if seg.rst:
        return ListenVerdict.IGNORE
    if seg.has_ack:
        return ListenVerdict.RESET
    if seg.syn and not seg.fin:
        return ListenVerdict.SYN
    # A SYN+FIN is dropped too: RFC 9293 is silent, Linux discards it (tcp_rcv_state_process,
    # LISTEN: "if (th->fin) goto discard"; measured: no answer), and a SYN+FIN is a scan probe.
    return ListenVerdict.DROP

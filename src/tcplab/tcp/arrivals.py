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

_ACK, _RST, _SYN, _FIN = 0x10, 0x04, 0x02, 0x01


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


def listen_verdict(seg: Segment, *, accept_syn_text: bool) -> ListenVerdict:
    """The check of RFC 9293 3.10.7.2 that decides ``seg``'s fate in LISTEN.

    ``accept_syn_text`` is ``Config.accept_syn_text``: without it (Linux), a SYN that also
    carries FIN is dropped silently (tcp_rcv_state_process in LISTEN, measured on this kernel);
    with it, the RFC's third check takes the SYN and queues its FIN with its text.
    """
    flags = int(seg.flags)
    if flags & _RST:
        return ListenVerdict.IGNORE
    if flags & _ACK:
        return ListenVerdict.RESET
    if flags & _SYN:
        if flags & _FIN and not accept_syn_text:
            return ListenVerdict.DROP
        return ListenVerdict.SYN
    return ListenVerdict.DROP

"""Explicit Congestion Notification (RFC 3168) for one connection, as Linux does it.

``Config.ecn`` is Linux's net.ipv4.tcp_ecn: 0 off, 1 request ECN on active opens and accept it
on passive ones, 2 (the default) accept it when asked. The engine asks this object which flags
a SYN, SYN-ACK, data segment or ACK carries and which ECN codepoint the IP header gets, and tells
it what arrived; the window reduction an echo causes is the congestion control's
(``CongestionControl.enter_cwr``). Measured on Linux (notes/linux-behaviour.md H):

- negotiation (RFC 3168 6.1.1): a SYN with ECE and CWR, in a packet that is not itself ECN-capable,
  is answered by a SYN-ACK with ECE (``SE.``); a SYN with only ECE, or with ECT set, is not;
- only new data is ECT(0); pure ACKs, SYNs and retransmissions are Not-ECT (6.1.5, 6.1.4);
- the receiver of a CE-marked data segment sets ECE on every ACK until a data segment with CWR
  arrives (6.1.3); CE on a pure ACK is ignored;
- the sender sets CWR on the first new data segment after its window was reduced (6.1.2; Linux
  does so after any reduction: tcp_ecn_queue_cwr).
"""

from __future__ import annotations

from tcplab.wire.tcp import ECN_CE, ECN_ECT0, ECN_NOT_ECT, Segment

ECE, CWR = 0x40, 0x80


class Ecn:
    """One connection's ECN state."""

    __slots__ = ("_cwr_due", "_requested", "echo", "mode", "ok")

    def __init__(self, mode: int) -> None:
        self.mode = mode  # net.ipv4.tcp_ecn: 0, 1 or 2
        self.ok = False  # negotiated (Linux TCP_ECN_OK)
        self._requested = False  # our SYN asked for it
        self.echo = False  # CE seen: ECE on every segment sent until CWR (TCP_ECN_DEMAND_CWR)
        self._cwr_due = False  # set CWR on the next new data segment (TCP_ECN_QUEUE_CWR)

    # ---- negotiation (RFC 3168 6.1.1) ----------------------------------------------------------
    def syn_flags(self, retransmission: bool) -> int:
        """The flags of our SYN: ECE|CWR with tcp_ecn=1. A retransmitted SYN asks no more, in
        case ECN-setup SYNs are dropped on the path (Linux tcp_ecn_fallback)."""
        self._requested = self.mode == 1 and not retransmission
        return ECE | CWR if self._requested else 0

    def syn_arrives(self, seg: Segment) -> None:
        """The peer's SYN (passive open): accept ECN when asked properly and allowed."""
        flags = int(seg.flags)
        self.ok = self.mode in (1, 2) and flags & (ECE | CWR) == ECE | CWR and seg.ecn == ECN_NOT_ECT

    def synack_flags(self) -> int:
        return ECE if self.ok else 0

    def synack_arrives(self, seg: Segment) -> None:
        """The peer's SYN-ACK (active open): ECN is on when it has ECE and not CWR."""
        flags = int(seg.flags)
        self.ok = self._requested and flags & (ECE | CWR) == ECE

    # ---- receiving (6.1.3) ------------------------------------------------------------------------
    def data_arrives(self, seg: Segment) -> bool:
        """A data segment arrived; True when it starts an echo (ACK it at once, as Linux's
        tcp_ecn_check_ce enters quick-ACK mode)."""
        if not self.ok:
            return False
        if int(seg.flags) & CWR:
            self.echo = False
        if seg.ecn == ECN_CE and not self.echo:
            self.echo = True  # the engine sets ECE on every segment while this holds
            return True
        return False

    # ---- sending (6.1.2, 6.1.4) -------------------------------------------------------------------
    def echo_arrives(self, seg: Segment) -> bool:
        """The ACK carries ECE: the peer saw congestion (the caller reduces once per window)."""
        return self.ok and bool(int(seg.flags) & ECE) and not seg.syn

    def window_reduced(self) -> None:
        """The congestion window was reduced: the next new data segment carries CWR."""
        if self.ok:
            self._cwr_due = True

    def data_marking(self, new_data: bool) -> tuple[int, int]:
        """``(flags, ecn codepoint)`` for a data segment: new data is ECT(0) and the first one
        after a reduction carries CWR; a retransmission is Not-ECT."""
        if not self.ok or not new_data:
            return 0, ECN_NOT_ECT
        if self._cwr_due:
            self._cwr_due = False
            return CWR, ECN_ECT0
        return 0, ECN_ECT0


# The ECN state of every connection whose handshake did not negotiate ECN (the connection drops
# its own then): off, and never changed again (each method above changes nothing unless ``ok``;
# the SYN methods are not called once synchronized).
NOT_NEGOTIATED = Ecn(0)

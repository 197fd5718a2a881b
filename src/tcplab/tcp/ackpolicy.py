"""When a receiver acknowledges data (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2, RFC 5681 4.2), with
Linux's quick-ACK mode.

RFC 9293 lets an ACK wait (at most 0.5 s; Linux: 40 ms) but asks for one at least every second
full-sized segment, and at once for out-of-order data and for a segment that fills a hole (the
engine sees to those). Linux adds, measured on this kernel (notes/linux-behaviour.md C):

- quick-ACK mode (tcp_incr_quickack): the first data of a connection, and data after more than
  an RTO without any, are acknowledged at once, for up to ``Config.quickack`` (16) ACKs, fewer
  when the window is small (RCV.WND / (2 * rcv_mss), at least 2); a segment that lets the
  window grow buys one more (tcp_grow_window); a buffer more than half full ends the mode;
- no quick ACKs in "ping-pong" (interactive) mode: entered when we send data within the
  delayed-ACK time of receiving some (the ACK rides on the reply), left when a delayed ACK has
  to go out alone;
- when the application reads everything and the last segment was small or pushed, the pending
  ACK goes at once (tcp_cleanup_rbuf), unless in ping-pong mode.

``Config.quickack = 0`` keeps the RFC's plain delayed ACKs (no quick-ACK mode, no ACK on read).
"""

from __future__ import annotations


class AckPolicy:
    __slots__ = ("last_rcv", "max_quick", "pingpong", "pushed", "quick", "scheduled")

    def __init__(self, max_quick: int) -> None:
        self.max_quick = max_quick  # 0: plain RFC delayed ACKs
        self.quick = 0  # ACKs left to send at once (Linux icsk_ack.quick)
        self.pingpong = False
        self.last_rcv: float | None = None  # when data last arrived (icsk_ack.lrcvtime)
        self.pushed = False  # a small or pushed segment waits to be acknowledged
        self.scheduled = False  # received data waits to be acknowledged

    @property
    def linux(self) -> bool:
        return self.max_quick > 0

    def _enter_quick(self, rcv_wnd: int, rcv_mss: int) -> None:
        """tcp_incr_quickack."""
        quick = rcv_wnd // (2 * rcv_mss) if rcv_mss else 0
        quick = min(quick or 2, self.max_quick)
        self.quick = max(self.quick, quick)

    def data_arrived(self, small_or_pushed: bool, now: float, rto: float, rcv_wnd: int, rcv_mss: int) -> None:
        """In-order data arrived (tcp_event_data_recv): the first data, or data after more
        than an RTO of silence, (re)enters quick-ACK mode."""
        if self.linux and (self.last_rcv is None or now - self.last_rcv > rto):
            self._enter_quick(rcv_wnd, rcv_mss)
        self.last_rcv = now
        self.scheduled = True
        self.pushed = self.pushed or small_or_pushed

    def window_grew(self) -> None:
        if self.linux:
            self.quick = max(self.quick, 1)

    def under_pressure(self) -> None:
        self.quick = 0

    @property
    def immediate(self) -> bool:
        """tcp_in_quickack_mode: acknowledge this data now."""
        return self.quick > 0 and not self.pingpong

    def ack_sent(self) -> None:
        """An ACK left (tcp_event_ack_sent): one quick ACK used when it acknowledged data."""
        if self.scheduled and self.quick:
            self.quick -= 1
        self.scheduled = self.pushed = False

    def data_sent(self, now: float, ato: float) -> None:
        """We sent data: a reply soon after data arrived means an interactive exchange."""
        if self.linux and self.last_rcv is not None and now - self.last_rcv < ato:
            self.pingpong = True

    def fin_arrived(self) -> None:
        """The peer's FIN arrived in ESTABLISHED: Linux tcp_fin enters ping-pong mode
        (inet_csk_enter_pingpong_mode), so its ACK waits for the delayed-ACK timer."""
        if self.linux:
            self.pingpong = True

    def delayed_ack_fired(self) -> None:
        """The delayed ACK had to go out alone: not ping-pong after all."""
        self.pingpong = False

    def ack_on_read(self, buffer_empty: bool, more_than_one_segment: bool) -> bool:
        """tcp_cleanup_rbuf: the application read; send the pending ACK now?"""
        if not (self.linux and self.scheduled):
            return False
        return more_than_one_segment or (buffer_empty and self.pushed and not self.pingpong)

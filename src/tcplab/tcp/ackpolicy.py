"""When a receiver acknowledges data (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2, RFC 5681 4.2), with
Linux's quick-ACK mode and its adaptive delayed-ACK timeout.

RFC 9293 lets an ACK wait (at most 0.5 s) but asks for one at least every second full-sized
segment, and at once for out-of-order data and for a segment that fills a hole (the engine sees
to those). Linux adds, measured on this kernel (notes/linux-behaviour.md C, notes/delack-ato.md):

- quick-ACK mode (tcp_incr_quickack): the first data of a connection, and data after more than
  an RTO without any, are acknowledged at once, for up to ``Config.quickack`` (16) ACKs, fewer
  when the window is small (RCV.WND / (2 * rcv_mss), at least 2); a segment that lets the
  window grow buys one more (tcp_grow_window); a buffer more than half full ends the mode; a
  duplicate (data received already) enters it again, leaving ping-pong mode, with ato back to
  40 ms (tcp_enter_quickack_mode: the peer missed our ACKs; notes/quickack-reentry.md);
- the ACK of a SYN-ACK goes at once, unless TCP_QUICKACK 0 was set before connect(): then it
  waits up to 200 ms (TCP_DELACK_MAX) for data to carry it, and quick-ACK mode starts;
- the delayed-ACK timeout ``ato`` (icsk_ack.ato) adapts: it starts at TCP_ATO_MIN (40 ms,
  ``Config.delayed_ack``) with the first data and again when quick-ACK mode ends; each data
  segment moves it towards the gap since the previous one (tcp_event_data_recv); a delayed ACK
  the timer had to send doubles it, up to the RTO (tcp_delack_timer_handler); and each use caps
  it (tcp_send_delayed_ack): by the smoothed RTT (at least 40 ms), by 200 ms
  (``Config.delayed_ack_max``, TCP_DELACK_MAX) after a small or pushed segment or in ping-pong
  mode, else 500 ms, and always by tcp_delack_max: 200 ms, at most the RTO floor less a jiffy
  (196 ms at HZ=250). A trickle of small segments 150 ms apart over a 100 ms RTT gets its ACKs
  40, 80, then 100 ms after each segment; over a 300 ms RTT 40, 80, then 196 ms;
- no quick ACKs in "ping-pong" (interactive) mode: entered when we send data within ``ato`` of
  receiving some (the ACK rides on the reply) and by TCP_QUICKACK 0, left when a delayed ACK has
  to go out alone (ato back to 40 ms) and by TCP_QUICKACK 1;
- when the application reads everything and the last segment was small or pushed, the pending
  ACK goes at once (tcp_cleanup_rbuf), unless in ping-pong mode.

``Config.quickack = 0`` keeps the RFC's plain delayed ACKs: a fixed ``Config.delayed_ack``, no
quick-ACK or ping-pong mode, no ACK on read.
"""

from __future__ import annotations

from tcplab.tcp.config import Config, ReadOnlyConfig

ATO_BOUND = 0.5  # Linux HZ / 2 in tcp_send_delayed_ack; RFC 9293 3.8.6.3's "less than 0.5 s"


class AckPolicy:
    __slots__ = ("ato", "config", "last_rcv", "pingpong", "pushed", "quick", "scheduled")
    idle = False  # the shared policy of connections that have received nothing (``idle``)

    def __init__(self, config: Config) -> None:
        self.config = config  # quickack, delayed_ack, delayed_ack_max, rto_min, hz
        self.quick = 0  # ACKs left to send at once (Linux icsk_ack.quick)
        self.pingpong = False
        # The delayed-ACK timeout (Linux icsk_ack.ato): 0 until the first data in the linux
        # profile; fixed otherwise.
        self.ato = 0.0 if self.linux else config.delayed_ack
        self.last_rcv: float | None = None  # when data last arrived (icsk_ack.lrcvtime)
        self.pushed = False  # a small or pushed segment waits to be acknowledged
        self.scheduled = False  # received data waits to be acknowledged

    @property
    def linux(self) -> bool:
        return self.config.quickack > 0

    def _enter_quick(self, rcv_wnd: int, rcv_mss: int) -> None:
        """tcp_incr_quickack."""
        quick = rcv_wnd // (2 * rcv_mss) if rcv_mss else 0
        quick = min(quick or 2, self.config.quickack)
        self.quick = max(self.quick, quick)

    def data_arrived(self, small_or_pushed: bool, now: float, rto: float, rcv_wnd: int, rcv_mss: int) -> None:
        """In-order data arrived (tcp_event_data_recv): the first data, or data after more
        than an RTO of silence, (re)enters quick-ACK mode; a gap shorter than ato moves ato
        towards it."""
        if self.config.quickack > 0:  # (self.linux, per segment)
            ato_min = self.config.delayed_ack  # TCP_ATO_MIN
            if not self.ato or self.last_rcv is None:
                self._enter_quick(rcv_wnd, rcv_mss)
                self.ato = ato_min
            else:
                gap = now - self.last_rcv
                if gap <= ato_min / 2:
                    self.ato = self.ato / 2 + ato_min / 2
                elif gap < self.ato:
                    self.ato = min(self.ato / 2 + gap, rto)
                elif gap > rto:
                    self._enter_quick(rcv_wnd, rcv_mss)
        self.last_rcv = now
        self.scheduled = True
        self.pushed = self.pushed or small_or_pushed

    def _enter_quickack_mode(self, rcv_wnd: int, rcv_mss: int) -> None:
        """tcp_enter_quickack_mode(sk, TCP_MAX_QUICKACKS): quick ACKs refilled, ping-pong mode
        left, ato back to TCP_ATO_MIN."""
        self._enter_quick(rcv_wnd, rcv_mss)
        self.pingpong = False
        self.ato = self.config.delayed_ack

    def duplicate_arrived(self, scheduled: bool, rcv_wnd: int, rcv_mss: int) -> None:
        """Data (or a FIN) we had received already arrived again: the peer missed our ACKs, so
        this one and the next ones go at once (Linux tcp_enter_quickack_mode in tcp_send_dupack
        and tcp_data_queue). ``scheduled``: its ACK uses up one of them (tcp_data_queue
        schedules it, for a segment ending at or after rcv_wup; tcp_send_dupack, for one ending
        before, sends it unscheduled). Measured: 15 and 16 quick ACKs after."""
        if not self.linux:
            return
        self._enter_quickack_mode(rcv_wnd, rcv_mss)
        self.scheduled = self.scheduled or scheduled

    def synack_arrived(self, now: float, rcv_wnd: int, rcv_mss: int) -> bool:
        """The SYN-ACK completed our active open: True to delay its ACK (by
        ``Config.delayed_ack_max``) rather than send it now. Linux tcp_rcv_synsent_state_process
        does so in ping-pong mode (TCP_QUICKACK 0 before connect()): the ACK is scheduled on a
        TCP_DELACK_MAX timer and quick-ACK mode entered, which leaves ping-pong mode; data the
        application sends meanwhile carries it. tcp_finish_connect sets lrcvtime, so data sent
        within ato (40 ms) enters ping-pong mode again (tcp_event_data_sent). Measured
        (notes/quickack-reentry.md): the ACK 204 ms after the SYN-ACK, tcpi_ato 80 ms then."""
        if not (self.linux and self.pingpong):
            return False
        self._enter_quickack_mode(rcv_wnd, rcv_mss)
        self.scheduled = True
        self.last_rcv = now
        return True

    def window_grew(self) -> None:
        if self.linux:
            self.quick = max(self.quick, 1)

    def under_pressure(self) -> None:
        self.quick = 0

    @property
    def immediate(self) -> bool:
        """tcp_in_quickack_mode: acknowledge this data now."""
        return self.quick > 0 and not self.pingpong

    @property
    def delack_max(self) -> float:
        """Linux tcp_delack_max (6.7+): icsk_delack_max (TCP_DELACK_MAX), at most the RTO floor
        less one jiffy (measured: tcpi_ato and the longest delay are 196 ms at HZ=250)."""
        c = self.config
        jiffy = 1 / c.hz
        return min(c.delayed_ack_max, max(c.rto_min, 2 * jiffy) - jiffy)

    def deadline(self, now: float, srtt: float | None, pending: float | None) -> float | None:
        """When the delayed ACK is due, given the one already ``pending`` (None: none); None:
        send it now. Linux tcp_send_delayed_ack: ato capped as the module says; a pending timer
        within a quarter of ato of expiring sends the ACK now, else the earlier deadline wins."""
        if not self.linux:
            return pending if pending is not None else now + self.ato  # RFC: a fixed delay
        c = self.config
        ato = self.ato
        if ato > c.delayed_ack:  # TCP_DELACK_MIN
            max_ato = c.delayed_ack_max if self.pingpong or self.pushed else ATO_BOUND
            if srtt is not None:
                max_ato = min(max_ato, max(srtt, c.delayed_ack))
            ato = min(ato, max_ato)
        # ato 0 (a FIN before any data): the timer fires at the next jiffy
        ato = min(ato, self.delack_max) or 1 / c.hz
        if pending is not None:
            if pending <= now + ato / 4:
                return None
            return min(pending, now + ato)
        return now + ato

    @property
    def reported_ato(self) -> float:
        """tcpi_ato: ato, at most tcp_delack_max."""
        return min(self.ato, self.delack_max) if self.linux else self.ato

    def ack_sent(self) -> None:
        """An ACK left (tcp_event_ack_sent, tcp_dec_quickack_mode): one quick ACK used when it
        acknowledged data; leaving quick-ACK mode deflates ato to TCP_ATO_MIN."""
        if self.scheduled and self.quick:
            self.quick -= 1
            if not self.quick:
                self.ato = self.config.delayed_ack
        self.scheduled = self.pushed = False

    def data_sent(self, now: float) -> None:
        """We sent data (tcp_event_data_sent): a reply within ato of data arriving means an
        interactive exchange."""
        if self.last_rcv is not None and now - self.last_rcv < self.ato and self.config.quickack > 0:
            self.pingpong = True

    def fin_arrived(self) -> None:
        """The peer's FIN arrived in ESTABLISHED: Linux tcp_fin enters ping-pong mode
        (inet_csk_enter_pingpong_mode), so its ACK waits for the delayed-ACK timer."""
        if self.linux:
            self.pingpong = True

    def delayed_ack_fired(self, rto: float) -> None:
        """The delayed ACK had to go out alone (tcp_delack_timer_handler): in ping-pong mode,
        not interactive after all (ato back to TCP_ATO_MIN); else the ACK was late: double
        ato, up to the RTO."""
        if self.pingpong:
            self.pingpong = False
            self.ato = self.config.delayed_ack
        elif self.linux:
            self.ato = min(2 * self.ato, rto)

    def set_quickack(self, value: int, open_: bool, buffer_empty: bool, more_than_one_segment: bool) -> bool:
        """TCP_QUICKACK (Linux __tcp_sock_set_quickack); True: send the pending ACK now. 0 enters
        ping-pong mode; non-zero leaves it and, ``open_`` (ESTABLISHED or CLOSE-WAIT) with an
        ACK pending, marks it pushed for tcp_cleanup_rbuf's test, then an even value enters
        ping-pong mode again."""
        if not self.linux:
            return False
        if not value:
            self.pingpong = True
            return False
        self.pingpong = False
        if not (open_ and self.scheduled):
            return False
        self.pushed = True
        now = self.ack_on_read(buffer_empty, more_than_one_segment)
        if not value & 1:
            self.pingpong = True
        return now

    def ack_on_read(self, buffer_empty: bool, more_than_one_segment: bool) -> bool:
        """tcp_cleanup_rbuf: the application read; send the pending ACK now?"""
        if not (self.scheduled and self.config.quickack > 0):  # (self.linux)
            return False
        return more_than_one_segment or (buffer_empty and self.pushed and not self.pingpong)


class _Idle(AckPolicy):
    """The policy of the connections of one read-only configuration that have received nothing
    yet, shared (``idle``): they hold it instead of one of their own (96 bytes each) and take
    their own (a fresh ``AckPolicy``, equal to it) before a call that changes it. A change
    that would make it differ from a fresh policy is a bug and raises."""

    __slots__ = ()
    idle = True

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, name) and getattr(self, name) != value:
            raise TypeError(f"the shared idle AckPolicy cannot change {name}")
        object.__setattr__(self, name, value)

    # What changes nothing in a policy that has received nothing (nothing scheduled or pushed,
    # no quick ACKs, ato 0, not in ping-pong mode, no data received): no-ops here, so that the
    # ACKs and data an idle connection sends need no policy of its own.
    def ack_sent(self) -> None:
        pass

    def data_sent(self, now: float) -> None:
        pass

    def delayed_ack_fired(self, rto: float) -> None:
        pass

    def under_pressure(self) -> None:
        pass


def idle(config: Config) -> AckPolicy:
    """The policy for a connection that has received nothing: shared when ``config`` is."""
    if isinstance(config, ReadOnlyConfig):
        return config.shared(_Idle)
    return AckPolicy(config)

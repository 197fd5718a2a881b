"""TIME-WAIT as Linux keeps it (net/ipv4/tcp_minisocks.c).

Two things live here:

- ``arrival``: what a segment arriving in TIME-WAIT does under ``Config.time_wait_rules="linux"``
  (tcp_timewait_state_process). It is the one place that decides it, for the ``Connection`` in
  TIME-WAIT and for the record below alike; each applies the answer to its own fields.
- ``TimeWait``: the small record a host keeps instead of the whole ``Connection`` once the
  application has closed a connection that reached TIME-WAIT (Linux's inet_timewait_sock: the
  4-tuple, SND.NXT, RCV.NXT, TS.Recent and its age, the window, the deadline). It answers the
  part of the engine's API a host uses (``segment_arrives``, ``handle_timeout``,
  ``next_deadline``, ``events``, ``segments_to_send``, ``reopen``, ``abort``, ``timer``) and
  sends byte for byte the ACKs the connection would have sent. ``Connection.time_wait_record``
  makes one.
"""

from __future__ import annotations

from tcplab.tcp import seq as sq
from tcplab.tcp.events import CLOSED_EVENT, STATE_CHANGES, Event
from tcplab.tcp.ratelimit import OutOfWindowLimit
from tcplab.tcp.states import Cause, State
from tcplab.wire.tcp import FLAGS, NOP, Segment, Timestamps, timestamps_option

# What ``arrival`` asks of its caller (bits, several at once).
RESTART = 1  # restart the 2 MSL timer
TS_RECENT = 2  # take the segment's TSval as TS.Recent (and now as its age)
ACK = 4  # send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
ACK_IF_ALLOWED = 8  # the same, if the out-of-window ACK rate limit allows (ratelimit.py)
CLOSE = 16  # a RST ended TIME-WAIT ("TIME_WAIT assassination", RFC 1337)

PAWS_IDLE = 24 * 24 * 3600  # RFC 7323 5.5: TS.Recent older than 24 days is invalid
_PAWS_MSL = 60.0  # Linux TCP_PAWS_MSL
_NOP = NOP()


def paws_reject(ts_val: int, ts_recent: int, ts_recent_age: float, now: float, *, linux_rst: bool = False) -> bool:
    """RFC 7323 5.3 PAWS: is a segment with timestamp ``ts_val`` an old duplicate?"""
    if now - ts_recent_age > PAWS_IDLE:
        return False
    if linux_rst and now - ts_recent_age >= _PAWS_MSL:
        return False  # Linux tcp_paws_reject: a RST passes once TS.Recent is 60 s old
    return sq.lt(ts_val, ts_recent)


def accepts_syn(seg: Segment, ts: Timestamps | None, now: float, rcv_nxt: int, ts_recent: int, age: float) -> bool:
    """May this SYN end TIME-WAIT and open a new incarnation (RFC 9293 3.6.1 MAY-2, RFC 6191, as
    Linux's tcp_timewait_state_process, measured)? A SYN without ACK or RST that passes PAWS and
    whose sequence number is beyond RCV.NXT or whose timestamp is newer than TS.Recent. ``ts``:
    the segment's timestamps when they were negotiated."""
    if not seg.syn or seg.has_ack or seg.rst:
        return False
    if ts is not None and paws_reject(ts.val, ts_recent, age, now):
        return False
    return sq.gt(seg.seq, rcv_nxt) or (ts is not None and sq.gt(ts.val, ts_recent))


def arrival(
    seg: Segment, ts: Timestamps | None, now: float, rcv_nxt: int, ts_recent: int, age: float, rfc1337: bool
) -> int:
    """What ``seg`` does to a connection in TIME-WAIT, as Linux's tcp_timewait_state_process
    (measured on this kernel, notes/linux-behaviour.md E), as bits of the constants above:

    - PAWS first; an old timestamp rejects even a RST while TS.Recent is younger than 60 s;
    - a segment at exactly RCV.NXT that occupies no sequence space (a pure ACK) restarts the
      2 MSL timer silently and updates TS.Recent; a RST there ends TIME-WAIT (unless RFC 1337
      protection is on, tcp_rfc1337=1);
    - anything else (a retransmitted FIN, data, an old or out-of-window segment, a SYN the host
      did not take as a new incarnation) is acknowledged with <SEQ=SND.NXT><ACK=RCV.NXT>, and
      restarts the timer when it carries ACK or failed PAWS; a RST there is ignored. The ACK is
      throttled (tcp_timewait_check_oow_rate_limit) unless the segment carries data or FIN, or
      is a SYN that would open a new incarnation had a listener been there.
    """
    rejected = ts is not None and paws_reject(ts.val, ts_recent, age, now, linux_rst=seg.rst)
    if not rejected and seg.seq == rcv_nxt and (seg.seg_len == 0 or seg.rst):
        if seg.rst:
            return 0 if rfc1337 else CLOSE
        return RESTART | (TS_RECENT if ts is not None else 0)
    if seg.rst:
        return 0
    if accepts_syn(seg, ts, now, rcv_nxt, ts_recent, age):
        return ACK  # TCP_TW_SYN without a listener: TCP_TW_ACK
    out = RESTART if rejected or seg.has_ack else 0
    if (seg.payload or seg.fin) and not seg.syn:
        return out | ACK
    return out | ACK_IF_ALLOWED


class TimeWait:
    """A connection in TIME-WAIT whose application has gone: what Linux's inet_timewait_sock
    keeps, and nothing more (under 1 KB a connection where the whole TCB is several)."""

    __slots__ = (
        "_ack_flags",
        "_events",
        "_msl2",
        "_oow",
        "_out",
        "_rfc1337",
        "_ts_hz",
        "_ts_offset",
        "_window",
        "deadline",
        "local",
        "name",
        "rcv_nxt",
        "remote",
        "snd_nxt",
        "state",
        "total_retrans",
        "ts_ok",
        "ts_recent",
        "ts_recent_age",
    )

    def __init__(
        self,
        local: tuple[str, int],
        remote: tuple[str, int],
        *,
        name: str,
        snd_nxt: int,
        rcv_nxt: int,
        ts_ok: bool,
        ts_recent: int,
        ts_recent_age: float,
        ts_hz: int,
        ts_offset: int,
        window: int,
        ece: bool,
        msl: float,
        rfc1337: bool,
        deadline: float,
        oow: OutOfWindowLimit,
        total_retrans: int,
    ) -> None:
        self.local = local
        self.remote = remote
        self.name = name
        self.state = State.TIME_WAIT
        self.snd_nxt = snd_nxt  # RFC 9293's SND.NXT: the highest sequence number sent
        self.rcv_nxt = rcv_nxt
        self.ts_ok = ts_ok
        self.ts_recent = ts_recent
        self.ts_recent_age = ts_recent_age
        self._ts_hz = ts_hz
        self._ts_offset = ts_offset  # the connection's timestamp clock offset (from its ISN)
        self._window = window  # the window field of our ACKs (Linux tw_rcv_wnd, scaled)
        self._ack_flags = 0x10 | (0x40 if ece else 0)  # ACK, and ECE if we were echoing CE
        self._msl2 = 2 * msl
        self._rfc1337 = rfc1337
        self.deadline: float | None = deadline
        self._oow = oow
        self.total_retrans = total_retrans  # (the host counts retransmissions by difference)
        self._events: list[Event] | None = None  # made when there is something to say
        self._out: list[Segment] | None = None

    def __repr__(self) -> str:
        return f"<TimeWait {self.name} {self.local}->{self.remote} {self.state}>"

    # -- what the host reads --------------------------------------------------------------------
    orphaned = False  # not an orphan (tcp_max_orphans does not count TIME-WAIT)
    recv_buffered = 0
    send_buffered = 0

    def events(self) -> list[Event]:
        out, self._events = self._events, None
        return out if out is not None else []

    def segments_to_send(self) -> list[Segment]:
        out, self._out = self._out, None
        return out if out is not None else []

    def next_deadline(self) -> float | None:
        return self.deadline

    def timer(self, now: float) -> tuple[str, float, int] | None:
        """What ``ss -o`` shows: ``timer:(timewait,...)``."""
        return ("timewait", self.deadline - now, 0) if self.deadline is not None else None

    # -- inputs ---------------------------------------------------------------------------------
    def segment_arrives(self, seg: Segment, now: float) -> None:
        if self.state is not State.TIME_WAIT:
            return
        ts = seg.option(Timestamps) if self.ts_ok else None
        todo = arrival(seg, ts, now, self.rcv_nxt, self.ts_recent, self.ts_recent_age, self._rfc1337)
        if todo & CLOSE:
            self._close(Cause.RCV_RST, now)
            return
        if todo & RESTART:
            self.deadline = now + self._msl2
        if todo & TS_RECENT and ts is not None:
            self.ts_recent = ts.val
            self.ts_recent_age = now
        if todo & ACK or (todo & ACK_IF_ALLOWED and self._oow.allow(now)):
            self._send_ack(now)

    def icmp_arrives(self, rep: object, seq: int, now: float) -> bool:
        """An ICMP error quoting our segment ``seq``: in the window (SND.UNA = SND.NXT here) it
        is taken, as the connection would take it, and tells nobody anything: it is gone."""
        return seq == self.snd_nxt

    def time_wait_accepts_syn(self, seg: Segment, now: float) -> bool:
        if self.state is not State.TIME_WAIT:
            return False
        ts = seg.option(Timestamps) if self.ts_ok else None
        return accepts_syn(seg, ts, now, self.rcv_nxt, self.ts_recent, self.ts_recent_age)

    def handle_timeout(self, now: float) -> None:
        if self.deadline is not None and self.deadline <= now:
            self._close(Cause.TIMEOUT_2MSL, now)  # time-wait timeout: delete the record

    def reopen(self, now: float) -> int:
        """A new SYN ended this incarnation: the ISS of the next one (``Connection.reopen``)."""
        iss = sq.add(self.snd_nxt, 65535 + 2) or 1
        self._close(Cause.REOPEN, now)
        return iss

    def abort(self, now: float) -> None:
        if self.state is State.TIME_WAIT:
            self._close(Cause.ABORT, now)  # no RST from TIME-WAIT (Linux tcp_need_reset)

    # -- helpers --------------------------------------------------------------------------------
    def _close(self, cause: Cause, now: float) -> None:
        changed = STATE_CHANGES[State.TIME_WAIT, State.CLOSED, cause]  # its row of TRANSITIONS
        self.state = State.CLOSED
        self.deadline = None
        self._events = [changed, CLOSED_EVENT]

    def _send_ack(self, now: float) -> None:
        """<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, as the connection's own ACKs were made."""
        options: tuple[NOP | Timestamps, ...] = ()
        if self.ts_ok:
            tsval = (int(now * self._ts_hz) + self._ts_offset) & 0xFFFFFFFF
            options = (_NOP, _NOP, timestamps_option(tsval, self.ts_recent))
        seg = Segment(
            self.local[1], self.remote[1], self.snd_nxt, self.rcv_nxt, FLAGS[self._ack_flags], self._window, 0, options
        )
        if self._out is None:
            self._out = []
        self._out.append(seg)

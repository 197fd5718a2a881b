"""One TCP connection: RFC 9293's event processing (section 3.10), sans-IO.

This module reads top to bottom in the RFC's order:

- user calls: OPEN (3.10.1), SEND (3.10.2), RECEIVE (3.10.3), CLOSE (3.10.4), ABORT (3.10.5);
- SEGMENT ARRIVES (3.10.7): CLOSED, LISTEN, SYN-SENT, then the other states with the checks in
  their order: sequence number, RST, (security), SYN, ACK, URG, segment text, FIN;
- timeouts (3.10.8): retransmission, TIME-WAIT, and the timers Linux adds (delayed ACK, persist,
  keepalive, FIN-WAIT-2).

Sending (window, Nagle, silly window avoidance, congestion window) is at the end. The connection
never reads a clock: ``now`` is an argument of every call. Every state change goes through
``_enter``, which names its row of ``tcplab.tcp.states.TRANSITIONS``.

Collaborators beside it, each behind a small interface: ``timers.Timers`` (one deadline per
``Timer``), ``congestion.CongestionControl`` (the window: NewReno or CUBIC, PRR; chosen by
``Config.congestion_control``), ``loss.LossDetector`` (what is lost: SACK, RACK, duplicate
thresholds, D-SACK, tail loss probes), ``ecn.Ecn`` (RFC 3168), ``fastopen`` (RFC 7413 cookies),
``rtt.RTTEstimator`` (RFC 6298 or Linux's; the minimum RTT), ``ackpolicy.AckPolicy`` (delayed
and quick ACKs), ``rcvwindow.ReceiveWindow`` (the window offered, auto-tuning), ``ratelimit``
(RFC 5961 7) and ``reassembly.Reassembly`` (out-of-order data).
"""

from __future__ import annotations

import errno as E
import os
from collections.abc import Callable
from typing import ClassVar, TypedDict

from tcplab.tcp import ackpolicy, buffer
from tcplab.tcp import fastopen as tfo
from tcplab.tcp import seq as sq
from tcplab.tcp import timewait as tw
from tcplab.tcp.ackpolicy import AckPolicy
from tcplab.tcp.arrivals import ListenVerdict, listen_verdict, reset_for
from tcplab.tcp.config import Config, ReadOnlyConfig
from tcplab.tcp.congestion import ARBITRARILY_HIGH, AckSample, CongestionControl, Phase, create
from tcplab.tcp.ecn import NOT_NEGOTIATED, Ecn
from tcplab.tcp.events import (
    CLOSED_EVENT,
    CONNECTED_EVENT,
    STATE_CHANGES,
    CongestionChanged,
    DataReadable,
    Event,
    FastOpenAccepted,
    FastOpenCookie,
    PeerFinished,
    Reset,
    RttChanged,
    SendSpace,
    TimedOut,
    Unreachable,
)
from tcplab.tcp.icmp import MIN_PMTU_V4, MIN_PMTU_V6, IcmpReport
from tcplab.tcp.isn import ISNGenerator
from tcplab.tcp.loss import Delivery, LossDetector, Probe, Sent
from tcplab.tcp.ratelimit import ChallengeAckLimit, OutOfWindowLimit
from tcplab.tcp.rcvwindow import ReceiveWindow
from tcplab.tcp.reassembly import Reassembly
from tcplab.tcp.rtt import RTTEstimator
from tcplab.tcp.states import LINUX_STATE_NUMBER, Cause, State
from tcplab.tcp.timers import STOPPED, Timer, Timers
from tcplab.tcp.timewait import TimeWait
from tcplab.wire.tcp import (
    EOL,
    FLAGS,
    MSS,
    NOP,
    FastOpen,
    Option,
    Sack,
    SackPermitted,
    Segment,
    Timestamps,
    WindowScale,
    timestamps_option,
)

S = State
C = Cause
# Flags as plain ints on the hot path (IntFlag arithmetic is slow); FLAGS[n] gives Flags(n).
ACK, SYN, FIN, RST, PSH, URG, ECE, CWR = 0x10, 0x02, 0x01, 0x04, 0x08, 0x20, 0x40, 0x80

Address = tuple[str, int]
_NOP = NOP()  # options are immutable: one NOP serves every segment

_NO_OOO = Reassembly()  # the empty out-of-order queue connections share until they need their own
_NONE = ()  # no events, no segments to send: see Connection._tell
_NO_RECORDS: list[int] = []  # the MSG_EOR record ends connections share until their first
_TS_MOD = 1 << 32
_RTO_AFTER_SYN_LOSS = 3.0  # RFC 6298 5.7 (Linux TCP_TIMEOUT_FALLBACK)
_TCP_RTO_MIN = 0.2  # Linux TCP_RTO_MIN, the base of tcp_model_timeout whatever rto_min says
_TSO_WIN_DIVISOR = 3  # Linux net.ipv4.tcp_tso_win_divisor (3 on this kernel)
_TSO_DEFER_RECENT = 0.001  # Linux tcp_tso_should_defer: 1 ms (NSEC_PER_MSEC)

# Sets of states the per-segment path asks about, named once (a frozenset answers ``in`` with one
# hash; a tuple of ``State.X`` looks each member up on the enum class, slow on Python 3.11).
_SENDING = frozenset({S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_1, S.LAST_ACK, S.CLOSING})  # data or FIN may go
_ACKING = frozenset(S) - {S.CLOSED, S.LISTEN, S.SYN_SENT}  # an owed ACK goes
_SEND_CALL_OK = frozenset({S.SYN_SENT, S.SYN_RCVD, S.ESTABLISHED, S.CLOSE_WAIT})  # SEND queues (3.10.2)
_SEND_CALL_OUTPUT = frozenset({S.ESTABLISHED, S.CLOSE_WAIT})  # SEND sends at once
_SEND_SPACE_TOLD = frozenset({S.ESTABLISHED, S.CLOSE_WAIT, S.SYN_RCVD, S.SYN_SENT})  # SendSpace events
_PROBE_STATES = frozenset({S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_1, S.CLOSING, S.LAST_ACK})  # a TLP may go
_PROBE_PHASES = frozenset({Phase.OPEN, Phase.CWR})
_WINDOW_UPDATES = frozenset({S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2})  # a read may announce a window
_LOSS_PHASES = frozenset({Phase.RECOVERY, Phase.LOSS})
# Enum members the per-segment path names, as module names: looking a member up on its enum
# class costs 140-170 ns on Python 3.11 (three times a plain class attribute), and each segment
# names a dozen of them.
_CLOSED, _LISTEN, _SYN_RCVD, _ESTABLISHED = S.CLOSED, S.LISTEN, S.SYN_RCVD, S.ESTABLISHED
_OPEN = Phase.OPEN
_T_TIME_WAIT, _T_FIN_WAIT_2, _T_USER_TIMEOUT = Timer.TIME_WAIT, Timer.FIN_WAIT_2, Timer.USER_TIMEOUT
_T_RETRANSMISSION, _T_TLP, _T_RACK_REORDER = Timer.RETRANSMISSION, Timer.TLP, Timer.RACK_REORDER
_T_PERSIST, _T_KEEPALIVE, _T_DELAYED_ACK = Timer.PERSIST, Timer.KEEPALIVE, Timer.DELAYED_ACK

# 32-bit sequence arithmetic written out in the per-segment code (seq.py says what it means)
_MASK, _HALF = sq.MASK, sq.HALF

# Header prediction (``Connection._predicted``): on by default; the differential test turns it
# off to check that both paths do the same.
HEADER_PREDICTION = True
_NOT_PREDICTED = SYN | FIN | RST | URG | ECE  # flags that send a segment down the general path


class TcpInfo(TypedDict):
    """``Connection.tcp_info()``: a snapshot in the spirit of Linux's struct tcp_info."""

    state: str
    tcpi_state: int
    rto: float
    snd_mss: int
    rcv_mss: int
    cwnd: int
    cwnd_bytes: int
    ssthresh: int
    unacked: int
    retransmits: int
    total_retrans: int
    backoff: int
    rtt: float
    rttvar: float
    snd_wnd: int
    rcv_wnd: int
    snd_wscale: int
    rcv_wscale: int
    timestamps: bool
    sack: bool
    recv_q: int
    send_q: int
    congestion_control: str
    ca_state: str
    ecn: bool
    fastopen: bool
    reordering: int
    sacked: int
    lost: int
    retrans_out: int
    dsack_dups: int
    reord_seen: int
    ato: float


def _err(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def syn_options(
    layout: str, mss: MSS, sack: bool, ts: Timestamps | None, ws: WindowScale | None, fo: FastOpen | None = None
) -> tuple[Option, ...]:
    """The options of a SYN or SYN-ACK, laid out as Linux or FreeBSD lays them out; ``fo``: a
    Fast Open cookie or cookie request (RFC 7413 4.1.1), last in both."""
    if layout == "freebsd":
        # FreeBSD tcp_addoptions: each option aligned with NOPs (window scale at an odd offset,
        # SACK-permitted at an even one, timestamps at 4n+2), then EOL and padding.
        out: list[Option] = [mss]
        n = 4
        for opt, align in ((ws, (2, 1)), (SackPermitted() if sack else None, (2, 0)), (ts, (4, 2))):
            if opt is None:
                continue
            while n % align[0] != align[1]:
                out.append(NOP())
                n += 1
            out.append(opt)
            n += {WindowScale: 3, SackPermitted: 2, Timestamps: 10}[type(opt)]
        if fo is not None:  # tcp_addoptions: TOF_FASTOPEN after the others, unaligned
            out.append(fo)
            n += 2 + len(fo.cookie)
        out += [EOL()] * (-n % 4)
        return tuple(out)
    # Linux tcp_options_write: mss, sackOK, TS, nop, wscale (NOPs where an option is absent).
    opts: list[Option] = [mss]
    if sack and ts is not None:
        opts.append(SackPermitted())
    if ts is not None:
        opts.append(ts)
    elif sack:
        opts += [NOP(), NOP(), SackPermitted()]
    if ws is not None:
        opts += [NOP(), ws]
    if fo is not None:  # after wscale, padded with two NOPs (as this kernel sends it)
        opts += [fo, NOP(), NOP()]
    return tuple(opts)


class _Opening:
    """What only the opening handshake needs (RFC 9293 3.5, RFC 7323's window scale offer,
    RFC 7413's cookies): a connection keeps it until ESTABLISHED, then shares ``OPENED``."""

    __slots__ = (
        "fastopen_cookie", "fastopen_key", "fastopen_reply", "fixed_iss", "isn", "listen_remote", "offer_wscale",
        "peer_ws", "syn_retransmitted", "syn_tsval",
    )  # fmt: skip

    def __init__(
        self, fixed_iss: int | None, fastopen_key: tfo.CookieKey | None, offer_wscale: int, isn: ISNGenerator
    ) -> None:
        self.fixed_iss = fixed_iss  # an ISS the caller chose (tests, SYN cookies)
        self.isn = isn  # RFC 6528: what chooses the ISS otherwise
        self.listen_remote: Address | None = None  # the remote a passive OPEN named (or None)
        self.offer_wscale = offer_wscale  # the window scale our SYN / SYN-ACK offers
        self.peer_ws = False  # the peer's SYN carried a window scale option
        self.syn_retransmitted = False  # the retransmission timer expired on our SYN / SYN-ACK
        self.syn_tsval: int | None = None  # the TSval of our first SYN / SYN-ACK
        self.fastopen_key = fastopen_key  # a listener's child: accept SYN data with its cookies
        self.fastopen_cookie: bytes | None = None  # active open: the cookie to send (b"": ask)
        self.fastopen_reply: bytes | None = None  # the cookie our SYN-ACK gives


# Every established connection's: one object for all. Nothing writes to it: every write above is
# made in a state before ESTABLISHED (the OPEN calls, SYN arrival and SYN retransmission).
OPENED = _Opening(None, None, 0, ISNGenerator())


class Connection:
    """A TCB and the procedures that act on it."""

    # Every field of the TCB, named: a connection then takes a third of the memory an instance
    # dict needs (past 30 attributes Python stops sharing the dict's keys between instances),
    # and a field that is not listed here fails loudly (AttributeError) instead of being made.
    __slots__ = (
        "_ack_now", "_acks", "_challenge_acks", "_copied", "_dsack", "_eor", "_events", "_fin_queued",
        "_fin_seq", "_keepalive_probes", "_last_ack_sent", "_last_data_sent", "_more", "_ooo", "_oow",
        "_opening", "_out", "_persist_backoff", "_probe_outstanding", "_probes_out", "_rcv_adv", "_rcv_wup",
        "_rcvbuf", "_retrans_stamp", "_retries", "_rtt_seq", "_rtt_time", "_rtx_start", "_rtx_ts", "_rwin",
        "_snd_base", "_snd_sml", "_sndbuf", "_syn_text", "_ts_recent_age", "_user_closed", "cc",
        "config", "cork", "ecn", "eof", "error", "fastopen", "irs", "iss", "local", "loss", "max_snd_wnd", "name",
        "passive", "per_segment_events", "pmtu", "rcv_mss", "rcv_nxt", "rcv_up", "rcv_wscale", "remote",
        "rtt", "sack_ok", "snd_max", "snd_mss", "snd_nxt", "snd_una", "snd_wl1", "snd_wl2", "snd_wnd",
        "snd_wscale", "soft_error", "state", "timers", "total_retrans", "ts_ok", "ts_recent",
    )  # fmt: skip

    def __init__(
        self,
        config: Config | None = None,
        local: Address = ("0.0.0.0", 0),
        remote: Address | None = None,
        *,
        isn: ISNGenerator | None = None,
        iss: int | None = None,
        name: str = "",
        fastopen_key: tfo.CookieKey | None = None,
        challenge_acks: ChallengeAckLimit | None = None,
    ) -> None:
        # A shared read-only Config (a host's, Config.read_only()) is kept as it is; any other is
        # copied, so that changing it later changes nobody else's connection.
        self.config = config if isinstance(config, ReadOnlyConfig) else (config or Config()).copy()
        self.local = local
        self.remote = remote
        self.name = name
        # What only the opening handshake needs; the shared OPENED once ESTABLISHED (see _enter).
        # RFC 6528: without a generator (or a fixed ISS) the connection keys its own from
        # os.urandom; a constant key would make every ISN predictable.
        self._opening = _Opening(iss, fastopen_key, self.config.wscale, isn if isn is not None else ISNGenerator())
        self.state = S.CLOSED
        self.passive = False  # RFC 9293: "initiated with a passive OPEN"
        self.error = 0  # errno of the failure (SO_ERROR)
        # An ICMP error in a synchronized state (RFC 1122 4.2.3.9: soft, reported to the user,
        # not fatal): SO_ERROR reads it once, and a timeout reports it instead of ETIMEDOUT
        # (Linux sk_err_soft, tcp_write_err).
        self.soft_error = 0
        self.pmtu: int | None = None  # the path MTU an ICMP error taught (RFC 1191, RFC 8201)
        self._events: list[Event] | tuple[()] = _NONE  # for the owner: see _tell
        # False: the events that only narrate a transfer, several per segment (DataReadable,
        # SendSpace, RttChanged, CongestionChanged), are not made, for an owner that reads the
        # buffers and tcp_info() instead (the benchmark's pipe, tcplab.net.pipe with
        # keep_log=False). State changes and how the connection ends are always told.
        self.per_segment_events = True
        self._out: list[Segment] | tuple[()] = _NONE  # to send: see _put

        # -- send sequence variables (RFC 9293 3.3.1) ----------------------------------------
        self.iss = 0
        self.snd_una = 0
        self.snd_nxt = 0
        self.snd_max = 0  # highest sequence number sent (snd_nxt may go back after an RTO)
        self.snd_wnd = 0
        # (SND.UP: none; tcplab sends no urgent data, as RFC 6093 advises applications)
        self.snd_wl1 = 0
        self.snd_wl2 = 0
        self.max_snd_wnd = 0
        # -- receive sequence variables ------------------------------------------------------
        self.irs = 0
        self.rcv_nxt = 0
        self.rcv_up = 0
        self._rcv_adv = 0  # right edge of the window we advertised (RCV.NXT + RCV.WND)
        self._rcv_wup = 0  # RCV.NXT when we last advertised a window (Linux rcv_wup)
        self._rwin = ReceiveWindow(self.config)  # what the window offers; Linux auto-tuning

        # -- negotiated options (RFC 9293 3.7.1, RFC 7323, RFC 2018) --------------------------
        self.snd_mss = self.config.default_peer_mss  # peer's MSS option (536 when absent)
        self.rcv_mss = self.config.default_peer_mss  # largest segment seen from the peer
        self.snd_wscale = 0  # shift applied to the windows the peer sends
        self.rcv_wscale = 0  # shift applied to the windows we send
        self.ts_ok = False
        self.sack_ok = False
        self.ts_recent = 0
        self._ts_recent_age = 0.0
        self._last_ack_sent = 0

        # -- buffers -------------------------------------------------------------------------
        # (both shared and empty until data comes: buffer.EMPTY)
        self._sndbuf = buffer.EMPTY  # bytes from _snd_base onward: unacked, then unsent
        self._snd_base = 0  # sequence number of _sndbuf[0]
        self._rcvbuf = buffer.EMPTY  # in-order data the user has not read
        self._ooo = _NO_OOO  # made by _ooo_queue when first needed
        self.eof = False  # the peer's FIN reached the receive buffer
        self._fin_queued = False  # user asked for FIN (shutdown or close)
        self._fin_seq: int | None = None  # sequence number our FIN occupies, once sent
        self._user_closed = False  # close() called: nobody will read (orphan, as Linux says)
        # -- what the user asked of segmentation (Linux TCP_CORK, MSG_MORE, MSG_EOR) -------------
        self.cork = False  # TCP_CORK: hold a partial last segment (see _send_data)
        self._more = False  # MSG_MORE: the send() now being pushed said more data follows
        # MSG_EOR: sequence numbers where a record ends (no segment spans one). send() gives the
        # connection a list of its own at the first; _send_data takes from a non-empty one only.
        self._eor: list[int] = _NO_RECORDS
        self._syn_text: Segment | None = None  # a SYN whose text/FIN waits for ESTABLISHED

        # -- timers ------------------------------------------------------------------------------
        self.timers = STOPPED  # none running: a table of its own at the first (_timers)
        self._retries = 0  # consecutive retransmissions of the same data
        self._retrans_stamp = 0.0  # when the data retransmitted first was sent (Linux retrans_stamp)
        self._rtx_start: float | None = None  # when the oldest unacked data was first sent
        self._persist_backoff = 0
        self._probe_outstanding = False
        self._probes_out = 0  # zero-window probes since the peer last sent an acceptable ACK
        self._keepalive_probes = 0

        # -- RTT, loss detection and congestion control (RFC 6298, RFC 5681, RFC 6582) ---------
        c = self.config
        self.rtt = RTTEstimator(c.rto_initial, c.rto_min, c.rto_max, linux=c.rtt_estimator == "linux")
        self._rtx_ts: int | None = None  # the timestamp our latest retransmission carried
        self._rtt_seq: int | None = None  # sequence number being timed (Karn's rule)
        self._rtt_time = 0.0
        self.loss = LossDetector(
            rack=c.rack,
            reordering=c.reordering,
            max_reordering=c.max_reordering,
            forget_sack_on_rto=c.forget_sack_on_rto,
            rtt=self.rtt,
        )
        self.cc: CongestionControl = create(c)
        self._snd_sml: int | None = None  # the end of the last small segment sent (Linux snd_sml)
        self._last_data_sent = 0.0  # when new data last left (Linux lsndtime)
        self.total_retrans = 0

        # -- ECN (RFC 3168) and Fast Open (RFC 7413) ----------------------------------------------
        self.ecn = Ecn(c.ecn)
        self.fastopen = False  # data rode on a SYN and was acknowledged (TCPI_OPT_SYN_DATA)
        self._dsack: tuple[int, int] | None = None  # a duplicate to report in the next ACK (RFC 2883)

        # -- ACK policy -------------------------------------------------------------------------
        self._ack_now = False
        # delayed ACKs, Linux quick-ACK mode and ato: shared until changed (see _own_acks)
        self._acks = ackpolicy.idle(c)
        # -- RFC 5961 section 7: ACK throttling (ratelimit.py) -------------------------------
        self._oow: OutOfWindowLimit | None = None  # this connection's: see _oow_allow
        self._challenge_acks = challenge_acks  # the host's, shared by its connections
        self._copied = 0  # bytes the user has read in all (for auto-tuning)

    # ================================================================================== helpers
    def __repr__(self) -> str:
        return f"<Connection {self.name or ''} {self.local}->{self.remote} {self.state}>"

    def _enter(self, new: State, cause: Cause, now: float) -> None:
        """Change state through a row of the transition table (KeyError: not in the table)."""
        changed = STATE_CHANGES[self.state, new, cause]  # the event of the row (made once)
        self.state = new
        events = self._events
        if not events:
            events = self._events = []  # (_tell, inline: every state change tells one or two)
        events.append(changed)
        if new is S.CLOSED:
            self._delete_tcb()
            events.append(CLOSED_EVENT)
        elif new is S.TIME_WAIT:
            self.timers.stop_all()
            self._timers().arm(_T_TIME_WAIT, now + 2 * self.config.msl)
        elif new is S.ESTABLISHED:
            if not self.ecn.ok:
                self.ecn = NOT_NEGOTIATED  # nothing of ECN left to keep for this connection
            self._rwin.established(self._advmss)
            self._last_data_sent = now  # Linux tcp_init_transfer: no idle restart before data
            self.rtt.backoff = 0  # the handshake's backoff does not carry over (measured: notes I)
            if self._opening.syn_retransmitted and self.rtt.srtt is None:
                # RFC 6298 5.7: the SYN (or SYN-ACK) timed out and no RTT sample came from the
                # handshake: "the RTO MUST be re-initialized to 3 seconds when data
                # transmission begins" (Linux: TCP_TIMEOUT_FALLBACK, measured).
                self.rtt.rto_initial = max(self.rtt.rto_initial, _RTO_AFTER_SYN_LOSS)
            self._opening = OPENED  # nothing reads the handshake's own state from here on
            if self.snd_max == self.snd_una == self._snd_base:
                # SND.NXT and the send buffer's base as the same int object as SND.UNA (an int
                # above 2**30 is 32 bytes of its own): an idle connection keeps one, not two.
                self.snd_nxt = self.snd_max = self._snd_base = self.snd_una
            events.append(CONNECTED_EVENT)
            self._arm_keepalive(now)
            self._timers_idle()  # (the handshake's retransmission timer is stopped by now)
            if self._fin_queued:
                # A CLOSE (or shutdown) queued in SYN-SENT / SYN-RECEIVED is processed now.
                self._enter(S.FIN_WAIT_1, C.CLOSE, now)

    # The timer table is the connection's own only while a timer runs: one with none (idle)
    # holds the shared, empty timers.STOPPED instead (136 bytes less). Timers are armed through
    # _timers(); _timers_idle() gives the table back where an idle connection comes to rest,
    # at ESTABLISHED.
    def _timers(self) -> Timers:
        """The connection's own timer table, made when it holds the shared STOPPED one."""
        timers = self.timers
        if timers is STOPPED:
            timers = self.timers = Timers()
        return timers

    def _timers_idle(self) -> None:
        """Give the table back (hold STOPPED) if no timer runs."""
        if self.timers.idle():
            self.timers = STOPPED

    # A connection that has received nothing shares its configuration's idle ACK policy
    # (ackpolicy.idle, 96 bytes less); the calls that change a policy take its own first.
    def _own_acks(self) -> AckPolicy:
        """The connection's own ACK policy, made (equal to the idle one) when it shares one."""
        acks = self._acks
        if acks.idle:
            acks = self._acks = AckPolicy(self.config)
        return acks

    @property
    def retransmits(self) -> int:
        """Retransmissions of the current head in a row (tcpi_retransmits)."""
        return self._retries

    @property
    def _was_synchronized(self) -> bool:
        """Reached ESTABLISHED once (send() then gives EPIPE): the handshake's state is gone."""
        return self._opening is OPENED

    def _delete_tcb(self) -> None:
        self.timers.stop_all()
        self._sndbuf.clear()
        self.loss.clear()

    def _fail(self, code: int, cause: Cause, event: Event, now: float) -> None:
        self.error = code
        self._tell(event)
        self._enter(S.CLOSED, cause, now)

    def _select_iss(self, now: float) -> int:
        fixed = self._opening.fixed_iss
        if fixed is not None:
            return fixed & sq.MASK
        return self._opening.isn(self.local, self.remote or ("", 0), now)

    def _init_send(self, now: float) -> None:
        self.iss = self._select_iss(now)
        self.snd_una = self.iss
        self.snd_nxt = self.snd_max = self._snd_base = sq.add(self.iss, 1)  # (one int object)

    # ============================================================== user calls (RFC 9293 3.10)
    def listen(self, now: float) -> None:
        """Passive OPEN (3.10.1)."""
        if self.state is not S.CLOSED:
            raise _err(E.EINVAL)
        self.passive = True
        self._opening.listen_remote = self.remote
        self._enter(S.LISTEN, C.LISTEN, now)

    def connect(
        self, now: float, remote: Address | None = None, *, data: bytes = b"", fastopen_cookie: bytes | None = None
    ) -> int:
        """Active OPEN (3.10.1): send SYN, enter SYN-SENT. ``data`` is queued first; returns how
        many of its bytes were. TCP Fast Open (RFC 7413, with the CLIENT bit of
        ``Config.fastopen``): ``fastopen_cookie`` is the cookie cached for this server, and the
        data rides on the SYN; ``b""`` asks the server for a cookie (``FastOpenCookie`` event)
        and the data waits for the handshake, as Linux's tcp_send_syn_data."""
        if remote is not None:
            self.remote = remote
        if self.state is S.SYN_SENT:
            raise _err(E.EALREADY)
        if self.state is not S.CLOSED:
            raise _err(E.EISCONN)
        if self.remote is None:
            raise _err(E.EDESTADDRREQ)
        self._init_send(now)
        queued = min(len(data), self.send_free)
        self._sndbuf += data[:queued]
        if self.config.fastopen & tfo.CLIENT:
            self._opening.fastopen_cookie = fastopen_cookie
        self._enter(S.SYN_SENT, C.CONNECT, now)
        self._send_syn(now, ack=False)
        return queued

    def send(self, data: bytes, now: float, *, more: bool = False, eor: bool = False) -> int:
        """SEND (3.10.2): queue what fits in the send buffer; return how many bytes.
        ``more`` (Linux MSG_MORE): more data follows, hold a partial segment as TCP_CORK would;
        ``eor`` (MSG_EOR): the data ends a record, later data never shares its last segment."""
        st = self.state
        if st is _LISTEN:
            # 3.10.2: LISTEN with the remote socket specified becomes an active open.
            if self.remote is None:
                raise _err(E.ENOTCONN)
            self.passive = False
            self._init_send(now)
            self._enter(S.SYN_SENT, C.SEND, now)
            self._send_syn(now, ack=False)
            st = self.state
        if st is _CLOSED:
            raise _err(E.EPIPE if self._was_synchronized else E.ENOTCONN)
        if self._fin_queued:
            raise _err(E.EPIPE)  # 3.10.2: "connection closing", Linux: EPIPE
        if st not in _SEND_CALL_OK:
            raise _err(E.EPIPE)
        n = len(data)
        room = self.config.snd_buf - self._sndbuf.nbytes  # (send_free, on every write)
        if room < n:
            n = room if room > 0 else 0
        if n:
            # Part of a bytes object: a view of it, which the buffer may keep without a copy.
            self._sndbuf += data[:n] if n == len(data) or type(data) is not bytes else memoryview(data)[:n]
            if eor and n == len(data):
                if self._eor is _NO_RECORDS:
                    self._eor = []  # this connection's own, from its first record on
                self._eor.append(sq.add(self._snd_base, len(self._sndbuf)))
            if st in _SEND_CALL_OUTPUT or (st is _SYN_RCVD and self.fastopen):
                self._more = more
                self._restart_after_idle(now)
                self._output(now)
                self._more = False
        return n

    def set_cork(self, on: bool, now: float) -> None:
        """TCP_CORK: while on, a partial last segment waits (for more data, the FIN, or the
        persist timer, as Linux's probe timer sends it after one RTO); off sends what waited."""
        self.cork = on
        if not on and self.state.synchronized:
            self._output(now)

    def receive(self, max_bytes: int | None = None, *, now: float) -> bytes:
        """RECEIVE (3.10.3): take up to ``max_bytes`` from the receive buffer."""
        if self.state is _LISTEN:
            raise _err(E.ENOTCONN)
        n = self._rcvbuf.nbytes if max_bytes is None else min(max_bytes, self._rcvbuf.nbytes)
        if not n:
            return b""
        out = self._rcvbuf.take(n)
        self._copied += n
        self._rwin.read(self._copied, now, self.rtt.srtt, self._advmss)
        more_than_one = (self.rcv_nxt - self._rcv_wup) & _MASK > self.rcv_mss
        if self._acks.ack_on_read(not self._rcvbuf.nbytes, more_than_one):
            self._ack_now = True  # Linux tcp_cleanup_rbuf: the pending ACK goes now
            self._output(now)
        else:
            self._maybe_window_update(now)
        return out

    @property
    def quickack(self) -> bool:
        """TCP_QUICKACK as getsockopt reads it: not in ping-pong (interactive) mode."""
        return not self._acks.pingpong

    def set_quickack(self, value: int, now: float) -> None:
        """TCP_QUICKACK (Linux __tcp_sock_set_quickack): 0 enters ping-pong mode (ACKs wait
        for a reply or the timer); non-zero leaves it and, in ESTABLISHED or CLOSE-WAIT, sends
        a pending ACK when the application has read everything (tcp_cleanup_rbuf). A hint, not
        a mode: the kernel's own rules change it again (notes/linux-behaviour.md C)."""
        more_than_one = sq.sub(self.rcv_nxt, self._rcv_wup) > self.rcv_mss
        open_ = self.state in (S.ESTABLISHED, S.CLOSE_WAIT)
        if self._own_acks().set_quickack(value, open_, not self._rcvbuf, more_than_one):
            self._ack_now = True
            self._output(now)

    def peek(self, max_bytes: int) -> bytes:
        """The first ``max_bytes`` of the receive buffer, left in it (MSG_PEEK)."""
        return bytes(self._rcvbuf[:max_bytes])

    def shutdown(self, now: float) -> None:
        """Half-close: no more sending; FIN after the queued data (3.10.4 for the send side)."""
        st = self.state
        if st in (S.CLOSED, S.LISTEN):
            raise _err(E.ENOTCONN)
        if self._fin_queued:
            return
        if st is S.SYN_RCVD and self.config.syn_rcvd_shutdown == "linux":
            # Linux tcp_shutdown: no FIN from SYN-RECEIVED; it leaves when the handshake
            # completes (_enter: on to FIN-WAIT-1; _arrives_otherwise sends it).
            self._fin_queued = True
            return
        self._queue_fin(now)

    def _queue_fin(self, now: float) -> None:
        """CLOSE's FIN (3.10.4), after any queued data: FIN-WAIT-1 or LAST-ACK now, or in
        SYN-SENT once ESTABLISHED (see _enter)."""
        st = self.state
        self._fin_queued = True
        if st is S.SYN_RCVD or st is S.ESTABLISHED:
            # 3.10.4: FIN (after any queued data) and FIN-WAIT-1; in SYN-RECEIVED the RFC sends
            # it at once when nothing is queued, and queued data goes first either way.
            self._enter(S.FIN_WAIT_1, C.CLOSE, now)
        elif st is S.CLOSE_WAIT:
            self._enter(S.LAST_ACK, C.CLOSE, now)
        self._output(now)

    def close(self, now: float) -> None:
        """CLOSE (3.10.4). With unread data, RST instead of FIN (RFC 1122 4.2.2.13, Linux)."""
        st = self.state
        self._user_closed = True
        if st is S.CLOSED:
            return
        if st is S.LISTEN or st is S.SYN_SENT:
            self._enter(S.CLOSED, C.CLOSE, now)
            return
        if self._rcvbuf and st in (S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_1, S.FIN_WAIT_2):
            # RFC 1122 4.2.2.13 "SHOULD send a RST to show that data was lost": an abort
            # (Linux tcp_close: tcp_send_active_reset, no FIN; measured `R. 1:1(0) ack 6`).
            self._send_active_reset(now)
            self._enter(S.CLOSED, C.CLOSE_UNREAD, now)
            return
        if st is S.SYN_RCVD or (st in (S.ESTABLISHED, S.CLOSE_WAIT) and not self._fin_queued):
            # (in SYN-RECEIVED also after a shutdown() that held the FIN: Linux tcp_close sends it)
            self._queue_fin(now)
        if self.state is S.FIN_WAIT_2 and self.config.fin_wait_2_timeout is not None:
            self._timers().arm(_T_FIN_WAIT_2, now + self.config.fin_wait_2_timeout)
        self._output(now)

    def abort(self, now: float) -> None:
        """ABORT (3.10.5): RST in the synchronized states, then CLOSED."""
        st = self.state
        if st is S.CLOSED:
            return
        if st in (S.SYN_RCVD, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT):
            self._send_active_reset(now)  # (Linux tcp_need_reset: the same five states)
        self._user_closed = True
        self._enter(S.CLOSED, C.ABORT, now)

    def reopen(self, now: float) -> int:
        """A new SYN ended this TIME-WAIT incarnation (the host hands the SYN to a listener).
        Returns the ISS Linux gives the new incarnation: the old SND.NXT + 65537
        (tcp_timewait_state_process; measured), beyond anything the old one sent."""
        iss = sq.add(self.snd_max, 65535 + 2) or 1
        self._enter(S.CLOSED, C.REOPEN, now)
        return iss

    def time_wait_accepts_syn(self, seg: Segment, now: float) -> bool:
        """May this SYN end TIME-WAIT and open a new incarnation of the connection?

        ``time_wait_rules="linux"`` (RFC 9293 3.6.1 MAY-2, RFC 6191, as Linux's
        tcp_timewait_state_process, measured): a SYN without ACK or RST that passes PAWS, and
        whose sequence number is beyond RCV.NXT or whose timestamp is newer than TS.Recent.
        ``"rfc"``: never; RFC 5961 4.2 answers a SYN in TIME-WAIT with a challenge ACK (and
        without RFC 5961, 3.10.7.4 resets the connection: see the fourth step)."""
        if self.state is not S.TIME_WAIT or self.config.time_wait_rules != "linux":
            return False
        ts = seg.option(Timestamps) if self.ts_ok else None
        return tw.accepts_syn(seg, ts, now, self.rcv_nxt, self.ts_recent, self._ts_recent_age)

    def synack_untimed(self) -> None:
        """The SYN-ACK answering this connection's SYN went out before the connection existed
        (a SYN cookie's: its host kept nothing), so its round trip cannot be timed from our
        clock; Linux takes no RTT sample from a cookie's handshake without timestamps."""
        self._rtt_seq = None

    # =========================================================================== introspection
    @property
    def recv_buffered(self) -> int:
        return len(self._rcvbuf)

    @property
    def send_buffered(self) -> int:
        return len(self._sndbuf)

    @property
    def send_free(self) -> int:
        return max(0, self.config.snd_buf - len(self._sndbuf))

    @property
    def orphaned(self) -> bool:
        """Closed by its application and not gone yet: what Linux counts against
        tcp_max_orphans (a connection in TIME_WAIT is not one)."""
        return self._user_closed and self.state is not S.CLOSED and self.state is not S.TIME_WAIT

    @property
    def unsent(self) -> int:
        """Queued bytes never sent yet (Linux write_seq - snd_nxt: SIOCOUTQNSD, notsent_bytes)."""
        data_end = sq.add(self._snd_base, len(self._sndbuf))
        return sq.sub(data_end, self.snd_max) if sq.gt(data_end, self.snd_max) else 0

    @property
    def unacked(self) -> int:
        return sq.sub(self.snd_max, self.snd_una)

    @property
    def _advmss(self) -> int:
        """The payload of a full segment the peer sends us: our MSS less the timestamp option
        (Linux tp->advmss once timestamps are negotiated)."""
        return self.config.mss - (12 if self.ts_ok else 0)

    @property
    def _mss_payload(self) -> int:
        """Payload per full segment: the peer's MSS, our own and the path's, less the options we
        always send."""
        # (comparisons rather than min()/max(): read several times per segment)
        mss = self.snd_mss
        ours = self.config.mss
        if ours < mss:
            mss = ours
        if self.pmtu is not None and self.pmtu - self._ip_tcp_headers < mss:
            mss = self.pmtu - self._ip_tcp_headers
        if self.ts_ok:
            mss -= 12
        return mss if mss > 1 else 1

    @property
    def _ip_tcp_headers(self) -> int:
        return 60 if ":" in self.local[0] else 40

    @property
    def path_mtu(self) -> int:
        """The MTU of the path: what an ICMP error taught, else what our MSS was made from."""
        return self.pmtu if self.pmtu is not None else self.config.mss + self._ip_tcp_headers

    def _whole_segments(self, n: int, mss: int) -> int:
        """Link segmentation offload (TSO/GSO, ``Config.gso_max``, a capability the host sets):
        ``n`` bytes that may go now become one super-segment of as many whole MSS-sized parts as
        the link splits, the way Linux builds TSO segments (tcp_tso_autosize). A remainder
        smaller than an MSS is left for the next round of the send loop, which judges it by
        the same rules (Nagle, SWS avoidance, FIN) as without offload: what reaches the wire is
        the same segments either way (only their timing may differ: ``_tso_defers``)."""
        gso_max = self.config.gso_max
        if n <= mss or gso_max < 2 * mss:
            return min(n, mss)
        return min(n, gso_max) // mss * mss

    def _sent_new(self, seq: int, n: int, fin: bool, mss: int, now: float) -> None:
        """New data (``n`` octets from ``seq``, and a FIN after it) left: the loss detector
        keeps it in MSS-sized records even when it left as one super-segment, so that SACK,
        RACK and retransmission stay in MSS units (Linux splits a TSO skb the same way,
        tcp_fragment)."""
        if n <= mss:
            self.loss.on_send(seq, sq.add(seq, n + fin), now)
        else:
            self.loss.on_send_split(seq, n, fin, mss, now)

    def events(self) -> list[Event]:
        out = self._events
        if not out:
            return []
        self._events = _NONE
        return out

    def segments_to_send(self) -> list[Segment]:
        out = self._out
        if not out:
            return []
        self._out = _NONE
        return out

    # The event and segment lists are made at the first entry after the owner took the last
    # ones: an idle connection holds the shared empty tuple instead of two empty lists of its
    # own (112 bytes). A forgotten ``append`` on the tuple fails loudly.
    def _tell(self, event: Event) -> None:
        """Queue ``event`` for the owner (``events()``)."""
        events = self._events
        if events:
            events.append(event)  # (a non-empty one is a list)
        else:
            self._events = [event]

    def _put(self, seg: Segment) -> None:
        """Queue ``seg`` for the link (``segments_to_send()``)."""
        out = self._out
        if out:
            out.append(seg)  # (a non-empty one is a list)
        else:
            self._out = [seg]

    def next_deadline(self) -> float | None:
        return self.timers.earliest()

    def timer(self, now: float) -> tuple[str, float, int] | None:
        """What ``ss -o`` shows: ``(name, remaining, count)``."""
        timers = self.timers
        for timer, name, count in (
            (Timer.TIME_WAIT, "timewait", 0),
            (Timer.RETRANSMISSION, "on", self.rtt.backoff),
            (Timer.TLP, "on", self.rtt.backoff),  # ss shows "on" for loss probes and RACK too
            (Timer.RACK_REORDER, "on", self.rtt.backoff),
            (Timer.PERSIST, "persist", self._persist_backoff),
            (Timer.FIN_WAIT_2, "timewait", 0),
            (Timer.KEEPALIVE, "keepalive", self._keepalive_probes),
        ):
            deadline = timers.deadline(timer)
            if deadline is not None:
                return (name, deadline - now, count)
        return None

    @property
    def cwnd(self) -> int:
        """The congestion window in bytes (the congestion control's)."""
        return self.cc.cwnd

    @property
    def ssthresh(self) -> int:
        return self.cc.ssthresh

    def tcp_info(self) -> TcpInfo:
        """A snapshot in the spirit of Linux's struct tcp_info (times in seconds)."""
        return {
            "state": self.state.value,
            "tcpi_state": LINUX_STATE_NUMBER[self.state],
            "rto": self.rtt.rto,
            "snd_mss": self._mss_payload if self.state.synchronized else self.snd_mss,
            "rcv_mss": self.rcv_mss,
            "cwnd": self.cwnd // max(1, self._mss_payload),
            "cwnd_bytes": self.cwnd,
            "ssthresh": self.ssthresh,
            "unacked": self.unacked,
            "retransmits": self.retransmits,
            "total_retrans": self.total_retrans,
            "backoff": self.rtt.backoff,
            "rtt": self.rtt.srtt or 0.0,
            "rttvar": self.rtt.rttvar or 0.0,
            "snd_wnd": self.snd_wnd,
            "rcv_wnd": sq.sub(self._rcv_adv, self.rcv_nxt),
            "snd_wscale": self.snd_wscale,
            "rcv_wscale": self.rcv_wscale,
            "timestamps": self.ts_ok,
            "sack": self.sack_ok,
            "recv_q": len(self._rcvbuf),
            "send_q": len(self._sndbuf),
            "congestion_control": self.cc.name,
            "ca_state": self._ca_state(),
            "ecn": self.ecn.ok,
            "fastopen": self.fastopen,
            "reordering": self.loss.reordering,
            "sacked": self.loss.sacked_out // max(1, self._mss_payload),
            "lost": self.loss.lost_out // max(1, self._mss_payload),
            "retrans_out": self.loss.retrans_out // max(1, self._mss_payload),
            "dsack_dups": self.loss.dsack_dups,
            "reord_seen": self.loss.reord_seen,
            "ato": self._acks.reported_ato,
        }

    def _ca_state(self) -> str:
        """Linux icsk_ca_state's name: Open, Disorder, CWR, Recovery or Loss."""
        phase = self.cc.phase
        if phase is Phase.OPEN:
            return "Disorder" if self.loss.disorder else "Open"
        return {Phase.CWR: "CWR", Phase.RECOVERY: "Recovery", Phase.LOSS: "Loss"}[phase]

    # ================================================================ ICMP ERRORS ARRIVE
    def icmp_arrives(self, rep: IcmpReport, seq: int, now: float) -> bool:
        """An ICMP error quoting a segment of ours with sequence number ``seq``; False when it is
        ignored as out of window (RFC 5927 4.1: SND.UNA <= seq <= SND.NXT, Linux tcp_v4_err)."""
        st = self.state
        if st in (S.LISTEN, S.CLOSED):
            return False
        if not (sq.le(self.snd_una, seq) and sq.le(seq, self.snd_nxt)):
            return False
        if st is S.SYN_RCVD and self.passive:
            # Linux tcp_req_err: a request socket is dropped silently for net/host unreachable,
            # time exceeded or a parameter problem, and left alone otherwise.
            if rep.drops_request:
                self._back_to_listen(C.RCV_ICMP, now)
            return True
        if rep.mtu is not None:
            self._path_mtu_lowered(rep.mtu, now)
            return True
        if st in (S.SYN_SENT, S.SYN_RCVD):
            # Linux: any destination unreachable ends a connection still opening (connect()
            # fails with its errno: ECONNREFUSED, EHOSTUNREACH, ...).
            self._fail(rep.errno, C.RCV_ICMP, Unreachable(errno=rep.errno), now)
            return True
        # RFC 1122 4.2.3.9 and RFC 5927: in a synchronized state even a "hard" error only informs.
        self.soft_error = rep.errno
        return True

    def take_soft_error(self) -> int:
        """The soft error an ICMP error left, now reported (Linux SO_ERROR: sk_err_soft, once)."""
        err, self.soft_error = self.soft_error, 0
        return err

    def _path_mtu_lowered(self, mtu: int, now: float) -> None:
        """RFC 1191 / RFC 8201 on "fragmentation needed": segments now fit the new path MTU
        (never below Linux's 552, IPv6's 1280), and what was sent larger goes again at once in
        pieces that fit (Linux tcp_v4_mtu_reduced, tcp_simple_retransmit; measured: 3000 bytes
        sent as 1448, 1448, 104 with MTU 1200 reported go again as 1148, 1148, 600)."""
        floor = MIN_PMTU_V6 if ":" in self.local[0] else MIN_PMTU_V4
        mtu = max(mtu, floor)
        if mtu >= self.path_mtu:
            return
        old = self._mss_payload
        self.pmtu = mtu
        new = self._mss_payload
        if not self.state.synchronized or sq.sub(self.snd_nxt, self.snd_una) == 0:
            return
        # The segments in flight were cut at the old size from SND.UNA: what is too big now is
        # marked lost and cut anew into pieces of the new size (the loss detector), and goes again.
        outstanding = sq.sub(self.snd_nxt, self.snd_una)
        oversized_end = 0
        for start in range(0, outstanding, old):
            if min(old, outstanding - start) > new:
                oversized_end = min(start + old, outstanding)
        if oversized_end:
            self.loss.resegment(sq.add(self.snd_una, oversized_end), new)
            self._retransmit_lost(now)

    # ============================================================ SEGMENT ARRIVES (3.10.7)
    def segment_arrives(self, seg: Segment, now: float) -> None:
        st = self.state
        if st is _ESTABLISHED and HEADER_PREDICTION and self._predicted(seg, now):
            self._output(now)
            return
        if st is _CLOSED:
            self._arrives_closed(seg)
        elif st is S.LISTEN:
            self._arrives_listen(seg, now)
        elif st is S.SYN_SENT:
            self._arrives_syn_sent(seg, now)
        else:
            self._arrives_otherwise(seg, now)
        if self.state is not _CLOSED:
            self._output(now)

    # -- header prediction: the fast path ---------------------------------------------------------
    def _predicted(self, seg: Segment, now: float) -> bool:
        """Van Jacobson's header prediction (Linux tcp_rcv_established's fast path): in
        ESTABLISHED, most segments are (a) a pure ACK of new data or (b) the next data in
        order, carrying no news for the sender. For those this does exactly what
        ``_arrives_otherwise`` does, step by step, without the checks that cannot fire; False
        (nothing done) sends every other segment down the general path. The segment must:

        - have ACK, and none of SYN, FIN, RST, URG, ECE;
        - start at RCV.NXT (so it is acceptable: 3.10.7.4 first check), with SND.UNA =< SEG.ACK
          =< SND.MAX (acceptable, not old: fifth check), and carry either data that fits the
          window with no out-of-order data queued, or no data and an ACK of new data (a
          duplicate ACK and a window update take the general path);
        - carry exactly the options in use on every segment: nothing, or NOP NOP TS with a
          TSval not older than TS.Recent (PAWS passes); no SACK blocks;
        - find the congestion control the one configured (no TCP_CONGESTION change to apply).

        ``HEADER_PREDICTION = False`` (tests only) sends every segment down the general path."""
        flags = int(seg.flags)
        if flags & _NOT_PREDICTED or not flags & ACK or seg.seq != self.rcv_nxt:
            return False
        opts = seg.options
        ts: Timestamps | None = None
        if self.ts_ok:
            if len(opts) != 3 or type(opts[0]) is not NOP or type(opts[1]) is not NOP:
                return False
            last = opts[2]
            if type(last) is not Timestamps or (last.val - self.ts_recent) & _MASK >= _HALF:
                return False  # not the timestamps, or TSval < TS.Recent: PAWS decides
            ts = last
        elif opts:
            return False
        if self.cc.name != self.config.congestion_control:
            return False
        ack = seg.ack
        snd_una = self.snd_una
        acked = (ack - snd_una) & _MASK
        if acked > (self.snd_max - snd_una) & _MASK:
            return False  # an old ACK, or one of something not sent
        payload = seg.payload
        seq = seg.seq
        if payload:
            length = len(payload)
            room = (self._rcv_adv - seq) & _MASK  # (the window's right edge never moves back)
            if length > room or room >= _HALF or self._ooo:
                return False
        elif not acked:
            return False  # a duplicate ACK or a window update
        # Fifth, check the ACK field (_process_ack): acceptable; TS.Recent; SND.UNA moves.
        self._segment_validated(ts, seq, now)
        rtt = self._ack_advances(seg, ts, now) if acked else None
        self._probes_out = 0
        # window update: SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)
        wl1 = self.snd_wl1
        if (wl1 != seq and (seq - wl1) & _MASK < _HALF) or (wl1 == seq and (ack - self.snd_wl2) & _MASK < _HALF):
            self._set_window(seg)
        if payload:
            if acked or self.loss.outstanding:
                self._sender_ack(seg, None, snd_una, False, rtt, now)
        elif not self._in_order_ack(ack, snd_una, rtt, now):  # a pure ACK (acked > 0)
            self._sender_ack(seg, None, snd_una, False, rtt, now)
        # Seventh, the segment text (_process_text_and_fin, _receive_text): in order, in the window.
        if payload:
            ecn = self.ecn
            if ecn.ok and ecn.data_arrives(seg):
                self._ack_now = True
            self._rcvbuf += payload
            self.rcv_nxt = (seq + length) & _MASK
            if self.per_segment_events:
                self._tell(DataReadable(len(self._rcvbuf)))
            self._data_arrived(length, bool(flags & PSH), now, seg.gso_size)
        return True

    # -- 3.10.7.1 CLOSED -----------------------------------------------------------------------
    def _arrives_closed(self, seg: Segment) -> None:
        """All data is discarded; a RST is answered with nothing, anything else with a RST."""
        rst = reset_for(seg)
        if rst is not None:
            self._put(rst)

    # -- 3.10.7.2 LISTEN -----------------------------------------------------------------------
    def _arrives_listen(self, seg: Segment, now: float) -> None:
        verdict = listen_verdict(seg, accept_syn_text=self.config.accept_syn_text)
        if verdict is ListenVerdict.RESET:
            self._arrives_closed(seg)  # any acknowledgment is bad in LISTEN: <SEQ=SEG.ACK><CTL=RST>
        elif verdict is ListenVerdict.SYN:
            if self.remote is None:
                self.remote = ("", seg.src_port)
            self.rcv_nxt = sq.add(seg.seq, 1)
            self.irs = seg.seq
            self._rcv_adv = self._rcv_wup = self.rcv_nxt
            self._take_syn_options(seg, now)
            self._init_send(now)
            self._set_window(seg)
            self.ecn.syn_arrives(seg)
            # "Any other control or text should be queued for processing later" (it is not
            # acknowledged by the SYN-ACK either way) in the rfc profile; Linux drops it (the
            # peer sends it again after the handshake) unless Fast Open accepts it.
            self._queue_syn_text(seg)
            self._enter(S.SYN_RCVD, C.RCV_SYN, now)
            self._fastopen_syn(seg)
            self._send_syn(now, ack=True)
        # IGNORE (a RST) and DROP (other text or control): nothing to do.

    def _fastopen_syn(self, seg: Segment) -> None:
        """RFC 7413 4.2 on a listener's child (Linux tcp_try_fastopen): data in a SYN with a
        valid cookie (or any, with SERVER_NO_COOKIE) is accepted at once; a SYN asking for a
        cookie, or with a wrong one, gets the right one in the SYN-ACK and its data dropped."""
        key = self._opening.fastopen_key
        if key is None or self.remote is None:
            return
        opt = seg.option(FastOpen)
        client, server = self.remote[0], self.local[0]
        valid = opt is not None and bool(opt.cookie) and key.valid(opt.cookie, client, server)
        if seg.payload and (valid or self.config.fastopen & tfo.SERVER_NO_COOKIE):
            self._rcvbuf += seg.payload
            self.rcv_nxt = sq.add(self.rcv_nxt, len(seg.payload))
            self._rcv_adv = self._rcv_wup = self.rcv_nxt
            self._syn_text = None  # taken now, not queued
            self.fastopen = True
            self._tell(DataReadable(len(self._rcvbuf)))
            self._tell(FastOpenAccepted())
        elif opt is not None:
            self._opening.fastopen_reply = key.cookie(client, server)

    # -- 3.10.7.3 SYN-SENT ---------------------------------------------------------------------
    def _arrives_syn_sent(self, seg: Segment, now: float) -> None:
        ack_ok = False
        # First, check the ACK bit.
        if seg.has_ack:
            if sq.le(seg.ack, self.iss) or sq.gt(seg.ack, self.snd_max):
                if not seg.rst:
                    self._send_rst_now(seg.ack)  # <SEQ=SEG.ACK><CTL=RST>
                return
            ack_ok = sq.lt(self.snd_una, seg.ack) and sq.le(seg.ack, self.snd_max)
        # Second, check the RST bit: with an acceptable ACK, "connection reset" (refused).
        if seg.rst:
            if ack_ok:
                self._fail(E.ECONNREFUSED, C.RCV_RST, Reset(refused=True, errno=E.ECONNREFUSED), now)
            return
        # Third: security (not implemented). Fourth, check the SYN bit.
        if not seg.syn:
            return  # fifth: neither SYN nor RST: drop
        self.rcv_nxt = sq.add(seg.seq, 1)
        self.irs = seg.seq
        self._rcv_adv = sq.add(self.rcv_nxt, self._rwin.wnd)  # as our SYN said
        self._rcv_wup = self.rcv_nxt
        self._take_syn_options(seg, now)
        if seg.has_ack:
            self.ecn.synack_arrives(seg)
            self._fastopen_synack(seg)
        if ack_ok:
            prior_una = self.snd_una
            ts = seg.option(Timestamps) if self.ts_ok else None
            rtt = self._ack_advances(seg, ts, now)  # SND.UNA = SEG.ACK; acked segments leave the queue
            self._sender_ack(seg, seg.option(Sack) if self.sack_ok else None, prior_una, False, rtt, now)
            if self.loss.outstanding:
                # Fast Open data the server did not take goes again at once (Linux
                # tcp_rcv_fastopen_synack), carrying the ACK of the SYN-ACK.
                self.loss.mark_head_lost()
            elif sq.gt(seg.ack, sq.add(self.iss, 1)):
                self.fastopen = True  # our SYN's data was taken (Linux syn_data_acked)
        if sq.gt(self.snd_una, self.iss):
            # Our SYN has been ACKed: ESTABLISHED, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
            self._set_window(seg)
            self._window_after_handshake(seg)
            self._enter(S.ESTABLISHED, C.RCV_SYN_ACK, now)
            if self._acks.synack_arrived(now, sq.sub(self._rcv_adv, self.rcv_nxt), self.rcv_mss):
                self._timers().arm(_T_DELAYED_ACK, now + self.config.delayed_ack_max)
            else:
                self._ack_now = True
            if self.config.accept_syn_text:
                # "If there are other controls or text in the segment, then continue processing
                # at the sixth step": data and FIN carried by the SYN-ACK.
                self._process_text_and_fin(seg, sq.add(seg.seq, 1), now)
            # Linux (no TCP Fast Open) ignores them: measured, the ACK says RCV.NXT = IRS + 1
            # and the peer sends them again (notes/linux-behaviour.md, SYN-ACK text).
        else:
            # Simultaneous open: enter SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>;
            # "If there are other controls or text in the segment, queue them for processing
            # after the ESTABLISHED state has been reached".
            self._set_window(seg)
            self._queue_syn_text(seg)
            self._enter(S.SYN_RCVD, C.RCV_SYN, now)
            self._send_syn(now, ack=True)

    def _window_after_handshake(self, seg: Segment) -> None:
        """The congestion window the transfer starts with, now that ``seg`` completed the
        handshake. RFC 5681 3.1 (and RFC 6928 2): one segment when the SYN or SYN-ACK was lost.
        Linux (tcp_init_transfer; measured, notes/linux-engine-notes.md): one segment only once
        two or more SYNs / SYN-ACKs were retransmitted (tp->total_retrans > 1: "in light of RFC
        6298's more aggressive 1 s initial RTO"), and not when the peer echoes the first one's
        timestamp (tcp_try_undo_spurious_syn: it was only delayed); ssthresh stays."""
        if self.config.syn_loss_window == "rfc":
            lost = self._opening.syn_retransmitted
        else:
            ts = seg.option(Timestamps) if self.ts_ok else None
            spurious = ts is not None and ts.ecr == self._opening.syn_tsval
            # (Linux: undo_marker is set only when a SYN / SYN-ACK timed out; SYN-ACKs sent again
            # for duplicate SYNs count in total_retrans but alone do not shrink the window)
            lost = self._opening.syn_retransmitted and self.total_retrans > 1 and not spurious
        if lost and self.cc.cwnd > self._mss_payload:
            before = (self.cc.cwnd, self.cc.ssthresh)
            self.cc.cwnd = self._mss_payload
            self._cwnd_told("initial window", before)

    def _fastopen_synack(self, seg: Segment) -> None:
        """RFC 7413 4.1.3: a cookie in the SYN-ACK is for the client to keep."""
        opt = seg.option(FastOpen)
        if self._opening.fastopen_cookie is not None and opt is not None and tfo.usable_cookie(opt.cookie):
            self._tell(FastOpenCookie(opt.cookie))

    # -- 3.10.7.4 other states ------------------------------------------------------------------
    def _arrives_otherwise(self, seg: Segment, now: float) -> None:
        st = self.state

        # Linux: a retransmitted SYN in SYN-RECEIVED is answered with the SYN-ACK again; in a
        # simultaneous open, the peer's SYN-ACK is the acknowledgment of our SYN.
        if st is S.SYN_RCVD and seg.syn and not seg.rst:
            if not seg.has_ack and seg.seq == self.irs:
                # At most one per tcp_invalid_ratelimit (Linux tcp_check_req: tcp_oow_rate_limited),
                # counted as a retransmission as tcp_rtx_synack counts it (RetransSegs,
                # TCPSynRetrans, the child's tcpi_total_retrans; measured, notes/delack-ato.md)
                if self._oow_allow(now):
                    self._count_retransmission(now)
                    self._send_syn(now, ack=True)
                return
            if seg.has_ack and not self.passive and sq.add(seg.seq, 1) == self.rcv_nxt and seg.ack == self.snd_max:
                self._ack_advances(seg, seg.option(Timestamps) if self.ts_ok else None, now)
                self._set_window(seg)
                self._window_after_handshake(seg)
                self._enter(S.ESTABLISHED, C.RCV_ACK_OF_SYN, now)
                self._ack_now = True
                self._process_queued_syn_text(now)
                return

        if st is S.TIME_WAIT and self.config.time_wait_rules == "linux":
            self._arrives_time_wait_linux(seg, now)
            return

        # TIME-WAIT (3.10.7.4, fifth and eighth): "The only thing that can arrive in this state is
        # a retransmission of the remote FIN. Acknowledge it, and restart the 2 MSL timeout." Its
        # sequence number is below RCV.NXT, so the first step would only ACK it: match it first.
        if (
            st is S.TIME_WAIT
            and seg.fin
            and not seg.rst
            and not seg.syn
            and sq.add(seg.seq, len(seg.payload) + 1) == self.rcv_nxt
        ):
            self._timers().arm(_T_TIME_WAIT, now + 2 * self.config.msl)
            self._send_ack_now(now)
            return

        # PAWS (RFC 7323 5.3): a segment with an old timestamp is a duplicate: ACK and drop.
        ts = seg.option(Timestamps) if self.ts_ok else None
        if ts is not None and not seg.rst and self._paws_reject(ts, now):
            self._ack_unacceptable(seg, now)
            return

        # ---- First, check sequence number (the four cases of 3.10.7.4) ----
        seg_len = seg.seg_len
        rcv_wnd = sq.sub(self._rcv_adv, self.rcv_nxt)
        if not self._acceptable(seg.seq, seg_len, rcv_wnd):
            # Zero window: "special allowance should be made to accept valid ACKs, URGs, and
            # RSTs" — a segment at RCV.NXT still has its ACK processed, its text dropped.
            if not (rcv_wnd == 0 and seg.seq == self.rcv_nxt and seg.has_ack):
                if not seg.rst:
                    if ts is not None and self._resends_acked_data(seg):
                        self._update_ts_recent(seg.seq, ts, now)
                    self._ack_unacceptable(seg, now)  # <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
                return
            seg_text_allowed = False
            if seg.payload or seg.fin:
                self._ack_now = True  # answer a zero-window probe with the current window
        else:
            seg_text_allowed = True

        # ---- Second, check the RST bit (with RFC 5961 3.2) ----
        if seg.rst:
            if self.config.rfc5961 and seg.seq != self.rcv_nxt:
                self._challenge_ack(now)  # in window but not exact
                return
            self._rst_arrives(now)
            return

        # ---- Third: security (not implemented). Fourth, check the SYN bit ----
        if seg.syn:
            if st is S.SYN_RCVD and self.passive and not self.config.rfc5961:
                # "If the connection was initiated with a passive OPEN, then return this
                # connection to the LISTEN state and return."
                self._back_to_listen(C.RCV_SYN, now)
            elif self.config.rfc5961:
                # RFC 5961 4.2 (and 3.10.7.4): in synchronized states send a challenge ACK and drop.
                self._challenge_ack(now)
            else:
                self._syn_is_an_error(seg, now)
            return

        # ---- Fifth, check the ACK field ----
        if not seg.has_ack:
            return  # "if the ACK bit is off drop the segment and return"
        if st is S.SYN_RCVD:
            if sq.lt(self.snd_una, seg.ack) and sq.le(seg.ack, self.snd_max):
                self._segment_validated(ts, seg.seq, now)
                self._ack_advances(seg, ts, now)
                self._set_window(seg)
                self._window_after_handshake(seg)
                self._enter(S.ESTABLISHED, C.RCV_ACK_OF_SYN, now)  # a held FIN: FIN-WAIT-1
                if self._fin_queued and self._fin_seq is None:
                    # Linux: tcp_shutdown sends it now, before this segment's data is ACKed
                    self._output(now)
                self._process_queued_syn_text(now)
                st = self.state
            else:
                self._send_rst_now(seg.ack)  # <SEQ=SEG.ACK><CTL=RST>
                return
        if not self._process_ack(seg, ts, now):
            return
        if self.state is S.CLOSED:
            return
        # FIN-WAIT-1: our FIN acknowledged. When this very segment carries the peer's FIN in
        # order, the FIN step takes us straight to TIME-WAIT (eighth step, FIN-WAIT-1).
        st = self.state
        fin_acked = self._fin_seq is not None and sq.gt(self.snd_una, self._fin_seq)
        if st is S.FIN_WAIT_1 and fin_acked:
            fin_in_order = seg.fin and seg_text_allowed and sq.add(seg.seq, len(seg.payload)) == self.rcv_nxt
            if not fin_in_order:
                self._enter(S.FIN_WAIT_2, C.RCV_ACK_OF_FIN, now)
                if self._user_closed and self.config.fin_wait_2_timeout is not None:
                    self._timers().arm(_T_FIN_WAIT_2, now + self.config.fin_wait_2_timeout)
        elif st is S.CLOSING and fin_acked:
            self._enter(S.TIME_WAIT, C.RCV_ACK_OF_FIN, now)
            return
        elif st is S.LAST_ACK and fin_acked:
            self._enter(S.CLOSED, C.RCV_ACK_OF_FIN, now)
            return
        elif st is S.TIME_WAIT:
            # Fifth and eighth steps: a FIN (at RCV.NXT: the retransmitted one was matched
            # above) is acknowledged and the 2 MSL timeout restarted. RCV.NXT does not move: the
            # peer's FIN was received already. Text is ignored (seventh step), an ACK changes
            # nothing.
            if seg.fin:
                self._timers().arm(_T_TIME_WAIT, now + 2 * self.config.msl)
                self._send_ack_now(now)
            return

        # ---- Sixth, check the URG bit ----
        if int(seg.flags) & URG and self.state in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2):
            # Urgent data is delivered inline; only the pointer is remembered (RFC 6093).
            self.rcv_up = sq.seq_max(self.rcv_up, sq.add(seg.seq, seg.urgent))

        # ---- Seventh, process the segment text; eighth, check the FIN bit ----
        if seg_text_allowed:
            self._process_text_and_fin(seg, seg.seq, now)

    def _send_dupack(self, seg: Segment, now: float) -> None:
        """The ACK for a segment that is dropped as a duplicate or out of the window; data
        already received is reported with a D-SACK block (RFC 2883 4.1.1; Linux
        tcp_send_dupack); a duplicate also puts the receiver back in quick-ACK mode
        (ackpolicy.py)."""
        if seg.seg_len and sq.lt(seg.seq, self.rcv_nxt):
            end = sq.add(seg.seq, len(seg.payload))
            if seg.payload:
                self._note_duplicate(seg.seq, end if sq.le(end, self.rcv_nxt) else self.rcv_nxt)
            scheduled = not sq.lt(sq.add(seg.seq, seg.seg_len), self._rcv_wup)
            self._own_acks().duplicate_arrived(scheduled, sq.sub(self._rcv_adv, self.rcv_nxt), self.rcv_mss)
        self._send_ack_now(now)

    def _note_duplicate(self, start: int, end: int) -> None:
        """Octets ``start:end`` arrived again: the next ACK reports them first (RFC 2883)."""
        if self.sack_ok and self.config.dsack and sq.lt(start, end):
            self._dsack = (start, end)

    def _acceptable(self, seq: int, seg_len: int, rcv_wnd: int) -> bool:
        """The acceptability test of 3.10.7.4 (four cases)."""
        rcv_nxt = self.rcv_nxt
        if seg_len == 0:
            if rcv_wnd == 0:
                return seq == rcv_nxt
            return sq.in_window(seq, rcv_nxt, rcv_wnd)
        if rcv_wnd == 0:
            return False
        return sq.in_window(seq, rcv_nxt, rcv_wnd) or sq.in_window(sq.add(seq, seg_len - 1), rcv_nxt, rcv_wnd)

    # -- what a valid and an invalid segment leave behind ---------------------------------------
    def _segment_validated(self, ts: Timestamps | None, seq: int, now: float) -> None:
        """The segment passed the sequence, RST, SYN and ACK checks. Only now may it count:
        its timestamp for TS.Recent (RFC 7323 4.3 and Appendix D; Linux updates it in tcp_ack()
        after the ACK checks, so a spoofed segment with a bad ACK cannot poison PAWS: issue 15),
        and as a sign of life for the keepalive timer (RFC 9293 3.8.4; Linux rcv_tstamp)."""
        if ts is not None:
            self._update_ts_recent(seq, ts, now)
        if self.timers.armed(_T_KEEPALIVE):
            self._arm_keepalive(now)

    def _update_ts_recent(self, seq: int, ts: Timestamps, now: float) -> None:
        """RFC 7323 4.3 (2): "If SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent then
        SEG.TSval is copied to TS.Recent" (a TS.Recent older than 24 days is no bound)."""
        if (self._last_ack_sent - seq) & _MASK < _HALF and (  # SEG.SEQ <= Last.ACK.sent
            (ts.val - self.ts_recent) & _MASK < _HALF or now - self._ts_recent_age > tw.PAWS_IDLE
        ):
            self.ts_recent = ts.val
            self._ts_recent_age = now

    def _resends_acked_data(self, seg: Segment) -> bool:
        """A duplicate that ends at or after the point our last ACK announced: the peer resent
        it because that ACK was lost. Linux's sequence check (tcp_sequence: only segments ending
        before rcv_wup are old) lets it through, so its timestamp, not the original's, is what
        the duplicate ACK echoes (RFC 7323 4.3: SEG.SEQ <= Last.ACK.sent) — the sender's RTT
        sample is then the path's, not its retransmission timeout. Its ACK must be acceptable."""
        end = sq.add(seg.seq, seg.seg_len)
        return (
            seg.has_ack and sq.ge(end, self._last_ack_sent) and sq.le(end, self.rcv_nxt) and self._ack_in_range(seg.ack)
        )

    def _ack_unacceptable(self, seg: Segment, now: float) -> None:
        """3.10.7.4 first step: "If an incoming segment is not acceptable, an acknowledgment
        should be sent in reply", throttled as Linux (tcp_oow_rate_limited, RFC 5961 7): a SYN
        draws a challenge ACK; a segment without data at most one ACK per
        ``Config.invalid_ratelimit``; data (and FIN) always, its duplicate ACK is information
        (with a D-SACK block for data received already)."""
        if seg.syn:
            self._challenge_ack(now)
        elif seg.payload or seg.fin or self._oow_allow(now):
            self._send_dupack(seg, now)

    def _out_of_window_limit(self) -> OutOfWindowLimit:
        """This connection's RFC 5961 7 limit, made at the first out-of-window segment (most
        connections never see one)."""
        if self._oow is None:
            self._oow = OutOfWindowLimit(self.config.invalid_ratelimit)
        return self._oow

    def _oow_allow(self, now: float) -> bool:
        """May an ACK answer an out-of-window segment now (Linux tcp_oow_rate_limited)?"""
        return self._out_of_window_limit().allow(now)

    def _challenge_ack(self, now: float) -> None:
        """RFC 5961 3.2, 4.2, 5.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, throttled (section 7) by
        the connection's limit and then the host's (Linux tcp_send_challenge_ack)."""
        if not self._oow_allow(now):
            return
        if self._challenge_acks is not None and not self._challenge_acks.allow(now):
            return
        self._send_ack_now(now)

    def _syn_is_an_error(self, seg: Segment, now: float) -> None:
        """3.10.7.4 fourth, for implementations not following RFC 5961 (RFC 793's rule): "If the
        SYN is in the window it is an error: send a reset, any outstanding RECEIVEs and SEND
        should receive 'reset' responses, all segment queues should be flushed, the user should
        also receive an unsolicited general 'connection reset' signal, enter the CLOSED state,
        delete the TCB, and return." (Out of the window, the first step has answered it with an
        ACK already.) The reset is formed as 3.5.2 forms one for a segment that does not belong
        to the connection: <SEQ=SEG.ACK><CTL=RST>, or <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>."""
        rst = reset_for(seg)
        assert rst is not None  # the segment is a SYN without RST
        self._put(rst)
        self._ooo = _NO_OOO
        self._fail(E.ECONNRESET, C.RCV_SYN, Reset(refused=False, errno=E.ECONNRESET), now)

    def _ooo_queue(self) -> Reassembly:
        """The out-of-order queue, made when something first needs queueing: most connections
        never do, and until then they share one empty queue (``_NO_OOO``, never changed)."""
        if self._ooo is _NO_OOO:
            self._ooo = Reassembly()
        return self._ooo

    def _queue_syn_text(self, seg: Segment) -> None:
        """RFC 9293 3.10.7.2 / 3.10.7.3: keep a SYN's text and FIN until ESTABLISHED (only when
        ``Config.accept_syn_text``; Linux drops them)."""
        if self.config.accept_syn_text and (seg.payload or seg.fin):
            self._syn_text = seg

    def _process_queued_syn_text(self, now: float) -> None:
        """ESTABLISHED reached: the text and FIN a SYN carried are processed now, as the seventh
        and eighth steps would have (the SYN occupied IRS, the text starts at IRS + 1)."""
        seg = self._syn_text
        if seg is not None:
            self._syn_text = None
            self._process_text_and_fin(seg, sq.add(seg.seq, 1), now)

    def _arrives_time_wait_linux(self, seg: Segment, now: float) -> None:
        """TIME-WAIT as Linux's tcp_timewait_state_process (``Config.time_wait_rules="linux"``):
        timewait.arrival decides, for this connection as for the record a host keeps once the
        application has gone (``time_wait_record``)."""
        ts = seg.option(Timestamps) if self.ts_ok else None
        todo = tw.arrival(seg, ts, now, self.rcv_nxt, self.ts_recent, self._ts_recent_age, self.config.rfc1337)
        if todo & tw.CLOSE:
            self._enter(S.CLOSED, C.RCV_RST, now)  # "TIME_WAIT assassination"
            return
        if todo & tw.RESTART:
            self._timers().arm(_T_TIME_WAIT, now + 2 * self.config.msl)
        if todo & tw.TS_RECENT and ts is not None:
            self.ts_recent = ts.val
            self._ts_recent_age = now
        if todo & tw.ACK or (todo & tw.ACK_IF_ALLOWED and self._oow_allow(now)):
            self._send_ack_now(now)

    def time_wait_record(self) -> TimeWait | None:
        """This connection as the small record a host keeps in its place (timewait.py, Linux's
        inet_timewait_sock): once it is in TIME-WAIT under Linux's rules, its application has
        closed it, and nothing but the 2 MSL timer is left to run; else None. The record's
        window is the one this connection advertises now (it can no longer change)."""
        if (
            self.state is not S.TIME_WAIT
            or not self._user_closed
            or self.config.time_wait_rules != "linux"
            or self._out
            or self._events
            or self._dsack is not None
            or self._ooo
            or self.remote is None
        ):
            return None
        deadline = self.timers.deadline(_T_TIME_WAIT)
        if deadline is None or self.timers.earliest() != deadline:
            return None
        return TimeWait(
            self.local,
            self.remote,
            name=self.name,
            snd_nxt=self.snd_max,  # RFC 9293's SND.NXT (see _send_ack_now)
            rcv_nxt=self.rcv_nxt,
            ts_ok=self.ts_ok,
            ts_recent=self.ts_recent,
            ts_recent_age=self._ts_recent_age,
            ts_hz=self.config.ts_hz,
            ts_offset=(self.iss * 2654435761) & 0xFFFFFFFF,  # as _ts_now
            window=self._window_field(syn=False),
            ece=self.ecn.echo,
            msl=self.config.msl,
            rfc1337=self.config.rfc1337,
            deadline=deadline,
            oow=self._out_of_window_limit(),
            total_retrans=self.total_retrans,
        )

    def _paws_reject(self, ts: Timestamps, now: float, *, linux_rst: bool = False) -> bool:
        return tw.paws_reject(ts.val, self.ts_recent, self._ts_recent_age, now, linux_rst=linux_rst)

    def _rst_arrives(self, now: float) -> None:
        """3.10.7.4 second check, state by state."""
        st = self.state
        if st is S.SYN_RCVD:
            if self.passive:
                self._back_to_listen(C.RCV_RST, now)  # "return this connection to LISTEN state"
            else:
                self._fail(E.ECONNREFUSED, C.RCV_RST, Reset(refused=True, errno=E.ECONNREFUSED), now)
        elif st is S.TIME_WAIT:
            if not self.config.rfc1337:  # RFC 1337: ignore RST in TIME-WAIT (tcp_rfc1337=1)
                self._enter(S.CLOSED, C.RCV_RST, now)  # "enter the CLOSED state"
        else:
            # ESTABLISHED .. CLOSE-WAIT: "any outstanding RECEIVEs and SEND should receive reset
            # responses"; CLOSING, LAST-ACK: "enter the CLOSED state". The error the user sees
            # is Linux's (tcp_reset, measured): EPIPE in CLOSE-WAIT, ECONNRESET in the others,
            # CLOSING and LAST-ACK included. (A TIME-WAIT's socket has gone: no error.)
            code = E.EPIPE if st is S.CLOSE_WAIT else E.ECONNRESET
            self._fail(code, C.RCV_RST, Reset(refused=False, errno=code), now)

    def _back_to_listen(self, cause: Cause, now: float) -> None:
        self.timers.stop_all()
        self._sndbuf.clear()
        self.remote = self._opening.listen_remote
        self._retries = 0
        self.rtt.backoff = 0
        self._enter(S.LISTEN, cause, now)

    def _ack_in_range(self, ack: int) -> bool:
        """RFC 5961 5.2: acceptable when SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT (without RFC
        5961, only the upper bound: 3.10.7.4 fifth, "acks something not yet sent")."""
        if sq.gt(ack, self.snd_max):
            return False
        return not (self.config.rfc5961 and sq.lt(ack, sq.sub(self.snd_una, max(self.max_snd_wnd, 1))))

    def _process_ack(self, seg: Segment, ts: Timestamps | None, now: float) -> bool:
        """3.10.7.4 fifth check for the synchronized states (``ts``: the segment's timestamps
        option, if they are in use). False: drop the segment."""
        ack = seg.ack
        if not self._ack_in_range(ack):
            # "If the ACK acks something not yet sent (SEG.ACK > SND.NXT) then send an ACK, drop
            # the segment"; RFC 5961 5.2 likewise for an ACK too old. Both are challenge ACKs,
            # throttled (RFC 5961 section 7; this kernel, notes/linux-behaviour.md D).
            self._challenge_ack(now)
            return False
        self._segment_validated(ts, seg.seq, now)
        prior_una = self.snd_una
        if sq.lt(ack, prior_una):
            return True  # an old ACK: ignore it (and go on with the segment)
        # RFC 5681 2 "duplicate acknowledgment": no data, no FIN, the same window, something
        # outstanding (judged before the window update).
        duplicate = (
            ack == prior_una
            and prior_una != self.snd_max
            and not (seg.payload or seg.fin)
            and (seg.window << self.snd_wscale) == self.snd_wnd
            and not self._probe_outstanding
        )
        rtt = self._ack_advances(seg, ts, now) if ack != prior_una else None
        self._probes_out = 0  # the peer answers (Linux tcp_ack: icsk_probes_out = 0)
        # Window update (3.10.7.4): if SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK).
        if sq.lt(self.snd_wl1, seg.seq) or (self.snd_wl1 == seg.seq and sq.le(self.snd_wl2, ack)):
            self._set_window(seg)
        self._sender_ack(seg, seg.option(Sack) if self.sack_ok else None, prior_una, duplicate, rtt, now)
        return True

    def _ack_advances(self, seg: Segment, ts: Timestamps | None, now: float) -> float | None:
        """SND.UNA < SEG.ACK =< SND.NXT: set SND.UNA, drop acknowledged data, time the RTT
        (the sample is returned)."""
        ack = seg.ack
        rtt = self._sample_rtt(seg, ts, now)
        # Bytes of data acknowledged (SYN and FIN occupy sequence space but not the buffer).
        data_acked = (ack - self._snd_base) & _MASK  # when SEG.ACK is after the buffer's start
        if data_acked >= _HALF:
            data_acked = 0
        elif data_acked > self._sndbuf.nbytes:
            data_acked = self._sndbuf.nbytes
        if data_acked:
            del self._sndbuf[:data_acked]
            self._snd_base = (self._snd_base + data_acked) & _MASK
            if self.per_segment_events and self.state in _SEND_SPACE_TOLD:
                self._tell(SendSpace(self.send_free))
        self.snd_una = ack
        if ack != self.snd_nxt and (ack - self.snd_nxt) & _MASK < _HALF:  # (sq.gt, per ACK)
            self.snd_nxt = ack
        self._probe_outstanding = False
        self._retries = 0
        # Forward progress ends the backoff. (Karn keeps it until a valid RTT sample; Linux takes
        # one from nearly every such ACK, from the send time of data never retransmitted or
        # else from the echo, so in effect the same.)
        if self.rtt.backoff:
            self.rtt.backoff = 0
            self._rtt_changed()
        # RFC 6298 5.2/5.3: stop the timer when all is acked, else restart it.
        if self.snd_una == self.snd_max:
            self.timers.stop(_T_RETRANSMISSION)
            self.timers.stop(_T_TLP)
            self.timers.stop(_T_USER_TIMEOUT)
            self._rtx_start = None
        else:
            self._timers().arm(_T_RETRANSMISSION, now + self.rtt.rto)
            self._outstanding_since(now)
        return rtt

    def _sample_rtt(self, seg: Segment, ts: Timestamps | None, now: float) -> float | None:
        """An ACK that advances SND.UNA (RFC 7323 4.1's RTTM rule) may give an RTT sample (it is
        returned): from its timestamp echo, or without timestamps from the one timed segment
        (RFC 6298 3, Karn's rule: never a retransmitted one). An echo older than our latest
        retransmission is not used: it echoes a transmission before it, so it measures the
        retransmission timeout rather than the path (the peer acknowledged the original, or its
        duplicate ACK echoes an old TS.Recent). Such samples fed back into the RTO grow it
        without bound on a very lossy path (issue 15: 40 % loss stalled at the 120 s ceiling)."""
        ack = seg.ack
        timed = self._rtt_seq is not None and sq.ge(ack, self._rtt_seq)
        if timed:
            self._rtt_seq = None
        sample: float | None = None
        if ts is not None and ts.ecr:
            if self._rtx_ts is not None and sq.lt(ts.ecr, self._rtx_ts):
                return None
            sample = (self._ts_now(now) - ts.ecr) % _TS_MOD / self.config.ts_hz
        elif timed:
            sample = now - self._rtt_time
        if sample is not None:
            snd_max = self.snd_max
            # (all acknowledged: the ACK's own int object, which SND.UNA and the loss detector
            # keep too, rather than a second one of the same value: see _enter, ESTABLISHED)
            self.rtt.sample(sample, now, ack, ack if ack == snd_max else snd_max)
            if self.per_segment_events:
                self._rtt_changed(max(sample, 0.0))
        return sample

    # -- loss recovery and congestion control (the decisions live in loss.py, congestion.py) --
    def _sender_ack(
        self, seg: Segment, sack: Sack | None, prior_una: int, duplicate: bool, rtt: float | None, now: float
    ) -> None:
        """What an acceptable ACK means for the sender, in Linux's order (tcp_ack,
        tcp_fastretrans_alert, tcp_cong_control): the loss detector takes the cumulative ACK
        and the SACK blocks; anything beyond data delivered in order is judged
        (``_judge_ack``); the congestion control shrinks (PRR) or grows the window; the timers
        are set. ``sack``: the segment's SACK option, when SACK is in use."""
        loss, cc = self.loss, self.cc
        if cc.name != self.config.congestion_control:
            cc = self._follow_congestion_setting()
        ack = seg.ack
        advanced = sq.gt(ack, prior_una)
        if not (advanced or loss.outstanding or sack):
            return
        mss = self._mss_payload
        delivery = loss.on_ack(ack, sack.blocks if sack else (), prior_una, now, mss, self.max_snd_wnd)
        if not self.sack_ok:
            if advanced:
                loss.reno_acked(delivery.acked, mss)
            elif duplicate:
                loss.on_reno_dupack(sq.sub(self.snd_nxt, self.snd_una), mss)
                delivery.sacked = mss  # one segment left the network (RFC 6937 DeliveredData)
                delivery.segments = 1
        elif duplicate:
            loss.on_sack_dupack()
        ece = self.ecn.ok and self.ecn.echo_arrives(seg)
        lost_before = loss.lost_out
        fast_retransmit = False
        if sack or duplicate or ece or cc.phase is not _OPEN or loss.disorder or loss.tlp_high_seq is not None:
            fast_retransmit = self._judge_ack(ack, advanced, duplicate, ece, delivery, now)
        else:
            self.timers.stop(_T_RACK_REORDER)  # in order, nothing SACKed: nothing to wait for
        before = (cc.cwnd, cc.ssthresh)
        reducing = cc.reducing
        snd_una, snd_nxt = self.snd_una, self.snd_nxt
        cc.on_ack(
            AckSample(  # (positional, in AckSample's order: one per ACK)
                delivery.acked,
                delivery.acked + delivery.sacked,  # (DeliveredData: Delivery.delivered)
                loss.in_flight((snd_nxt - snd_una) & _MASK),
                snd_una,
                snd_nxt,
                advanced,
                delivery.segments,
                loss.lost_out > lost_before,  # newly_lost
                cc.limited(cc),  # cwnd_limited (cc is its own WindowUse)
                rtt,
                # may_raise, Linux tcp_may_raise_cwnd: once reordering raised the threshold, any
                # forward progress (SACKed data too) may grow the window; else only SND.UNA moving.
                advanced or bool(delivery.sacked and loss.reordering > self.config.reordering),
            ),
            now,
        )
        if (cc.cwnd, cc.ssthresh) != before:  # (the reason named only when there is news)
            if reducing:
                reason = "recovery: PRR" if cc.prr else "recovery"
            else:
                reason = "slow start" if before[0] < before[1] else "congestion avoidance"  # (cc.in_slow_start)
            self._cwnd_told(reason, before)
        if fast_retransmit:
            self._retransmit_lost(now, force=True)  # RFC 5681 3.2 step 2 / RFC 6675 (4.3)
        if advanced or fast_retransmit:
            self._arm_xmit_timer(now, advancing=True)

    def _in_order_ack(self, ack: int, prior_una: int, rtt: float | None, now: float) -> bool:
        """``_sender_ack`` for header prediction's pure ACK in the sender's common case,
        deciding nothing differently (Linux tcp_ack when "SND.UNA advanced" is all there is
        to it): SACK in use and no SACK option, no ECN echo (header prediction checked those),
        the congestion control OPEN, the loss detector with nothing SACKed, lost or
        retransmitted and no probe out (``LossDetector.on_cumulative_ack``). Nothing to judge:
        the congestion control grows, the timers are set. False (nothing done) otherwise."""
        cc = self.cc
        if cc.phase is not _OPEN or not self.sack_ok:
            return False
        delivery = self.loss.on_cumulative_ack(ack, prior_una, now)
        if delivery is None:
            return False
        self.timers.stop(_T_RACK_REORDER)  # in order, nothing SACKed: nothing to wait for
        cwnd, ssthresh = cc.cwnd, cc.ssthresh
        snd_una, snd_nxt = self.snd_una, self.snd_nxt
        acked = delivery.acked
        # (AckSample's fields as _sender_ack's: delivered is acked, in flight all outstanding,
        # SND.UNA advanced, nothing newly lost, the window may be raised)
        outstanding = (snd_nxt - snd_una) & _MASK
        cc.on_ack(
            AckSample(acked, acked, outstanding, snd_una, snd_nxt, True, delivery.segments, False, cc.limited(cc), rtt),
            now,
        )
        if cc.cwnd != cwnd or cc.ssthresh != ssthresh:
            self._cwnd_told("slow start" if cwnd < ssthresh else "congestion avoidance", (cwnd, ssthresh))
        self._arm_xmit_timer(now, True)  # (advancing)
        return True

    def _judge_ack(self, ack: int, advanced: bool, duplicate: bool, ece: bool, delivery: Delivery, now: float) -> bool:
        """An ACK that says more than "delivered in order" (Linux tcp_fastretrans_alert): a
        spurious episode is undone (D-SACK), a tail loss probe judged, an ECN echo answered
        with a reduction (RFC 3168 6.1.2); a reduction whose data is all acknowledged ends;
        losses are detected (RACK, thresholds) and start fast recovery (True: the fast
        retransmit is due)."""
        loss, cc = self.loss, self.cc
        before = (cc.cwnd, cc.ssthresh)
        if delivery.spurious:
            cc.undo()  # RFC 2883: every retransmission of the episode was a duplicate
            self._cwnd_told("undo", before)
        if loss.probe_outcome(ack, delivery, duplicate) is Probe.REPAIRED:
            cc.reduce_now(self.snd_max, self._flight_size)  # RFC 8985 7.4: the probe repaired a loss
            self.ecn.window_reduced()
            self._cwnd_told("loss probe", before)
        if ece and cc.phase is Phase.OPEN:
            cc.enter_cwr(self.snd_max, self._flight_size)  # RFC 3168 6.1.2: once per window of data
            self.ecn.window_reduced()
            self._cwnd_told("ECN echo", before)
        before = (cc.cwnd, cc.ssthresh)
        cc.end_if_acked(ack, loss.in_flight(sq.sub(self.snd_nxt, self.snd_una)))
        self._cwnd_told("recovery done", before)
        if not self.sack_ok and advanced and cc.phase is Phase.RECOVERY:
            loss.partial_ack()  # RFC 6582 3.2 step 5
        retrans_before = loss.retrans_out
        self._detect_losses(now)
        fast_retransmit = self._maybe_enter_recovery(ece, lost_retrans=loss.retrans_out < retrans_before)
        loss.update_reo_wnd(self.snd_una, self.snd_nxt)
        return fast_retransmit

    def _follow_congestion_setting(self) -> CongestionControl:
        """``Config.congestion_control`` changed on a live connection (TCP_CONGESTION): the new
        algorithm takes over the window (Linux tcp_reinit_congestion_control)."""
        c = self.config
        new = create(c)
        new.take_over(self.cc)
        self.cc = new
        return new

    def _detect_losses(self, now: float) -> None:
        """The loss detector marks what is lost; the RACK reordering timer follows its word."""
        wait = self.loss.detect(now, self.rtt.srtt, self.cc.phase in _LOSS_PHASES, self._timer_min)
        if wait is None:
            self.timers.stop(_T_RACK_REORDER)
        else:
            self._timers().arm(_T_RACK_REORDER, now + wait)

    def _maybe_enter_recovery(self, ece: bool = False, lost_retrans: bool = False) -> bool:
        """Linux tcp_time_to_recover: a loss is proven, so fast recovery begins (from OPEN or
        CWR); True when it did (the first retransmission goes whatever the window).
        ``lost_retrans``: loss detection just found a retransmission lost, which in LOSS starts
        Recovery too with Config.recovery_rules "linux" (tcp_fastretrans_alert, case
        TCP_CA_Loss: FLAG_LOST_RETRANS falls through to tcp_enter_recovery; Loss is no cwnd
        reduction, so tcp_init_cwnd_reduction takes a new ssthresh from the current window).
        The RACK timer passes True for anything it finds lost (tcp_rack_reo_timeout enters
        Recovery from every other state)."""
        cc = self.cc
        if not self.loss.lost_out:
            return False
        if cc.phase not in (Phase.OPEN, Phase.CWR) and not (
            lost_retrans and cc.phase is Phase.LOSS and self.config.recovery_rules == "linux"
        ):
            return False
        before = (cc.cwnd, cc.ssthresh)
        cc.enter_recovery(self.snd_max, flight_size=self._flight_size, ecn=ece)
        self._cwnd_told("fast retransmit", before)
        self.loss.start_episode(self.snd_una)
        self.ecn.window_reduced()
        self.timers.stop(_T_TLP)
        return True

    @property
    def _flight_size(self) -> int:
        """RFC 5681's FlightSize: data sent and not yet acknowledged."""
        return sq.sub(self.snd_nxt, self.snd_una)

    @property
    def _timer_min(self) -> float:
        """Linux TCP_TIMEOUT_MIN: two jiffies."""
        return 2 / self.config.hz

    def _cwnd_told(self, reason: str, before: tuple[int, int]) -> None:
        """After the congestion control acted: a change of cwnd or ssthresh is told to the user
        (CongestionChanged; ``reason`` one of CWND_REASONS)."""
        cc = self.cc
        if (cc.cwnd, cc.ssthresh) != before and self.per_segment_events:
            high = cc.ssthresh if cc.ssthresh < ARBITRARILY_HIGH else None
            self._tell(CongestionChanged(cc.cwnd, high, reason))

    def _rtt_changed(self, sample: float | None = None) -> None:
        """The RTT estimator moved: a sample, or an RTO backoff or its reset (RttChanged)."""
        if self.per_segment_events:
            rtt = self.rtt
            self._tell(RttChanged(sample, rtt.srtt, rtt.rttvar, rtt.rto))

    def _set_window(self, seg: Segment) -> None:
        shift = 0 if int(seg.flags) & SYN else self.snd_wscale  # RFC 7323 2.2: SYN windows are not scaled
        self.snd_wnd = seg.window << shift
        self.snd_wl1 = seg.seq
        self.snd_wl2 = seg.ack
        if self.snd_wnd > self.max_snd_wnd:
            self.max_snd_wnd = self.snd_wnd
        if self.snd_wnd and self.timers.armed(_T_PERSIST):
            self.timers.stop(_T_PERSIST)
            self._persist_backoff = 0
            if self._probe_outstanding and self.snd_una != self.snd_nxt:
                # The window opened but the probe octet was not taken: send it again as data.
                self.snd_nxt = self.snd_una
            self._probe_outstanding = False

    def _process_text_and_fin(self, seg: Segment, seq: int, now: float) -> None:
        """Seventh (segment text) and eighth (FIN) checks of 3.10.7.4."""
        st = self.state
        payload = seg.payload
        if payload and self.ecn.data_arrives(seg):
            self._ack_now = True  # RFC 3168 6.1.3: congestion experienced; echo it at once
        fin_seq = sq.add(seq, len(payload))
        if seg.fin and st is S.ESTABLISHED and seq == self.rcv_nxt and sq.le(fin_seq, self._rcv_adv):
            # Linux tcp_fin enters ping-pong mode before the ACK is decided (__tcp_ack_snd_check
            # runs after tcp_data_queue): no quick ACK for this segment's data either.
            self._own_acks().fin_arrived()
        if payload and st in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2):
            self._receive_text(seq, payload, seg, now)
        elif payload:
            self._ack_now = True  # CLOSE-WAIT and later: the peer sent its FIN already; ignore
        if seg.fin:
            if fin_seq == self.rcv_nxt:
                self._fin_arrives(now)
            elif sq.gt(fin_seq, self.rcv_nxt):
                self._ooo_queue().fin_seq = fin_seq
                self._ack_now = True

    def _receive_text(self, seq: int, payload: bytes | memoryview, seg: Segment, now: float) -> None:
        rcv_nxt = self.rcv_nxt
        right = self._rcv_adv
        # Trim to the window: text before RCV.NXT was received already; text beyond the right
        # edge is not accepted (3.10.7.4: "only the portion in the window").
        if sq.lt(seq, rcv_nxt):
            self._note_duplicate(seq, rcv_nxt)  # partly old: the old part is a duplicate
            skip = sq.sub(rcv_nxt, seq)
            payload = payload[skip:]
            seq = rcv_nxt
        room = sq.sub(right, seq) if sq.lt(seq, right) else 0
        if len(payload) > room:
            payload = payload[:room]
        if not payload:
            self._ack_now = True
            return
        if seq == rcv_nxt:
            self._rcvbuf += payload
            self.rcv_nxt = sq.add(rcv_nxt, len(payload))
            filled = bool(self._ooo)
            if filled:
                more = self._ooo.pop(self.rcv_nxt)
                if more:
                    self._rcvbuf += more
                    self.rcv_nxt = sq.add(self.rcv_nxt, len(more))
                self._ack_now = True  # RFC 5681 4.2: ACK at once when a hole is filled
            if self.per_segment_events:
                self._tell(DataReadable(len(self._rcvbuf)))
            self._data_arrived(len(payload), bool(int(seg.flags) & PSH), now, seg.gso_size)
            if self._ooo.fin_seq is not None and self._ooo.fin_seq == self.rcv_nxt:
                self._ooo.fin_seq = None
                self._fin_arrives(now)
        else:
            # Out of order: keep it, and send a duplicate ACK at once (RFC 5681 4.2); what was
            # held already is reported as a duplicate (RFC 2883 4.2, Linux tcp_data_queue_ofo).
            # The queue is charged its truesize against twice the buffer (Linux: sk_rcvbuf, of
            # which tcp_adv_win_scale=1 advertises half), less the in-order data waiting to be read.
            overlap = self._ooo.overlap(seq, sq.add(seq, len(payload)))
            if overlap is not None:
                self._note_duplicate(*overlap)
            self._ooo_queue().add(seq, bytes(payload), rcv_nxt, limit=2 * self.config.rcv_buf - len(self._rcvbuf))
            self._ack_now = True

    def _data_arrived(self, length: int, psh: bool, now: float, gso_size: int = 0) -> None:
        """In-order data of ``length`` bytes arrived: acknowledge it now or later (ackpolicy.py).

        RFC 9293 3.8.6.3 / RFC 1122 4.2.3.2: at least every second full-sized segment, i.e.
        (as Linux counts it, __tcp_ack_snd_check) once more than one segment (rcv_mss, the
        largest received, tcp_measure_rcv_mss) arrived since our last window announcement,
        provided (with auto-tuning) the window would not shrink; at once in quick-ACK mode;
        else after the delayed-ACK time.

        A super-segment the link coalesced (GRO, ``gso_size``) is judged by its parts' size, as
        Linux's tcp_measure_rcv_mss takes ``gso_size ?: len``: rcv_mss learns the parts, not
        the 64 KB that came, and a batch of two parts or more is more than one segment, so it
        gets one ACK at once, as the parts would have had."""
        mss = self._advmss
        size = gso_size or length
        small_or_pushed = size < self.rcv_mss or psh
        if size >= self.rcv_mss:
            self.rcv_mss = size if size < mss else mss
        acks, rwin = self._acks, self._rwin
        if acks.idle:
            acks = self._own_acks()
        rcv_nxt, rcv_mss = self.rcv_nxt, self.rcv_mss
        acks.data_arrived(small_or_pushed, now, self.rtt.rto, (self._rcv_adv - rcv_nxt) & _MASK, rcv_mss)
        free = self._rcv_free()  # (nothing below changes it)
        if rwin.grow(length, free, mss):
            acks.window_grew()
        if self._ack_now:
            return
        more_than_one = (rcv_nxt - self._rcv_wup) & _MASK > rcv_mss
        if more_than_one and rwin.linux:
            more_than_one = rwin.would_offer(free, self.rcv_wscale, rcv_mss)[0] >= rwin.wnd
        if more_than_one or acks.immediate:
            self._ack_now = True
        else:
            self._delay_ack(now)

    def _delay_ack(self, now: float) -> None:
        """Schedule the pending ACK (Linux tcp_send_delayed_ack; ackpolicy.py says when)."""
        due = self._acks.deadline(now, self.rtt.srtt, self.timers.deadline(_T_DELAYED_ACK))
        if due is None:
            self._ack_now = True
        else:
            self._timers().arm(_T_DELAYED_ACK, due)

    def _fin_arrives(self, now: float) -> None:
        """Eighth, check the FIN bit (the FIN is in order)."""
        self.rcv_nxt = sq.add(self.rcv_nxt, 1)
        self.eof = True
        self._tell(PeerFinished())
        st = self.state
        if st in (S.SYN_RCVD, S.ESTABLISHED) and self._acks.linux:
            self._fin_ack_later(now)
        else:
            # RFC 9293 3.10.7.4 eighth step: "acknowledge the FIN" (no delay asked for). In
            # FIN-WAIT-1/2 Linux too sends it at once (tcp_fin: tcp_send_ack).
            self._ack_now = True
        if st in (S.SYN_RCVD, S.ESTABLISHED):
            self._enter(S.CLOSE_WAIT, C.RCV_FIN, now)
        elif st is S.FIN_WAIT_1:
            if self._fin_seq is not None and sq.gt(self.snd_una, self._fin_seq):
                self._enter(S.TIME_WAIT, C.RCV_FIN_ACK, now)  # our FIN acked (in this segment)
            else:
                self._enter(S.CLOSING, C.RCV_FIN, now)
        elif st is S.FIN_WAIT_2:
            self._enter(S.TIME_WAIT, C.RCV_FIN, now)
        elif st is S.TIME_WAIT:
            self._timers().arm(_T_TIME_WAIT, now + 2 * self.config.msl)  # restart the 2 MSL timeout

    def _fin_ack_later(self, now: float) -> None:
        """The linux profile's ACK of a FIN in ESTABLISHED (notes/linux-behaviour.md C): Linux
        tcp_fin only schedules it (inet_csk_schedule_ack) and enters ping-pong mode, so no
        quick ACK; it goes on the delayed-ACK timer, whose timeout (icsk_ack.ato) is 0 until the
        first data arrived (the timer fires at the next jiffy: measured 1.2-4.7 ms at HZ=250)
        and ato after; sooner when data or our FIN carries it."""
        self._own_acks().fin_arrived()
        if self._ack_now:
            return  # this segment's data asked for an ACK now (more than one segment, a hole)
        self._delay_ack(now)

    # ============================================================== timeouts (3.10.8)
    def handle_timeout(self, now: float) -> None:
        """Run the timers that are due at ``now`` (in ``Timer`` order), then send."""
        for timer in self.timers.due(now):
            self._TIMEOUTS[timer](self, now)
            if self.state is S.CLOSED:
                return
        self._output(now)

    def _time_wait_timeout(self, now: float) -> None:
        self._enter(S.CLOSED, C.TIMEOUT_2MSL, now)  # time-wait timeout: delete the TCB

    def _fin_wait_2_timeout(self, now: float) -> None:
        if self.state is S.FIN_WAIT_2:
            # Linux tcp_fin_timeout: an orphaned FIN-WAIT-2 goes away silently.
            self._enter(S.CLOSED, C.TIMEOUT_FIN_WAIT_2, now)

    def _delayed_ack_timeout(self, now: float) -> None:
        self._acks.delayed_ack_fired(self.rtt.rto)
        self._ack_now = True

    def _retransmission_timeout(self, now: float) -> None:
        """RFC 6298 5.4-5.6 with RFC 9293 3.8.3's R2: retransmit the earliest segment or give up."""
        st = self.state
        if st.synchronized and self.snd_una == self.snd_max:
            return  # nothing outstanding
        c = self.config
        if st is S.SYN_SENT:
            timed_out = self._retries >= c.syn_retries + c.syn_linear_timeouts  # Linux tcp_write_timeout
        elif st is S.SYN_RCVD:
            timed_out = self._retries >= c.synack_retries
        else:
            limit = c.orphan_retries if self._user_closed else c.retries2
            if self._retries == 0:
                self._retrans_stamp = self.loss.head_sent()  # Linux tcp_retransmit_skb
            if c.retries_by == "count":
                timed_out = self._retries >= limit
            else:
                timed_out = self._retries > 0 and now - self._retrans_stamp >= self._model_timeout(limit)
        # With TCP_USER_TIMEOUT the time limit replaces the count for data (Linux
        # retransmits_timed_out); its own timer ends the connection (_user_timeout).
        if c.user_timeout is not None and self._rtx_start is not None:
            timed_out = False
        if timed_out:
            code = self.soft_error or E.ETIMEDOUT  # Linux tcp_write_err: the soft error if any
            self._fail(code, C.TIMEOUT, TimedOut(errno=code), now)
            return
        self._retries += 1
        if not st.synchronized:
            self._opening.syn_retransmitted = True
        # R1 (retries1) would ask IP for another route; on one link there is none to ask.
        if st.synchronized:
            # Everything outstanding is lost now (Linux tcp_enter_loss): it goes again in
            # order as slow start reopens the window, the head first (5.4).
            outstanding = sq.sub(self.snd_nxt, self.snd_una)
            self.loss.on_rto()
            before = (self.cc.cwnd, self.cc.ssthresh)
            self.cc.on_rto(
                self.snd_max,
                self.loss.in_flight(outstanding),
                flight_size=outstanding,
                # Linux tcp_enter_loss: in Loss, a new ssthresh when no timeout came since an
                # ACK advanced SND.UNA (icsk_retransmits 0; _retries counts this one already).
                renew_in_loss=c.recovery_rules == "linux" and self._retries == 1,
            )
            self._cwnd_told("retransmission timeout", before)
            self.ecn.window_reduced()
            self.timers.stop(_T_TLP)
            self.timers.stop(_T_RACK_REORDER)
        if st is not S.SYN_SENT or self._retries > c.syn_linear_timeouts:
            self.rtt.backoff += 1  # RFC 6298 5.5 (Linux: not for the first linear SYN timeouts)
        self._rtt_changed()
        self._rtt_seq = None  # Karn: no sample from retransmitted data
        self._retransmit_head(now)
        self._timers().arm(_T_RETRANSMISSION, now + self.rtt.rto)  # 5.6

    def _model_timeout(self, boundary: int) -> float:
        """Linux tcp_model_timeout: how long ``boundary`` retransmissions take when the RTO
        starts at TCP_RTO_MIN (200 ms) and doubles up to rto_max; retransmits_timed_out gives
        up once that long has passed since the first retransmission, whatever the real RTO
        (15: 924.6 s, measured: the kernel's 17th transmission at 817.9 s, ETIMEDOUT at the next
        timer, 938.7 s)."""
        base = _TCP_RTO_MIN
        thresh = int(self.config.rto_max / base).bit_length() - 1  # ilog2(TCP_RTO_MAX / base)
        if boundary <= thresh:
            return ((2 << boundary) - 1) * base
        return ((2 << thresh) - 1) * base + (boundary - thresh) * self.config.rto_max

    def _tlp_timeout(self, now: float) -> None:
        """RFC 8985 7.3 (Linux tcp_send_loss_probe): send one new segment if the peer's window
        allows, else the last segment again; then the retransmission timer takes over."""
        loss = self.loss
        if self.state.synchronized and loss.outstanding and loss.tlp_high_seq is None:
            if self._send_data(now, probe=True):
                loss.probe_sent(self.snd_max, retransmission=False)
            else:
                last = loss.last()
                if last is not None:
                    self._resend(last, now)
                    loss.probe_sent(self.snd_max, retransmission=True)
        if self.snd_una != self.snd_max:
            self._timers().arm(_T_RETRANSMISSION, now + self.rtt.rto)
            if self._rtx_start is None:
                self._outstanding_since(now)

    def _rack_timeout(self, now: float) -> None:
        """RFC 8985 6.3 (Linux tcp_rack_reo_timeout): the reordering window has passed; what
        is lost now starts a recovery (PRR counts one segment delivered) and goes again."""
        loss = self.loss
        lost_before, retrans_before = loss.lost_out, loss.retrans_out
        self._detect_losses(now)
        # Linux: when packets in flight changed (a lost retransmission leaves lost_out as it
        # was), Recovery begins from any other state, LOSS included.
        if loss.lost_out > lost_before or loss.retrans_out < retrans_before:
            if self.cc.phase is not Phase.RECOVERY and self._maybe_enter_recovery(lost_retrans=True):
                outstanding = sq.sub(self.snd_nxt, self.snd_una)
                before = (self.cc.cwnd, self.cc.ssthresh)
                self.cc.on_ack(
                    AckSample(
                        acked=0,
                        delivered=self._mss_payload,
                        delivered_segs=1,
                        in_flight=self.loss.in_flight(outstanding),
                        snd_una=self.snd_una,
                        snd_nxt=self.snd_nxt,
                        advanced=False,
                        newly_lost=True,
                    ),
                    now,
                )
                self._cwnd_told("recovery: PRR", before)
            self._retransmit_lost(now)
        if self.snd_una != self.snd_max and not self.timers.armed(_T_RETRANSMISSION):
            self._timers().arm(_T_RETRANSMISSION, now + self.rtt.rto)

    def _outstanding_since(self, now: float) -> None:
        """Data is outstanding from ``now`` on: RFC 5482 / Linux TCP_USER_TIMEOUT gives the
        connection ``Config.user_timeout`` seconds to have it acknowledged, on a deadline of its
        own (not checked only when the retransmission timer fires: issue 15, 10 s set, 13.1 s
        seen)."""
        self._rtx_start = now
        if self.config.user_timeout is not None:
            self._timers().arm(_T_USER_TIMEOUT, now + self.config.user_timeout)

    def _user_timeout(self, now: float) -> None:
        if self.snd_una != self.snd_max or self.timers.armed(_T_PERSIST):
            self._fail(E.ETIMEDOUT, C.TIMEOUT, TimedOut(errno=E.ETIMEDOUT), now)

    def _keepalive_timeout(self, now: float) -> None:
        c = self.config
        if self.state not in (S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_2) or not c.keepalive:
            return
        if self._keepalive_probes >= c.keepalive_count:
            self._fail(
                E.ETIMEDOUT,
                C.TIMEOUT if self.state is not S.FIN_WAIT_2 else C.TIMEOUT_FIN_WAIT_2,
                TimedOut(errno=E.ETIMEDOUT),
                now,
            )
            return
        # RFC 9293 3.8.4: a probe is a segment with SEG.SEQ = SND.NXT - 1 and no data.
        self._keepalive_probes += 1
        self._emit(sq.sub(self.snd_una, 1), ACK, now)
        self._timers().arm(_T_KEEPALIVE, now + c.keepalive_interval)

    def _arm_keepalive(self, now: float) -> None:
        if self.config.keepalive and self.state.synchronized:
            self._keepalive_probes = 0
            self._timers().arm(_T_KEEPALIVE, now + self.config.keepalive_idle)
        else:
            self.timers.stop(_T_KEEPALIVE)

    def set_keepalive(self, on: bool, now: float) -> None:
        if bool(self.config.keepalive) != on:
            self.reconfigure(keepalive=on)
        self._arm_keepalive(now)

    def reconfigure(self, **changes: object) -> None:
        """Change settings of this connection alone (socket options): copy-on-write, since the
        Config may be shared with other connections (``Config.read_only``). Collaborators that
        read the Config as they go (the ACK policy) read the new one; what the others took from
        it when the connection was made stays as it was."""
        self.config = self.config.copy(**changes)
        self._own_acks().config = self.config

    # ================================================================================ sending
    def _ts_now(self, now: float) -> int:
        # Like Linux, each connection's timestamp clock starts at an offset derived from its ISN.
        return (int(now * self.config.ts_hz) + self.iss * 2654435761) & 0xFFFFFFFF

    def _rcv_free(self) -> int:
        return self._rwin.free(self._rcvbuf.nbytes + self._ooo.bytes)

    def _window_field(self, syn: bool) -> int:
        """The window we advertise (rcvwindow.py), never shrinking the right edge (RFC 9293
        3.8.6.2.2); a SYN's is not scaled and counts from RCV.NXT (RFC 7323 2.2)."""
        free = self._rcv_free()
        if syn:
            # The MSS the window is rounded to: a SYN-ACK's after timestamps were negotiated.
            wnd = self._rwin.syn_window(free, self.config.mss if self.state is S.SYN_SENT else self._advmss)
            self._rcv_adv = sq.add(self.rcv_nxt, wnd)
            self._rcv_wup = self.rcv_nxt
            return wnd
        shift = self.rcv_wscale
        rcv_nxt = self.rcv_nxt
        current = (self._rcv_adv - rcv_nxt) & _MASK  # RCV.ADV - RCV.NXT, 0 when not after it
        if current >= _HALF:
            current = 0
        wnd, pressure = self._rwin.select(free, current, shift, self.rcv_mss, self.config.mss)
        if pressure:
            self._acks.under_pressure()
        self._rcv_adv = (rcv_nxt + wnd) & _MASK
        self._rcv_wup = rcv_nxt
        wnd >>= shift
        return wnd if wnd < 0xFFFF else 0xFFFF

    def _maybe_window_update(self, now: float) -> None:
        """After the user reads: tell the peer when the window opened enough (3.8.6.2.2)."""
        if self.state not in _WINDOW_UPDATES:
            return
        current = sq.sub(self._rcv_adv, self.rcv_nxt)
        if self._rwin.update_due(self._rcv_free(), current, self.rcv_wscale, self.rcv_mss, self.config.mss):
            self._ack_now = True
            self._output(now)

    def _options(self, now: float, syn: bool, sack: bool = True) -> tuple[Option, ...]:
        c = self.config
        if syn:
            # Before the peer's SYN we offer everything enabled; after it (SYN-ACK) we answer
            # only what the peer offered (RFC 7323 1.3 and 2.2, RFC 2018 2).
            answering = self.state is not S.SYN_SENT
            want_sack = c.sack and (self.sack_ok if answering else True)
            want_ts = c.timestamps and (self.ts_ok if answering else True)
            want_ws = c.window_scaling and (self._opening.peer_ws if answering else True)
            # RFC 7413 4.1.1: our cookie (or a request), or the cookie our SYN-ACK gives a client.
            if answering:
                cookie = self._opening.fastopen_reply
            elif c.fastopen & tfo.CLIENT_NO_COOKIE:
                cookie = None  # Linux 0x4: SYN data without any cookie option
            else:
                cookie = self._opening.fastopen_cookie
            return syn_options(
                c.syn_option_layout,
                MSS(c.mss),
                want_sack,
                Timestamps(self._ts_now(now), self.ts_recent if answering else 0) if want_ts else None,
                WindowScale(self._opening.offer_wscale) if want_ws else None,
                FastOpen(cookie) if cookie is not None else None,
            )
        # The timestamps (on every segment once negotiated: the shared NOP and the wire's fast
        # Timestamps constructor), then SACK blocks when something is out of order or duplicated.
        ts = (_NOP, _NOP, timestamps_option(self._ts_now(now), self.ts_recent)) if self.ts_ok else ()
        # (the queue's byte count rather than its truth, a call: a queued FIN alone has no block)
        if not (self.sack_ok and (self._ooo.bytes or self._dsack)):
            return ts
        blocks = []
        if self._dsack is not None:
            blocks.append(self._dsack)  # RFC 2883 4: the duplicate first, reported once
            self._dsack = None
        blocks += self._ooo.sack_blocks((3 if self.ts_ok else 4) - len(blocks))
        return (*ts, NOP(), NOP(), Sack(tuple(blocks))) if blocks else ts

    def _take_syn_options(self, seg: Segment, now: float) -> None:
        """Negotiate MSS, window scale, timestamps and SACK-permitted from the peer's SYN."""
        c = self.config
        mss = seg.option(MSS)
        peer_mss = mss.value if mss is not None and mss.value > 0 else c.default_peer_mss
        # Linux tcp_min_snd_mss (CVE-2019-11479): a peer asking for tiny segments would make us
        # send a byte per segment. The floor applies before the timestamp option is taken off
        # (measured: peer MSS 1..48 gives 36-byte segments with timestamps, 48 without).
        self.snd_mss = max(peer_mss, c.min_snd_mss)
        ws = seg.option(WindowScale)
        self._opening.peer_ws = ws is not None
        if ws is not None and c.window_scaling:
            self.snd_wscale = min(ws.shift, 14)  # RFC 7323 2.3: larger than 14 is taken as 14
            self.rcv_wscale = self._opening.offer_wscale
        else:
            self.snd_wscale = self.rcv_wscale = 0
        ts = seg.option(Timestamps)
        self.ts_ok = ts is not None and c.timestamps
        if ts is not None and self.ts_ok:
            self.ts_recent = ts.val
            self._ts_recent_age = now
        self.sack_ok = seg.option(SackPermitted) is not None and c.sack
        self.loss.sack_ok = self.sack_ok
        self.cc.start(self._mss_payload)
        self._cwnd_told("initial window", (0, self.cc.ssthresh))

    def _send_syn(self, now: float, ack: bool, retransmission: bool = False) -> None:
        """SYN (SYN-SENT) or SYN,ACK (SYN-RECEIVED): <SEQ=ISS>[<ACK=RCV.NXT>], with ECN's
        flags (RFC 3168 6.1.1) and, on a first Fast Open SYN, data (RFC 7413 3)."""
        flags = (SYN | ACK | self.ecn.synack_flags()) if ack else (SYN | self.ecn.syn_flags(retransmission))
        payload = b"" if ack or retransmission else self._syn_data()
        seg = Segment(
            self.local[1],
            self.remote[1] if self.remote else 0,
            self.iss,
            self.rcv_nxt if ack else 0,
            FLAGS[flags],
            self._window_field(syn=True),
            0,
            self._options(now, syn=True),
            payload,
        )
        self._put(seg)
        opening = self._opening
        if opening.syn_tsval is None and self.config.timestamps:
            opening.syn_tsval = self._ts_now(now)  # (the TSval _options gave the first one)
        if ack:
            self._last_ack_sent = self.rcv_nxt
        if payload:
            end = sq.add(self.snd_nxt, len(payload))
            self.loss.on_send(self.snd_nxt, end, now)
            self.snd_nxt = self.snd_max = end
        self._timers().arm_if_stopped(_T_RETRANSMISSION, now + self.rtt.rto)
        if self._rtt_seq is None and self._retries == 0:
            self._rtt_seq, self._rtt_time = sq.add(self.iss, 1), now
            if not self.rtt.samples:
                self._rtt_changed()  # the initial RTO (RFC 6298 2.1) the first SYN is timed with

    def _syn_data(self) -> bytes:
        """What a Fast Open SYN carries (Linux tcp_send_syn_data): with a cookie (or the
        CLIENT_NO_COOKIE bit), as much queued data as fits in the MSS less 40 octets of options."""
        cookie = self._opening.fastopen_cookie
        if cookie is None or not self._sndbuf:
            return b""  # not a Fast Open connect
        if not cookie and not self.config.fastopen & tfo.CLIENT_NO_COOKIE:
            return b""
        return bytes(self._sndbuf[: max(0, self.config.mss - 40)])

    def _emit(self, seq: int, flags: int, now: float, payload: bytes = b"", ecn: int = 0, gso_size: int = 0) -> None:
        """Put one segment on the output list, with ACK=RCV.NXT, our window, ECE while
        echoing congestion (RFC 3168 6.1.3) and ``ecn`` as its IP ECN codepoint (``gso_size``: a
        super-segment, for the link to split into parts that big)."""
        remote = self.remote
        assert remote is not None  # only a connection with a peer emits
        seg = Segment(
            self.local[1],
            remote[1],
            seq,
            self.rcv_nxt if flags & ACK else 0,
            FLAGS[flags | ECE if self.ecn.echo else flags],
            self._window_field(False),  # (positional arguments: per segment)
            0,
            self._options(now, False),
            payload,
        )
        # (set after: keyword arguments to the dataclass's __init__ cost as much as the rest)
        if ecn:
            seg.ecn = ecn
        if gso_size:
            seg.gso_size = gso_size
        out = self._out
        if out:
            out.append(seg)
        else:
            self._out = [seg]  # (_put, inline: this runs for every segment)
        if flags & ACK:
            self._last_ack_sent = self.rcv_nxt
            self._ack_now = False
            self._acks.ack_sent()
            self.timers.stop(_T_DELAYED_ACK)

    def _send_ack_now(self, now: float) -> None:
        # <SEQ=SND.NXT>: RFC 9293's SND.NXT is our snd_max (snd_nxt moves back after an RTO
        # to send the window again; an ACK must still carry the highest sequence number sent).
        self._emit(self.snd_max, ACK, now)

    def _send_rst_now(self, seq: int, ack: int | None = None) -> None:
        """A reset: <SEQ=seq><CTL=RST>, or <SEQ=seq><ACK=ack><CTL=RST,ACK> when ack is given."""
        remote_port = self.remote[1] if self.remote else 0
        if ack is None:
            self._put(Segment(self.local[1], remote_port, seq, 0, FLAGS[RST], 0))
        else:
            self._put(Segment(self.local[1], remote_port, seq, ack, FLAGS[RST | ACK], 0))

    def _send_active_reset(self, now: float) -> None:
        """The RST of an ABORT. RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST>. Linux
        (tcp_send_active_reset, ``Config.abort_rst="linux"``) builds it as any segment of the
        connection: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> with the window and timestamps
        (measured, notes/linux-behaviour.md I: `R. 4:4(0) ack 3 win 64 <nop,nop,TS>`, SEQ =
        SND.NXT also with data unacknowledged)."""
        if self.config.abort_rst == "linux":
            self._emit(self.snd_max, RST | ACK, now)
        else:
            self._send_rst_now(self.snd_max)

    def _retransmit_head(self, now: float) -> None:
        """The retransmission timer's segment: SYN, SYN-ACK, or the first segment outstanding
        (data or FIN; the loss detector has marked it lost)."""
        st = self.state
        if st in (S.SYN_SENT, S.SYN_RCVD) or (self.snd_una == self.iss):
            self._count_retransmission(now)
            self._send_syn(now, ack=st is not S.SYN_SENT, retransmission=True)
            return
        head = self.loss.mark_head_lost()
        if head is not None:
            self._resend(head, now)
        # else: nothing but a zero-window probe byte was outstanding; the persist timer has it.

    def _resend(self, rec: Sent, now: float) -> None:
        """Send the segment ``rec`` again (Not-ECT: RFC 3168 6.1.5)."""
        off = sq.sub(rec.seq, self._snd_base)
        end = sq.sub(rec.end, self._snd_base)
        fin = self._fin_seq is not None and sq.add(self._fin_seq, 1) == rec.end
        if fin:
            end -= 1
        payload = bytes(self._sndbuf[off:end]) if end > off else b""
        flags = ACK | (FIN if fin else 0)
        if payload and end == len(self._sndbuf):
            flags |= PSH
        self._count_retransmission(now)
        self._emit(rec.seq, flags, now, payload)
        self.loss.on_retransmit(rec, now)
        self.cc.on_sent(rec.length, now)

    def _retransmit_lost(self, now: float, force: bool = False) -> None:
        """Retransmit what the loss detector marked lost, in sequence order, while the
        congestion window allows (RFC 6675 NextSeg rule 1, Linux tcp_xmit_retransmit_queue);
        ``force``: the first one goes whatever the window (the fast retransmit)."""
        loss, mss = self.loss, self._mss_payload
        head = False
        while True:
            rec = loss.next_lost()
            if rec is None:
                break
            cwnd = self.cc.cwnd
            if not force and cwnd and loss.in_flight(sq.sub(self.snd_nxt, self.snd_una)) + mss > cwnd:
                break
            force = False
            head = head or rec.seq == self.snd_una
            self._resend(rec, now)
        # Linux tcp_xmit_retransmit_queue: retransmitting the head restarts the RTO from now
        # (unless the RACK reordering timer holds Linux's one timer); RFC 6298 5.3 runs it from
        # the last ACK that advanced.
        if head and self.config.recovery_rules == "linux" and not self.timers.armed(_T_RACK_REORDER):
            self.timers.stop(_T_TLP)
            self._timers().arm(_T_RETRANSMISSION, now + self.rtt.rto)

    def _arm_xmit_timer(self, now: float, advancing: bool) -> None:
        """Linux tcp_set_xmit_timer: a tail loss probe if one may be scheduled (RFC 8985 7.2),
        else the retransmission timer (which RFC 6298 5.1-5.3 have armed already)."""
        if not self._schedule_probe(now, advancing):
            self.timers.stop(_T_TLP)
            if self.snd_una != self.snd_max and not self.timers.armed(_T_RETRANSMISSION):
                self._timers().arm(_T_RETRANSMISSION, now + self.rtt.rto)
                self._outstanding_since(now)

    def _schedule_probe(self, now: float, advancing: bool) -> bool:
        """RFC 8985 7.2 as Linux tcp_schedule_loss_probe: with SACK, data outstanding and no
        recovery, disorder or probe under way, probe after the PTO instead of waiting for the
        RTO (the probe timer takes the retransmission timer's place until it fires)."""
        c = self.config
        if not self.sack_ok or not c.tlp or self.cc.phase not in _PROBE_PHASES or self.state not in _PROBE_STATES:
            return False
        rtt = self.rtt
        pto = self.loss.tail_probe_timeout(rtt.srtt, c.rto_min, rtt.rto, None if advancing else now)
        if pto is None:
            return False  # nothing outstanding, or SACKed, lost or retransmitted data (disorder)
        self._timers().arm(_T_TLP, now + pto)
        self.timers.stop(_T_RETRANSMISSION)
        return True

    def _count_retransmission(self, now: float, parts: int = 1) -> None:
        """A segment goes again: counted (tcpi_total_retrans; a super-segment as its ``parts``),
        and its timestamp remembered so that echoes of earlier transmissions give no RTT sample
        (``_sample_rtt``)."""
        self.total_retrans += parts
        self._rtx_ts = self._ts_now(now)

    def _send_probe(self, now: float) -> None:
        """Zero-window probe (RFC 9293 3.8.6.1): one octet of new data, persist timer backed off.
        With the window open the timer was holding corked data: send it (Linux tcp_write_wakeup).
        A window that stays closed is given up on as Linux does (tcp_probe_timer)."""
        if self.snd_wnd and self.state.synchronized:
            self._send_data(now, push=self.cork)
            return
        if not self.state.synchronized or self.snd_wnd:
            return
        if self._persist_gives_up():
            self._fail(E.ETIMEDOUT, C.TIMEOUT, TimedOut(errno=E.ETIMEDOUT), now)
            return
        if self._probe_outstanding:
            # The previous probe was refused: send the same octet again.
            off = sq.sub(self.snd_una, self._snd_base)
            self._emit(self.snd_una, ACK, now, bytes(self._sndbuf[off : off + 1]))
        else:
            off = sq.sub(self.snd_nxt, self._snd_base)
            if off >= len(self._sndbuf):
                return
            self._emit(self.snd_nxt, ACK, now, bytes(self._sndbuf[off : off + 1]))
            self.snd_nxt = sq.add(self.snd_nxt, 1)
            if sq.gt(self.snd_nxt, self.snd_max):
                self.snd_max = self.snd_nxt
            self._probe_outstanding = True
        self._probes_out += 1
        self._persist_backoff += 1
        if self.config.user_timeout is not None:
            # Linux tcp_probe_timer: the user timeout counts from the first probe.
            self._timers().arm_if_stopped(_T_USER_TIMEOUT, now + self.config.user_timeout)
        self._timers().arm(_T_PERSIST, now + self._persist_interval())

    def _persist_interval(self) -> float:
        """The wait before the next probe: the RTO (at least ``persist_min``), doubled per probe."""
        c = self.config
        return min(max(self.rtt.rto, c.persist_min) * (1 << min(self._persist_backoff, 20)), c.rto_max)

    def _persist_gives_up(self) -> bool:
        """Linux tcp_probe_timer (measured: /work/notes/persist.md): RFC 1122 4.2.2.17 keeps a
        connection open as long as the receiver answers its probes, so only probes left
        unanswered count, up to tcp_retries2; an orphan (closed by its application) gets
        tcp_orphan_retries probes, and none once its backoff reached the RTO ceiling. (The
        user timeout, which answers do not stop, has its own timer: ``_user_timeout``.)"""
        c = self.config
        limit = c.retries2
        if self._user_closed:
            if self._persist_interval() >= c.rto_max:
                return True
            limit = c.orphan_retries
        return self._probes_out >= limit

    def _output(self, now: float) -> None:
        """Send what the windows, Nagle and SWS avoidance allow; then a pure ACK if owed."""
        st = self.state
        # RFC 7413 4.2.2: after accepting SYN data the server may answer before the handshake
        # completes (Linux tcp_passive_fastopen).
        if st in _SENDING or (st is _SYN_RCVD and self.fastopen):
            sent_from = self.snd_nxt
            self._send_data(now)
            snd_una, snd_max = self.snd_una, self.snd_max
            cc = self.cc  # it tracks its window's use (congestion.WindowUse)
            cc.after_send(
                (snd_max - snd_una) & _MASK, cc.cwnd, self._mss_payload, snd_una, snd_max, self.snd_nxt != sent_from
            )
        if self._ack_now and st in _ACKING:
            if st is _SYN_RCVD:
                self._ack_now = False
            else:
                self._send_ack_now(now)

    def _send_data(self, now: float, push: bool = False, probe: bool = False) -> bool:
        """Retransmissions of what is lost first, then new data as the windows, Nagle, SWS
        avoidance, TCP_CORK / MSG_MORE and MSG_EOR allow. ``push``: a corked partial segment
        may go (the persist timer's); ``probe``: one new segment whatever the congestion window
        (a tail loss probe, Linux tcp_write_xmit push_one=2). True when new data left."""
        loss = self.loss
        # (the unsent data's end, SND.NXT and the FIN written out with MASK: per segment)
        data_end = (self._snd_base + self._sndbuf.nbytes) & _MASK
        if not probe and loss.lost_out:
            self._retransmit_lost(now)
        elif not self._fin_queued and not 0 < (data_end - self.snd_nxt) & _MASK < _HALF:
            return False  # nothing lost, nothing new, no FIN: nothing to send (the receiver's case)
        mss = self._mss_payload
        cc = self.cc
        sent_new = False
        eor = self._eor
        while eor and sq.le(eor[0], self.snd_nxt):
            eor.pop(0)
        st = self.state
        gso = self.config.gso_max >= 2 * mss  # the link segments: super-segments, TSO deferral
        while True:
            snd_nxt = self.snd_nxt
            unsent = (data_end - snd_nxt) & _MASK  # data_end - SND.NXT, 0 when not after it
            if unsent >= _HALF:
                unsent = 0
            fin_seq = self._fin_seq
            # (a FIN shutdown() asked for in SYN-RECEIVED waits for ESTABLISHED: Config.syn_rcvd_shutdown)
            send_fin = self._fin_queued and fin_seq is None and st is not _SYN_RCVD
            # a FIN already sent but rolled back (a zero-window probe) goes again with the data
            refin = fin_seq is not None and sq.le(snd_nxt, fin_seq) and unsent == 0
            if unsent == 0 and not send_fin and not refin:
                break
            outstanding = (snd_nxt - self.snd_una) & _MASK
            # The peer's window bounds what is outstanding; the congestion window what is in
            # the network (RFC 6675 pipe: SACKed and lost segments have left it).
            snd_wnd = self.snd_wnd
            usable = snd_wnd - outstanding if snd_wnd > outstanding else 0
            cwnd = cc.cwnd
            if cwnd and not probe:
                in_flight = loss.in_flight(outstanding)
                room = cwnd - in_flight if cwnd > in_flight else 0
                if room < usable:
                    usable = room
            # A tail loss probe is one segment; else as many whole MSS as the link splits.
            if gso and not probe:
                n = self._whole_segments(unsent if unsent < usable else usable, mss)
                if 0 < n < unsent and self._tso_defers(usable, now):
                    break
            else:
                n = unsent if unsent < usable else usable
                if mss < n:
                    n = mss
            record_end = bool(eor) and sq.le(eor[0], sq.add(self.snd_nxt, n))
            if record_end:
                n = sq.sub(eor[0], self.snd_nxt)  # MSG_EOR: the record's last segment ends here
                if n > mss and n % mss:  # a super-segment carries whole MSS: the record's tail
                    n -= n % mss  # goes on the next round, judged as without offload
                    record_end = False
            if unsent and n == 0:
                if self.snd_wnd < outstanding + 1 and not outstanding:
                    self._arm_persist(now)  # zero window, nothing in flight: probe later
                break
            if unsent and n < mss:  # (a full segment goes: none of the rules below holds it)
                # data unacknowledged (a SYN-ACK still outstanding, after Fast Open, is no data)
                unacked = sq.sub(self.snd_nxt, sq.seq_max(self.snd_una, self._snd_base))
                partial_tail = n == unsent and not self._fin_queued and not push and not probe
                if partial_tail and (self.cork or self._more):
                    # TCP_CORK / MSG_MORE (Linux tcp_nagle_check with TCP_NAGLE_CORK): a partial
                    # last segment waits for more data; with nothing in flight the probe timer
                    # sends it after one RTO at the latest.
                    if not unacked:
                        self._arm_persist(now)
                    break
                if n < unsent and unacked and n < self.max_snd_wnd // 2 and not record_end:
                    # Sender SWS avoidance (3.8.6.2.1): a window-limited small segment waits
                    # until it is half the largest window offered, or nothing is in flight.
                    break
                if partial_tail and unacked and not self.config.nodelay and self._nagle_holds():
                    break
            flags = ACK
            fin_here = (send_fin or refin) and n == unsent
            if fin_here:
                flags |= FIN
            if n and n == unsent:
                flags |= PSH
            off = (snd_nxt - self._snd_base) & _MASK
            payload = self._sndbuf[off : off + n] if n else b""  # (bytes: ByteQueue slices are)
            seq = snd_nxt
            snd_max = self.snd_max
            retrans = seq != snd_max and (snd_max - seq) & _MASK < _HALF  # SEG.SEQ < SND.MAX (sq.lt)
            ecn_flags, ecn = self.ecn.data_marking(new_data=not retrans and bool(n)) if self.ecn.ok else (0, 0)
            if not outstanding and not retrans:
                cc.on_tx_start(now - self._last_data_sent, now)  # Linux CA_EVENT_TX_START
            self._emit(seq, flags | ecn_flags, now, payload, ecn, mss if n > mss else 0)  # (gso_size)
            advance = n + (1 if fin_here else 0)
            end = (seq + advance) & _MASK
            if n:
                self._acks.data_sent(now)
            if retrans:
                self._count_retransmission(now, -(-n // mss))  # each part on the wire (pcount)
            else:
                self._sent_new(seq, n, fin_here, mss, now)
                if n:
                    self._last_data_sent = now
                    if n % mss:
                        self._snd_sml = sq.add(seq, n)  # Linux tcp_minshall_update
                sent_new = True
            if cc.phase is not _OPEN:
                cc.on_sent(advance, now)  # PRR counts what a reduction sends
            self.snd_nxt = end
            if fin_here:
                self._fin_seq = sq.add(seq, n)
            if end != snd_max and (end - snd_max) & _MASK < _HALF:  # beyond SND.MAX (sq.gt)
                self.snd_max = end
                if self._rtt_seq is None and not retrans and self._retries == 0:
                    self._rtt_seq, self._rtt_time = end, now  # (end: SND.NXT's own int object)
            timers = self.timers
            if not timers.armed(_T_RETRANSMISSION) and not timers.armed(_T_TLP):
                self._timers().arm(_T_RETRANSMISSION, now + self.rtt.rto)  # RFC 6298 5.1
                self._outstanding_since(now)
            self.timers.stop(_T_PERSIST)  # (self.timers: _timers() may have made the table)
            if record_end:
                eor.pop(0)
            if fin_here or probe:
                break
        if sent_new and not probe:
            self._schedule_probe(now, False)  # one probe per tail (Linux tcp_write_xmit); not advancing
        return sent_new

    def _tso_defers(self, usable: int, now: float) -> bool:
        """Linux tcp_tso_should_defer, on a link that segments (``Config.gso_max``): the windows
        let only ``usable`` octets of more data waiting go now; wait for the ACK expected soon
        rather than send a small super-segment, so that fewer and larger ones leave. Deferred
        when, all at once: no recovery or loss phase; the last data left within 1 ms; ``usable``
        is less than a full super-segment and less than a third (net.ipv4.tcp_tso_win_divisor,
        3 on this kernel) of min(peer's window, cwnd); and the oldest segment outstanding is to
        be acknowledged within min(SRTT/2, 1 ms). (Linux defers an application-limited tail
        too, hoping for more data; not done here.) Deferring for the congestion window still
        counts as using it all (Linux sets is_cwnd_limited)."""
        mss = self._mss_payload
        gso_max = self.config.gso_max
        srtt = self.rtt.srtt
        cc = self.cc
        if gso_max < 2 * mss or srtt is None or cc.phase in _LOSS_PHASES or not self.loss.outstanding:
            return False
        if now - self._last_data_sent > _TSO_DEFER_RECENT or usable >= gso_max // mss * mss:
            return False
        cwnd = cc.cwnd or self.snd_wnd
        if usable >= min(self.snd_wnd, cwnd) // _TSO_WIN_DIVISOR:
            return False  # a third of a window may go: use it
        if self.loss.head_sent() + srtt - now > min(srtt / 2, _TSO_DEFER_RECENT):
            return False  # the next ACK is not due soon enough
        outstanding = sq.sub(self.snd_nxt, self.snd_una)
        if cwnd - self.loss.in_flight(outstanding) < self.snd_wnd - outstanding:
            self.cc.deferred()  # the congestion window, not the peer's, holds it back
        return True

    def _nagle_holds(self) -> bool:
        """Data is unacknowledged: does Nagle hold back the small segment at the end of what is
        queued (never the last one before our FIN)? RFC 9293 3.7.4: yes. Linux (tcp_nagle_check
        with tcp_minshall_check, Minshall's variant): only while a small segment sent earlier is
        unacknowledged; the tail of a write goes with the full segments before it (measured:
        3000 bytes leave as 1448, 1448 and 104 together; a 100-byte write after them waits for
        the ACK of the 104, not of the full ones)."""
        if self.config.nagle_rules == "rfc":
            return True
        sml = self._snd_sml
        return sml is not None and sq.gt(sml, self.snd_una) and sq.le(sml, self.snd_max)

    def _restart_after_idle(self, now: float) -> None:
        """RFC 5681 4.1 (Linux tcp_slow_start_after_idle_check): new data after more than an
        RTO with nothing sent and nothing in flight starts from a smaller window again."""
        idle = now - self._last_data_sent
        if self.snd_una == self.snd_max and self.config.slow_start_after_idle and idle > self.rtt.rto:
            before = (self.cc.cwnd, self.cc.ssthresh)
            self.cc.on_idle_restart(idle, self.rtt.rto, now)
            self._cwnd_told("restart after idle", before)

    def _arm_persist(self, now: float) -> None:
        if not self.timers.armed(_T_PERSIST) and not self.timers.armed(_T_RETRANSMISSION):
            self._persist_backoff = 0
            self._timers().arm(_T_PERSIST, now + max(self.rtt.rto, self.config.persist_min))

    # What each timer does when it expires (``handle_timeout``).
    _TIMEOUTS: ClassVar[dict[Timer, Callable[[Connection, float], None]]] = {
        Timer.TIME_WAIT: _time_wait_timeout,
        Timer.FIN_WAIT_2: _fin_wait_2_timeout,
        Timer.USER_TIMEOUT: _user_timeout,
        Timer.RETRANSMISSION: _retransmission_timeout,
        Timer.TLP: _tlp_timeout,
        Timer.RACK_REORDER: _rack_timeout,
        Timer.PERSIST: _send_probe,
        Timer.KEEPALIVE: _keepalive_timeout,
        Timer.DELAYED_ACK: _delayed_ack_timeout,
    }

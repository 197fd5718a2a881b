"""Every setting of the engine in one object, with named profiles.

Defaults follow RFC 9293; where the RFC leaves a choice they follow Linux (the sysctl or kernel
constant is named beside each field).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

_T = TypeVar("_T")


@dataclass(slots=True)
class Config:
    # -- segment size (RFC 9293 3.7.1, RFC 879) ---------------------------------------------
    mss: int = 1460  # what we advertise: MTU 1500 - 40 (IPv4); hosts pass 1440 for IPv6
    default_peer_mss: int = 536  # RFC 9293 3.7.1: assumed when the peer sends no MSS option
    min_snd_mss: int = 48  # Linux net.ipv4.tcp_min_snd_mss: the peer's MSS is raised to this
    # A link capability, set by the host (``Host.link``), never guessed: the link splits a
    # segment of up to this many payload bytes into MSS-sized ones itself (TSO/GSO). The engine
    # then sends one super-segment where it would send several full ones; the MSS on the wire,
    # cwnd, SACK and retransmission stay in MSS units. 0: every segment goes as it is.
    gso_max: int = 0

    # -- times (seconds) ---------------------------------------------------------------------
    msl: float = 30.0  # TIME_WAIT lasts 2 * msl (Linux: TCP_TIMEWAIT_LEN = 60 s)
    fin_wait_2_timeout: float | None = 60.0  # Linux net.ipv4.tcp_fin_timeout; None disables
    rto_initial: float = 1.0  # RFC 6298 2.1
    rto_min: float = 0.2  # Linux TCP_RTO_MIN (RFC 6298 says 1 s; Linux uses 200 ms)
    rto_max: float = 120.0  # Linux TCP_RTO_MAX
    syn_retries: int = 6  # Linux net.ipv4.tcp_syn_retries (R2 for SYN)
    synack_retries: int = 5  # Linux net.ipv4.tcp_synack_retries
    # Linux net.ipv4.tcp_syn_linear_timeouts (4 on this kernel): the first this many SYN
    # retransmissions keep the initial RTO (1 s) instead of doubling it, and the SYN is given
    # up after syn_retries + this many (tcp_retransmit_timer, tcp_write_timeout; measured: 11
    # SYNs at 0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s). SYN-ACKs back off as before. 0: RFC 6298 5.5.
    syn_linear_timeouts: int = 4
    retries1: int = 3  # RFC 9293 3.8.3 R1 (Linux net.ipv4.tcp_retries1)
    retries2: int = 15  # RFC 9293 3.8.3 R2 (Linux net.ipv4.tcp_retries2)
    orphan_retries: int = 8  # Linux tcp_orphan_retries default for FIN of a closed socket
    # How retries2 and orphan_retries end a connection: "time" as Linux (retransmits_timed_out:
    # once the time since the first retransmission reaches what that many doublings of
    # TCP_RTO_MIN, capped at rto_max, would take: 924.6 s for 15, 102.2 s for 8; so a long RTO
    # does not wait longer) or "count" (RFC 9293 3.8.3 R2: that many retransmissions). SYNs and
    # SYN-ACKs are counted either way (Linux: tcp_syn_retries / tcp_synack_retries counts).
    retries_by: str = "time"
    delayed_ack: float = 0.04  # Linux TCP_DELACK_MIN; RFC 9293 3.8.6.3 bounds it at 0.5 s
    # Linux's quick-ACK mode (TCP_MAX_QUICKACKS): the first segments of a connection, and those
    # after an idle period longer than the RTO, are acknowledged at once, up to this many (and
    # at most RCV.WND / (2 * rcv_mss)); 0: RFC 9293 3.8.6.3 delayed ACKs from the start.
    quickack: int = 16
    delayed_ack_max: float = 0.2  # Linux TCP_DELACK_MAX
    persist_min: float = 0.2  # zero-window probe interval floor (Linux uses the RTO)
    user_timeout: float | None = None  # TCP_USER_TIMEOUT (RFC 5482); None: use retries2
    # How the RTO follows the RTT: "linux" (tcp_rtt_estimator: RTO = SRTT + the largest recent
    # deviation, that term at least rto_min) or "rfc" (RFC 6298: max(SRTT + 4 RTTVAR, rto_min)).
    rtt_estimator: str = "linux"

    # -- keepalive (RFC 9293 3.8.4, RFC 1122 4.2.3.6; Linux defaults) ---------------------------
    keepalive: bool = False
    keepalive_idle: float = 7200.0
    keepalive_interval: float = 75.0
    keepalive_count: int = 9

    # -- buffers and windows -------------------------------------------------------------------
    # The receive buffer: what the window may offer. Linux: tcp_rmem[1] = 131072 of which half
    # carries data (tcp_win_from_space), so 65536; SO_RCVBUF v gives v.
    rcv_buf: int = 65536
    # The window offered: "linux" (a SYN offers the buffer in whole segments, the window then
    # opens by about two segments per segment received: rcv_ssthresh, tcp_grow_window) or "rfc"
    # (the free buffer, RFC 9293 3.8.6.2.2 receiver SWS avoidance).
    rcv_window_rules: str = "linux"
    # Linux receive-buffer auto-tuning (net.ipv4.tcp_moderate_rcvbuf; SO_RCVBUF turns it off):
    # the buffer follows what the application reads per round trip (tcp_rcv_space_adjust), up
    # to half of rcv_buf_max. Needs rcv_window_rules="linux".
    rcv_autotune: bool = True
    rcv_buf_max: int = 33554432  # Linux net.ipv4.tcp_rmem[2] on this kernel (32 MiB)
    rmem_max: int = 4194304  # Linux net.core.rmem_max (this machine): floor of the scale choice
    snd_buf: int = 131072
    window_scaling: bool = True  # RFC 7323 (Linux net.ipv4.tcp_window_scaling)
    timestamps: bool = True  # RFC 7323 (Linux net.ipv4.tcp_timestamps)
    sack: bool = True  # RFC 2018 SACK-permitted negotiated (Linux net.ipv4.tcp_sack)
    initial_window: int = 10  # segments; RFC 6928, Linux TCP_INIT_CWND
    # Linux TCP_CONGESTION / net.ipv4.tcp_congestion_control; a name of tcplab.tcp.congestion.ALGORITHMS.
    # CUBIC (RFC 9438) is upstream Linux's default (CONFIG_DEFAULT_TCP_CONG); the kernel measured
    # on this machine was built with bbr as its default (notes/linux-behaviour.md J).
    congestion_control: str = "cubic"
    # How the congestion window is counted: "packets" as Linux (cwnd in segments, grown by the
    # segments acknowledged, tcp_slow_start / tcp_cong_avoid_ai, only while the sender is
    # cwnd-limited: RFC 7661; Reno's ssthresh = cwnd / 2) or "bytes" as RFC 5681 3.1 (min(N, SMSS)
    # per ACK in slow start, SMSS*SMSS/cwnd after; ssthresh = FlightSize / 2). CUBIC counts
    # segments whatever this says (Linux tcp_cubic).
    cwnd_counting: str = "packets"
    # RFC 5681 4.1 restart after idle (Linux net.ipv4.tcp_slow_start_after_idle): after more than
    # an RTO without sending, cwnd goes back towards the initial window (Linux halves it once
    # per RTO of idleness, not below it; RFC 5681: min(IW, cwnd)).
    slow_start_after_idle: bool = True
    # The window after a retransmitted SYN or SYN-ACK: "linux" (tcp_init_transfer: 1 segment once
    # two or more were retransmitted, unless tcp_try_undo_spurious_syn sees the first one echoed;
    # measured) or "rfc" (RFC 5681 3.1, RFC 6928 2: 1 segment when the SYN or SYN-ACK was lost).
    syn_loss_window: str = "linux"
    nodelay: bool = False  # TCP_NODELAY: turn Nagle (RFC 9293 3.7.4) off
    # Which small segment Nagle holds back: "linux" (Minshall's variant, tcp_nagle_check /
    # tcp_minshall_check: only while a small segment sent earlier is unacknowledged, so the short
    # tail of a write goes with the full segments before it; measured) or "rfc" (RFC 9293 3.7.4,
    # RFC 1122 4.2.3.4: while any data is unacknowledged).
    nagle_rules: str = "linux"
    ts_hz: int = 1000  # timestamp clock rate (Linux uses 1 ms ticks)
    # How a SYN and a SYN-ACK lay their options out (RFC 9293 3.1 leaves the order free):
    # "linux" (tcp_options_write: mss, sackOK, TS, nop, wscale) or "freebsd" (tcp_addoptions:
    # mss, nop+wscale, sackOK, TS aligned with nops, EOL padding).
    syn_option_layout: str = "linux"

    # -- loss recovery (RFC 6937, RFC 8985, RFC 2883; Linux's defaults) -------------------------
    prr: bool = True  # RFC 6937 Proportional Rate Reduction (Linux always); False: RFC 6675 5
    rack: bool = True  # RFC 8985 RACK loss detection (Linux net.ipv4.tcp_recovery & 1)
    tlp: bool = True  # RFC 8985 7 tail loss probes (Linux net.ipv4.tcp_early_retrans=3)
    reordering: int = 3  # initial DupThresh, segments (Linux net.ipv4.tcp_reordering)
    max_reordering: int = 300  # Linux net.ipv4.tcp_max_reordering
    dsack: bool = True  # report duplicates with D-SACK (RFC 2883; Linux net.ipv4.tcp_dsack)
    forget_sack_on_rto: bool = False  # RFC 2018 8's SHOULD; Linux keeps what was SACKed
    hz: int = 250  # the kernel's timer rate (CONFIG_HZ) behind Linux's TCP_TIMEOUT_MIN (2 jiffies)

    # -- ECN and Fast Open -------------------------------------------------------------------------
    ecn: int = 2  # RFC 3168 (Linux net.ipv4.tcp_ecn): 0 off, 1 request and accept, 2 accept
    fastopen: int = 0x1  # RFC 7413 (Linux net.ipv4.tcp_fastopen bits; tcplab.tcp.fastopen)
    fastopen_queue: int = 0  # TCP_FASTOPEN on a listener: pending Fast Open children allowed

    # -- robustness ----------------------------------------------------------------------------
    rfc5961: bool = True  # challenge ACKs for in-window RST and SYN (RFC 5961, Linux default)
    rfc1337: bool = False  # ignore RST in TIME_WAIT (Linux net.ipv4.tcp_rfc1337=0 by default)
    # RFC 9293 3.4.3 quiet time: a host that restarts without memory of the sequence numbers it
    # used keeps quiet for MSL (Host.restart), so that no segment of a new incarnation meets old
    # duplicates of the previous one. Off, as Linux: it relies on its ISN clock and timestamps.
    quiet_time: bool = False
    # RFC 5961 section 7, ACK throttling as Linux (tcp/ratelimit.py): per connection, at most one
    # challenge ACK or ACK of an out-of-window / PAWS-rejected segment per interval
    # (net.ipv4.tcp_invalid_ratelimit, 500 ms; 0: no limit); per host, challenge ACKs per second
    # (net.ipv4.tcp_challenge_ack_limit; this kernel's default 2^31 - 1 means no limit).
    invalid_ratelimit: float = 0.5
    challenge_ack_limit: int = 2147483647
    # How TIME_WAIT treats what arrives: "linux" (tcp_timewait_state_process: a SYN beyond RCV.NXT
    # or with a newer timestamp reopens, out-of-window segments are ACKed and restart 2MSL, an
    # in-window pure ACK restarts it silently, only an exact RST ends it) or "rfc" (RFC 9293
    # 3.10.7.4 step by step, with RFC 5961 challenge ACKs for SYNs and inexact RSTs).
    time_wait_rules: str = "linux"
    # SYN cookies (RFC 4987 3.6, tcplab.tcp.syncookies), a listener's choice (Linux
    # net.ipv4.tcp_syncookies): 0 never, 1 when the SYN queue overflows, 2 for every SYN.
    syncookies: int = 1
    # Connections closed by their application and not gone yet (orphans) a host keeps, beyond
    # which a closed connection is reset at once (Linux net.ipv4.tcp_max_orphans: 131072 on the
    # machine measured; Linux scales it with memory).
    max_orphans: int = 131072

    # -- sockets (read by tcplab.socket, host-wide like the sysctl) -------------------------------
    # net.ipv6.bindv6only: the IPV6_V6ONLY an AF_INET6 socket starts with. 0, as Linux: "::"
    # takes IPv4 too and IPv4-mapped addresses (::ffff:a.b.c.d) speak IPv4 on the wire.
    bindv6only: int = 0
    # What a socket the application still holds shows once its connection enters TIME-WAIT:
    # "closed" as Linux (tcp_time_wait hands the connection to a timewait minisock and
    # tcp_done closes the full socket: tcp_info reads TCP_CLOSE, poll POLLHUP, getpeername and
    # shutdown fail ENOTCONN; measured, notes/quickack-reentry.md) or "time_wait" (the
    # connection's own state, as RFC 9293's STATUS call and FreeBSD's tcp_info report it).
    # The connection is in TIME-WAIT either way (traces, the connection table).
    time_wait_socket: str = "closed"

    # The RST of an ABORT (SO_LINGER {1, 0}, or a close with unread data: RFC 1122 4.2.2.13):
    # "linux" (tcp_send_active_reset: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> with the window and
    # timestamps, measured: notes/linux-behaviour.md I) or "rfc" (RFC 9293 3.10.5:
    # <SEQ=SND.NXT><CTL=RST>).
    abort_rst: str = "linux"

    # -- text on a SYN -------------------------------------------------------------------------
    # RFC 9293 3.10.7.2/3.10.7.3: text and FIN carried by a SYN are queued and processed once
    # ESTABLISHED (on a SYN-ACK: at once). Linux without TCP Fast Open drops them (the peer sends
    # them again) and a listener drops SYN+FIN altogether (measured, notes/linux-behaviour.md G).
    accept_syn_text: bool = False
    # shutdown(SHUT_WR) in SYN-RECEIVED (a Fast Open child accepted early, a simultaneous open):
    # "linux" holds the FIN until the ACK that completes the handshake, and sends it then, before
    # that segment's data is acknowledged (tcp_shutdown sends a FIN only from ESTABLISHED,
    # SYN-SENT and CLOSE-WAIT; tcp_rcv_state_process calls it again on entering ESTABLISHED;
    # measured, notes/tfo-syn-recv.md); "rfc": RFC 9293 3.10.4, the FIN now and FIN-WAIT-1.
    # close() sends it at once either way (Linux tcp_close, measured).
    syn_rcvd_shutdown: str = "linux"
    # Where Linux's loss states go beyond RFC 5681 / 6675 / 8985: "linux" (tcp_enter_loss takes a
    # new ssthresh on a timeout in Loss once an ACK advanced SND.UNA since the last one; a
    # retransmission RACK finds lost in Loss starts Recovery with a new reduction,
    # tcp_fastretrans_alert's FLAG_LOST_RETRANS; retransmitting the head restarts the RTO,
    # tcp_xmit_retransmit_queue) or "rfc" (ssthresh once per episode, Loss until its data is
    # acknowledged, the RTO from the last ACK that advanced: RFC 6298 5.3).
    recovery_rules: str = "linux"

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be {' or '.join(map(repr, allowed))}, not {value!r}")

    def copy(self, **changes: object) -> Config:
        """A copy with ``changes`` (field name -> value) applied; an unknown name is a TypeError."""
        unknown = changes.keys() - _FIELD_NAMES
        if unknown:
            raise TypeError(f"Config has no field {', '.join(sorted(unknown))}")
        # Field by field into a bare instance: every connection gets its own copy, and
        # dataclasses.replace (which validates by calling __init__) costs ten times as much.
        new = _new_config(Config)
        for name in _FIELD_NAMES_IN_ORDER:
            setattr(new, name, getattr(self, name))
        for name, value in changes.items():
            setattr(new, name, value)
        return new

    def read_only(self) -> ReadOnlyConfig:
        """A read-only copy that many connections may share: a ``Connection`` given one keeps it
        instead of copying it (a per-connection change is copy-on-write: ``reconfigure``)."""
        new = _new_config(ReadOnlyConfig)
        for name in _FIELD_NAMES_IN_ORDER:
            object.__setattr__(new, name, getattr(self, name))
        return new

    @property
    def wscale(self) -> int:
        """The window scale we offer (RFC 7323 2.2 leaves the choice to us), as Linux chooses it
        (tcp_select_initial_window): room for the largest buffer the connection may get, i.e.
        ilog2(max(tcp_rmem[2], rmem_max)) - 15 with auto-tuning, else for the buffer itself;
        at most 14. Measured on this kernel: 32 MiB gives 10; 6 MiB (with rmem_max 4 MiB) 7."""
        if not self.window_scaling:
            return 0
        space = max(self.rcv_buf, self.rcv_buf_max, self.rmem_max) if self.rcv_autotune else self.rcv_buf
        return min(max(space.bit_length() - 1 - 15, 0), 14)


_SHARED_INTS: dict[int, int] = {}


def shared_int(n: int) -> int:
    """``n`` as one int object that every connection shares. For the sizes a connection
    derives at set-up from its configuration and MSS (buffer limits, the first windows), which
    take a few values across thousands of connections: Python shares only -5..256, and any other
    int a connection keeps is 28-32 bytes of its own."""
    return _SHARED_INTS.setdefault(n, n)


class ReadOnlyConfig(Config):
    """A ``Config`` nobody may change (``Config.read_only()``): one object shared by every
    connection a host makes with the same settings, instead of ~500 bytes of copy each.
    ``copy()`` gives a writable ``Config``."""

    __slots__ = ("_derived",)
    _derived: dict[Callable[[ReadOnlyConfig], object], object]  # (see shared)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a shared (read-only) Config cannot change {name}: copy() it")

    def shared(self, make: Callable[[ReadOnlyConfig], _T]) -> _T:
        """What ``make`` derives from this configuration, made at the first call and shared by
        every connection that uses it (as ackpolicy.idle shares the policy of connections that
        have received nothing). It lives as long as the configuration."""
        try:
            derived = self._derived
        except AttributeError:
            derived = {}
            object.__setattr__(self, "_derived", derived)
        found = derived.get(make)
        if found is None:
            found = derived[make] = make(self)
        return found  # type: ignore[return-value]  # (what make made)


# The fields that name a choice, and the values each may take.
_CHOICES = {
    "time_wait_rules": ("linux", "rfc"),
    "rcv_window_rules": ("linux", "rfc"),
    "rtt_estimator": ("linux", "rfc"),
    "retries_by": ("time", "count"),
    "syn_loss_window": ("linux", "rfc"),
    "nagle_rules": ("linux", "rfc"),
    "abort_rst": ("linux", "rfc"),
    "cwnd_counting": ("packets", "bytes"),
    "syn_rcvd_shutdown": ("linux", "rfc"),
    "recovery_rules": ("linux", "rfc"),
    "time_wait_socket": ("closed", "time_wait"),
}
_FIELD_NAMES_IN_ORDER = tuple(f.name for f in dataclasses.fields(Config))
_FIELD_NAMES = frozenset(_FIELD_NAMES_IN_ORDER)
_new_config = object.__new__

PROFILES: dict[str, Config] = {
    # Linux's defaults (what the kernel peer does), the default everywhere.
    "linux": Config(),
    # RFC 9293/6298 literal values: RTO floor 1 s, MSL 2 min, delayed ACK up to 200 ms.
    # NewReno with RFC 6675 SACK recovery (no PRR, RACK or TLP), RFC 2018 8 after a timeout.
    "rfc": Config(
        msl=120.0,
        rto_min=1.0,
        delayed_ack=0.2,
        fin_wait_2_timeout=None,
        congestion_control="reno",
        prr=False,
        rack=False,
        tlp=False,
        forget_sack_on_rto=True,
        time_wait_rules="rfc",
        accept_syn_text=True,
        quickack=0,
        rcv_window_rules="rfc",
        rcv_autotune=False,
        cwnd_counting="bytes",
        rtt_estimator="rfc",
        abort_rst="rfc",
        nagle_rules="rfc",
        syn_loss_window="rfc",
        retries_by="count",
        syn_linear_timeouts=0,
        syn_rcvd_shutdown="rfc",
        recovery_rules="rfc",
        time_wait_socket="time_wait",
    ),
    # Small, plain segments for teaching: no options beyond MSS, short MSL.
    "classic": Config(
        msl=30.0,
        window_scaling=False,
        timestamps=False,
        sack=False,
        rcv_buf=65535,
        rcv_window_rules="rfc",
        rcv_autotune=False,
        snd_buf=65535,
        congestion_control="reno",
        prr=False,
        rack=False,
        tlp=False,
        ecn=0,
        fastopen=0,
        syn_linear_timeouts=0,  # the textbook's doubling from the first SYN timeout (RFC 6298 5.5)
    ),
}


def profile(name: str) -> Config:
    try:
        return PROFILES[name].copy()
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}") from None

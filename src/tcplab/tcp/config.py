"""Every setting of the engine in one object, with named profiles.

Defaults follow RFC 9293; where the RFC leaves a choice they follow Linux (the sysctl or kernel
constant is named beside each field).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(slots=True)
class Config:
    # -- segment size (RFC 9293 3.7.1, RFC 879) ---------------------------------------------
    mss: int = 1460  # what we advertise: MTU 1500 - 40 (IPv4); hosts pass 1440 for IPv6
    default_peer_mss: int = 536  # RFC 9293 3.7.1: assumed when the peer sends no MSS option
    min_snd_mss: int = 48  # Linux net.ipv4.tcp_min_snd_mss: the peer's MSS is raised to this

    # -- times (seconds) ---------------------------------------------------------------------
    msl: float = 30.0  # TIME_WAIT lasts 2 * msl (Linux: TCP_TIMEWAIT_LEN = 60 s)
    fin_wait_2_timeout: float | None = 60.0  # Linux net.ipv4.tcp_fin_timeout; None disables
    rto_initial: float = 1.0  # RFC 6298 2.1
    rto_min: float = 0.2  # Linux TCP_RTO_MIN (RFC 6298 says 1 s; Linux uses 200 ms)
    rto_max: float = 120.0  # Linux TCP_RTO_MAX
    syn_retries: int = 6  # Linux net.ipv4.tcp_syn_retries (R2 for SYN)
    synack_retries: int = 5  # Linux net.ipv4.tcp_synack_retries
    retries1: int = 3  # RFC 9293 3.8.3 R1 (Linux net.ipv4.tcp_retries1)
    retries2: int = 15  # RFC 9293 3.8.3 R2 (Linux net.ipv4.tcp_retries2)
    orphan_retries: int = 8  # Linux tcp_orphan_retries default for FIN of a closed socket
    delayed_ack: float = 0.04  # Linux TCP_DELACK_MIN; RFC 9293 3.8.6.3 bounds it at 0.5 s
    delayed_ack_max: float = 0.2  # Linux TCP_DELACK_MAX
    persist_min: float = 0.2  # zero-window probe interval floor (Linux uses the RTO)
    user_timeout: float | None = None  # TCP_USER_TIMEOUT (RFC 5482); None: use retries2

    # -- keepalive (RFC 9293 3.8.4, RFC 1122 4.2.3.6; Linux defaults) ---------------------------
    keepalive: bool = False
    keepalive_idle: float = 7200.0
    keepalive_interval: float = 75.0
    keepalive_count: int = 9

    # -- buffers and windows -------------------------------------------------------------------
    rcv_buf: int = 131072  # receive buffer; the window we advertise comes from its free space
    snd_buf: int = 131072
    window_scaling: bool = True  # RFC 7323 (Linux net.ipv4.tcp_window_scaling)
    timestamps: bool = True  # RFC 7323 (Linux net.ipv4.tcp_timestamps)
    sack: bool = True  # RFC 2018 SACK-permitted negotiated (Linux net.ipv4.tcp_sack)
    initial_window: int = 10  # segments; RFC 6928, Linux TCP_INIT_CWND
    # Linux TCP_CONGESTION / net.ipv4.tcp_congestion_control; a name of tcplab.tcp.congestion.ALGORITHMS
    congestion_control: str = "reno"
    nodelay: bool = False  # TCP_NODELAY: turn Nagle (RFC 9293 3.7.4) off
    ts_hz: int = 1000  # timestamp clock rate (Linux uses 1 ms ticks)

    # -- robustness ----------------------------------------------------------------------------
    rfc5961: bool = True  # challenge ACKs for in-window RST and SYN (RFC 5961, Linux default)
    rfc1337: bool = False  # ignore RST in TIME_WAIT (Linux net.ipv4.tcp_rfc1337=0 by default)
    # SYN cookies (RFC 4987 3.6, tcplab.tcp.syncookies), a listener's choice (Linux
    # net.ipv4.tcp_syncookies): 0 never, 1 when the SYN queue overflows, 2 for every SYN.
    syncookies: int = 1
    # Connections closed by their application and not gone yet (orphans) a host keeps, beyond
    # which a closed connection is reset at once (Linux net.ipv4.tcp_max_orphans: 131072 on the
    # machine measured; Linux scales it with memory).
    max_orphans: int = 131072

    def copy(self, **changes: object) -> Config:
        """A copy with ``changes`` (field name -> value) applied; an unknown name is a TypeError."""
        unknown = changes.keys() - _FIELD_NAMES
        if unknown:
            raise TypeError(f"Config has no field {', '.join(sorted(unknown))}")
        new = dataclasses.replace(self)
        for name, value in changes.items():
            setattr(new, name, value)
        return new

    @property
    def wscale(self) -> int:
        """The shift we offer: the smallest that lets the whole receive buffer be advertised."""
        if not self.window_scaling:
            return 0
        shift = 0
        while (self.rcv_buf >> shift) > 0xFFFF and shift < 14:
            shift += 1
        return max(shift, 7) if self.rcv_buf > 0xFFFF else shift  # Linux offers 7 by default


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Config))

PROFILES: dict[str, Config] = {
    # Linux's defaults (what the kernel peer does), the default everywhere.
    "linux": Config(),
    # RFC 9293/6298 literal values: RTO floor 1 s, MSL 2 min, delayed ACK up to 200 ms.
    "rfc": Config(msl=120.0, rto_min=1.0, delayed_ack=0.2, fin_wait_2_timeout=None),
    # Small, plain segments for teaching: no options beyond MSS, short MSL.
    "classic": Config(
        msl=30.0,
        window_scaling=False,
        timestamps=False,
        sack=False,
        rcv_buf=65535,
        snd_buf=65535,
    ),
}


def profile(name: str) -> Config:
    try:
        return PROFILES[name].copy()
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}") from None

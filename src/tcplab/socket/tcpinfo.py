"""Linux's ``struct tcp_info``: the bytes ``getsockopt(IPPROTO_TCP, TCP_INFO)`` returns.

    raw = sock.getsockopt(IPPROTO_TCP, TCP_INFO, 512)   # a kernel socket or a tcplab one
    info = unpack(raw)                                  # {"state": 1, "rto": 204000, ...}

The layout is this kernel's (6.18: 280 bytes; offsets measured against ``ss``, see
/work/notes/linux-behaviour.md section K): u8 fields, then u32, u64 and the counters, all in
Linux's units (times in microseconds, ``last_*`` in milliseconds). ``unpack`` reads any length a
kernel returns (older kernels return fewer bytes: those fields are left out). ``of(core)`` fills
the struct for a tcplab socket from the engine's ``tcp_info()``, the host's traffic counters and
the connection's sequence numbers; what tcplab does not track (pacing, delivery rate, SACK
scoreboard counts, DSACKs, AccECN) reads 0, as on a kernel that never saw it.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from tcplab.tcp.states import LINUX_STATE_NUMBER, State

__all__ = ["FIELDS", "SIZE", "of", "pack", "unpack"]

# (name, struct code) in order; "x" fields are Linux's bitfield bytes, read whole.
_U8 = "state ca_state retransmits probes backoff options wscale app_limited"
_U32_A = (
    "rto ato snd_mss rcv_mss unacked sacked lost retrans fackets last_data_sent last_ack_sent last_data_recv "
    "last_ack_recv pmtu rcv_ssthresh rtt rttvar snd_ssthresh snd_cwnd advmss reordering rcv_rtt rcv_space "
    "total_retrans"
)
_U64_A = "pacing_rate max_pacing_rate bytes_acked bytes_received"
_U32_B = "segs_out segs_in notsent_bytes min_rtt data_segs_in data_segs_out"
_U64_B = "delivery_rate busy_time rwnd_limited sndbuf_limited"
_U32_C = "dsack_dups reord_seen rcv_ooopack snd_wnd rcv_wnd rehash"
# (name, struct code) in order. ``wscale`` holds snd_wscale in its low nibble and rcv_wscale in
# the high one; ``app_limited`` is delivery_rate_app_limited:1 | fastopen_client_fail:2.
FIELDS: tuple[tuple[str, str], ...] = tuple(
    (name, code)
    for names, code in (
        (_U8, "B"),
        (_U32_A, "I"),
        (_U64_A, "Q"),
        (_U32_B, "I"),
        (_U64_B, "Q"),
        ("delivered delivered_ce", "I"),
        ("bytes_sent bytes_retrans", "Q"),
        (_U32_C, "I"),
        ("total_rto total_rto_recoveries", "H"),
        ("total_rto_time", "I"),
    )
    for name in names.split()
)
_FORMAT = "=" + "".join(code for _, code in FIELDS)
_HEAD = struct.calcsize(_FORMAT)  # 248 bytes of named fields
SIZE = 280  # what this kernel returns: 32 more bytes, zero here (AccECN counters, unconfirmed)
_OFFSETS: list[tuple[str, str, int]] = []
_off = 0
for _name, _code in FIELDS:
    _OFFSETS.append((_name, _code, _off))
    _off += struct.calcsize(_code)

TCPI_OPT_TIMESTAMPS, TCPI_OPT_SACK, TCPI_OPT_WSCALE, TCPI_OPT_ECN, TCPI_OPT_SYN_DATA = 1, 2, 4, 8, 32
CA_STATES = {"Open": 0, "Disorder": 1, "CWR": 2, "Recovery": 3, "Loss": 4}  # Linux enum tcp_ca_state
TCP_INFINITE_SSTHRESH = 0x7FFFFFFF
_U32 = 0xFFFFFFFF


def pack(values: dict[str, int]) -> bytes:
    """The 280 bytes for ``values`` (missing fields are 0)."""
    head = struct.pack(_FORMAT, *(int(values.get(name, 0)) for name, _ in FIELDS))
    return head + bytes(SIZE - _HEAD)


def unpack(raw: bytes) -> dict[str, int]:
    """The fields ``raw`` holds (a kernel's TCP_INFO or :func:`pack`'s), by Linux's names;
    ``wscale`` is also given as ``snd_wscale`` / ``rcv_wscale``."""
    out: dict[str, int] = {}
    for name, code, off in _OFFSETS:
        if off + struct.calcsize(code) > len(raw):
            break
        out[name] = struct.unpack_from("=" + code, raw, off)[0]
    if "wscale" in out:
        out["snd_wscale"], out["rcv_wscale"] = out["wscale"] & 0xF, out["wscale"] >> 4
    return out


def _us(seconds: float | None) -> int:
    return 0 if not seconds else min(round(seconds * 1_000_000), _U32)


def _ms_since(then: float, now: float) -> int:
    return min(max(0, round((now - then) * 1000)), _U32)


def of(core: Any) -> dict[str, int]:
    """The struct's fields for a tcplab socket core (what its TCP_INFO packs)."""
    now = core.now()
    listener = core.listener
    conn = listener.conn if listener is not None else core.connection
    if conn is None:
        # Closed, or in TIME-WAIT as the host's small record (which, like Linux's timewait
        # sockets, knows its state and little else).
        ep = core.endpoint
        return {"state": LINUX_STATE_NUMBER[ep.state if ep is not None else State.CLOSED]}
    info = conn.tcp_info()
    synced = conn.state.synchronized
    mss = int(info["snd_mss"])
    options = 0
    if info["timestamps"]:
        options |= TCPI_OPT_TIMESTAMPS
    if info["sack"]:
        options |= TCPI_OPT_SACK
    if info["snd_wscale"] or info["rcv_wscale"]:
        options |= TCPI_OPT_WSCALE
    if info["ecn"]:
        options |= TCPI_OPT_ECN
    if info["fastopen"]:
        options |= TCPI_OPT_SYN_DATA
    advmss = conn.config.mss - (12 if info["timestamps"] else 0)
    values: dict[str, int] = {
        "state": LINUX_STATE_NUMBER[core.shown_state if listener is None else conn.state],
        "ca_state": CA_STATES[str(info["ca_state"])],
        "retransmits": min(int(info["retransmits"]), 255),
        "backoff": min(int(info["backoff"]), 255),
        "options": options,
        "wscale": (int(info["snd_wscale"]) & 0xF) | ((int(info["rcv_wscale"]) & 0xF) << 4),
        "rto": _us(info["rto"]),
        "ato": _us(info["ato"]) if synced else 0,  # min(icsk_ack.ato, tcp_delack_max)
        "snd_mss": mss,
        "rcv_mss": int(info["rcv_mss"]),
        "unacked": math.ceil(int(info["unacked"]) / max(mss, 1)) if synced else 0,
        "sacked": int(info["sacked"]),
        "lost": int(info["lost"]),
        "retrans": int(info["retrans_out"]),
        "pmtu": conn.path_mtu,
        "rcv_ssthresh": int(info["rcv_wnd"]),
        "rtt": _us(info["rtt"]),
        "rttvar": _us(info["rttvar"]),
        "snd_ssthresh": TCP_INFINITE_SSTHRESH if info["ssthresh"] >= 1 << 30 else int(info["ssthresh"]) // max(mss, 1),
        "snd_cwnd": int(info["cwnd"]),
        "advmss": advmss,
        "reordering": int(info["reordering"]),
        "rcv_space": 10 * advmss,  # Linux: TCP_INIT_CWND * advmss until it measures more
        "total_retrans": int(info["total_retrans"]),
        "max_pacing_rate": 0xFFFFFFFFFFFFFFFF,  # ~0: no SO_MAX_PACING_RATE
        "notsent_bytes": conn.unsent,
        "min_rtt": _us(conn.rtt.min_rtt) if conn.rtt.min_rtt is not None else _U32,
        "dsack_dups": int(info["dsack_dups"]),
        "reord_seen": int(info["reord_seen"]),
        "snd_wnd": int(info["snd_wnd"]),
        "rcv_wnd": int(info["rcv_wnd"]),
    }
    if synced:
        # As Linux counts them: every sequence number acknowledged or received through its
        # ACK/receive path -- the FINs too, and our SYN when we opened actively (an accepted
        # connection's SND.UNA and both ends' RCV.NXT start past the SYN).
        values["bytes_acked"] = ((conn.snd_una - conn.iss) & _U32) - int(conn.passive)
        values["bytes_received"] = max(0, ((conn.rcv_nxt - conn.irs) & _U32) - 1)
    ep = core.endpoint
    if ep is not None:
        values.update(  # the host's Traffic counters, kept in its endpoint
            segs_out=ep.segs_out & _U32,
            segs_in=ep.segs_in & _U32,
            data_segs_in=ep.data_segs_in & _U32,
            data_segs_out=ep.data_segs_out & _U32,
            bytes_sent=ep.bytes_sent,
            bytes_retrans=ep.bytes_retrans,
            last_data_sent=_ms_since(ep.last_data_sent, now) if ep.data_segs_out else 0,
            last_data_recv=_ms_since(ep.last_data_recv, now) if ep.data_segs_in else 0,
            last_ack_recv=_ms_since(ep.last_ack_recv, now) if ep.segs_in else 0,
        )
    return values

"""What a ``%{ python }%`` snippet sees: the ``tcpi_*`` fields of the socket under test and the
constants of the script's ABI.

Fields come in Linux's units (times in microseconds, windows in segments where Linux counts
segments); ``tcpi_state`` numbered as the script's stack numbers states. A field of Linux's or
FreeBSD's ``struct tcp_info`` that tcplab cannot know is absent: a snippet that reads it SKIPs,
naming the field. A name neither ``struct tcp_info`` nor the headers know is a typo: the script
is broken.
"""

from __future__ import annotations

from typing import Any

from tcplab.drill.symbols import Abi

# include/uapi/linux/tcp.h, struct tcp_info (6.x)
LINUX_FIELDS = frozenset(
    [
        "state",
        "ca_state",
        "retransmits",
        "probes",
        "backoff",
        "options",
        "snd_wscale",
        "rcv_wscale",
        "delivery_rate_app_limited",
        "fastopen_client_fail",
        "rto",
        "ato",
        "snd_mss",
        "rcv_mss",
        "unacked",
        "sacked",
        "lost",
        "retrans",
        "fackets",
        "last_data_sent",
        "last_ack_sent",
        "last_data_recv",
        "last_ack_recv",
        "pmtu",
        "rcv_ssthresh",
        "rtt",
        "rttvar",
        "snd_ssthresh",
        "snd_cwnd",
        "advmss",
        "reordering",
        "rcv_rtt",
        "rcv_space",
        "total_retrans",
        "pacing_rate",
        "max_pacing_rate",
        "bytes_acked",
        "bytes_received",
        "segs_out",
        "segs_in",
        "notsent_bytes",
        "min_rtt",
        "data_segs_in",
        "data_segs_out",
        "delivery_rate",
        "busy_time",
        "rwnd_limited",
        "sndbuf_limited",
        "delivered",
        "delivered_ce",
        "bytes_sent",
        "bytes_retrans",
        "dsack_dups",
        "reord_seen",
        "rcv_ooopack",
        "snd_wnd",
        "rcv_wnd",
        "rehash",
        "total_rto",
        "total_rto_recoveries",
        "total_rto_time",
    ]
)
# netinet/tcp.h, struct tcp_info (FreeBSD 14): the fields FreeBSD adds
FREEBSD_FIELDS = frozenset(
    [
        "snd_bwnd",
        "snd_nxt",
        "rcv_nxt",
        "toe_tid",
        "snd_rexmitpack",
        "rcv_ooopack",
        "snd_zerowin",
        "delivered_ce",
        "received_ce",
        "rcv_numsacks",
        "rcv_adv",
        "dupacks",
    ]
)
FIELDS = LINUX_FIELDS | FREEBSD_FIELDS
TCP_INFINITE_SSTHRESH = 0x7FFFFFFF


def tcpi_fields(sock: Any, abi: Abi) -> dict[str, int]:
    """The ``tcp_info`` fields tcplab knows for ``sock`` (names without ``tcpi_``)."""
    conn = sock.connection if sock is not None else None
    if sock is None:
        return {}
    try:
        info: dict[str, Any] = dict(sock.tcp_info())
    except OSError:  # a closed descriptor: its connection lives on (FIN-WAIT, TIME-WAIT, ...)
        if conn is None:
            return {}
        info = dict(conn.tcp_info())
    state = str(info.get("state", "CLOSED")).replace("-", "_").upper()
    state = {"SYN_RECEIVED": "SYN_RCVD"}.get(state, state)
    out: dict[str, int] = {"state": abi.state_number(state)}
    if "rto" not in info:
        return out
    mss = max(1, int(info.get("snd_mss", 1)))
    out.update(
        rto=round(info["rto"] * 1_000_000),
        rtt=round(info["rtt"] * 1_000_000),
        rttvar=round(info["rttvar"] * 1_000_000),
        snd_mss=int(info["snd_mss"]),
        rcv_mss=int(info["rcv_mss"]),
        unacked=int(info["unacked"]),
        retransmits=int(info["retransmits"]),
        total_retrans=int(info["total_retrans"]),
        backoff=int(info["backoff"]),
        snd_cwnd=int(info["cwnd"]),
        snd_ssthresh=TCP_INFINITE_SSTHRESH if info["ssthresh"] >= 1 << 30 else int(info["ssthresh"]) // mss,
        snd_wscale=int(info["snd_wscale"]),
        rcv_wscale=int(info["rcv_wscale"]),
        snd_wnd=int(info["snd_wnd"]),
        rcv_wnd=int(info["rcv_wnd"]),
        options=_options(info, abi),
    )
    return out


def _options(info: dict[str, Any], abi: Abi) -> int:
    opts = 0
    if info.get("timestamps"):
        opts |= abi.number("TCPI_OPT_TIMESTAMPS") or 0
    if info.get("sack"):
        opts |= abi.number("TCPI_OPT_SACK") or 0
    if info.get("snd_wscale") or info.get("rcv_wscale"):
        opts |= abi.number("TCPI_OPT_WSCALE") or 0
    return opts


def namespace(sock: Any, abi: Abi) -> dict[str, Any]:
    """The globals of a snippet: the ABI's constants, then the socket's ``tcpi_*`` fields."""
    ns: dict[str, Any] = dict(abi.values)
    for key, value in tcpi_fields(sock, abi).items():
        ns["tcpi_" + key] = value
    return ns


def missing_field(name: str) -> str | None:
    """For a name a snippet used and did not find: the field of ``struct tcp_info`` it is (a
    SKIP), or None (a typo)."""
    if name.startswith("tcpi_"):
        field = name[5:].lstrip("_")  # FreeBSD spells its unused fields __tcpi_x
        if field in FIELDS:
            return field
    return None

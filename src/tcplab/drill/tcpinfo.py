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

from tcplab.drill.symbols import LINUX, Abi
from tcplab.socket import tcpinfo

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


def tcpi_fields(sock: Any, abi: Abi) -> dict[str, int]:
    """The ``tcp_info`` fields tcplab knows for ``sock`` (names without ``tcpi_``): those
    :func:`tcplab.socket.tcpinfo.of` fills; the rest of the struct reads 0 there, and is left out
    here (a snippet reading one SKIPs)."""
    if sock is None:
        return {}
    values = dict(tcpinfo.of(sock.core))
    state = LINUX.name_of("state", values.pop("state"))
    out = {"state": abi.state_number(_TCPLAB_STATE.get(state or "CLOSE", state or "CLOSED"))}
    if "wscale" in values:
        wscale = values.pop("wscale")
        out.update(snd_wscale=wscale & 0xF, rcv_wscale=wscale >> 4)
    if "options" in values:
        out["options"] = abi.flags_from_linux("tcpi_opt", values.pop("options"))
    out.update(values)
    return out


# Linux's state names (tcp_states.h) as tcplab's State names them
_TCPLAB_STATE = {"SYN_RECV": "SYN_RCVD", "FIN_WAIT1": "FIN_WAIT_1", "FIN_WAIT2": "FIN_WAIT_2", "CLOSE": "CLOSED"}


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

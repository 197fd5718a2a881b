"""netstat for tcplab hosts: the connection table (like ``ss -tan``) and the counters (like
``netstat -s``).

    rows(host)            -> list[Row]     listeners and every connection the host still knows
    format_table(rows)    -> str           the table, ss style
    format_counters(host) -> str           the counters, netstat -s style
    snapshot(host)        -> dict          JSON-able rows + counters (what a control socket serves)

Connections that reached CLOSED are gone from the table (as in the kernel); connections in
TIME_WAIT stay until their 2MSL timer fires.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tcplab.tcp.states import State

# ss(8)'s names for the states.
SS_STATE = {
    "CLOSED": "UNCONN",
    "LISTEN": "LISTEN",
    "SYN_SENT": "SYN-SENT",
    "SYN_RCVD": "SYN-RECV",
    "ESTABLISHED": "ESTAB",
    "FIN_WAIT_1": "FIN-WAIT-1",
    "FIN_WAIT_2": "FIN-WAIT-2",
    "CLOSE_WAIT": "CLOSE-WAIT",
    "CLOSING": "CLOSING",
    "LAST_ACK": "LAST-ACK",
    "TIME_WAIT": "TIME-WAIT",
}


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table. ``state`` is the RFC 9293 name (``"TIME_WAIT"``); for a listener
    ``recv_q`` is the accept queue's length and ``send_q`` the backlog (as ss shows them)."""

    state: str
    recv_q: int
    send_q: int
    local: str  # "198.18.0.2:9527", "[fd00::2]:9527"
    peer: str  # "198.18.0.1:40312"; "0.0.0.0:*" / "[::]:*" for a listener
    timer: str = ""  # "timewait 52s", "on 1.2s/3", "keepalive 7190s", "persist 0.4s/2"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _hostport(ip: str, port: int | str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _secs(value: float) -> str:
    value = max(value, 0.0)
    return f"{value:.1f}s" if value < 10 else f"{int(value)}s"


def format_timer(timer: tuple[str, float, int] | None) -> str:
    """The timer column from ``conn.timer()``."""
    if not timer:
        return ""
    kind, remaining, count = timer
    if kind == "on":
        return f"on {_secs(remaining)}/{count}"
    if kind == "persist":
        return f"persist {_secs(remaining)}/{count}"
    if kind in ("timewait", "keepalive"):
        return f"{kind} {_secs(remaining)}"
    return f"{kind} {_secs(remaining)}"


def _timer(conn: Any, now: float) -> tuple[str, float, int] | None:
    try:
        return conn.timer(now)
    except TypeError:
        return conn.timer()


def rows(host: Any) -> list[Row]:
    """Listeners first (by port), then connections (by local, then peer address)."""
    now = host.time()
    out: list[Row] = []
    for listener in sorted(host.listeners.values(), key=lambda lst: (lst.port, lst.local_ip)):
        out.append(
            Row(
                "LISTEN",
                len(listener.accept_queue),
                listener.backlog,
                _hostport(listener.local_ip, listener.port),
                _hostport("::" if ":" in listener.local_ip else "0.0.0.0", "*"),
            )
        )
    conns = []
    for ep in host.conns.values():
        conn = ep.conn
        state = conn.state
        if state is State.CLOSED:
            continue
        lip, lport = conn.local
        rip, rport = conn.remote if conn.remote else ("0.0.0.0", "*")
        conns.append(
            (
                lip,
                lport,
                rip,
                rport,
                Row(
                    state.value,
                    int(conn.recv_buffered),
                    int(conn.send_buffered),
                    _hostport(lip, lport),
                    _hostport(rip, rport),
                    format_timer(_timer(conn, now)),
                ),
            )
        )
    conns.sort(key=lambda c: (c[0], c[1], c[2], str(c[3])))
    out.extend(c[4] for c in conns)
    return out


def format_table(table: list[Row]) -> str:
    """The rows as ``ss -tan -o`` prints them (ss's state names)."""
    header = ("State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Timer")
    lines = [(SS_STATE.get(r.state, r.state), str(r.recv_q), str(r.send_q), r.local, r.peer, r.timer) for r in table]
    widths = [
        max(len(header[i]), *(len(line[i]) for line in lines)) if lines else len(header[i]) for i in range(len(header))
    ]
    # numbers right-aligned, text left-aligned
    right = (False, True, True, False, False, False)

    def fmt(cells: tuple[str, ...]) -> str:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([fmt(header), *(fmt(line) for line in lines)]) + "\n"


# What format_counters prints for each counter (netstat -s wording where there is one).
COUNTER_TEXT = {
    "active_opens": "active connection openings",
    "passive_opens": "passive connection openings",
    "failed_attempts": "failed connection attempts",
    "established_resets": "connection resets received in ESTABLISHED/CLOSE_WAIT",
    "segments_received": "segments received",
    "segments_sent": "segments sent out",
    "segments_retransmitted": "segments retransmitted",
    "resets_received": "resets received",
    "resets_sent": "resets sent",
    "no_listener_resets": "resets sent for segments that matched no connection",
    "bad_checksums": "bad segments received (checksum)",
    "malformed": "malformed packets dropped",
    "not_for_us": "packets for an address this host does not own",
    "martians": "packets from impossible source addresses (martians) dropped",
    "listen_overflows": "times the listen queue of a socket overflowed",
    "listen_drops": "SYNs to LISTEN sockets dropped",
    "aborts_on_memory": "connections aborted because of too many orphans",
    "syncookies_sent": "SYN cookies sent",
    "syncookies_recv": "SYN cookies received",
    "syncookies_failed": "invalid SYN cookies received",
    "icmp_echo_replies": "ICMP echo replies sent",
    "reasm_fragments": "IP fragments received",
    "reasm_ok": "IP datagrams reassembled",
    "reasm_fails": "IP reassemblies failed (overlaps, timeouts, memory)",
    "reasm_timeouts": "IP reassemblies timed out",
    "reasm_overlaps": "IP reassemblies dropped for overlapping fragments",
    "icmp_errors": "ICMP errors taken by a connection",
    "icmp_out_of_window": "ICMP errors quoting a sequence number out of window",
    "other_protocols": "packets of other protocols dropped",
    "internal_errors": "internal errors (bugs) caught at the host boundary",
}


def format_counters(host_or_snapshot: Any) -> str:
    """The counters as ``netstat -s`` prints them, with the malformed reasons below."""
    if isinstance(host_or_snapshot, dict):
        counters, malformed = host_or_snapshot["counters"], host_or_snapshot.get("malformed", {})
        name = host_or_snapshot.get("host", "")
    else:
        counters, malformed = host_or_snapshot.counters, dict(host_or_snapshot.malformed)
        name = host_or_snapshot.name
    lines = [f"Tcp ({name}):" if name else "Tcp:"]
    for key, value in counters.items():
        lines.append(f"    {value} {COUNTER_TEXT.get(key, key.replace('_', ' '))}")
        if key == "malformed":
            for reason, n in sorted(malformed.items()):
                lines.append(f"        {n} {reason}")
    return "\n".join(lines) + "\n"


def snapshot(host: Any) -> dict[str, Any]:
    """Everything netstat shows, JSON-able (the control socket of a running stack serves it)."""
    runtime = host.runtime
    return {
        "host": host.name,
        "time": round(host.time(), 6),  # seconds on the stack's clock, since it started
        "epoch": runtime.epoch if runtime is not None else None,  # that start, wall-clock
        "addresses": [str(a) for a in host.addresses()],
        "rows": [r.as_dict() for r in rows(host)],
        "counters": dict(host.counters),
        "malformed": dict(host.malformed),
    }


def rows_from_snapshot(snap: dict[str, Any]) -> list[Row]:
    return [Row(**r) for r in snap["rows"]]

"""Hand-built event lists for the trace tests (the shapes of tcplab.trace.events)."""

from __future__ import annotations

from typing import Any

OPTS_SYN = "mss 1460,sackOK,TS val 1000 ecr 0,nop,wscale 7"


def seg(
    t,
    src,
    dst,
    flags,
    seq,
    ack,
    length=0,
    win=65535,
    fate="delivered",
    t_arrive=None,
    options="",
    abs_base=(1000, 5000),
    latency=0.05,
) -> dict[str, Any]:
    if t_arrive is None and fate != "dropped":
        t_arrive = round(t + latency, 6)
    iss_src, iss_dst = abs_base if src == "client" else abs_base[::-1]
    return {
        "t": t,
        "kind": "segment",
        "host": src,
        "src": src,
        "dst": dst,
        "flags": flags,
        "seq": seq,
        "ack": ack,
        "len": length,
        "win": win,
        "fate": fate,
        "t_arrive": None if fate == "dropped" else t_arrive,
        "options": options,
        "abs_seq": (iss_src + seq) % 2**32,
        "abs_ack": (iss_dst + ack) % 2**32 if "." in flags else 0,
    }


def state(t, host, frm, to, cause) -> dict[str, Any]:
    return {
        "t": t,
        "kind": "state",
        "host": host,
        "from": frm,
        "to": to,
        "cause": cause,
        "conn": "198.18.0.1:40000-198.18.0.2:80",
    }


def small_handshake() -> list[dict[str, Any]]:
    """Three-way handshake, first SYN lost and retransmitted after 1 s."""
    return [
        state(0.0, "server", "CLOSED", "LISTEN", "listen"),
        state(0.0, "client", "CLOSED", "SYN_SENT", "connect"),
        seg(0.0, "client", "server", "S", 0, 0, fate="dropped"),
        {"t": 0.0, "kind": "note", "text": "The first SYN is lost."},
        seg(1.0, "client", "server", "S", 0, 0),
        state(1.05, "server", "LISTEN", "SYN_RCVD", "rcv SYN"),
        seg(1.05, "server", "client", "S.", 0, 1, win=64000),
        state(1.1, "client", "SYN_SENT", "ESTABLISHED", "rcv SYN-ACK"),
        seg(1.1, "client", "server", ".", 1, 1, win=502),
        {"t": 1.1, "kind": "outcome", "host": "client", "outcome": "connected"},
        state(1.15, "server", "SYN_RCVD", "ESTABLISHED", "rcv ACK of SYN"),
    ]


def full_story() -> list[dict[str, Any]]:
    """Handshake (first SYN dropped), data (one duplicated, one corrupted), four-way close."""
    ev = [
        state(0.0, "server", "CLOSED", "LISTEN", "listen"),
        {
            "t": 0.0,
            "kind": "note",
            "text": "The client opens a connection; its first SYN is lost on the way, so it "
            "retransmits when the retransmission timer (1 s) fires.",
        },
        state(0.0, "client", "CLOSED", "SYN_SENT", "connect"),
        seg(0.0, "client", "server", "S", 0, 0, options=OPTS_SYN, fate="dropped"),
        seg(1.0, "client", "server", "S", 0, 0, options=OPTS_SYN),
        state(1.05, "server", "LISTEN", "SYN_RCVD", "rcv SYN"),
        seg(1.05, "server", "client", "S.", 0, 1, win=65160, options="mss 1460,sackOK,TS val 7 ecr 1000,nop,wscale 7"),
        state(1.1, "client", "SYN_SENT", "ESTABLISHED", "rcv SYN-ACK"),
        {"t": 1.1, "kind": "outcome", "host": "client", "outcome": "connected"},
        seg(1.1, "client", "server", ".", 1, 1, win=502),
        seg(1.1, "client", "server", "P.", 1, 1, length=100, win=502, fate="duplicated"),
        state(1.15, "server", "SYN_RCVD", "ESTABLISHED", "rcv ACK of SYN"),
        seg(1.15, "server", "client", ".", 1, 101, win=509),
        seg(1.2, "server", "client", "P.", 1, 101, length=20, win=509, fate="corrupted"),
        seg(1.4, "server", "client", "P.", 1, 101, length=20, win=509),
        seg(1.45, "client", "server", ".", 101, 21, win=502),
        state(2.0, "client", "ESTABLISHED", "FIN_WAIT_1", "close"),
        seg(2.0, "client", "server", "F.", 101, 21, win=502),
        state(2.05, "server", "ESTABLISHED", "CLOSE_WAIT", "rcv FIN"),
        {"t": 2.05, "kind": "outcome", "host": "server", "outcome": "peer closed"},
        seg(2.05, "server", "client", ".", 21, 102, win=509),
        state(2.1, "client", "FIN_WAIT_1", "FIN_WAIT_2", "rcv ACK of FIN"),
        state(2.3, "server", "CLOSE_WAIT", "LAST_ACK", "close"),
        seg(2.3, "server", "client", "F.", 21, 102, win=509),
        state(2.35, "client", "FIN_WAIT_2", "TIME_WAIT", "rcv FIN"),
        seg(2.35, "client", "server", ".", 102, 22, win=502),
        state(2.4, "server", "LAST_ACK", "CLOSED", "rcv ACK of FIN"),
        {"t": 2.4, "kind": "outcome", "host": "server", "outcome": "closed"},
        state(62.35, "client", "TIME_WAIT", "CLOSED", "timeout 2MSL"),
        {"t": 62.35, "kind": "outcome", "host": "client", "outcome": "closed"},
    ]
    return ev

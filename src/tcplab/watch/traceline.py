"""Parse the text lines of the tracepoint ``sock:inet_sock_set_state``.

A line from ``trace_pipe`` looks like this (one line)::

    python3-6068 [001] ..s2. 1856.106443: inet_sock_set_state: family=AF_INET
    protocol=IPPROTO_TCP sport=9527 dport=56308 saddr=198.18.7.1 daddr=198.18.7.1
    saddrv6=::ffff:198.18.7.1 daddrv6=::ffff:198.18.7.1 oldstate=TCP_LISTEN newstate=TCP_SYN_RECV

The timestamp before the event name is in seconds of the instance's trace clock (the watcher sets
``mono``, the clock of ``time.monotonic()``). Standard library only.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from tcplab.tcp.states import State


class TraceLineError(ValueError):
    """A line that is not a well-formed ``inet_sock_set_state`` event."""


#: The kernel's state names (include/net/tcp_states.h) in tcplab's names. TCP_NEW_SYN_RECV is the
#: request minisock of a passive open: for RFC 9293 that is SYN_RCVD.
KERNEL_STATE: dict[str, State] = {
    "TCP_ESTABLISHED": State.ESTABLISHED,
    "TCP_SYN_SENT": State.SYN_SENT,
    "TCP_SYN_RECV": State.SYN_RCVD,
    "TCP_FIN_WAIT1": State.FIN_WAIT_1,
    "TCP_FIN_WAIT2": State.FIN_WAIT_2,
    "TCP_TIME_WAIT": State.TIME_WAIT,
    "TCP_CLOSE": State.CLOSED,
    "TCP_CLOSE_WAIT": State.CLOSE_WAIT,
    "TCP_LAST_ACK": State.LAST_ACK,
    "TCP_LISTEN": State.LISTEN,
    "TCP_CLOSING": State.CLOSING,
    "TCP_NEW_SYN_RECV": State.SYN_RCVD,
}

#: The kernel's state numbers (what sock_diag reports) in tcplab's names.
KERNEL_STATE_NUMBER: dict[int, State] = {
    1: State.ESTABLISHED,
    2: State.SYN_SENT,
    3: State.SYN_RCVD,
    4: State.FIN_WAIT_1,
    5: State.FIN_WAIT_2,
    6: State.TIME_WAIT,
    7: State.CLOSED,
    8: State.CLOSE_WAIT,
    9: State.LAST_ACK,
    10: State.LISTEN,
    11: State.CLOSING,
    12: State.SYN_RCVD,  # TCP_NEW_SYN_RECV: a request minisock
}

KERNEL_STATE_NAME: dict[int, str] = {
    1: "TCP_ESTABLISHED",
    2: "TCP_SYN_SENT",
    3: "TCP_SYN_RECV",
    4: "TCP_FIN_WAIT1",
    5: "TCP_FIN_WAIT2",
    6: "TCP_TIME_WAIT",
    7: "TCP_CLOSE",
    8: "TCP_CLOSE_WAIT",
    9: "TCP_LAST_ACK",
    10: "TCP_LISTEN",
    11: "TCP_CLOSING",
    12: "TCP_NEW_SYN_RECV",
}
_NAME_BY_NUMBER_TEXT = {str(n): name for n, name in KERNEL_STATE_NAME.items()}

_HEAD = re.compile(r"(\d+\.\d+):\s+inet_sock_set_state:\s+(.*)$")
_FIELD_NAMES = (
    "family", "protocol", "sport", "dport", "saddr", "daddr", "saddrv6", "daddrv6",
    "oldstate", "newstate",
)  # fmt: skip
_FIELDS = re.compile(r"\s*" + r"\s+".join(f"{name}=(\\S+)" for name in _FIELD_NAMES) + r"\s*")
_FAMILIES = {"AF_INET": 4, "AF_INET6": 6, "2": 4, "10": 6}


class Endpoints:
    """``local`` and ``remote`` as ``addr:port`` text, for a record of a kernel socket's
    ``saddr``, ``sport``, ``daddr`` and ``dport``."""

    __slots__ = ()
    saddr: str
    sport: int
    daddr: str
    dport: int

    @property
    def local(self) -> str:
        return endpoint(self.saddr, self.sport)

    @property
    def remote(self) -> str:
        return endpoint(self.daddr, self.dport)


@dataclass(frozen=True, slots=True)
class KernelStateChange(Endpoints):
    """One ``inet_sock_set_state`` event, addresses as strings, states as the kernel names them."""

    ts: float  # seconds, trace clock
    family: int  # 4 or 6
    sport: int
    dport: int
    saddr: str
    daddr: str
    oldstate: str  # e.g. "TCP_SYN_SENT"
    newstate: str
    task: str = ""

    @property
    def old(self) -> State:
        return KERNEL_STATE[self.oldstate]

    @property
    def new(self) -> State:
        return KERNEL_STATE[self.newstate]

    @property
    def conn(self) -> str:
        return f"{self.local}-{self.remote}"


def endpoint(addr: str, port: int) -> str:
    """``198.18.0.1:80`` for IPv4, ``[fd00::1]:80`` for IPv6 (the brackets keep ``:`` readable)."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def _state_name(text: str) -> str:
    if text in KERNEL_STATE:
        return text
    if text in _NAME_BY_NUMBER_TEXT:  # an unknown-to-print_symbolic value prints as a number
        return _NAME_BY_NUMBER_TEXT[text]
    if text.lower().startswith("0x"):
        try:
            number = str(int(text, 16))
        except ValueError:
            number = ""
        if number in _NAME_BY_NUMBER_TEXT:
            return _NAME_BY_NUMBER_TEXT[number]
    raise TraceLineError(f"unknown TCP state {text!r}")


def _port(fields: dict[str, str], key: str) -> int:
    try:
        value = int(fields[key], 0)
    except KeyError:
        raise TraceLineError(f"no {key}= field") from None
    except ValueError:
        raise TraceLineError(f"bad {key}= value {fields[key]!r}") from None
    if not 0 <= value <= 0xFFFF:
        raise TraceLineError(f"{key}={value} is not a port")
    return value


_V4_MAPPED = bytes(10) + b"\xff\xff"


def address_text(packed: bytes) -> str:
    """An address as the kernel prints it (``%pI4``, ``%pI6c``): IPv4-mapped IPv6 addresses end
    in dotted decimal (``::ffff:198.18.0.1``), other IPv6 addresses are compressed (RFC 5952)."""
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed)
    if packed[:12] == _V4_MAPPED:
        return "::ffff:" + socket.inet_ntop(socket.AF_INET, packed[12:])
    return str(ipaddress.IPv6Address(packed))


def _addr(fields: dict[str, str], key: str, version: int) -> str:
    text = fields.get(key)
    if text is None:
        raise TraceLineError(f"no {key}= field")
    try:
        packed = socket.inet_pton(socket.AF_INET if version == 4 else socket.AF_INET6, text)
    except (OSError, ValueError):
        kind = "IPv4" if version == 4 else "IPv6"
        raise TraceLineError(f"bad {key}= address {text!r}: not an {kind} address") from None
    return address_text(packed)


def parse_trace_line(line: str) -> KernelStateChange | None:
    """Parse one line of ``trace_pipe``.

    Returns ``None`` for lines of other events or comments, and for ``inet_sock_set_state`` events
    of protocols other than TCP; raises ``TraceLineError`` for a malformed ``inet_sock_set_state``
    line.
    """
    line = line.rstrip("\n")
    if "inet_sock_set_state:" not in line or line.lstrip().startswith("#"):
        return None
    match = _HEAD.search(line)
    if match is None:
        raise TraceLineError("no timestamp before 'inet_sock_set_state:'")
    ts = float(match.group(1))
    task = line[: match.start()].strip().split(" ", 1)[0]
    fast = _FIELDS.fullmatch(match.group(2))
    if fast is not None:  # the kernel's own order: one regex instead of a split per field
        fields = dict(zip(_FIELD_NAMES, fast.groups(), strict=True))
    else:
        fields = {}
        for word in match.group(2).split():
            key, sep, value = word.partition("=")
            if sep:
                fields[key] = value
    protocol = fields.get("protocol")
    if protocol is None:
        raise TraceLineError("no protocol= field")
    if protocol not in ("IPPROTO_TCP", "6"):
        return None
    family = _FAMILIES.get(fields.get("family", ""))
    if family is None:
        raise TraceLineError(f"unknown family {fields.get('family')!r}")
    if family == 4:
        saddr = _addr(fields, "saddr", 4)
        daddr = _addr(fields, "daddr", 4)
    else:
        saddr = _addr(fields, "saddrv6", 6)
        daddr = _addr(fields, "daddrv6", 6)
    try:
        oldstate = _state_name(fields["oldstate"])
        newstate = _state_name(fields["newstate"])
    except KeyError as exc:
        raise TraceLineError(f"no {exc.args[0]}= field") from None
    return KernelStateChange(
        ts=ts,
        family=family,
        sport=_port(fields, "sport"),
        dport=_port(fields, "dport"),
        saddr=saddr,
        daddr=daddr,
        oldstate=oldstate,
        newstate=newstate,
        task=task,
    )

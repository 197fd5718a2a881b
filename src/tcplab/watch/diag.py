"""The kernel's TCP socket table over netlink (sock_diag / INET_DIAG), like ``ss -tan``.

Never parses /proc. A dump lists full sockets, request minisocks (SYN_RCVD) and TIME_WAIT
minisocks with their timers. The netlink socket belongs to the network namespace it was created
in, so ``SockDiag(netns="name")`` creates it in a short-lived thread that first joins that
namespace (``setns``); the rest of the process stays where it is.

Standard library only (``struct`` on the netlink messages of linux/inet_diag.h).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import ipaddress
import os
import socket
import struct
import threading
from dataclasses import dataclass

from tcplab.tcp.states import State
from tcplab.watch.traceline import KERNEL_STATE_NUMBER, Endpoints, address_text

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
CLONE_NEWNET = 0x40000000

_NLMSGHDR = struct.Struct("=IHHII")
# struct inet_diag_req_v2: family, protocol, ext, pad, states; then struct inet_diag_sockid.
_REQ = struct.Struct("=BBBBI")
_SOCKID = struct.Struct(">HH16s16s")  # sport, dport (network order), src, dst
_SOCKID_TAIL = struct.Struct("=III")  # if, cookie[2]
# struct inet_diag_msg: family, state, timer, retrans, sockid, expires, rqueue, wqueue, uid, inode
_MSG_HEAD = struct.Struct("=BBBB")
_MSG_TAIL = struct.Struct("=IIIII")
_MSG_LEN = _MSG_HEAD.size + _SOCKID.size + _SOCKID_TAIL.size + _MSG_TAIL.size  # 72

ALL_STATES = (1 << 13) - 1  # bits 0..12: every TCP state including TCP_NEW_SYN_RECV
# The TIME_WAIT minisocks. The kernel filters a minisock by its *substate* (inet_diag_dump_icsk),
# so an orphan's minisock still in FIN_WAIT2 needs bit 5 too (it also brings full FIN_WAIT2
# sockets: keep only ``timewait_minisock`` entries).
TIMEWAIT_STATES = (1 << 6) | (1 << 5)
SYN_SENT_STATES = 1 << 2

#: idiag_timer values (as ``ss`` names them).
TIMER_NAMES = {0: "", 1: "on", 2: "keepalive", 3: "timewait", 4: "persist"}


class DiagError(OSError):
    """The sock_diag dump failed (no such namespace, netlink refused, malformed answer)."""


@dataclass(frozen=True, slots=True)
class SockEntry(Endpoints):
    """One row of the table."""

    family: int  # 4 or 6
    kernel_state: int  # the kernel's number (for a TIME_WAIT minisock: its substate)
    saddr: str
    sport: int
    daddr: str
    dport: int
    timer: int  # idiag_timer
    retrans: int
    expires_ms: int  # time left on the timer
    rqueue: int  # bytes unread (accept queue length for a listener)
    wqueue: int  # bytes unacknowledged (backlog for a listener)
    inode: int  # 0 for minisocks (request and TIME_WAIT)

    @property
    def state(self) -> State:
        return KERNEL_STATE_NUMBER[self.kernel_state]

    @property
    def key(self) -> tuple[int, str, int, str, int]:
        return (self.family, self.saddr, self.sport, self.daddr, self.dport)

    @property
    def timewait_minisock(self) -> bool:
        """A TIME_WAIT minisock (also one whose substate is still FIN_WAIT_2)."""
        return self.timer == 3

    def timer_text(self) -> str:
        name = TIMER_NAMES.get(self.timer, str(self.timer))
        if not name:
            return ""
        return f"{name},{self.expires_ms / 1000:.1f}s,{self.retrans}"


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _setns(fd: int) -> None:
    setns = getattr(os, "setns", None)  # Python 3.12+
    if setns is not None:
        setns(fd, CLONE_NEWNET)
        return
    if _libc().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def netns_path(netns: str) -> str:
    """``ip netns`` names live in /run/netns; a path is taken as it is."""
    return netns if "/" in netns else f"/run/netns/{netns}"


def open_in_netns(netns: str | None, family: int, type_: int, proto: int) -> socket.socket:
    """A socket created in network namespace ``netns`` (None: this process's namespace)."""
    if netns is None:
        return socket.socket(family, type_, proto)
    result: dict[str, object] = {}

    def run() -> None:
        try:
            fd = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            result["sock"] = socket.socket(family, type_, proto)
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=run, name="tcplab-setns")
    thread.start()
    thread.join()
    if "error" in result:
        exc = result["error"]
        assert isinstance(exc, OSError)
        raise DiagError(exc.errno, f"cannot enter network namespace {netns!r}: {exc.strerror}")
    sock = result["sock"]
    assert isinstance(sock, socket.socket)
    return sock


def _addr(raw: bytes, family: int) -> str:
    return address_text(raw[:4] if family == 4 else raw)


def parse_diag_messages(data: bytes, seq: int) -> tuple[list[SockEntry], bool]:
    """Parse one netlink read: the entries and whether NLMSG_DONE was seen."""
    entries: list[SockEntry] = []
    offset = 0
    done = False
    while offset + _NLMSGHDR.size <= len(data):
        length, mtype, _flags, mseq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            raise DiagError(0, "malformed netlink message")
        body = offset + _NLMSGHDR.size
        if mseq == seq:
            if mtype == NLMSG_DONE:
                done = True
            elif mtype == NLMSG_ERROR:
                (error,) = struct.unpack_from("=i", data, body)
                if error:
                    raise DiagError(-error, f"sock_diag: {os.strerror(-error)}")
            elif mtype == SOCK_DIAG_BY_FAMILY and length - _NLMSGHDR.size >= _MSG_LEN:
                fam, state, timer, retrans = _MSG_HEAD.unpack_from(data, body)
                sport, dport, src, dst = _SOCKID.unpack_from(data, body + 4)
                pos = body + 4 + _SOCKID.size + _SOCKID_TAIL.size
                expires, rqueue, wqueue, _uid, inode = _MSG_TAIL.unpack_from(data, pos)
                version = 4 if fam == socket.AF_INET else 6
                if state in KERNEL_STATE_NUMBER:
                    entries.append(
                        SockEntry(
                            family=version,
                            kernel_state=state,
                            saddr=_addr(src, version),
                            sport=sport,
                            daddr=_addr(dst, version),
                            dport=dport,
                            timer=timer,
                            retrans=retrans,
                            expires_ms=expires,
                            rqueue=rqueue,
                            wqueue=wqueue,
                            inode=inode,
                        )
                    )
        offset += (length + 3) & ~3
    return entries, done


class SockDiag:
    """A netlink sock_diag socket in one network namespace. Use ``dump()`` for the table."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        try:
            self._sock = open_in_netns(
                netns, socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_SOCK_DIAG
            )
        except DiagError:
            raise
        except OSError as exc:
            raise DiagError(exc.errno, f"cannot open a sock_diag netlink socket: {exc}") from None
        self._sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> SockDiag:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _dump_family(self, family: int, states: int) -> list[SockEntry]:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        req = (
            _REQ.pack(family, socket.IPPROTO_TCP, 0, 0, states)
            + _SOCKID.pack(0, 0, bytes(16), bytes(16))
            + _SOCKID_TAIL.pack(0, 0xFFFFFFFF, 0xFFFFFFFF)
        )
        header = _NLMSGHDR.pack(
            _NLMSGHDR.size + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, self._seq, 0
        )
        self._sock.send(header + req)
        out: list[SockEntry] = []
        while True:
            data = self._sock.recv(1 << 16)
            if not data:
                raise DiagError(0, "sock_diag: netlink socket closed")
            entries, done = parse_diag_messages(data, self._seq)
            out.extend(entries)
            if done:
                return out

    def dump(self, states: int = ALL_STATES) -> list[SockEntry]:
        """Every TCP socket (IPv4 and IPv6) of the namespace, in the kernel's order."""
        try:
            return self._dump_family(socket.AF_INET, states) + self._dump_family(socket.AF_INET6, states)
        except DiagError:
            raise
        except OSError as exc:
            raise DiagError(exc.errno, f"sock_diag dump failed: {exc}") from None

    def find(self, family: int, saddr: str, sport: int, daddr: str, dport: int) -> SockEntry | None:
        """The one socket with this 4-tuple (an exact lookup, no dump), or None."""
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        src = ipaddress.ip_address(saddr).packed.ljust(16, b"\0")
        dst = ipaddress.ip_address(daddr).packed.ljust(16, b"\0")
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        req = (
            _REQ.pack(af, socket.IPPROTO_TCP, 0, 0, ALL_STATES)
            + _SOCKID.pack(sport, dport, src, dst)
            + _SOCKID_TAIL.pack(0, 0xFFFFFFFF, 0xFFFFFFFF)  # any interface, INET_DIAG_NOCOOKIE
        )
        header = _NLMSGHDR.pack(_NLMSGHDR.size + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, self._seq, 0)
        try:
            self._sock.send(header + req)
            while True:
                data = self._sock.recv(1 << 16)
                if not data:
                    raise DiagError(0, "sock_diag: netlink socket closed")
                entries, _done = parse_diag_messages(data, self._seq)
                if entries:
                    return entries[0]
                if _has_seq(data, self._seq):
                    return None
        except DiagError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise
        except OSError as exc:
            raise DiagError(exc.errno, f"sock_diag lookup failed: {exc}") from None


def _has_seq(data: bytes, seq: int) -> bool:
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, _type, _flags, mseq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if mseq == seq:
            return True
        if length < _NLMSGHDR.size:
            return False
        offset += (length + 3) & ~3
    return False


def snapshot(netns: str | None = None) -> list[SockEntry]:
    """The current table of namespace ``netns``."""
    with SockDiag(netns) as diag:
        return diag.dump()


def format_table(entries: list[SockEntry]) -> str:
    """The table as ``ss -tan`` prints it, with tcplab's state names and a timer column."""
    rows = [("State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Timer")]
    for e in entries:
        rows.append((str(e.state), str(e.rqueue), str(e.wqueue), e.local, e.remote, e.timer_text()))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = []
    for row in rows:
        cells = [
            row[0].ljust(widths[0]),
            row[1].rjust(widths[1]),
            row[2].rjust(widths[2]),
            row[3].ljust(widths[3]),
            row[4].ljust(widths[4]),
            row[5],
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"

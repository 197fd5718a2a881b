"""Socket options, ioctls and send flags of tcplab sockets, with Linux's values and errnos.

One function per direction (``setsockopt``, ``getsockopt``, ``ioctl``) dispatching on
``(level, optname)``. To add an option: a branch in each, its state in :class:`SocketOptions`
(what an accepted socket inherits from its listener), a line in the tests of
tests/socket/test_socket_kernel.py comparing it with the kernel's socket in the same situation,
and -- when the option is TCP behaviour rather than a stored value -- the hook into the engine
(``Connection``) it drives (TCP_CORK: ``Connection.set_cork``; MSG_MORE / MSG_EOR: the
``more`` / ``eor`` arguments of ``Connection.send``; SO_LINGER: the core's close()).

The numbers are this machine's Linux (/work/notes/linux-behaviour.md, sections A and K):
net.core.wmem_max = rmem_max = 4194304, tcp_wmem = 4096 16384 4194304, tcp_rmem = 4096 131072
33554432, CONFIG_HZ = 250.
"""

from __future__ import annotations

import dataclasses
import errno as _errno
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tcplab.socket import tcpinfo
from tcplab.socket.constants import (
    AF_INET6,
    FIONREAD,
    IPPROTO_IP,
    IPPROTO_IPV6,
    IPPROTO_TCP,
    IPV6_V6ONLY,
    MSG_EOR,
    MSG_MORE,
    SIOCOUTQ,
    SIOCOUTQNSD,
    SO_ACCEPTCONN,
    SO_DOMAIN,
    SO_ERROR,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_PROTOCOL,
    SO_RCVBUF,
    SO_RCVLOWAT,
    SO_REUSEADDR,
    SO_SNDBUF,
    SO_TYPE,
    SOL_SOCKET,
    TCP_CONGESTION,
    TCP_CORK,
    TCP_FASTOPEN,
    TCP_FASTOPEN_CONNECT,
    TCP_INFO,
    TCP_KEEPCNT,
    TCP_KEEPIDLE,
    TCP_KEEPINTVL,
    TCP_MAXSEG,
    TCP_NODELAY,
    TCP_NOTSENT_LOWAT,
    TCP_QUICKACK,
    TCP_USER_TIMEOUT,
)
from tcplab.socket.errors import oserror
from tcplab.tcp import fastopen as _tfo
from tcplab.tcp.config import Config
from tcplab.tcp.congestion import ALGORITHMS
from tcplab.tcp.states import State

if TYPE_CHECKING:
    from tcplab.tcp.connection import Connection

SocketCore = Any  # tcplab.socket.core.SocketCore (which imports this module)

# Linux: SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF (2 * (2048 + sizeof(struct sk_buff)) ~ 4608 / 2304)
MIN_SNDBUF = 4608
MIN_RCVBUF = 2304
WMEM_MAX = RMEM_MAX = 4194304  # net.core.wmem_max / rmem_max
TCP_WMEM = (4096, 16384, 4194304)  # net.ipv4.tcp_wmem
TCP_RMEM = (4096, 131072, 33554432)  # net.ipv4.tcp_rmem
TCP_NOTSENT_LOWAT_DEFAULT = 0xFFFFFFFF  # net.ipv4.tcp_notsent_lowat: no limit
TCP_MIN_MSS = 88  # Linux TCP_MIN_MSS
MAX_TCP_WINDOW = 32767  # Linux: the largest TCP_MAXSEG (include/net/tcp.h)
TCP_MSS_DEFAULT = 536  # Linux: getsockopt(TCP_MAXSEG) before a connection exists
TCP_CA_NAME_MAX = 16
HZ = 250  # CONFIG_HZ: SO_LINGER is kept in jiffies
MAX_SCHEDULE_TIMEOUT = (1 << 63) - 1  # "forever" in jiffies

_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})


@dataclass(slots=True)
class SocketOptions:
    """What setsockopt() stored on one socket (an accepted socket starts with its listener's).

    Shared until changed: a new socket holds one of the two ``defaults()``, an accepted socket
    its listener's very object (``inherit``), and a socket about to change one makes its own
    copy first (``SocketCore.writable_options``): the options of ten thousand sockets that set
    none cost nothing each. Never change one in place without that."""

    reuseaddr: bool = False
    linger_on: bool = False  # SO_LINGER l_onoff
    linger_jiffies: int = 0  # SO_LINGER l_linger as Linux keeps it (sk_lingertime)
    # engine Config fields set by options; never changed in place (replaced), so a socket shares
    # it with the listener it was accepted from and every new socket shares the empty one
    config: Mapping[str, Any] = field(default_factory=lambda: _NO_FIELDS)
    user_mss: int | None = None  # TCP_MAXSEG
    sndbuf: int | None = None  # SO_SNDBUF as Linux reports it, once set (SOCK_SNDBUF_LOCK)
    rcvbuf: int | None = None  # SO_RCVBUF, once set (SOCK_RCVBUF_LOCK)
    rcvlowat: int = 1  # SO_RCVLOWAT
    notsent_lowat: int = 0  # TCP_NOTSENT_LOWAT (u32); 0: the sysctl's
    cork: bool = False  # TCP_CORK
    v6only: bool = False  # IPV6_V6ONLY (a new socket takes net.ipv6.bindv6only: Config.bindv6only)
    fastopen_connect: bool = False  # TCP_FASTOPEN_CONNECT
    quickack: bool = True  # TCP_QUICKACK before a connection exists (0: ping-pong mode from the start)
    # held by more than one socket (or one of the defaults): copied before a change
    shared: bool = field(default=False, compare=False, repr=False)

    def inherit(self) -> SocketOptions:
        """The options of a socket accept() makes (Linux clones the listener): these, shared
        by both sockets until either changes one."""
        self.shared = True
        return self

    def private(self) -> SocketOptions:
        """Options a socket may change in place: these if no other socket holds them, else a copy."""
        return dataclasses.replace(self, shared=False) if self.shared else self

    @property
    def linger(self) -> tuple[int, int]:
        """``(l_onoff, l_linger)`` as getsockopt(SO_LINGER) reports them."""
        seconds = self.linger_jiffies // HZ
        return int(self.linger_on), _int32(seconds)

    @property
    def linger_time(self) -> float:
        """How long close() waits for the FIN's ACK (seconds; inf: forever)."""
        if self.linger_jiffies >= MAX_SCHEDULE_TIMEOUT:
            return math.inf
        return self.linger_jiffies / HZ


_DEFAULTS = SocketOptions(shared=True)
_DEFAULTS_V6ONLY = SocketOptions(v6only=True, shared=True)


def defaults(v6only: bool) -> SocketOptions:
    """A new socket's options (shared by every new socket until it sets one)."""
    return _DEFAULTS_V6ONLY if v6only else _DEFAULTS


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def as_int(value: Any) -> int:
    """An option's int as Linux reads it: an int, or at least 4 bytes (EINVAL if fewer)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) < 4:
            raise oserror(_errno.EINVAL)
        return int(struct.unpack_from("i", value)[0])
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int):
        raise TypeError(f"a bytes-like object or an integer is required, not '{type(value).__name__}'")
    return _int32(value)


def _linger(opts: SocketOptions, value: Any) -> None:
    """SO_LINGER: struct linger {int l_onoff; int l_linger} (or the tuple ``(onoff, linger)``);
    an int is too short (EINVAL), as for Linux. A linger time Linux cannot count in jiffies
    (negative, or huge) means forever."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) < 8:
            raise oserror(_errno.EINVAL)
        onoff, linger = struct.unpack_from("ii", value)
    elif isinstance(value, tuple) and len(value) == 2:
        onoff, linger = _int32(int(value[0])), _int32(int(value[1]))
    elif isinstance(value, int):
        raise oserror(_errno.EINVAL)
    else:
        raise TypeError("SO_LINGER takes struct.pack('ii', onoff, linger) or (onoff, linger)")
    opts.linger_on = bool(onoff)
    # (unsigned long) l_linger: a negative int is sign-extended, so it is "forever" too
    seconds = linger % (1 << 64)
    opts.linger_jiffies = MAX_SCHEDULE_TIMEOUT if seconds >= MAX_SCHEDULE_TIMEOUT // HZ else seconds * HZ


# ---- congestion control (read through these two functions only) ---------------------------------
def congestion_names() -> tuple[str, ...]:
    """The congestion controls tcplab.tcp offers (what TCP_CONGESTION accepts)."""
    return tuple(ALGORITHMS)


def congestion_of(config: Config) -> str:
    """The engine Config's congestion-control name."""
    return config.congestion_control


def _set_congestion(core: SocketCore, value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = struct.pack("i", value)  # Python passes an int as 4 bytes: not a name
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"a bytes-like object or an integer is required, not '{type(value).__name__}'")
    if len(value) < 1:
        raise oserror(_errno.EINVAL)
    name = bytes(value[: TCP_CA_NAME_MAX - 1]).split(b"\0", 1)[0].decode("latin-1")
    if name not in congestion_names():
        raise oserror(_errno.ENOENT)  # Linux: no such congestion control
    # For connections to come (and a listener's children); a live connection keeps the
    # algorithm it started with (Linux would switch it: tcplab's engine picks it at creation).
    opts = core.writable_options()
    opts.config = {**opts.config, "congestion_control": name}  # (a new dict: options share theirs)
    if core.listener is not None:
        core.listener.config.congestion_control = name


# ---- the hooks the core calls -----------------------------------------------------------------
def notsent_ok(core: SocketCore, conn: Connection, *, wake: bool) -> bool:
    """TCP_NOTSENT_LOWAT (Linux __tcp_stream_memory_free): send() may queue more while the
    unsent bytes are below the mark; poll() reports writable once they are below half of it."""
    lowat = core.options.notsent_lowat or TCP_NOTSENT_LOWAT_DEFAULT
    return (conn.unsent << (1 if wake else 0)) < lowat


def queue(core: SocketCore, conn: Connection, data: bytes, flags: int, now: float) -> int:
    """Hand ``data`` to the engine with what the send flags ask for; the bytes queued."""
    return conn.send(data, now, more=bool(flags & MSG_MORE), eor=bool(flags & MSG_EOR))


def apply_to_connection(core: SocketCore, conn: Connection) -> None:
    """Options that live in the engine's connection, for a connection just made or accepted."""
    if core.options.cork:
        conn.cork = True
    if not core.options.quickack:
        conn.set_quickack(0, core.now())


def ioctl(core: SocketCore, request: int) -> int:
    """Linux tcp_ioctl: SIOCINQ (= FIONREAD), SIOCOUTQ, SIOCOUTQNSD."""
    if request not in (FIONREAD, SIOCOUTQ, SIOCOUTQNSD):
        raise oserror(_errno.ENOTTY)
    if core.listener is not None:
        raise oserror(_errno.EINVAL)
    conn = core.connection
    if conn is None or conn.state in (State.SYN_SENT, State.SYN_RCVD, State.CLOSED):
        return 0
    if request == FIONREAD:
        return conn.recv_buffered  # the FIN is not counted
    # write_seq - snd_una / write_seq - snd_nxt: our FIN counts until it is acknowledged / sent
    fin_unacked = conn.state in (State.FIN_WAIT_1, State.CLOSING, State.LAST_ACK)
    if request == SIOCOUTQ:
        return conn.send_buffered + int(fin_unacked)
    return conn.unsent + int(fin_unacked and conn.unsent > 0)  # the FIN goes after the data


def sndbuf_reported(core: SocketCore) -> int:
    """SO_SNDBUF when not set: tcp_wmem[1], grown at the handshake as Linux's tcp_sndbuf_expand
    does (2 or, for bbr, 3 buffers of 10 segments, each a power-of-two skb)."""
    conn = core.connection
    if conn is None or not conn.state.synchronized:
        return TCP_WMEM[1]
    mss = max(conn.snd_mss, conn.config.mss)
    per_mss = (1 << (mss + 576 - 1).bit_length()) + 256
    factor = 3 if congestion_of(conn.config) == "bbr" else 2
    return max(TCP_WMEM[1], min(factor * 10 * per_mss, TCP_WMEM[2]))


# ---- setsockopt / getsockopt ------------------------------------------------------------------
def setsockopt(core: SocketCore, level: int, optname: int, value: Any, optlen: int | None = None) -> None:
    opts = core.writable_options()
    if level == SOL_SOCKET:
        if optname == SO_LINGER:
            _linger(opts, value)
            return
        v = as_int(value)
        if optname == SO_REUSEADDR:
            core.reuseaddr = bool(v)
        elif optname == SO_KEEPALIVE:
            core.set_config(keepalive=bool(v))
        elif optname == SO_RCVBUF:
            v = min(v & 0xFFFFFFFF, RMEM_MAX)  # Linux: min_t(u32, val, rmem_max), then doubled
            opts.rcvbuf = max(2 * v, MIN_RCVBUF)
            # the usable half; a set buffer stops auto-tuning (Linux SOCK_RCVBUF_LOCK)
            core.set_config(rcv_buf=opts.rcvbuf // 2, rcv_autotune=False)
        elif optname == SO_SNDBUF:
            v = min(v & 0xFFFFFFFF, WMEM_MAX)
            opts.sndbuf = max(2 * v, MIN_SNDBUF)
            core.set_config(snd_buf=opts.sndbuf // 2)
        elif optname == SO_RCVLOWAT:
            # Linux tcp_set_rcvlowat: negative is INT_MAX; capped at half the receive buffer
            # (tcp_rmem[2] while SO_RCVBUF is not set); 0 is 1.
            v = 0x7FFFFFFF if v < 0 else v
            cap = (opts.rcvbuf if opts.rcvbuf is not None else TCP_RMEM[2]) >> 1
            opts.rcvlowat = min(v, cap) or 1
        else:
            raise oserror(_errno.ENOPROTOOPT)
    elif level == IPPROTO_TCP:
        if optname == TCP_CONGESTION:
            _set_congestion(core, value)
            return
        v = as_int(value)
        if optname == TCP_NODELAY:
            core.set_config(nodelay=bool(v))
            core.after_call()  # Linux pushes what Nagle was holding back
        elif optname == TCP_CORK:
            opts.cork = bool(v)
            conn = core.connection
            if conn is not None and conn.state is not State.CLOSED:
                conn.set_cork(opts.cork, core.now())
                core.after_call()
        elif optname == TCP_NOTSENT_LOWAT:
            opts.notsent_lowat = v & 0xFFFFFFFF
        elif optname == TCP_QUICKACK:
            conn = core.connection
            if conn is not None and conn.state is not State.CLOSED:
                conn.set_quickack(v, core.now())
                core.after_call()
            else:
                opts.quickack = bool(v)
        elif optname == TCP_MAXSEG:
            if v and (v < TCP_MIN_MSS or v > MAX_TCP_WINDOW):
                raise oserror(_errno.EINVAL)
            opts.user_mss = v or None
            if core.listener is not None:
                core.listener.user_mss = opts.user_mss
        elif optname == TCP_KEEPIDLE:
            if not 1 <= v <= 32767:  # Linux MAX_TCP_KEEPIDLE
                raise oserror(_errno.EINVAL)
            core.set_config(keepalive_idle=float(v))
        elif optname == TCP_KEEPINTVL:
            if not 1 <= v <= 32767:
                raise oserror(_errno.EINVAL)
            core.set_config(keepalive_interval=float(v))
        elif optname == TCP_KEEPCNT:
            if not 1 <= v <= 127:  # Linux MAX_TCP_KEEPCNT
                raise oserror(_errno.EINVAL)
            core.set_config(keepalive_count=v)
        elif optname == TCP_USER_TIMEOUT:
            if v < 0:
                raise oserror(_errno.EINVAL)
            core.set_config(user_timeout=(v / 1000.0) if v else None)  # milliseconds
        elif optname == TCP_FASTOPEN:
            # The listener's Fast Open queue (RFC 7413 section 5.1): before or after listen().
            if v < 0 or core.connection is not None:
                raise oserror(_errno.EINVAL)
            core.set_config(fastopen_queue=v)
        elif optname == TCP_FASTOPEN_CONNECT:
            if v not in (0, 1):
                raise oserror(_errno.EINVAL)
            if not int(opts.config.get("fastopen", core.host.config.fastopen)) & _tfo.CLIENT:
                raise oserror(_errno.EOPNOTSUPP)  # net.ipv4.tcp_fastopen without the client bit
            if core.connection is not None or core.listener is not None:
                raise oserror(_errno.EINVAL)  # Linux: only on a socket not yet connected
            opts.fastopen_connect = bool(v)
        else:
            raise oserror(_errno.ENOPROTOOPT)
    elif level == IPPROTO_IPV6 and optname == IPV6_V6ONLY and core.family == AF_INET6:
        v = as_int(value)
        if core.getsockname()[1]:
            raise oserror(_errno.EINVAL)  # Linux: not once the socket has a port (inet_num)
        opts.v6only = bool(v)
    else:
        raise oserror(_errno.ENOPROTOOPT)


def _bytes(raw: bytes, buflen: int | None) -> Any:
    """What Python's getsockopt gives for a struct option: the bytes (at most ``buflen``), or
    without a buffer length the int its first 4 bytes hold."""
    if not buflen:
        return struct.unpack_from("i", raw.ljust(4, b"\0"))[0]
    return raw[:buflen]


def getsockopt(core: SocketCore, level: int, optname: int, buflen: int | None = None) -> Any:
    opts = core.options
    conn = core.connection
    live = conn.config if conn is not None and conn.state is not State.CLOSED else None
    cfg = live or core.host.config.copy(**opts.config)
    value: int
    if level == SOL_SOCKET:
        if optname == SO_LINGER:
            return _bytes(struct.pack("ii", *opts.linger), buflen)
        if optname == SO_ERROR:
            # Linux sock_getsockopt: the pending error, else the soft one an ICMP error left
            value = core.take_error() or (conn.take_soft_error() if conn is not None else 0)
        elif optname == SO_REUSEADDR:
            value = int(core.reuseaddr)
        elif optname == SO_KEEPALIVE:
            value = int(bool(cfg.keepalive))
        elif optname == SO_TYPE:
            value = core.type
        elif optname == SO_DOMAIN:
            value = core.family
        elif optname == SO_PROTOCOL:
            value = core.proto
        elif optname == SO_ACCEPTCONN:
            value = int(core.listener is not None)
        elif optname == SO_RCVBUF:
            # unset: tcp_rmem[1], the buffer of which Config.rcv_buf (half) carries data
            value = opts.rcvbuf if opts.rcvbuf is not None else 2 * core.host.config.rcv_buf
        elif optname == SO_SNDBUF:
            value = opts.sndbuf if opts.sndbuf is not None else sndbuf_reported(core)
        elif optname == SO_RCVLOWAT:
            value = opts.rcvlowat
        else:
            raise oserror(_errno.ENOPROTOOPT)
    elif level == IPPROTO_TCP:
        if optname == TCP_INFO:
            return _bytes(tcpinfo.pack(tcpinfo.of(core)), buflen)
        if optname == TCP_CONGESTION:
            return _bytes(congestion_of(cfg).encode().ljust(TCP_CA_NAME_MAX, b"\0"), buflen)
        if optname == TCP_NODELAY:
            value = int(bool(cfg.nodelay))
        elif optname == TCP_CORK:
            value = int(opts.cork)
        elif optname == TCP_NOTSENT_LOWAT:
            value = _int32(opts.notsent_lowat)
        elif optname == TCP_QUICKACK:
            value = int(conn.quickack if live is not None and conn is not None else opts.quickack)
        elif optname == TCP_MAXSEG:
            if conn is not None and conn.state.synchronized:
                value = int(conn.tcp_info()["snd_mss"])
            else:
                value = opts.user_mss or TCP_MSS_DEFAULT
        elif optname == TCP_KEEPIDLE:
            value = int(cfg.keepalive_idle)
        elif optname == TCP_KEEPINTVL:
            value = int(cfg.keepalive_interval)
        elif optname == TCP_KEEPCNT:
            value = int(cfg.keepalive_count)
        elif optname == TCP_USER_TIMEOUT:
            value = round((cfg.user_timeout or 0) * 1000)
        elif optname == TCP_FASTOPEN:
            value = int(cfg.fastopen_queue)
        elif optname == TCP_FASTOPEN_CONNECT:
            value = int(opts.fastopen_connect)
        else:
            raise oserror(_errno.ENOPROTOOPT)
    elif level == IPPROTO_IPV6 and optname == IPV6_V6ONLY and core.family == AF_INET6:
        value = int(opts.v6only)
    elif core.family != AF_INET6 and level != IPPROTO_IP:
        # Linux ip_getsockopt, where an AF_INET socket's levels other than SOL_SOCKET and
        # SOL_TCP go: EOPNOTSUPP for any level but SOL_IP (setsockopt: ENOPROTOOPT; measured)
        raise oserror(_errno.EOPNOTSUPP)
    else:
        raise oserror(_errno.ENOPROTOOPT)
    if buflen:
        return struct.pack("i", value)[:buflen]
    return value

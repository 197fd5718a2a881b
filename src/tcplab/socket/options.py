"""Socket options, ioctls and send flags of tcplab sockets, with Linux's values and errnos.

One function per direction (``setsockopt``, ``getsockopt``, ``ioctl``) dispatching on
``(level, optname)``. To add an option: a branch in each, state in :class:`SocketOptions` (what
an accepted socket inherits from its listener), and -- when the option is TCP behaviour rather
than a stored value -- the hook into the engine (``Connection``) it drives. The tests in
tests/socket compare each with the kernel's socket in the same situation.
"""

from __future__ import annotations

import dataclasses
import errno as _errno
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tcplab.socket.constants import (
    IPPROTO_TCP,
    SO_ERROR,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_RCVBUF,
    SO_REUSEADDR,
    SO_SNDBUF,
    SO_TYPE,
    SOL_SOCKET,
    TCP_KEEPCNT,
    TCP_KEEPIDLE,
    TCP_KEEPINTVL,
    TCP_MAXSEG,
    TCP_NODELAY,
    TCP_USER_TIMEOUT,
)
from tcplab.socket.errors import oserror
from tcplab.tcp.states import State

if TYPE_CHECKING:
    from tcplab.tcp.connection import Connection

SocketCore = Any  # tcplab.socket.core.SocketCore (which imports this module)

# Linux: SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF (2 * (2048 + sizeof(struct sk_buff)) ~ 4608 / 2304)
MIN_SNDBUF = 4608
MIN_RCVBUF = 2304
TCP_MIN_MSS = 88  # Linux TCP_MIN_MSS
TCP_MAX_WINDOW = 65535
TCP_MSS_DEFAULT = 536  # Linux: getsockopt(TCP_MAXSEG) before a connection exists


@dataclass
class SocketOptions:
    """What setsockopt() stored on one socket (an accepted socket starts with its listener's)."""

    reuseaddr: bool = False
    linger: tuple[int, int] = (0, 0)  # SO_LINGER (l_onoff, l_linger)
    config: dict[str, Any] = field(default_factory=dict)  # engine Config fields set by options
    user_mss: int | None = None  # TCP_MAXSEG
    sndbuf: int | None = None  # what SO_SNDBUF reports once set
    rcvbuf: int | None = None
    rcvlowat: int = 1  # SO_RCVLOWAT

    def inherit(self) -> SocketOptions:
        """The options of a socket accept() makes (Linux clones the listener)."""
        return dataclasses.replace(self, config=dict(self.config))


def as_int(value: Any) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) < 4:
            raise oserror(_errno.EINVAL)
        return int(struct.unpack_from("i", value)[0])
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int):
        raise TypeError(f"a bytes-like object or an integer is required, not '{type(value).__name__}'")
    return value


def as_linger(value: Any) -> tuple[int, int]:
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) < 8:
            raise oserror(_errno.EINVAL)
        onoff, linger = struct.unpack_from("ii", value)
    elif isinstance(value, tuple) and len(value) == 2:
        onoff, linger = int(value[0]), int(value[1])
    else:
        raise TypeError("SO_LINGER takes struct.pack('ii', onoff, linger) or (onoff, linger)")
    return (1 if onoff else 0), max(linger, 0)


def linger_seconds(linger: int) -> float:
    return float(linger)


# ---- the hooks the core calls -----------------------------------------------------------------
def notsent_ok(core: SocketCore, conn: Connection, *, wake: bool) -> bool:
    """TCP_NOTSENT_LOWAT: whether the unsent bytes allow writing (always, without the option)."""
    return True


def queue(core: SocketCore, conn: Connection, data: bytes, flags: int, now: float) -> int:
    """Hand ``data`` to the engine with what the send flags ask for; the bytes queued."""
    return conn.send(data, now)


def apply_to_connection(core: SocketCore, conn: Connection) -> None:
    """Options that live in the engine's connection, for a connection just made or accepted."""


def ioctl(core: SocketCore, request: int) -> int:
    raise oserror(_errno.ENOTTY)


# ---- setsockopt / getsockopt ------------------------------------------------------------------
def setsockopt(core: SocketCore, level: int, optname: int, value: Any, optlen: int | None = None) -> None:
    opts = core.options
    if level == SOL_SOCKET:
        if optname == SO_REUSEADDR:
            core.reuseaddr = bool(as_int(value))
        elif optname == SO_KEEPALIVE:
            core.set_config(keepalive=bool(as_int(value)))
        elif optname == SO_LINGER:
            opts.linger = as_linger(value)
        elif optname == SO_RCVBUF:
            v = max(as_int(value), 0)
            opts.rcvbuf = max(2 * v, MIN_RCVBUF)  # Linux doubles it for overhead
            core.set_config(rcv_buf=max(v, MIN_RCVBUF // 2))
        elif optname == SO_SNDBUF:
            v = max(as_int(value), 0)
            opts.sndbuf = max(2 * v, MIN_SNDBUF)
            core.set_config(snd_buf=max(v, MIN_SNDBUF // 2))
        else:
            raise oserror(_errno.ENOPROTOOPT)
    elif level == IPPROTO_TCP:
        if optname == TCP_NODELAY:
            core.set_config(nodelay=bool(as_int(value)))
            core.after_call()  # Linux pushes what Nagle was holding back
        elif optname == TCP_MAXSEG:
            v = as_int(value)
            if v and (v < TCP_MIN_MSS or v > TCP_MAX_WINDOW):
                raise oserror(_errno.EINVAL)
            opts.user_mss = v or None
            if core.listener is not None:
                core.listener.user_mss = opts.user_mss
        elif optname == TCP_KEEPIDLE:
            v = as_int(value)
            if not 1 <= v <= 32767:  # Linux MAX_TCP_KEEPIDLE
                raise oserror(_errno.EINVAL)
            core.set_config(keepalive_idle=float(v))
        elif optname == TCP_KEEPINTVL:
            v = as_int(value)
            if not 1 <= v <= 32767:
                raise oserror(_errno.EINVAL)
            core.set_config(keepalive_interval=float(v))
        elif optname == TCP_KEEPCNT:
            v = as_int(value)
            if not 1 <= v <= 127:  # Linux MAX_TCP_KEEPCNT
                raise oserror(_errno.EINVAL)
            core.set_config(keepalive_count=v)
        elif optname == TCP_USER_TIMEOUT:
            v = as_int(value)
            if v < 0:
                raise oserror(_errno.EINVAL)
            core.set_config(user_timeout=(v / 1000.0) if v else None)  # milliseconds
        else:
            raise oserror(_errno.ENOPROTOOPT)
    else:
        raise oserror(_errno.ENOPROTOOPT)


def getsockopt(core: SocketCore, level: int, optname: int, buflen: int | None = None) -> Any:
    opts = core.options
    conn = core.connection
    live = conn.config if conn is not None and conn.state is not State.CLOSED else None
    cfg = live or core.host.config.copy(**opts.config)
    value: int
    if level == SOL_SOCKET:
        if optname == SO_ERROR:
            value = core.take_error()
        elif optname == SO_REUSEADDR:
            value = int(core.reuseaddr)
        elif optname == SO_KEEPALIVE:
            value = int(bool(cfg.keepalive))
        elif optname == SO_TYPE:
            value = core.type
        elif optname == SO_LINGER:
            if buflen is not None:
                return struct.pack("ii", *opts.linger)[:buflen]
            value = opts.linger[0]
        elif optname == SO_RCVBUF:
            value = opts.rcvbuf if opts.rcvbuf is not None else cfg.rcv_buf
        elif optname == SO_SNDBUF:
            value = opts.sndbuf if opts.sndbuf is not None else cfg.snd_buf
        else:
            raise oserror(_errno.ENOPROTOOPT)
    elif level == IPPROTO_TCP:
        if optname == TCP_NODELAY:
            value = int(bool(cfg.nodelay))
        elif optname == TCP_MAXSEG:
            if conn is not None and conn.state.synchronized:
                value = int(conn.tcp_info().get("snd_mss", TCP_MSS_DEFAULT))
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
        else:
            raise oserror(_errno.ENOPROTOOPT)
    else:
        raise oserror(_errno.ENOPROTOOPT)
    if buflen is not None:
        return struct.pack("i", value)[:buflen]
    return value

"""The module-level functions of Python's ``socket`` module, for tcplab hosts:

    from tcplab import socket as tsocket
    tsocket.set_default_host(host)                      # or host=... on each call
    srv = tsocket.create_server(("", 8080))             # a listening tcplab Socket
    conn = tsocket.create_connection(("198.18.0.1", 80), timeout=5)
    for af, kind, proto, _, addr in tsocket.getaddrinfo("198.18.0.1", 80): ...

``getaddrinfo`` takes literal addresses only (tcplab does no name resolution; the kernel's
``socket.getaddrinfo`` does DNS). The arguments and errors are those of Python's functions.
"""

from __future__ import annotations

import errno as _errno
import ipaddress
import socket as _socket
from typing import Any

from tcplab.host.host import Host
from tcplab.socket.blocking import Socket
from tcplab.socket.constants import (
    AF_INET,
    AF_INET6,
    AF_UNSPEC,
    IPPROTO_IPV6,
    IPPROTO_TCP,
    IPV6_V6ONLY,
    SO_REUSEADDR,
    SO_REUSEPORT,
    SOCK_CLOEXEC,
    SOCK_NONBLOCK,
    SOCK_STREAM,
    SOL_SOCKET,
)
from tcplab.socket.errors import oserror

__all__ = [
    "create_connection",
    "create_server",
    "default_host",
    "getaddrinfo",
    "has_dualstack_ipv6",
    "set_default_host",
    "socket",
]

_DEFAULT: list[Host] = []
_NO_TIMEOUT: Any = _socket._GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]


def set_default_host(host: Host | None) -> None:
    """The host the module-level functions use when not given ``host=``."""
    _DEFAULT[:] = [host] if host is not None else []


def default_host(host: Host | None = None) -> Host:
    if host is not None:
        return host
    if not _DEFAULT:
        raise RuntimeError("no tcplab host: pass host=... or call tcplab.socket.set_default_host(host)")
    return _DEFAULT[0]


def socket(
    family: int = AF_INET,
    type: int = SOCK_STREAM,
    proto: int = 0,
    fileno: int | None = None,
    *,
    host: Host | None = None,
) -> Socket:
    """``socket.socket(family, type)`` on a tcplab host (SOCK_NONBLOCK makes it non-blocking)."""
    if fileno is not None:
        raise oserror(_errno.EOPNOTSUPP, "tcplab sockets are not made from file descriptors")
    if proto not in (0, -1, IPPROTO_TCP):
        raise oserror(_errno.EPROTONOSUPPORT)
    sock = Socket(default_host(host), family, type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
    if type & SOCK_NONBLOCK:
        sock.setblocking(False)
    return sock


def has_dualstack_ipv6() -> bool:
    return True  # AF_INET6 sockets take IPv4 too unless IPV6_V6ONLY (Config.bindv6only)


def getaddrinfo(
    host: str | bytes | None, port: int | str | None, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
) -> list[tuple[int, int, int, str, tuple]]:
    """``socket.getaddrinfo`` for literal addresses: one TCP entry (tcplab speaks nothing else)."""
    if isinstance(host, bytes):
        host = host.decode("idna")
    if isinstance(port, str):
        if not port.isdigit():
            raise _socket.gaierror(_socket.EAI_SERVICE, "Servname not supported for ai_socktype")
        port = int(port)
    port = port or 0
    if type not in (0, SOCK_STREAM) or proto not in (0, IPPROTO_TCP):
        raise _socket.gaierror(_socket.EAI_SOCKTYPE, "ai_socktype not supported")
    if host is None:
        passive = bool(flags & _socket.AI_PASSIVE)
        names = [("0.0.0.0", AF_INET), ("::", AF_INET6)] if passive else [("127.0.0.1", AF_INET), ("::1", AF_INET6)]
        candidates = [(ip, af) for ip, af in names if family in (0, AF_UNSPEC, af)]
    else:
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            raise _socket.gaierror(
                _socket.EAI_NONAME, f"{host!r}: tcplab takes literal addresses only (no name resolution)"
            ) from None
        af = AF_INET6 if ip.version == 6 else AF_INET
        if family not in (0, AF_UNSPEC, af):
            raise _socket.gaierror(_socket.EAI_ADDRFAMILY, "Address family for hostname not supported")
        candidates = [(str(ip), af)]
    return [
        (af, SOCK_STREAM, IPPROTO_TCP, "", (ip, port) if af == AF_INET else (ip, port, 0, 0)) for ip, af in candidates
    ]


def create_connection(
    address: tuple[str, int],
    timeout: Any = _NO_TIMEOUT,
    source_address: tuple[str, int] | None = None,
    *,
    all_errors: bool = False,
    host: Host | None = None,
) -> Socket:
    """``socket.create_connection`` on a tcplab host: each address of ``address`` in turn."""
    target, port = address
    errors: list[OSError] = []
    for af, kind, _proto, _name, sockaddr in getaddrinfo(target, port, 0, SOCK_STREAM):
        sock = socket(af, kind, host=host)
        try:
            if timeout is not _NO_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            errors.append(exc)
            sock.close()
    if all_errors and len(errors) > 1:
        raise ExceptionGroup("create_connection failed", errors)
    raise errors[0] if errors else OSError("getaddrinfo returns an empty list")


def create_server(
    address: tuple[str, int],
    *,
    family: int = AF_INET,
    backlog: int | None = None,
    reuse_port: bool = False,
    dualstack_ipv6: bool = False,
    host: Host | None = None,
) -> Socket:
    """``socket.create_server`` on a tcplab host (SO_REUSEADDR set, as Python does on POSIX)."""
    if dualstack_ipv6 and family != AF_INET6:
        raise ValueError("dualstack_ipv6 requires AF_INET6 family")
    sock = socket(family, SOCK_STREAM, host=host)
    try:
        sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        if family == AF_INET6:  # Python: IPv6 only unless dualstack_ipv6
            sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, int(not dualstack_ipv6))
        if reuse_port:
            sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"{exc.strerror} (while attempting to bind on address {address!r})") from None
    return sock

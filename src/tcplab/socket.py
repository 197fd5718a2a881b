"""BSD-style sockets on a tcplab host, modelled on Python's ``socket`` module.

    from tcplab.socket import SO_REUSEADDR, SOL_SOCKET, Socket
    srv = Socket(host)                        # TCP only; Socket(host, AF_INET6) for IPv6
    srv.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    srv.bind(("198.18.0.2", 9527)); srv.listen(16)
    conn, peer = srv.accept()

The constants have the values of Python's ``socket`` module (Linux's). Errors are ``OSError``
with the errno Linux gives in the same situation (so ``ConnectionRefusedError``,
``BrokenPipeError``, ``BlockingIOError`` ... as with real sockets); a timeout raises
``TimeoutError("timed out")`` as Python does.

Blocking calls wait through ``host.runtime`` (see ``tcplab.host.runtime``): on the simulated
network they run the simulation (virtual time), on TUN the real I/O loop. There is no
``fileno()``; readiness is ``sock.readable()`` / ``sock.writable()`` and
``tcplab.socket.wait(readers, writers, timeout)`` (a ``select()`` for tcplab sockets).
"""

from __future__ import annotations

import errno as _errno
import ipaddress
import os
import socket as _socket
import struct
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from tcplab.host.host import SOMAXCONN as _HOST_SOMAXCONN
from tcplab.host.host import Binding, Endpoint, Host, Listener
from tcplab.tcp.config import Config
from tcplab.tcp.connection import Connection
from tcplab.tcp.states import State

# ---- constants (the values of Python's socket module on Linux) --------------------------------
AF_INET = _socket.AF_INET
AF_INET6 = _socket.AF_INET6
SOCK_STREAM = _socket.SOCK_STREAM
IPPROTO_TCP = _socket.IPPROTO_TCP
SOL_SOCKET = _socket.SOL_SOCKET
SOL_TCP = IPPROTO_TCP
SHUT_RD = _socket.SHUT_RD
SHUT_WR = _socket.SHUT_WR
SHUT_RDWR = _socket.SHUT_RDWR
SOMAXCONN = _socket.SOMAXCONN
SO_REUSEADDR = _socket.SO_REUSEADDR  # 2
SO_TYPE = _socket.SO_TYPE  # 3
SO_ERROR = _socket.SO_ERROR  # 4
SO_SNDBUF = _socket.SO_SNDBUF  # 7
SO_RCVBUF = _socket.SO_RCVBUF  # 8
SO_KEEPALIVE = _socket.SO_KEEPALIVE  # 9
SO_LINGER = _socket.SO_LINGER  # 13
TCP_NODELAY = _socket.TCP_NODELAY  # 1
TCP_MAXSEG = _socket.TCP_MAXSEG  # 2
TCP_KEEPIDLE = getattr(_socket, "TCP_KEEPIDLE", 4)
TCP_KEEPINTVL = getattr(_socket, "TCP_KEEPINTVL", 5)
TCP_KEEPCNT = getattr(_socket, "TCP_KEEPCNT", 6)
TCP_INFO = getattr(_socket, "TCP_INFO", 11)
TCP_USER_TIMEOUT = getattr(_socket, "TCP_USER_TIMEOUT", 18)

# Linux: SOCK_MIN_SNDBUF / SOCK_MIN_RCVBUF (2 * (2048 + sizeof(struct sk_buff)) ~ 4608 / 2304)
_MIN_SNDBUF = 4608
_MIN_RCVBUF = 2304
_TCP_MIN_MSS = 88  # Linux TCP_MIN_MSS
_TCP_MAX_WINDOW = 65535
_TCP_MSS_DEFAULT = 536  # Linux: getsockopt(TCP_MAXSEG) before a connection exists

__all__ = [
    "AF_INET",
    "AF_INET6",
    "IPPROTO_TCP",
    "SHUT_RD",
    "SHUT_RDWR",
    "SHUT_WR",
    "SOCK_STREAM",
    "SOL_SOCKET",
    "SOL_TCP",
    "SOMAXCONN",
    "SO_ERROR",
    "SO_KEEPALIVE",
    "SO_LINGER",
    "SO_RCVBUF",
    "SO_REUSEADDR",
    "SO_SNDBUF",
    "SO_TYPE",
    "TCP_INFO",
    "TCP_KEEPCNT",
    "TCP_KEEPIDLE",
    "TCP_KEEPINTVL",
    "TCP_MAXSEG",
    "TCP_NODELAY",
    "TCP_USER_TIMEOUT",
    "Socket",
    "open_sockets",
    "wait",
]

_CONNECTING = (State.SYN_SENT, State.SYN_RCVD)
_CAN_SEND = (State.ESTABLISHED, State.CLOSE_WAIT)
_DRAINING = (State.FIN_WAIT_1, State.CLOSING, State.LAST_ACK)


def _oserror(code: int) -> OSError:
    return OSError(code, os.strerror(code))  # picks the subclass: ConnectionResetError, ...


def _timeout() -> TimeoutError:
    return TimeoutError("timed out")


# The sockets applications hold open on each host, oldest first (like a process's descriptors):
# what a debugger of the host, such as ``tcplab lab``, can act on. A socket leaves at close().
_OPEN: weakref.WeakKeyDictionary[Host, list[Socket]] = weakref.WeakKeyDictionary()


def open_sockets(host: Host) -> list[Socket]:
    """The sockets open on ``host``, oldest first (listening ones included)."""
    return list(_OPEN.get(host, ()))


class Socket:
    """A TCP socket on a tcplab host: ``Socket(host)``, ``Socket(host, AF_INET6)``."""

    def __init__(self, host: Host, family: int = AF_INET, type: int = SOCK_STREAM) -> None:
        if family not in (AF_INET, AF_INET6):
            raise _oserror(_errno.EAFNOSUPPORT)
        if type != SOCK_STREAM:
            raise OSError(_errno.EPROTONOSUPPORT, "tcplab sockets are TCP only (SOCK_STREAM)")
        self.host = host
        self.family = family
        self.type = type
        self.proto = IPPROTO_TCP
        self._timeout: float | None = _socket.getdefaulttimeout()
        self._ep: Endpoint | None = None  # host Endpoint once connected / accepted
        self._listener: Listener | None = None
        self._binding: Binding | None = None  # the local address bind() (or connect/listen) chose
        self._explicit_bind = False
        self._reuseaddr = False
        self._linger: tuple[int, int] = (0, 0)
        self._cfg: dict[str, Any] = {}  # Config fields set by options
        self._user_mss: int | None = None
        self._sndbuf_opt: int | None = None
        self._rcvbuf_opt: int | None = None
        self._closed = False
        self._connecting = False  # a connect() that has not been reported yet (EALREADY)
        self._err_reported = False
        self._shut_rd = False
        self._shut_wr = False
        _OPEN.setdefault(host, []).append(self)

    # ---- housekeeping --------------------------------------------------------------------------
    def __repr__(self) -> str:
        if self._closed:
            return "<tcplab.socket.Socket [closed]>"
        state = "LISTEN" if self._listener else (self._ep.conn.state if self._ep else "unconnected")
        return f"<tcplab.socket.Socket host={self.host.name} {state} laddr={self._laddr()}>"

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise _oserror(_errno.EBADF)

    @property
    def connection(self) -> Connection | None:
        """The engine's connection behind this socket (None before connect/accept)."""
        return self._ep.conn if self._ep is not None else None

    @property
    def endpoint(self) -> Endpoint | None:
        """The host's record of this socket's connection (None before connect/accept)."""
        return self._ep

    @property
    def listener(self) -> Listener | None:
        """The host's listener behind a listening socket (None otherwise)."""
        return self._listener

    @property
    def reuseaddr(self) -> bool:
        """SO_REUSEADDR."""
        return self._reuseaddr

    @reuseaddr.setter
    def reuseaddr(self, value: bool) -> None:
        self._reuseaddr = value
        if self._binding is not None:
            self._binding.reuseaddr = value

    def _now(self) -> float:
        return self.host.time()

    def _after(self) -> None:
        """After a user call on the connection: log, transmit, re-arm timers, let packets go."""
        if self._ep is not None:
            self.host.service(self._ep, self._now())
        self.host.kick()

    def _wait(self, predicate: Callable[[], bool], timeout: float | str | None = "default") -> None:
        if predicate():
            return
        t = self._timeout if isinstance(timeout, str) else timeout  # "default": the socket's
        if t == 0.0:
            raise _oserror(_errno.EAGAIN)
        runtime = self.host.runtime
        if runtime is None:
            raise RuntimeError(
                f"host {self.host.name!r} has no runtime: add it to a simulated "
                "network (tcplab.host.SimRuntime) or a TUN link first"
            )
        if not runtime.wait_until(predicate, t):
            raise _timeout()

    def _pending_error(self) -> int:
        conn = self.connection
        if conn is None or self._err_reported:
            return 0
        return int(getattr(conn, "error", 0) or 0)

    def _take_error(self) -> int:
        err = self._pending_error()
        if err:
            self._err_reported = True
        return err

    # ---- timeouts ------------------------------------------------------------------------------
    def settimeout(self, value: float | None) -> None:
        if value is not None:
            value = float(value)
            if value < 0 or value != value:
                raise ValueError("Timeout value out of range")
        self._timeout = value

    def gettimeout(self) -> float | None:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    # ---- addresses -----------------------------------------------------------------------------
    def _parse_address(self, address: Any, *, for_bind: bool) -> tuple[str, int]:
        if not isinstance(address, tuple) or len(address) < 2:
            want = "(host, port)" if self.family == AF_INET else "(host, port, flowinfo, scope)"
            raise TypeError(
                f"{'AF_INET' if self.family == AF_INET else 'AF_INET6'} address must "
                f"be a tuple {want}, not {type(address).__name__}"
            )
        host, port = address[0], address[1]
        if not isinstance(port, int):
            raise TypeError(f"'{type(port).__name__}' object cannot be interpreted as an integer")
        if not 0 <= port <= 65535:
            raise OverflowError(f"{'bind' if for_bind else 'connect'}(): port must be 0-65535.")
        if host in ("", None):
            if not for_bind:
                # Linux connects to the loopback for INADDR_ANY; tcplab has no loopback.
                raise _oserror(_errno.ENETUNREACH)
            host = "0.0.0.0" if self.family == AF_INET else "::"
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise _socket.gaierror(
                _socket.EAI_NONAME, f"{host!r} is not an IP address (tcplab does no name resolution)"
            ) from None
        if (ip.version == 4) != (self.family == AF_INET):
            raise _socket.gaierror(_socket.EAI_ADDRFAMILY, "Address family for hostname not supported")
        return str(ip), port

    def _sockaddr(self, ip: str, port: int) -> tuple:
        return (ip, port) if self.family == AF_INET else (ip, port, 0, 0)

    def _laddr(self) -> tuple:
        if self._listener is not None:
            return self._sockaddr(self._listener.local_ip, self._listener.port)
        if self._ep is not None:
            return self._sockaddr(*self._ep.conn.local)
        if self._binding is not None:
            return self._sockaddr(self._binding.ip, self._binding.port)
        return self._sockaddr("0.0.0.0" if self.family == AF_INET else "::", 0)

    def getsockname(self) -> tuple:
        self._check_open()
        return self._laddr()

    def getpeername(self) -> tuple:
        self._check_open()
        conn = self.connection
        if conn is None or conn.remote is None or conn.state in (State.CLOSED, State.SYN_SENT):
            raise _oserror(_errno.ENOTCONN)
        return self._sockaddr(*conn.remote)

    # ---- bind / listen / accept ----------------------------------------------------------------
    def bind(self, address: Any) -> None:
        self._check_open()
        ip, port = self._parse_address(address, for_bind=True)
        if self._binding is not None or self._ep is not None or self._listener is not None:
            raise _oserror(_errno.EINVAL)  # Linux: already bound
        host = self.host
        if not ipaddress.ip_address(ip).is_unspecified and not host.owns(ip):
            raise _oserror(_errno.EADDRNOTAVAIL)
        if port == 0:
            picked = host.pick_bind_port()
            if picked is None:
                raise _oserror(_errno.EADDRINUSE)
            port = picked
        elif host.bind_conflict(ip, port, self.reuseaddr):
            raise _oserror(_errno.EADDRINUSE)
        self._binding = Binding(ip, port, self.reuseaddr)
        self._explicit_bind = True
        host.bound.add(self._binding)

    def listen(self, backlog: int | None = None) -> None:
        self._check_open()
        if backlog is None:
            backlog = min(SOMAXCONN, 128)  # Python's default
        backlog = max(int(backlog), 0)
        if self._listener is not None:
            self._listener.backlog = min(backlog, _HOST_SOMAXCONN)  # Linux: just updates
            return
        if self._ep is not None:
            raise _oserror(_errno.EINVAL)  # Linux: listen() on a connected socket
        host = self.host
        if self._binding is None:
            self.bind(("", 0))
            self._explicit_bind = False
        assert self._binding is not None
        ip, port = self._binding.ip, self._binding.port
        # Linux re-checks at listen() (inet_csk_get_port): two SO_REUSEADDR sockets may share a
        # bound port, but only one of them may listen on it.
        if host.listener_conflict(ip, port):
            raise _oserror(_errno.EADDRINUSE)
        config = host.conn_config(ip, host.config.copy(**self._cfg), self._user_mss)
        self._listener = host.open_listener(ip, port, backlog, config, self._now())
        self._listener.user_mss = self._user_mss
        host.bound.discard(self._binding)

    def accept(self) -> tuple[Socket, tuple]:
        self._check_open()
        listener = self._listener
        if listener is None:
            raise _oserror(_errno.EINVAL)
        self._wait(lambda: bool(listener.accept_queue) or listener.closed)
        ep = self.host.accept(listener)
        if ep is None:
            raise _oserror(_errno.EINVAL)
        sock = Socket(self.host, self.family, self.type)
        sock._ep = ep
        # Linux: an accepted socket inherits the listener's options (it is a clone of it).
        sock.reuseaddr = self.reuseaddr
        sock._cfg = dict(self._cfg)
        sock._user_mss = self._user_mss
        sock._linger = self._linger
        sock._sndbuf_opt, sock._rcvbuf_opt = self._sndbuf_opt, self._rcvbuf_opt
        sock._timeout = None if _socket.getdefaulttimeout() is None else _socket.getdefaulttimeout()
        remote = ep.conn.remote
        assert remote is not None  # an accepted connection knows its peer
        return sock, sock._sockaddr(*remote)

    # ---- connect -------------------------------------------------------------------------------
    def connect(self, address: Any) -> None:
        self._check_open()
        if self._listener is not None:
            raise _oserror(_errno.EISCONN)
        if self._ep is not None:
            self._connect_again()
            return
        ip, port = self._parse_address(address, for_bind=False)
        host = self.host
        if ipaddress.ip_address(ip).is_unspecified:
            raise _oserror(_errno.ENETUNREACH)
        local_ip = self._binding.ip if self._binding is not None else None
        if local_ip is None or ipaddress.ip_address(local_ip).is_unspecified:
            local_ip = host.default_address(self.family == AF_INET6)
            if local_ip is None:
                raise _oserror(_errno.ENETUNREACH)
        local_port = self._binding.port if self._binding is not None else 0
        if not local_port:
            picked = host.pick_connect_port(local_ip, (ip, port))
            if picked is None:
                raise _oserror(_errno.EADDRNOTAVAIL)  # Linux: ephemeral ports exhausted
            local_port = picked
        elif (local_ip, local_port, ip, port) in host.conns:
            raise _oserror(_errno.EADDRNOTAVAIL)  # that 4-tuple is taken (Linux: EADDRNOTAVAIL)
        now = self._now()
        config = host.conn_config(local_ip, host.config.copy(**self._cfg), self._user_mss)
        ep = host.new_connection(config, (local_ip, local_port), (ip, port))
        if self._binding is not None:
            host.bound.discard(self._binding)
        host.register(ep)
        self._ep = ep
        self._err_reported = False
        self._shut_rd = self._shut_wr = False
        ep.conn.connect(now)
        host.counters["active_opens"] += 1
        self._connecting = True
        self._after()
        if self._timeout == 0.0:
            raise _oserror(_errno.EINPROGRESS)
        self._finish_connect()

    def _connect_again(self) -> None:
        conn = self.connection
        assert conn is not None  # called with an endpoint
        if not self._connecting:
            raise _oserror(_errno.EISCONN)
        if conn.state in _CONNECTING and self._timeout is not None:
            # Python runs sockets with a timeout non-blocking underneath: EALREADY at once.
            # A blocking socket waits for the handshake, as Linux's connect() does.
            raise _oserror(_errno.EALREADY)
        self._finish_connect()

    def _finish_connect(self) -> None:
        conn = self.connection
        assert conn is not None  # called after connect() made the endpoint
        try:
            self._wait(lambda: conn.state not in _CONNECTING)
        except TimeoutError:
            raise  # still connecting: a later connect() gives EALREADY (non-blocking) or waits
        self._connecting = False
        if conn.state is State.CLOSED:
            err = self._take_error() or _errno.ECONNABORTED
            self._disconnect()
            raise _oserror(err)

    def _disconnect(self) -> None:
        """Linux tcp_disconnect after a failed connect: the socket may connect again."""
        self._ep = None
        if self._explicit_bind and self._binding is not None:
            self.host.bound.add(self._binding)
        else:
            self._binding = None

    def connect_ex(self, address: Any) -> int:
        try:
            self.connect(address)
        except TimeoutError as exc:
            return exc.errno or _errno.EAGAIN  # CPython returns EWOULDBLOCK on a timeout
        except OSError as exc:
            if exc.errno is None:
                raise
            return exc.errno
        return 0

    # ---- data ----------------------------------------------------------------------------------
    def _wait_connected(self) -> None:
        conn = self.connection
        if conn is not None and conn.state in _CONNECTING:
            self._wait(lambda: conn.state not in _CONNECTING)
            if self._connecting:
                self._connecting = False

    def send(self, data: Any, flags: int = 0) -> int:
        return self._send(data, flags, "default")

    def _send(self, data: Any, flags: int, timeout: float | str | None) -> int:
        self._check_open()
        if flags:
            raise _oserror(_errno.EOPNOTSUPP)
        conn = self.connection
        if conn is None:
            raise _oserror(_errno.EPIPE)  # Linux: send() on a socket that never connected
        err = self._take_error()
        if err:
            raise _oserror(err)
        if self._shut_wr:
            raise _oserror(_errno.EPIPE)
        self._wait_connected()
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else data

        def ready() -> bool:
            return conn.state not in _CAN_SEND or conn.send_free > 0 or self._pending_error() != 0

        self._wait(ready, timeout)
        err = self._take_error()
        if err:
            raise _oserror(err)
        if conn.state not in _CAN_SEND:
            raise _oserror(_errno.EPIPE)
        if not len(view):
            return 0
        n = conn.send(bytes(view[: conn.send_free]), self._now())
        self._after()
        return n

    def sendall(self, data: Any, flags: int = 0) -> None:
        view = memoryview(data).cast("B")
        total = len(view)
        sent = 0
        # As CPython since 3.5: the timeout bounds the whole sendall(), not each send().
        deadline = None if not self._timeout else self._now() + self._timeout
        while True:
            remaining: float | str | None = "default"
            if deadline is not None:
                remaining = max(deadline - self._now(), 1e-9)  # > 0: a timeout, not EAGAIN
            sent += self._send(view[sent:], flags, remaining)
            if sent >= total:
                return

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._check_open()
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        if flags:
            raise _oserror(_errno.EOPNOTSUPP)
        conn = self.connection
        if conn is None:
            raise _oserror(_errno.ENOTCONN)
        if conn.state in _CONNECTING:
            if self._timeout == 0.0:
                raise _oserror(_errno.EAGAIN)
            self._wait_connected()
        if bufsize == 0:
            return b""

        self._wait(lambda: self._recv_ready(conn))
        if conn.recv_buffered > 0:
            data = conn.receive(bufsize, now=self._now())
            self._after()  # a window update may be due
            return data
        err = self._take_error()
        if err:
            raise _oserror(err)
        return b""  # EOF: the peer's FIN, our SHUT_RD, or a connection already gone

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        view = memoryview(buffer).cast("B")
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        if nbytes == 0 or nbytes > len(view):
            nbytes = len(view)
        data = self.recv(nbytes, flags)
        view[: len(data)] = data
        return len(data)

    # ---- shutdown / close ----------------------------------------------------------------------
    def shutdown(self, how: int) -> None:
        self._check_open()
        if how not in (SHUT_RD, SHUT_WR, SHUT_RDWR):
            raise _oserror(_errno.EINVAL)
        if self._listener is not None:
            if how in (SHUT_RD, SHUT_RDWR):  # Linux: stops listening (tcp_disconnect)
                self.host.close_listener(self._listener, self._now())
                self._listener = None
            return
        conn = self.connection
        if conn is None or conn.state is State.CLOSED:
            raise _oserror(_errno.ENOTCONN)
        now = self._now()
        if conn.state is State.SYN_SENT:
            conn.abort(now)  # Linux: shutdown() of a connecting socket disconnects it
            self._after()
            self._connecting = False
            return
        if how in (SHUT_WR, SHUT_RDWR) and not self._shut_wr:
            self._shut_wr = True
            if conn.state in (State.ESTABLISHED, State.CLOSE_WAIT, State.SYN_RCVD):
                conn.shutdown(now)
        if how in (SHUT_RD, SHUT_RDWR):
            self._shut_rd = True  # Linux sends nothing for SHUT_RD
        self._after()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        host = self.host
        held = _OPEN.get(host)
        if held is not None and self in held:
            held.remove(self)
        if self._binding is not None:
            host.bound.discard(self._binding)
        if self._listener is not None:
            host.close_listener(self._listener, self._now())
            self._listener = None
            host.kick()
            return
        ep = self._ep
        if ep is None:
            return
        ep.wakers.clear()
        if ep.finished:
            return
        conn = ep.conn
        now = self._now()
        onoff, linger = self._linger
        if onoff and linger == 0:
            # SO_LINGER {1, 0}: close() aborts -- a RST, no FIN, no TIME_WAIT (Linux tcp_close).
            if conn.state is not State.CLOSED:
                conn.abort(now)
        else:
            conn.close(now)
        host.service(ep, now)
        host.kick()
        if onoff and linger > 0 and self._timeout != 0.0 and host.runtime is not None:
            # SO_LINGER {1, n}: close() blocks until the FIN is acknowledged or n seconds pass.
            host.runtime.wait_until(lambda: ep.finished or conn.state not in _DRAINING, linger)

    def detach(self) -> None:
        raise OSError(_errno.EOPNOTSUPP, "tcplab sockets have no file descriptor")

    # ---- options -------------------------------------------------------------------------------
    def _live_config(self) -> Config | None:
        conn = self.connection
        return conn.config if conn is not None and conn.state is not State.CLOSED else None

    def _set_cfg(self, **fields: Any) -> None:
        self._cfg.update(fields)
        conn = self.connection
        if conn is not None and conn.state is not State.CLOSED:
            live = conn.config
            for k, v in fields.items():
                setattr(live, k, v)
            if any(k.startswith("keepalive") for k in fields):
                # (re)arm the keepalive timer with the new settings, as Linux does
                conn.set_keepalive(bool(live.keepalive), self._now())
                self._after()
        if self._listener is not None:  # children are cloned from the listener's config
            for k, v in fields.items():
                setattr(self._listener.config, k, v)

    def setsockopt(self, level: int, optname: int, value: Any, optlen: int | None = None) -> None:
        self._check_open()
        if level == SOL_SOCKET:
            if optname == SO_REUSEADDR:
                self.reuseaddr = bool(_int(value))
            elif optname == SO_KEEPALIVE:
                self._set_cfg(keepalive=bool(_int(value)))
            elif optname == SO_LINGER:
                self._linger = _linger(value)
            elif optname == SO_RCVBUF:
                v = max(_int(value), 0)
                self._rcvbuf_opt = max(2 * v, _MIN_RCVBUF)  # Linux doubles it for overhead
                self._set_cfg(rcv_buf=max(v, _MIN_RCVBUF // 2))
            elif optname == SO_SNDBUF:
                v = max(_int(value), 0)
                self._sndbuf_opt = max(2 * v, _MIN_SNDBUF)
                self._set_cfg(snd_buf=max(v, _MIN_SNDBUF // 2))
            else:
                raise _oserror(_errno.ENOPROTOOPT)
        elif level == IPPROTO_TCP:
            if optname == TCP_NODELAY:
                self._set_cfg(nodelay=bool(_int(value)))
                self._after()  # Linux pushes what Nagle was holding back
            elif optname == TCP_MAXSEG:
                v = _int(value)
                if v and (v < _TCP_MIN_MSS or v > _TCP_MAX_WINDOW):
                    raise _oserror(_errno.EINVAL)
                self._user_mss = v or None
                if self._listener is not None:
                    self._listener.user_mss = self._user_mss
            elif optname == TCP_KEEPIDLE:
                v = _int(value)
                if not 1 <= v <= 32767:  # Linux MAX_TCP_KEEPIDLE
                    raise _oserror(_errno.EINVAL)
                self._set_cfg(keepalive_idle=float(v))
            elif optname == TCP_KEEPINTVL:
                v = _int(value)
                if not 1 <= v <= 32767:
                    raise _oserror(_errno.EINVAL)
                self._set_cfg(keepalive_interval=float(v))
            elif optname == TCP_KEEPCNT:
                v = _int(value)
                if not 1 <= v <= 127:  # Linux MAX_TCP_KEEPCNT
                    raise _oserror(_errno.EINVAL)
                self._set_cfg(keepalive_count=v)
            elif optname == TCP_USER_TIMEOUT:
                v = _int(value)
                if v < 0:
                    raise _oserror(_errno.EINVAL)
                self._set_cfg(user_timeout=(v / 1000.0) if v else None)  # milliseconds
            else:
                raise _oserror(_errno.ENOPROTOOPT)
        else:
            raise _oserror(_errno.ENOPROTOOPT)

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> Any:
        self._check_open()
        cfg = self._live_config() or self.host.config.copy(**self._cfg)
        value: int
        if level == SOL_SOCKET:
            if optname == SO_ERROR:
                value = self._take_error()
            elif optname == SO_REUSEADDR:
                value = int(self.reuseaddr)
            elif optname == SO_KEEPALIVE:
                value = int(bool(cfg.keepalive))
            elif optname == SO_TYPE:
                value = self.type
            elif optname == SO_LINGER:
                if buflen is not None:
                    return struct.pack("ii", *self._linger)[:buflen]
                value = self._linger[0]
            elif optname == SO_RCVBUF:
                value = self._rcvbuf_opt if self._rcvbuf_opt is not None else cfg.rcv_buf
            elif optname == SO_SNDBUF:
                value = self._sndbuf_opt if self._sndbuf_opt is not None else cfg.snd_buf
            else:
                raise _oserror(_errno.ENOPROTOOPT)
        elif level == IPPROTO_TCP:
            if optname == TCP_NODELAY:
                value = int(bool(cfg.nodelay))
            elif optname == TCP_MAXSEG:
                conn = self.connection
                if conn is not None and conn.state.synchronized:
                    value = int(conn.tcp_info().get("snd_mss", _TCP_MSS_DEFAULT))
                else:
                    value = self._user_mss or _TCP_MSS_DEFAULT
            elif optname == TCP_KEEPIDLE:
                value = int(cfg.keepalive_idle)
            elif optname == TCP_KEEPINTVL:
                value = int(cfg.keepalive_interval)
            elif optname == TCP_KEEPCNT:
                value = int(cfg.keepalive_count)
            elif optname == TCP_USER_TIMEOUT:
                value = round((cfg.user_timeout or 0) * 1000)
            else:
                raise _oserror(_errno.ENOPROTOOPT)
        else:
            raise _oserror(_errno.ENOPROTOOPT)
        if buflen is not None:
            return struct.pack("i", value)[:buflen]
        return value

    def tcp_info(self) -> dict[str, Any]:
        """A snapshot of the engine's ``tcp_info()`` (state, rto, snd_mss, rcv_mss, cwnd, ...)."""
        self._check_open()
        if self._listener is not None:
            info = dict(self._listener.conn.tcp_info())
        elif self.connection is not None:
            info = dict(self.connection.tcp_info())
        else:
            return {"state": "CLOSED"}
        state = info.get("state")
        if isinstance(state, State):
            info["state"] = state.value
        return info

    # ---- readiness -----------------------------------------------------------------------------
    def readable(self) -> bool:
        """True when recv()/accept() would not block."""
        if self._closed:
            return True
        if self._listener is not None:
            return bool(self._listener.accept_queue)
        conn = self.connection
        if conn is None:
            return True  # recv() fails at once (ENOTCONN)
        if conn.state in _CONNECTING:
            return False
        return self._recv_ready(conn)

    def _recv_ready(self, conn: Connection) -> bool:
        """recv() on this connected socket returns at once: data, EOF, or an error."""
        return (
            conn.recv_buffered > 0
            or conn.eof
            or conn.state is State.CLOSED
            or self._shut_rd
            or self._pending_error() != 0
        )

    def writable(self) -> bool:
        """True when send() would not block (or connect() has finished)."""
        if self._closed:
            return True
        if self._listener is not None:
            return False
        conn = self.connection
        if conn is None:
            return True
        if conn.state in _CONNECTING:
            return False
        if conn.state not in _CAN_SEND or self._shut_wr or self._pending_error():
            return True  # send() fails at once
        return conn.send_free > 0

    def add_waker(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever something happens to this socket's connection (data,
        state change, room to send) or, for a listener, when a connection is ready to accept."""
        if self._listener is not None:
            self._listener.wakers.append(callback)
        elif self._ep is not None:
            self._ep.wakers.append(callback)

    def remove_waker(self, callback: Callable[[], None]) -> None:
        for lst in (
            (self._listener.wakers if self._listener is not None else None),
            (self._ep.wakers if self._ep is not None else None),
        ):
            if lst is not None and callback in lst:
                lst.remove(callback)

    # ---- non-blocking primitives (the asyncio transport) ---------------------------------------
    def send_some(self, data: Any) -> int:
        """Queue as much of ``data`` as fits now; 0 when the send buffer is full."""
        conn = self.connection
        if conn is None:
            return 0
        free = conn.send_free
        if free <= 0 or conn.state not in _CAN_SEND:
            return 0
        chunk = data[:free]
        n = conn.send(bytes(chunk), self._now())
        self._after()
        return n

    def recv_some(self, limit: int) -> bytes:
        conn = self.connection
        if conn is None or conn.recv_buffered <= 0:
            return b""
        data = conn.receive(limit, now=self._now())
        self._after()
        return data


def _int(value: Any) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) < 4:
            raise _oserror(_errno.EINVAL)
        return struct.unpack_from("i", value)[0]
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int):
        raise TypeError(f"a bytes-like object or an integer is required, not '{type(value).__name__}'")
    return value


def _linger(value: Any) -> tuple[int, int]:
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) < 8:
            raise _oserror(_errno.EINVAL)
        onoff, linger = struct.unpack_from("ii", value)
    elif isinstance(value, tuple) and len(value) == 2:
        onoff, linger = int(value[0]), int(value[1])
    else:
        raise TypeError("SO_LINGER takes struct.pack('ii', onoff, linger) or (onoff, linger)")
    return (1 if onoff else 0), max(linger, 0)


def wait(
    readers: Iterable[Socket], writers: Iterable[Socket] = (), timeout: float | None = None
) -> tuple[list[Socket], list[Socket]]:
    """``select()`` for tcplab sockets: the readers and writers that are ready, waiting up to
    ``timeout`` seconds (None: until one is). All sockets must share one runtime."""
    rs, ws = list(readers), list(writers)

    def ready() -> tuple[list[Socket], list[Socket]]:
        return [s for s in rs if s.readable()], [s for s in ws if s.writable()]

    def any_ready() -> bool:
        r, w = ready()
        return bool(r or w)

    socks = rs + ws
    if not socks:
        raise ValueError("wait() needs at least one socket")
    if not any_ready() and (timeout is None or timeout > 0):
        runtime = socks[0].host.runtime
        if runtime is None:
            raise RuntimeError(f"host {socks[0].host.name!r} has no runtime")
        runtime.wait_until(any_ready, timeout)
    return ready()

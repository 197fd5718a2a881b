"""The non-blocking socket core: every BSD call on a tcplab host as an operation that returns,
raises ``OSError``, or says "would block until <condition>".

    core = SocketCore(host, AF_INET)
    core.connect(("198.18.0.2", 80))          # raises WouldBlock(CONNECTED, errno EINPROGRESS)
    ...                                        # the handshake runs (packets, timers)
    core.connect(("198.18.0.2", 80))          # returns once the handshake is over (or raises)
    try:
        data = core.recv(4096)
    except WouldBlock as wb:                   # a BlockingIOError: errno EAGAIN
        ...                                    # park the call until core.ready(wb.until, wb.amount)
                                               # (or wb.deadline), then make the same call again

``WouldBlock`` names what the call waits for (:class:`Until`: READABLE, WRITABLE, CONNECTED,
ACCEPTABLE, DRAINED) and, when it has one, a deadline on the host's clock. A driver parks the call
and makes it again once ``core.ready(...)`` can have changed (``core.add_waker`` tells when
something happened to the socket) -- the way the kernel restarts a blocked system call. Calls that
keep progress across restarts (a blocking send() of many bytes, recv() with MSG_WAITALL or
SO_RCVLOWAT) are :class:`SendCall` and :class:`RecvCall`: one object per call, called again after
each WouldBlock.

Drivers: the blocking ``tcplab.socket.Socket`` (a thin loop over the core that waits through
``host.runtime``), the asyncio transports of ``tcplab.aio``, the drill runner (parks calls on its
virtual clock, no threads). Errors carry Linux's errno in the same situation.
"""

from __future__ import annotations

import enum
import errno as _errno
import functools
import ipaddress
import math
import os
import socket as _socket
from collections.abc import Callable
from typing import Any

from tcplab.host.host import SOMAXCONN as _HOST_SOMAXCONN
from tcplab.host.host import Binding, Endpoint, Host, Listener, address_text
from tcplab.socket import options as _options
from tcplab.socket.constants import (
    AF_INET,
    AF_INET6,
    IPPROTO_TCP,
    MSG_DONTWAIT,
    MSG_FASTOPEN,
    MSG_OOB,
    MSG_PEEK,
    MSG_TRUNC,
    MSG_WAITALL,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLOUT,
    POLLRDHUP,
    SHUT_RD,
    SHUT_RDWR,
    SHUT_WR,
    SOCK_STREAM,
    SOMAXCONN,
)
from tcplab.socket.errors import oserror
from tcplab.tcp import fastopen as _tfo
from tcplab.tcp.connection import Connection
from tcplab.tcp.states import State

__all__ = ["FastOpenCall", "RecvCall", "SendCall", "SocketCore", "Until", "WouldBlock", "oserror"]

_CONNECTING = (State.SYN_SENT, State.SYN_RCVD)
_CAN_SEND = (State.ESTABLISHED, State.CLOSE_WAIT)
_DRAINING = (State.FIN_WAIT_1, State.CLOSING, State.LAST_ACK)


def _early(conn: Connection) -> bool:
    """A Fast Open child in SYN-RECEIVED: accepted already, it reads the SYN's data and may
    send before the handshake's last ACK (RFC 7413 section 4.2.2, Linux)."""
    return conn.passive and conn.fastopen and conn.state is State.SYN_RCVD


def _connecting(conn: Connection) -> bool:
    return conn.state in _CONNECTING and not _early(conn)


def _can_send(conn: Connection) -> bool:
    return conn.state in _CAN_SEND or _early(conn)


class Until(enum.Enum):
    """What a blocked call waits for (``WouldBlock.until``)."""

    READABLE = "readable"  # recv(): data (``amount`` bytes of it), EOF or an error to report
    WRITABLE = "writable"  # send(): room in the send buffer, or an error to report
    CONNECTED = "connected"  # connect(): the handshake is over, either way
    ACCEPTABLE = "acceptable"  # accept(): a connection waits in the accept queue
    DRAINED = "drained"  # close() with SO_LINGER: our FIN acknowledged (or the linger time over)


# errno -> its text: a WouldBlock is made on every call that would block (os.strerror each time).
_strerror: Callable[[int], str] = functools.lru_cache(maxsize=None)(os.strerror)


class WouldBlock(BlockingIOError):
    """The call cannot complete now: make it again once ``until`` can hold (or at ``deadline``,
    a time on the host's clock). ``amount``: for READABLE, the bytes that must be buffered.
    Its errno is Linux's for a non-blocking socket: EAGAIN, EINPROGRESS (a connect started) or
    EALREADY (a connect still in progress), so a non-blocking caller can simply let it rise."""

    def __init__(
        self, until: Until, deadline: float | None = None, code: int = _errno.EAGAIN, amount: int | None = None
    ) -> None:
        super().__init__(code, _strerror(code))
        self.until = until
        self.deadline = deadline
        self.amount = amount


# An address given to bind()/connect() as text, parsed once per address (3 us each time otherwise).
_ip_address: Callable[[str], ipaddress.IPv4Address | ipaddress.IPv6Address] = functools.lru_cache(maxsize=1024)(
    ipaddress.ip_address
)


class _Flag:
    """A yes/no attribute of a socket kept as one bit of its ``_flags`` slot: a host may hold
    tens of thousands of sockets, and a slot is 8 bytes each."""

    __slots__ = ("mask",)

    def __init__(self, mask: int) -> None:
        self.mask = mask

    def __get__(self, core: Any, owner: Any = None) -> Any:
        return self if core is None else bool(core._flags & self.mask)

    def __set__(self, core: Any, value: bool) -> None:
        core._flags = core._flags | self.mask if value else core._flags & ~self.mask


class SocketCore:
    """A TCP socket on a tcplab host, every call non-blocking. See the module docstring."""

    # A host may hold tens of thousands of these: no per-socket __dict__.
    __slots__ = (
        "_binding",
        "_deferred",
        "_ep",
        "_flags",
        "_linger_deadline",
        "_listener",
        "_wakers",
        "family",
        "host",
        "options",
    )
    # Its yes/no state, as bits of ``_flags`` (one slot, not six: 40 bytes less a socket).
    _closed = _Flag(1)
    _connecting = _Flag(2)  # a connect() that has not been reported yet (EALREADY)
    _err_reported = _Flag(4)  # the pending error was reported (Linux reports it once)
    _explicit_bind = _Flag(8)  # bound by bind(), not by connect() or listen()
    _shut_rd = _Flag(16)
    _shut_wr = _Flag(32)
    # TCP only: the same for every socket (class attributes, not slots)
    type = SOCK_STREAM
    proto = IPPROTO_TCP

    def __init__(self, host: Host, family: int = AF_INET, type: int = SOCK_STREAM) -> None:
        if family not in (AF_INET, AF_INET6):
            raise oserror(_errno.EAFNOSUPPORT)
        if type != SOCK_STREAM:
            raise oserror(_errno.EPROTONOSUPPORT, "tcplab sockets are TCP only (SOCK_STREAM)")
        self.host = host
        self.family = family
        # IPV6_V6ONLY starts at net.ipv6.bindv6only (Linux: 0, dual-stack)
        self.options = _options.defaults(v6only=family == AF_INET6 and bool(host.config.bindv6only))
        self._ep: Endpoint | None = None  # host Endpoint once connected / accepted
        self._listener: Listener | None = None
        self._binding: Binding | None = None  # the local address bind() (or connect/listen) chose
        self._flags = 0  # the _Flag bits below: none set
        self._deferred: tuple[str, int] | None = None  # TCP_FASTOPEN_CONNECT: waits for a write
        self._linger_deadline: float | None = None  # close() waiting for the FIN's ACK
        # A tuple, replaced on each change: wake() runs it as it is, no copy a wake-up.
        self._wakers: tuple[Callable[[], None], ...] = ()

    # ---- what the socket is ----------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<tcplab SocketCore {self.label()}>"

    def label(self) -> str:
        """``host laddr -> raddr STATE`` for messages."""
        if self._closed:
            return f"{self.host.name} [closed]"
        if self._listener is not None:
            return f"{self.host.name} {self._listener.label} LISTEN"
        conn = self.connection
        if conn is not None:
            return f"{self.host.name} {self._ep.label if self._ep else ''} {conn.state.value}"
        return f"{self.host.name} unconnected"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def connection(self) -> Connection | None:
        """The engine's connection behind this socket (None before connect/accept)."""
        if self._ep is None or not isinstance(self._ep.conn, Connection):
            return None  # (closed, and in TIME-WAIT as a record: tcplab.tcp.timewait)
        return self._ep.conn

    @property
    def shown_state(self) -> State | None:
        """The connection's state as this socket shows it (tcp_info, poll, recv, getpeername,
        shutdown); None before connect/accept. The engine's, except for TIME-WAIT in the linux
        profile (``Config.time_wait_socket``): Linux's full socket is done once its connection
        enters TIME-WAIT (tcp_time_wait -> tcp_done; a timewait minisock lives on), so a socket
        the application still holds reads TCP_CLOSE. After close() no application can ask:
        the drill's snippets then see the connection's own state, as ``ss`` would."""
        conn = self.connection
        if conn is None:
            return None
        state = conn.state
        if state is State.TIME_WAIT and not self._closed and conn.config.time_wait_socket == "closed":
            return State.CLOSED
        return state

    @property
    def endpoint(self) -> Endpoint | None:
        """The host's record of this socket's connection (None before connect/accept)."""
        return self._ep

    @property
    def listener(self) -> Listener | None:
        """The host's listener behind a listening socket (None otherwise)."""
        return self._listener

    @property
    def binding(self) -> Binding | None:
        return self._binding

    @property
    def reuseaddr(self) -> bool:
        """SO_REUSEADDR."""
        return self.options.reuseaddr

    @reuseaddr.setter
    def reuseaddr(self, value: bool) -> None:
        self.writable_options().reuseaddr = value
        if self._binding is not None:
            self._binding.reuseaddr = value

    @property
    def shut_rd(self) -> bool:
        return self._shut_rd

    @property
    def shut_wr(self) -> bool:
        return self._shut_wr

    def now(self) -> float:
        return self.host.time()

    def check_open(self) -> None:
        if self._closed:
            raise oserror(_errno.EBADF)

    def after_call(self) -> None:
        """After a user call on the connection: log, transmit, re-arm timers, let packets go."""
        if self._ep is not None:
            self.host.service(self._ep, self.now())
        self.host.kick()

    # ---- errors ----------------------------------------------------------------------------------
    def pending_error(self) -> int:
        """The error a connection failure left (SO_ERROR), until a call has reported it."""
        conn = self.connection
        if conn is None or self._err_reported:
            return 0
        return int(conn.error or 0)

    def take_error(self) -> int:
        """The pending error, now reported (Linux reports it once: recv, send or SO_ERROR)."""
        err = self.pending_error()
        if err:
            self._err_reported = True
        return err

    # ---- wake-ups --------------------------------------------------------------------------------
    def add_waker(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever something happens to this socket (data, state change, room
        to send, a connection to accept): the moment a parked call can be made again."""
        self._wakers += (callback,)

    def remove_waker(self, callback: Callable[[], None]) -> None:
        wakers = list(self._wakers)
        if callback in wakers:
            wakers.remove(callback)
            self._wakers = tuple(wakers)

    def wake(self) -> None:
        """Something happened to the socket (the host calls it: this socket owns the endpoint
        or the listener): call the wakers."""
        if self._wakers:
            for waker in self._wakers:
                waker()

    def _attach(self, ep: Endpoint | None = None, listener: Listener | None = None) -> None:
        if ep is not None:
            self._ep = ep
            ep.owner = self
        if listener is not None:
            self._listener = listener
            listener.owner = self

    # ---- readiness -------------------------------------------------------------------------------
    def readable(self) -> bool:
        """True when recv()/accept() would not block."""
        return self.ready(Until.READABLE) if self._listener is None else self.ready(Until.ACCEPTABLE)

    def writable(self) -> bool:
        """True when send() would not block (or connect() has finished)."""
        return self.ready(Until.WRITABLE)

    def ready(self, until: Until, amount: int | None = None) -> bool:
        """Whether a call blocked on ``until`` can be made again with a chance to progress."""
        if self._closed:
            return until is not Until.DRAINED or self._linger_done()  # the others fail at once
        if until is Until.ACCEPTABLE:
            listener = self._listener
            return listener is None or bool(listener.accept_queue) or listener.closed
        conn = self.connection
        if conn is None:
            return True  # the call fails at once
        if until is Until.CONNECTED:
            return not _connecting(conn)
        if _connecting(conn):
            return False
        if until is Until.READABLE:
            need = amount if amount is not None else self.options.rcvlowat
            # Linux tcp_epollin_ready: a receive window shrunk to one segment or less wakes the
            # reader too (the buffer is as full as the peer can make it)
            need = min(need, max(1, conn.config.rcv_buf - conn.rcv_mss))
            return (
                conn.recv_buffered >= max(1, need)
                or conn.eof
                or self.shown_state is State.CLOSED
                or self._shut_rd
                or self.pending_error() != 0
            )
        if until is Until.WRITABLE:
            if not _can_send(conn) or self._shut_wr or self.pending_error():
                return True  # send() fails at once
            return conn.send_free > 0 and _options.notsent_ok(self, conn, wake=True)
        return conn.state not in _DRAINING

    def poll(self) -> int:
        """The poll(2) bits Linux's tcp_poll reports for this socket."""
        if self._closed:
            return 0x20  # POLLNVAL
        if self._listener is not None:
            return POLLIN if self._listener.accept_queue else 0
        conn = self.connection
        if conn is None:
            return POLLOUT | POLLHUP  # Linux: an unconnected TCP socket is "hung up"
        mask = 0
        state = self.shown_state
        if self.pending_error():
            mask |= POLLERR
        if state is State.CLOSED or (self._shut_rd and self._shut_wr):
            mask |= POLLHUP
        if conn.eof or self._shut_rd:
            mask |= POLLIN | POLLRDHUP
        if _connecting(conn):
            return mask
        if conn.recv_buffered >= self.options.rcvlowat or (conn.recv_buffered and conn.eof):
            mask |= POLLIN
        if self.ready(Until.WRITABLE):
            mask |= POLLOUT
        if state is State.CLOSED:
            mask |= POLLIN | POLLOUT | POLLRDHUP
        return mask

    # ---- addresses -------------------------------------------------------------------------------
    def parse_address(self, address: Any, *, for_bind: bool) -> tuple[str, int]:
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
                raise oserror(_errno.ENETUNREACH)
            host = "0.0.0.0" if self.family == AF_INET else "::"
        try:
            ip = _ip_address(host) if type(host) is str else ipaddress.ip_address(host)
        except ValueError:
            raise _socket.gaierror(
                _socket.EAI_NONAME, f"{host!r} is not an IP address (tcplab does no name resolution)"
            ) from None
        if (ip.version == 4) != (self.family == AF_INET):
            raise _socket.gaierror(_socket.EAI_ADDRFAMILY, "Address family for hostname not supported")
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        if mapped is not None:
            # ::ffff:a.b.c.d on an AF_INET6 socket is IPv4 (on the wire too): kept as a.b.c.d,
            # shown mapped again by sockaddr(). Linux: EINVAL to bind it with IPV6_V6ONLY
            # (inet6_bind), ENETUNREACH to connect to it (tcp_v6_connect).
            if self.options.v6only:
                raise oserror(_errno.EINVAL if for_bind else _errno.ENETUNREACH)
            return address_text(mapped), port
        return address_text(ip), port  # (one string per address: connections keep it)

    def sockaddr(self, ip: str, port: int) -> tuple:
        if self.family == AF_INET:
            return (ip, port)
        return (ip if ":" in ip else f"::ffff:{ip}", port, 0, 0)  # IPv4 on a dual-stack socket

    def getsockname(self) -> tuple:
        self.check_open()
        if self._listener is not None:
            return self.sockaddr(self._listener.local_ip, self._listener.port)
        if self._ep is not None:
            return self.sockaddr(*self._ep.conn.local)
        if self._binding is not None:
            return self.sockaddr(self._binding.ip, self._binding.port)
        return self.sockaddr("0.0.0.0" if self.family == AF_INET else "::", 0)

    def _dualstack(self, ip: str) -> bool:
        """Whether a bind to ``ip`` takes the IPv4 port too: "::" with IPV6_V6ONLY 0."""
        return ip == "::" and not self.options.v6only

    def getpeername(self) -> tuple:
        self.check_open()
        conn = self.connection
        if conn is None or conn.remote is None or self.shown_state in (State.CLOSED, State.SYN_SENT):
            raise oserror(_errno.ENOTCONN)
        return self.sockaddr(*conn.remote)

    # ---- bind / listen / accept ------------------------------------------------------------------
    def bind(self, address: Any) -> None:
        self.check_open()
        ip, port = self.parse_address(address, for_bind=True)
        if self._binding is not None or self._ep is not None or self._listener is not None:
            raise oserror(_errno.EINVAL)  # Linux: already bound
        host = self.host
        if not ipaddress.ip_address(ip).is_unspecified and not host.owns(ip):
            raise oserror(_errno.EADDRNOTAVAIL)
        if port == 0:
            picked = host.pick_bind_port()
            if picked is None:
                raise oserror(_errno.EADDRINUSE)
            port = picked
        elif host.bind_conflict(ip, port, self.reuseaddr, self._dualstack(ip)):
            raise oserror(_errno.EADDRINUSE)
        self._binding = Binding(ip, port, self.reuseaddr, self._dualstack(ip))
        self._explicit_bind = True
        host.bound.add(self._binding)

    def listen(self, backlog: int | None = None) -> None:
        self.check_open()
        if backlog is None:
            backlog = min(SOMAXCONN, 128)  # Python's default
        backlog = max(int(backlog), 0)
        if self._listener is not None:
            self._listener.backlog = min(backlog, _HOST_SOMAXCONN)  # Linux: just updates
            return
        if self._ep is not None:
            raise oserror(_errno.EINVAL)  # Linux: listen() on a connected socket
        host = self.host
        if self._binding is None:
            self.bind(("", 0))
            self._explicit_bind = False
        assert self._binding is not None
        ip, port = self._binding.ip, self._binding.port
        # Linux re-checks at listen() (inet_csk_get_port): two SO_REUSEADDR sockets may share a
        # bound port, but only one of them may listen on it.
        if host.listener_conflict(ip, port, self._binding.dualstack):
            raise oserror(_errno.EADDRINUSE)
        config = host.conn_config(ip, None, self.options.user_mss, self.options.config)
        listener = host.open_listener(ip, port, backlog, config, self.now())
        listener.user_mss = self.options.user_mss
        # IPV6_V6ONLY 0 on "::": IPv4 connections too, their addresses IPv4-mapped (as Linux)
        listener.dualstack = self._binding.dualstack
        self._attach(listener=listener)
        host.bound.discard(self._binding)

    def accept(self) -> tuple[SocketCore, tuple]:
        """A connection from the accept queue: ``(core, address)``; WouldBlock(ACCEPTABLE)."""
        self.check_open()
        listener = self._listener
        if listener is None:
            raise oserror(_errno.EINVAL)
        if not listener.accept_queue and not listener.closed:
            raise WouldBlock(Until.ACCEPTABLE)
        ep = self.host.accept(listener)
        if ep is None:
            raise oserror(_errno.EINVAL)
        core = SocketCore(self.host, self.family, self.type)
        core._attach(ep=ep)
        # Linux: an accepted socket inherits the listener's options (it is a clone of it).
        core.options = self.options.inherit()
        _options.apply_to_connection(core, ep.live())
        remote = ep.conn.remote
        assert remote is not None  # an accepted connection knows its peer
        return core, core.sockaddr(*remote)

    # ---- connect ---------------------------------------------------------------------------------
    def connect(self, address: Any) -> None:
        """Start the handshake (WouldBlock(CONNECTED) with EINPROGRESS); made again, WouldBlock
        with EALREADY while it runs, then None once it succeeded (or its error), then EISCONN."""
        self.check_open()
        if self._listener is not None:
            raise oserror(_errno.EISCONN)
        if self._ep is not None:
            self._connect_again()
            return
        if self._deferred is not None:
            raise oserror(_errno.EALREADY)  # TCP_FASTOPEN_CONNECT: its SYN waits for a write
        ip, port = self.parse_address(address, for_bind=False)
        fastopen = self.options.fastopen_connect
        if fastopen and self.fastopen_cookie(ip) is not None:
            # TCP_FASTOPEN_CONNECT with a cookie: connect() returns at once and the SYN leaves
            # with the first write's data (Linux tcp_fastopen_defer_connect).
            self._deferred = (ip, port)
            return
        # in progress before the SYN leaves: a waker the SYN's events run may call connect() again
        self._connecting = True
        try:
            self._open(ip, port, fastopen_cookie=b"" if fastopen else None)
        except OSError:
            self._connecting = False
            raise
        self._connect_again(started=True)

    def _open(self, ip: str, port: int, data: bytes = b"", fastopen_cookie: bytes | None = None) -> int:
        """The active open: a port, the endpoint, the SYN (with Fast Open's ``data`` and
        ``fastopen_cookie``: see Connection.connect). Returns the bytes of ``data`` queued."""
        host = self.host
        if ipaddress.ip_address(ip).is_unspecified:
            raise oserror(_errno.ENETUNREACH)
        local_ip = self._binding.ip if self._binding is not None else None
        to_v6 = ":" in ip  # False for an IPv4-mapped address: the connection is IPv4
        if local_ip is not None and (":" in local_ip) != to_v6 and local_ip != "::":
            # Linux: bound to an IPv6 address, a mapped peer is ENETUNREACH (tcp_v6_connect);
            # bound to a mapped one, an IPv6 peer is EAFNOSUPPORT
            raise oserror(_errno.EAFNOSUPPORT if to_v6 else _errno.ENETUNREACH)
        if local_ip is None or ipaddress.ip_address(local_ip).is_unspecified:
            local_ip = host.default_address(to_v6)
            if local_ip is None:
                raise oserror(_errno.ENETUNREACH)
        local_port = self._binding.port if self._binding is not None else 0
        if not local_port:
            picked = host.pick_connect_port(local_ip, (ip, port))
            if picked is None:
                raise oserror(_errno.EADDRNOTAVAIL)  # Linux: ephemeral ports exhausted
            local_port = picked
        elif (local_ip, local_port, ip, port) in host.conns:
            raise oserror(_errno.EADDRNOTAVAIL)  # that 4-tuple is taken (Linux: EADDRNOTAVAIL)
        now = self.now()
        config = host.conn_config(local_ip, None, self.options.user_mss, self.options.config)
        ep = host.new_connection(config, (local_ip, local_port), (ip, port))
        if self._binding is not None:
            host.bound.discard(self._binding)
        host.register(ep)
        self._attach(ep=ep)
        self._deferred = None
        self._err_reported = False
        self._shut_rd = self._shut_wr = False
        conn = ep.live()
        _options.apply_to_connection(self, conn)
        queued = conn.connect(now, data=data, fastopen_cookie=fastopen_cookie)
        host.counters["active_opens"] += 1
        self.after_call()
        return queued

    # ---- TCP Fast Open (RFC 7413), client side ---------------------------------------------------
    @property
    def deferred(self) -> bool:
        """A TCP_FASTOPEN_CONNECT connect() whose SYN waits for the first write."""
        return self._deferred is not None

    def fastopen_cookie(self, ip: str) -> bytes | None:
        """What a Fast Open SYN to ``ip`` carries: the cookie cached for that server, b"" when
        the CLIENT_NO_COOKIE bit needs none, None when the data must wait for the handshake."""
        cookie = self.host.fastopen_cookies.get(ip)
        if cookie is not None:
            return cookie
        return b"" if self._fastopen_bits() & _tfo.CLIENT_NO_COOKIE else None

    def _fastopen_bits(self) -> int:
        return int(self.options.config.get("fastopen", self.host.config.fastopen))

    def start_fastopen(self, data: Any, address: Any) -> int:
        """The SYN of sendto(MSG_FASTOPEN) on an unconnected socket, or of the first write after
        a deferred TCP_FASTOPEN_CONNECT (Linux tcp_sendmsg_fastopen): with a cookie the data
        rides on it; without, it asks for a cookie and the data waits for the handshake.
        Returns the bytes of ``data`` queued (0 without a cookie)."""
        self.check_open()
        if not self._fastopen_bits() & _tfo.CLIENT:
            raise oserror(_errno.EOPNOTSUPP)  # Linux: net.ipv4.tcp_fastopen without bit 0x1
        if self._deferred is not None:
            ip, port = self._deferred
        else:
            ip, port = self.parse_address(address, for_bind=False)
        payload = bytes(data if isinstance(data, bytes) else memoryview(data).cast("B"))
        cookie = self.fastopen_cookie(ip)
        if cookie is not None:
            return self._open(ip, port, data=payload, fastopen_cookie=cookie)
        self._open(ip, port, fastopen_cookie=b"")
        return 0

    def sendto(self, data: Any, flags: int, address: Any) -> int:
        """sendto() as a non-blocking socket makes it: the address is ignored on a TCP socket,
        except with MSG_FASTOPEN on one not yet connected (RFC 7413): the count of bytes the SYN
        carries, or WouldBlock(CONNECTED) with EINPROGRESS when it carries none."""
        self.check_open()
        if flags & MSG_FASTOPEN and ((self._ep is None and self._listener is None) or self._deferred is not None):
            queued = self.start_fastopen(data, address)
            if queued:
                return queued
            raise WouldBlock(Until.CONNECTED, code=_errno.EINPROGRESS)
        return self.send(data, flags & ~MSG_FASTOPEN)

    def _connect_again(self, started: bool = False) -> None:
        conn = self.connection
        assert conn is not None  # called with an endpoint
        if not self._connecting:
            raise oserror(_errno.EISCONN)
        if conn.state in _CONNECTING:
            raise WouldBlock(Until.CONNECTED, code=_errno.EINPROGRESS if started else _errno.EALREADY)
        self._connecting = False
        if conn.state is State.CLOSED:
            err = self.take_error() or _errno.ECONNABORTED
            self._disconnect()
            raise oserror(err)

    def _disconnect(self) -> None:
        """Linux tcp_disconnect after a failed connect: the socket may connect again."""
        if self._ep is not None and self._ep.owner is self:
            self._ep.owner = None
        self._ep = None
        if self._explicit_bind and self._binding is not None:
            self.host.bound.add(self._binding)
        else:
            self._binding = None

    # ---- data ------------------------------------------------------------------------------------
    def send(self, data: Any, flags: int = 0, *, copied: int = 0) -> int:
        """Queue what fits of ``data``: the count, or WouldBlock(WRITABLE) when nothing fits.
        ``copied``: bytes this call already queued before a restart; with an error pending the
        call then returns 0 and leaves the error for the next call (Linux's tcp_sendmsg)."""
        self.check_open()
        if flags & MSG_OOB:
            raise oserror(_errno.EOPNOTSUPP, "tcplab sends no urgent data (MSG_OOB)")
        if self._deferred is not None:
            return self.sendto(data, flags | MSG_FASTOPEN, None)
        conn = self.connection
        if conn is None:
            raise oserror(_errno.EPIPE)  # Linux: send() on a socket that never connected
        if copied and (self.pending_error() or self._shut_wr or not _can_send(conn)):
            return 0
        err = self.take_error()
        if err:
            raise oserror(err)
        if self._shut_wr:
            raise oserror(_errno.EPIPE)
        if _connecting(conn):
            raise WouldBlock(Until.WRITABLE)  # Linux waits for the handshake (sk_stream_wait_connect)
        if not _can_send(conn):
            raise oserror(_errno.EPIPE)
        view = data if isinstance(data, bytes) else memoryview(data).cast("B")
        if not len(view):
            return 0
        room = conn.send_free
        if room <= 0 or not _options.notsent_ok(self, conn, wake=False):
            raise WouldBlock(Until.WRITABLE)
        n = _options.queue(self, conn, bytes(view[:room]), flags, self.now())
        self.after_call()
        return n

    def recv(self, bufsize: int, flags: int = 0, *, copied: int = 0) -> bytes:
        """What the receive buffer holds (at most ``bufsize`` bytes), b"" at EOF, the pending
        error, or WouldBlock(READABLE). ``copied``: bytes this call already returned before a
        restart (MSG_WAITALL, SO_RCVLOWAT); at EOF or with an error pending the call then returns
        b"" and leaves the error for the next call (Linux's tcp_recvmsg)."""
        self.check_open()
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        if flags & MSG_OOB:
            raise oserror(_errno.EINVAL)  # Linux: no urgent data to read
        conn = self.connection
        if conn is None:
            raise oserror(_errno.ENOTCONN)
        if _connecting(conn):
            raise WouldBlock(Until.READABLE)
        if bufsize == 0:
            return b""
        if conn.recv_buffered > 0:
            if flags & MSG_PEEK:
                data = conn.peek(bufsize)
                return bytes(len(data)) if flags & MSG_TRUNC else data
            data = conn.receive(bufsize, now=self.now())
            self.after_call()  # a window update may be due
            return bytes(len(data)) if flags & MSG_TRUNC else data
        # Linux tcp_recvmsg, nothing copied: the peer's FIN first (its error, if any, stays for
        # SO_ERROR or send), then a pending error, then SHUT_RD or a connection already gone.
        if conn.eof:
            return b""
        if self.pending_error():
            return b"" if copied else self._raise_error()
        if self.shown_state is State.CLOSED or self._shut_rd:
            return b""
        raise WouldBlock(Until.READABLE)

    def _raise_error(self) -> bytes:
        raise oserror(self.take_error())

    # ---- shutdown / close ------------------------------------------------------------------------
    def shutdown(self, how: int) -> None:
        self.check_open()
        if how not in (SHUT_RD, SHUT_WR, SHUT_RDWR):
            raise oserror(_errno.EINVAL)
        if self._listener is not None:
            if how in (SHUT_RD, SHUT_RDWR):  # Linux: stops listening (tcp_disconnect)
                self.host.close_listener(self._listener, self.now())
                self._listener = None
            return
        conn = self.connection
        if conn is None or self.shown_state is State.CLOSED:
            raise oserror(_errno.ENOTCONN)
        now = self.now()
        if conn.state is State.SYN_SENT:
            conn.abort(now)  # Linux: shutdown() of a connecting socket disconnects it
            self.after_call()
            self._connecting = False
            return
        if how in (SHUT_WR, SHUT_RDWR) and not self._shut_wr:
            self._shut_wr = True
            if conn.state in (State.ESTABLISHED, State.CLOSE_WAIT, State.SYN_RCVD):
                conn.shutdown(now)
        if how in (SHUT_RD, SHUT_RDWR):
            self._shut_rd = True  # Linux sends nothing for SHUT_RD
        self.after_call()
        self.wake()

    def close(self) -> None:
        """Close the socket. With SO_LINGER {1, n} on a connection still sending, the close is
        done and WouldBlock(DRAINED, deadline=now+n) follows: made again, close() returns once
        the FIN is acknowledged or the time is over (Linux tcp_close, sk_stream_wait_close)."""
        if self._closed:
            if self._linger_deadline is not None and not self._linger_done():
                raise WouldBlock(Until.DRAINED, self._deadline_or_none())
            self._linger_deadline = None
            return
        shown = self.shown_state
        self._closed = True
        host = self.host
        if self._binding is not None:
            host.bound.discard(self._binding)
        if self._listener is not None:
            if self._listener.owner is self:
                self._listener.owner = None
            host.close_listener(self._listener, self.now())
            self._listener = None
            host.kick()
            self.wake()
            return
        ep = self._ep
        if ep is None:
            self.wake()
            return
        if ep.owner is self:
            ep.owner = None
        if ep.finished:
            self.wake()
            return
        conn = ep.live()
        now = self.now()
        onoff, linger = self.options.linger_on, self.options.linger_time
        if onoff and linger == 0:
            # SO_LINGER {1, 0}: close() aborts -- a RST, no FIN, no TIME_WAIT (Linux tcp_close);
            # in the linux profile not a TIME-WAIT: its socket is closed already (measured:
            # the timewait sock stays, nothing is sent; notes/quickack-reentry.md).
            if shown is not State.CLOSED:
                conn.abort(now)
        else:
            conn.close(now)
        host.service(ep, now)
        host.kick()
        self.wake()
        if onoff and linger > 0 and conn.state in _DRAINING:
            self._linger_deadline = now + linger  # inf: SO_LINGER "forever"
            raise WouldBlock(Until.DRAINED, self._deadline_or_none())

    def _deadline_or_none(self) -> float | None:
        d = self._linger_deadline
        return None if d is None or d == math.inf else d

    def _linger_done(self) -> bool:
        ep = self._ep  # (the connection the lingering close() waits on)
        if self._linger_deadline is None or ep is None:
            return True
        return ep.finished or ep.conn.state not in _DRAINING or self.now() >= self._linger_deadline

    # ---- options ---------------------------------------------------------------------------------
    def setsockopt(self, level: int, optname: int, value: Any, optlen: int | None = None) -> None:
        self.check_open()
        _options.setsockopt(self, level, optname, value, optlen)

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> Any:
        self.check_open()
        return _options.getsockopt(self, level, optname, buflen)

    def ioctl(self, request: int, arg: Any = 0) -> int:
        """SIOCINQ/FIONREAD, SIOCOUTQ, SIOCOUTQNSD: the count (Linux's tcp_ioctl)."""
        self.check_open()
        return _options.ioctl(self, request)

    def writable_options(self) -> _options.SocketOptions:
        """This socket's options, to change in place: its own copy once another socket shares them."""
        self.options = opts = self.options.private()
        return opts

    def set_config(self, **fields: Any) -> None:
        """Engine settings an option changed: remembered for connections to come, applied to the
        live connection and to a listener's future children."""
        opts = self.writable_options()
        opts.config = {**opts.config, **fields}  # a new dict: options share theirs
        conn = self.connection
        if conn is not None and conn.state is not State.CLOSED:
            conn.reconfigure(**fields)
            if any(k.startswith("keepalive") for k in fields):
                # (re)arm the keepalive timer with the new settings, as Linux does
                conn.set_keepalive(bool(conn.config.keepalive), self.now())
                self.after_call()
        if self._listener is not None:  # children are cloned from the listener's config
            for k, v in fields.items():
                setattr(self._listener.config, k, v)

    def tcp_info(self) -> dict[str, Any]:
        """A snapshot of the engine's ``tcp_info()`` (state, rto, snd_mss, rcv_mss, cwnd, ...)."""
        self.check_open()
        if self._listener is not None:
            info: dict[str, Any] = dict(self._listener.conn.tcp_info())
        elif self.connection is not None:
            info = dict(self.connection.tcp_info())
        else:
            return {"state": "CLOSED"}
        state = info.get("state")
        if isinstance(state, State):
            info["state"] = state.value
        return info


class SendCall:
    """One blocking send() as Linux runs it: it returns once every byte is queued, waiting for
    room as often as it must; what it queued survives each restart. An error after some bytes
    were queued ends the call with their count (the error waits for the next call)."""

    def __init__(self, core: SocketCore, data: Any, flags: int = 0) -> None:
        self.core = core
        self.view = data if isinstance(data, bytes) else memoryview(data).cast("B")
        self.flags = flags
        self.sent = 0

    def __call__(self) -> int:
        total = len(self.view)
        if not total:
            return self.core.send(self.view, self.flags)
        while self.sent < total:
            n = self.core.send(self.view[self.sent :], self.flags, copied=self.sent)
            if not n:
                break
            self.sent += n
        return self.sent


class FastOpenCall:
    """One blocking sendto(MSG_FASTOPEN) -- or the first write after a deferred
    TCP_FASTOPEN_CONNECT -- as Linux's tcp_sendmsg_fastopen runs it: the SYN leaves (with the
    data when a cookie is cached), the call waits for the handshake, then queues the rest of
    the data as a blocking send()."""

    def __init__(self, core: SocketCore, data: Any, flags: int, address: Any) -> None:
        self.core = core
        self.view = data if isinstance(data, bytes) else memoryview(data).cast("B")
        self.flags = flags & ~MSG_FASTOPEN
        self.address = address
        self.queued: int | None = None
        self.rest: SendCall | None = None

    def __call__(self) -> int:
        core = self.core
        if self.queued is None:
            self.queued = core.start_fastopen(self.view, self.address)
        conn = core.connection
        if conn is not None and _connecting(conn):
            raise WouldBlock(Until.CONNECTED)
        if self.queued >= len(self.view):
            return self.queued
        if self.rest is None:
            self.rest = SendCall(core, self.view[self.queued :], self.flags)
        return self.queued + self.rest()


class RecvCall:
    """One blocking recv() as Linux runs it: what is buffered is taken at once, and the call
    returns when it holds its target -- 1 byte, SO_RCVLOWAT, or all ``bufsize`` with
    MSG_WAITALL -- or at EOF, or when an error is pending (reported by the next call)."""

    def __init__(self, core: SocketCore, bufsize: int, flags: int = 0) -> None:
        self.core = core
        self.bufsize = bufsize
        self.flags = flags & ~(MSG_WAITALL | MSG_DONTWAIT)
        want = bufsize if flags & MSG_WAITALL else core.options.rcvlowat
        self.target = max(1, min(want, bufsize))
        self.parts: list[bytes] = []
        self.got = 0

    def __call__(self) -> bytes:
        core = self.core
        if self.flags & MSG_PEEK:
            # Peeking takes nothing: wait until the target is buffered (or EOF), then look.
            data = core.recv(self.bufsize, self.flags)
            conn = core.connection
            if len(data) < self.target and conn is not None and not (conn.eof or conn.state is State.CLOSED):
                raise WouldBlock(Until.READABLE, amount=self.target)
            return data
        while self.got < self.target:
            # Blocked with some bytes copied, the call waits again for SO_RCVLOWAT new bytes:
            # Linux wakes a reader only when that many are readable (tcp_data_ready).
            data = core.recv(self.bufsize - self.got, self.flags, copied=self.got)
            if not data:
                break
            self.parts.append(data)
            self.got += len(data)
        return b"".join(self.parts)

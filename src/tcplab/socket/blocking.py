"""``Socket``: a BSD socket on a tcplab host with Python's ``socket.socket`` interface, blocking
or not -- a thin loop over the non-blocking core (``tcplab.socket.core``).

    srv = Socket(host)                        # TCP only
    srv.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    srv.bind(("198.18.0.2", 9527)); srv.listen(16)
    conn, peer = srv.accept()

Each call is tried on the core; when the core says it would block, a blocking socket waits
through ``host.runtime`` (the simulation's virtual clock, or the TUN loop) until the condition
can have changed, and tries again; a non-blocking one raises ``BlockingIOError`` as Python's
socket does; a timeout raises ``TimeoutError("timed out")``. Readiness without a file
descriptor: ``sock.readable()`` / ``sock.writable()`` and ``wait(readers, writers, timeout)``
(a ``select()`` for tcplab sockets).
"""

from __future__ import annotations

import contextlib
import errno as _errno
import io
import math
import socket as _socket
import weakref
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from tcplab.host.host import Endpoint, Host, Listener
from tcplab.socket.constants import (
    AF_INET,
    F_GETFL,
    F_SETFL,
    FIONBIO,
    MSG_DONTWAIT,
    MSG_FASTOPEN,
    MSG_WAITALL,
    O_NONBLOCK,
    O_RDWR,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLOUT,
    SOCK_STREAM,
    SOL_SOCKET,
)
from tcplab.socket.core import FastOpenCall, RecvCall, SendCall, SocketCore, Until, WouldBlock
from tcplab.socket.errors import oserror
from tcplab.socket.readiness import ReadinessFd
from tcplab.tcp.connection import Connection

__all__ = ["Socket", "open_sockets", "wait"]

T = TypeVar("T")

# The sockets applications hold open on each host, oldest first (like a process's descriptors):
# what a debugger of the host, such as ``tcplab lab``, can act on. A socket leaves at close().
_OPEN: weakref.WeakKeyDictionary[Host, list[Socket]] = weakref.WeakKeyDictionary()


def open_sockets(host: Host) -> list[Socket]:
    """The sockets open on ``host``, oldest first (listening ones included)."""
    return list(_OPEN.get(host, ()))


def _timeout() -> TimeoutError:
    return TimeoutError("timed out")


class Socket:
    """A TCP socket on a tcplab host: ``Socket(host)``, ``Socket(host, AF_INET6)``."""

    # As Python's socket.socket: slots (no per-socket __dict__), weak references allowed.
    __slots__ = ("__weakref__", "_close_pending", "_io_refs", "_mirror", "_timeout", "core")

    def __init__(self, host: Host, family: int = AF_INET, type: int = SOCK_STREAM) -> None:
        self._adopt(SocketCore(host, family, type))

    def _adopt(self, core: SocketCore) -> None:
        self.core = core
        self._timeout: float | None = _socket.getdefaulttimeout()
        self._mirror: ReadinessFd | None = None
        self._io_refs = 0  # makefile() objects still open (the socket closes after them)
        self._close_pending = False
        _OPEN.setdefault(core.host, []).append(self)

    @classmethod
    def from_core(cls, core: SocketCore) -> Socket:
        """A ``Socket`` around an existing core (what ``accept()`` returns)."""
        sock = cls.__new__(cls)
        sock._adopt(core)
        return sock

    # ---- what it is --------------------------------------------------------------------------
    @property
    def host(self) -> Host:
        return self.core.host

    @property
    def family(self) -> int:
        return self.core.family

    @property
    def type(self) -> int:
        return self.core.type

    @property
    def proto(self) -> int:
        return self.core.proto

    @property
    def _closed(self) -> bool:  # the name Python's socket uses
        return self.core.closed or self._close_pending

    def __repr__(self) -> str:
        if self.core.closed:
            return "<tcplab.socket.Socket [closed]>"
        core = self.core
        state = "LISTEN" if core.listener else (core.connection.state if core.connection is not None else "unconnected")
        return f"<tcplab.socket.Socket host={self.host.name} {state} laddr={core.getsockname()}>"

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> Connection | None:
        """The engine's connection behind this socket (None before connect/accept)."""
        return self.core.connection

    @property
    def endpoint(self) -> Endpoint | None:
        """The host's record of this socket's connection (None before connect/accept)."""
        return self.core.endpoint

    @property
    def listener(self) -> Listener | None:
        """The host's listener behind a listening socket (None otherwise)."""
        return self.core.listener

    @property
    def reuseaddr(self) -> bool:
        return self.core.reuseaddr

    @reuseaddr.setter
    def reuseaddr(self, value: bool) -> None:
        self.core.reuseaddr = value

    # ---- the loop ------------------------------------------------------------------------------
    def _locked(self) -> Any:
        """The runtime's lock when it has one (a TUN loop in a thread of its own)."""
        lock = getattr(self.core.host.runtime, "lock", None)
        return lock if lock is not None else contextlib.nullcontext()

    def _do(self, call: Callable[[], T]) -> T:
        """One core call that does not wait, under the runtime's lock."""
        with self._locked():
            try:
                return call()
            finally:
                self._sync()

    def _run(self, call: Callable[[], T], name: str, timeout: float | str | None = "socket") -> T:
        """Make ``call`` until it does not block: wait for what it names, then make it again."""
        t = self._timeout if isinstance(timeout, str) else timeout
        with self._locked():
            deadline = None if t is None else self.core.now() + t
            while True:
                try:
                    result = call()
                    self._sync()
                    return result
                except WouldBlock as wb:
                    self._sync()
                    if t == 0.0:
                        raise
                    if t is not None and wb.errno == _errno.EALREADY:
                        raise  # Python: a socket with a timeout gets EALREADY at once
                    self._wait(wb, deadline, name)

    def _wait(self, wb: WouldBlock, deadline: float | None, name: str) -> None:
        core = self.core
        runtime = core.host.runtime
        if runtime is None:
            raise RuntimeError(
                f"host {core.host.name!r} has no runtime: add it to a simulated "
                "network (tcplab.net.simhost.SimRuntime) or a TUN link first"
            )
        now = core.now()
        until = [d for d in (deadline, wb.deadline) if d is not None and d != math.inf]
        limit = min(until) - now if until else None
        if deadline is not None and now >= deadline:
            raise _timeout()
        if wb.deadline is not None and now >= wb.deadline:
            return  # the call's own deadline: make it again, it knows what to do

        def ready() -> bool:
            return core.ready(wb.until, wb.amount)

        what = f"{name}() on {core.label()} waits until {wb.until.value}"
        if not runtime.wait_until(ready, limit, what=what) and deadline is not None and core.now() >= deadline:
            raise _timeout()

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
    def getsockname(self) -> tuple:
        return self._do(self.core.getsockname)

    def getpeername(self) -> tuple:
        return self._do(self.core.getpeername)

    # ---- the calls -----------------------------------------------------------------------------
    def bind(self, address: Any) -> None:
        self._do(lambda: self.core.bind(address))

    def listen(self, backlog: int | None = None) -> None:
        self._do(lambda: self.core.listen(backlog))

    def accept(self) -> tuple[Socket, tuple]:
        core, addr = self._run(self.core.accept, "accept")
        return Socket.from_core(core), addr

    def connect(self, address: Any) -> None:
        self._run(lambda: self.core.connect(address), "connect")

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

    def send(self, data: Any, flags: int = 0) -> int:
        core = self.core
        if core.deferred:  # TCP_FASTOPEN_CONNECT: this write carries the SYN
            return self._fastopen(data, flags, None)
        if flags & MSG_DONTWAIT:
            return self._do(lambda: core.send(data, flags))
        if self._timeout is None:
            return self._run(SendCall(core, data, flags), "send")  # Linux queues every byte
        # With a timeout Python waits until writable, then sends what fits (a partial count).
        return self._run(lambda: core.send(data, flags), "send")

    def sendall(self, data: Any, flags: int = 0) -> None:
        if self._timeout is None:
            self._run(SendCall(self.core, data, flags), "sendall")
            return
        # As CPython since 3.5: the timeout bounds the whole sendall(), not each send().
        core = self.core
        view = memoryview(data).cast("B")
        deadline = core.now() + self._timeout
        sent = 0
        while True:
            left = max(deadline - core.now(), 1e-9) if self._timeout else 0.0  # > 0: a timeout, not EAGAIN
            rest = view[sent:]
            sent += self._run(lambda: core.send(rest, flags), "sendall", left)  # noqa: B023 (called at once)
            if sent >= len(view):
                return

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if flags & MSG_DONTWAIT or self._timeout == 0.0:
            # A call that may not wait takes what is buffered, below SO_RCVLOWAT and MSG_WAITALL
            # too (Linux tcp_recvmsg with no time to wait returns what it copied); none: EAGAIN.
            return self._do(lambda: self.core.recv(bufsize, flags & ~MSG_WAITALL))
        if self._timeout is not None:
            # Python's socket with a timeout polls until readable (SO_RCVLOWAT counts), then
            # reads without waiting: a timeout leaves what is buffered for the next call.
            return self._run(lambda: self._recv_when_readable(bufsize, flags), "recv")
        return self._run(RecvCall(self.core, bufsize, flags), "recv")

    def _recv_when_readable(self, bufsize: int, flags: int) -> bytes:
        core = self.core
        if not core.closed and not core.ready(Until.READABLE):
            raise WouldBlock(Until.READABLE)
        return core.recv(bufsize, flags & ~MSG_WAITALL)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        view = memoryview(buffer).cast("B")
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        if nbytes == 0 or nbytes > len(view):
            nbytes = len(view)
        data = self.recv(nbytes, flags)
        view[: len(data)] = data
        return len(data)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, None]:
        return self.recv(bufsize, flags), None  # TCP: no address (Linux returns addrlen 0)

    def recvfrom_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> tuple[int, None]:
        return self.recv_into(buffer, nbytes, flags), None

    def sendto(self, data: Any, flags_or_address: Any, address: Any = None) -> int:
        """``sendto(data, address)`` / ``sendto(data, flags, address)``: on a TCP socket the
        address is not used (Linux's tcp_sendmsg ignores it), except with MSG_FASTOPEN on a
        socket not yet connected (RFC 7413: the data rides on the SYN when a cookie is cached)."""
        flags = int(flags_or_address) if address is not None else 0
        if address is None:
            address = flags_or_address
        if flags & MSG_FASTOPEN and self.core.connection is None and self.core.listener is None:
            return self._fastopen(data, flags, address)
        return self.send(data, flags & ~MSG_FASTOPEN)

    def _fastopen(self, data: Any, flags: int, address: Any) -> int:
        core = self.core
        if self._timeout == 0.0 or flags & MSG_DONTWAIT:
            return self._do(lambda: core.sendto(data, flags | MSG_FASTOPEN, address))
        return self._run(FastOpenCall(core, data, flags, address), "sendto")

    def sendmsg(self, buffers: Iterable[Any], ancdata: Iterable[Any] = (), flags: int = 0, address: Any = None) -> int:
        for level, kind, _data in ancdata:
            # Linux __sock_cmsg_send: other levels are not looked at, SCM_RIGHTS/CREDENTIALS are
            # for Unix sockets and ignored, the SOL_SOCKET ones TCP does not know are EINVAL.
            if level == SOL_SOCKET and kind not in (1, 2):
                raise oserror(_errno.EINVAL)
        payload = b"".join(bytes(memoryview(b).cast("B")) for b in buffers)
        if address is not None:
            return self.sendto(payload, flags, address)
        return self.send(payload, flags)

    def recvmsg(self, bufsize: int, ancbufsize: int = 0, flags: int = 0) -> tuple[bytes, list, int, None]:
        return self.recv(bufsize, flags), [], 0, None

    def recvmsg_into(self, buffers: Iterable[Any], ancbufsize: int = 0, flags: int = 0) -> tuple[int, list, int, None]:
        views = [memoryview(b).cast("B") for b in buffers]
        data = self.recv(sum(len(v) for v in views), flags)
        at = 0
        for v in views:
            chunk = data[at : at + len(v)]
            v[: len(chunk)] = chunk
            at += len(chunk)
        return len(data), [], 0, None

    def ioctl(self, request: int, arg: int = 0) -> int:
        """``fcntl.ioctl`` for tcplab sockets: SIOCINQ (FIONREAD), SIOCOUTQ, SIOCOUTQNSD give
        their count; FIONBIO sets non-blocking mode from ``arg``."""
        if request == FIONBIO:
            self.setblocking(not arg)
            return 0
        return self._do(lambda: self.core.ioctl(request))

    def fcntl(self, cmd: int, arg: int = 0) -> int:
        """``fcntl.fcntl`` for tcplab sockets: F_GETFL / F_SETFL with O_NONBLOCK."""
        if cmd == F_GETFL:
            return O_RDWR | (0 if self.getblocking() else O_NONBLOCK)
        if cmd == F_SETFL:
            self.setblocking(not arg & O_NONBLOCK)
            return 0
        raise oserror(_errno.EINVAL)

    def shutdown(self, how: int) -> None:
        self._do(lambda: self.core.shutdown(how))

    def close(self) -> None:
        """As Python's: the connection closes once the makefile() objects are closed too."""
        self._close_pending = True
        if self._io_refs > 0:
            return
        held = _OPEN.get(self.core.host)
        if held is not None and self in held:
            held.remove(self)
        try:
            # SO_LINGER {1, n}: close() waits for the FIN's ACK (or n seconds) -- on Linux
            # whatever the timeout or O_NONBLOCK (inet_release passes sk_lingertime to tcp_close).
            self._run(self.core.close, "close", None)
        finally:
            if self._mirror is not None:
                self.core.remove_waker(self._sync)
                self._mirror.close()
                self._mirror = None

    def detach(self) -> None:
        raise OSError(_errno.EOPNOTSUPP, "tcplab sockets have no file descriptor to detach")

    # ---- a file descriptor and files ------------------------------------------------------------
    def fileno(self) -> int:
        """A real file descriptor whose readiness mirrors this socket's (``select``,
        ``selectors``, asyncio's loop wait on it; reads and writes go through this object).
        On the simulated network readiness changes only while the simulation runs: wait on it
        with a selector that runs it (``tcplab.net.simhost.SimSelector``, which ``tcplab.patch``
        installs and ``tcplab.aio.run``'s loop uses), not with ``select.select``. -1 once closed,
        as Python's."""
        if self.core.closed or self._close_pending:
            return -1
        if self._mirror is None:
            if self.core.host.runtime is None:
                raise OSError(_errno.EOPNOTSUPP, f"fileno(): host {self.core.host.name!r} has no runtime")
            with self._locked():
                self._mirror = ReadinessFd()
                self.core.add_waker(self._sync)
                self._sync()
        return self._mirror.fileno()

    def _sync(self) -> None:
        mirror = self._mirror
        if mirror is not None:
            mask = self.core.poll()
            mirror.set(bool(mask & (POLLIN | POLLHUP | POLLERR)), bool(mask & (POLLOUT | POLLERR)))

    def makefile(
        self,
        mode: str = "r",
        buffering: int | None = None,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> Any:
        """A file object on the socket, as Python's ``socket.makefile`` (the same classes)."""
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        writing = "w" in mode
        reading = "r" in mode or not writing
        raw = _socket.SocketIO(self, ("r" if reading else "") + ("w" if writing else ""))  # type: ignore[arg-type]
        self._io_refs += 1
        size = io.DEFAULT_BUFFER_SIZE if buffering is None or buffering < 0 else buffering
        if size == 0:
            if "b" not in mode:
                raise ValueError("unbuffered streams must be binary")
            return raw
        buffer: Any
        if reading and writing:
            buffer = io.BufferedRWPair(raw, raw, size)
        elif reading:
            buffer = io.BufferedReader(raw, size)
        else:
            buffer = io.BufferedWriter(raw, size)
        if "b" in mode:
            return buffer
        text = io.TextIOWrapper(buffer, io.text_encoding(encoding), errors, newline)
        text.mode = mode  # type: ignore[misc]
        return text

    def _decref_socketios(self) -> None:  # called by socket.SocketIO.close()
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._close_pending:
            self.close()

    @property
    def timeout(self) -> float | None:
        return self._timeout

    # ---- options -------------------------------------------------------------------------------
    def setsockopt(self, level: int, optname: int, value: Any, optlen: int | None = None) -> None:
        self._do(lambda: self.core.setsockopt(level, optname, value, optlen))

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> Any:
        return self._do(lambda: self.core.getsockopt(level, optname, buflen))

    def tcp_info(self) -> dict[str, Any]:
        """A snapshot of the engine's ``tcp_info()`` (state, rto, snd_mss, rcv_mss, cwnd, ...)."""
        return self._do(self.core.tcp_info)

    # ---- readiness -----------------------------------------------------------------------------
    def readable(self) -> bool:
        """True when recv()/accept() would not block."""
        return self._do(self.core.readable)

    def writable(self) -> bool:
        """True when send() would not block (or connect() has finished)."""
        return self._do(self.core.writable)

    def add_waker(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever something happens to this socket."""
        self.core.add_waker(callback)

    def remove_waker(self, callback: Callable[[], None]) -> None:
        self.core.remove_waker(callback)


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
        runtime.wait_until(any_ready, timeout, what="wait() for tcplab sockets")
    return ready()

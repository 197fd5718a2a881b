"""asyncio streams over tcplab connections.

    reader, writer = await tcplab.aio.open_connection("198.18.0.2", 9527, stack=client_host)
    server = await tcplab.aio.start_server(handle, "198.18.0.2", 9527, stack=server_host)

These return the real ``asyncio.StreamReader`` / ``asyncio.StreamWriter`` (over an
``asyncio.Transport`` subclass that drives a tcplab connection), so ordinary asyncio code runs on
a tcplab host changing only where it opens connections: ``drain()``, ``close()``,
``wait_closed()``, ``write_eof()`` (half-close), ``get_extra_info("peername" | "sockname" |
"socket")`` all work.

On the simulated network the virtual clock drives the loop: ``SimEventLoop(network)`` is a
``SelectorEventLoop`` whose ``time()`` is ``network.now`` and whose selector, instead of sleeping,
runs the simulation until a tcplab connection has news or the next asyncio timer is due. So
``await asyncio.sleep(120)`` or a TIME_WAIT costs milliseconds. ``tcplab.aio.run(main(), network)``
is ``asyncio.run`` for it. If every task waits for something the simulation can never deliver,
the loop raises ``SimulationStalled`` instead of hanging.

On TUN the ordinary event loop (real clock) is used: the first call here attaches the TUN link to
the running loop (``loop.add_reader`` on its descriptor, timers with ``loop.call_at``), and the
transports wake through ``loop.call_soon``.

(``tcplab.asyncio`` is another name for this module.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from tcplab.host import Host
from tcplab.net.simhost import DEFAULT_HORIZON, SimRuntime, SimSelector, SimulationStalled
from tcplab.net.tun import TunRuntime
from tcplab.socket import (
    AF_INET,
    AF_INET6,
    IPPROTO_IPV6,
    IPV6_V6ONLY,
    SHUT_WR,
    SO_LINGER,
    SO_REUSEADDR,
    SOL_SOCKET,
    Socket,
    SocketCore,
    WouldBlock,
)

__all__ = [
    "Server",
    "SimEventLoop",
    "SimulationStalled",
    "TcplabTransport",
    "create_connection",
    "create_server",
    "open_connection",
    "run",
    "start_server",
]

T = TypeVar("T")
_LIMIT = 2**16  # asyncio.streams._DEFAULT_LIMIT
_READ_CHUNK = 256 * 1024
_LINGER_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER {on, 0 s}: close() sends RST


# ---- the simulated clock drives the loop --------------------------------------------------------
class SimEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on the simulated network's virtual clock."""

    def __init__(self, network: Any, horizon: float | None = DEFAULT_HORIZON) -> None:
        selector = SimSelector(network, horizon, who="every asyncio task")
        super().__init__(selector)
        self._tcplab_selector = selector
        self.network = network
        for node in network.nodes.values():
            if isinstance(node, Host) and node.runtime is None:
                node.runtime = SimRuntime(network, horizon)

    def time(self) -> float:
        return self.network.now


def _notify(loop: asyncio.AbstractEventLoop) -> None:
    selector = getattr(loop, "_tcplab_selector", None)
    if selector is not None:
        selector.woken = True


def run(
    main: Coroutine[Any, Any, T], network: Any, *, debug: bool | None = None, horizon: float | None = DEFAULT_HORIZON
) -> T:
    """``asyncio.run(main)`` on ``SimEventLoop(network)``."""
    with asyncio.Runner(debug=debug, loop_factory=lambda: SimEventLoop(network, horizon)) as runner:
        return runner.run(main)


# ---- the transport ------------------------------------------------------------------------------
class TcplabTransport(asyncio.Transport):
    """An ``asyncio.Transport`` over a connected (non-blocking) tcplab socket."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: Socket,
        protocol: asyncio.Protocol,
        waiter: asyncio.Future | None = None,
        server: Server | None = None,
    ) -> None:
        self._info: dict[str, Any] = {"socket": sock}
        super().__init__(self._info)  # get_extra_info() reads this dict
        self._loop = loop
        self._sock = sock
        self._core = sock.core
        self._protocol = protocol
        self._server = server
        self._wbuf = bytearray()
        self._closing = False
        self._conn_lost = False
        self._eof_requested = False
        self._eof_sent = False
        self._eof_received = False
        self._paused_reading = False
        self._protocol_paused = False
        self._scheduled = False
        self._high = 4 * _LIMIT
        self._low = _LIMIT
        self._info["sockname"] = sock.getsockname()
        try:
            self._info["peername"] = sock.getpeername()
        except OSError:
            self._info["peername"] = None
        sock.setblocking(False)
        self._core.add_waker(self._wake)
        if server is not None:
            server._attach(self)
        loop.call_soon(protocol.connection_made, self)
        if waiter is not None:
            loop.call_soon(_set_result_unless_cancelled, waiter, None)
        self._wake()  # data or a FIN may already be waiting

    def __repr__(self) -> str:
        return f"<TcplabTransport {self._info.get('sockname')} -> {self._info.get('peername')}>"

    # -- wake-ups from the host ------------------------------------------------------------------
    def _wake(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._service)
            _notify(self._loop)

    def _service(self) -> None:
        self._scheduled = False
        if self._conn_lost:
            return
        exc = self._flush()
        if exc is None and not self._paused_reading and not self._closing:
            exc = self._read()
        if self._conn_lost:
            return
        if exc is None:
            err = self._core.take_error()
            exc = OSError(err, os.strerror(err)) if err else None
        if exc is not None:
            self._fatal(exc)
            return
        self._maybe_resume_protocol()
        if not self._wbuf:
            if self._eof_requested and not self._eof_sent:
                self._send_eof()
            if self._closing:
                self._finish_close(None)

    def _read(self) -> OSError | None:
        """Hand the protocol what the socket has: data, then EOF; the error that ends it."""
        core = self._core
        while not (self._paused_reading or self._conn_lost or self._closing or self._eof_received):
            try:
                data = core.recv(_READ_CHUNK)
            except WouldBlock:
                return None
            except OSError as exc:
                return exc
            if data:
                self._protocol.data_received(data)
                continue
            if core.pending_error():
                return None  # reported by _service
            self._eof_received = True
            if not self._protocol.eof_received():
                self.close()
        return None

    def _flush(self) -> OSError | None:
        """Send what is buffered, as far as the socket takes it now; the error that stops it."""
        while self._wbuf:
            try:
                n = self._core.send(memoryview(self._wbuf))
            except WouldBlock:
                return None
            except OSError as exc:
                return exc
            del self._wbuf[:n]
        return None

    def _send_eof(self) -> None:
        self._eof_sent = True
        # already gone: the error (if any) is reported by _service
        with contextlib.suppress(OSError):
            self._sock.shutdown(SHUT_WR)

    # -- asyncio.WriteTransport --------------------------------------------------------------------
    def write(self, data: Any) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data argument must be a bytes-like object, not {type(data).__name__!r}")
        if self._eof_requested:
            raise RuntimeError("Cannot call write() after write_eof()")
        if not data or self._conn_lost or self._closing:
            return
        if not self._wbuf:
            try:
                n = self._core.send(data)
            except WouldBlock:
                n = 0
            except OSError as exc:
                self._fatal(exc)  # as asyncio's transports: "Fatal write error"
                return
            data = memoryview(data)[n:]
        if len(data):
            self._wbuf += data
        self._maybe_pause_protocol()

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def write_eof(self) -> None:
        if self._eof_requested or self._closing or self._conn_lost:
            return
        self._eof_requested = True
        if not self._wbuf:
            self._send_eof()

    def can_write_eof(self) -> bool:
        return True

    def get_write_buffer_size(self) -> int:
        return len(self._wbuf)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low, self._high)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = 4 * _LIMIT if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low
        self._maybe_pause_protocol()

    def _maybe_pause_protocol(self) -> None:
        if len(self._wbuf) > self._high and not self._protocol_paused:
            self._protocol_paused = True
            self._protocol.pause_writing()

    def _maybe_resume_protocol(self) -> None:
        if self._protocol_paused and len(self._wbuf) <= self._low:
            self._protocol_paused = False
            self._protocol.resume_writing()

    # -- asyncio.ReadTransport ---------------------------------------------------------------------
    def pause_reading(self) -> None:
        self._paused_reading = True

    def resume_reading(self) -> None:
        if self._paused_reading:
            self._paused_reading = False
            self._wake()

    def is_reading(self) -> bool:
        return not self._paused_reading and not self._closing and not self._conn_lost

    # -- closing -----------------------------------------------------------------------------------
    def is_closing(self) -> bool:
        return self._closing or self._conn_lost

    def close(self) -> None:
        """Send what is buffered, then close the connection (FIN; or RST with unread data)."""
        if self._closing or self._conn_lost:
            return
        self._closing = True
        if not self._wbuf:
            self._loop.call_soon(self._finish_close, None)

    def abort(self) -> None:
        """Close at once: buffered data is dropped and the connection is reset."""
        if self._conn_lost:
            return
        self._wbuf.clear()
        self._sock.setsockopt(SOL_SOCKET, SO_LINGER, _LINGER_ABORT)
        self._finish_close(None)

    def _fatal(self, exc: Exception | None) -> None:
        self._wbuf.clear()
        self._finish_close(exc)

    def _finish_close(self, exc: Exception | None) -> None:
        if self._conn_lost:
            return
        self._conn_lost = True
        self._closing = True
        self._core.remove_waker(self._wake)
        self._sock.close()
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: Exception | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            if self._server is not None:
                self._server._detach(self)
                self._server = None


def _set_result_unless_cancelled(fut: asyncio.Future, result: Any) -> None:
    if not fut.cancelled():
        fut.set_result(result)


# ---- connecting ---------------------------------------------------------------------------------
def _family_of(host: str) -> int:
    return AF_INET6 if ":" in host else AF_INET


def _check_loop(stack: Host) -> asyncio.AbstractEventLoop:
    """The running loop, which must be one that can drive ``stack``'s runtime: tcplab's on the
    simulator; on TUN the standard loop, to which the link is attached here (``add_reader`` on
    the TUN descriptor) if it is not yet."""
    loop = asyncio.get_running_loop()
    runtime = stack.runtime
    if isinstance(runtime, SimRuntime) and not isinstance(loop, SimEventLoop):
        raise RuntimeError(
            f"host {stack.name!r} is on a simulated network, whose clock only tcplab's event loop "
            "moves: run the coroutine with tcplab.aio.run(main(), network), not asyncio.run()"
        )
    if isinstance(runtime, TunRuntime):
        if runtime.threaded:
            raise RuntimeError(
                f"host {stack.name!r} runs its TUN loop in a thread of its own (runtime.start()): "
                "tcplab.aio needs it in the event loop -- do not start() it, or use asyncio's own "
                "functions with tcplab.patch(host)"
            )
        if runtime.asyncio_loop is not loop:
            runtime.detach_asyncio()  # attached to a loop that is gone
            runtime.attach_asyncio(loop)
    return loop


T2 = TypeVar("T2")


async def _call(core: SocketCore, call: Callable[[], T2]) -> T2:
    """Make a core call the asyncio way: when it would block, await the socket's wake-ups until
    what it waits for can hold, then make it again."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            return call()
        except WouldBlock as wb:
            if core.ready(wb.until, wb.amount):
                continue
            fut = loop.create_future()

            def waker(fut: asyncio.Future = fut) -> None:
                if not fut.done():
                    fut.set_result(None)
                _notify(loop)

            core.add_waker(waker)
            try:
                if not core.ready(wb.until, wb.amount):
                    await fut
            finally:
                core.remove_waker(waker)


async def create_connection(
    protocol_factory: Callable[[], asyncio.Protocol],
    host: str,
    port: int,
    *,
    stack: Host,
    local_addr: tuple | None = None,
) -> tuple[TcplabTransport, asyncio.Protocol]:
    """``loop.create_connection`` on a tcplab host (``stack``)."""
    loop = _check_loop(stack)
    sock = Socket(stack, _family_of(host))
    core = sock.core
    try:
        sock.setblocking(False)
        if local_addr is not None:
            sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
            sock.bind(local_addr)
        try:
            await _call(core, lambda: core.connect((host, port)))
        except OSError as exc:
            if exc.errno is None:
                raise
            raise OSError(exc.errno, f"Connect call failed {(host, port)}: {os.strerror(exc.errno)}") from None
        protocol = protocol_factory()
        waiter = loop.create_future()
        transport = TcplabTransport(loop, sock, protocol, waiter)
        await waiter
        return transport, protocol
    except BaseException:
        sock.close()
        raise


async def open_connection(
    host: str, port: int, *, stack: Host, limit: int = _LIMIT, local_addr: tuple | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` on a tcplab host: real StreamReader / StreamWriter."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await create_connection(lambda: protocol, host, port, stack=stack, local_addr=local_addr)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    return reader, writer


# ---- serving ------------------------------------------------------------------------------------
class Server(asyncio.AbstractServer):
    """What ``start_server`` / ``create_server`` return (like ``asyncio.Server``)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, sockets: list[Socket], protocol_factory: Callable[[], asyncio.Protocol]
    ) -> None:
        self._loop = loop
        self._sockets = sockets
        self._factory = protocol_factory
        self._serving = False
        self._closed = False
        self._transports: set[TcplabTransport] = set()
        self._serving_forever: asyncio.Future | None = None
        self._close_waiters: list[asyncio.Future] = []
        self._scheduled = False

    def __repr__(self) -> str:
        return f"<tcplab.aio.Server sockets={[s.getsockname() for s in self._sockets]}>"

    @property
    def sockets(self) -> tuple[Socket, ...]:
        return tuple(self._sockets)

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        self._start()

    def _start(self) -> None:
        if self._serving or self._closed:
            return
        self._serving = True
        for sock in self._sockets:
            sock.add_waker(self._wake)
        self._wake()

    def _wake(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._accept_ready)
            _notify(self._loop)

    def _accept_ready(self) -> None:
        self._scheduled = False
        if not self._serving:
            return
        for sock in self._sockets:
            while True:
                try:
                    core, _addr = sock.core.accept()
                except OSError:  # WouldBlock: the queue is empty
                    break
                conn = Socket.from_core(core)
                conn.setblocking(False)
                TcplabTransport(self._loop, conn, self._factory(), server=self)

    def _attach(self, transport: TcplabTransport) -> None:
        self._transports.add(transport)

    def _detach(self, transport: TcplabTransport) -> None:
        self._transports.discard(transport)
        self._wake_close_waiters()

    def _wake_close_waiters(self) -> None:
        if self._closed and not self._transports:
            for fut in self._close_waiters:
                if not fut.done():
                    fut.set_result(None)
            self._close_waiters.clear()

    def close(self) -> None:
        """Stop listening (the listening sockets close); open connections stay."""
        if self._closed:
            return
        self._closed = True
        self._serving = False
        for sock in self._sockets:
            sock.remove_waker(self._wake)
            sock.close()
        if self._serving_forever is not None and not self._serving_forever.done():
            self._serving_forever.cancel()
        self._wake_close_waiters()

    def close_clients(self) -> None:
        for transport in list(self._transports):
            transport.close()

    def abort_clients(self) -> None:
        for transport in list(self._transports):
            transport.abort()

    async def wait_closed(self) -> None:
        """As asyncio.Server since Python 3.12.1: wait until closed and every connection
        accepted through it has been closed."""
        if self._closed and not self._transports:
            return
        fut = self._loop.create_future()
        self._close_waiters.append(fut)
        self._wake_close_waiters()
        await fut

    async def serve_forever(self) -> None:
        if self._serving_forever is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if self._closed:
            raise RuntimeError(f"server {self!r} is closed")
        self._start()
        self._serving_forever = self._loop.create_future()
        try:
            await self._serving_forever
        except asyncio.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever = None

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()


async def create_server(
    protocol_factory: Callable[[], asyncio.Protocol],
    host: str | None = None,
    port: int = 0,
    *,
    stack: Host,
    backlog: int = 100,
    reuse_address: bool = True,
    start_serving: bool = True,
) -> Server:
    """``loop.create_server`` on a tcplab host. ``host`` None or "" listens on every address
    family the host has (0.0.0.0 and ::), as asyncio does."""
    loop = _check_loop(stack)
    if host in (None, ""):
        families: list[int] = sorted({AF_INET6 if a.version == 6 else AF_INET for a in stack.addresses()})
        binds = [(f, "0.0.0.0" if f == AF_INET else "::") for f in families]
    else:
        binds = [(_family_of(host), host)]
    sockets: list[Socket] = []
    try:
        for family, addr in binds:
            sock = Socket(stack, family)
            sockets.append(sock)
            if reuse_address:
                sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
            if family == AF_INET6:  # asyncio's create_server: one socket per family
                sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)
            sock.bind((addr, port))
            if port == 0:
                port = sock.getsockname()[1]  # the same port on every family
            sock.setblocking(False)
            sock.listen(backlog)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    server = Server(loop, sockets, protocol_factory)
    if start_serving:
        server._start()
        await asyncio.sleep(0)
    return server


async def start_server(
    client_connected_cb: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None] | None],
    host: str | None = None,
    port: int = 0,
    *,
    stack: Host,
    limit: int = _LIMIT,
    backlog: int = 100,
    reuse_address: bool = True,
    start_serving: bool = True,
) -> Server:
    """``asyncio.start_server`` on a tcplab host: the callback gets real StreamReader and
    StreamWriter objects."""
    loop = asyncio.get_running_loop()

    def factory() -> asyncio.StreamReaderProtocol:
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        return asyncio.StreamReaderProtocol(reader, client_connected_cb, loop=loop)

    return await create_server(
        factory, host, port, stack=stack, backlog=backlog, reuse_address=reuse_address, start_serving=start_serving
    )

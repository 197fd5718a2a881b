"""Ordinary programs, written for Python's ``socket``/``selectors``/``asyncio``/``http.client``
and unchanged, on tcplab hosts on the simulated network (virtual time), with ``tcplab.patch``.
(tests/interop/test_programs.py runs them over TUN against curl and nc.)"""

from __future__ import annotations

import asyncio
import http.client
import selectors
import socket
import urllib.request

import pytest

import tcplab
from tcplab import aio
from tcplab.commands.serve import Session, _service
from tcplab.net.simhost import two_hosts
from tcplab.socket import Socket, SocketCore, Until, WouldBlock
from tcplab.tcp.states import State

ROUTES = ["198.18.0.0/24", "fd00::/64"]


# ---- the programs: plain Python, nothing of tcplab in them ----------------------------------------
def selectors_echo_server(port: int, connections: int) -> list[bytes]:
    """A single-threaded echo server on ``selectors`` with non-blocking sockets; returns what
    each connection sent once ``connections`` of them have closed."""
    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("", port))
    lsock.listen()
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    seen: dict[socket.socket, bytearray] = {}
    done: list[bytes] = []
    while len(done) < connections:
        for key, _ in sel.select(timeout=30):
            if key.data is None:
                conn, _addr = key.fileobj.accept()
                conn.setblocking(False)
                seen[conn] = bytearray()
                sel.register(conn, selectors.EVENT_READ, "conn")
                continue
            conn = key.fileobj
            data = conn.recv(4096)
            if data:
                seen[conn] += data
                conn.sendall(data)  # small: fits the send buffer
            else:
                sel.unregister(conn)
                conn.close()
                done.append(bytes(seen.pop(conn)))
    sel.close()
    lsock.close()
    return sorted(done)


async def asyncio_echo_server(port: int, ready: asyncio.Future) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, None, port)
    ready.set_result(None)
    return server


# ---- helpers that drive the other end on the simulation's events ------------------------------
def event_client(net, host, address, payload: bytes, result: dict) -> None:
    """A client driven by the simulation's events (no blocking calls): connect, send
    ``payload``, half-close, collect the answer until EOF into ``result[payload]``."""
    core = SocketCore(host)
    got = bytearray()
    state = {"sent": False}

    def step() -> None:
        try:
            core.connect(address)
        except WouldBlock:
            return
        except OSError as exc:
            if exc.errno != 106:  # EISCONN: connected earlier
                raise
        if not state["sent"]:
            state["sent"] = True  # before the calls: their own events call step() again
            core.send(payload)
            core.shutdown(socket.SHUT_WR)
        while True:
            try:
                data = core.recv(65536)
            except WouldBlock:
                return
            if not data:
                result[payload] = bytes(got)
                core.remove_waker(step)
                core.close()
                return
            got.extend(data)

    core.add_waker(step)
    net.call_later(0.0, step)


def event_http_server(net, host, port: int) -> list:
    """tcplab serve's HTTP responder, driven by the simulation's events."""
    lst = Socket(host)
    lst.bind(("198.18.0.2", port))
    lst.listen()
    lst.setblocking(False)
    sessions: list[Session] = []

    def on_accept() -> None:
        while lst.core.ready(Until.ACCEPTABLE):
            try:
                conn, _ = lst.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            session = Session(conn)
            sessions.append(session)
            conn.add_waker(lambda s=session: _service("http", s))

    lst.add_waker(on_accept)
    return sessions


# ---- the tests -------------------------------------------------------------------------------------
def test_selectors_echo_server_runs_unchanged_on_the_simulator():
    net, client, server = two_hosts()
    answers: dict[bytes, bytes] = {}
    payloads = [b"first client", b"second " * 100, b"third " * 1000]
    for i, payload in enumerate(payloads):
        net.call_at(0.1 * (i + 1), lambda p=payload: event_client(net, client, ("198.18.0.2", 7000), p, answers))
    with tcplab.patch(server, routes=ROUTES):
        got = selectors_echo_server(7000, len(payloads))
    assert got == sorted(payloads)
    net.run(until=net.now + 1)
    assert answers == {p: p for p in payloads}
    assert selectors.DefaultSelector is not None and socket.socket.__module__ == "socket"  # undone


def test_asyncio_start_server_runs_unchanged_under_tcplab_aio_run():
    net, client, server = two_hosts()

    async def main() -> list[bytes]:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        srv = await asyncio_echo_server(8888, ready)
        await ready
        answers = []
        for n in range(3):
            reader, writer = await aio.open_connection("198.18.0.2", 8888, stack=client)
            writer.write(b"line %d\nand another\n" % n)
            writer.write_eof()
            answers.append(await reader.read())
            writer.close()
        srv.close()
        await srv.wait_closed()
        return answers

    with tcplab.patch(server, routes=ROUTES):
        answers = aio.run(main(), net)
    assert answers == [b"LINE %d\nAND ANOTHER\n" % n for n in range(3)]


def test_http_client_and_urllib_run_unchanged_on_the_simulator():
    net, client, server = two_hosts()
    event_http_server(net, server, 8080)
    with tcplab.patch(client, routes=ROUTES):
        conn = http.client.HTTPConnection("198.18.0.2", 8080, timeout=30)
        conn.request("GET", "/first")
        first = conn.getresponse()
        body1 = first.read()
        conn.request("HEAD", "/second")  # the same connection (HTTP/1.1 keep-alive)
        second = conn.getresponse()
        second.read()
        port = conn.sock.getsockname()[1]
        conn.close()
        with urllib.request.urlopen("http://198.18.0.2:8080/via-urllib", timeout=30) as resp:
            body3 = resp.read()
            status3 = resp.status
    assert first.status == 200 and first.getheader("Server") == "tcplab"
    assert b"request: GET /first HTTP/1.1" in body1 and b"state: 1" in body1
    assert second.status == 200 and int(second.getheader("Content-Length")) > 0
    assert status3 == 200 and b"request: GET /via-urllib HTTP/1.1" in body3
    # the client's connections were tcplab's: in the client host's log, from its address
    labels = {e["conn"] for e in client.log.of_kind("state") if e["host"] == "client"}
    assert f"198.18.0.1:{port}-198.18.0.2:8080" in labels
    net.run(until=net.now + 120)
    assert all(ep.conn.state is State.CLOSED for ep in client.conns.values())


def test_the_patch_leaves_the_kernel_for_what_is_not_tcplabs():
    _net, _client, server = two_hosts()
    with tcplab.patch(server, routes=ROUTES):
        k = socket.socket()
        k.bind(("127.0.0.1", 0))  # the kernel's loopback: a kernel socket
        k.listen()
        assert k.stack == "kernel"  # what the patch chose
        c = socket.create_connection(k.getsockname(), timeout=5)  # and so is this
        a, _ = k.accept()
        c.sendall(b"kernel")
        assert a.recv(10) == b"kernel"
        for s in (a, c, k):
            s.close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # UDP: the kernel's
        assert u.stack == "kernel"
        u.close()
        t = socket.socket()
        assert t.stack is None  # not decided before bind/connect
        t.bind(("", 0))  # the wildcard: tcplab's
        assert t.stack == "tcplab"
        with pytest.raises(OSError):
            t.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x10)  # tcplab's options, tcplab's errors
        t.close()

"""asyncio streams on tcplab hosts, on the simulated network's virtual clock."""

from __future__ import annotations

import asyncio

import pytest

import tcplab.aio
import tcplab.asyncio
from tcplab.net.simhost import SimulationStalled, two_hosts
from tcplab.netstat import rows
from tcplab.tcp.states import State


@pytest.fixture
def bench():
    return two_hosts()


def test_same_module_under_both_names():
    assert tcplab.asyncio.open_connection is tcplab.aio.open_connection
    assert tcplab.asyncio.start_server is tcplab.aio.start_server


def test_echo_with_real_stream_objects(bench):
    net, client, server = bench
    seen = {}

    async def handle(reader, writer):
        seen["peer"] = writer.get_extra_info("peername")
        seen["sock"] = writer.get_extra_info("sockname")
        line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main():
        srv = await tcplab.aio.start_server(handle, "198.18.0.2", 9527, stack=server)
        reader, writer = await tcplab.aio.open_connection("198.18.0.2", 9527, stack=client)
        assert isinstance(reader, asyncio.StreamReader)
        assert isinstance(writer, asyncio.StreamWriter)
        writer.write(b"hello, tcp\n")
        await writer.drain()
        reply = await reader.read()
        me = writer.get_extra_info("sockname")
        assert writer.get_extra_info("peername") == ("198.18.0.2", 9527)
        writer.close()
        await writer.wait_closed()
        srv.close()
        await srv.wait_closed()
        return reply, me

    reply, me = tcplab.aio.run(main(), net)
    assert reply == b"HELLO, TCP\n"
    assert seen == {"peer": me, "sock": ("198.18.0.2", 9527)}


def test_write_eof_half_close(bench):
    net, client, server = bench

    async def handle(reader, writer):
        data = await reader.read()  # everything until the client's FIN
        writer.write(b"got %d bytes" % len(data))
        await writer.drain()
        writer.close()

    async def main():
        srv = await tcplab.aio.start_server(handle, "198.18.0.2", 9527, stack=server)
        reader, writer = await tcplab.aio.open_connection("198.18.0.2", 9527, stack=client)
        assert writer.can_write_eof()
        writer.write(b"x" * 300_000)
        writer.write_eof()
        await writer.drain()
        states = []
        reply = await reader.read()
        states.append(writer.transport.get_extra_info("socket").connection.state)
        writer.close()
        await writer.wait_closed()
        srv.close()
        return reply, states

    reply, states = tcplab.aio.run(main(), net)
    assert reply == b"got 300000 bytes"
    assert states == [State.TIME_WAIT]  # the client closed first (its FIN), the server after


def test_virtual_time_drives_the_loop(bench):
    net, _client, _server = bench

    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await asyncio.sleep(3600)
        return t0, loop.time()

    t0, t1 = tcplab.aio.run(main(), net)
    assert t1 - t0 == pytest.approx(3600)
    assert net.now == pytest.approx(3600)


def test_refused_and_timeouts(bench):
    net, client, _server = bench

    async def main():
        with pytest.raises(ConnectionRefusedError):
            await tcplab.aio.open_connection("198.18.0.2", 1, stack=client)
        net.links[0].set(loss=1.0)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(tcplab.aio.open_connection("198.18.0.2", 1, stack=client), timeout=5)
        return net.now

    assert tcplab.aio.run(main(), net) == pytest.approx(5, abs=0.1)


def test_peer_reset_reaches_the_reader(bench):
    net, client, server = bench

    async def handle(reader, writer):
        await reader.readexactly(2)
        writer.transport.abort()  # RST

    async def main():
        await tcplab.aio.start_server(handle, "198.18.0.2", 9527, stack=server)
        reader, writer = await tcplab.aio.open_connection("198.18.0.2", 9527, stack=client)
        writer.write(b"hi")
        with pytest.raises(ConnectionResetError):
            await reader.read(10)
        return True

    assert tcplab.aio.run(main(), net)


def test_deadlock_is_reported_not_hung(bench):
    net, client, server = bench

    async def handle(reader, writer):
        await reader.read()  # waits for a FIN that never comes

    async def main():
        await tcplab.aio.start_server(handle, "198.18.0.2", 9527, stack=server)
        reader, _writer = await tcplab.aio.open_connection("198.18.0.2", 9527, stack=client)
        await reader.read()  # nobody will ever send

    with pytest.raises(SimulationStalled):
        tcplab.aio.run(main(), net)


def test_server_listens_on_both_families(bench):
    net, client, server = bench

    async def handle(reader, writer):
        writer.write(await reader.read())
        writer.close()

    async def main():
        srv = await tcplab.aio.start_server(handle, None, 7, stack=server)
        assert sorted(s.getsockname()[0] for s in srv.sockets) == ["0.0.0.0", "::"]
        out = []
        for addr in ("198.18.0.2", "fd00::2"):
            reader, writer = await tcplab.aio.open_connection(addr, 7, stack=client)
            writer.write(addr.encode())
            writer.write_eof()
            out.append(await reader.read())
            writer.close()
        async with srv:
            pass
        return out

    assert tcplab.aio.run(main(), net) == [b"198.18.0.2", b"fd00::2"]
    net.run(until=net.now + 1)
    assert rows(server) == []  # listeners closed, the server's connections CLOSED (it closed last)
    assert [r.state for r in rows(client)] == ["TIME_WAIT", "TIME_WAIT"]

"""The non-blocking socket core: each call returns, raises OSError, or raises WouldBlock naming
what it waits for; made again once that can hold, it goes on. And no silent hangs: a blocking
call the simulation can never satisfy raises an error that says what it waited for."""

from __future__ import annotations

import asyncio
import errno
import threading

import pytest

from tcplab import aio
from tcplab.drill import run_file
from tcplab.net.simhost import SimulationStalled, two_hosts
from tcplab.socket import (
    MSG_WAITALL,
    SO_LINGER,
    SO_RCVBUF,
    SO_SNDBUF,
    SOL_SOCKET,
    RecvCall,
    SendCall,
    Socket,
    SocketCore,
    Until,
    WouldBlock,
)
from tcplab.tcp.states import State

SERVER = ("198.18.0.2", 9527)


def listening(server_host):
    lst = SocketCore(server_host)
    lst.bind(SERVER)
    lst.listen()
    return lst


def test_connect_accept_and_data_through_the_core_alone():
    net, client, server = two_hosts()
    lst = listening(server)
    with pytest.raises(WouldBlock) as wb:
        lst.accept()
    assert wb.value.until is Until.ACCEPTABLE and wb.value.errno == errno.EAGAIN
    cli = SocketCore(client)
    with pytest.raises(WouldBlock) as wb:
        cli.connect(SERVER)
    assert (wb.value.until, wb.value.errno) == (Until.CONNECTED, errno.EINPROGRESS)
    assert isinstance(wb.value, BlockingIOError)  # what a non-blocking Python socket raises
    with pytest.raises(WouldBlock) as wb:
        cli.connect(SERVER)
    assert (wb.value.until, wb.value.errno) == (Until.CONNECTED, errno.EALREADY)
    assert not cli.ready(Until.CONNECTED)
    net.run_until(lambda: cli.ready(Until.CONNECTED) and lst.ready(Until.ACCEPTABLE), timeout=5)
    cli.connect(SERVER)  # once: the handshake is over
    with pytest.raises(OSError) as exc:
        cli.connect(SERVER)
    assert exc.value.errno == errno.EISCONN
    conn, peer = lst.accept()
    assert peer == cli.getsockname()
    with pytest.raises(WouldBlock) as wb:
        conn.recv(10)
    assert wb.value.until is Until.READABLE
    assert cli.send(b"hello") == 5
    net.run_until(lambda: conn.ready(Until.READABLE), timeout=5)
    assert conn.recv(10) == b"hello"
    assert net.now == pytest.approx(0.04)  # SYN, SYN-ACK, ACK (accept at 0.03), data: 10 ms each


def test_wakers_fire_when_a_parked_call_can_go_on():
    net, client, server = two_hosts()
    lst = listening(server)
    woken = []
    lst.add_waker(lambda: woken.append("listener"))
    cli = SocketCore(client)
    cli.add_waker(lambda: woken.append("client"))
    with pytest.raises(WouldBlock):
        cli.connect(SERVER)
    net.run(until=net.now + 1)
    assert "client" in woken and "listener" in woken


def test_send_call_keeps_its_progress_across_restarts():
    net, client, server = two_hosts()
    lst = listening(server)
    cli = SocketCore(client)
    cli.setsockopt(SOL_SOCKET, SO_SNDBUF, 4096)  # 4096 bytes of send buffer
    with pytest.raises(WouldBlock):
        cli.connect(SERVER)
    net.run_until(lambda: cli.ready(Until.CONNECTED), timeout=5)
    cli.connect(SERVER)
    net.run_until(lambda: lst.ready(Until.ACCEPTABLE), timeout=5)
    conn, _ = lst.accept()
    data = bytes(range(256)) * 64  # 16 KiB
    call = SendCall(cli, data)
    restarts = 0
    got = bytearray()
    while True:
        try:
            assert call() == len(data)
            break
        except WouldBlock as wb:
            restarts += 1
            assert wb.until is Until.WRITABLE
            assert 0 < call.sent < len(data)
            while not cli.ready(wb.until):
                net.run(until=net.now + 0.01)
                while conn.ready(Until.READABLE):
                    got += conn.recv(100_000)
    net.run(until=net.now + 1)
    got += conn.recv(100_000)
    assert restarts >= 3 and bytes(got) == data


def test_recv_call_waitall_takes_data_as_it_comes():
    net, client, server = two_hosts()
    srv = Socket(server)
    srv.bind(SERVER)
    srv.listen()
    cli = Socket(client)
    cli.setsockopt(SOL_SOCKET, SO_RCVBUF, 3000)  # smaller than what MSG_WAITALL asks for
    cli.connect(SERVER)
    conn, _ = srv.accept()
    net.call_at(net.now + 1, lambda: conn.core.send(b"x" * 5000))
    net.call_at(net.now + 2, lambda: conn.core.send(b"y" * 5000))
    assert cli.recv(10_000, MSG_WAITALL) == b"x" * 5000 + b"y" * 5000
    call = RecvCall(cli.core, 10, MSG_WAITALL)
    conn.close()
    net.run(until=net.now + 1)
    assert call() == b""  # EOF ends a MSG_WAITALL


def test_linger_close_blocks_until_drained_with_a_deadline():
    net, client, server = two_hosts()
    lst = Socket(server)
    lst.bind(SERVER)
    lst.listen()
    cli = Socket(client)
    cli.connect(SERVER)
    lst.accept()
    cli.setsockopt(SOL_SOCKET, SO_LINGER, (1, 7))
    net.links[0].set(loss=1.0)  # the FIN is never acknowledged
    with pytest.raises(WouldBlock) as wb:
        cli.core.close()
    assert wb.value.until is Until.DRAINED
    assert wb.value.deadline == pytest.approx(net.now + 7)
    with pytest.raises(WouldBlock):
        cli.core.close()  # made again before the deadline: still lingering
    net.run(until=wb.value.deadline)
    cli.core.close()  # the linger time is over: close() returns
    assert cli.connection.state is State.FIN_WAIT_1  # the connection goes on as an orphan


def test_blocking_sendall_to_a_peer_that_never_reads_raises_instead_of_spinning():
    _net, client, server = two_hosts(horizon=600)
    srv = Socket(server)
    srv.bind(SERVER)
    srv.listen()
    cli = Socket(client)
    cli.connect(SERVER)
    _conn, _ = srv.accept()
    with pytest.raises(SimulationStalled) as exc:
        cli.sendall(b"z" * 10_000_000)
    text = str(exc.value)
    assert "sendall() on client 198.18.0.1:" in text and "waits until writable" in text
    assert "never reads" in text


def test_blocking_recv_when_nothing_can_ever_arrive_says_so():
    _net, client, server = two_hosts()
    srv = Socket(server)
    srv.bind(SERVER)
    srv.listen()
    cli = Socket(client)
    cli.connect(SERVER)
    srv.accept()
    with pytest.raises(SimulationStalled) as exc:
        cli.recv(10)
    assert "recv() on client" in str(exc.value) and "waits until readable" in str(exc.value)
    assert "ran out of events" in str(exc.value)


def test_a_timeout_longer_than_the_horizon_is_honoured():
    net, client, server = two_hosts(horizon=10)
    srv = Socket(server)
    srv.bind(SERVER)
    srv.listen()
    cli = Socket(client)
    cli.connect(SERVER)
    srv.accept()
    cli.settimeout(30)
    start = net.now
    with pytest.raises(TimeoutError):
        cli.recv(10)
    assert net.now - start == pytest.approx(30)


def test_asyncio_run_on_a_simulated_host_fails_at_once_saying_what_to_use():
    _net, client, _server = two_hosts()

    async def main():
        await aio.open_connection(*SERVER, stack=client)

    with pytest.raises(RuntimeError, match=r"tcplab\.aio\.run\(main\(\), network\), not asyncio\.run\(\)"):
        asyncio.run(main())


def test_asyncio_writer_to_a_peer_that_never_reads_raises_instead_of_spinning():
    net, client, server = two_hosts()

    async def main():
        await aio.start_server(lambda r, w: None, *SERVER, stack=server)
        _reader, writer = await aio.open_connection(*SERVER, stack=client)
        writer.write(b"w" * 5_000_000)
        await writer.drain()

    with pytest.raises(SimulationStalled, match="every asyncio task waited"):
        aio.run(main(), net, horizon=300)


def test_the_drill_parks_blocking_calls_without_threads(tmp_path):
    script = tmp_path / "blocking.pkt"
    script.write_text(
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
        "+0 bind(3, ..., ...) = 0\n"
        "+0 listen(3, 1) = 0\n"
        "+0...0.2 accept(3, ..., ...) = 4\n"
        "+.1 < S 0:0(0) win 65535 <mss 1000>\n"
        "+0 > S. 0:0(0) ack 1 <mss 1460>\n"
        "+.1 < . 1:1(0) ack 1 win 65535\n"
    )
    before = threading.active_count()
    seen = []
    real_start = threading.Thread.start

    def spy(self):
        seen.append(self.name)
        return real_start(self)

    threading.Thread.start = spy
    try:
        outcome = run_file(str(script))
    finally:
        threading.Thread.start = real_start
    assert outcome.status == "PASS", outcome.reason
    assert seen == [] and threading.active_count() == before

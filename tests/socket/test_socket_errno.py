"""Every errno of tcplab.socket, in the situations where Linux gives it."""

from __future__ import annotations

import errno

import pytest

from tcplab.net.simhost import two_hosts
from tcplab.socket import (
    IPPROTO_TCP,
    SHUT_RDWR,
    SHUT_WR,
    SO_ERROR,
    SO_LINGER,
    SO_SNDBUF,
    SOL_SOCKET,
    TCP_KEEPCNT,
    TCP_USER_TIMEOUT,
    Socket,
)
from tcplab.tcp.states import State

SERVER = ("198.18.0.2", 9527)


@pytest.fixture
def bench():
    return two_hosts()


def pair(bench, port=9527):
    _net, client, server = bench
    srv = Socket(server)
    srv.bind(("198.18.0.2", port))
    srv.listen()
    cli = Socket(client)
    cli.connect(("198.18.0.2", port))
    conn, _ = srv.accept()
    return srv, cli, conn


def raises(code, fn, *args):
    with pytest.raises(OSError) as exc:
        fn(*args)
    assert exc.value.errno == code, exc.value
    return exc.value


def test_econnrefused(bench):
    net, client, _server = bench
    s = Socket(client)
    e = raises(errno.ECONNREFUSED, s.connect, SERVER)
    assert isinstance(e, ConnectionRefusedError)
    assert s.connect_ex(SERVER) == errno.ECONNREFUSED  # the socket may try again (Linux)
    outcomes = [e["outcome"] for e in net.log.of_kind("outcome") if e["host"] == "client"]
    assert outcomes == ["refused", "refused"]


def test_etimedout_connect_after_syn_retries(bench):
    net, client, _server = bench
    net.links[0].set(loss=1.0)
    s = Socket(client)
    start = net.now
    raises(errno.ETIMEDOUT, s.connect, SERVER)
    # Linux 6.x: tcp_syn_retries 6 + tcp_syn_linear_timeouts 4 retransmissions, the first four
    # timeouts 1 s, then doubling: SYNs at 0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s and the error at
    # 67 + 64 = 131 s of virtual time (measured on this kernel: 11 SYNs, ETIMEDOUT at ~131-134 s)
    assert net.now - start == pytest.approx(131.0)
    assert [e["outcome"] for e in net.log.of_kind("outcome")] == ["timed out"]


def test_etimedout_user_timeout_on_established(bench):
    net, _client, _server = bench
    _srv, cli, _conn = pair(bench)
    cli.setsockopt(IPPROTO_TCP, TCP_USER_TIMEOUT, 5000)  # milliseconds
    assert cli.getsockopt(IPPROTO_TCP, TCP_USER_TIMEOUT) == 5000
    net.links[0].set(loss=1.0)
    cli.send(b"into the void")
    raises(errno.ETIMEDOUT, cli.recv, 10)
    assert cli.recv(10) == b""  # reported once; then EOF as Linux
    raises(errno.EPIPE, cli.send, b"x")


def test_econnreset_then_eof_then_epipe(bench):
    _net, _client, _server = bench
    _srv, cli, conn = pair(bench)
    conn.setsockopt(SOL_SOCKET, SO_LINGER, (1, 0))
    conn.close()
    e = raises(errno.ECONNRESET, cli.recv, 10)
    assert isinstance(e, ConnectionResetError)
    assert cli.recv(10) == b""
    raises(errno.EPIPE, cli.send, b"x")
    raises(errno.ENOTCONN, cli.getpeername)
    raises(errno.ENOTCONN, cli.shutdown, SHUT_RDWR)


def test_econnreset_on_send(bench):
    net, _client, _server = bench
    _srv, cli, conn = pair(bench)
    conn.setsockopt(SOL_SOCKET, SO_LINGER, (1, 0))
    conn.close()
    net.run(until=net.now + 1)
    raises(errno.ECONNRESET, cli.send, b"x")
    raises(errno.EPIPE, cli.send, b"x")


def test_epipe(bench):
    _net, client, _server = bench
    raises(errno.EPIPE, Socket(client).send, b"x")  # never connected (Linux: EPIPE)
    _srv, cli, _conn = pair(bench)
    cli.shutdown(SHUT_WR)
    e = raises(errno.EPIPE, cli.send, b"x")
    assert isinstance(e, BrokenPipeError)


def test_enotconn(bench):
    _net, client, server = bench
    s = Socket(client)
    raises(errno.ENOTCONN, s.recv, 1)
    raises(errno.ENOTCONN, s.getpeername)
    raises(errno.ENOTCONN, s.shutdown, SHUT_WR)
    listener = Socket(server)
    listener.bind(("", 80))
    listener.listen()
    raises(errno.ENOTCONN, listener.recv, 1)


def test_eaddrinuse_and_eaddrnotavail(bench):
    _net, _client, server = bench
    a = Socket(server)
    a.bind(("198.18.0.2", 80))
    raises(errno.EADDRINUSE, Socket(server).bind, ("198.18.0.2", 80))
    raises(errno.EADDRNOTAVAIL, Socket(server).bind, ("198.18.0.1", 80))  # the client's


def test_einval(bench):
    _net, client, _server = bench
    _srv, cli, _conn = pair(bench)
    raises(errno.EINVAL, cli.listen)  # listen() on a connected socket
    raises(errno.EINVAL, cli.accept)  # accept() on a socket that is not listening
    raises(errno.EINVAL, cli.bind, ("198.18.0.1", 0))  # already bound
    raises(errno.EINVAL, cli.shutdown, 7)
    raises(errno.EINVAL, cli.setsockopt, IPPROTO_TCP, TCP_KEEPCNT, 0)
    raises(errno.EINVAL, Socket(client).accept)


def test_eisconn(bench):
    _net, _client, _server = bench
    srv, cli, _conn = pair(bench)
    raises(errno.EISCONN, cli.connect, SERVER)
    raises(errno.EISCONN, srv.connect, ("198.18.0.1", 80))  # a listening socket


def test_einprogress_ealready_then_so_error_and_connect_again(bench):
    net, client, server = bench
    srv = Socket(server)
    srv.bind(SERVER)
    srv.listen()
    s = Socket(client)
    s.setblocking(False)
    raises(errno.EINPROGRESS, s.connect, SERVER)
    raises(errno.EALREADY, s.connect, SERVER)
    assert s.connect_ex(SERVER) == errno.EALREADY
    assert not s.writable()
    net.run_until(s.writable, timeout=5)
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == 0
    s.connect(SERVER)  # Linux: the connect() after completion succeeds once ...
    raises(errno.EISCONN, s.connect, SERVER)  # ... then EISCONN


def test_nonblocking_connect_refused_reports_so_error_once(bench):
    net, client, _server = bench
    s = Socket(client)
    s.setblocking(False)
    raises(errno.EINPROGRESS, s.connect, SERVER)
    net.run_until(s.writable, timeout=5)
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == errno.ECONNREFUSED
    assert s.getsockopt(SOL_SOCKET, SO_ERROR) == 0  # reading SO_ERROR clears it


def test_eagain(bench):
    _net, _client, _server = bench
    srv, cli, conn = pair(bench)
    for s in (srv, cli, conn):
        s.setblocking(False)
    raises(errno.EAGAIN, srv.accept)
    e = raises(errno.EAGAIN, conn.recv, 10)
    assert isinstance(e, BlockingIOError)
    cli.setsockopt(SOL_SOCKET, SO_SNDBUF, 4096)
    sent = 0
    with pytest.raises(BlockingIOError) as exc:
        while True:
            sent += cli.send(b"x" * 1000)
    assert exc.value.errno == errno.EAGAIN
    assert sent == cli.connection.config.snd_buf  # exactly what the send buffer holds


def test_ebadf(bench):
    _net, client, _server = bench
    s = Socket(client)
    s.close()
    s.close()  # closing twice is fine, as in Python
    for call, args in (
        (s.recv, (1,)),
        (s.send, (b"x",)),
        (s.connect, (SERVER,)),
        (s.bind, (("", 0),)),
        (s.listen, ()),
        (s.accept, ()),
        (s.shutdown, (SHUT_RDWR,)),
        (s.getsockname, ()),
        (s.getsockopt, (SOL_SOCKET, SO_ERROR)),
    ):
        raises(errno.EBADF, call, *args)


def test_timeouts_raise_timeouterror(bench):
    net, _client, _server = bench
    _srv, cli, _conn = pair(bench)
    cli.settimeout(2.5)
    start = net.now
    with pytest.raises(TimeoutError, match="timed out"):
        cli.recv(10)
    assert net.now - start == pytest.approx(2.5)  # virtual time
    assert cli.connection.state is State.ESTABLISHED
    with pytest.raises(ValueError):
        cli.settimeout(-1)


def test_connect_ex_timeout_is_eagain_then_ealready(bench):
    net, client, _server = bench
    net.links[0].set(loss=1.0)
    s = Socket(client)
    s.settimeout(2)
    assert s.connect_ex(SERVER) == errno.EAGAIN  # CPython: EWOULDBLOCK on a timeout
    raises(errno.EALREADY, s.connect, SERVER)
    s.setblocking(False)
    raises(errno.EAGAIN, s.send, b"x")  # Linux: still connecting, non-blocking
    raises(errno.EAGAIN, s.recv, 1)


def test_blocking_call_that_can_never_finish_raises_simulation_stalled(bench):
    from tcplab.net.simhost import SimulationStalled

    _srv, cli, _conn = pair(bench)
    with pytest.raises(SimulationStalled, match="deadlock"):
        cli.recv(10)  # nobody sends, no timer runs: no event can ever wake it

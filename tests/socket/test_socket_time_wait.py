"""A socket the application still holds once its connection is in TIME-WAIT, beside the kernel's
socket in the same situation (the benches of test_socket_kernel.py): Linux's full socket is done
then (tcp_time_wait -> tcp_done), the connection living on in a timewait sock; tcplab's engine
keeps its connection in TIME_WAIT and the socket shows what Linux's shows
(Config.time_wait_socket, notes/quickack-reentry.md)."""

from __future__ import annotations

import socket

from tcplab.socket import IPPROTO_TCP, SHUT_RD, SHUT_WR, SO_ERROR, SOL_SOCKET, TCP_INFO

from .test_socket_kernel import both, errno_of

TCP_CLOSE, TCP_FIN_WAIT2 = 7, 5


def _state(s) -> int:
    return s.getsockopt(IPPROTO_TCP, TCP_INFO, 8)[0]


def _what_it_shows(b, s) -> list:
    s.setblocking(False)
    return [
        _state(s),
        s.getsockopt(SOL_SOCKET, SO_ERROR),
        b.readable(s),
        b.writable(s),
        errno_of(s.getpeername),
        errno_of(lambda: s.getsockname()[1] > 0),
        errno_of(lambda: s.recv(100)),
        errno_of(lambda: s.recv(100)),
        errno_of(lambda: s.send(b"x")),
        s.getsockopt(SOL_SOCKET, SO_ERROR),
        errno_of(lambda: s.shutdown(SHUT_RD)),
        _state(s),
    ]


def test_after_fin_wait_2_the_socket_reads_closed():
    """Measured on the loopback and over TUN (notes/kprobe-quickack/t_tw_socket.py): tcpi_state
    TCP_CLOSE, SO_ERROR 0, readable and writable (poll: IN|OUT|HUP|RDHUP), getpeername
    ENOTCONN, getsockname the address still, what was left then EOF, send EPIPE, shutdown
    ENOTCONN."""

    def story(b):
        _lst, cli, srv = b.pair()
        cli.shutdown(SHUT_WR)
        b.settle()
        seen = [_state(cli), srv.recv(10)]
        srv.sendall(b"last")
        srv.close()
        b.settle()
        return seen + _what_it_shows(b, cli)

    kernel, tcplab = both(story)
    assert kernel[:10] == [TCP_FIN_WAIT2, b"", TCP_CLOSE, 0, True, True, "ENOTCONN", True, b"last", b""]
    assert kernel[10:] == ["EPIPE", 0, "ENOTCONN", TCP_CLOSE]
    assert tcplab == kernel


def test_the_connection_is_still_in_time_wait():
    """What the socket no longer shows, the host still has: the connection (ss: TIME-WAIT)."""
    from tcplab.net.simhost import two_hosts
    from tcplab.socket import Socket

    net, client, server = two_hosts()
    lst = Socket(server)
    lst.bind(("198.18.0.2", 0))
    lst.listen()
    cli = Socket(client)
    cli.connect(lst.getsockname())
    srv, _ = lst.accept()
    cli.shutdown(socket.SHUT_WR)
    net.run(until=net.now + 0.05)
    srv.close()
    net.run(until=net.now + 0.05)
    assert _state(cli) == TCP_CLOSE
    assert cli.core.connection.state.name == "TIME_WAIT"

"""What thousands of idle sockets share instead of holding each its own: the options nobody
set (a new socket's defaults, an accepted socket's listener's, copied at the first change),
the endpoint's label (worked out when asked for), the addresses their connections have in
common. Sharing must never show: each socket's options stay its own."""

from __future__ import annotations

from tcplab.host import conn_label
from tcplab.net.simhost import two_hosts
from tcplab.socket import (
    AF_INET6,
    IPPROTO_IPV6,
    IPPROTO_TCP,
    IPV6_V6ONLY,
    SO_RCVBUF,
    SO_REUSEADDR,
    SOL_SOCKET,
    TCP_CONGESTION,
    TCP_MAXSEG,
    TCP_NODELAY,
    Socket,
)


def test_options_are_shared_until_a_socket_changes_one():
    _net, client, _server = two_hosts()
    a, b = Socket(client), Socket(client)
    assert a.core.options is b.core.options  # nobody set anything: one object for all
    a.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    assert a.core.options is not b.core.options
    assert a.getsockopt(SOL_SOCKET, SO_REUSEADDR) == 1 and b.getsockopt(SOL_SOCKET, SO_REUSEADDR) == 0
    assert Socket(client).getsockopt(SOL_SOCKET, SO_REUSEADDR) == 0  # the defaults did not change
    a.setsockopt(IPPROTO_TCP, TCP_MAXSEG, 1000)
    assert a.getsockopt(SOL_SOCKET, SO_REUSEADDR) == 1  # the copy keeps what was set before
    six = Socket(client, AF_INET6)
    assert six.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY) == 0
    six.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)
    assert Socket(client, AF_INET6).getsockopt(IPPROTO_IPV6, IPV6_V6ONLY) == 0


def test_an_accepted_socket_shares_its_listeners_options_until_either_changes_one():
    _net, client, server = two_hosts()
    lst = Socket(server)
    lst.setsockopt(SOL_SOCKET, SO_RCVBUF, 65536)
    lst.setsockopt(IPPROTO_TCP, TCP_CONGESTION, b"reno")
    lst.bind(("", 80))
    lst.listen()
    socks = []
    for _ in range(2):
        c = Socket(client)
        c.connect(("198.18.0.2", 80))
        socks.append(lst.accept()[0])
    one, two = socks
    assert one.core.options is two.core.options is lst.core.options
    assert one.getsockopt(SOL_SOCKET, SO_RCVBUF) == 131072  # inherited (doubled, as Linux)
    # the listener changes an option: its children keep what they were accepted with
    lst.setsockopt(SOL_SOCKET, SO_RCVBUF, 8192)
    assert lst.getsockopt(SOL_SOCKET, SO_RCVBUF) == 16384
    assert one.getsockopt(SOL_SOCKET, SO_RCVBUF) == two.getsockopt(SOL_SOCKET, SO_RCVBUF) == 131072
    # a child changes one: the other child and the listener do not see it
    one.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
    assert one.getsockopt(IPPROTO_TCP, TCP_NODELAY) == 1
    assert two.getsockopt(IPPROTO_TCP, TCP_NODELAY) == 0 and lst.getsockopt(IPPROTO_TCP, TCP_NODELAY) == 0
    assert one.getsockopt(IPPROTO_TCP, TCP_CONGESTION, 16).rstrip(b"\0") == b"reno"  # kept in the copy


def test_endpoints_and_connections_share_what_they_have_in_common():
    _net, client, server = two_hosts()
    lst = Socket(server)
    lst.bind(("", 80))
    lst.listen()
    clients, accepted = [], []
    for _ in range(3):
        c = Socket(client)
        c.connect(("198.18.0.2", 80))
        clients.append(c)
        accepted.append(lst.accept()[0])
    # a client's server, a listener's own address: one tuple, one string for all
    assert clients[0].connection.remote is clients[1].connection.remote is clients[2].connection.remote
    assert accepted[0].connection.local is accepted[2].connection.local
    assert clients[0].connection.remote[0] is clients[1].connection.remote[0]
    for sock in clients + accepted:
        ep = sock.core.endpoint
        assert ep.owner is sock.core  # whom the host wakes
        assert ep.label == conn_label(ep.conn.local, ep.conn.remote)
    clients[0].close()
    assert clients[0].core.endpoint.owner is None  # closed: nobody to wake
    assert str(clients[0].core.endpoint.label).startswith("198.18.0.1:")  # still named in TIME_WAIT

"""Connections share one read-only Config (Config.read_only, Host.conn_config); a socket option
on one connection changes that connection alone (Connection.reconfigure, copy-on-write)."""

from __future__ import annotations

import pytest

from tcplab.net.simhost import two_hosts
from tcplab.socket import IPPROTO_TCP, SO_KEEPALIVE, SOL_SOCKET, TCP_NODELAY, Socket
from tcplab.tcp import Config
from tcplab.tcp.config import ReadOnlyConfig
from tcplab.tcp.connection import Connection

SERVER = ("198.18.0.2", 9527)


def connected(n=2):
    net, client, server = two_hosts()
    lst = Socket(server)
    lst.bind(SERVER)
    lst.listen()
    clients = []
    for _ in range(n):
        c = Socket(client)
        c.connect(SERVER)
        clients.append(c)
    servers = [lst.accept()[0] for _ in range(n)]
    net.run(until=net.now + 1)
    return net, clients, servers


def test_a_read_only_config_cannot_change_and_copies_are_writable():
    shared = Config(mss=1200).read_only()
    with pytest.raises(AttributeError, match="copy"):
        shared.mss = 1000
    assert shared.mss == 1200
    own = shared.copy(nodelay=True)
    assert type(own) is Config and own.mss == 1200 and own.nodelay
    own.mss = 1000  # a copy is the caller's
    assert shared.mss == 1200


def test_a_connection_keeps_a_read_only_config_and_copies_a_plain_one():
    shared = Config().read_only()
    assert Connection(shared).config is shared
    plain = Config()
    conn = Connection(plain)
    assert conn.config is not plain
    plain.nodelay = True  # the caller's later change reaches nobody's connection
    assert not conn.config.nodelay


def test_connections_made_alike_share_one_config():
    _, clients, servers = connected(3)
    configs = {id(s.core.connection.config) for s in clients}
    assert len(configs) == 1
    assert isinstance(clients[0].core.connection.config, ReadOnlyConfig)
    assert len({id(s.core.connection.config) for s in servers}) == 1


def test_a_socket_option_changes_its_own_connection_only():
    _, (a, b), _ = connected(2)
    before = b.core.connection.config
    a.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
    a.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1)
    assert a.core.connection.config.nodelay and a.core.connection.config.keepalive
    assert a.getsockopt(SOL_SOCKET, SO_KEEPALIVE) == 1
    assert b.core.connection.config is before  # untouched
    assert not before.nodelay and not before.keepalive
    assert b.getsockopt(IPPROTO_TCP, TCP_NODELAY) == 0


def test_a_changed_host_setting_makes_a_new_shared_config():
    _, client, _ = two_hosts()
    first = client.conn_config("198.18.0.1")
    assert client.conn_config("198.18.0.1") is first
    client.config.nodelay = True  # as a sysctl would
    second = client.conn_config("198.18.0.1")
    assert second is not first and second.nodelay and not first.nodelay
    assert client.conn_config("198.18.0.1", changes={"keepalive": True}).keepalive

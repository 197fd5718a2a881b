"""ISNs and ephemeral ports are unpredictable from outside (RFC 6528, RFC 6056): each host keys
them with its own secret from os.urandom unless a simulation or a test injects one."""

from __future__ import annotations

from tcplab.host import Host
from tcplab.net.simhost import two_hosts
from tcplab.socket import Socket
from tcplab.tcp import Config, Connection

LOCAL, REMOTE = ("198.18.0.2", 9527), ("198.18.0.1", 40000)


def _first_port(host: Host) -> int:
    return host.pick_connect_port("198.18.0.2", ("198.18.0.1", 80)) or 0


def test_two_hosts_with_the_same_name_do_not_share_isns_or_ports():
    # The attack: knowing the TUN name (and so the host's name) predicted every ISN and port.
    a = Host("tlab0", ["198.18.0.2"])
    b = Host("tlab0", ["198.18.0.2"])
    assert a.isn_secret != b.isn_secret
    assert len(a.isn_secret) == 32
    isns_a = [a.isn(LOCAL, (REMOTE[0], p), 1.0) for p in range(40000, 40004)]
    isns_b = [b.isn(LOCAL, (REMOTE[0], p), 1.0) for p in range(40000, 40004)]
    assert isns_a != isns_b
    ports_a = [_first_port(a) for _ in range(4)]
    ports_b = [_first_port(b) for _ in range(4)]
    assert ports_a != ports_b


def test_the_tun_commands_hosts_are_keyed_at_random():
    # tcplab serve / connect build their host like this (commands/tunhost.py): no seed, no secret.
    from tcplab.net.tun import host_for_link

    class Link:
        def host_addresses(self) -> list[str]:
            return ["198.18.0.2", "fd00::2"]

    assert host_for_link(Link()).isn_secret != host_for_link(Link()).isn_secret


def test_a_seed_or_a_secret_makes_a_run_reproducible():
    assert Host("h", ["198.18.0.2"], seed=3).isn_secret == Host("h", ["198.18.0.2"], seed=3).isn_secret
    assert Host("h", ["198.18.0.2"], seed=3).isn_secret != Host("h", ["198.18.0.2"], seed=4).isn_secret
    assert Host("h", ["198.18.0.2"], isn_secret=b"k" * 32).isn_secret == b"k" * 32
    # The simulator's bench seeds its hosts: the same seed gives the same handshake.
    isss = []
    for _ in range(2):
        _net, client, server = two_hosts(seed=5)
        srv = Socket(server)
        srv.bind(("", 9527))
        srv.listen()
        c = Socket(client)
        c.connect(("198.18.0.2", 9527))
        conn, _ = srv.accept()
        isss.append((c.connection.iss, conn.connection.iss, c.getsockname()[1]))
    assert isss[0] == isss[1]


def test_a_bare_connection_never_uses_a_constant_secret():
    # Without isn= or iss=, two engines for the same 4-tuple at the same instant choose different
    # ISNs (before: both used the built-in key b"tcplab-default-isn-secret").
    isss = set()
    for _ in range(3):
        conn = Connection(Config(), local=REMOTE, remote=LOCAL)
        conn.connect(now=0.0)
        isss.add(conn.iss)
    assert len(isss) == 3

"""A host listening on one port over IPv4 and IPv6 (the host tests that feed it raw packets)."""

from __future__ import annotations

from tcplab.host import Host
from tcplab.socket import AF_INET6, IPPROTO_IPV6, IPV6_V6ONLY, Socket
from tcplab.trace.events import EventLog

SERVER, SERVER6 = "198.18.0.2", "fd00::2"
PORT = 9527


def listening_host() -> Host:
    """Host "server" (seed 1, whole trace) with a listener on ``PORT`` for each family: the IPv6
    one IPV6_V6ONLY beside the IPv4 one, as Python's create_server does."""
    host = Host("server", [SERVER, SERVER6], log=EventLog(), seed=1)
    for family, ip in ((None, ""), (AF_INET6, "::")):
        sock = Socket(host) if family is None else Socket(host, family)
        if family == AF_INET6:
            sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)
        sock.bind((ip, PORT))
        sock.listen(8)
    return host

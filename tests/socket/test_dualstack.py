"""AF_INET6 sockets are dual-stack, as Linux's with net.ipv6.bindv6only = 0: "::" takes IPv4 too,
an IPv4-mapped address (::ffff:a.b.c.d) is IPv4 on the wire, and "::" shares its port with no
IPv4 socket. The same story on the kernel (loopback) and on tcplab (simulator) side by side;
then the packets tcplab sends."""

from __future__ import annotations

import errno
import pathlib
import socket
from collections.abc import Callable
from typing import Any

import pytest

from tcplab.net.simhost import two_hosts
from tcplab.socket import (
    AF_INET,
    AF_INET6,
    IPPROTO_IPV6,
    IPV6_V6ONLY,
    SO_REUSEADDR,
    SOL_SOCKET,
    Socket,
)
from tcplab.tcp.config import Config
from tcplab.wire.ip import parse_packet
from tcplab.wire.tcp import MSS


def errno_of(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, exc.errno)


def story(make: Callable[[int, bool], Any], v4: str, v6: str) -> list[Any]:
    """What an application sees; ``make(family, v6only)``; ``v4``/``v6``: the host's addresses.
    Addresses in the results are named V4, MAPPED, V6 so both stacks' runs compare."""
    names = {v4: "V4", f"::ffff:{v4}": "MAPPED", v6: "V6"}

    def addr(sa: tuple) -> tuple:
        return (names.get(sa[0], sa[0]), *sa[2:])  # the port is the stack's choice

    seen: list[Any] = []
    dual = make(AF_INET6, False)
    seen.append(dual.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY))
    dual.bind(("::", 0))
    port = dual.getsockname()[1]
    seen.append(errno_of(lambda: dual.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)))
    # "::" dual-stack holds the IPv4 port: 0.0.0.0 and the IPv4 address conflict, "::" too
    for family, ip, v6only in ((AF_INET, "0.0.0.0", False), (AF_INET, v4, False), (AF_INET6, "::", True)):
        other = make(family, v6only)
        seen.append(errno_of(lambda o=other, a=(ip, port): o.bind(a)))
        other.close()
    dual.listen()
    # an IPv4 client reaches it; the accepted socket names both ends IPv4-mapped
    cli4 = make(AF_INET, False)
    cli4.connect((v4, port))
    conn, peer = dual.accept()
    seen += [addr(peer), addr(conn.getsockname()), conn.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY)]
    cli4.sendall(b"over IPv4")
    seen.append(conn.recv(100))
    # an AF_INET6 client connecting to the mapped address is an IPv4 connection
    cli6 = make(AF_INET6, False)
    cli6.connect((f"::ffff:{v4}", port))
    conn2, peer2 = dual.accept()
    seen += [addr(cli6.getsockname()), addr(cli6.getpeername()), addr(peer2)]
    # ... whose port no IPv4 socket nor dual "::" may take; an IPv6-only "::" may
    taken = cli6.getsockname()[1]
    for family, ip, v6only in ((AF_INET, "0.0.0.0", False), (AF_INET6, "::", False), (AF_INET6, "::", True)):
        other = make(family, v6only)
        seen.append(errno_of(lambda o=other, a=(ip, taken): o.bind(a)))
        other.close()
    # IPV6_V6ONLY: the mapped address is out of reach
    only = make(AF_INET6, True)
    seen.append(errno_of(lambda: only.bind((f"::ffff:{v4}", 0))))
    seen.append(errno_of(lambda: only.connect((f"::ffff:{v4}", port))))
    # bound to a mapped address, an IPv6 peer is another family; bound to IPv6, a mapped one
    # is unreachable
    mapped = make(AF_INET6, False)
    mapped.bind((f"::ffff:{v4}", 0))
    seen += [addr(mapped.getsockname()), errno_of(lambda: mapped.connect((v6, port)))]
    bound6 = make(AF_INET6, False)
    bound6.bind((v6, 0))
    seen.append(errno_of(lambda: bound6.connect((f"::ffff:{v4}", port))))
    # with SO_REUSEADDR both may bind, only one may listen
    a, b = make(AF_INET6, False), make(AF_INET, False)
    for s in (a, b):
        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    a.bind(("::", 0))
    seen.append(errno_of(lambda: b.bind(("0.0.0.0", a.getsockname()[1]))))
    seen += [errno_of(a.listen), errno_of(b.listen)]
    for s in (dual, cli4, conn, cli6, conn2, only, mapped, bound6, a, b):
        s.close()
    return seen


def kernel_make(family: int, v6only: bool) -> Any:
    s = socket.socket(family, socket.SOCK_STREAM)
    if v6only:
        s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)
    return s


def tcplab_make(host: Any) -> Callable[[int, bool], Any]:
    def make(family: int, v6only: bool) -> Any:
        s = Socket(host, family)
        if v6only:
            s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1)
        return s

    return make


def test_dual_stack_story_as_the_kernel() -> None:
    if pathlib.Path("/proc/sys/net/ipv6/bindv6only").read_text().strip() != "0":
        pytest.skip("this kernel has net.ipv6.bindv6only = 1; the story is Linux's default")
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        kernel = story(kernel_make, "127.0.0.1", "::1")
    except OSError as exc:
        pytest.skip(f"the loopback has no IPv6 here: {exc}")
    _net, _client, server = two_hosts()
    tcplab = story(tcplab_make(server), "198.18.0.2", "fd00::2")
    assert kernel[:5] == [0, "EINVAL", "EADDRINUSE", "EADDRINUSE", "EADDRINUSE"]
    assert kernel[5:9] == [("MAPPED", 0, 0), ("MAPPED", 0, 0), 0, b"over IPv4"]
    assert kernel[12:15] == ["EADDRINUSE", "EADDRINUSE", None]
    assert kernel[15:17] == ["EINVAL", "ENETUNREACH"]
    assert kernel[18:] == ["EAFNOSUPPORT", "ENETUNREACH", None, None, "EADDRINUSE"]
    assert tcplab == kernel


class Tap:
    """The packets the simulated network carried."""

    def __init__(self) -> None:
        self.packets: list[Any] = []

    def write(self, packet: bytes, t: float, comment: str | None = None, interface: str | None = None) -> None:
        self.packets.append(parse_packet(packet))


def test_mapped_connect_speaks_ipv4_with_ipv4_mss() -> None:
    net, client, server = two_hosts()
    tap = net.capture(Tap())
    lst = Socket(server, AF_INET)
    lst.bind(("0.0.0.0", 80))
    lst.listen()
    cli = Socket(client, AF_INET6)
    cli.connect(("::ffff:198.18.0.2", 80))
    srv, peer = lst.accept()
    assert peer == ("198.18.0.1", cli.getsockname()[1])  # the listener is AF_INET: plain IPv4
    syn = tap.packets[0]
    assert syn.header.version == 4
    assert (str(syn.header.src), str(syn.header.dst)) == ("198.18.0.1", "198.18.0.2")
    assert syn.tcp.syn and not syn.tcp.has_ack
    mss = syn.tcp.option(MSS)
    assert mss is not None and mss.value == 1460  # IPv4's (an IPv6 connection offers 1440)
    cli.sendall(b"x" * 3000)
    assert srv.recv(3000, socket.MSG_WAITALL) == b"x" * 3000
    assert {p.header.version for p in tap.packets} == {4}
    assert cli.core.connection.local == ("198.18.0.1", cli.getsockname()[1])


def test_bindv6only_sets_the_default() -> None:
    _net, client, server = two_hosts(config=Config(bindv6only=1))
    s = Socket(server, AF_INET6)
    assert s.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY) == 1
    s.bind(("::", 80))
    s.listen()
    v4 = Socket(server, AF_INET)
    v4.bind(("0.0.0.0", 80))  # "::" is IPv6-only: the IPv4 port is free
    cli = Socket(client, AF_INET)
    assert cli.connect_ex(("198.18.0.2", 81)) == errno.ECONNREFUSED
    assert errno_of(lambda: Socket(client, AF_INET6).connect(("::ffff:198.18.0.2", 80))) == "ENETUNREACH"


def test_create_server_is_ipv6_only_unless_dualstack_as_python() -> None:
    from tcplab.socket import module

    _net, client, server = two_hosts()
    assert module.has_dualstack_ipv6()
    only = module.create_server(("::", 80), family=AF_INET6, host=server)
    assert only.getsockopt(IPPROTO_IPV6, IPV6_V6ONLY) == 1
    assert Socket(client).connect_ex(("198.18.0.2", 80)) == errno.ECONNREFUSED
    dual = module.create_server(("::", 81), family=AF_INET6, dualstack_ipv6=True, host=server)
    cli = Socket(client)
    cli.connect(("198.18.0.2", 81))
    _conn, peer = dual.accept()
    assert peer == ("::ffff:198.18.0.1", cli.getsockname()[1], 0, 0)
    with pytest.raises(ValueError, match="requires AF_INET6"):
        module.create_server(("", 82), dualstack_ipv6=True, host=server)

"""Option levels an AF_INET socket does not have, and TCP_QUICKACK, beside the kernel's socket in
the same situation (the benches of test_socket_kernel.py)."""

from __future__ import annotations

import errno
import socket

from tcplab.socket import IPPROTO_IPV6, IPPROTO_TCP, IPV6_V6ONLY, TCP_QUICKACK

from .test_socket_kernel import both, errno_of

EOPNOTSUPP = errno.errorcode[errno.EOPNOTSUPP]  # (named ENOTSUP, its alias, by the errno module)
SOL_UDP = 17
SOL_RAW = 255


def test_levels_an_ipv4_socket_lacks():
    """Linux: an AF_INET TCP socket passes levels other than SOL_SOCKET and SOL_TCP to
    ip_getsockopt / ip_setsockopt, which answer EOPNOTSUPP / ENOPROTOOPT for any level but SOL_IP
    (so getsockopt(IPPROTO_IPV6, IPV6_V6ONLY) is EOPNOTSUPP); an AF_INET6 socket's
    ipv6_getsockopt answers ENOPROTOOPT for options it does not know."""

    def story(b):
        s = b.socket()
        seen = []
        for level, name in ((IPPROTO_IPV6, IPV6_V6ONLY), (IPPROTO_IPV6, 9999), (SOL_UDP, 1), (SOL_RAW, 1)):
            seen.append(
                (
                    level,
                    name,
                    errno_of(lambda level=level, name=name: s.getsockopt(level, name)),
                    errno_of(lambda level=level, name=name: s.setsockopt(level, name, 1)),
                )
            )
        seen.append(errno_of(lambda: s.getsockopt(socket.SOL_SOCKET, 9999)))
        seen.append(errno_of(lambda: s.getsockopt(IPPROTO_TCP, 9999)))
        return seen

    kernel, tcplab = both(story)
    assert kernel[0] == (IPPROTO_IPV6, IPV6_V6ONLY, EOPNOTSUPP, "ENOPROTOOPT")
    assert kernel[-2:] == ["ENOPROTOOPT", "ENOPROTOOPT"]
    assert tcplab == kernel


def test_tcp_quickack_reads_back_what_ping_pong_mode_is():
    """getsockopt(TCP_QUICKACK) is !inet_csk_in_pingpong_mode: 1 on a new socket; 0 once set
    to 0; 1 again when set to 1 or 2 with no ACK pending (an even value enters ping-pong mode
    again only after sending a pending ACK)."""

    def story(b):
        seen = []
        s = b.socket()
        seen.append(s.getsockopt(IPPROTO_TCP, TCP_QUICKACK))
        for v in (0, 1, 0, 2, 0, 5):
            s.setsockopt(IPPROTO_TCP, TCP_QUICKACK, v)
            seen.append((v, s.getsockopt(IPPROTO_TCP, TCP_QUICKACK)))
        _lst, _cli, srv = b.pair()
        seen.append(srv.getsockopt(IPPROTO_TCP, TCP_QUICKACK))
        for v in (0, 2, 0, 1):
            srv.setsockopt(IPPROTO_TCP, TCP_QUICKACK, v)
            seen.append((v, srv.getsockopt(IPPROTO_TCP, TCP_QUICKACK)))
        return seen

    kernel, tcplab = both(story)
    assert kernel[:2] == [1, (0, 0)]
    assert tcplab == kernel

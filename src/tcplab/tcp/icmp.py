"""What an ICMP error means to TCP (RFC 1122 4.2.3.9, RFC 5927, RFC 1191, RFC 8201), as Linux
reads it (net/ipv4/icmp.c icmp_err_convert, net/ipv6/icmp.c icmpv6_err_convert, tcp_v4_err).

``report(version, type, code, mtu) -> IcmpReport | None``: the errno the error stands for,
whether RFC 1122 calls it hard (``fatal``), whether it drops a passively opened connection
still in SYN-RECEIVED (Linux tcp_req_err), and the next-hop MTU of a "fragmentation needed" /
"packet too big" (RFC 1191, RFC 8201). The engine acts on it in ``Connection.icmp_arrives``.
"""

from __future__ import annotations

import errno as E
from dataclasses import dataclass

# IPv4 destination unreachable codes (RFC 792, RFC 1812): (errno, fatal), Linux icmp_err_convert
_V4_UNREACH = (
    (E.ENETUNREACH, False),  # net unreachable
    (E.EHOSTUNREACH, False),  # host unreachable
    (E.ENOPROTOOPT, True),  # protocol unreachable
    (E.ECONNREFUSED, True),  # port unreachable
    (E.EMSGSIZE, False),  # fragmentation needed and DF set
    (E.EOPNOTSUPP, False),  # source route failed
    (E.ENETUNREACH, True),  # net unknown
    (E.EHOSTDOWN, True),  # host unknown
    (E.ENONET, True),  # source host isolated
    (E.ENETUNREACH, True),  # net administratively prohibited
    (E.EHOSTUNREACH, True),  # host administratively prohibited
    (E.ENETUNREACH, False),  # net unreachable for TOS
    (E.EHOSTUNREACH, False),  # host unreachable for TOS
    (E.EHOSTUNREACH, True),  # communication administratively prohibited
    (E.EHOSTUNREACH, True),  # host precedence violation
    (E.EHOSTUNREACH, True),  # precedence cutoff
)
# IPv6 destination unreachable codes (RFC 4443 3.1): Linux icmpv6_err_convert
_V6_UNREACH = (
    (E.ENETUNREACH, False),  # no route
    (E.EACCES, True),  # administratively prohibited
    (E.EHOSTUNREACH, False),  # beyond scope of source address
    (E.EHOSTUNREACH, False),  # address unreachable
    (E.ECONNREFUSED, True),  # port unreachable
    (E.EACCES, True),  # source address failed policy
    (E.EACCES, True),  # reject route
)
MIN_PMTU_V4 = 552  # Linux net.ipv4.route.min_pmtu: a smaller MTU is taken as this
MIN_PMTU_V6 = 1280  # RFC 8200 5: the IPv6 minimum link MTU


@dataclass(frozen=True, slots=True)
class IcmpReport:
    errno: int
    fatal: bool  # a hard error (RFC 1122 4.2.3.9): protocol/port unreachable and the like
    drops_request: bool  # drops a passive connection in SYN-RECEIVED (Linux tcp_req_err)
    mtu: int | None = None  # the path MTU a "fragmentation needed"/"packet too big" reports


def report(version: int, icmp_type: int, code: int, mtu: int = 0) -> IcmpReport | None:
    """What an ICMP error says to TCP; None for what TCP ignores (source quench, redirect)."""
    if version == 4:
        if icmp_type == 3:  # destination unreachable
            if code == 4:
                return IcmpReport(E.EMSGSIZE, False, False, mtu)
            if code >= len(_V4_UNREACH):
                return None
            errno, fatal = _V4_UNREACH[code]
            return IcmpReport(errno, fatal, code in (0, 1))
        if icmp_type == 11:  # time exceeded
            return IcmpReport(E.EHOSTUNREACH, False, True)
        if icmp_type == 12:  # parameter problem
            return IcmpReport(E.EPROTO, True, True)
        return None  # source quench (RFC 6633: ignored), redirect
    if icmp_type == 1 and code < len(_V6_UNREACH):
        errno, fatal = _V6_UNREACH[code]
        return IcmpReport(errno, fatal, code in (0, 3))
    if icmp_type == 2:  # packet too big
        return IcmpReport(E.EMSGSIZE, False, False, mtu)
    if icmp_type == 3:
        return IcmpReport(E.EHOSTUNREACH, False, True)
    if icmp_type == 4:
        return IcmpReport(E.EPROTO, True, True)
    return None

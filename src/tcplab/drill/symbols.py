"""The names scripts use for numbers, as each stack's headers number them.

A script's constants (``SOL_SOCKET``, ``MSG_PEEK``, ``O_NONBLOCK``, ``ECONNRESET``,
``TCPI_ESTABLISHED``, ...) mean what the headers of the stack it was written for say. An
:class:`Abi` holds one stack's numbering, by namespace (the same number means ``SO_DEBUG`` in one
namespace and ``TCP_NODELAY`` in another): ``LINUX`` (also the rfc profile's) and ``FREEBSD``.
System calls read a script's numbers through the script's ABI and hand tcplab's sockets
Linux's numbers (``to_linux``); results go back the other way (``from_linux``), so a FreeBSD
script's ``fcntl(3, F_GETFL) = 0x6`` means O_RDWR|O_NONBLOCK as FreeBSD numbers them.

``KNOWN_NAMES`` is every name either stack's headers (and so a packetdrill) know: a name outside
it is a typo, and the script is broken. Facts from the Linux and FreeBSD headers (uapi/asm-generic,
sys/socket.h, netinet/tcp.h, netinet/tcp_fsm.h, sys/errno.h, sys/fcntl.h, sys/filio.h, poll.h).
"""

from __future__ import annotations

import errno as _errno
from collections.abc import Iterable

Namespace = dict[str, int]


def _seq(names: str, start: int = 0) -> Namespace:
    return {name: i for i, name in enumerate(names.split(), start) if name != "-"}


# IANA's protocol numbers: the same in every stack's headers
_IP_PROTOCOLS = {
    "IPPROTO_IP": 0,
    "IPPROTO_ICMP": 1,
    "IPPROTO_TCP": 6,
    "IPPROTO_UDP": 17,
    "IPPROTO_IPV6": 41,
    "IPPROTO_GRE": 47,
    "IPPROTO_ICMPV6": 58,
    "IPPROTO_SCTP": 132,
    "IPPROTO_UDPLITE": 136,
    "IPPROTO_RAW": 255,
}

# ---- Linux --------------------------------------------------------------------------------------
_LINUX: dict[str, Namespace] = {
    "family": {
        "AF_UNSPEC": 0,
        "AF_UNIX": 1,
        "AF_LOCAL": 1,
        "AF_INET": 2,
        "AF_INET6": 10,
        "AF_PACKET": 17,
        "PF_UNSPEC": 0,
        "PF_INET": 2,
        "PF_INET6": 10,
    },
    "socktype": {"SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3, "SOCK_RDM": 4, "SOCK_SEQPACKET": 5},
    "sockflags": {"SOCK_NONBLOCK": 0o4000, "SOCK_CLOEXEC": 0o2000000},
    "proto": {**_IP_PROTOCOLS, "IPPROTO_MPTCP": 262},
    "level": {"SOL_IP": 0, "SOL_SOCKET": 1, "SOL_TCP": 6, "SOL_UDP": 17, "SOL_IPV6": 41, "SOL_SCTP": 132},
    "so": {
        **_seq(
            "- SO_DEBUG SO_REUSEADDR SO_TYPE SO_ERROR SO_DONTROUTE SO_BROADCAST SO_SNDBUF SO_RCVBUF "
            "SO_KEEPALIVE SO_OOBINLINE SO_NO_CHECK SO_PRIORITY SO_LINGER SO_BSDCOMPAT SO_REUSEPORT "
            "SO_PASSCRED SO_PEERCRED SO_RCVLOWAT SO_SNDLOWAT SO_RCVTIMEO SO_SNDTIMEO "
            "SO_SECURITY_AUTHENTICATION SO_SECURITY_ENCRYPTION_TRANSPORT SO_SECURITY_ENCRYPTION_NETWORK "
            "SO_BINDTODEVICE SO_ATTACH_FILTER SO_DETACH_FILTER SO_PEERNAME SO_TIMESTAMP SO_ACCEPTCONN "
            "SO_PEERSEC SO_SNDBUFFORCE SO_RCVBUFFORCE SO_PASSSEC SO_TIMESTAMPNS SO_MARK SO_TIMESTAMPING "
            "SO_PROTOCOL SO_DOMAIN SO_RXQ_OVFL SO_WIFI_STATUS SO_PEEK_OFF SO_NOFCS SO_LOCK_FILTER "
            "SO_SELECT_ERR_QUEUE SO_BUSY_POLL SO_MAX_PACING_RATE SO_BPF_EXTENSIONS SO_INCOMING_CPU "
            "SO_ATTACH_BPF SO_ATTACH_REUSEPORT_CBPF SO_ATTACH_REUSEPORT_EBPF SO_CNX_ADVICE "
            "SCM_TIMESTAMPING_OPT_STATS SO_MEMINFO SO_INCOMING_NAPI_ID SO_COOKIE "
            "SCM_TIMESTAMPING_PKTINFO SO_PEERGROUPS SO_ZEROCOPY SO_TXTIME SO_BINDTOIFINDEX"
        ),
        "SO_DETACH_BPF": 27,
        "SO_DETACH_REUSEPORT_BPF": 68,
        "SO_PREFER_BUSY_POLL": 69,
        "SO_BUSY_POLL_BUDGET": 70,
        "SO_NETNS_COOKIE": 71,
        "SO_BUF_LOCK": 72,
        "SO_RESERVE_MEM": 73,
        "SO_TXREHASH": 74,
        "SO_RCVMARK": 75,
    },
    "tcp": _seq(
        "- TCP_NODELAY TCP_MAXSEG TCP_CORK TCP_KEEPIDLE TCP_KEEPINTVL TCP_KEEPCNT TCP_SYNCNT TCP_LINGER2 "
        "TCP_DEFER_ACCEPT TCP_WINDOW_CLAMP TCP_INFO TCP_QUICKACK TCP_CONGESTION TCP_MD5SIG - "
        "TCP_THIN_LINEAR_TIMEOUTS TCP_THIN_DUPACK TCP_USER_TIMEOUT TCP_REPAIR TCP_REPAIR_QUEUE "
        "TCP_QUEUE_SEQ TCP_REPAIR_OPTIONS TCP_FASTOPEN TCP_TIMESTAMP TCP_NOTSENT_LOWAT TCP_CC_INFO "
        "TCP_SAVE_SYN TCP_SAVED_SYN TCP_REPAIR_WINDOW TCP_FASTOPEN_CONNECT TCP_ULP TCP_MD5SIG_EXT "
        "TCP_FASTOPEN_KEY TCP_FASTOPEN_NO_COOKIE TCP_ZEROCOPY_RECEIVE TCP_INQ TCP_TX_DELAY "
        "TCP_AO_ADD_KEY TCP_AO_DEL_KEY TCP_AO_INFO TCP_AO_GET_KEYS TCP_AO_REPAIR TCP_IS_MPTCP "
        "TCP_RTO_MAX_MS TCP_RTO_MIN_US TCP_DELACK_MAX_US"
    ),
    "ip": {
        **_seq(
            "- IP_TOS IP_TTL IP_HDRINCL IP_OPTIONS IP_ROUTER_ALERT IP_RECVOPTS IP_RETOPTS IP_PKTINFO "
            "IP_PKTOPTIONS IP_MTU_DISCOVER IP_RECVERR IP_RECVTTL IP_RECVTOS IP_MTU IP_FREEBIND IP_IPSEC_POLICY "
            "IP_XFRM_POLICY IP_PASSSEC IP_TRANSPARENT IP_ORIGDSTADDR IP_MINTTL IP_NODEFRAG IP_CHECKSUM "
            "IP_BIND_ADDRESS_NO_PORT IP_RECVFRAGSIZE IP_RECVERR_RFC4884"
        ),
        "IP_MULTICAST_IF": 32,
        "IP_MULTICAST_TTL": 33,
        "IP_MULTICAST_LOOP": 34,
        "IP_ADD_MEMBERSHIP": 35,
        "IP_DROP_MEMBERSHIP": 36,
    },
    "ipv6": {
        "IPV6_ADDRFORM": 1,
        "IPV6_2292PKTINFO": 2,
        "IPV6_FLOWINFO": 11,
        "IPV6_UNICAST_HOPS": 16,
        "IPV6_MULTICAST_IF": 17,
        "IPV6_MULTICAST_HOPS": 18,
        "IPV6_MULTICAST_LOOP": 19,
        "IPV6_MTU_DISCOVER": 23,
        "IPV6_MTU": 24,
        "IPV6_RECVERR": 25,
        "IPV6_V6ONLY": 26,
        "IPV6_FLOWLABEL_MGR": 32,
        "IPV6_FLOWINFO_SEND": 33,
        "IPV6_RECVPKTINFO": 49,
        "IPV6_PKTINFO": 50,
        "IPV6_TCLASS": 67,
        "IPV6_AUTOFLOWLABEL": 70,
    },
    "msg": {
        "MSG_OOB": 0x1,
        "MSG_PEEK": 0x2,
        "MSG_DONTROUTE": 0x4,
        "MSG_CTRUNC": 0x8,
        "MSG_PROXY": 0x10,
        "MSG_TRUNC": 0x20,
        "MSG_DONTWAIT": 0x40,
        "MSG_EOR": 0x80,
        "MSG_WAITALL": 0x100,
        "MSG_FIN": 0x200,
        "MSG_SYN": 0x400,
        "MSG_CONFIRM": 0x800,
        "MSG_RST": 0x1000,
        "MSG_ERRQUEUE": 0x2000,
        "MSG_NOSIGNAL": 0x4000,
        "MSG_MORE": 0x8000,
        "MSG_WAITFORONE": 0x10000,
        "MSG_BATCH": 0x40000,
        "MSG_ZEROCOPY": 0x4000000,
        "MSG_FASTOPEN": 0x20000000,
        "MSG_CMSG_CLOEXEC": 0x40000000,
    },
    "fcntl": {
        **_seq("F_DUPFD F_GETFD F_SETFD F_GETFL F_SETFL F_GETLK F_SETLK F_SETLKW F_SETOWN F_GETOWN F_SETSIG F_GETSIG"),
        "F_DUPFD_CLOEXEC": 1030,
    },
    "oflags": {
        "O_RDONLY": 0,
        "O_WRONLY": 1,
        "O_RDWR": 2,
        "O_CREAT": 0o100,
        "O_EXCL": 0o200,
        "O_NOCTTY": 0o400,
        "O_TRUNC": 0o1000,
        "O_APPEND": 0o2000,
        "O_NONBLOCK": 0o4000,
        "O_NDELAY": 0o4000,
        "O_DSYNC": 0o10000,
        "O_ASYNC": 0o20000,
        "O_DIRECT": 0o40000,
        "O_DIRECTORY": 0o200000,
        "O_NOFOLLOW": 0o400000,
        "O_NOATIME": 0o1000000,
        "O_CLOEXEC": 0o2000000,
    },
    "fdflags": {"FD_CLOEXEC": 1},
    "ioctl": {
        "FIONREAD": 0x541B,
        "SIOCINQ": 0x541B,
        "TIOCOUTQ": 0x5411,
        "SIOCOUTQ": 0x5411,
        "SIOCOUTQNSD": 0x894B,
        "FIONBIO": 0x5421,
        "FIOASYNC": 0x5452,
        "FIONCLEX": 0x5450,
        "FIOCLEX": 0x5451,
        "SIOCATMARK": 0x8905,
        "SIOCGSTAMP": 0x8906,
    },
    "shut": {"SHUT_RD": 0, "SHUT_WR": 1, "SHUT_RDWR": 2},
    "poll": {
        "POLLIN": 0x1,
        "POLLPRI": 0x2,
        "POLLOUT": 0x4,
        "POLLERR": 0x8,
        "POLLHUP": 0x10,
        "POLLNVAL": 0x20,
        "POLLRDNORM": 0x40,
        "POLLRDBAND": 0x80,
        "POLLWRNORM": 0x100,
        "POLLWRBAND": 0x200,
        "POLLMSG": 0x400,
        "POLLREMOVE": 0x1000,
        "POLLRDHUP": 0x2000,
    },
    "epoll_op": {"EPOLL_CTL_ADD": 1, "EPOLL_CTL_DEL": 2, "EPOLL_CTL_MOD": 3},
    "epoll": {
        "EPOLLIN": 0x1,
        "EPOLLPRI": 0x2,
        "EPOLLOUT": 0x4,
        "EPOLLERR": 0x8,
        "EPOLLHUP": 0x10,
        "EPOLLNVAL": 0x20,
        "EPOLLRDNORM": 0x40,
        "EPOLLRDBAND": 0x80,
        "EPOLLWRNORM": 0x100,
        "EPOLLWRBAND": 0x200,
        "EPOLLMSG": 0x400,
        "EPOLLRDHUP": 0x2000,
        "EPOLLEXCLUSIVE": 1 << 28,
        "EPOLLWAKEUP": 1 << 29,
        "EPOLLONESHOT": 1 << 30,
        "EPOLLET": 1 << 31,
    },
    "epoll_flags": {"EPOLL_CLOEXEC": 0o2000000},
    "errno": {name: code for code, name in _errno.errorcode.items()}
    | {"EWOULDBLOCK": _errno.EAGAIN, "EDEADLOCK": _errno.EDEADLK, "ENOTSUP": _errno.EOPNOTSUPP},
    # include/net/tcp_states.h
    "state": _seq(
        "- ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE CLOSE_WAIT LAST_ACK LISTEN "
        "CLOSING NEW_SYN_RECV BOUND_INACTIVE"
    ),
    "tcpi_opt": {
        "TCPI_OPT_TIMESTAMPS": 1,
        "TCPI_OPT_SACK": 2,
        "TCPI_OPT_WSCALE": 4,
        "TCPI_OPT_ECN": 8,
        "TCPI_OPT_ECN_SEEN": 16,
        "TCPI_OPT_SYN_DATA": 32,
        "TCPI_OPT_USEC_TS": 64,
        "TCPI_OPT_TFO_CHILD": 128,
    },
    "ca_state": _seq("TCP_CA_Open TCP_CA_Disorder TCP_CA_CWR TCP_CA_Recovery TCP_CA_Loss"),
    "misc": {
        "NULL": 0,
        "INADDR_ANY": 0,
        "SOMAXCONN": 4096,
        "IP_PMTUDISC_DONT": 0,
        "IP_PMTUDISC_WANT": 1,
        "IP_PMTUDISC_DO": 2,
        "IP_PMTUDISC_PROBE": 3,
        "TCP_REPAIR_ON": 1,
        "TCP_REPAIR_OFF": 0,
        "TCP_REPAIR_OFF_NO_WP": -1,
        "SCM_TIMESTAMPING": 37,
        "SOF_TIMESTAMPING_TX_SCHED": 1 << 8,
        "SOF_TIMESTAMPING_TX_SOFTWARE": 1 << 1,
        "SOF_TIMESTAMPING_OPT_ID": 1 << 7,
        "SOF_TIMESTAMPING_TX_ACK": 1 << 9,
        "SOF_TIMESTAMPING_OPT_TSONLY": 1 << 11,
        "SOF_TIMESTAMPING_SOFTWARE": 1 << 4,
        "SOF_TIMESTAMPING_OPT_STATS": 1 << 12,
    },
}

# ---- FreeBSD ------------------------------------------------------------------------------------
_FREEBSD_ERRNO = {
    **_seq(
        "- EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EDEADLK ENOMEM EACCES EFAULT "
        "ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG ENOSPC "
        "ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EAGAIN EINPROGRESS EALREADY ENOTSOCK EDESTADDRREQ EMSGSIZE "
        "EPROTOTYPE ENOPROTOOPT EPROTONOSUPPORT ESOCKTNOSUPPORT EOPNOTSUPP EPFNOSUPPORT EAFNOSUPPORT "
        "EADDRINUSE EADDRNOTAVAIL ENETDOWN ENETUNREACH ENETRESET ECONNABORTED ECONNRESET ENOBUFS EISCONN "
        "ENOTCONN ESHUTDOWN ETOOMANYREFS ETIMEDOUT ECONNREFUSED ELOOP ENAMETOOLONG EHOSTDOWN EHOSTUNREACH "
        "ENOTEMPTY EPROCLIM EUSERS EDQUOT ESTALE EREMOTE EBADRPC ERPCMISMATCH EPROGUNAVAIL EPROGMISMATCH "
        "EPROCUNAVAIL ENOLCK ENOSYS EFTYPE EAUTH ENEEDAUTH EIDRM ENOMSG EOVERFLOW ECANCELED EILSEQ ENOATTR "
        "EDOOFUS EBADMSG EMULTIHOP ENOLINK EPROTO ENOTCAPABLE ECAPMODE ENOTRECOVERABLE EOWNERDEAD EINTEGRITY"
    ),
    "EWOULDBLOCK": 35,
    "ENOTSUP": 45,
}
_FREEBSD: dict[str, Namespace] = {
    "family": {"AF_UNSPEC": 0, "AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_INET6": 28, "PF_INET": 2, "PF_INET6": 28},
    "socktype": {"SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3, "SOCK_RDM": 4, "SOCK_SEQPACKET": 5},
    "sockflags": {"SOCK_CLOEXEC": 0x10000000, "SOCK_NONBLOCK": 0x20000000},
    "proto": dict(_IP_PROTOCOLS),
    "level": {"IPPROTO_IP": 0, "SOL_SOCKET": 0xFFFF, "IPPROTO_TCP": 6, "IPPROTO_UDP": 17, "IPPROTO_IPV6": 41},
    "so": {
        "SO_DEBUG": 0x1,
        "SO_ACCEPTCONN": 0x2,
        "SO_REUSEADDR": 0x4,
        "SO_KEEPALIVE": 0x8,
        "SO_DONTROUTE": 0x10,
        "SO_BROADCAST": 0x20,
        "SO_USELOOPBACK": 0x40,
        "SO_LINGER": 0x80,
        "SO_OOBINLINE": 0x100,
        "SO_REUSEPORT": 0x200,
        "SO_TIMESTAMP": 0x400,
        "SO_NOSIGPIPE": 0x800,
        "SO_ACCEPTFILTER": 0x1000,
        "SO_BINTIME": 0x2000,
        "SO_NO_OFFLOAD": 0x4000,
        "SO_NO_DDP": 0x8000,
        "SO_REUSEPORT_LB": 0x10000,
        "SO_RERROR": 0x20000,
        **_seq(
            "SO_SNDBUF SO_RCVBUF SO_SNDLOWAT SO_RCVLOWAT SO_SNDTIMEO SO_RCVTIMEO SO_ERROR SO_TYPE SO_LABEL",
            0x1001,
        ),
        "SO_PEERLABEL": 0x1010,
        **_seq(
            "SO_LISTENQLIMIT SO_LISTENQLEN SO_LISTENINCQLEN SO_SETFIB SO_USER_COOKIE SO_PROTOCOL SO_TS_CLOCK "
            "SO_MAX_PACING_RATE SO_DOMAIN",
            0x1011,
        ),
        "SO_PROTOTYPE": 0x1016,
    },
    "tcp": {
        "TCP_NODELAY": 1,
        "TCP_MAXSEG": 2,
        "TCP_NOPUSH": 4,
        "TCP_NOOPT": 8,
        "TCP_MD5SIG": 16,
        "TCP_INFO": 32,
        "TCP_STATS": 33,
        "TCP_LOG": 34,
        "TCP_LOGBUF": 35,
        "TCP_LOGID": 36,
        "TCP_LOGDUMP": 37,
        "TCP_LOGDUMPID": 38,
        "TCP_TXTLS_ENABLE": 39,
        "TCP_TXTLS_MODE": 40,
        "TCP_RXTLS_ENABLE": 41,
        "TCP_RXTLS_MODE": 42,
        "TCP_IWND_NB": 43,
        "TCP_IWND_NSEG": 44,
        "TCP_LOGID_CNT": 46,
        "TCP_LOG_TAG": 47,
        "TCP_USER_LOG": 48,
        "TCP_CONGESTION": 64,
        "TCP_CCALGOOPT": 65,
        "TCP_MAXUNACKTIME": 68,
        "TCP_MAXPEAKRATE": 69,
        "TCP_IDLE_REDUCE": 70,
        "TCP_REMOTE_UDP_ENCAPS_PORT": 71,
        "TCP_DELACK": 72,
        "TCP_FIN_IS_RST": 73,
        "TCP_LOG_LIMIT": 74,
        "TCP_SHARED_CWND_ALLOWED": 75,
        "TCP_PROC_ACCOUNTING": 76,
        "TCP_USE_CMP_ACKS": 77,
        "TCP_PERF_INFO": 78,
        "TCP_KEEPINIT": 128,
        "TCP_KEEPIDLE": 256,
        "TCP_KEEPINTVL": 512,
        "TCP_KEEPCNT": 1024,
        "TCP_FASTOPEN": 1025,
        "TCP_PCAP_OUT": 2048,
        "TCP_PCAP_IN": 4096,
        "TCP_FUNCTION_BLK": 8192,
        "TCP_FUNCTION_ALIAS": 8193,
    },
    "ip": {"IP_OPTIONS": 1, "IP_HDRINCL": 2, "IP_TOS": 3, "IP_TTL": 4, "IP_RECVOPTS": 5, "IP_MINTTL": 66},
    "ipv6": {"IPV6_UNICAST_HOPS": 4, "IPV6_V6ONLY": 27, "IPV6_TCLASS": 61, "IPV6_USE_MIN_MTU": 42},
    "msg": {
        "MSG_OOB": 0x1,
        "MSG_PEEK": 0x2,
        "MSG_DONTROUTE": 0x4,
        "MSG_EOR": 0x8,
        "MSG_TRUNC": 0x10,
        "MSG_CTRUNC": 0x20,
        "MSG_WAITALL": 0x40,
        "MSG_DONTWAIT": 0x80,
        "MSG_EOF": 0x100,
        "MSG_NOTIFICATION": 0x2000,
        "MSG_NBIO": 0x4000,
        "MSG_COMPAT": 0x8000,
        "MSG_NOSIGNAL": 0x20000,
        "MSG_CMSG_CLOEXEC": 0x40000,
        "MSG_WAITFORONE": 0x80000,
    },
    "fcntl": _seq("F_DUPFD F_GETFD F_SETFD F_GETFL F_SETFL F_GETOWN F_SETOWN"),
    "oflags": {
        "O_RDONLY": 0,
        "O_WRONLY": 1,
        "O_RDWR": 2,
        "O_NONBLOCK": 0x4,
        "O_NDELAY": 0x4,
        "O_APPEND": 0x8,
        "O_ASYNC": 0x40,
        "O_FSYNC": 0x80,
        "O_NOFOLLOW": 0x100,
        "O_CREAT": 0x200,
        "O_TRUNC": 0x400,
        "O_EXCL": 0x800,
        "O_NOCTTY": 0x8000,
        "O_DIRECT": 0x10000,
        "O_DIRECTORY": 0x20000,
        "O_CLOEXEC": 0x100000,
    },
    "fdflags": {"FD_CLOEXEC": 1},
    "ioctl": {
        "FIONREAD": 0x4004667F,
        "FIONBIO": 0x8004667E,
        "FIOASYNC": 0x8004667D,
        "FIONWRITE": 0x40046677,
        "FIONSPACE": 0x40046676,
        "SIOCATMARK": 0x40047307,
    },
    "shut": {"SHUT_RD": 0, "SHUT_WR": 1, "SHUT_RDWR": 2},
    "poll": {
        "POLLIN": 0x1,
        "POLLPRI": 0x2,
        "POLLOUT": 0x4,
        "POLLERR": 0x8,
        "POLLHUP": 0x10,
        "POLLNVAL": 0x20,
        "POLLRDNORM": 0x40,
        "POLLWRNORM": 0x4,
        "POLLRDBAND": 0x80,
        "POLLWRBAND": 0x100,
        "POLLINIGNEOF": 0x2000,
        "POLLRDHUP": 0x4000,
    },
    "errno": _FREEBSD_ERRNO,
    # netinet/tcp_fsm.h
    "state": _seq(
        "CLOSED LISTEN SYN_SENT SYN_RECEIVED ESTABLISHED CLOSE_WAIT FIN_WAIT_1 CLOSING LAST_ACK FIN_WAIT_2 TIME_WAIT"
    ),
    "tcpi_opt": {
        "TCPI_OPT_TIMESTAMPS": 0x1,
        "TCPI_OPT_SACK": 0x2,
        "TCPI_OPT_WSCALE": 0x4,
        "TCPI_OPT_ECN": 0x8,
        "TCPI_OPT_TOE": 0x10,
        "TCPI_OPT_TFO": 0x20,
    },
    "misc": {"NULL": 0, "INADDR_ANY": 0, "SOMAXCONN": 128},
}

# Every spelling of a TCP state name (Linux tcp_states.h, FreeBSD tcp_fsm.h, RFC 9293), by the
# canonical name of its ABI's "state" namespace. Scripts write them as TCP_X, TCPI_X or TCPS_X.
STATE_SPELLINGS: dict[str, tuple[str, ...]] = {
    "ESTABLISHED": ("ESTABLISHED",),
    "SYN_SENT": ("SYN_SENT",),
    "SYN_RECV": ("SYN_RECV", "SYN_RECEIVED", "SYN_RCVD"),
    "SYN_RECEIVED": ("SYN_RECV", "SYN_RECEIVED", "SYN_RCVD"),
    "FIN_WAIT1": ("FIN_WAIT1", "FIN_WAIT_1"),
    "FIN_WAIT_1": ("FIN_WAIT1", "FIN_WAIT_1"),
    "FIN_WAIT2": ("FIN_WAIT2", "FIN_WAIT_2"),
    "FIN_WAIT_2": ("FIN_WAIT2", "FIN_WAIT_2"),
    "TIME_WAIT": ("TIME_WAIT",),
    "CLOSE": ("CLOSE", "CLOSED"),
    "CLOSED": ("CLOSE", "CLOSED"),
    "CLOSE_WAIT": ("CLOSE_WAIT",),
    "LAST_ACK": ("LAST_ACK",),
    "LISTEN": ("LISTEN",),
    "CLOSING": ("CLOSING",),
    "NEW_SYN_RECV": ("NEW_SYN_RECV",),
    "BOUND_INACTIVE": ("BOUND_INACTIVE",),
}
_STATE_PREFIXES = ("TCP_", "TCPI_", "TCPS_")

# tcplab's states (tcplab.tcp.State names) in each ABI's canonical spelling.
TCPLAB_STATE_NAMES: dict[str, dict[str, str]] = {
    "linux": {"SYN_RCVD": "SYN_RECV", "FIN_WAIT_1": "FIN_WAIT1", "FIN_WAIT_2": "FIN_WAIT2", "CLOSED": "CLOSE"},
    "freebsd": {"SYN_RCVD": "SYN_RECEIVED"},
}


def _state_names(states: Namespace) -> Namespace:
    out: Namespace = {}
    for canonical, number in states.items():
        for spelling in STATE_SPELLINGS[canonical]:
            for prefix in _STATE_PREFIXES:
                out[prefix + spelling] = number
    return out


class Abi:
    """One stack's numbering of the names scripts use (see the module docstring)."""

    def __init__(self, name: str, namespaces: dict[str, Namespace], accept_inherits_nonblock: bool = False) -> None:
        self.name = name
        self.namespaces = namespaces
        # FreeBSD's accept() gives the new socket the listener's O_NONBLOCK (kern_accept4 with
        # ACCEPT4_INHERIT); Linux's does not.
        self.accept_inherits_nonblock = accept_inherits_nonblock
        self.states = namespaces["state"]
        self.values: dict[str, int] = {}
        for ns, table in namespaces.items():
            if ns != "state":
                self.values.update(table)
        self.values.update(_state_names(self.states))
        self._names: dict[str, dict[int, str]] = {}
        for ns, table in namespaces.items():
            reverse: dict[int, str] = {}
            for n, v in table.items():
                reverse.setdefault(v, n)
            self._names[ns] = reverse

    def number(self, name: str) -> int | None:
        """The value of ``name`` in this ABI (None: this stack's headers do not have it)."""
        return self.values.get(name)

    def name_of(self, namespace: str, value: int) -> str | None:
        return self._names[namespace].get(value)

    def flag_names(self, namespace: str, value: int) -> tuple[list[str], int]:
        """The names of the bits set in ``value``, and the bits no name covers."""
        names, rest = [], value
        for name, bit in self.namespaces[namespace].items():
            if bit and value & bit == bit and rest & bit:
                names.append(name)
                rest &= ~bit
        return names, rest

    def to_linux(self, namespace: str, value: int) -> int | None:
        """A value of this ABI as Linux numbers it (None: Linux has no such name)."""
        if self is LINUX:
            return value
        name = self.name_of(namespace, value)
        return None if name is None else LINUX.namespaces[namespace].get(name)

    def flags_to_linux(self, namespace: str, value: int) -> tuple[int, list[str]]:
        """Bit flags in Linux numbers, and the names of the bits Linux has not."""
        if self is LINUX:
            return value, []
        names, rest = self.flag_names(namespace, value)
        linux = LINUX.namespaces[namespace]
        missing = [n for n in names if n not in linux] + ([hex(rest)] if rest else [])
        return sum(linux.get(n, 0) for n in names), missing

    def flags_from_linux(self, namespace: str, value: int) -> int:
        """Linux bit flags in this ABI's numbers (bits this ABI has no name for are dropped)."""
        if self is LINUX:
            return value
        names, _ = LINUX.flag_names(namespace, value)
        table = self.namespaces[namespace]
        return sum(table.get(n, 0) for n in names)

    def from_linux(self, namespace: str, value: int) -> int | None:
        if self is LINUX:
            return value
        name = LINUX.name_of(namespace, value)
        return None if name is None else self.namespaces[namespace].get(name)

    def state_number(self, tcplab_state: str) -> int:
        """The number this ABI's tcp_info gives a tcplab state (``State.name``)."""
        name = TCPLAB_STATE_NAMES[self.name].get(tcplab_state, tcplab_state)
        return self.states[name]


LINUX = Abi("linux", _LINUX)
FREEBSD = Abi("freebsd", _FREEBSD, accept_inherits_nonblock=True)
ABIS = {"linux": LINUX, "freebsd": FREEBSD}

# Names other headers scripts include define, that neither table above numbers (tcplab has no
# use for them; they must not pass for typos).
_EXTRA_NAMES = frozenset(
    [
        "SCTP_INITMSG",
        "SCTP_NODELAY",
        "SCTP_RTOINFO",
        "SCTP_MAXSEG",
        "SCTP_STATUS",
        "SCTP_EVENTS",
        "SCTP_DEFAULT_SNDINFO",
        "SCTP_RECVRCVINFO",
        "SCTP_RECVNXTINFO",
        "SCTP_PEER_ADDR_PARAMS",
        "SCTP_ASSOCINFO",
        "SCTP_EVENT",
        "SCTP_SNDRCV",
        "IPV6_RECVTCLASS",
        "IPV6_HOPLIMIT",
        "IPV6_RECVHOPLIMIT",
        "IP_RECVTOS",
        "IP_RECVDSTADDR",
        "UDP_ENCAP",
        "UDP_CORK",
        "UDP_SEGMENT",
        "TCP_MAX_WINSHIFT",
        "TCP_MSS",
        "TCP_MAXWIN",
        "AF_ROUTE",
        "PF_UNIX",
        "PF_LOCAL",
    ]
)


def _all_names(abis: Iterable[Abi]) -> frozenset[str]:
    names: set[str] = set(_EXTRA_NAMES)
    for abi in abis:
        names.update(abi.values)
    return frozenset(names)


KNOWN_NAMES = _all_names((LINUX, FREEBSD))
ERRNO_NAMES = frozenset(_LINUX["errno"]) | frozenset(_FREEBSD_ERRNO)


def known(name: str) -> bool:
    """Whether a packetdrill knows ``name`` (a header constant of Linux or FreeBSD)."""
    return name in KNOWN_NAMES


def suggestion(name: str) -> str:
    """``" (did you mean X?)"`` for a near miss, else empty."""
    import difflib

    close = difflib.get_close_matches(name, KNOWN_NAMES, n=1, cutoff=0.8)
    return f" (did you mean {close[0]}?)" if close else ""

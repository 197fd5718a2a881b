"""The constants of tcplab sockets: the values of Python's ``socket`` module on Linux (so code
written for ``socket`` passes the same numbers), plus the few Linux has that Python does not
name."""

from __future__ import annotations

import socket as _socket

AF_INET = _socket.AF_INET
AF_INET6 = _socket.AF_INET6
AF_UNSPEC = _socket.AF_UNSPEC
SOCK_STREAM = _socket.SOCK_STREAM
SOCK_NONBLOCK = getattr(_socket, "SOCK_NONBLOCK", 0o4000)
SOCK_CLOEXEC = getattr(_socket, "SOCK_CLOEXEC", 0o2000000)
IPPROTO_IP = _socket.IPPROTO_IP
IPPROTO_TCP = _socket.IPPROTO_TCP
IPPROTO_IPV6 = _socket.IPPROTO_IPV6
IPV6_V6ONLY = _socket.IPV6_V6ONLY
SOL_SOCKET = _socket.SOL_SOCKET
SOL_TCP = IPPROTO_TCP
SHUT_RD = _socket.SHUT_RD
SHUT_WR = _socket.SHUT_WR
SHUT_RDWR = _socket.SHUT_RDWR
SOMAXCONN = _socket.SOMAXCONN

SO_REUSEADDR = _socket.SO_REUSEADDR  # 2
SO_TYPE = _socket.SO_TYPE  # 3
SO_ERROR = _socket.SO_ERROR  # 4
SO_SNDBUF = _socket.SO_SNDBUF  # 7
SO_RCVBUF = _socket.SO_RCVBUF  # 8
SO_KEEPALIVE = _socket.SO_KEEPALIVE  # 9
SO_LINGER = _socket.SO_LINGER  # 13
SO_REUSEPORT = getattr(_socket, "SO_REUSEPORT", 15)
SO_RCVLOWAT = _socket.SO_RCVLOWAT  # 18
SO_ACCEPTCONN = getattr(_socket, "SO_ACCEPTCONN", 30)
SO_PROTOCOL = getattr(_socket, "SO_PROTOCOL", 38)
SO_DOMAIN = getattr(_socket, "SO_DOMAIN", 39)

TCP_NODELAY = _socket.TCP_NODELAY  # 1
TCP_MAXSEG = _socket.TCP_MAXSEG  # 2
TCP_CORK = getattr(_socket, "TCP_CORK", 3)
TCP_KEEPIDLE = getattr(_socket, "TCP_KEEPIDLE", 4)
TCP_KEEPINTVL = getattr(_socket, "TCP_KEEPINTVL", 5)
TCP_KEEPCNT = getattr(_socket, "TCP_KEEPCNT", 6)
TCP_INFO = getattr(_socket, "TCP_INFO", 11)
TCP_QUICKACK = getattr(_socket, "TCP_QUICKACK", 12)
TCP_CONGESTION = getattr(_socket, "TCP_CONGESTION", 13)
TCP_USER_TIMEOUT = getattr(_socket, "TCP_USER_TIMEOUT", 18)
TCP_FASTOPEN = getattr(_socket, "TCP_FASTOPEN", 23)
TCP_NOTSENT_LOWAT = getattr(_socket, "TCP_NOTSENT_LOWAT", 25)
TCP_FASTOPEN_CONNECT = getattr(_socket, "TCP_FASTOPEN_CONNECT", 30)

# The MSG_* flags as plain ints (equal to socket's): every recv() and send() tests its flags
# against them, and ``flags & socket.MSG_PEEK`` (an IntFlag) runs enum code in Python each time.
MSG_OOB = int(_socket.MSG_OOB)  # 0x1
MSG_PEEK = int(_socket.MSG_PEEK)  # 0x2
MSG_TRUNC = int(_socket.MSG_TRUNC)  # 0x20
MSG_DONTWAIT = int(_socket.MSG_DONTWAIT)  # 0x40
MSG_EOR = int(_socket.MSG_EOR)  # 0x80
MSG_WAITALL = int(_socket.MSG_WAITALL)  # 0x100
MSG_NOSIGNAL = int(_socket.MSG_NOSIGNAL)  # 0x4000
MSG_MORE = int(getattr(_socket, "MSG_MORE", 0x8000))
MSG_FASTOPEN = int(getattr(_socket, "MSG_FASTOPEN", 0x20000000))

# ioctl requests (linux/sockios.h, asm-generic/ioctls.h)
SIOCINQ = 0x541B  # = FIONREAD: bytes readable now
FIONREAD = SIOCINQ
SIOCOUTQ = 0x5411  # = TIOCOUTQ: bytes in the send queue, sent or not, not yet acknowledged
SIOCOUTQNSD = 0x894B  # bytes in the send queue not sent yet
FIONBIO = 0x5421  # set/clear non-blocking mode

# fcntl (asm-generic/fcntl.h)
F_GETFL = 3
F_SETFL = 4
O_RDWR = 0o2
O_NONBLOCK = 0o4000

# poll(2) bits
POLLIN = 0x001
POLLPRI = 0x002
POLLOUT = 0x004
POLLERR = 0x008
POLLHUP = 0x010
POLLRDNORM = 0x040
POLLWRNORM = 0x100
POLLRDHUP = 0x2000

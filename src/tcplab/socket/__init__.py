"""BSD-style sockets on a tcplab host, modelled on Python's ``socket`` module.

    from tcplab.socket import Socket, SOL_SOCKET, SO_REUSEADDR
    srv = Socket(host)                        # a tcplab.socket.Socket (TCP only)
    srv.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    srv.bind(("198.18.0.2", 9527)); srv.listen(16)
    conn, peer = srv.accept()

The constants have the values of Python's ``socket`` module (Linux's). Errors are ``OSError``
with the errno Linux gives in the same situation (so ``ConnectionRefusedError``,
``BrokenPipeError``, ``BlockingIOError`` ... as with real sockets); a timeout raises
``TimeoutError("timed out")`` as Python does.

Two layers: ``SocketCore`` (``tcplab.socket.core``) does every call without blocking -- it
returns, raises ``OSError``, or raises ``WouldBlock`` naming what it waits for (``Until``) -- and
``Socket`` (``tcplab.socket.blocking``) is the thin loop that waits through ``host.runtime``: on
the simulated network it runs the simulation (virtual time), on TUN the real I/O loop.
Options, ioctls and send flags: ``tcplab.socket.options``.
"""

from tcplab.socket import constants as _constants
from tcplab.socket.blocking import Socket, open_sockets, wait
from tcplab.socket.constants import *  # noqa: F403 (the constants are the module's surface)
from tcplab.socket.core import RecvCall, SendCall, SocketCore, Until, WouldBlock
from tcplab.socket.module import (
    create_connection,
    create_server,
    default_host,
    getaddrinfo,
    has_dualstack_ipv6,
    set_default_host,
    socket,
)

__all__ = [
    "RecvCall",
    "SendCall",
    "Socket",
    "SocketCore",
    "Until",
    "WouldBlock",
    "create_connection",
    "create_server",
    "default_host",
    "getaddrinfo",
    "has_dualstack_ipv6",
    "open_sockets",
    "set_default_host",
    "socket",
    "wait",
    *sorted(name for name in vars(_constants) if name.isupper()),
]

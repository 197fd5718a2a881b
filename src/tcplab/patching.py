"""Run unmodified programs on tcplab: ``tcplab.patch(host)`` (this module's ``patch``) makes the ``socket`` module's TCP
sockets tcplab sockets for the addresses of a tcplab host.

    with tcplab.patch(host):                  # or p = tcplab.patch(host) ... p.undo()
        http.server.test(HandlerClass=..., port=8080)   # serves on the tcplab host

While patched, ``socket.socket`` is a class that decides at ``bind()``/``connect()`` whether a TCP
socket is tcplab's or the kernel's:

- ``bind()`` to the wildcard ("", 0.0.0.0, ::) or to an address of the tcplab host, and
  ``listen()`` without a bind: tcplab's;
- ``connect()`` to an address of ``routes`` (default: the subnets of the host's TUN link) or of
  the host itself: tcplab's (a host name is resolved by the kernel first);
- anything else -- 127.0.0.1, other networks -- stays on the kernel, as do UDP, raw and Unix
  sockets, sockets made from a file descriptor, ``socketpair()``, and name resolution (DNS:
  ``getaddrinfo``, ``gethostbyname``). Options set before the choice are applied to the socket
  chosen.

tcplab sockets have a real ``fileno()`` whose readiness mirrors them, so ``select``,
``selectors`` and asyncio's standard event loop work with them. On TUN, programs with threads
need the loop in a thread of its own (``runtime.start()``, as ``tcplab run --tun`` sets up). On
the simulated network the patch also makes ``selectors.DefaultSelector`` a selector that runs the
simulation while it waits (virtual time): single-threaded programs -- blocking calls, a
``selectors`` loop, asyncio under ``tcplab.aio.run`` -- run there unchanged.
"""

from __future__ import annotations

import ipaddress
import selectors
import socket as _pysocket
from collections.abc import Iterable
from typing import Any

from tcplab.host.host import Host
from tcplab.net.simhost import SimSelector
from tcplab.socket import Socket
from tcplab.socket.constants import AF_INET, AF_INET6, IPPROTO_TCP, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM

__all__ = ["Patch", "patch"]

_REAL = _pysocket.socket  # the kernel's socket class, as the module had it before any patch
_RECORDED = ("setsockopt", "settimeout", "setblocking")


class Patch:
    """One patch of the ``socket`` module (see the module docstring). A context manager."""

    def __init__(self, host: Host, routes: Iterable[Any] | None = None) -> None:
        self.host = host
        if routes is None:
            link = getattr(host.runtime, "link", None)
            routes = link.networks() if link is not None else [ipaddress.ip_network(a) for a in host.addresses()]
        self.routes = [ipaddress.ip_network(r, strict=False) for r in routes]
        self.active = False
        self._saved: Any = None

    def binds_here(self, ip: str) -> bool:
        """A bind() to ``ip`` is a tcplab socket's (the wildcard or one of the host's)."""
        if ip in ("", "0.0.0.0", "::"):
            return True
        try:
            return self.host.owns(str(ipaddress.ip_address(ip.split("%", 1)[0])))
        except ValueError:
            return False

    def reaches(self, ip: str) -> bool:
        """A connect() to ``ip`` goes through tcplab."""
        try:
            addr = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return False
        return self.host.owns(str(addr)) or any(addr in net for net in self.routes)

    def start(self) -> Patch:
        if not self.active:
            self._saved = (_pysocket.socket, selectors.DefaultSelector)
            _pysocket.socket = _socket_class(self)  # type: ignore[misc,assignment]
            network = getattr(self.host.runtime, "network", None)
            if self.host.runtime is not None and self.host.runtime.virtual_time and network is not None:
                # On the simulated network a selector must run the simulation while it waits.
                horizon = getattr(self.host.runtime, "horizon", None)
                selectors.DefaultSelector = lambda: SimSelector(network, horizon)  # type: ignore[misc,assignment]
            self.active = True
        return self

    def undo(self) -> None:
        if self.active:
            _pysocket.socket, selectors.DefaultSelector = self._saved  # type: ignore[misc]
            self.active = False

    def __enter__(self) -> Patch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.undo()


def patch(host: Host, routes: Iterable[Any] | None = None) -> Patch:
    """Patch the ``socket`` module now; ``undo()`` (or leaving a ``with``) restores it."""
    return Patch(host, routes).start()


def _socket_class(p: Patch) -> type:
    class socket:  # the name Python's class has
        """``socket.socket`` while tcplab's patch is in place (see tcplab.patching)."""

        def __init__(self, family: int = -1, type: int = -1, proto: int = -1, fileno: int | None = None) -> None:
            family = AF_INET if family == -1 else family
            type = SOCK_STREAM if type == -1 else type
            tcp = (
                fileno is None
                and family in (AF_INET, AF_INET6)
                and type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC) == SOCK_STREAM
                and proto in (-1, 0, IPPROTO_TCP)
            )
            self._impl: Any = None if tcp else _REAL(family, type, proto, fileno)
            self._args = (family, type, proto)
            # Until bind/connect decides, calls go to a tcplab socket (they fail as tcplab's
            # would) and are remembered for a kernel socket, should that be chosen.
            self._draft: Socket | None = Socket(p.host, family) if tcp else None
            self._pending: list[tuple[str, tuple]] = []
            if tcp and type & SOCK_NONBLOCK:
                self._call("setblocking", (False,))

        def _commit(self, tcplab: bool) -> Any:
            if self._impl is None:
                draft, self._draft = self._draft, None
                assert draft is not None
                if tcplab:
                    self._impl = draft
                else:
                    draft.close()
                    family, type, proto = self._args
                    self._impl = _REAL(family, type, proto)
                    for name, args in self._pending:
                        getattr(self._impl, name)(*args)
                self._pending = []
            return self._impl

        # -- what decides -------------------------------------------------------------------
        def bind(self, address: Any) -> None:
            self._commit(p.binds_here(str(address[0])) if isinstance(address, tuple) else False).bind(address)

        def _route(self, address: Any) -> tuple[Any, Any]:
            if self._impl is not None or not isinstance(address, tuple):
                return self._commit(False), address
            host, port = address[0], address[1]
            try:
                ipaddress.ip_address(str(host).split("%", 1)[0])
            except ValueError:  # a name: the kernel resolves it
                infos = _pysocket.getaddrinfo(host, port, self._args[0], SOCK_STREAM)
                if infos:
                    resolved = infos[0][4]
                    if p.reaches(str(resolved[0])):
                        return self._commit(True), resolved
            return self._commit(p.reaches(str(host))), address

        def connect(self, address: Any) -> None:
            impl, address = self._route(address)
            impl.connect(address)

        def connect_ex(self, address: Any) -> int:
            impl, address = self._route(address)
            return int(impl.connect_ex(address))

        # -- what is remembered until then ----------------------------------------------------
        def setsockopt(self, *args: Any) -> None:
            self._call("setsockopt", args)

        def settimeout(self, value: float | None) -> None:
            self._call("settimeout", (value,))

        def setblocking(self, flag: bool) -> None:
            self._call("setblocking", (flag,))

        def _call(self, name: str, args: tuple) -> None:
            if self._impl is None:
                assert self._draft is not None
                getattr(self._draft, name)(*args)
                self._pending.append((name, args))
            else:
                getattr(self._impl, name)(*args)

        @property
        def stack(self) -> str | None:
            """Whose TCP this socket is: "tcplab", "kernel", or None before bind/connect."""
            if self._impl is None:
                return None
            return "tcplab" if isinstance(self._impl, Socket) else "kernel"

        @property
        def family(self) -> int:
            return self._args[0] if self._impl is None else int(self._impl.family)

        @property
        def type(self) -> int:
            return SOCK_STREAM if self._impl is None else int(self._impl.type)

        @property
        def proto(self) -> int:
            return IPPROTO_TCP if self._impl is None else int(self._impl.proto)

        def close(self) -> None:
            impl = self._impl if self._impl is not None else self._draft
            if impl is not None:
                impl.close()

        def __enter__(self) -> Any:
            return self

        def __exit__(self, *exc: object) -> None:
            self.close()

        def __repr__(self) -> str:
            return repr(self._impl) if self._impl is not None else "<socket (not yet bound or connected)>"

        def __getattr__(self, name: str) -> Any:
            # everything else (listen, accept, fileno, send, recv, makefile, ...): a TCP socket
            # used before bind/connect is tcplab's (listen() binds the wildcard)
            if name.startswith("__"):
                raise AttributeError(name)
            return getattr(self._commit(True), name)

    return socket

"""``ReadinessFd``: a real file descriptor whose readiness mirrors a tcplab socket's, so
``select``, ``selectors``, ``poll`` and asyncio's standard event loop can wait on tcplab sockets.

It is one end (A) of a Unix socketpair; tcplab keeps the other end (B) and holds A's readiness in
step with the tcplab socket:

- A is readable while B has written a byte A has not read: set by sending one byte from B,
  cleared by draining A;
- A is writable while its send buffer has room: cleared by filling A's (small) send buffer
  towards B, set again by draining B.

Nobody reads or writes A but this class; the program calls the tcplab socket's own recv/send.
POLLHUP and POLLERR show as readable and writable, as select() reports them.
"""

from __future__ import annotations

import contextlib
import socket as _socket

__all__ = ["ReadinessFd", "changes"]

_FILL = b"\0" * 4096
_CHANGES = [0]  # how many times any mirror changed (a simulated selector waits for a change)


def changes() -> int:
    """A counter that moves whenever some ReadinessFd's readiness changes."""
    return _CHANGES[0]


class ReadinessFd:
    """One socket's mirror. ``set(readable, writable)`` after every change; ``fileno()`` is A."""

    def __init__(self) -> None:
        self._a, self._b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        for end in (self._a, self._b):
            end.setblocking(False)
        self._a.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDBUF, 1)  # the smallest: cheap to fill
        self.readable = False
        self.writable = True  # an empty socketpair is writable

    def fileno(self) -> int:
        return self._a.fileno()

    def set(self, readable: bool, writable: bool) -> None:
        if readable != self.readable or writable != self.writable:
            _CHANGES[0] += 1
        if readable != self.readable:
            if readable:
                self._b.send(b"r")
            else:
                _drain(self._a)
            self.readable = readable
        if writable != self.writable:
            if writable:
                _drain(self._b)
            else:
                with contextlib.suppress(BlockingIOError):
                    while True:
                        self._a.send(_FILL)
            self.writable = writable

    def close(self) -> None:
        self._a.close()
        self._b.close()


def _drain(end: _socket.socket) -> None:
    with contextlib.suppress(BlockingIOError):
        while end.recv(65536):
            pass

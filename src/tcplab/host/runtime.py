"""What a host's user calls wait on: the ``Runtime`` protocol.

The host and its sockets never sleep or read a clock themselves; they ask ``host.runtime``, which
owns time and wake-ups:

- ``virtual_time``: True when time (and so readiness) moves only while the runtime runs (the
  simulator, the drill): a real file descriptor cannot mirror a socket's readiness there;
- ``now()``: the current time (virtual on the simulator, ``time.monotonic()`` on TUN);
- ``kick()``: a user call queued packets or changed timers: let them go out now;
- ``call_later(delay, callback)``: run ``callback()`` ``delay`` seconds from now;
- ``wait_until(predicate, timeout, what="") -> bool``: make progress (move packets, run timers)
  until ``predicate()`` is true (True) or ``timeout`` seconds pass (False); ``timeout`` None waits
  as long as it takes. ``what`` says who waits for what (``"recv() on ... waits until
  readable"``): a runtime that can tell the wait will never end (the simulation ran dry, or
  nothing changed for its horizon of virtual time) raises an error saying so.

Implementations: ``tcplab.net.simhost.SimRuntime`` (the simulated network),
``tcplab.net.tun.TunRuntime`` (a TUN device's I/O loop) and the drill's runner.
See docs/architecture.md ("Who owns time").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Runtime(Protocol):
    """The clock and the loop a host's blocking calls run on."""

    virtual_time: bool

    def now(self) -> float: ...

    def kick(self) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> None: ...

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None, what: str = "") -> bool: ...

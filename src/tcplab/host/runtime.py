"""What a host's user calls wait on: the ``Runtime`` protocol.

The host and its sockets never sleep or read a clock themselves; they ask ``host.runtime``, which
owns time and wake-ups:

- ``virtual_time``: True when time (and so readiness) moves only while the runtime runs (the
  simulator, the drill): a wait on a socket's ``fileno()`` must then go through a selector that
  runs it (``tcplab.net.simhost.SimSelector``), never a plain ``select()``;
- ``now()``: the run's clock: seconds since it started (virtual on the simulator, real on TUN);
- ``epoch``: the wall-clock time (Unix seconds) ``now() == 0`` stands for: the fixed
  ``tcplab.net.sim.EPOCH`` (2000-01-01T00:00:00Z) on the simulator, the start on TUN. Captures
  are stamped ``epoch + now()``; traces, ``netstat --watch`` and ``tcplab watch`` print ``now()``;
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
    epoch: float

    def now(self) -> float: ...

    def kick(self) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> None: ...

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None, what: str = "") -> bool: ...

"""tcplab hosts on the simulated network: their runtime and the usual two-host bench.

``SimRuntime`` is the :class:`tcplab.host.runtime.Runtime` of hosts on a
:class:`tcplab.net.sim.Network`: a blocking socket call runs the simulation (virtual time) until
what it waits for happens. ``two_hosts()`` builds the bench most examples and tests start from.
"""

from __future__ import annotations

import selectors
import threading
from collections.abc import Callable
from typing import Any

from tcplab.host.host import Host
from tcplab.net.sim import EPOCH, Network
from tcplab.socket.readiness import changes
from tcplab.tcp.config import Config
from tcplab.trace.events import EventLog

__all__ = ["DEFAULT_HORIZON", "SimRuntime", "SimSelector", "SimulationStalled", "two_hosts"]


# A blocking call on the simulator that waits this long (virtual seconds) without its condition
# coming true is taken as stuck: longer than any of Linux's default timers takes to end a
# connection (keepalive: 7200 s + 9 probes * 75 s), short enough that zero-window probes to a
# peer that never reads cost milliseconds of real time.
DEFAULT_HORIZON = 4 * 3600.0
# How long (real seconds) a selector on the simulated network that has nothing left to simulate
# waits for its real descriptors (another thread's answer) before calling it a deadlock.
_REAL_GRACE = 2.0


class SimulationStalled(RuntimeError):
    """A blocking call waits for something that can never happen: the simulation ran dry, or
    nothing it waits for happened within the runtime's horizon of virtual time."""


class SimRuntime:
    """Runs the simulated network whenever a socket call has to wait (virtual time).

    ``horizon``: how many virtual seconds a call that waits without a timeout may wait before it
    is taken as stuck (:class:`SimulationStalled`); None waits as long as events remain."""

    virtual_time = True  # readiness changes only while the simulation runs

    def __init__(self, network: Network, horizon: float | None = DEFAULT_HORIZON) -> None:
        self.network = network
        self.horizon = horizon
        self.epoch = EPOCH  # a capture's time for network.now == 0

    @classmethod
    def attach(cls, network: Network, *hosts: Host, horizon: float | None = DEFAULT_HORIZON) -> SimRuntime:
        """One runtime for ``network``, installed on ``hosts`` (default: every ``Host`` in it)."""
        runtime = cls(network, horizon)
        targets = hosts or tuple(n for n in network.nodes.values() if isinstance(n, Host))
        for host in targets:
            host.runtime = runtime
        return runtime

    def now(self) -> float:
        return self.network.now

    def kick(self) -> None:
        if not self.network.running:
            self.network.poll()

    def call_later(self, delay: float, callback: Callable[[], object]) -> None:
        self.network.call_later(delay, callback)

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None, what: str = "") -> bool:
        if predicate():
            return True
        if timeout is not None and timeout <= 0:
            return False
        network = self.network
        who = what or "a blocking socket call"
        if network.running:
            raise SimulationStalled(
                f"{who}, from inside a simulation event: use non-blocking sockets there "
                "(or make the call outside network.run())"
            )
        network.poll()
        if timeout is not None:
            return network.run_until(predicate, timeout=timeout, max_events=1 << 62) or predicate()
        start = network.now
        horizon = self.horizon

        def done_or_stuck() -> bool:
            return predicate() or (horizon is not None and network.now - start > horizon)

        network.run_until(done_or_stuck, timeout=None, max_events=1 << 62)
        if predicate():
            return True
        if network.next_event_time() is None:
            raise SimulationStalled(
                f"{who}, but the simulation ran out of events at t={network.now:.3f} s: nothing "
                "can ever make it happen (a deadlock)"
            )
        raise SimulationStalled(
            f"{who}, and nothing brought it about in {network.now - start:.0f} virtual seconds "
            f"(t={network.now:.3f} s): the peer never reads, or never answers? (the horizon is "
            "SimRuntime.horizon / two_hosts(horizon=...); give the call a timeout to wait longer)"
        )


class SimSelector(selectors.DefaultSelector):
    """A selector for programs on the simulated network: real descriptors (tcplab sockets'
    ``fileno()`` mirrors, a loop's self-pipe) are polled without blocking, and waiting is spent
    running the simulation until one of them may be ready (a mirror changed, or ``woken`` was
    set) or the timeout passes in virtual time. What ``tcplab.patch`` installs as
    ``selectors.DefaultSelector`` on a simulated host, and the selector of ``tcplab.aio``'s loop.
    Waiting without a timeout longer than ``horizon`` virtual seconds raises SimulationStalled."""

    def __init__(self, network: Network, horizon: float | None = DEFAULT_HORIZON, who: str = "the selector") -> None:
        super().__init__()
        self.network = network
        self.horizon = horizon
        self.who = who
        self.woken = False

    def select(self, timeout: float | None = None) -> list:
        ready = super().select(0)
        net = self.network
        if ready or self.woken or (timeout is not None and timeout <= 0):
            self.woken = False
            net.poll()
            return ready
        net.poll()
        start, horizon, seen = net.now, self.horizon, changes()

        def stop() -> bool:
            if self.woken or changes() != seen:
                return True
            return timeout is None and horizon is not None and net.now - start > horizon

        net.run_until(stop, timeout=timeout, max_events=1 << 62)
        if self.woken or changes() != seen or timeout is not None:
            self.woken = False
            return super().select(0)
        if net.next_event_time() is None:
            # Nothing left to simulate: only a real descriptor can still wake us (a thread's
            # answer through the loop's self-pipe, e.g. asyncio's getaddrinfo in an executor).
            ready = super().select(_REAL_GRACE if threading.active_count() > 1 else 0)
            if ready:
                return ready
            raise SimulationStalled(
                f"the simulation ran out of events at t={net.now:.3f} s while {self.who} was "
                "waiting (a deadlock: nothing can ever wake it)"
            )
        raise SimulationStalled(
            f"{self.who} waited {net.now - start:.0f} virtual seconds (t={net.now:.3f} s) and nothing "
            "woke it: a peer that never reads, or never answers? (the horizon is "
            "SimEventLoop(network, horizon=...) / tcplab.aio.run(..., horizon=...))"
        )


def two_hosts(
    seed: int = 0,
    delay: float = 0.01,
    config: Config | None = None,
    log: EventLog | None = None,
    client: tuple[str, ...] = ("198.18.0.1", "fd00::1"),
    server: tuple[str, ...] = ("198.18.0.2", "fd00::2"),
    horizon: float | None = DEFAULT_HORIZON,
    **impairments: Any,
) -> tuple[Network, Host, Host]:
    """The usual test bench: a simulated network with hosts ``client`` (198.18.0.1, fd00::1)
    and ``server`` (198.18.0.2, fd00::2) on one link, runtimes attached. Returns
    ``(network, client_host, server_host)``; ``network.log`` is the shared EventLog."""
    log = log if log is not None else EventLog()
    net = Network(seed=seed, log=log)
    c = Host("client", client, config, seed=seed, log=log)
    s = Host("server", server, config, seed=seed + 1, log=log)
    net.add(c)
    net.add(s)
    net.link(c, s, delay=delay, **impairments)
    SimRuntime.attach(net, horizon=horizon)
    return net, c, s

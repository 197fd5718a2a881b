"""How user calls wait: the runtime a host's sockets block on.

The socket layer never sleeps or reads a clock itself; it asks ``host.runtime``:

- ``now()``: the current time (virtual on the simulator, ``time.monotonic()``-like on TUN);
- ``wait_until(predicate, timeout) -> bool``: make progress (move packets, run timers) until
  ``predicate()`` is true (True) or ``timeout`` seconds pass (False); ``timeout`` None waits
  forever;
- ``kick()``: a user call queued packets or changed timers: let them go out now;
- ``call_later(delay, callback)``.

``SimRuntime`` drives a ``tcplab.net.sim.Network``; the TUN link provides its own runtime with the
same four methods (its ``wait_until`` runs the real I/O loop).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class SimulationStalled(RuntimeError):
    """A blocking call waits for something that can never happen: the simulation ran dry."""


class SimRuntime:
    """Runs the simulated network whenever a socket call has to wait (virtual time)."""

    def __init__(self, network: Any) -> None:
        self.network = network

    @classmethod
    def attach(cls, network: Any, *hosts: Any) -> SimRuntime:
        """One runtime for ``network``, installed on ``hosts`` (default: every node with a
        ``runtime`` attribute)."""
        runtime = cls(network)
        targets = hosts or tuple(n for n in network.nodes.values() if hasattr(n, "runtime"))
        for host in targets:
            host.runtime = runtime
        return runtime

    def now(self) -> float:
        return self.network.now

    def kick(self) -> None:
        if not getattr(self.network, "_running", False):
            self.network.poll()

    def call_later(self, delay: float, callback: Callable[[], Any]) -> None:
        self.network.call_later(delay, callback)

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        if predicate():
            return True
        if timeout is not None and timeout <= 0:
            return False
        network = self.network
        if getattr(network, "_running", False):
            raise SimulationStalled(
                "a blocking socket call was made from inside a simulation event; use "
                "non-blocking sockets there (or call it outside network.run())"
            )
        network.poll()
        if network.run_until(predicate, timeout=timeout, max_events=1 << 62):
            return True
        if timeout is None:
            raise SimulationStalled(
                f"the simulation ran out of events at t={network.now:.3f} s while a blocking "
                "call was still waiting (nothing can ever wake it: a deadlock)"
            )
        return predicate()


def two_hosts(
    seed: int = 0,
    delay: float = 0.01,
    config: Any = None,
    log: Any = None,
    client: tuple[str, ...] = ("198.18.0.1", "fd00::1"),
    server: tuple[str, ...] = ("198.18.0.2", "fd00::2"),
    **impairments: Any,
) -> tuple[Any, Any, Any]:
    """The usual test bench: a simulated network with hosts ``client`` (198.18.0.1, fd00::1)
    and ``server`` (198.18.0.2, fd00::2) on one link, runtimes attached. Returns
    ``(network, client_host, server_host)``; ``network.log`` is the shared EventLog."""
    from tcplab.host.host import Host
    from tcplab.net.sim import Network
    from tcplab.trace.events import EventLog

    log = log if log is not None else EventLog()
    net = Network(seed=seed, log=log)
    c = net.add(Host("client", client, config, seed=seed, log=log))
    s = net.add(Host("server", server, config, seed=seed + 1, log=log))
    net.link(c, s, delay=delay, **impairments)
    SimRuntime.attach(net)
    return net, c, s

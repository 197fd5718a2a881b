"""tcplab hosts on the simulated network: their runtime and the usual two-host bench.

``SimRuntime`` is the :class:`tcplab.host.runtime.Runtime` of hosts on a
:class:`tcplab.net.sim.Network`: a blocking socket call runs the simulation (virtual time) until
what it waits for happens. ``two_hosts()`` builds the bench most examples and tests start from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tcplab.host.host import Host
from tcplab.net.sim import EPOCH, Network
from tcplab.tcp.config import Config
from tcplab.trace.events import EventLog

__all__ = ["SimRuntime", "SimulationStalled", "two_hosts"]


class SimulationStalled(RuntimeError):
    """A blocking call waits for something that can never happen: the simulation ran dry."""


class SimRuntime:
    """Runs the simulated network whenever a socket call has to wait (virtual time)."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.epoch = EPOCH  # a capture's time for network.now == 0

    @classmethod
    def attach(cls, network: Network, *hosts: Host) -> SimRuntime:
        """One runtime for ``network``, installed on ``hosts`` (default: every ``Host`` in it)."""
        runtime = cls(network)
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

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        if predicate():
            return True
        if timeout is not None and timeout <= 0:
            return False
        network = self.network
        if network.running:
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
    config: Config | None = None,
    log: EventLog | None = None,
    client: tuple[str, ...] = ("198.18.0.1", "fd00::1"),
    server: tuple[str, ...] = ("198.18.0.2", "fd00::2"),
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
    SimRuntime.attach(net)
    return net, c, s

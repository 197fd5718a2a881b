"""One IP host: addresses, demultiplexing, listeners, ports, RST for what matches nothing."""

from tcplab.host.host import COUNTER_NAMES, SOMAXCONN, Endpoint, Host, Listener, conn_label
from tcplab.host.ports import LINUX_EPHEMERAL_RANGE, EphemeralPorts
from tcplab.host.runtime import SimRuntime, SimulationStalled, two_hosts

__all__ = [
    "COUNTER_NAMES",
    "LINUX_EPHEMERAL_RANGE",
    "SOMAXCONN",
    "Endpoint",
    "EphemeralPorts",
    "Host",
    "Listener",
    "SimRuntime",
    "SimulationStalled",
    "conn_label",
    "two_hosts",
]

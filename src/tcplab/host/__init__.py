"""One IP host: addresses, demultiplexing, listeners, ports, RST for what matches nothing."""

from tcplab.host.host import COUNTER_NAMES, SOMAXCONN, Binding, Endpoint, Host, Listener, Traffic, conn_label
from tcplab.host.link import LinkOffloads
from tcplab.host.ports import LINUX_EPHEMERAL_RANGE, EphemeralPorts
from tcplab.host.runtime import Runtime

__all__ = [
    "COUNTER_NAMES",
    "LINUX_EPHEMERAL_RANGE",
    "SOMAXCONN",
    "Binding",
    "Endpoint",
    "EphemeralPorts",
    "Host",
    "LinkOffloads",
    "Listener",
    "Runtime",
    "Traffic",
    "conn_label",
]

"""asyncio streams on tcplab hosts: the same module as ``tcplab.aio`` (see there)."""

from tcplab.aio import (
    Server,
    SimEventLoop,
    SimulationStalled,
    TcplabTransport,
    create_connection,
    create_server,
    open_connection,
    run,
    start_server,
)

__all__ = [
    "Server",
    "SimEventLoop",
    "SimulationStalled",
    "TcplabTransport",
    "create_connection",
    "create_server",
    "open_connection",
    "run",
    "start_server",
]

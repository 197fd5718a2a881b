"""A concurrent echo server on port 9527: asyncio streams on a tcplab host.

The server code is ordinary asyncio; only ``tcplab.aio.start_server(..., stack=host)`` says where
it runs. Run this file directly and it builds a simulated network with two hosts (client
198.18.0.1, server 198.18.0.2), starts the server, lets a few echo clients
(``examples/echo_client.py``) talk to it and prints both hosts' connection tables:

    python examples/echo_server.py --clients 5 --size 100000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

import tcplab.aio
from tcplab.host import Host
from tcplab.net.sim import Network
from tcplab.net.simhost import SimRuntime
from tcplab.trace.events import EventLog

PORT = 9527
CLIENT_ADDRESSES = ("198.18.0.1", "fd00::1")
SERVER_ADDRESSES = ("198.18.0.2", "fd00::2")


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo everything back; close after the client's FIN."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def serve(stack: Host, host: str | None = None, port: int = PORT, backlog: int = 256) -> tcplab.aio.Server:
    """Start the echo server on ``stack`` (a tcplab Host); returns the asyncio-like Server."""
    return await tcplab.aio.start_server(handle, host, port, stack=stack, backlog=backlog)


def build_network(seed: int = 0, delay: float = 0.005, **impairments) -> tuple[Network, Host, Host]:
    """A simulated network of two hosts joined by one link: (network, client, server)."""
    log = EventLog()
    net = Network(seed=seed, log=log)
    client = net.add(Host("client", CLIENT_ADDRESSES, log=log, seed=seed))
    server = net.add(Host("server", SERVER_ADDRESSES, log=log, seed=seed + 1))
    net.link(client, server, delay=delay, **impairments)
    SimRuntime.attach(net)
    return net, client, server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=3, help="concurrent clients (default 3)")
    parser.add_argument("--size", type=int, default=65536, help="bytes each client echoes")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import echo_client

    return echo_client.demo(args.clients, args.size)


if __name__ == "__main__":
    sys.exit(main())

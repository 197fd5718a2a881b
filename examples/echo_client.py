"""An echo client: send bytes to the echo server (port 9527), half-close, read them all back.

Run this file directly and it builds the simulated network of ``echo_server.py``, starts the
server there and runs the clients against it:

    python examples/echo_client.py --clients 20 --size 65536
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sys
from pathlib import Path

import tcplab.aio
from tcplab.host import Host
from tcplab.netstat import format_table, rows

sys.path.insert(0, str(Path(__file__).resolve().parent))
import echo_server

PORT = echo_server.PORT


async def echo(stack: Host, data: bytes, host: str = "198.18.0.2", port: int = PORT, chunk: int = 16384) -> bytes:
    """Send ``data``, then FIN (write_eof), and return everything the server sent back."""
    reader, writer = await tcplab.aio.open_connection(host, port, stack=stack)

    async def send() -> None:
        for i in range(0, len(data), chunk):
            writer.write(data[i : i + chunk])
            await writer.drain()
        writer.write_eof()  # half-close: "that was all", the server can still answer

    sender = asyncio.create_task(send())
    received = await reader.read()  # until the server's FIN
    await sender
    writer.close()
    await writer.wait_closed()
    return received


def payload(i: int, size: int) -> bytes:
    """Client ``i``'s bytes: deterministic, different for every client."""
    return random.Random(f"echo client {i}").randbytes(size)


async def run_clients(client: Host, server: Host, clients: int, size: int) -> list[bool]:
    """Start the echo server on ``server``, run ``clients`` concurrent echoes from ``client``;
    True for every client whose bytes came back intact (same sha256)."""
    srv = await echo_server.serve(server)
    datas = [payload(i, size) for i in range(clients)]
    results = await asyncio.gather(*(echo(client, d) for d in datas))
    srv.close()
    await srv.wait_closed()
    return [hashlib.sha256(r).digest() == hashlib.sha256(d).digest() for r, d in zip(results, datas, strict=True)]


def demo(clients: int, size: int) -> int:
    net, client, server = echo_server.build_network()
    ok = tcplab.aio.run(run_clients(client, server, clients, size), net)
    took = net.now
    net.run(until=net.now + 1.0)  # let the last ACKs land (TIME_WAIT lasts 60 s)
    print(f"{sum(ok)}/{clients} clients got their {size} bytes back intact (virtual time {took:.3f} s)")
    print("client:")
    print(format_table(rows(client)))
    print("server:")
    print(format_table(rows(server)))
    return 0 if all(ok) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=3, help="concurrent clients (default 3)")
    parser.add_argument("--size", type=int, default=65536, help="bytes each client echoes")
    args = parser.parse_args(argv)
    return demo(args.clients, args.size)


if __name__ == "__main__":
    sys.exit(main())

"""An ordinary asyncio HTTP server, nothing of tcplab in it: it answers every request with its
request line in capitals. Run it on tcplab's TCP over a TUN device, unmodified:

    sudo tcplab run --tun tlab0 --address 198.18.0.2/24 --peer-address 198.18.0.1/24 \\
        -- python examples/upper_server.py
    curl http://198.18.0.2:8081/hello          # another terminal: GET /HELLO HTTP/1.1
"""

import asyncio
import contextlib
import sys


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    body = request.split(b"\r\n")[0].upper() + b"\n"
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, None, port)
    print(f"serving on port {port}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends it
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8081))

"""curl (the kernel's TCP) fetching a file from a tiny HTTP server written with tcplab's asyncio
streams, the TUN link driven from the asyncio loop (``TunRuntime.attach_asyncio``)."""

from __future__ import annotations

import asyncio
import hashlib
import random
import shutil

import pytest

import tcplab.asyncio as tcplab_asyncio

from .helpers import H4, H6, MB, TunBench

BODY = random.Random(42).randbytes(2 * MB)


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    line = request.split(b"\r\n", 1)[0]
    if line.startswith(b"GET /file.bin "):
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)
        )
        writer.write(head + BODY)
    else:
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def _fetch(tun: TunBench, url: str, out: str) -> tuple[int, bytes]:
    loop = asyncio.get_running_loop()
    tun.runtime.attach_asyncio(loop)
    try:
        server = await tcplab_asyncio.start_server(_handle, None, 8080, stack=tun.host)
        proc = await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            tun.ns,
            "curl",
            "-sS",
            "-g",
            "--max-time",
            "60",
            "-o",
            out,
            "-w",
            "%{http_code}",
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 90)
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)
        await asyncio.sleep(0.2)  # let the last ACKs of the close cross the link
        return proc.returncode, stdout + stderr
    finally:
        tun.runtime.detach_asyncio()


@pytest.mark.parametrize("url_host", [H4, f"[{H6}]"], ids=["ipv4", "ipv6"])
def test_curl_fetches_file_from_tcplab_asyncio_http_server(tun: TunBench, tmp_path, url_host: str) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed (apt-get install curl)")
    out = str(tmp_path / "got.bin")
    rc, output = asyncio.run(_fetch(tun, f"http://{url_host}:8080/file.bin", out))
    assert rc == 0, output
    assert output == b"200"
    with open(out, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == hashlib.sha256(BODY).hexdigest()
    assert tun.host.counters["internal_errors"] == 0

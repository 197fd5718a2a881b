"""Ordinary programs -- http.server, socketserver, a selectors loop, urllib/http.client,
asyncio.start_server, aiohttp -- unchanged on a tcplab host over TUN (``tcplab.patch``, the TUN
loop in a thread of its own), with the kernel's curl and nc as their peers; and the ``tcplab
run``, ``tcplab connect`` (netcat's habits) and ``tcplab serve http`` commands."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import http.client
import http.server
import os
import random
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

import tcplab
from tests.socket.test_programs_sim import selectors_echo_server

from .helpers import H4, H6, K4, TunBench
from .test_cli import TUN, _tcplab, _wait_line

BODY = random.Random(7).randbytes(1 << 20)


def _tools(*names: str) -> None:
    for name in names:
        if shutil.which(name) is None:
            pytest.skip(f"{name} is not installed")


def _in_ns(ns: str, *argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, timeout=60, **kw)


def _curl(ns: str, *args: str) -> subprocess.CompletedProcess:
    return _in_ns(ns, "curl", "-sS", "-g", "--max-time", "30", *args)


@pytest.fixture
def threaded(tun: TunBench):
    """The TUN bench with its loop in a thread of its own and the socket module patched."""
    tun.runtime.start()
    with tcplab.patch(tun.host) as p:
        yield tun, p


def _tcplab_conns(stack: TunBench, peer: str) -> set[str]:
    """Labels of tcplab's connections with ``peer`` (from the host's event log)."""
    return {e["conn"] for e in stack.host.log.events if e["kind"] == "state" and peer in e.get("conn", "")}


class DualStackHTTPServer(http.server.ThreadingHTTPServer):
    """What ``python -m http.server`` uses: an IPv6 socket that takes IPv4 too."""

    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def test_http_server_unmodified_answers_curl_over_ipv4_and_ipv6(threaded, tmp_path) -> None:
    _tools("curl")
    stack, _ = threaded
    (tmp_path / "file.bin").write_bytes(BODY)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = DualStackHTTPServer(("::", 8080), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for url in (f"http://{H4}:8080/file.bin", f"http://[{H6}]:8080/file.bin"):
            out = tmp_path / "got.bin"
            res = _curl(stack.ns, "-o", str(out), "-w", "%{http_code}", url)
            assert (res.returncode, res.stdout) == (0, b"200"), res.stderr
            assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(BODY).digest()
        res = _curl(stack.ns, "-w", "%{http_code}", "-o", "/dev/null", f"http://{H4}:8080/missing")
        assert res.stdout == b"404"
    finally:
        server.shutdown()
        server.server_close()
    conns = _tcplab_conns(stack, K4)
    assert conns and all(c.startswith(f"{H4}:8080-") for c in conns)  # tcplab's TCP served them
    assert stack.host.counters["internal_errors"] == 0


class UpperHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.upper())


def test_threading_tcp_server_with_nc_clients(threaded) -> None:
    _tools("nc")
    stack, _ = threaded
    server = socketserver.ThreadingTCPServer(("", 7070), UpperHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        procs = [
            subprocess.Popen(
                ["ip", "netns", "exec", stack.ns, "nc", "-N", H4, "7070"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            for _ in range(3)
        ]
        outs = [p.communicate(b"client %d says hi\nand bye\n" % i, timeout=30)[0] for i, p in enumerate(procs)]
    finally:
        server.shutdown()
        server.server_close()
    assert outs == [b"CLIENT %d SAYS HI\nAND BYE\n" % i for i in range(3)]
    assert len(_tcplab_conns(stack, K4)) == 3


def test_selectors_echo_server_with_nc_clients(threaded) -> None:
    _tools("nc")
    stack, _ = threaded
    result: list[list[bytes]] = []
    thread = threading.Thread(target=lambda: result.append(selectors_echo_server(7071, 3)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not stack.host.listeners and time.monotonic() < deadline:
        time.sleep(0.01)
    payloads = [b"one\n", b"two " * 1000 + b"\n", os.urandom(20000).hex().encode()]
    procs = [
        subprocess.Popen(
            ["ip", "netns", "exec", stack.ns, "nc", "-N", H4, "7071"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        for _ in payloads
    ]
    outs = [p.communicate(data, timeout=30)[0] for p, data in zip(procs, payloads, strict=True)]
    thread.join(30)
    assert outs == payloads
    assert result == [sorted(payloads)]


def test_urllib_and_http_client_reach_the_kernels_http_server(threaded, tmp_path) -> None:
    stack, _ = threaded
    (tmp_path / "file.bin").write_bytes(BODY)
    kernel_server = subprocess.Popen(
        ["ip", "netns", "exec", stack.ns, sys.executable, "-m", "http.server", "--bind", K4, "8000"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while b":8000" not in _in_ns(stack.ns, "ss", "-tlnH").stdout and time.monotonic() < deadline:
            time.sleep(0.05)
        with urllib.request.urlopen(f"http://{K4}:8000/file.bin", timeout=30) as resp:
            got = resp.read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(BODY).digest()
        conn = http.client.HTTPConnection(K4, 8000, timeout=30)
        conn.request("HEAD", "/file.bin")
        head = conn.getresponse()
        head.read()
        conn.request("GET", "/missing")
        missing = conn.getresponse()
        missing.read()
        conn.close()
    finally:
        kernel_server.terminate()
        kernel_server.wait(10)
    assert head.status == 200 and int(head.getheader("Content-Length")) == len(BODY)
    assert missing.status == 404
    assert {c.split("-")[1] for c in _tcplab_conns(stack, K4)} == {f"{K4}:8000"}  # tcplab's client side


async def _upper(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    body = request.split(b"\r\n", 1)[0].upper() + b"\n"
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def _curl_async(ns: str, url: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns, "curl", "-sS", "-g", "--max-time", "30", url, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return out


def test_asyncio_start_server_on_the_standard_loop_answers_curl(threaded) -> None:
    _tools("curl")
    stack, _ = threaded

    async def main() -> list[bytes]:
        server = await asyncio.start_server(_upper, None, 8081)
        async with server:
            return [await _curl_async(stack.ns, f"http://{host}:8081/path") for host in (H4, f"[{H6}]")]

    assert asyncio.run(main()) == [b"GET /PATH HTTP/1.1\n"] * 2
    assert stack.host.counters["internal_errors"] == 0


def test_aiohttp_application_answers_curl(threaded) -> None:
    web = pytest.importorskip("aiohttp.web")
    _tools("curl")
    stack, _ = threaded

    async def hello(request):
        return web.Response(text=f"hello {request.match_info['name']} from aiohttp on tcplab\n")

    async def main() -> bytes:
        app = web.Application()
        app.router.add_get("/hello/{name}", hello)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, H4, 8082).start()
        try:
            return await _curl_async(stack.ns, f"http://{H4}:8082/hello/curl")
        finally:
            await runner.cleanup()

    assert asyncio.run(main()) == b"hello curl from aiohttp on tcplab\n"


# ---- the commands ------------------------------------------------------------------------------------
def _wait_tcplab_port(ns: str, port: int, timeout: float = 20.0) -> None:
    """Until tcplab (reached through the TUN device) accepts a connection on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _in_ns(ns, "nc", "-z", "-w", "1", H4, str(port)).returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {H4}:{port}")


def test_tcplab_run_serves_python_m_http_server_to_curl(ns: str, tmp_path) -> None:
    _tools("curl", "nc")
    (tmp_path / "index.html").write_text("<p>served by http.server on tcplab</p>\n")
    proc = _tcplab(
        "run", *TUN, "--netns", ns, "--", "python", "-m", "http.server", "8090",
        cwd=tmp_path, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_line(proc.stderr, "running http.server on tcplab host 198.18.0.2")
        _wait_tcplab_port(ns, 8090)
        res = _curl(ns, "-i", f"http://{H4}:8090/")
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith(b"HTTP/1.0 200 OK") and b"served by http.server on tcplab" in res.stdout
    finally:
        proc.send_signal(2)  # Ctrl-C: http.server exits 0
        assert proc.wait(20) == 0


def test_tcplab_run_errors_are_one_line(ns: str) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "tcplab", "run", *TUN, "--netns", ns, "--", "nc", "-l", "80"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2
    assert res.stderr.startswith("tcplab: tcplab run runs Python programs") and res.stderr.count("\n") == 1


def test_connect_listen_mode_talks_to_kernel_nc(ns: str) -> None:
    _tools("nc")
    proc = _tcplab(
        "connect", "-l", "-v", "9100", *TUN, "--netns", ns,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        proc.stdin.write(b"from tcplab\n")
        proc.stdin.close()  # end of input: tcplab half-closes, then waits for the peer's FIN
        deadline = time.monotonic() + 20
        while _in_ns(ns, "ip", "link", "show", "tlab0").returncode and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        kernel = _in_ns(ns, "nc", "-N", "-w", "10", H4, "9100", input=b"from the kernel\n")
        out = proc.stdout.read()
        err = proc.stderr.read()
        assert proc.wait(20) == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
    assert kernel.stdout == b"from tcplab\n"
    assert out == b"from the kernel\n"
    assert b"Listening on 198.18.0.2 9100" in err and b"Connection received on 198.18.0.1" in err


def test_connect_zero_io_reports_success_and_failure(ns: str) -> None:
    _tools("nc")
    listener = subprocess.Popen(["ip", "netns", "exec", ns, "nc", "-l", "-k", "9200"], stdout=subprocess.DEVNULL)
    try:
        ok = subprocess.run(
            [sys.executable, "-m", "tcplab", "connect", "-z", K4, "9200", *TUN, "--netns", ns],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        refused = subprocess.run(
            [sys.executable, "-m", "tcplab", "connect", "-z", K4, "9201", *TUN, "--netns", ns],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    finally:
        listener.kill()
        listener.wait(5)
    assert ok.returncode == 0 and "Connection to 198.18.0.1 9200 port [tcp] succeeded!" in ok.stderr
    assert refused.returncode == 1 and "failed: Connection refused" in refused.stderr


def test_connect_to_a_kernel_listener_bound_before_tcplab_started(ns: str) -> None:
    """A persistent TUN device gives the kernel its address first; tcplab attaches to it."""
    _tools("nc")
    for argv in (
        ["ip", "tuntap", "add", "dev", "tlabp", "mode", "tun"],
        ["ip", "addr", "add", "198.18.5.1/24", "dev", "tlabp"],
        ["ip", "link", "set", "tlabp", "up"],
    ):
        assert _in_ns(ns, *argv).returncode == 0
    kernel = subprocess.Popen(
        ["ip", "netns", "exec", ns, "nc", "-l", "198.18.5.1", "9300"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    try:
        time.sleep(0.3)
        res = subprocess.run(
            [
                sys.executable, "-m", "tcplab", "connect", "-q", "1", "198.18.5.1", "9300", "--netns", ns,
                "--tun", "tlabp", "--address", "198.18.5.2/24", "--peer-address", "198.18.5.1/24",
            ],
            input=b"bound before tcplab\n", capture_output=True, timeout=30,
        )  # fmt: skip
        got, _ = kernel.communicate(timeout=20)
    finally:
        if kernel.poll() is None:
            kernel.kill()
    assert res.returncode == 0, res.stderr
    assert got == b"bound before tcplab\n"


def test_serve_http_answers_curl_with_the_connections_tcp_info(ns: str) -> None:
    _tools("curl")
    proc = _tcplab("serve", "http", "--port", "8080", *TUN, "--netns", ns, stderr=subprocess.PIPE, text=True)
    try:
        _wait_line(proc.stderr, "Ctrl-C to stop")
        res = _curl(ns, "-i", "-w", "connects=%{num_connects}\n", f"http://{H4}:8080/a", f"http://{H4}:8080/b")
        head = _curl(ns, "-I", f"http://{H4}:8080/")
        post = _curl(ns, "-i", "-d", "x", f"http://{H4}:8080/")
    finally:
        proc.send_signal(2)
        proc.wait(20)
    text = res.stdout.decode()
    assert res.returncode == 0 and text.startswith("HTTP/1.1 200 OK\r\n")
    assert "Server: tcplab\r\n" in text and "request: GET /a HTTP/1.1" in text and "request: GET /b" in text
    assert "  state: 1\n" in text and "  snd_mss: 1448\n" in text  # ESTABLISHED, MSS 1460 less TS
    assert "connects=1\nHTTP/1.1 200 OK" in text and "connects=0" in text  # one kept-alive connection
    assert head.stdout.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: " in head.stdout
    assert post.stdout.startswith(b"HTTP/1.1 405 Method Not Allowed") and b"Allow: GET, HEAD" in post.stdout


def test_tcplab_aio_attaches_the_tun_link_to_the_standard_loop_by_itself(tun: TunBench) -> None:
    _tools("curl")
    from tcplab import aio

    async def main() -> bytes:
        server = await aio.start_server(_upper, None, 8083, stack=tun.host)  # no attach_asyncio()
        try:
            return await _curl_async(tun.ns, f"http://{H4}:8083/auto")
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(main()) == b"GET /AUTO HTTP/1.1\n"
    assert asyncio.run(main()) == b"GET /AUTO HTTP/1.1\n"  # a second loop: attached again

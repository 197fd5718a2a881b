"""Helpers for the interop suite: a tcplab host on a TUN device inside a network namespace
(``TunBench``), the kernel's TCP as ``kpeer.py`` subprocesses in the same namespace (``KPeer``), and
``exchange`` (send and receive at once on a non-blocking tcplab socket)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import time
from typing import Any

from tcplab.socket import AF_INET, AF_INET6, SHUT_WR, SO_REUSEADDR, SOL_SOCKET, Socket
from tcplab.trace.events import EventLog

HERE = os.path.dirname(os.path.abspath(__file__))
KPEER = os.path.join(HERE, "kpeer.py")
K4, H4 = "198.18.0.1", "198.18.0.2"
K6, H6 = "fd00::1", "fd00::2"
MB = 1 << 20
PORT = 9527


class KPeer:
    """A ``kpeer.py`` subprocess in the namespace; its JSON-line reports are collected by the
    tcplab loop (so waiting for them keeps tcplab's TCP running)."""

    def __init__(self, tun: TunBench, *args: Any) -> None:
        self.tun = tun
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", tun.ns, sys.executable, KPEER, *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.events: list[dict[str, Any]] = []
        self._buf = b""
        os.set_blocking(self.proc.stdout.fileno(), False)
        tun.runtime.add_reader(self.proc.stdout.fileno(), self._readable)
        tun.peers.append(self)

    def _readable(self) -> None:
        try:
            data = os.read(self.proc.stdout.fileno(), 65536)
        except BlockingIOError:
            return
        if not data:
            self.tun.runtime.remove_reader(self.proc.stdout.fileno())
            return
        self._buf += data
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            self.events.append(json.loads(line))

    def event(self, name: str) -> dict[str, Any] | None:
        for e in self.events:
            if e["event"] in (name, "error"):
                return e
        return None

    def wait(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        """Run tcplab until the peer reports ``name`` (or an error); fail after ``timeout``."""
        ok = self.tun.runtime.run_until(lambda: self.event(name) is not None, timeout)
        if not ok:
            err = b""
            if self.proc.poll() is not None:
                err = self.proc.stderr.read()
            raise AssertionError(
                f"kernel peer did not report {name!r} within {timeout} s; events {self.events}; stderr {err[-2000:]!r}"
            )
        return self.event(name)  # type: ignore[return-value]

    def resume(self) -> None:
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 30.0) -> int:
        self.tun.runtime.run_until(lambda: self.proc.poll() is not None, timeout)
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(Exception):
                self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(Exception):
                f.close()


class TunBench:
    """One test's namespace, TUN link, tcplab host and loop."""

    def __init__(self, ns: str, pcap: str | None = None, host_name: str = "tcplab", *, offload: bool = True) -> None:
        from tcplab.host import Host
        from tcplab.net.tun import TunLink, TunRuntime

        self.ns = ns
        self.link = TunLink(
            "tlab0",
            f"{K4}/24",
            f"{H4}/24",
            kernel_address6=f"{K6}/64",
            host_address6=f"{H6}/64",
            netns=ns,
            pcap=pcap,
            offload=offload,
        ).open()
        self.host = Host(host_name, self.link.host_addresses(), log=EventLog())  # a whole trace: tests read it
        self.runtime = TunRuntime(self.link, self.host)
        self.peers: list[KPeer] = []

    def kpeer(self, *args: Any) -> KPeer:
        return KPeer(self, *args)

    def run(self, argv: list[str], timeout: float = 30.0) -> subprocess.CompletedProcess:
        """A program in the namespace, run while tcplab's loop keeps going."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out: list[bytes] = []
        err: list[bytes] = []
        for stream, sink in ((proc.stdout, out), (proc.stderr, err)):
            os.set_blocking(stream.fileno(), False)

            def reader(stream=stream, sink=sink) -> None:
                try:
                    data = os.read(stream.fileno(), 65536)
                except BlockingIOError:
                    return
                if data:
                    sink.append(data)
                else:
                    self.runtime.remove_reader(stream.fileno())

            self.runtime.add_reader(stream.fileno(), reader)
        self.runtime.run_until(lambda: proc.poll() is not None, timeout)
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        for stream, sink in ((proc.stdout, out), (proc.stderr, err)):
            self.runtime.remove_reader(stream.fileno())
            with contextlib.suppress(Exception):
                rest = stream.read()
                if rest:
                    sink.append(rest)
            stream.close()
        return subprocess.CompletedProcess(argv, proc.returncode, b"".join(out).decode(), b"".join(err).decode())

    def ss(self) -> list[tuple[str, str, str]]:
        """``ss -tan`` in the namespace: (state, local, peer) rows."""
        res = subprocess.run(
            ["ip", "netns", "exec", self.ns, "ss", "-tanH"], capture_output=True, text=True, timeout=10, check=True
        )
        rows = []
        for line in res.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 5:
                rows.append((parts[0], parts[3], parts[4]))
        return rows

    def states(self, conn_label: str) -> list[str]:
        """The states tcplab's connection ``conn_label`` went through (from the event log)."""
        out: list[str] = []
        for e in self.host.log.events:
            if e["kind"] == "state" and e.get("conn") == conn_label:
                if not out:
                    out.append(e["from"])
                out.append(e["to"])
        return out

    def close(self) -> None:
        for p in self.peers:
            p.kill()
        self.runtime.close()
        self.link.close()


def blob(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)  # what kpeer.py sends with the same seed


def exchange(
    tun: TunBench,
    sock,
    payload: bytes,
    nrecv: int | None,
    *,
    echo: bool = False,
    until_eof: bool = False,
    shut: bool = False,
    timeout: float = 120.0,
) -> bytes:
    """Send ``data`` and receive ``nrecv`` bytes (and/or until EOF) at the same time on a
    non-blocking tcplab socket, running the TUN loop between steps. ``echo``: send back what
    arrives. ``shut``: half-close once everything is sent. Returns what arrived."""
    sock.setblocking(False)
    out = bytearray(payload)
    got = bytearray()
    eof = False
    shut_done = False
    end = time.monotonic() + timeout
    while True:
        progress = False
        while True:
            try:
                chunk = sock.recv(262144)
            except BlockingIOError:
                break
            if not chunk:
                eof = True
                break
            got += chunk
            if echo:
                out += chunk
            progress = True
        while out:
            try:
                n = sock.send(out)
            except BlockingIOError:
                break
            del out[:n]
            progress = True
        if shut and not out and not shut_done and (not echo or eof):
            sock.shutdown(SHUT_WR)
            shut_done = True
        done = not out and (nrecv is None or len(got) >= nrecv) and (eof or not until_eof)
        if done:
            return bytes(got)
        if eof and nrecv is not None and len(got) < nrecv:
            raise AssertionError(f"EOF after {len(got)} of {nrecv} bytes")
        if time.monotonic() > end:
            raise AssertionError(
                f"exchange stalled: sent {len(payload) - len(out)}/{len(payload)}, received {len(got)}"
            )
        if not progress:
            tun.runtime.step(0.5)


def listen(tun: TunBench, ip: str, port: int = PORT, reuseaddr: bool = False):
    srv = Socket(tun.host, AF_INET6 if ":" in ip else AF_INET)
    if reuseaddr:
        srv.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    srv.bind((ip, port))
    srv.listen(8)
    srv.settimeout(20)
    return srv

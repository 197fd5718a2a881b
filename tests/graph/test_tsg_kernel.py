"""``tcplab graph`` on captures of real kernel traffic: tcpdump (Ethernet and Linux SLL2 link
layers, pcap) and dumpcap (pcapng), checked against what tshark reads in the same files.

Two network namespaces joined by a veth pair; the client's side is shaped to 20 Mbit/s (tbf)
without segmentation offload, and nftables drops 3 % of what reaches the server, so the kernel
retransmits and SACKs. Root only; skips with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcplab.cli import main

PORT = 9611
C_ADDR, S_ADDR = "198.18.61.1", "198.18.61.2"
SIZE = 1_000_000
SVG = "{http://www.w3.org/2000/svg}"


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, veth, tc, nftables)"
    for tool in ("ip", "tc", "nft", "tcpdump", "dumpcap", "tshark"):
        if shutil.which(tool) is None:
            return f"needs {tool} (apt-get install iproute2 nftables tcpdump tshark)"
    return None


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture
def pair() -> Iterator[tuple[str, str]]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    c, s = f"tcplab-gc-{os.getpid():x}", f"tcplab-gs-{os.getpid():x}"
    _run("ip", "netns", "add", c)
    try:
        _run("ip", "netns", "add", s)
        _run("ip", "-n", c, "link", "add", "vc", "type", "veth", "peer", "name", "vs", "netns", s)
        _run("ip", "-n", c, "addr", "add", f"{C_ADDR}/24", "dev", "vc")
        _run("ip", "-n", s, "addr", "add", f"{S_ADDR}/24", "dev", "vs")
        for ns, dev in ((c, "vc"), (s, "vs")):
            _run("ip", "-n", ns, "link", "set", dev, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        if shutil.which("ethtool"):  # wire-sized segments in the capture (else 64 KB GSO ones)
            _run("ip", "netns", "exec", c, "ethtool", "-K", "vc", "tso", "off", "gso", "off")
        _run("tc", "-n", c, "qdisc", "add", "dev", "vc", "root", "tbf", "rate", "20mbit", "burst", "16kb",
             "latency", "30ms")  # fmt: skip
        _run("ip", "netns", "exec", s, "nft", "add", "table", "inet", "t")
        _run("ip", "netns", "exec", s, "nft", "add", "chain", "inet", "t", "inp",
             "{ type filter hook input priority 0; }")  # fmt: skip
        _run("ip", "netns", "exec", s, "nft", "add", "rule", "inet", "t", "inp", "tcp", "dport", str(PORT),
             "numgen", "random", "mod", "100", "<", "3", "drop")  # fmt: skip
        yield c, s
    finally:
        subprocess.run(["ip", "netns", "del", s], capture_output=True)
        subprocess.run(["ip", "netns", "del", c], capture_output=True)


def _start_capture(ns: str, cmd: list[str], ready: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True)  # fmt: skip
    assert proc.stderr is not None
    while True:  # the capture runs once it says so
        line = proc.stderr.readline()
        if not line:
            pytest.fail(f"{cmd[0]} did not start: {proc.wait()}")
        if ready in line:
            return proc


SERVER = f"""
    import socket
    s = socket.socket(); s.bind(({S_ADDR!r}, {PORT})); s.listen(); print("ready", flush=True)
    a, _ = s.accept(); n = 0
    while (d := a.recv(1 << 16)):
        n += len(d)
    a.close(); print(n)
"""
CLIENT = f"""
    import socket
    c = socket.create_connection(({S_ADDR!r}, {PORT})); print(c.getsockname()[1], flush=True)
    c.sendall(bytes({SIZE})); c.close()
"""


def _wait_for_fins(path: Path) -> None:
    """Until the capture file holds both ends' FINs (the whole connection)."""
    from tcplab.graph.flows import segments_from_capture
    from tcplab.net.pcap import PcapError

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            fins = {s.src for s in segments_from_capture(path) if "F" in s.flags}
        except (OSError, PcapError):  # not written yet, or a record half written
            fins = set()
        if len(fins) == 2:
            return
        time.sleep(0.05)
    pytest.fail(f"{path.name} never held both FINs")


def _tshark_expected(path: Path, cport: int) -> tuple[int, int, int]:
    """(new data segments, retransmissions, SACK blocks) as tshark reads the file."""
    fields = subprocess.run(
        ["tshark", "-r", str(path), "-Y", f"tcp.srcport == {cport} && tcp.len > 0", "-T", "fields",
         "-e", "tcp.seq_raw", "-e", "tcp.len"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    new = rtx = 0
    top = None
    for raw, length in zip(fields[::2], fields[1::2], strict=True):
        seq = int(raw)
        if top is not None and (seq - top) % 2**32 >= 2**31:  # starts below what was sent: again
            rtx += 1
        else:
            new += 1
        end = (seq + int(length)) % 2**32
        top = end if top is None or (end - top) % 2**32 < 2**31 else top
    sack = subprocess.run(
        ["tshark", "-r", str(path), "-Y", f"tcp.dstport == {cport}", "-T", "fields", "-e", "tcp.options.sack_le"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return new, rtx, sum(len(line.split(",")) for line in sack)


def _drawn(svg: str) -> tuple[int, int, int]:
    root = ET.fromstring(svg)
    paths = {}
    for el in root.iter(f"{SVG}path"):
        paths.setdefault(el.get("class"), el.get("d", ""))  # the first (whole-flow) panel's
    return paths.get("data", "").count("V"), paths.get("rtx", "").count("V"), paths.get("sack", "").count("V")


def test_graph_of_kernel_captures(pair: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c, s = pair
    server = subprocess.Popen(["ip", "netns", "exec", s, sys.executable, "-c", textwrap.dedent(SERVER)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    bpf = f"tcp port {PORT}"
    files = {
        "ether.pcap": (["tcpdump", "-U", "-i", "vc", "-w", "{path}", bpf], "listening on"),
        "any.pcap": (["tcpdump", "-U", "-i", "any", "-w", "{path}", bpf], "listening on"),
        "dumpcap.pcapng": (["dumpcap", "-i", "vc", "-f", bpf, "-w", "{path}"], "Capturing on"),
    }
    captures = [
        _start_capture(c, [arg.format(path=tmp_path / name) for arg in cmd], ready)
        for name, (cmd, ready) in files.items()
    ]
    client = subprocess.run(["ip", "netns", "exec", c, sys.executable, "-c", textwrap.dedent(CLIENT)],
                            check=True, capture_output=True, text=True, timeout=60)  # fmt: skip
    cport = int(client.stdout)
    assert int(server.communicate(timeout=60)[0]) == SIZE
    for name in files:  # a capture stopped early loses what it has not written yet
        _wait_for_fins(tmp_path / name)
    for proc in captures:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    for name in files:
        path = tmp_path / name
        out = tmp_path / f"{name}.svg"
        assert main(["graph", str(path), "-o", str(out)]) == 0, capsys.readouterr().err
        svg = out.read_text()
        new, rtx, sack = _tshark_expected(path, cport)
        assert rtx > 0 and sack > 0, "3 % loss: the kernel retransmitted and SACKed"
        assert _drawn(svg) == (new, rtx, sack), name
        assert f"{C_ADDR}:{cport} \u2192 {S_ADDR}:{PORT}" in svg
        assert f"{SIZE:,} bytes in {new} segments" in svg

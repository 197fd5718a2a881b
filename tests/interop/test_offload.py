"""TUN offloads against the kernel: bulk data both ways, IPv4 and IPv6, with and without the
virtio-net header's checksum and segmentation offloads, clean and with in-loop loss; what the
capture shows; what ``tcplab serve -v`` says."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from tcplab.net.capture import read_capture
from tcplab.socket import AF_INET, AF_INET6, Socket

from .helpers import H4, H6, K4, K6, MB, TunBench, blob, exchange, listen

SIZE = 3 * MB
PORT = 9531


@pytest.fixture(params=[True, False], ids=["offload", "plain"])
def bench(request, ns: str, tmp_path) -> TunBench:
    b = TunBench(ns, pcap=str(tmp_path / "tun.pcapng"), offload=request.param)
    yield b
    b.close()


def _lossy(bench: TunBench) -> None:
    from tcplab.net.tun import Impairment

    bench.runtime.impairment = Impairment(loss=0.02, reorder=0.05, delay=0.002, direction="both", seed=3)


@pytest.mark.parametrize("family", ["v4", "v6"])
@pytest.mark.parametrize("loss", [False, True], ids=["clean", "lossy"])
def test_kernel_to_tcplab_and_back(bench: TunBench, family: str, loss: bool) -> None:
    if loss:
        _lossy(bench)
    kaddr, haddr = (K4, H4) if family == "v4" else (K6, H6)
    srv = listen(bench, haddr, PORT)
    peer = bench.kpeer("client", haddr, PORT, "--send", SIZE, "--shut", "--eof", "--timeout", 300)
    conn, addr = srv.accept()
    assert addr[0] == kaddr
    got = exchange(bench, conn, b"", None, until_eof=True, timeout=300)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(blob(SIZE)).hexdigest()
    reply = blob(SIZE, seed=7)
    exchange(bench, conn, reply, None, timeout=300)
    conn.close()
    peer.wait("closed", 300)
    assert peer.event("done")["recv_sha"] == hashlib.sha256(reply).hexdigest()
    _offloads_were_used(bench, loss)


@pytest.mark.parametrize("family", ["v4", "v6"])
@pytest.mark.parametrize("loss", [False, True], ids=["clean", "lossy"])
def test_tcplab_client_to_kernel_echo(bench: TunBench, family: str, loss: bool) -> None:
    if loss:
        _lossy(bench)
    kaddr = K4 if family == "v4" else K6
    peer = bench.kpeer("server", kaddr, PORT, "--echo", "--eof", "--shut", "--timeout", 300)
    peer.wait("listening", 20)
    sock = Socket(bench.host, AF_INET if family == "v4" else AF_INET6)
    sock.settimeout(30)
    sock.connect((kaddr, PORT))
    data = blob(SIZE, seed=13)
    got = exchange(bench, sock, data, SIZE, shut=True, until_eof=True, timeout=300)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    peer.wait("closed", 300)
    assert peer.event("done")["recv_sha"] == hashlib.sha256(data).hexdigest()
    sock.close()
    _offloads_were_used(bench, loss)


def _offloads_were_used(bench: TunBench, loss: bool) -> None:
    """With offloads, fewer packets crossed the device than TCP segments the host counted
    (super-segments stand for several); without, one packet is one segment."""
    c = bench.host.counters
    assert c["internal_errors"] == 0 and c["bad_checksums"] == 0 and c["malformed"] == 0
    link = bench.link
    if link.offloads.segmentation:
        assert link.packets_in < c["segments_received"]  # the kernel's super-segments came whole
        if not loss:  # (with in-loop loss, tcplab's are split before the impairment)
            assert link.packets_out < c["segments_sent"]
    else:
        assert link.packets_in >= c["segments_received"]
        sent = c["segments_sent"] + c["icmp_echo_replies"]
        assert link.packets_out < sent if loss else link.packets_out == sent
    if loss:
        assert bench.runtime.impairment.dropped > 0


def test_what_the_kernel_granted(bench: TunBench) -> None:
    link, host = bench.link, bench.host
    assert host.link is link.offloads
    if link.offload:
        # This kernel grants both (checked on it); another may refuse and says so.
        assert link.offloads.checksum and link.offloads.segmentation == 65535
        assert link.offload_note.startswith("offloads on: MTU 1500, offloads: checksum, segmentation")
        assert link.vnet_header
    else:
        assert not link.offloads.checksum and not link.offloads.segmentation
        assert link.offload_note == "offloads off (asked for none)"
        assert not link.vnet_header
    # The MSS the host advertises follows the link's MTU either way.
    assert host.conn_config(H4).mss == 1460 and host.conn_config(H6).mss == 1440


def test_capture_shows_super_segments_as_the_kernel_sees_them(bench: TunBench, tmp_path) -> None:
    srv = listen(bench, H4, PORT)
    peer = bench.kpeer("client", H4, PORT, "--send", MB, "--recv", MB, "--shut", "--eof")
    conn, _ = srv.accept()
    got = exchange(bench, conn, blob(MB, seed=2), None, until_eof=True, timeout=60)
    assert len(got) == MB
    conn.close()
    peer.wait("closed", 60)
    bench.runtime.run_until(lambda: False, 0.2)
    bench.link.close()
    records = list(read_capture(str(tmp_path / "tun.pcapng")))
    tcp = [r for r in records if r.packet and r.packet[0] >> 4 == 4 and r.packet[9] == 6]
    big = [r for r in tcp if len(r.packet) > 1500]
    if bench.link.offloads.segmentation:
        # Both ways: the kernel's TSO/GRO super-segments and tcplab's own, whole, each with
        # a comment saying what it stands for on the wire.
        assert {r.packet[12:16] for r in big} == {bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])}
        assert all(len(r.comments) == 1 and r.comments[0].startswith("super-segment: ") for r in big)
    else:
        assert not big
    if shutil.which("tshark"):
        res = subprocess.run(
            ["tshark", "-n", "-r", str(tmp_path / "tun.pcapng"), "-Y", "_ws.malformed || tcp.analysis.lost_segment"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 0 and res.stdout.strip() == "", (res.stdout, res.stderr)


@pytest.mark.parametrize("offload", [True, False], ids=["offload", "no-offload"])
def test_serve_verbose_says_what_offloads_it_has(ns: str, offload: bool) -> None:
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    argv = [sys.executable, "-m", "tcplab", "serve", "discard", "-v", "--tun", "tlab7", "--netns", ns]
    if not offload:
        argv.append("--no-offload")
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = [proc.stderr.readline(), proc.stderr.readline()]
    finally:
        proc.terminate()
        proc.wait(10)
    text = "".join(lines)
    if offload:
        assert "tlab7: offloads on: MTU 1500, offloads: checksum, segmentation up to 65,535 bytes" in text
    else:
        assert "tlab7: offloads off (asked for none)" in text


@pytest.mark.parametrize(
    ("refused", "note", "checksum"),
    [
        ({0x07}, "offloads on: MTU 1500, offloads: checksum (segmentation refused by the kernel: EINVAL)", True),
        ({0x07, 0x01}, "offloads refused by the kernel (EINVAL): plain packets", False),
    ],
    ids=["segmentation-refused", "all-refused"],
)
def test_a_kernel_that_refuses_offloads(ns: str, monkeypatch, refused, note, checksum) -> None:
    # This kernel grants every offload; one that does not is played by failing TUNSETOFFLOAD
    # for the refused feature sets (the only thing patched: the device and the kernel are real).
    import errno
    import fcntl

    from tcplab.net import tun as tunmod

    real_ioctl = fcntl.ioctl

    def ioctl(fd, request, arg=0, *rest):
        if request == tunmod.TUNSETOFFLOAD and arg in refused:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_ioctl(fd, request, arg, *rest)

    monkeypatch.setattr(tunmod.fcntl, "ioctl", ioctl)
    bench = TunBench(ns)
    try:
        assert bench.link.offload_note == note
        assert (bench.link.offloads.checksum, bench.link.offloads.segmentation) == (checksum, 0)
        # Data both ways still: checksums left to the kernel (or not), never a super-segment.
        srv = listen(bench, H4, PORT)
        peer = bench.kpeer("client", H4, PORT, "--send", MB, "--recv", MB, "--shut", "--eof")
        conn, _ = srv.accept()
        got = exchange(bench, conn, blob(MB, seed=4), None, until_eof=True, timeout=120)
        assert got == blob(MB)
        conn.close()
        peer.wait("closed", 60)
        assert peer.event("done")["recv_sha"] == hashlib.sha256(blob(MB, seed=4)).hexdigest()
        assert bench.link.packets_in >= bench.host.counters["segments_received"]
        assert bench.host.counters["bad_checksums"] == 0
    finally:
        bench.close()


CONNECT = f"import socket; socket.create_connection(('{H4}', 9), 3)"  # nobody answers: SYNs


def test_a_node_that_knows_no_offloads_gets_plain_packets(ns: str) -> None:
    # Not a Host: a bare Node (deliver/poll_transmit/...) on an offloading link gets every TCP
    # packet with its checksum complete (verified here) and answers no pings (the runtime does).
    from tcplab.net.tun import TunLink, TunRuntime
    from tcplab.wire import parse_packet

    class Recorder:
        def __init__(self) -> None:
            self.tcp: list = []

        def addresses(self) -> list[str]:
            return [H4]

        def deliver(self, packet, now: float) -> None:
            pkt = parse_packet(packet)  # checksums verified: MalformedPacket if partial
            if pkt.tcp is not None:
                self.tcp.append(pkt.tcp)

        def poll_transmit(self) -> list[bytes]:
            return []

        def next_deadline(self) -> None:
            return None

        def handle_timeout(self, now: float) -> None:
            pass

    node = Recorder()
    with TunLink("tlab0", f"{K4}/24", f"{H4}/24", netns=ns) as link:
        assert link.offloads.checksum
        rt = TunRuntime(link, node, answer_ping=True)
        proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", CONNECT], stderr=subprocess.DEVNULL)
        ping = subprocess.Popen(
            ["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "5", H4], stdout=subprocess.DEVNULL
        )
        try:
            assert rt.run_until(lambda: any(s.syn for s in node.tcp) and ping.poll() is not None, 10)
        finally:
            for p in (proc, ping):
                if p.poll() is None:
                    p.kill()
                p.wait()
            rt.close()
    assert ping.returncode == 0

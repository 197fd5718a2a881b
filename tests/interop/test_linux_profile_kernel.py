"""The `linux` profile against the kernel it imitates: a kernel client talks to a tcplab server
over TUN; the capture shows tcplab's SYN-ACK window and scale as this kernel's own, and its
quick ACKs; the kernel's TCP_INFO shows the scale it was offered."""

from __future__ import annotations

import json

from tcplab.net.pcap import read_pcap
from tcplab.wire import parse_packet
from tcplab.wire.tcp import WindowScale

from .helpers import H4, K4, TunBench, listen

PORT = 9527
SEGMENTS = 20

# A kernel client: connect, send SEGMENTS writes of 100 bytes (TCP_NODELAY, 30 ms apart), report
# the window scale the kernel was offered (tcpi_snd_wscale: the low nibble of byte 6).
CLIENT = f"""
import json, socket, struct, time
s = socket.create_connection(("{H4}", {PORT}))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for i in range({SEGMENTS}):
    s.send(bytes([65 + i % 26]) * 100)
    time.sleep(0.03)
info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
print(json.dumps({{"snd_wscale": info[6] & 15, "rcv_wscale": info[6] >> 4}}))
s.close()
"""


def test_kernel_client_sees_linux_windows_and_quick_acks(tun: TunBench, tmp_path) -> None:
    srv = listen(tun, H4)
    res = tun.run(["python3", "-c", CLIENT], timeout=60)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout.strip().splitlines()[-1])
    # The kernel (tcp_rmem[2] 32 MiB) offers 10 and was offered 10 by tcplab.
    assert info == {"snd_wscale": 10, "rcv_wscale": 10}
    conn, _ = srv.accept()
    assert conn.recv(SEGMENTS * 100) != b""
    conn.close()
    srv.close()
    tun.link.close()  # flushes the capture (the fixture closes the rest)
    segs = []
    for rec in read_pcap(str(tmp_path / "tun.pcap")):
        # (not verified: with the TUN offloads the capture keeps the checksums the kernel
        # finishes partial, as tcpdump on the device shows them)
        pkt = parse_packet(rec.data, verify_checksum=False)
        if pkt.tcp is not None and PORT in (pkt.tcp.src_port, pkt.tcp.dst_port):
            segs.append((str(pkt.src), pkt.tcp))
    synack = next(s for src, s in segs if src == H4 and s.syn)
    # This kernel's SYN-ACK to a SYN with timestamps: win 65160, wscale 10 (notes B).
    assert (synack.window, synack.option(WindowScale)) == (65160, WindowScale(10))
    data = [s for src, s in segs if src == K4 and s.payload]
    acks = {s.ack for src, s in segs if src == H4 and not s.payload and not s.syn}
    assert len(data) >= SEGMENTS
    # Quick-ACK mode: each of the first 16 data segments has an ACK of its own.
    assert all((s.seq + len(s.payload)) & 0xFFFFFFFF in acks for s in data[:16])
    first_ack = next(s for src, s in segs if src == H4 and not s.syn and s.ack == (data[0].seq + 100) & 0xFFFFFFFF)
    assert first_ack.window == 64  # 65536: the SYN-ACK's 65160 rounded up to the scale

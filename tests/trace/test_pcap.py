"""pcap files: exact header and records, round trip, and tshark reading real TCP/IP packets."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tcplab.net.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
    PcapError,
    PcapReader,
    PcapWriter,
    read_pcap,
)
from tcplab.wire import (
    MSS,
    NOP,
    Flags,
    SackPermitted,
    Segment,
    Timestamps,
    WindowScale,
    build_packet,
    parse_packet,
)

C4, S4 = "198.18.0.1", "198.18.0.2"
C6, S6 = "fd00::1", "fd00::2"
ISS_C, ISS_S = 0xFFFFFFF0, 1000  # the client's ISN near 2**32: sequence numbers wrap


def _conversation(c: str, s: str) -> list[tuple[float, bytes]]:
    syn_opts = (MSS(1460), SackPermitted(), Timestamps(100, 0), NOP(), WindowScale(7))
    A = Flags.ACK
    segs = [
        (0.0, c, s, Segment(40000, 80, ISS_C, 0, Flags.SYN, 65535, options=syn_opts)),
        (
            0.05,
            s,
            c,
            Segment(
                80,
                40000,
                ISS_S,
                ISS_C + 1,
                Flags.SYN | A,
                65160,
                options=(MSS(1460), SackPermitted(), Timestamps(7, 100), NOP(), WindowScale(7)),
            ),
        ),
        (0.1, c, s, Segment(40000, 80, ISS_C + 1, ISS_S + 1, A, 502)),
        (0.1, c, s, Segment(40000, 80, ISS_C + 1, ISS_S + 1, Flags.PSH | A, 502, payload=b"GET / HTTP/1.0\r\n\r\n")),
        (0.15, s, c, Segment(80, 40000, ISS_S + 1, (ISS_C + 19) % 2**32, A, 509)),
        (0.2, c, s, Segment(40000, 80, (ISS_C + 19) % 2**32, ISS_S + 1, Flags.FIN | A, 502)),
        (0.25, s, c, Segment(80, 40000, ISS_S + 1, (ISS_C + 20) % 2**32, Flags.FIN | A, 509)),
        (0.3, c, s, Segment(40000, 80, (ISS_C + 20) % 2**32, ISS_S + 2, A, 502)),
        (1.5, s, c, Segment(80, 40000, ISS_S + 2, 0, Flags.RST, 0)),
    ]
    return [(t, build_packet(src, dst, seg)) for t, src, dst, seg in segs]


def test_header_and_records_exact(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    with PcapWriter(path) as w:
        w.write(b"\x45" + b"\x00" * 19, 1.25)
        w.write(b"\x60" + b"\x00" * 39, 1700000000.000001)
    raw = path.read_bytes()
    order = "<" if sys.byteorder == "little" else ">"
    assert struct.unpack(order + "IHHiIII", raw[:24]) == (0xA1B2C3D4, 2, 4, 0, 0, 262144, 101)
    assert struct.unpack(order + "IIII", raw[24:40]) == (1, 250000, 20, 20)
    assert raw[40:60] == b"\x45" + b"\x00" * 19
    assert struct.unpack(order + "IIII", raw[60:76]) == (1700000000, 1, 40, 40)
    assert len(raw) == 76 + 40


def test_round_trip_with_real_packets(tmp_path: Path) -> None:
    path = tmp_path / "conv.pcap"
    conv = _conversation(C4, S4) + _conversation(C6, S6)
    with PcapWriter(path) as w:
        for t, pkt in conv:
            w.write(pkt, t)
        assert w.count == len(conv)
    with PcapReader(path) as r:
        assert r.linktype == LINKTYPE_RAW and r.snaplen == 262144
        assert (r.version_major, r.version_minor) == (2, 4)
        records = list(r)
    assert [rec.data for rec in records] == [pkt for _, pkt in conv]
    assert [rec.t for rec in records] == [t for t, _ in conv]
    assert [rec.orig_len for rec in records] == [len(pkt) for _, pkt in conv]
    first = parse_packet(records[0].data)
    assert first.tcp.flags == Flags.SYN and first.tcp.seq == ISS_C
    assert read_pcap(path) == records


def test_snaplen_truncates_but_keeps_original_length() -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf, linktype=LINKTYPE_ETHERNET, snaplen=10)
    w.write(bytes(range(30)), 0.5)
    w.close()
    assert not buf.closed  # a caller's file stays open
    buf.seek(0)
    (rec,) = list(PcapReader(buf))
    assert rec.data == bytes(range(10)) and rec.orig_len == 30 and rec.t == 0.5


def test_bad_input() -> None:
    w = PcapWriter(io.BytesIO())
    with pytest.raises(ValueError, match="negative"):
        w.write(b"x", -1.0)
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write(b"x", 1.0)
    with pytest.raises(PcapError, match="magic"):
        PcapReader(io.BytesIO(b"\x00" * 24))
    with pytest.raises(PcapError, match="shorter"):
        PcapReader(io.BytesIO(b"\xd4\xc3\xb2\xa1"))
    truncated = io.BytesIO()
    PcapWriter(truncated).write(b"abcdef", 1.0)
    reader = PcapReader(io.BytesIO(truncated.getvalue()[:-2]))
    with pytest.raises(PcapError, match="truncated"):
        list(reader)


def test_reads_other_byte_order_and_nanoseconds() -> None:
    data = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 101)
    data += struct.pack(">IIII", 3, 500_000_000, 4, 4) + b"abcd"
    (rec,) = list(PcapReader(io.BytesIO(data)))
    assert rec.t == 3.5 and rec.data == b"abcd"


TSHARK = shutil.which("tshark")


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (apt-get install tshark)")
def test_tshark_reads_it_without_errors(tmp_path: Path) -> None:
    path = tmp_path / "conv.pcap"
    conv = _conversation(C4, S4) + [(t + 2.0, p) for t, p in _conversation(C6, S6)]
    with PcapWriter(path) as w:
        for t, pkt in conv:
            w.write(pkt, t)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LC_ALL": "C"}

    def tshark(*args: str) -> str:
        done = subprocess.run(
            [TSHARK, "-n", "-r", str(path), *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    fields = tshark(
        "-o",
        "tcp.check_checksum:TRUE",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "frame.time_relative",
        "-e",
        "ip.src",
        "-e",
        "ipv6.src",
        "-e",
        "tcp.srcport",
        "-e",
        "tcp.flags.str",
        "-e",
        "tcp.seq_raw",
        "-e",
        "tcp.len",
        "-e",
        "tcp.checksum.status",
        "-e",
        "tcp.options.mss_val",
    )
    rows = [line.split("|") for line in fields.splitlines()]
    assert len(rows) == 18
    assert [r[1] or r[2] for r in rows] == [C4, S4, C4, C4, S4, C4, S4, C4, S4, C6, S6, C6, C6, S6, C6, S6, C6, S6]
    assert [float(r[0]) for r in rows[:9]] == [0.0, 0.05, 0.1, 0.1, 0.15, 0.2, 0.25, 0.3, 1.5]
    assert rows[0][5] == str(ISS_C) and rows[0][8] == "1460"
    assert rows[3][6] == "18"  # the request's payload
    assert {r[7] for r in rows} == {"1"}  # checksum status 1 = good, every packet
    flags = [r[4].replace("\u00b7", "").strip() for r in rows[:9]]
    assert flags == ["S", "AS", "A", "AP", "A", "AF", "AF", "A", "R"]
    bad_filter = "_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == 0"
    assert tshark("-o", "tcp.check_checksum:TRUE", "-Y", bad_filter).strip() == ""
    # The check is not vacuous: a packet with a broken TCP checksum and a cut-off one are caught.
    broken = bytearray(conv[2][1])
    broken[-1] ^= 0xFF
    with PcapWriter(path) as w:
        w.write(bytes(broken), 0.0)
        w.write(conv[0][1][:30], 0.1)
    caught = tshark("-o", "tcp.check_checksum:TRUE", "-Y", bad_filter).splitlines()
    assert len(caught) == 2

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.wire import (
    EOL,
    MSS,
    NOP,
    FastOpen,
    Flags,
    MalformedPacket,
    Sack,
    SackPermitted,
    Segment,
    Timestamps,
    UnknownOption,
    WindowScale,
    build_tcp,
    encode_options,
    format_options,
    options_length,
    parse_options,
    parse_tcp,
)

from . import refimpl
from .strategies import address_pairs, expected_parsed_options, option_lists, segments

SRC, DST = "198.18.0.1", "198.18.0.2"

LINUX_SYN_OPTIONS = (MSS(1460), SackPermitted(), Timestamps(1, 0), NOP(), WindowScale(7))


def hand_written_syn() -> bytes:
    """The SYN 198.18.0.1:40000 > 198.18.0.2:80 seq 0x01020304 win 64240 with Linux's options,
    written out field by field; checksum from the reference implementation."""
    header = bytes.fromhex(
        "9c40"
        "0050"  # ports 40000, 80
        "01020304"  # seq
        "00000000"  # ack
        "a0"
        "02"  # data offset 10 words, flags SYN
        "faf0"  # window 64240
        "0000"  # checksum, filled below
        "0000"  # urgent pointer
        "020405b4"  # mss 1460
        "0402"  # sackOK
        "080a"
        "00000001"
        "00000000"  # TS val 1 ecr 0
        "01"  # nop
        "030307"  # wscale 7
    )
    csum = refimpl.tcp_checksum(SRC, DST, header)
    return header[:16] + struct.pack("!H", csum) + header[18:]


def test_known_syn_byte_for_byte():
    seg = Segment(40000, 80, 0x01020304, 0, Flags.SYN, 64240, options=LINUX_SYN_OPTIONS)
    expected = hand_written_syn()
    assert build_tcp(seg, SRC, DST) == expected
    assert seg.build(SRC, DST) == expected
    assert refimpl.checksum(refimpl.pseudo_header(SRC, DST, 6, len(expected)) + expected) == 0


def test_known_syn_parses():
    seg = parse_tcp(hand_written_syn(), SRC, DST)
    assert seg == Segment(40000, 80, 0x01020304, 0, Flags.SYN, 64240, 0, LINUX_SYN_OPTIONS, b"")
    assert seg.data_offset == 10
    assert seg.flags is Flags.SYN
    assert seg.syn and not seg.has_ack and seg.seg_len == 1
    assert seg.option(MSS) == MSS(1460)
    assert seg.option(WindowScale) == WindowScale(7)
    assert seg.option(Sack) is None
    assert format_options(seg.options) == "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7"


def test_data_segment_payload_is_bytes():
    seg = Segment(
        80, 40000, 5, 6, Flags.ACK | Flags.PSH, 502, options=(NOP(), NOP(), Timestamps(7, 8)), payload=b"hello"
    )
    raw = build_tcp(seg, "fd00::1", "fd00::2")
    assert len(raw) == 32 + 5
    for data in (raw, memoryview(raw), bytearray(raw)):
        got = parse_tcp(data, "fd00::1", "fd00::2")
        assert got == seg
        assert type(got.payload) is bytes
        assert got.payload == b"hello"


def test_payload_memoryview_builds():
    seg = Segment(1, 2, 3, 4, Flags.ACK, 5, payload=memoryview(b"xyzzy"))
    raw = build_tcp(seg, SRC, DST)
    assert raw[20:] == b"xyzzy"
    assert parse_tcp(raw, SRC, DST).payload == b"xyzzy"


def test_checksum_not_verified_without_addresses():
    raw = bytearray(hand_written_syn())
    raw[16] ^= 0xFF
    assert parse_tcp(bytes(raw)).seq == 0x01020304
    assert parse_tcp(bytes(raw), SRC, DST, verify_checksum=False).seq == 0x01020304
    with pytest.raises(MalformedPacket) as info:
        parse_tcp(bytes(raw), SRC, DST)
    assert info.value.reason == "bad tcp checksum"


def test_checksum_covers_pseudo_header():
    raw = hand_written_syn()
    with pytest.raises(MalformedPacket) as info:
        parse_tcp(raw, SRC, "198.18.0.3")
    assert info.value.reason == "bad tcp checksum"


def test_options_padded_with_zeros_in_order():
    seg = Segment(1, 2, 3, 4, Flags.SYN, 5, options=(WindowScale(7), MSS(536)))
    raw = build_tcp(seg, SRC, DST)
    assert raw[12] >> 4 == 7
    assert raw[20:28] == bytes.fromhex("0303070204021800")
    assert parse_tcp(raw, SRC, DST).options == (WindowScale(7), MSS(536), EOL())


def test_reserved_bits_ignored_and_all_flags_kept():
    raw = bytearray(build_tcp(Segment(1, 2, 3, 4, Flags(0xFF), 5), SRC, DST))
    raw[12] |= 0x0F  # reserved bits
    seg = parse_tcp(bytes(raw))
    assert seg.flags == Flags(0xFF)
    assert seg.data_offset == 5


@settings(max_examples=300)
@given(segments, address_pairs)
def test_build_then_parse_roundtrip(seg, addrs):
    src, dst = addrs
    raw = build_tcp(seg, src, dst)
    assert len(raw) == 20 + ((options_length(seg.options) + 3) & ~3) + len(seg.payload)
    assert refimpl.tcp_checksum(str(src), str(dst), raw) == struct.unpack_from("!H", raw, 16)[0]
    got = parse_tcp(raw, src, dst)
    expected = Segment(
        seg.src_port,
        seg.dst_port,
        seg.seq,
        seg.ack,
        seg.flags,
        seg.window,
        seg.urgent,
        expected_parsed_options(seg.options),
        seg.payload,
    )
    assert got == expected
    assert got.data_offset == raw[12] >> 4
    assert got.header_length == len(raw) - len(seg.payload)


@settings(max_examples=300)
@given(option_lists())
def test_options_roundtrip(options):
    data = encode_options(options)
    assert len(data) % 4 == 0
    assert len(data) <= 40
    assert parse_options(data) == expected_parsed_options(options)


def test_parsing_stops_at_eol():
    data = bytes.fromhex("0100020405b4")  # nop, eol, then an MSS that is padding
    assert parse_options(data) == (NOP(), EOL())


def test_unknown_option_kept_raw():
    data = bytes.fromhex("fe06deadbeef0101")
    assert parse_options(data) == (UnknownOption(254, b"\xde\xad\xbe\xef"), NOP(), NOP())
    assert parse_options(bytes.fromhex("06020000")) == (UnknownOption(6, b""), EOL())


def test_fast_open_option_both_kinds():
    # RFC 7413 4.1.1: kind 34, an empty cookie is a request; kind 254 with the magic 0xF989 is
    # the experimental form (RFC 6994), read as the same option.
    assert parse_options(bytes.fromhex("2202")) == (FastOpen(),)
    cookie = bytes.fromhex("0102030405060708")
    assert parse_options(bytes.fromhex("220a") + cookie + b"\x01\x01") == (FastOpen(cookie), NOP(), NOP())
    assert parse_options(bytes.fromhex("fe0cf989") + cookie) == (FastOpen(cookie, experimental=True),)
    assert encode_options((FastOpen(cookie), NOP(), NOP())) == bytes.fromhex("220a") + cookie + b"\x01\x01"
    assert encode_options((FastOpen(experimental=True),)) == bytes.fromhex("fe04f989")
    # as tcpdump 4.99 prints them (measured: "tfo  cookiereq", "tfo  cookie e93a47dde406c489")
    assert format_options((FastOpen(), NOP(), NOP())) == "tfo  cookiereq,nop,nop"
    assert format_options((FastOpen(cookie),)) == "tfo  cookie 0102030405060708"
    assert format_options((FastOpen(cookie, experimental=True),)) == "exp-tfo  cookie 0102030405060708"
    # kind 254 without the magic stays an unknown option
    assert parse_options(bytes.fromhex("fe04f98a")) == (UnknownOption(254, b"\xf9\x8a"),)


def test_sack_blocks():
    data = bytes.fromhex("010105120000000100000002fffffff000000010")
    assert parse_options(data) == (NOP(), NOP(), Sack(((1, 2), (0xFFFFFFF0, 0x10))))
    four = Sack(tuple((i, i + 1) for i in range(4)))
    assert parse_options(encode_options((NOP(), NOP(), four))) == (NOP(), NOP(), four)


# ---- every MalformedPacket reason of the TCP parser ---------------------------------------------
def _reason(data, **kw) -> str:
    with pytest.raises(MalformedPacket) as info:
        parse_tcp(data, **kw)
    assert isinstance(info.value, ValueError)
    return info.value.reason


def _header(data_offset: int, options: bytes = b"", payload: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", 1, 2, 3, 4, data_offset << 4, 2, 5, 0, 0) + options + payload


def test_truncated_tcp_header():
    assert _reason(b"") == "truncated tcp header"
    assert _reason(_header(5)[:19]) == "truncated tcp header"


def test_data_offset_too_small():
    for off in range(5):
        assert _reason(_header(off)) == "tcp data offset too small"


def test_data_offset_past_end():
    assert _reason(_header(6)) == "tcp data offset past end"
    assert _reason(_header(15, bytes(39))) == "tcp data offset past end"
    assert parse_tcp(_header(15, bytes(40))).options == (EOL(),)


@pytest.mark.parametrize(
    "options",
    [
        "02000000",  # length 0
        "02010000",  # length 1
        "fe000000",  # unknown kind, length 0
        "fe010000",  # unknown kind, length 1
        "02030500",  # MSS of length 3
        "0205050505000000",  # MSS of length 5
        "03020000",  # WS of length 2
        "03040000",  # WS of length 4
        "04030000",  # SACKOK of length 3
        "080800000000000000000000",  # TS of length 8
        "08020000",  # TS of length 2
        "05020000",  # SACK with no blocks
        "050900000000000000000000",  # SACK 2+7
        "050b00000000000000000000",  # SACK 2+9
    ],
)
def test_option_length_invalid(options):
    data = bytes.fromhex(options)
    assert len(data) % 4 == 0
    assert _reason(_header(5 + len(data) // 4, data)) == "tcp option length invalid"
    with pytest.raises(MalformedPacket) as info:
        parse_options(data)
    assert info.value.reason == "tcp option length invalid"


@pytest.mark.parametrize(
    "options",
    [
        "01010102",  # MSS kind as the last byte: no length byte
        "01020405",  # MSS running past the header
        "0101080a00000000",  # TS running past the header
        "01010303",  # WS missing its value
        "fe0a000000000000",  # unknown option running past the header
        "0101050a00000000",  # SACK running past the header
    ],
)
def test_option_past_header(options):
    data = bytes.fromhex(options)
    assert len(data) % 4 == 0
    assert _reason(_header(5 + len(data) // 4, data)) == "tcp option past header"


def test_malformed_option_is_after_checksum():
    # With addresses given, a damaged segment is reported as a checksum failure first.
    raw = bytearray(hand_written_syn())
    raw[21] = 9  # MSS length 9
    assert _reason(bytes(raw), src_ip=SRC, dst_ip=DST) == "bad tcp checksum"
    assert _reason(bytes(raw)) == "tcp option length invalid"


def test_error_message_is_one_line():
    with pytest.raises(MalformedPacket) as info:
        parse_tcp(_header(3))
    assert str(info.value) == "tcp data offset too small (data offset 3)"
    assert info.value.detail == "data offset 3"


# ---- building: bad values are ValueError ----------------------------------------------------------
@pytest.mark.parametrize(
    "seg",
    [
        Segment(70000, 2, 3, 4, Flags.ACK, 5),
        Segment(1, 2, 2**32, 4, Flags.ACK, 5),
        Segment(1, 2, 3, -1, Flags.ACK, 5),
        Segment(1, 2, 3, 4, Flags.ACK, 65536),
        Segment(1, 2, 3, 4, Flags.ACK, 5, options=(MSS(65536),)),
        Segment(1, 2, 3, 4, Flags.ACK, 5, options=(WindowScale(256),)),
        Segment(1, 2, 3, 4, Flags.ACK, 5, options=(Timestamps(2**32, 0),)),
        Segment(1, 2, 3, 4, Flags.ACK, 5, options=(Sack(()),)),
        Segment(1, 2, 3, 4, Flags.ACK, 5, options=(Sack(((1, 2),) * 5),)),
        Segment(1, 2, 3, 4, Flags.ACK, 5, options=(UnknownOption(2, b"ab"),)),
        Segment(1, 2, 3, 4, Flags.ACK, 5, options=(UnknownOption(99, bytes(39)),)),
        Segment(1, 2, 3, 4, Flags.ACK, 5, options=(Timestamps(1, 2),) * 4 + (NOP(),)),
    ],
)
def test_build_rejects_values_that_do_not_fit(seg):
    with pytest.raises(ValueError):
        build_tcp(seg, SRC, DST)


def test_forty_bytes_of_options_fit():
    opts = (NOP(), NOP(), Timestamps(1, 2), NOP(), NOP(), Sack(((1, 2), (3, 4), (5, 6))))
    assert options_length(opts) == 40
    raw = build_tcp(Segment(1, 2, 3, 4, Flags.ACK, 5, options=opts), SRC, DST)
    assert raw[12] >> 4 == 15
    assert parse_tcp(raw, SRC, DST).options == opts


# ---- tcpdump-style option text ------------------------------------------------------------------
def test_format_options():
    assert format_options(()) == ""
    assert format_options(LINUX_SYN_OPTIONS) == "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7"
    assert format_options((NOP(), NOP(), Sack(((10, 20),)))) == "nop,nop,sack 1 {10:20}"
    assert format_options((Sack(((10, 20), (30, 40))),)) == "sack 2 {10:20}{30:40}"
    assert format_options((UnknownOption(99, b""), EOL())) == "unknown-99,eol"
    assert format_options((UnknownOption(254, b"\xbe\xef"),)) == "unknown-254 0xbeef"


@settings(max_examples=100)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=2))
def test_format_timestamps(pair):
    assert format_options((Timestamps(*pair),)) == f"TS val {pair[0]} ecr {pair[1]}"

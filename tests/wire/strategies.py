"""Hypothesis strategies for valid segments, options and headers."""

from __future__ import annotations

from hypothesis import strategies as st

from tcplab.wire import (
    EOL,
    MSS,
    NOP,
    FastOpen,
    Flags,
    Sack,
    SackPermitted,
    Segment,
    Timestamps,
    UnknownOption,
    WindowScale,
    options_length,
)

u32 = st.integers(0, 2**32 - 1)
u16 = st.integers(0, 0xFFFF)

sack_blocks = st.lists(st.tuples(u32, u32), min_size=1, max_size=4).map(tuple)
unknown_kinds = st.integers(6, 255).filter(lambda k: k not in (8, 34))


def _unknown(kind: int, data: bytes) -> UnknownOption:
    if kind == 254 and data[:2] == b"\xf9\x89":  # that is the experimental Fast Open option
        data = b"\x00" + data[1:]
    return UnknownOption(kind, data)


single_option = st.one_of(
    st.just(NOP()),
    u16.map(MSS),
    st.integers(0, 255).map(WindowScale),
    st.just(SackPermitted()),
    sack_blocks.map(Sack),
    st.builds(Timestamps, u32, u32),
    st.builds(FastOpen, st.binary(max_size=16), st.booleans()),
    st.builds(_unknown, unknown_kinds, st.binary(max_size=12)),
)


@st.composite
def option_lists(draw, max_len: int = 40):
    """Options that fit in 40 bytes, of every kind; EOL only as the last one."""
    out = []
    for opt in draw(st.lists(single_option, max_size=12)):
        if options_length([*out, opt]) <= max_len:
            out.append(opt)
    if draw(st.booleans()) and options_length(out) < max_len:
        out.append(EOL())
    return tuple(out)


def expected_parsed_options(options: tuple) -> tuple:
    """What the parser reports for ``options`` built by build_tcp: the zero padding shows up as
    one EOL unless the list is 4-byte aligned or already ends with EOL."""
    if options_length(options) % 4 and not (options and type(options[-1]) is EOL):
        return (*options, EOL())
    return options


segments = st.builds(
    Segment,
    src_port=u16,
    dst_port=u16,
    seq=u32,
    ack=u32,
    flags=st.integers(0, 255).map(Flags),
    window=u16,
    urgent=u16,
    options=option_lists(),
    payload=st.binary(max_size=200),
)

ipv4 = st.ip_addresses(v=4)
ipv6 = st.ip_addresses(v=6)
address_pairs = st.one_of(st.tuples(ipv4, ipv4), st.tuples(ipv6, ipv6))

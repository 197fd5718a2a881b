"""Property tests: 32-bit modular sequence arithmetic and out-of-order reassembly."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.tcp import seq as sq
from tcplab.tcp.reassembly import Reassembly

u32 = st.integers(0, 2**32 - 1)
dist = st.integers(1, 2**31 - 1)


@given(u32, dist)
def test_ordering_across_the_wrap(a, d):
    b = sq.add(a, d)
    assert sq.lt(a, b) and sq.le(a, b) and sq.gt(b, a) and sq.ge(b, a)
    assert not sq.lt(b, a) and not sq.lt(a, a) and sq.le(a, a)
    assert sq.sub(b, a) == d and sq.diff(a, b) == -d


@given(u32, st.integers(0, 2**20), st.integers(0, 2**20))
def test_in_window(start, size, off):
    assert sq.in_window(sq.add(start, off), start, size) == (off < size)


@settings(max_examples=200)
@given(u32, st.binary(min_size=1, max_size=400), st.data())
def test_reassembly_gives_back_the_stream_in_any_order(rcv_nxt, stream, data):
    # Cut the stream into overlapping pieces, deliver all but those at the start, in any order.
    pieces = []
    for _ in range(data.draw(st.integers(1, 12))):
        a = data.draw(st.integers(0, len(stream) - 1))
        b = data.draw(st.integers(a + 1, len(stream)))
        pieces.append((a, b))
    pieces = data.draw(st.permutations(pieces))
    r = Reassembly()
    got = bytearray()
    nxt = rcv_nxt
    for a, b in [*pieces, (0, len(stream))]:
        start = sq.add(rcv_nxt, a)
        if a > sq.sub(nxt, rcv_nxt):
            r.add(start, stream[a:b], nxt)
        elif b > sq.sub(nxt, rcv_nxt):
            skip = sq.sub(nxt, rcv_nxt) - a
            got += stream[a + skip : b]
            nxt = sq.add(rcv_nxt, b)
            more = r.pop(nxt)
            got += more
            nxt = sq.add(nxt, len(more))
    assert bytes(got) == stream
    assert r.bytes == 0


def test_sack_blocks_most_recent_first():
    r = Reassembly()
    r.add(100, b"a" * 10, 0)
    r.add(300, b"b" * 10, 0)
    r.add(200, b"c" * 10, 0)
    # RFC 2018 section 4: the block of the latest segment, then the most recently reported
    # ones (300 was reported before 200 arrived, 100 before that), as Linux orders them.
    assert r.sack_blocks(3) == [(200, 210), (300, 310), (100, 110)]
    r.add(110, b"d" * 5, 0)  # joins the first block
    assert r.sack_blocks(3)[0] == (100, 115)

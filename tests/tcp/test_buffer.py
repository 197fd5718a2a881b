"""The engine's buffers (tcplab.tcp.buffer.ByteQueue) behave as the bytearray they replace,
for every operation the engine uses, whatever the sizes and the order of the calls."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.tcp.buffer import ByteQueue

_piece = st.one_of(
    st.binary(max_size=300),
    st.integers(4096, 70000).map(lambda n: bytes(range(256)) * (n // 256) + bytes(n % 256)),
    st.binary(min_size=1, max_size=300).map(bytearray),
)
_op = st.one_of(
    st.tuples(st.just("add"), _piece),
    st.tuples(st.just("del"), st.one_of(st.integers(0, 3000), st.integers(0, 200_000))),
    st.tuples(st.just("take"), st.one_of(st.integers(0, 3000), st.integers(0, 200_000))),
    st.tuples(st.just("get"), st.tuples(st.integers(-10, 200_000), st.integers(-10, 200_000))),
    st.tuples(st.just("clear"), st.none()),
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_op, max_size=40))
def test_same_as_a_bytearray(ops):
    model = bytearray()
    q = ByteQueue()
    for op, arg in ops:
        if op == "add":
            model += arg
            q += arg
        elif op == "del":
            del model[:arg]
            del q[:arg]
        elif op == "take":
            got = q.take(arg)
            assert type(got) is bytes
            assert got == bytes(model[:arg])
            del model[:arg]
        elif op == "get":
            a, b = arg
            got = q[a:b]
            assert type(got) is bytes
            assert got == bytes(model[a:b])
        else:
            model.clear()
            q.clear()
        assert len(q) == len(model)
        assert bool(q) == bool(model)
    assert q[:] == bytes(model)


def test_a_large_bytes_piece_is_kept_not_copied():
    data = bytes(100_000)
    q = ByteQueue()
    q += b"x" * 10
    q += data
    assert q[10:100_010] is data  # exactly one kept piece: no copy
    del q[:10]
    assert q[0:100_000] is data


def test_a_mutable_piece_is_copied():
    data = bytearray(b"abcdef" * 1000)
    q = ByteQueue()
    q += data
    data[:3] = b"XYZ"
    assert q[0:6] == b"abcdef"


def test_only_the_front_can_be_deleted():
    q = ByteQueue()
    q += b"abc"
    with pytest.raises(ValueError):
        del q[1:2]
    with pytest.raises(ValueError):
        q[::2]


def test_a_read_of_exactly_the_first_piece_returns_it_without_a_copy():
    q = ByteQueue()
    segment = bytes(range(256)) * 5 + b"tail"  # a received segment's payload (1284 bytes)
    q += segment
    assert q.take(len(segment)) is segment
    assert len(q) == 0 and not q
    q += segment
    q += b"more"  # (copied into a tail piece of its own)
    assert q.take(10) == segment[:10]  # part of a piece: a copy, the rest stays
    assert q.take(len(q)) == segment[10:] + b"more"

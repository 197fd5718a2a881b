"""The send and receive buffers: a queue of bytes taken from the front and added at the end.

A ``bytearray`` used that way copies everything it holds each time its end outgrows its
allocation (deleting from its front only moves its start), about eight times every byte for a
buffer kept full; and every slice of it is a copy. ``ByteQueue`` keeps the pieces it is given:
a ``bytes`` object of ``_KEEP`` bytes or more, or any ``bytes`` object given to an empty queue,
is kept as it is (no copy; a ``bytes`` object cannot change), other small or mutable pieces are
copied into a tail of at most ``_TAIL`` bytes. A slice that is exactly one
kept piece comes back without a copy; any other costs one copy.

It answers the few operations the engine uses on its buffers, with a bytearray's spelling, so
that code reads the same: ``buf += data``, ``len(buf)``, ``bool(buf)``, ``buf[a:b]`` (bytes),
``del buf[:n]``, ``buf.clear()``; and ``buf.take(n)``, the two at once. Standard library only,
like the rest of the engine.

``EMPTY`` is one empty queue that connections share until they have data: ``buf += data`` on it
gives a new queue (which is why adding is always written ``buf += data``: the name is rebound),
and nothing else changes it.
"""

from __future__ import annotations

__all__ = ["EMPTY", "ByteQueue"]


def _copy(piece: bytes | bytearray | memoryview, a: int, b: int) -> bytes:
    """``bytes(piece[a:b])`` in one copy instead of two (worth it for large slices)."""
    with memoryview(piece) as view:
        return bytes(view[a:b])


_TAIL = 65536  # pieces smaller than this are gathered into a tail piece up to this size
_KEEP = 4096  # bytes objects at least this long are kept as they are


class ByteQueue:
    __slots__ = ("_at", "_head", "_pieces", "nbytes")

    def __init__(self) -> None:
        # The data, in order; the first piece is cut by _head. An empty queue shares one empty
        # tuple (an idle connection's two buffers then cost no list each).
        self._pieces: list[bytes | bytearray | memoryview] | tuple[()] = ()
        self._head = 0  # bytes of _pieces[0] already taken
        # len(buf), as an attribute too: the engine reads it on every segment, where len()
        # would be a Python call (__len__). Read-only outside this class.
        self.nbytes = 0
        self._at = (0, 0)  # (piece index, its offset in the queue) of the last lookup

    def __len__(self) -> int:
        return self.nbytes

    def __bool__(self) -> bool:
        return self.nbytes > 0

    def __iadd__(self, data: bytes | bytearray | memoryview) -> ByteQueue:
        n = len(data)
        if not n:
            return self
        pieces = self._pieces
        if not pieces:
            if self is EMPTY:
                return ByteQueue().__iadd__(data)
            self._pieces = pieces = []
        if (n >= _KEEP and type(data) is memoryview and type(data.obj) is bytes) or (
            type(data) is bytes and (n >= _KEEP or not pieces)
        ):
            # (a view of bytes cannot change either: a received payload). Small bytes are kept as
            # they are too when the queue is empty: no copy in, and none out when they are read
            # whole (a small view is copied: it may hold a whole 64 KB packet alive).
            pieces.append(data)
        else:
            tail = pieces[-1] if pieces else None
            if type(tail) is bytearray and len(tail) + n <= _TAIL:
                tail += data
            else:
                pieces.append(bytearray(data))
        self.nbytes += n
        return self

    def __getitem__(self, key: slice[int | None, int | None, int | None]) -> bytes:
        """``buf[a:b]``: a copy of those bytes (or the very piece, when it is exactly one)."""
        start, stop = key.start, key.stop
        if key.step is None and start is not None and stop is not None and start >= 0 and stop >= 0:
            if stop > self.nbytes:  # the engine's own slices: in range, no step
                stop = self.nbytes
            # The sender's next segment: within the piece the last lookup found (``_find``).
            i, off = self._at
            if off <= start and stop > start:
                piece = self._pieces[i]
                a = start - off + (self._head if i == 0 else 0)
                b = a + (stop - start)
                if b <= len(piece) and type(piece) is bytes:
                    return piece if a == 0 and b == len(piece) else piece[a:b]
        else:
            start, stop, step = key.indices(self.nbytes)
            if step != 1:
                raise ValueError("ByteQueue slices have no step")
        if stop <= start:
            return b""
        i, off = self._find(start)
        pieces = self._pieces
        piece = pieces[i]
        a = start - off + (self._head if i == 0 else 0)
        b = a + (stop - start)
        if b <= len(piece):  # within one piece: one copy, or none
            if type(piece) is bytes:
                return piece if a == 0 and b == len(piece) else piece[a:b]
            return bytes(piece[a:b]) if b - a < _TAIL // 8 else _copy(piece, a, b)
        # Across pieces (a 64 KB segment from two writes): views of the parts, joined in one copy.
        views = []
        want = stop - start
        while want:
            view = memoryview(pieces[i])[a : a + want]
            views.append(view)
            want -= len(view)
            i += 1
            a = 0
        out = b"".join(views)
        for view in views:
            view.release()  # (a bytearray piece may grow again)
        return out

    def _find(self, pos: int) -> tuple[int, int]:
        """The piece holding byte ``pos`` and that piece's offset in the queue. Lookups mostly
        move forward (the sender's next segment), so each starts from the last one."""
        pieces = self._pieces
        i, off = self._at
        if off > pos:
            i, off = 0, 0
        size = len(pieces[i]) - (self._head if i == 0 else 0)
        while off + size <= pos:
            off += size
            i += 1
            size = len(pieces[i])
        self._at = (i, off)
        return i, off

    def take(self, n: int) -> bytes:
        """``buf[:n]`` and ``del buf[:n]`` in one: the first ``n`` bytes, removed. When they are
        exactly the first piece, a ``bytes`` object taken whole (a reader that keeps up with
        the segments it is given gets each one back as it came: no copy, no search)."""
        pieces = self._pieces
        if pieces and not self._head:
            first = pieces[0]
            if type(first) is bytes and len(first) == n:
                del pieces[0]  # (a tuple is empty: not here)
                self.nbytes -= n
                self._at = (0, 0)
                return first
        out = self[:n]
        del self[:n]
        return out

    def __delitem__(self, key: slice[int | None, int | None, int | None]) -> None:
        """``del buf[:n]``: drop the first ``n`` bytes (the only deletion the engine makes)."""
        if key.start is not None or key.step is not None:
            raise ValueError("only the front of a ByteQueue can be deleted: del buf[:n]")
        n = min(self.nbytes, max(0, key.stop if key.stop is not None else self.nbytes))
        self.nbytes -= n
        pieces = self._pieces
        head = self._head + n
        dropped = 0
        while dropped < len(pieces) and head >= len(pieces[dropped]):
            head -= len(pieces[dropped])
            dropped += 1
        if dropped:
            del pieces[:dropped]  # type: ignore[union-attr]  # (a tuple is empty: nothing dropped)
        self._head = head if pieces else 0
        # The last lookup's piece, if it is still there and not now the first, is n bytes
        # nearer the front (the sender's next lookup starts from it, not from the first piece).
        i, off = self._at
        self._at = (i - dropped, off - n) if i > dropped else (0, 0)

    def clear(self) -> None:
        if self is EMPTY:
            return
        self._pieces = ()
        self._head = self.nbytes = 0
        self._at = (0, 0)

    def __repr__(self) -> str:
        return f"<ByteQueue {self.nbytes} bytes in {len(self._pieces)} pieces>"


EMPTY = ByteQueue()  # the shared empty queue (see the module's docstring)

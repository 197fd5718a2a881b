"""Out-of-order segments kept until the hole before them fills (RFC 9293 3.10.7.4, seventh).

The queue is what a hostile sender aims at (the SegmentSmack class, CVE-2018-5390: thousands of
tiny segments at every other sequence number), so every operation is bounded:

- blocks are kept sorted by their offset from a base at or before RCV.NXT, found by binary
  search: a segment touches only the blocks it overlaps (O(log n) plus the merge);
- the SACK blocks of RFC 2018 section 4 are kept as they change (the block the latest segment
  went to first, then the others most recently changed), not recomputed per ACK;
- memory is charged like Linux's truesize: each segment costs its bytes plus
  ``SEGMENT_OVERHEAD``. When a segment would take the queue over the connection's limit, the
  queue first collapses (runs of contiguous data cost one overhead per page, as
  ``tcp_collapse_ofo_queue`` copies them into page-sized buffers), then prunes from the highest
  sequence number down to the new segment (``tcp_prune_ofo_queue``; what was SACKed is reneged
  and the SACK blocks start over), and drops the new segment if it still does not fit.
"""

from __future__ import annotations

import bisect

from tcplab.tcp import seq as sq

# Linux charges each queued skb its truesize: the data plus SKB_TRUESIZE's overhead for a small
# skb (struct sk_buff, 256 bytes aligned, + struct skb_shared_info, 320).
SEGMENT_OVERHEAD = 576
COLLAPSE_UNIT = 4096  # a collapsed run costs one overhead per page of data
SACK_REMEMBERED = 4  # Linux keeps 4 (tp->selective_acks); an ACK carries 3 with timestamps
_REBASE = 1 << 30  # move the base when RCV.NXT is this far past it (offsets stay far from 2^31)


def _pages(n: int) -> int:
    return -(-n // COLLAPSE_UNIT)


class Reassembly:
    """Byte ranges beyond RCV.NXT, as disjoint, non-touching blocks sorted by sequence number."""

    __slots__ = (
        "_base",
        "_data",
        "_ends",
        "_offs",
        "_pieces",
        "_recent",
        "bytes",
        "dropped",
        "fin_seq",
        "pruned",
        "truesize",
    )

    def __init__(self) -> None:
        self._base = 0  # sequence number the offsets count from (at or before RCV.NXT)
        self._offs: list[int] = []  # block starts, offsets from _base, ascending
        self._ends: list[int] = []  # block ends (exclusive)
        self._data: list[bytearray] = []
        self._pieces: list[int] = []  # overheads charged per block (segments, or pages once collapsed)
        self._recent: list[int] = []  # starts of the blocks to SACK, most recently changed first
        self.bytes = 0  # data bytes queued
        self.truesize = 0  # bytes + SEGMENT_OVERHEAD per piece: what the queue is charged
        self.fin_seq: int | None = None  # sequence number of an out-of-order FIN
        self.pruned = 0  # queued segments thrown away to make room (Linux OfoPruned)
        self.dropped = 0  # arriving segments refused for lack of room (Linux TCPOFODrop)

    def __bool__(self) -> bool:
        return bool(self._offs) or self.fin_seq is not None

    def __len__(self) -> int:
        return len(self._offs)

    def add(self, start: int, data: bytes, rcv_nxt: int, limit: int | None = None) -> bool:
        """Store ``data`` beginning at ``start`` (strictly after ``rcv_nxt``); False when it was
        dropped (it adds nothing new, or the queue cannot make room for it under ``limit``)."""
        if not data:
            return False
        if not self._offs:
            self._base = rcv_nxt
        off = sq.sub(start, self._base)
        end = off + len(data)
        offs, ends = self._offs, self._ends
        i = bisect.bisect_right(offs, off) - 1
        if i >= 0 and ends[i] >= end:
            return False  # all of it is here already
        cost = len(data) + SEGMENT_OVERHEAD
        if limit is not None and self.truesize + cost > limit and not self._make_room(off, cost, limit):
            self.dropped += 1
            return False
        i = bisect.bisect_right(offs, off) - 1
        first = i if i >= 0 and ends[i] >= off else i + 1
        last = first
        while last < len(offs) and offs[last] <= end:
            last += 1
        self._merge(first, last, off, data)
        return True

    def _merge(self, first: int, last: int, off: int, data: bytes) -> None:
        """Blocks ``first``..``last``-1 all overlap or touch the new ``data`` at ``off``: make
        them one block (bytes already queued win where they overlap)."""
        offs, ends, blocks, pieces = self._offs, self._ends, self._data, self._pieces
        end = off + len(data)
        if first == last:
            buf, new_off = bytearray(data), off
            charged = 1
        else:
            new_off = offs[first]
            buf = blocks[first]
            if off < new_off:
                buf[0:0] = data[: new_off - off]
                new_off = off
            cur = ends[first]
            for k in range(first + 1, last):
                buf += data[cur - off : offs[k] - off]
                buf += blocks[k]
                cur = ends[k]
            if end > cur:
                buf += data[cur - off :]
            self.bytes -= sum(ends[k] - offs[k] for k in range(first, last))
            charged = sum(pieces[first:last]) + 1
            self.truesize -= sum(ends[k] - offs[k] for k in range(first, last))
            self.truesize -= SEGMENT_OVERHEAD * (charged - 1)
        gone = offs[first:last]
        offs[first:last] = [new_off]
        ends[first:last] = [new_off + len(buf)]
        blocks[first:last] = [buf]
        pieces[first:last] = [charged]
        self.bytes += len(buf)
        self.truesize += len(buf) + SEGMENT_OVERHEAD * charged
        recent = [s for s in self._recent if s not in gone]
        recent.insert(0, new_off)
        del recent[SACK_REMEMBERED:]
        self._recent = recent

    def _make_room(self, off: int, cost: int, limit: int) -> bool:
        """Collapse, then prune blocks above ``off`` from the highest down, until ``cost`` more
        fits under ``limit``; False when it cannot."""
        self._collapse()
        pruned = False
        offs = self._offs
        while self.truesize + cost > limit and offs and offs[-1] > off:
            self._drop_last()
            pruned = True
        if pruned:
            self._recent.clear()  # Linux tcp_prune_ofo_queue resets the SACK state (tcp_sack_reset)
        return self.truesize + cost <= limit

    def _collapse(self) -> None:
        for k, (start, stop) in enumerate(zip(self._offs, self._ends, strict=True)):
            pages = _pages(stop - start)
            if self._pieces[k] > pages:
                self.truesize -= SEGMENT_OVERHEAD * (self._pieces[k] - pages)
                self._pieces[k] = pages

    def _drop_last(self) -> None:
        start, stop = self._offs.pop(), self._ends.pop()
        self._data.pop()
        n = self._pieces.pop()
        self.bytes -= stop - start
        self.truesize -= stop - start + SEGMENT_OVERHEAD * n
        self.pruned += n

    def overlap(self, start: int, end: int) -> tuple[int, int] | None:
        """The first part of ``start:end`` (beyond RCV.NXT) already held, or None: what a
        D-SACK reports (RFC 2883 4.2). Found by binary search, as every other lookup here."""
        s = sq.sub(start, self._base)
        e = s + sq.sub(end, start)
        k = bisect.bisect_right(self._ends, s)  # the first block ending after ``start``
        if k == len(self._offs) or self._offs[k] >= e:
            return None
        lo, hi = max(self._offs[k], s), min(self._ends[k], e)
        return sq.add(self._base, lo), sq.add(self._base, hi)

    def pop(self, rcv_nxt: int) -> bytes:
        """Remove and return the data that now continues from ``rcv_nxt`` (may be empty)."""
        offs = self._offs
        if not offs:
            return b""
        nxt = sq.sub(rcv_nxt, self._base)
        out = bytearray()
        k = 0
        while k < len(offs) and offs[k] <= nxt:
            skip = nxt - offs[k]
            block = self._data[k]
            if skip < len(block):
                out += block[skip:] if skip else block
                nxt = self._ends[k]
            self.bytes -= self._ends[k] - offs[k]
            self.truesize -= self._ends[k] - offs[k] + SEGMENT_OVERHEAD * self._pieces[k]
            k += 1
        if k:
            gone = set(offs[:k])
            del offs[:k], self._ends[:k], self._data[:k], self._pieces[:k]
            self._recent = [s for s in self._recent if s not in gone]
        if offs and nxt > _REBASE:
            self._rebase(nxt)
        return bytes(out)

    def _rebase(self, shift: int) -> None:
        """Count offsets from ``_base + shift`` instead (rarely: the queue never emptied while
        RCV.NXT moved a gigabyte)."""
        self._base = sq.add(self._base, shift)
        self._offs = [o - shift for o in self._offs]
        self._ends = [e - shift for e in self._ends]
        self._recent = [r - shift for r in self._recent]

    def sack_blocks(self, limit: int) -> list[tuple[int, int]]:
        """RFC 2018 section 4: the block holding the latest segment first, then the others in
        the order they last changed, at most ``limit``."""
        out = []
        base = self._base
        for start in self._recent[:limit]:
            k = bisect.bisect_left(self._offs, start)
            out.append((sq.add(base, start), sq.add(base, self._ends[k])))
        return out

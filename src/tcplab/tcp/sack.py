"""The sender's SACK scoreboard (RFC 2018, loss recovery in the spirit of RFC 6675).

The peer's SACK blocks say which data above SND.UNA it holds. Data below the start of the
highest SACKed block that is not SACKed itself is taken as lost and is retransmitted during
recovery, hole by hole, instead of one segment per round trip as NewReno alone would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tcplab.tcp import seq as sq


class Scoreboard:
    __slots__ = ("blocks", "bytes")

    def __init__(self) -> None:
        self.blocks: list[list[int]] = []  # disjoint [start, end), ascending from SND.UNA
        self.bytes = 0

    def __bool__(self) -> bool:
        return bool(self.blocks)

    def clear(self) -> None:
        """RFC 2018 8: after a retransmission timeout the SACKed bits are forgotten (the
        receiver may have reneged)."""
        self.blocks.clear()
        self.bytes = 0

    def update(self, reported: Iterable[tuple[int, int]], snd_una: int, snd_max: int) -> int:
        """Merge the blocks of one ACK; return how many octets are newly SACKed. Blocks below
        SND.UNA (D-SACK) or beyond what was sent are ignored."""
        before = self.bytes
        changed = False
        for left, right in reported:
            if not (sq.lt(left, right) and sq.lt(snd_una, right) and sq.le(right, snd_max)):
                continue
            if sq.lt(left, snd_una):
                left = snd_una
            self.blocks.append([left, right])
            changed = True
        if changed:
            self._normalize(snd_una)
        return self.bytes - before

    def prune(self, snd_una: int) -> None:
        """SND.UNA advanced: forget what it covers."""
        if not self.blocks:
            return
        keep = []
        for start, end in self.blocks:
            if sq.le(end, snd_una):
                continue
            keep.append([snd_una if sq.lt(start, snd_una) else start, end])
        self.blocks = keep
        self.bytes = sum(sq.sub(e, s) for s, e in keep)

    def _normalize(self, snd_una: int) -> None:
        self.blocks.sort(key=lambda b: sq.sub(b[0], snd_una))
        merged: list[list[int]] = []
        for start, end in self.blocks:
            if merged and sq.le(start, merged[-1][1]):
                if sq.gt(end, merged[-1][1]):
                    merged[-1][1] = end
            else:
                merged.append([start, end])
        self.blocks = merged
        self.bytes = sum(sq.sub(e, s) for s, e in merged)

    def holes(self, start: int, mss: int) -> Iterator[tuple[int, int]]:
        """``(seq, length)`` pieces of at most ``mss`` octets, from ``start`` up to the highest
        SACKed block, that the peer has not SACKed."""
        seq = start
        for b_start, b_end in self.blocks:
            while sq.lt(seq, b_start):
                n = min(mss, sq.sub(b_start, seq))
                yield seq, n
                seq = sq.add(seq, n)
            if sq.lt(seq, b_end):
                seq = b_end

    def is_sacked(self, seq: int) -> int | None:
        """The end of the SACKed block holding ``seq``, or None."""
        for start, end in self.blocks:
            if sq.le(start, seq) and sq.lt(seq, end):
                return end
        return None

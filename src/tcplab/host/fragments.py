"""IP datagrams put back together from their fragments (RFC 791 3.2, RFC 8200 4.5), with the
bounds a host needs against fragment floods, as Linux keeps them (measured on this machine:
/work/notes/fragments.md):

- memory: each kept fragment is charged its bytes plus ``FRAGMENT_OVERHEAD`` (an skb's
  truesize); above ``memory_limit`` (net.ipv4.ipfrag_high_thresh, 4 MiB) every new fragment is
  dropped until timeouts free some;
- time: a datagram not complete ``timeout`` seconds after its first fragment arrived is thrown
  away (net.ipv4.ipfrag_time 30 s, net.ipv6.ip6frag_time 60 s); if its first fragment had come,
  the host answers with an ICMP "fragment reassembly time exceeded";
- overlaps: a fragment that overlaps another kills the whole datagram (RFC 5722 for IPv6;
  Linux does the same for IPv4), except a duplicate, wholly inside what is already there,
  which is dropped alone; so is a second last fragment that disagrees on the length.

Fragments that touch are kept as one run, found by binary search.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import MutableMapping

from tcplab.wire import Fragment, MalformedPacket, build_datagram

FRAGMENT_OVERHEAD = 576  # an skb's truesize overhead, as Linux charges each kept fragment
MEMORY_LIMIT = 4 * 1024 * 1024  # net.ipv4.ipfrag_high_thresh, net.ipv6.ip6frag_high_thresh
TIMEOUTS = {4: 30.0, 6: 60.0}  # net.ipv4.ipfrag_time, net.ipv6.ip6frag_time

# Counters, after Linux's Ip: ReasmReqds, ReasmOKs, ReasmFails, ReasmTimeout, ReasmOverlaps.
COUNTER_NAMES = ("reasm_fragments", "reasm_ok", "reasm_fails", "reasm_timeouts", "reasm_overlaps")

Key = tuple[int, bytes, bytes, int, int]


class _Datagram:
    __slots__ = ("charged", "deadline", "ends", "first", "head", "length", "runs", "starts")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.starts: list[int] = []  # runs of touching fragments: starts, ascending
        self.ends: list[int] = []
        self.runs: list[bytearray] = []
        self.length: int | None = None  # known once the last fragment (MF / M clear) came
        self.head: bytes | None = None  # from the first fragment
        self.first: bytes | None = None  # the first fragment as it came (quoted by ICMP)
        self.charged = 0

    def complete(self) -> bool:
        return self.length is not None and self.starts == [0] and self.ends[0] == self.length and self.head is not None


class Reassembler:
    """Fragments kept per datagram until it is whole, it overlaps itself or it times out."""

    def __init__(
        self,
        memory_limit: int = MEMORY_LIMIT,
        timeouts: dict[int, float] | None = None,
        counters: MutableMapping[str, int] | None = None,
    ) -> None:
        self.memory_limit = memory_limit
        self.timeouts = dict(TIMEOUTS if timeouts is None else timeouts)
        self.memory = 0
        # COUNTER_NAMES, counted here (the host passes its own counters)
        self.counters: MutableMapping[str, int] = counters if counters is not None else dict.fromkeys(COUNTER_NAMES, 0)
        self._queues: dict[Key, _Datagram] = {}
        self._expiry: list[tuple[float, int, Key]] = []
        self._tick = itertools.count()

    def __len__(self) -> int:
        return len(self._queues)

    def add(self, frag: Fragment, raw: bytes, now: float) -> bytes | None:
        """Keep ``frag`` (``raw``: the packet it came in); the rebuilt datagram's bytes once it
        is whole, else None."""
        c = self.counters
        c["reasm_fragments"] += 1
        if self.memory > self.memory_limit:
            c["reasm_fails"] += 1  # Linux: no new fragment is taken above ipfrag_high_thresh
            return None
        key = frag.key
        q = self._queues.get(key)
        if q is None:
            q = self._queues[key] = _Datagram(now + self.timeouts[key[0]])
            heapq.heappush(self._expiry, (q.deadline, next(self._tick), key))
        verdict = self._place(q, frag)
        if verdict == "overlap":
            c["reasm_overlaps"] += 1
            self._kill(key)
            return None
        if verdict == "bad":
            self._kill(key)
            return None
        if verdict == "dup":
            return None
        if frag.offset == 0:
            q.head, q.first = frag.head, raw
        cost = len(frag.data) + FRAGMENT_OVERHEAD
        q.charged += cost
        self.memory += cost
        if not q.complete():
            return None
        self._forget(key)
        assert q.head is not None
        try:
            datagram = build_datagram(q.head, q.runs[0])
        except MalformedPacket:
            c["reasm_fails"] += 1
            return None
        c["reasm_ok"] += 1
        return datagram

    @staticmethod
    def _place(q: _Datagram, frag: Fragment) -> str:
        """Put ``frag``'s bytes in ``q``: "ok", "dup" (wholly there already), "overlap" (RFC
        5722) or "bad" (it contradicts the datagram's length)."""
        start, end = frag.offset, frag.end
        if not frag.more:
            if (q.length is not None and end != q.length) or (q.ends and q.ends[-1] > end):
                return "bad"
            q.length = end
        elif q.length is not None and end > q.length:
            return "bad"
        starts, ends, runs = q.starts, q.ends, q.runs
        i = bisect.bisect_right(starts, start) - 1
        if i >= 0 and start < ends[i]:
            return "dup" if end <= ends[i] else "overlap"
        if i + 1 < len(starts) and starts[i + 1] < end:
            return "overlap"
        joins_left = i >= 0 and ends[i] == start
        joins_right = i + 1 < len(starts) and starts[i + 1] == end
        if joins_left:
            runs[i] += frag.data
            ends[i] = end
            if joins_right:
                runs[i] += runs[i + 1]
                ends[i] = ends[i + 1]
                del starts[i + 1], ends[i + 1], runs[i + 1]
        elif joins_right:
            runs[i + 1][0:0] = frag.data
            starts[i + 1] = start
        else:
            starts.insert(i + 1, start)
            ends.insert(i + 1, end)
            runs.insert(i + 1, bytearray(frag.data))
        return "ok"

    def _forget(self, key: Key) -> _Datagram:
        q = self._queues.pop(key)
        self.memory -= q.charged
        return q

    def _kill(self, key: Key) -> None:
        self._forget(key)
        self.counters["reasm_fails"] += 1

    def next_deadline(self) -> float | None:
        expiry = self._expiry
        while expiry:
            when, _, key = expiry[0]
            q = self._queues.get(key)
            if q is not None and q.deadline == when:
                return when
            heapq.heappop(expiry)  # completed or killed since
        return None

    def expire(self, now: float) -> list[bytes]:
        """Throw away the datagrams whose time is up; the first fragments (as they came) of
        those that had one, for the ICMP time exceeded."""
        out = []
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            when, _, key = heapq.heappop(expiry)
            q = self._queues.get(key)
            if q is None or q.deadline != when:
                continue
            self._kill(key)
            self.counters["reasm_timeouts"] += 1
            if q.first is not None:
                out.append(q.first)
        return out

"""Loss detection beside the engine: what the peer holds, what is lost, when to probe.

The engine reports each data segment it sends (``on_send``, ``on_retransmit``) and each ACK
(``on_ack`` with the cumulative acknowledgment and the SACK blocks, ``on_reno_dupack`` for a
duplicate ACK without SACK); it asks what to retransmit (``next_lost``), how much is in the
network (``in_flight``), when to look again (``detect`` returns the RACK reordering timeout) and
when to probe (``probe_timeout``). The window is the congestion control's business
(``tcplab.tcp.congestion``), the segments are the engine's; this module only decides *what is
lost*, as Linux's tcp_input.c / tcp_recovery.c do:

- RACK (RFC 8985 6; Linux net.ipv4.tcp_recovery=1): a segment is lost when a segment sent after
  it has been delivered and more than the latest RTT plus a reordering window has passed since
  it was sent;
- without RACK, the duplicate threshold: a segment with ``reordering`` SACKed segments above it
  is lost (RFC 6675 4, IsLost; RFC 5681 3.2); without SACK, NewReno (RFC 6582) marks the head
  lost at the threshold and again at each partial ACK (Linux tcp_newreno_mark_lost);
- a retransmission timeout marks everything outstanding and not SACKed lost (Linux
  tcp_timeout_mark_lost; RFC 2018 8's "forget the SACKed bits" when ``forget_sack_on_rto``);
- D-SACK (RFC 2883): a duplicate the peer reports; when every retransmission of a recovery
  episode comes back as a duplicate, the episode was spurious (Linux tcp_try_undo_dsack);
- reordering: data delivered below the highest SACK that was never retransmitted arrived late,
  not lost; the threshold rises to the distance seen (Linux tcp_check_sack_reordering,
  net.ipv4.tcp_reordering / tcp_max_reordering) and, after D-SACKs, RACK's window widens
  (RFC 8985 6.2 step 4; Linux reo_wnd_steps);
- the tail loss probe (RFC 8985 7; Linux tcp_early_retrans=3): its timeout and whether the probe
  repaired a loss.

Sequence numbers are the engine's 32-bit ones; lengths and windows are bytes.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable

from tcplab.tcp import seq as sq
from tcplab.tcp.rtt import RTTEstimator

# One record for a super-segment's parts until one needs a mark of its own (``Sent.part``): on by
# default; the differential test (tests/tcp/test_fast_path.py) turns it off to check that a record
# per part does the same.
LAZY_SPLIT = True


class Sent:
    """One transmitted segment not yet cumulatively acknowledged (Linux: an skb of the
    retransmission queue). ``end`` includes a FIN.

    A record with ``part`` set stands for a run of segments of ``part`` octets each (the last
    may be shorter) that left together, as one super-segment, and of which nothing has happened
    to any but the same: none is SACKed, lost or retransmitted (``LossDetector._parts`` cuts it
    into its segments the moment one of them needs a mark of its own)."""

    __slots__ = ("end", "ever_retrans", "lost", "part", "retrans", "sacked", "seq", "xmit")

    def __init__(self, seq: int, end: int, xmit: float, part: int = 0) -> None:
        self.seq = seq
        self.end = end
        self.xmit = xmit  # when it was last sent
        self.part = part  # 0: one segment; else the size of the segments this record stands for
        self.sacked = False  # the peer SACKed it
        self.lost = False  # marked lost (and counted in lost_out)
        self.retrans = False  # a retransmission of it is in flight (Linux TCPCB_SACKED_RETRANS)
        self.ever_retrans = False  # it has been retransmitted at least once (TCPCB_EVER_RETRANS)

    @property
    def length(self) -> int:
        return sq.sub(self.end, self.seq)

    @property
    def count(self) -> int:
        """The segments the record stands for."""
        return -(-sq.sub(self.end, self.seq) // self.part) if self.part else 1

    def __repr__(self) -> str:
        flags = "".join(c for c, on in (("S", self.sacked), ("L", self.lost), ("R", self.retrans)) if on)
        return f"<Sent {self.seq}:{self.end} t={self.xmit:g} {flags}>"


class Probe(enum.Enum):
    """What the acknowledgment of a tail loss probe says (RFC 8985 7.4; Linux
    tcp_process_tlp_ack)."""

    PENDING = "pending"  # not acknowledged yet, or nothing to judge
    NO_LOSS = "no loss"  # the probe carried new data, or both copies arrived (D-SACK)
    REPAIRED = "repaired"  # the probe's retransmission repaired a loss: reduce the window once


class Delivery:
    """What one ACK delivered: ``acked`` octets cumulatively, ``sacked`` newly SACKed,
    ``dsack`` whether it reported a duplicate (RFC 2883), ``spurious`` whether that made the
    current recovery episode spurious (every retransmission came back as a duplicate)."""

    __slots__ = ("acked", "dsack", "sacked", "segments", "spurious")

    def __init__(self) -> None:
        self.acked = 0
        self.sacked = 0
        self.segments = 0  # segments newly delivered (Linux counts packets)
        self.dsack = False
        self.spurious = False

    @property
    def delivered(self) -> int:
        """RFC 6937 DeliveredData: octets newly acknowledged, cumulatively or by SACK."""
        return self.acked + self.sacked


# What a detector that has sent nothing holds: two empty containers all of them share (an idle
# connection then keeps no list or dict of its own). Only on_send and on_send_split add to a
# detector's queues, and they first give it its own; everything else reads them or, empty, finds
# nothing to remove.
_NOTHING_SENT: list[Sent] = []
_NOTHING_SENT_BY_TIME: dict[Sent, None] = {}


class _Settings:
    """A detector's settings (from ``Config``): one object for every detector made with the
    same ones (``_settings``), instead of four fields in each."""

    __slots__ = ("forget_sack_on_rto", "max_reordering", "rack", "reordering")

    def __init__(self, rack: bool, reordering: int, max_reordering: int, forget_sack_on_rto: bool) -> None:
        self.rack = rack  # RFC 8985 RACK (Linux net.ipv4.tcp_recovery & 1)
        self.reordering = reordering  # the initial DupThresh (Linux net.ipv4.tcp_reordering)
        self.max_reordering = max_reordering  # Linux net.ipv4.tcp_max_reordering
        self.forget_sack_on_rto = forget_sack_on_rto  # RFC 2018 8 (Linux keeps the SACKed marks)


# one object per combination of settings (a handful exist)
_settings = functools.cache(_Settings)


class LossDetector:
    """The sender's view of what it sent, what the peer holds and what is lost."""

    __slots__ = (
        "_by_time",
        "_dsack_round",
        "_dsack_seen",
        "_extra",
        "_pending",
        "_persist",
        "_queue",
        "_rack_end",
        "_rack_rtt",
        "_rack_xmit",
        "_rtt",
        "_sacked_count",
        "_settings",
        "_undo_marker",
        "_undo_retrans",
        "dsack_dups",
        "dupacks",
        "fack",
        "lost_out",
        "reo_wnd_steps",
        "reord_seen",
        "reordering",
        "retrans_out",
        "sack_ok",
        "sacked_out",
        "tlp_high_seq",
        "tlp_retrans",
        "total_retrans",
    )

    def __init__(
        self,
        *,
        rack: bool = True,
        reordering: int = 3,
        max_reordering: int = 300,
        forget_sack_on_rto: bool = False,
        rtt: RTTEstimator | None = None,
    ) -> None:
        self._settings = _settings(rack, reordering, max_reordering, forget_sack_on_rto)
        self.reordering = reordering  # segments: DupThresh (Linux net.ipv4.tcp_reordering)
        self.sack_ok = False  # SACK negotiated: RACK or RFC 6675; else NewReno marking
        # outstanding segments in sequence order, and the same oldest transmission first (Linux
        # tsorted): shared empty ones until the first data leaves (on_send, on_send_split)
        self._queue: list[Sent] = _NOTHING_SENT
        self._by_time: dict[Sent, None] = _NOTHING_SENT_BY_TIME
        self._extra = 0  # segments the queue's records stand for beyond one each (Sent.part)
        self.sacked_out = 0  # octets SACKed above SND.UNA (without SACK: duplicate ACKs, as Linux)
        self.lost_out = 0  # octets marked lost
        self.retrans_out = 0  # octets retransmitted and still in flight
        self._pending = 0  # octets marked lost and not retransmitted since
        self._sacked_count = 0  # segments SACKed
        self.dupacks = 0  # duplicate ACKs since SND.UNA last moved (RFC 5681)
        self.fack = 0  # the highest SACKed sequence number (right edge)
        self.reord_seen = 0  # reorderings observed (Linux tp->reord_seen)
        self.total_retrans = 0  # segments retransmitted (to tell a D-SACK of a network duplicate)
        self.dsack_dups = 0  # segments the peer reported as duplicates
        # the connection's RTT estimator, which keeps the minimum RTT (RACK's reordering window)
        self._rtt = rtt if rtt is not None else RTTEstimator(1.0, 0.2, 120.0)
        # RACK (RFC 8985 6.1): the most recently sent segment that was delivered.
        self._rack_xmit: float | None = None
        self._rack_end = 0
        self._rack_rtt = 0.0
        self.reo_wnd_steps = 1  # RFC 8985 6.2: reordering window multiplier
        self._dsack_seen = False  # a D-SACK arrived since the window was last widened
        self._dsack_round: int | None = None  # SND.NXT when it was last widened (once per round)
        self._persist = 0  # recoveries left before the window falls back to one step
        self._undo_retrans: int | None = None  # retransmissions of this episode not D-SACKed
        self._undo_marker = 0  # SND.UNA when the episode began
        # TLP (RFC 8985 7): the SND.NXT of the outstanding probe, and whether it retransmitted.
        self.tlp_high_seq: int | None = None
        self.tlp_retrans = False

    # ===================================================================== what was sent
    def on_send(self, seq: int, end: int, now: float) -> None:
        """New data ``seq:end`` left (appended in sequence order)."""
        if self._queue is _NOTHING_SENT:
            self._queue, self._by_time = [], {}
        rec = Sent(seq, end, now)
        if not self._queue and not self.sacked_out:
            self.fack = seq
        self._queue.append(rec)
        self._by_time[rec] = None

    def on_send_split(self, seq: int, n: int, fin: bool, mss: int, now: float) -> None:
        """New data ``n`` octets from ``seq`` (and a FIN after it) left as one super-segment:
        kept as records of ``mss`` octets, the FIN in the last (Linux splits a TSO skb the same
        way, tcp_fragment). Without a FIN, one record stands for them all until one of them
        needs a mark of its own (``Sent.part``, ``_parts``): a super-segment costs one record,
        not forty-four, when nothing happens to it but its acknowledgment."""
        if self._queue is _NOTHING_SENT:
            self._queue, self._by_time = [], {}
        queue, by_time = self._queue, self._by_time
        if not queue and not self.sacked_out:
            self.fack = seq
        if not fin and LAZY_SPLIT:
            rec = Sent(seq, (seq + n) & sq.MASK, now, mss)
            queue.append(rec)
            by_time[rec] = None
            self._extra += rec.count - 1
            return
        for rec in self._cut(seq, n, fin, mss, now):
            queue.append(rec)
            by_time[rec] = None

    @staticmethod
    def _cut(seq: int, n: int, fin: bool, mss: int, now: float) -> list[Sent]:
        """Records of ``mss`` octets (the last one shorter, with the FIN) for ``n`` octets from
        ``seq`` sent at ``now``."""
        return [
            Sent((seq + off) & sq.MASK, (seq + (off + mss if off + mss < n else n + fin)) & sq.MASK, now)
            for off in range(0, n, mss)
        ]

    def _parts(self, i: int) -> Sent:
        """``queue[i]``, cut first into a record per segment if it stands for several
        (``Sent.part``): in the queue, and in transmission order where it stood. Returns the
        record now at ``i``."""
        queue = self._queue
        rec = queue[i]
        if not rec.part:
            return rec
        parts = self._cut(rec.seq, rec.length, False, rec.part, rec.xmit)
        queue[i : i + 1] = parts
        self._extra -= len(parts) - 1
        by_time = self._by_time
        if next(reversed(by_time)) is rec:  # the latest sent (the usual case): no rebuild
            del by_time[rec]
            by_time.update(dict.fromkeys(parts))
        else:
            order = list(by_time)
            pos = order.index(rec)
            order[pos : pos + 1] = parts
            self._by_time = dict.fromkeys(order)
        return parts[0]

    def _all_parts(self) -> None:
        """Every record cut into a record per segment (before a rare pass over them all)."""
        if self._extra:
            for i in range(len(self._queue) - 1, -1, -1):
                self._parts(i)

    def on_retransmit(self, rec: Sent, now: float) -> None:
        """``rec`` was sent again."""
        rec.xmit = now
        rec.ever_retrans = True
        if not rec.retrans:
            rec.retrans = True
            self.retrans_out += rec.length
            if rec.lost:
                self._pending -= rec.length
        self.total_retrans += 1
        if self._undo_retrans is not None:
            self._undo_retrans += 1
        self._by_time.pop(rec, None)
        self._by_time[rec] = None  # now the most recently sent

    def next_lost(self) -> Sent | None:
        """The first segment marked lost and not yet retransmitted (RFC 6675 NextSeg rule 1)."""
        if self._pending <= 0:
            return None
        for rec in self._queue:
            if rec.lost and not rec.retrans:
                return rec
        return None

    def last(self) -> Sent | None:
        """The segment with the highest sequence number (what a tail loss probe resends)."""
        if not self._queue:
            return None
        self._parts(len(self._queue) - 1)
        return self._queue[-1]

    def head_sent(self) -> float:
        """When the first outstanding segment was last sent."""
        return self._queue[0].xmit if self._queue else 0.0

    @property
    def outstanding(self) -> bool:
        return bool(self._queue)

    def in_flight(self, outstanding: int) -> int:
        """Octets in the network (RFC 6675 "pipe"; Linux tcp_packets_in_flight): ``outstanding``
        (SND.NXT - SND.UNA) less what was SACKed or is lost, plus retransmissions in flight."""
        left = outstanding - self.sacked_out - self.lost_out
        return (left if left > 0 else 0) + self.retrans_out

    @property
    def disorder(self) -> bool:
        """Something is SACKed, lost or retransmitted (Linux TCP_CA_Disorder when not
        recovering): no tail loss probe then."""
        return bool(self.sacked_out or self.lost_out or self.retrans_out or self.dupacks)

    # ===================================================================== ACKs
    def on_ack(
        self, ack: int, blocks: Iterable[tuple[int, int]], snd_una: int, now: float, mss: int, max_window: int
    ) -> Delivery:
        """An acceptable ACK (``snd_una`` is SND.UNA before it): prune what it acknowledges,
        mark what it SACKs, learn from D-SACK, reordering and the delivery times."""
        out = Delivery()
        reord_low: int | None = None  # lowest newly delivered seq never retransmitted
        prior_fack = self.fack if self.sacked_out else snd_una
        blocks = list(blocks) if blocks else []
        if blocks:
            self._dsack(blocks, ack, out, mss, max_window)
        if sq.gt(ack, snd_una):
            self.dupacks = 0
            reord_low = self._prune(ack, now, out)
        for left, right in blocks:
            if sq.lt(left, right) and sq.gt(right, ack):
                low = self._mark_sacked(sq.seq_max(left, ack), right, now, out)
                if low is not None and (reord_low is None or sq.lt(low, reord_low)):
                    reord_low = low
        if reord_low is not None and sq.lt(reord_low, prior_fack):
            self._reordering_seen(sq.sub(prior_fack, reord_low), mss)
        if out.dsack and self._undo_retrans is not None and self._undo_retrans <= 0:
            out.spurious = True
            self._undo_retrans = None
        return out

    def on_cumulative_ack(self, ack: int, snd_una: int, now: float) -> Delivery | None:
        """``on_ack`` in the sender's common case, deciding nothing differently: an ACK of new
        data without SACK blocks while nothing is SACKed, lost or retransmitted and no tail
        loss probe is out (what header prediction's pure ACK mostly is). None when it is not
        that case (nothing done: ``on_ack`` then). What it delivers begins at ``snd_una``, so
        there is no reordering to learn and no duplicate to judge."""
        if self.sacked_out or self.lost_out or self.retrans_out or self.tlp_high_seq is not None:
            return None
        out = Delivery()
        self.dupacks = 0
        self._prune(ack, now, out)
        return out

    def _dsack(self, blocks: list[tuple[int, int]], ack: int, out: Delivery, mss: int, max_window: int) -> None:
        """RFC 2883 4: the first block reports a duplicate when it lies below the cumulative
        ACK, or inside the second block (Linux tcp_check_dsack, tcp_dsack_seen)."""
        left, right = blocks[0]
        dup = sq.lt(left, ack) or (len(blocks) > 1 and sq.ge(left, blocks[1][0]) and sq.le(right, blocks[1][1]))
        if not dup or not sq.lt(left, right) or sq.sub(right, left) > max_window:
            return
        del blocks[0]
        segs = max(1, -(-sq.sub(right, left) // max(mss, 1)))
        self.dsack_dups += segs
        if self.dsack_dups > self.total_retrans:
            return  # a duplicate the network made, not one of our retransmissions
        out.dsack = True
        tlp = self.tlp_high_seq is not None and right == self.tlp_high_seq and segs == 1
        if self.reord_seen and not tlp:
            self._dsack_seen = True  # RFC 8985 6.2: widen the reordering window this round
        if self._undo_retrans is not None and sq.gt(right, self._undo_marker):
            self._undo_retrans -= segs

    def _prune(self, ack: int, now: float, out: Delivery) -> int | None:
        """Forget what ``ack`` covers; RACK learns from each segment delivered."""
        queue = self._queue
        n = 0
        reord_low: int | None = None
        # RACK learns once from a run of parts sent together (see _rack_advance_run)
        run: Sent | None = None
        while n < len(queue):
            rec = queue[n]
            if rec.end != ack and (rec.end - ack) & sq.MASK < sq.HALF:  # (sq.gt, per ACK)
                if sq.lt(rec.seq, ack):
                    if rec.part:
                        if sq.sub(ack, rec.seq) % rec.part:
                            self._parts(n)  # acknowledged inside one of its segments: cut it
                            continue
                        run = self._deliver_first_parts(rec, ack, run, now, out)
                        if reord_low is None:
                            reord_low = rec.seq
                        rec.seq = ack
                        if rec.length <= rec.part:
                            rec.part = 0
                    else:
                        self._trim(rec, ack)
                break
            n += 1
            self._by_time.pop(rec, None)
            length = (rec.end - rec.seq) & sq.MASK  # (rec.length)
            if rec.sacked:
                self.sacked_out -= length
                self._sacked_count -= 1
            else:
                out.acked += length
                if rec.part:
                    segs = rec.count
                    out.segments += segs
                    self._extra -= segs - 1
                else:
                    out.segments += 1
                run = self._rack_advance_run(run, rec, now)
                if not rec.ever_retrans and reord_low is None:
                    reord_low = rec.seq
            if rec.lost:
                self.lost_out -= length
                if not rec.retrans:
                    self._pending -= length
            if rec.retrans:
                self.retrans_out -= length
        if run is not None:
            self._rack_advance(run, now)
        if n:
            del queue[:n]
        if not self.sacked_out:
            self.fack = ack
        return reord_low

    def _deliver_first_parts(self, rec: Sent, ack: int, run: Sent | None, now: float, out: Delivery) -> Sent | None:
        """``_prune`` for a record of several segments whose first ones, up to ``ack`` (one of
        their boundaries), are acknowledged: what their own records would have counted. RACK
        learns from the last of them, like any run sent together (``_rack_advance_run``)."""
        acked = sq.sub(ack, rec.seq)
        segs = acked // rec.part
        out.acked += acked
        out.segments += segs
        self._extra -= segs
        return self._rack_advance_run(run, Sent(rec.seq, ack, rec.xmit), now)

    def _trim(self, rec: Sent, ack: int) -> None:
        """A partial acknowledgment of ``rec``: keep only what is beyond ``ack``."""
        cut = sq.sub(ack, rec.seq)
        if rec.sacked:
            self.sacked_out -= cut
        if rec.lost:
            self.lost_out -= cut
            if not rec.retrans:
                self._pending -= cut
        if rec.retrans:
            self.retrans_out -= cut
        rec.seq = ack

    def _mark_sacked(self, left: int, right: int, now: float, out: Delivery) -> int | None:
        """Mark the segments inside ``left:right`` SACKed (a segment partly inside is split);
        return the lowest newly SACKed one never retransmitted."""
        queue = self._queue
        low: int | None = None
        i = self._index(left)
        while i < len(queue):
            rec = queue[i]
            if sq.ge(rec.seq, right):
                break
            if sq.le(rec.end, left) or rec.sacked:
                i += 1
                continue
            if rec.part:
                self._parts(i)  # several segments, some in the block: a record each
                continue
            if sq.lt(rec.seq, left):
                self._split(i, left)
                i += 1
                continue
            if sq.gt(rec.end, right):
                self._split(i, right)
            rec = queue[i]
            length = rec.length
            rec.sacked = True
            self.sacked_out += length
            self._sacked_count += 1
            out.sacked += length
            out.segments += 1
            if rec.lost:
                rec.lost = False
                self.lost_out -= length
                if not rec.retrans:
                    self._pending -= length
            if rec.retrans:
                rec.retrans = False
                self.retrans_out -= length
            self._by_time.pop(rec, None)
            self._rack_advance(rec, now)
            if not rec.ever_retrans and low is None:
                low = rec.seq
            if sq.gt(rec.end, self.fack):
                self.fack = rec.end
            i += 1
        return low

    def _index(self, seq: int) -> int:
        """Index of the first segment that ends after ``seq`` (binary search)."""
        queue = self._queue
        if not queue:
            return 0
        base = queue[0].seq
        target = sq.sub(seq, base)
        lo, hi = 0, len(queue)
        while lo < hi:
            mid = (lo + hi) // 2
            if sq.sub(queue[mid].end, base) <= target:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _split(self, i: int, at: int) -> None:
        """Split ``queue[i]`` at sequence number ``at`` (Linux tcp_fragment)."""
        rec = self._queue[i]
        tail = Sent(at, rec.end, rec.xmit)
        tail.sacked, tail.lost, tail.retrans, tail.ever_retrans = rec.sacked, rec.lost, rec.retrans, rec.ever_retrans
        rec.end = at
        self._queue.insert(i + 1, tail)
        if rec.sacked:
            self._sacked_count += 1
        if rec in self._by_time:
            # keep the pieces together in transmission order: rebuild (rare: partial SACKs)
            order = list(self._by_time)
            pos = order.index(rec)
            order.insert(pos + 1, tail)
            self._by_time = dict.fromkeys(order)

    def on_reno_dupack(self, outstanding: int, mss: int) -> None:
        """A duplicate ACK without SACK: one more segment has left the network (Linux
        tcp_add_reno_sack, bounded by what can have arrived: tcp_limit_reno_sacked); a count
        beyond that bound means reordering."""
        self.dupacks += 1
        self.sacked_out += mss
        holes = max(self.lost_out, min(mss, outstanding))
        if self.sacked_out + holes > outstanding:
            self.sacked_out = max(0, outstanding - holes)
            self._reordering_seen(outstanding, mss)

    def on_sack_dupack(self) -> None:
        """A duplicate ACK (counted for the RFC 5681 / RFC 6675 threshold)."""
        self.dupacks += 1

    def reno_acked(self, acked: int, mss: int) -> None:
        """Without SACK, a cumulative ACK of ``acked`` octets: one segment filled a hole, the
        others had been counted by duplicate ACKs (Linux tcp_remove_reno_sacks)."""
        if self.sacked_out:
            self.sacked_out = max(0, self.sacked_out - max(0, acked - mss))

    def _reordering_seen(self, distance: int, mss: int) -> None:
        """Data arrived ``distance`` octets out of order: raise the duplicate threshold to match
        (Linux tcp_check_sack_reordering)."""
        segs = -(-distance // max(mss, 1))
        if segs > self.reordering:
            self.reordering = min(self._settings.max_reordering, segs)
        self.reord_seen += 1

    # ===================================================================== RACK (RFC 8985 6)
    @property
    def min_rtt(self) -> float | None:
        """The least RTT seen lately (kept by the RTT estimator: Linux tcp_min_rtt)."""
        return self._rtt.min_rtt

    def _rack_advance(self, rec: Sent, now: float) -> None:
        """RFC 8985 6.2 step 2: remember the most recently sent segment that was delivered.
        A retransmitted segment delivered sooner than min_RTT after the retransmission may be
        the original's delivery: ambiguous, skipped (Linux tcp_rack_advance). A segment sent
        once times the path: a minimum RTT candidate (Linux ca_rtt, tcp_update_rtt_min)."""
        rtt = now - rec.xmit
        min_rtt = self._rtt.min_rtt
        if rec.ever_retrans:
            if min_rtt is not None and rtt < min_rtt:
                return
        else:
            self._rtt.update_min(rtt, now)
        self._rack_rtt = rtt
        if self._rack_xmit is None or self._sent_after(rec.xmit, rec.end, self._rack_xmit, self._rack_end):
            self._rack_xmit = rec.xmit
            self._rack_end = rec.end

    def _rack_advance_run(self, run: Sent | None, rec: Sent, now: float) -> Sent | None:
        """A hot-path shortcut for ``_prune``, deciding nothing differently: ``_rack_advance``
        for ``rec`` delivered, in sequence order, deferred while it extends ``run``, the last
        of a run of parts sent once at the same time (one super-segment's records). For such a
        run only its last part's call changes anything: each part gives the same RTT (the
        same minimum-RTT candidate, the same latest RTT), and the last has the highest end.
        Returns the run to pass with the next part (None: nothing deferred)."""
        if run is not None and (rec.ever_retrans or rec.xmit != run.xmit):
            self._rack_advance(run, now)  # the run ended: its call, in order
            run = None
        if rec.ever_retrans:
            self._rack_advance(rec, now)
            return None
        return rec

    @staticmethod
    def _sent_after(t1: float, end1: int, t2: float, end2: int) -> bool:
        return t1 > t2 or (t1 == t2 and end1 != end2 and (end1 - end2) & sq.MASK < sq.HALF)  # (sq.gt)

    def reo_wnd(self, srtt: float | None, recovering: bool) -> float:
        """RFC 8985 6.2 step 4 (Linux tcp_rack_reo_wnd): no reordering seen yet, and already
        recovering or ``reordering`` segments SACKed: no window (a duplicate threshold in time);
        otherwise min_RTT/4 per step, at most SRTT."""
        if not self.reord_seen and (recovering or self._sacked_count >= self.reordering):
            return 0.0
        wnd = (self.min_rtt or 0.0) / 4 * self.reo_wnd_steps
        return min(wnd, srtt) if srtt is not None else wnd

    def update_reo_wnd(self, snd_una: int, snd_nxt: int) -> None:
        """RFC 8985 6.2 step 4: after a round with D-SACKs, one more step (at most once per
        round trip); after 16 recoveries without, back to one (Linux tcp_rack_update_reo_wnd)."""
        if self._dsack_round is not None and sq.lt(snd_una, self._dsack_round):
            self._dsack_seen = False  # within a round trip of the last widening
        if self._dsack_seen:
            self.reo_wnd_steps = min(0xFF, self.reo_wnd_steps + 1)
            self._dsack_seen = False
            self._dsack_round = snd_nxt
            self._persist = 16  # Linux TCP_RACK_RECOVERY_THRESH
        elif not self._persist:
            self.reo_wnd_steps = 1

    def detect(self, now: float, srtt: float | None, recovering: bool, timer_min: float) -> float | None:
        """Mark what is lost now; return when to look again (the RACK reordering timer), or None.

        With RACK (RFC 8985 6.2 step 5, Linux tcp_rack_detect_loss): a segment sent before the
        most recently delivered one is lost once ``RACK.rtt + reo_wnd`` has passed since it was
        sent; ``timer_min`` is added to the timeout as Linux does (TCP_TIMEOUT_MIN). Without
        RACK: the duplicate threshold (RFC 6675 IsLost, Linux tcp_mark_head_lost)."""
        if not (self.sacked_out or self.retrans_out) or not self._queue:
            return None  # nothing delivered out of order and nothing resent: nothing to judge
        if not self.sack_ok:
            self._mark_reno(recovering)
            return None
        if not self._settings.rack:
            self._mark_by_threshold()
            return None
        if self._rack_xmit is None:
            return None
        reo_wnd = self.reo_wnd(srtt, recovering)
        rack_xmit, rack_end, rack_rtt = self._rack_xmit, self._rack_end, self._rack_rtt
        if self._extra:
            # records of several segments of which the first was sent before the most recently
            # delivered one: each segment is judged (and maybe marked) on its own
            for rec in [
                r
                for r in self._by_time
                if r.part and self._sent_after(rack_xmit, rack_end, r.xmit, sq.add(r.seq, r.part))
            ]:
                self._parts(self._index(rec.seq))
        wait = 0.0
        for rec in list(self._by_time):
            if rec.lost and not rec.retrans:
                continue
            if not self._sent_after(rack_xmit, rack_end, rec.xmit, rec.end):
                break  # sent after the most recently delivered: too soon to tell
            remaining = rec.xmit + rack_rtt + reo_wnd - now
            if remaining <= 0:
                self.mark_lost(rec)
            elif remaining > wait:
                wait = remaining
        return wait + timer_min if wait > 0 else None

    def _mark_by_threshold(self) -> None:
        """SACK without RACK: a segment with ``reordering`` SACKed segments above it is lost
        (RFC 6675 4, IsLost; Linux tcp_mark_head_lost)."""
        if self._sacked_count < self.reordering:
            return
        self._all_parts()
        above = 0
        for rec in reversed(self._queue):
            if rec.sacked:
                above += 1
            elif above >= self.reordering and not rec.lost:
                self.mark_lost(rec)

    def _mark_reno(self, recovering: bool) -> None:
        """Without SACK: the head is lost at ``reordering`` duplicate ACKs (RFC 5681 3.2; Linux
        tcp_newreno_mark_lost); during recovery partial ACKs say so (``partial_ack``)."""
        head = self._queue[0]
        if not recovering and self.dupacks >= self.reordering and not head.lost:
            self.mark_lost(self._parts(0))

    def partial_ack(self) -> None:
        """Without SACK, in recovery, an ACK that advanced SND.UNA short of the recovery point:
        the new head is lost too (RFC 6582 3.2 step 5; Linux tcp_newreno_mark_lost)."""
        if not self.sack_ok and self._queue and not self._queue[0].lost:
            self.mark_lost(self._parts(0))

    def mark_lost(self, rec: Sent) -> None:
        """Linux tcp_mark_skb_lost: a lost retransmission is to be sent again."""
        if rec.retrans:
            rec.retrans = False
            self.retrans_out -= rec.length
            if rec.lost:
                self._pending += rec.length  # lost again: to be retransmitted again
        if not rec.lost:
            rec.lost = True
            self.lost_out += rec.length
            self._pending += rec.length
        self._by_time.pop(rec, None)

    def resegment(self, end: int, mss: int) -> None:
        """The path MTU fell (RFC 1191, RFC 8201): the segments outstanding up to ``end`` are lost
        and go again as one run cut into pieces of ``mss`` (Linux tcp_simple_retransmit marks
        what is too big lost; the retransmission collapses and cuts it: measured 1448, 1448 go
        again as 1148, 1148, 600)."""
        self._all_parts()
        queue = self._queue
        k = 0
        while k < len(queue) and sq.le(queue[k].end, end) and not queue[k].sacked:
            k += 1
        if not k:
            return
        run = queue[:k]
        for rec in run:
            self.mark_lost(rec)
        merged = Sent(run[0].seq, run[-1].end, run[0].xmit)
        merged.lost = True
        merged.ever_retrans = any(rec.ever_retrans for rec in run)
        queue[:k] = [merged]
        i = 0
        while queue[i].length > mss:
            self._split(i, sq.add(queue[i].seq, mss))
            i += 1

    def mark_head_lost(self) -> Sent | None:
        """The retransmission timer's segment: the head (lost, to be sent again)."""
        if not self._queue:
            return None
        if self._queue[0].sacked:
            return None
        head = self._parts(0)
        self.mark_lost(head)
        return head

    # ===================================================================== episodes
    def start_episode(self, snd_una: int) -> None:
        """A recovery episode begins (Linux tcp_init_undo): count its retransmissions so a
        D-SACK of each can prove it spurious; one recovery less before RACK's window narrows."""
        self._undo_retrans = 0
        self._undo_marker = snd_una
        if self._persist:
            self._persist -= 1

    def on_rto(self) -> None:
        """The retransmission timer expired: everything outstanding is lost (Linux
        tcp_timeout_mark_lost); no tail loss probe is outstanding any more."""
        # Linux tcp_enter_loss: a timeout after many duplicates means the reordering degree
        # was overestimated.
        self._all_parts()
        reordering0 = self._settings.reordering
        if self._sacked_count >= reordering0:
            self.reordering = min(self.reordering, reordering0)
        self.dupacks = 0
        self._undo_retrans = None
        self.tlp_high_seq = None
        # A SACKed head at a timeout means the receiver reneged (dropped out-of-order data it had
        # SACKed: RFC 2018 8): Linux tcp_timeout_mark_lost then forgets every SACK mark, else
        # nothing would ever send the head again.
        reneged = bool(self._queue) and self._queue[0].sacked
        if self._settings.forget_sack_on_rto or reneged:
            for rec in self._queue:
                rec.sacked = False
            self._sacked_count = 0
            self.fack = self._queue[0].seq if self._queue else self.fack
        if not self._sacked_count:
            self.sacked_out = 0  # (without SACK: the duplicate ACKs counted are no news now)
        for rec in self._queue:
            if not rec.sacked:
                rec.retrans = False
                rec.lost = True
        self.retrans_out = 0
        self.lost_out = self._pending = sum(r.length for r in self._queue if r.lost)
        self._by_time.clear()

    def clear(self) -> None:
        """Nothing is outstanding any more (the connection's queue was flushed)."""
        self._queue.clear()
        self._by_time.clear()
        self._extra = 0
        self.sacked_out = self.lost_out = self.retrans_out = self._pending = self._sacked_count = 0

    # ===================================================================== TLP (RFC 8985 7)
    def probe_timeout(self, srtt: float | None, packets_out: int, rto_min: float, rto_left: float) -> float:
        """RFC 8985 7.2, as Linux tcp_schedule_loss_probe (measured on this machine's kernel:
        notes/linux-modern.md): 2*SRTT, plus ``rto_min`` when one segment is outstanding (for a
        delayed ACK) or 2 ms otherwise; 1 s without an RTT sample; never later than the RTO."""
        if srtt is None:
            pto = 1.0  # Linux TCP_TIMEOUT_INIT
        else:
            pto = 2 * srtt + (rto_min if packets_out == 1 else 0.002)  # TCP_TIMEOUT_MIN_US
        return min(pto, rto_left) if rto_left > 0 else pto

    def tail_probe_timeout(self, srtt: float | None, rto_min: float, rto: float, now: float | None) -> float | None:
        """The PTO for a tail loss probe now (``probe_timeout``), or None when none may be
        scheduled: nothing outstanding, or disorder (RFC 8985 7.2, Linux
        tcp_schedule_loss_probe). ``now`` None: an ACK just advanced SND.UNA, so the RTO is
        reckoned whole; else from when the oldest segment outstanding was sent (Linux
        tcp_rto_delta_us). (One call for the connection's per-segment ``_schedule_probe``.)"""
        queue = self._queue
        if not queue or self.sacked_out or self.lost_out or self.retrans_out or self.dupacks:
            return None
        rto_left = rto if now is None else rto - (now - queue[0].xmit)
        return self.probe_timeout(srtt, len(queue) + self._extra, rto_min, rto_left)

    def packets_out(self) -> int:
        return len(self._queue) + self._extra

    def probe_sent(self, snd_nxt: int, retransmission: bool) -> None:
        """A probe left; it is judged when SND.NXT at this moment is acknowledged."""
        self.tlp_high_seq = snd_nxt
        self.tlp_retrans = retransmission

    def probe_outcome(self, ack: int, delivery: Delivery, duplicate: bool) -> Probe:
        """RFC 8985 7.4 (Linux tcp_process_tlp_ack): the verdict on the outstanding probe."""
        high = self.tlp_high_seq
        if high is None or sq.lt(ack, high):
            return Probe.PENDING
        if not self.tlp_retrans or delivery.dsack:
            self.tlp_high_seq = None  # new data, or the original and the probe both arrived
            return Probe.NO_LOSS
        if sq.gt(ack, high):
            self.tlp_high_seq = None  # the probe repaired a loss
            return Probe.REPAIRED
        if duplicate:
            self.tlp_high_seq = None  # a pure duplicate: both copies arrived
            return Probe.NO_LOSS
        return Probe.PENDING

    def __repr__(self) -> str:
        return (
            f"<LossDetector {self.packets_out()} out, sacked {self.sacked_out}, lost {self.lost_out}, "
            f"retrans {self.retrans_out}, reordering {self.reordering}>"
        )

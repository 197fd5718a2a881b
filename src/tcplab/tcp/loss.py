"""Loss detection beside the engine: duplicate ACKs, the SACK scoreboard, the recovery state.

The engine feeds it every ACK's SACK blocks, every advance of SND.UNA and every duplicate ACK;
it answers whether a loss was detected and which octets to retransmit during recovery. The
window itself is the congestion control's business (``tcplab.tcp.congestion``), the segments
are the engine's; this module only decides *what is lost*:

- RFC 5681 3.2: the third duplicate ACK means the segment at SND.UNA is lost (fast retransmit);
- RFC 6675 5: so do three segments' worth of SACKed data above SND.UNA;
- RFC 6582: NewReno recovery lasts until the highest sequence number sent at its start (the
  recovery point) is acknowledged; partial ACKs in between point at further holes;
- RFC 2018 / RFC 6675: during recovery, the holes below the highest SACKed block are sent again
  hole by hole (``holes``), each once;
- RFC 3042 Limited Transmit: the first two duplicates let one new segment each go.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator

from tcplab.tcp import seq as sq
from tcplab.tcp.sack import Scoreboard


class DupAck(enum.Enum):
    """What a duplicate ACK means."""

    NOT_DUPLICATE = "not duplicate"  # carries data or a window update and SACKs nothing new
    COUNTED = "counted"  # a duplicate, below the threshold (Limited Transmit may send)
    LOSS = "loss"  # threshold reached: fast retransmit, enter recovery
    IN_RECOVERY = "in recovery"  # a further duplicate during recovery: one segment left


class LossDetector:
    """The sender's view of what the peer holds and what it lost."""

    __slots__ = ("dupacks", "dupthresh", "recover", "rexmit_next", "scoreboard")

    def __init__(self, dupthresh: int = 3) -> None:
        self.dupthresh = dupthresh  # RFC 5681 DupThresh (Linux net.ipv4.tcp_reordering)
        self.dupacks = 0  # duplicate ACKs since SND.UNA last advanced
        self.recover: int | None = None  # RFC 6582 recovery point; None outside recovery
        self.rexmit_next = 0  # next sequence number to retransmit in this recovery
        self.scoreboard = Scoreboard()  # what the peer SACKed above SND.UNA

    @property
    def in_recovery(self) -> bool:
        return self.recover is not None

    # -- feeding it ------------------------------------------------------------------------
    def on_sack(self, blocks: Iterable[tuple[int, int]], snd_una: int, snd_max: int) -> int:
        """The SACK blocks of an arriving ACK; returns the octets newly SACKed."""
        return self.scoreboard.update(blocks, snd_una, snd_max)

    def on_advance(self, snd_una: int) -> None:
        """SND.UNA moved forward: forget what it covers; the duplicate count starts over."""
        self.scoreboard.prune(snd_una)
        self.dupacks = 0

    def on_duplicate(self, newly_sacked: int, plain: bool, mss: int) -> DupAck:
        """An ACK of exactly SND.UNA while data is outstanding. ``plain``: no data, no FIN and
        the same window (RFC 5681 2's "duplicate acknowledgment"); an ACK that SACKs new data
        counts whatever else it carries (RFC 6675 2, "DupAck")."""
        if not newly_sacked and not plain:
            return DupAck.NOT_DUPLICATE
        self.dupacks += 1
        if self.recover is None:
            if self.dupacks == self.dupthresh or self.scoreboard.bytes >= self.dupthresh * mss:
                return DupAck.LOSS
            return DupAck.COUNTED
        return DupAck.IN_RECOVERY if self.dupacks > self.dupthresh else DupAck.COUNTED

    def enter_recovery(self, snd_max: int, retransmitted_to: int) -> None:
        """Fast retransmit sent the head up to ``retransmitted_to``; recovery lasts until
        ``snd_max`` is acknowledged (RFC 6582 3.2 step 2)."""
        self.recover = snd_max
        self.rexmit_next = retransmitted_to

    def recovery_ends(self, ack: int) -> bool:
        """An ACK of new data during recovery: True (and recovery over) when it covers the
        recovery point; False for a partial ACK (RFC 6582 3.2 steps 3 and 5)."""
        if self.recover is not None and sq.ge(ack, self.recover):
            self.recover = None
            return True
        return False

    def on_rto(self) -> None:
        """A retransmission timeout ends recovery; the SACKed bits are forgotten (RFC 2018 8:
        the receiver may have reneged)."""
        self.recover = None
        self.dupacks = 0
        self.scoreboard.clear()

    # -- asking it ---------------------------------------------------------------------------
    def limited_transmit(self, mss: int) -> int:
        """RFC 3042: bytes of new data the first duplicates allow beyond the window."""
        if self.recover is None and 0 < self.dupacks < self.dupthresh:
            return self.dupacks * mss
        return 0

    def holes(self, snd_una: int, mss: int) -> Iterator[tuple[int, int]]:
        """``(seq, length)`` pieces the peer lacks below its highest SACKed block, from where this
        recovery got to; the caller reports each one it sends with ``retransmitted``."""
        return self.scoreboard.holes(sq.seq_max(self.rexmit_next, snd_una), mss)

    def retransmitted(self, end: int) -> None:
        self.rexmit_next = end

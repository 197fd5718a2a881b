"""The window a receiver offers (RFC 9293 3.8.6.2.2), and Linux's receive-buffer auto-tuning.

Two behaviours, chosen by ``Config.rcv_window_rules``:

- "rfc" (the RFC's receiver): offer the free buffer; move the right edge only in steps of at
  least min(RCV.BUFF / 2, MSS) (receiver silly window avoidance); never shrink the window.
- "linux" (measured on this kernel: notes/linux-behaviour.md B): the SYN offers the buffer
  rounded down to whole segments (64240 for MSS 1460: tcp_select_initial_window); the window
  then grows by about two segments per segment received (``rcv_ssthresh``, tcp_grow_window),
  never beyond the free buffer; and, with ``Config.rcv_autotune`` (no SO_RCVBUF), once per
  round trip the buffer follows what the application read (dynamic right-sizing,
  tcp_rcv_space_adjust), up to tcp_rmem[2] / 2.

The engine asks for the window of each segment it sends (``syn_window``, ``select``) and reports
data received and read; nothing here reads a clock or sends.
"""

from __future__ import annotations

from tcplab.tcp.config import Config, shared_int

_MIN_GROW_SEGMENT = 128  # tcp_event_data_recv: segments below this do not grow the window


def _align_up(n: int, unit: int) -> int:
    return -(-n // unit) * unit


class ReceiveWindow:
    __slots__ = (
        "_drs_copied",
        "_drs_space",
        "_drs_time",
        "config",
        "linux",
        "space",
        "ssthresh",
        "wnd",
    )

    def __init__(self, config: Config) -> None:
        self.config = config  # the settings it was made with (read-only: a change makes a new one)
        self.linux = config.rcv_window_rules == "linux"  # (read for every segment: kept)
        self.space = config.rcv_buf  # what the buffer can hold now (bytes of data)
        self.ssthresh = self.space  # Linux rcv_ssthresh: how far the window may open for now
        self.wnd = 0  # the window last offered (Linux rcv_wnd)
        self._drs_space = 0  # tcp_rcv_space_adjust: bytes read in the last measured round trip
        self._drs_copied = 0  # ... and the read total when that round trip began
        self._drs_time: float | None = None

    @property
    def autotune(self) -> bool:
        """Linux's receive buffer auto-tuning (tcp_rcv_space_adjust) is on."""
        return self.linux and self.config.rcv_autotune

    @property
    def space_max(self) -> int:
        """How far auto-tuning may grow ``space``: half of ``Config.rcv_buf_max``, never below
        ``Config.rcv_buf`` (without auto-tuning: ``rcv_buf``)."""
        c = self.config
        return max(c.rcv_buf, c.rcv_buf_max // 2) if self.autotune else c.rcv_buf

    # -- the SYN ------------------------------------------------------------------------------
    def syn_window(self, free: int, mss: int) -> int:
        """The window of a SYN or SYN-ACK (never scaled: RFC 7323 2.2). Linux offers the buffer
        rounded down to a multiple of the MSS it will receive (the SYN-ACK's is less the
        timestamp option when that was negotiated)."""
        if not self.linux:
            self.wnd = min(free, 0xFFFF)
            return self.wnd
        wnd = self.space
        if wnd > mss:
            wnd -= wnd % mss
        self.wnd = self.ssthresh = shared_int(wnd)
        return min(wnd, 0xFFFF)

    def established(self, advmss: int) -> None:
        """tcp_init_buffer_space: the first round trip's expectation is ten segments."""
        self._drs_space = shared_int(min(self.ssthresh, self.wnd or self.space, 10 * advmss))

    # -- every other segment ----------------------------------------------------------------
    def free(self, queued: int) -> int:
        """Room left in the buffer when ``queued`` bytes wait in it (in order or not)."""
        room = self.space - queued
        return room if room > 0 else 0

    def select(self, free: int, current: int, shift: int, rcv_mss: int, advmss: int) -> tuple[int, bool]:
        """The window to offer now, in bytes, and whether the buffer is under pressure (less
        than half free: Linux then leaves quick-ACK mode). ``current`` is what remains of the
        window offered last (RCV.ADV - RCV.NXT): the right edge never moves back (3.8.6.2.2).
        ``rcv_mss`` is the largest segment received, ``advmss`` our own MSS."""
        if not self.linux:
            wnd = min(free, 0xFFFF << shift)
            wnd = (wnd >> shift) << shift
            # Receiver SWS avoidance: only move the right edge by at least min(RCV.BUFF/2, MSS).
            if wnd > current and wnd - current < min(self.space // 2, advmss):
                wnd = current
            return max(wnd, current), False
        # Linux tcp_select_window: never shrink the offered window.
        wnd, pressure = self.would_offer(free, shift, rcv_mss)
        if wnd < current:
            wnd = _align_up(current, 1 << shift)
        if wnd > 0xFFFF << shift:
            wnd = 0xFFFF << shift
        self.wnd = wnd
        return wnd, pressure

    def would_offer(self, free: int, shift: int, rcv_mss: int) -> tuple[int, bool]:
        """Linux __tcp_select_window: the window for ``free`` bytes of room,
        before the no-shrink rule; and whether the buffer is under pressure."""
        full = self.space
        mss = rcv_mss if rcv_mss < full else full
        pressure = free < full >> 1
        if pressure:
            free -= free % (1 << shift)
            if free < full >> 4 or free < mss:
                return 0, True
        wnd = free if free < self.ssthresh else self.ssthresh
        if shift:
            return -(-wnd >> shift) << shift, pressure  # (_align_up to 1 << shift, per segment)
        if (self.wnd <= wnd - mss or self.wnd > wnd) and mss:
            return wnd - wnd % mss, pressure
        return self.wnd, pressure

    def grow(self, length: int, free: int, advmss: int) -> bool:
        """tcp_grow_window: an in-order segment of ``length`` bytes arrived; open rcv_ssthresh
        by two segments' worth (at most up to the free buffer). True when it grew (Linux then
        acknowledges at once, to announce it)."""
        if not self.linux or length < _MIN_GROW_SEGMENT:
            return False
        room = min(self.space, free) - self.ssthresh
        if room <= 0:
            return False
        self.ssthresh += min(room, max(2 * advmss, 2 * length))
        return True

    def read(self, copied: int, now: float, rtt: float | None, advmss: int) -> None:
        """The application has read ``copied`` bytes in all (tcp_rcv_space_adjust): once per
        round trip, let the buffer follow twice what it read, with room for the sender's
        slow start, up to ``space_max``."""
        if self._drs_time is None:
            self._drs_time, self._drs_copied = now, 0
        if rtt is None or now - self._drs_time < rtt:
            return
        got = copied - self._drs_copied
        if got > self._drs_space:
            if self.autotune and self._drs_space:
                win = 2 * got + 16 * advmss
                win += 2 * (win * (got - self._drs_space) // self._drs_space)
                self.space = max(self.space, min(win, self.space_max))
            self._drs_space = got
        self._drs_copied, self._drs_time = copied, now

    def update_due(self, free: int, current: int, shift: int, rcv_mss: int, advmss: int) -> bool:
        """After a read: is the window worth announcing now (3.8.6.2.2)? Linux (tcp_cleanup_rbuf):
        when the window it could offer is at least twice what is left of the offered one."""
        rcv_buf = self.space
        if not self.linux:
            could = min(free, 0xFFFF << shift)
            return could - current >= min(rcv_buf // 2, advmss) and (current < advmss or current < rcv_buf // 2)
        if 2 * current > rcv_buf:
            return False
        could = min(free, self.ssthresh)
        if free < rcv_buf >> 1 and (free < rcv_buf >> 4 or free < min(rcv_mss, rcv_buf)):
            could = 0
        return could > 0 and could >= 2 * current

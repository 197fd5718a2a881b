"""``KernelWatcher``: the Linux kernel's TCP state changes as tcplab state events.

Usage::

    with KernelWatcher(port=9527, netns="tcplab-w-demo") as w:
        ...  # run clients and servers
        events = w.events(timeout=0.5)  # the state events seen in the next 0.5 s

Each event is a dict in tcplab's JSON event format::

    {"t": 0.0123, "kind": "state", "host": "kernel", "from": "SYN_SENT", "to": "ESTABLISHED",
     "cause": "kernel", "conn": "198.18.0.1:40000-198.18.0.2:9527",
     "local": "198.18.0.1:40000", "remote": "198.18.0.2:9527", "rfc_cause": "rcv SYN-ACK"}

``t`` is seconds since the watcher started (``t0``), from the trace line's timestamp (the
instance's clock is ``mono``, the clock of ``time.monotonic()``); ``epoch`` is that start in
wall-clock time (the same kind of time as tcplab's traces: see ``tcplab.trace.events``). ``rfc_cause`` names the
TRANSITIONS row the change maps to (absent if none). Events the kernel does not report itself
carry ``linux``: how Linux did it.

Where Linux differs from the RFC diagram:

- A closing socket hands over to a TIME_WAIT *minisock*: the tracepoint shows FIN_WAIT_2 -> CLOSE
  (or FIN_WAIT_1 / CLOSING -> CLOSE). The watcher asks sock_diag (in the socket's namespace: pass
  ``netns``) for the minisock and reports FIN_WAIT_2 -> TIME_WAIT instead, then TIME_WAIT -> CLOSED
  when the minisock disappears: sock_diag is asked at the timer's expected end (dated from the
  timer) and every second in between (an early end: a new SYN took the 4-tuple, a SOCK_DESTROY).
- After close() (an orphaned socket) the FIN_WAIT_2 socket itself becomes a minisock whose
  substate is FIN_WAIT_2; its move to TIME_WAIT fires no tracepoint. The watcher polls sock_diag
  every 50 ms (a dump filters minisocks by substate: it asks for FIN_WAIT2 and TIME_WAIT) and
  dates the move from the minisock's timer (TIME_WAIT always lasts 60 s on Linux), kept between
  the peer's FIN and the end of the peer's LAST_ACK when the tracepoint showed those.
- A minisock that leaves the table before its timer's end was ended by a new SYN on its 4-tuple
  (``rfc_cause`` "rcv SYN in TIME_WAIT"), or by an RST or a SOCK_DESTROY (``ss -K``): the kernel
  does not say which, so that event has ``"rfc_cause": null``. So does an X -> CLOSE of a
  closing socket with no minisock behind it (an RST, a timeout, or read too late to tell).
- ``still_open()`` lists the connections not yet CLOSED (``tcplab watch`` prints them when it
  ends: typically the active closer, still in TIME_WAIT, with its timer).
- A connecting socket enters SYN_SENT before it has a local port (``sport=0``); the event is held
  until the port is known (next event of that socket, or sock_diag).
- The tracepoint does not say which network namespace a socket lives in: with a port or address
  filter, a watcher sees matching sockets of every namespace.

If the trace buffer overflows, the kernel says how many events it dropped: a note says so and
``lost_events`` counts them. ``feed_lines()`` processes recorded ``trace_pipe`` lines.

Without the tracepoint (not root, no tracefs) ``mode="auto"`` falls back to polling the sock_diag
table every ``poll_interval`` seconds (``unavailable`` says why); short-lived states may be
missed then.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tcplab.tcp.states import Cause, State
from tcplab.watch.diag import (
    SYN_SENT_STATES,
    TIMEWAIT_STATES,
    DiagError,
    SockDiag,
    SockEntry,
)
from tcplab.watch.mapping import rfc_transition
from tcplab.watch.tracefs import TraceInstance, WatchUnavailable
from tcplab.watch.traceline import (
    KernelStateChange,
    TraceLineError,
    address_text,
    endpoint,
    parse_trace_line,
)

Event = dict[str, Any]
HOST = "kernel"
TIME_WAIT_LEN = 60.0  # Linux TCP_TIMEWAIT_LEN (include/net/tcp.h); the RFC says 2*MSL
_LOST = re.compile(r"\[LOST (\d+) EVENTS\]")
_TW_POLL = 0.05
_TW_SLOW_POLL = 1.0
_MARKS_KEPT = 4096
_SYN_PORT_WAIT = 0.1  # how long a port-less SYN_SENT waits for its socket's next event

NOTES = {
    "timewait": (
        "Linux: the tracepoint shows {old} -> CLOSE when the socket hands over to a TIME_WAIT "
        "minisock; sock_diag lists it, so it is shown as {old} -> TIME_WAIT."
    ),
    "orphan": (
        "Linux: after close() a FIN_WAIT_2 socket becomes a minisock (tcp_fin_timeout); its move "
        "to TIME_WAIT fires no tracepoint: seen by polling sock_diag, dated from its timer."
    ),
    "timewait_end": (
        "Linux: TIME_WAIT lasts a fixed 60 s (TCP_TIMEWAIT_LEN), where the RFC says 2*MSL; "
        "its end fires no tracepoint: seen by polling sock_diag."
    ),
    "synrcvd": (
        "Linux: a passive open lives as a request minisock (TCP_NEW_SYN_RECV) until the final "
        "ACK; the tracepoint shows LISTEN -> SYN_RCVD for the new socket only then."
    ),
    "no_tw": (
        "Linux: {old} -> CLOSE but no TIME_WAIT minisock in {where}: either the connection "
        "really closed (RST, timeout) or it lives in another network namespace (use netns)."
    ),
    "poll": ("polling the sock_diag table every {ms:.0f} ms: states shorter than that may be missed."),
}


class WatchError(Exception):
    """A watcher argument or setup problem the user can fix (one line)."""


def normalize_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    addr = ipaddress.ip_address(text)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


class _Followed:
    """A minisock (TIME_WAIT, or FIN_WAIT_2 substate) followed by polling sock_diag."""

    __slots__ = ("entry", "expected_end", "last_seen", "state")

    def __init__(self, entry: SockEntry, state: State, now: float) -> None:
        self.entry = entry
        self.state = state
        self.last_seen = now
        self.expected_end = now + entry.expires_ms / 1000


class KernelWatcher:
    """The kernel's TCP state changes, live. A context manager; see the module docstring."""

    def __init__(
        self,
        port: int | None = None,
        address: str | None = None,
        netns: str | None = None,
        *,
        mode: str = "auto",
        tracefs: str | None = None,
        t0: float | None = None,
        poll_interval: float = 0.05,
    ) -> None:
        if port is not None and not (isinstance(port, int) and 0 < port <= 0xFFFF):
            raise WatchError(f"port must be 1..65535, not {port!r}")
        try:
            self._address = normalize_address(address) if address is not None else None
        except ValueError:
            raise WatchError(f"not an IP address: {address!r}") from None
        # The address as the kernel prints it (and its IPv4-mapped form): a string compare per event.
        self._address_texts: frozenset[str] | None = None
        if self._address is not None:
            text = address_text(self._address.packed)
            mapped = {"::ffff:" + text} if self._address.version == 4 else set()
            self._address_texts = frozenset({text, *mapped})
        if mode not in ("auto", "trace", "poll"):
            raise WatchError(f"mode must be auto, trace or poll, not {mode!r}")
        if poll_interval <= 0:
            raise WatchError("poll_interval must be positive")
        self.port = port
        self.address = address
        self.netns = netns
        self.requested_mode = mode
        self.mode: str | None = None  # "trace" or "poll" once started
        self.unavailable: str | None = None  # why the tracepoint is not used (poll mode)
        self.tracefs_root = tracefs
        self.poll_interval = poll_interval
        self.t0 = t0
        self.epoch: float | None = None  # wall-clock time of t == 0, once started
        self.log: list[Event] = []  # every event emitted, notes included
        self.bad_lines = 0  # malformed inet_sock_set_state lines (counted, skipped)
        self.lost_events = 0  # events the kernel dropped because the buffer was full
        self.instance: TraceInstance | None = None
        self._diag: SockDiag | None = None
        self._out: deque[Event] = deque()
        self._notes_done: set[str] = set()
        self._pending_syn: dict[tuple[int, str, str, int], deque[KernelStateChange]] = {}
        # When each connection entered FIN_WAIT_1 / LAST_ACK (sent its FIN) and CLOSED: a
        # minisock's move to TIME_WAIT, dated from its timer (in jiffies), lies between the peer
        # sending its FIN and the peer's LAST_ACK ending on our ACK.
        self._marks: dict[str, dict[State, float]] = {}
        self._followed: dict[tuple[int, str, int, str, int], _Followed] = {}
        self._table: dict[tuple[int, str, int, str, int], SockEntry] = {}
        self._next_poll = 0.0
        self._open = False

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> KernelWatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        if self._open:
            return
        if self.t0 is None:
            self.t0 = time.monotonic()
        self.epoch = time.time() - (time.monotonic() - self.t0)  # t == 0 in wall-clock time
        try:
            self._diag = SockDiag(self.netns)
        except DiagError as exc:
            if self.netns is not None or self.requested_mode == "poll":
                raise WatchError(str(exc.strerror or exc)) from None
            self._diag = None
        try:
            if self.requested_mode in ("auto", "trace"):
                try:
                    self.instance = TraceInstance(port=self.port, root=self.tracefs_root)
                    self.instance.open()
                    self.mode = "trace"
                except WatchUnavailable as exc:
                    self.instance = None
                    if self.requested_mode == "trace":
                        raise
                    self.unavailable = str(exc)
            if self.mode is None:
                if self._diag is None:
                    raise WatchUnavailable(f"{self.unavailable or 'no tracepoint'}, and sock_diag is not available")
                self.mode = "poll"
                self._table = {e.key: e for e in self._diag.dump() if self._match_entry(e)}
                self._note("poll", ms=self.poll_interval * 1000)
        except BaseException:
            self.close()
            raise
        self._open = True

    def close(self) -> None:
        """Remove the tracefs instance and close the netlink socket; safe to call twice."""
        self._open = False
        try:
            if self.instance is not None:
                self.instance.close()
                self.instance = None
        finally:
            if self._diag is not None:
                self._diag.close()
                self._diag = None

    @property
    def instance_path(self) -> str | None:
        return self.instance.path if self.instance is not None else None

    # -- reading -------------------------------------------------------------------------------

    def poll(self, timeout: float = 0.05) -> list[Event]:
        """Wait up to ``timeout`` seconds for kernel activity; return the new events (and notes)."""
        if not self._open:
            raise WatchError("the watcher is not running (use it as a context manager)")
        now = time.monotonic()
        wait = max(0.0, timeout)
        if self.mode == "poll":
            wait = min(wait, max(0.0, self._next_poll - now))
            if wait:
                time.sleep(wait)
            self._poll_table()
        else:
            if self._followed:
                wait = min(wait, max(0.0, self._next_poll - now))
            if self._pending_syn:
                wait = min(wait, _SYN_PORT_WAIT)
            assert self.instance is not None
            self._process_lines(self.instance.read_lines(wait))
            self._resolve_stale_syn()
            if self._followed and time.monotonic() >= self._next_poll:
                self._poll_followed()
        out = list(self._out)
        self._out.clear()
        return out

    def feed_lines(self, lines: Iterable[str]) -> list[Event]:
        """Process ``trace_pipe`` lines given by the caller (a recorded trace, a test) as if read
        live; returns the new events. Without ``start()`` there is no sock_diag (no TIME_WAIT
        pairing) and ``t`` counts from ``t0`` (0.0 unless given: the trace clock itself)."""
        if self.t0 is None:
            self.t0 = 0.0
        self._process_lines(lines)
        out = list(self._out)
        self._out.clear()
        return out

    def _process_lines(self, lines: Iterable[str]) -> None:
        for line in lines:
            if "[LOST " in line:
                self._lost(line)
                continue
            try:
                change = parse_trace_line(line)
            except TraceLineError:
                self.bad_lines += 1
                continue
            if change is not None:
                self._on_change(change)

    def events(self, timeout: float = 0.0, *, notes: bool = False) -> list[Event]:
        """Events arriving within ``timeout`` seconds (state events only unless ``notes``)."""
        deadline = time.monotonic() + timeout
        out: list[Event] = []
        while True:
            left = deadline - time.monotonic()
            out.extend(self.poll(max(0.0, min(left, 0.05))))
            if left <= 0:
                break
        return [e for e in out if notes or e["kind"] == "state"]

    def wait_for(self, predicate: Callable[[list[Event]], bool], timeout: float = 5.0) -> list[Event]:
        """Poll until ``predicate(state events seen so far)`` is true or ``timeout`` passes.

        Returns the state events seen so far (all of ``log``); check the predicate again to know
        whether it came true.
        """
        deadline = time.monotonic() + timeout
        while True:
            seen = [e for e in self.log if e["kind"] == "state"]
            if predicate(seen) or time.monotonic() >= deadline:
                return seen
            self.poll(min(0.05, max(0.0, deadline - time.monotonic())))

    def __iter__(self) -> Iterator[Event]:
        """Yield events (notes included) as they happen, until the watcher is closed."""
        while self._open:
            yield from self.poll(0.2)

    def still_open(self) -> list[Event]:
        """The connections seen whose last state is not CLOSED, as ``still`` events (a TIME_WAIT
        one with the seconds left on its timer): what a watch that ends now leaves behind.

        ``{"t": 5.0, "kind": "still", "host": "kernel", "state": "TIME_WAIT", "conn": ...,
        "local": ..., "remote": ..., "timer": 55.2}``
        """
        if self._open and self.mode == "trace" and self._followed:
            self._poll_followed()  # catch up: a minisock may have moved or gone since the last look
        last: dict[str, Event] = {}
        for e in self.log:
            if e["kind"] == "state":
                last[e["conn"]] = e
        followed = {f"{endpoint(k[1], k[2])}-{endpoint(k[3], k[4])}": f for k, f in self._followed.items()}
        now = time.monotonic()
        out = []
        for conn, e in last.items():
            if e["to"] == str(State.CLOSED):
                continue
            still: Event = {"t": self._t(now), "kind": "still", "host": HOST, "state": e["to"],
                            "conn": conn, "local": e["local"], "remote": e["remote"]}  # fmt: skip
            if conn in followed:
                still["timer"] = round(max(0.0, followed[conn].expected_end - now), 3)
            self._push(still)
            out.append(still)
        return out

    # -- filtering -----------------------------------------------------------------------------

    def _match(self, saddr: str, sport: int, daddr: str, dport: int) -> bool:
        if self.port is not None and self.port not in (sport, dport):
            return False
        if self._address_texts is not None:
            return saddr in self._address_texts or daddr in self._address_texts
        return True

    def _match_entry(self, e: SockEntry) -> bool:
        return self._match(e.saddr, e.sport, e.daddr, e.dport)

    # -- emitting ------------------------------------------------------------------------------

    def _t(self, mono: float) -> float:
        assert self.t0 is not None
        return round(mono - self.t0, 6)

    def _note(self, key: str, mono: float | None = None, **fmt: Any) -> None:
        if key in self._notes_done:
            return
        self._notes_done.add(key)
        t = self._t(time.monotonic() if mono is None else mono)
        self._push({"t": t, "kind": "note", "host": HOST, "text": NOTES[key].format(**fmt)})

    def _lost(self, line: str) -> None:
        """``CPU:1 [LOST 42 EVENTS]``: the trace buffer overflowed before we read it."""
        match = _LOST.search(line)
        count = int(match.group(1)) if match else 0
        self.lost_events += count
        text = (
            f"the kernel's trace buffer overflowed: {count} state changes were lost "
            "(too many, too fast for this watcher); what follows is incomplete."
        )
        self._push({"t": self._t(time.monotonic()), "kind": "note", "host": HOST, "text": text})

    def _push(self, event: Event) -> None:
        self.log.append(event)
        self._out.append(event)

    def _emit(
        self,
        mono: float,
        src: State,
        dst: State,
        local: str,
        remote: str,
        *,
        cause: str = "kernel",
        rfc: Cause | None = None,
        known: bool = True,
        **extra: Any,
    ) -> Event:
        event: Event = {
            "t": self._t(mono),
            "kind": "state",
            "host": HOST,
            "from": str(src),
            "to": str(dst),
            "cause": cause,
            "conn": f"{local}-{remote}",
            "local": local,
            "remote": remote,
        }
        row = rfc_transition(src, dst, rfc) if known else None
        if row is not None:
            event["rfc_cause"] = str(row.cause)
        elif not known:
            event["rfc_cause"] = None  # several rows fit and the kernel does not say which
        event.update(extra)
        self._push(event)
        return event

    # -- the tracepoint --------------------------------------------------------------------------

    def _on_change(self, ch: KernelStateChange) -> None:
        if not self._match(ch.saddr, ch.sport, ch.daddr, ch.dport):
            return
        old, new = ch.old, ch.new
        syn_key = (ch.family, ch.saddr, ch.daddr, ch.dport)
        if new is State.SYN_SENT and ch.sport == 0:
            self._pending_syn.setdefault(syn_key, deque()).append(ch)
            return
        if old is State.SYN_SENT:
            queue = self._pending_syn.get(syn_key)
            if queue:
                first = queue.popleft()
                if not queue:
                    del self._pending_syn[syn_key]
                self._emit(first.ts, first.old, first.new, ch.local, ch.remote)
        if old is State.LISTEN and new is State.SYN_RCVD:
            self._note("synrcvd", ch.ts)
        if new in (State.FIN_WAIT_1, State.LAST_ACK, State.CLOSED):
            self._marks.setdefault(ch.conn, {})[new] = ch.ts
            if len(self._marks) > _MARKS_KEPT:
                del self._marks[next(iter(self._marks))]
        if new is State.CLOSED and old in (State.FIN_WAIT_1, State.FIN_WAIT_2, State.CLOSING):
            if not self._timewait_handover(ch):
                # no minisock: an RST, a timeout, or a minisock already gone when we looked
                self._emit(ch.ts, old, new, ch.local, ch.remote, known=False)
            return
        self._emit(ch.ts, old, new, ch.local, ch.remote)

    def _timewait_handover(self, ch: KernelStateChange) -> bool:
        """X -> CLOSE of a closing socket: report the minisock it became. True if handled."""
        old = ch.old
        if self._diag is None:
            return False
        try:
            entry = self._diag.find(ch.family, ch.saddr, ch.sport, ch.daddr, ch.dport)
        except DiagError:
            entry = None
        if entry is None or not entry.timewait_minisock:
            where = f"network namespace {self.netns}" if self.netns else "this network namespace"
            self._note("no_tw", ch.ts, old=old, where=where)
            return False
        linux = f"{ch.oldstate} -> TCP_CLOSE: timewait minisock"
        now = time.monotonic()
        entered = now - (TIME_WAIT_LEN - entry.expires_ms / 1000)  # TIME_WAIT restarts the timer
        if entry.state is State.TIME_WAIT and entered <= ch.ts + 0.02:  # straight into TIME_WAIT
            self._note("timewait", ch.ts, old=old)
            rfc = Cause.RCV_FIN if old is State.FIN_WAIT_2 else None
            self._emit(
                ch.ts, old, State.TIME_WAIT, ch.local, ch.remote,
                rfc=rfc, linux=linux, timer=round(entry.expires_ms / 1000, 3),
            )  # fmt: skip
            self._follow(entry, State.TIME_WAIT, now)
            return True
        if entry.state in (State.FIN_WAIT_2, State.TIME_WAIT):
            # An orphan's FIN_WAIT_2 minisock. Read late, it may have entered TIME_WAIT since the
            # tracepoint: the next look (right after the lines read so far, which may hold the
            # peer's FIN) reports and dates that move.
            self._note("orphan", ch.ts)
            if old is not State.FIN_WAIT_2:
                self._emit(ch.ts, old, State.FIN_WAIT_2, ch.local, ch.remote, linux=linux)
            self._follow(entry, State.FIN_WAIT_2, now, seen=ch.ts)
            if entry.state is State.TIME_WAIT:
                self._next_poll = now
            return True
        return False

    def _follow(self, entry: SockEntry, state: State, now: float, *, seen: float | None = None) -> None:
        """Poll sock_diag for this minisock; ``seen``: when it was last known in ``state``."""
        if not self._followed:
            self._next_poll = float("inf")
        followed = self._followed[entry.key] = _Followed(entry, state, now)
        if seen is not None:
            followed.last_seen = seen
        self._next_poll = min(self._next_poll, now + self._follow_interval(state))

    @staticmethod
    def _follow_interval(state: State) -> float:
        # A FIN_WAIT_2 minisock may enter TIME_WAIT any moment: look often. A TIME_WAIT one ends
        # at its timer (or earlier, when a new SYN or a SOCK_DESTROY ends it): look now and then,
        # and at the expected end.
        return _TW_POLL if state is State.FIN_WAIT_2 else _TW_SLOW_POLL

    def _poll_followed(self) -> None:
        assert self._diag is not None
        now = time.monotonic()
        try:
            table = {e.key: e for e in self._diag.dump(TIMEWAIT_STATES) if e.timewait_minisock}
        except DiagError:
            self._next_poll = now + _TW_POLL
            return
        if self.instance is not None:
            # What the tracepoint said before this dump (the peer's FIN, its LAST_ACK's end)
            # dates what the dump shows.
            self._process_lines(self.instance.read_lines(0))
        for key, f in list(self._followed.items()):
            entry = table.get(key)
            if entry is None:
                # Not in the dump: ask for the 4-tuple itself before saying it is gone (a dump
                # walks the hash table while it changes; a new connection may hold the tuple).
                try:
                    found = self._diag.find(*key)
                except DiagError:
                    continue
                if found is not None and found.timewait_minisock:
                    entry = found
                else:
                    del self._followed[key]
                    self._minisock_gone(key, f, now, reopened=found is not None)
                    continue
            if f.state is State.FIN_WAIT_2 and entry.state is State.TIME_WAIT:
                # TIME_WAIT restarts the minisock's timer at TIME_WAIT_LEN: date the move from it
                local, remote = endpoint(key[1], key[2]), endpoint(key[3], key[4])
                entered = now - (TIME_WAIT_LEN - entry.expires_ms / 1000)
                when = self._date_time_wait(entered, f.last_seen, now, peer=f"{remote}-{local}")
                self._emit(
                    when, State.FIN_WAIT_2, State.TIME_WAIT, local, remote, rfc=Cause.RCV_FIN,
                    linux="timewait minisock substate FIN_WAIT2 -> TIME_WAIT",
                    timer=round(entry.expires_ms / 1000, 3),
                )  # fmt: skip
                f.state = State.TIME_WAIT
            f.entry = entry
            f.last_seen = now
            f.expected_end = now + entry.expires_ms / 1000
        next_poll = float("inf")
        for f in self._followed.values():
            due = min(now + self._follow_interval(f.state), f.expected_end + 0.01)
            next_poll = min(next_poll, max(due, now + _TW_POLL))
        self._next_poll = next_poll

    def _date_time_wait(self, entered: float, last_seen: float, now: float, *, peer: str) -> float:
        """When a minisock entered TIME_WAIT: its timer's estimate, kept after we last saw it
        in FIN_WAIT_2 and after the peer's FIN, and before the peer's LAST_ACK ended."""
        marks = self._marks.pop(peer, {})
        fin = max(marks.get(State.FIN_WAIT_1, last_seen), marks.get(State.LAST_ACK, last_seen))
        latest = marks.get(State.CLOSED, now) if State.LAST_ACK in marks else now
        return min(max(entered, last_seen, fin), latest, now)

    def _minisock_gone(self, key: tuple[int, str, int, str, int], f: _Followed, now: float, *, reopened: bool) -> None:
        """A followed minisock left the table: at its timer's end, or early (say how)."""
        local, remote = endpoint(key[1], key[2]), endpoint(key[3], key[4])
        timeout = Cause.TIMEOUT_2MSL if f.state is State.TIME_WAIT else Cause.TIMEOUT_FIN_WAIT_2
        if now >= f.expected_end - 0.5:  # its timer ran out (seen at most one poll later)
            when = min(max(f.expected_end, f.last_seen), now)
            if f.state is State.TIME_WAIT:
                self._note("timewait_end", when)
            self._emit(when, f.state, State.CLOSED, local, remote, rfc=timeout,
                       linux="timewait minisock gone")  # fmt: skip
            return
        left = f"{f.expected_end - now:.1f} s before its timer's end"
        if reopened:  # a new connection took the 4-tuple (RFC 9293 3.10.7.4; RFC 6191)
            self._emit(now, f.state, State.CLOSED, local, remote, rfc=Cause.REOPEN,
                       linux=f"timewait minisock gone {left}: a new SYN reused the 4-tuple")  # fmt: skip
            return
        # An RST (Linux honours it in TIME_WAIT unless tcp_rfc1337=1) or a SOCK_DESTROY (ss -K):
        # the kernel does not say which, so no row of the diagram is claimed.
        self._emit(now, f.state, State.CLOSED, local, remote, known=False,
                   linux=f"timewait minisock gone {left}: an RST or SOCK_DESTROY (ss -K) ended it")  # fmt: skip

    def _resolve_stale_syn(self) -> None:
        """A port-less SYN_SENT whose socket said nothing more for a while: ask sock_diag."""
        if not self._pending_syn:
            return
        now = time.monotonic()
        stale = [k for k, q in self._pending_syn.items() if now - q[0].ts >= _SYN_PORT_WAIT]
        if not stale:
            return
        table: list[SockEntry] = []
        if self._diag is not None:
            try:
                table = [e for e in self._diag.dump(SYN_SENT_STATES) if e.state is State.SYN_SENT]
            except DiagError:
                table = []
        for key in stale:
            queue = self._pending_syn.pop(key)
            family, saddr, daddr, dport = key
            ports = sorted(
                e.sport for e in table
                if (e.family, e.saddr, e.daddr, e.dport) == (family, saddr, daddr, dport)
            )  # fmt: skip
            for ch in queue:
                sport = ports.pop(0) if len(ports) == len(queue) else 0
                self._emit(ch.ts, ch.old, ch.new, endpoint(saddr, sport), endpoint(daddr, dport))

    # -- the fallback: polling the table ----------------------------------------------------------

    def _poll_table(self) -> None:
        assert self._diag is not None
        now = time.monotonic()
        self._next_poll = now + self.poll_interval
        try:
            table = {e.key: e for e in self._diag.dump() if self._match_entry(e)}
        except DiagError:
            return
        cause = "kernel (polled)"
        for key, entry in table.items():
            before = self._table.get(key)
            if before is None:
                src = State.LISTEN if entry.state is State.SYN_RCVD else State.CLOSED
                self._emit(now, src, entry.state, entry.local, entry.remote, cause=cause)
            elif before.state is not entry.state:
                self._emit(now, before.state, entry.state, entry.local, entry.remote, cause=cause)
        for key, before in self._table.items():
            if key not in table:
                self._emit(now, before.state, State.CLOSED, before.local, before.remote,
                           cause=cause)  # fmt: skip
        self._table = table


def sequence(events: list[Event], local: str | None = None, conn: str | None = None) -> list[str]:
    """The states one socket entered, in order (the ``to`` of its state events)."""
    out = []
    for e in events:
        if e.get("kind") != "state":
            continue
        if local is not None and e.get("local") != local:
            continue
        if conn is not None and e.get("conn") != conn:
            continue
        out.append(e["to"])
    return out

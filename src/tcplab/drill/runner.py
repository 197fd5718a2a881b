"""Run a parsed packetdrill-language script against a fresh tcplab host on a virtual clock.

The script plays the remote peer. The runner is its own small driver (no simulated network):
it injects the script's ``<`` segments with ``host.deliver`` at their virtual time, collects what
the host sends with ``host.poll_transmit``, and moves virtual time by calling
``host.handle_timeout`` at the host's deadlines. System calls go to tcplab's BSD-style sockets
(``tcplab.socket``); each call runs as a resumable operation: the host's runtime is the runner,
and a call that has to wait (``runtime.wait_until``) is parked and resumed as virtual time
advances, so a blocking call (``T...E``) returns exactly when the socket call would.

``run_script(script, profile="strict", ...) -> Outcome``.

Conventions (what ``...`` and missing ports stand for):

- tcplab is 198.18.0.2 (IPv6: fd00::2), the script 198.18.0.1 (fd00::1); ``--local_ip`` and
  ``--remote_ip`` change them. ``bind(fd, ..., ...)`` binds port 8080; ``connect(fd, ..., ...)``
  connects to the script's port 8080.
- Each inbound SYN that starts a passive connection comes from a fresh remote port (40001,
  40002, ...). A SYN goes to the current connection instead when that connection was already
  accept()ed, or repeats its ISN (a retransmission). ``sport>dport`` on a line picks the ports.
  A SYN on ports whose connection is gone or in TIME-WAIT starts a new incarnation (new ISNs).
- Script descriptors are labels: ``socket()``/``accept()`` results name the socket tcplab made.
- Every socket call runs to completion or blocks; a call that blocks without ``T...E`` must
  still return within the tolerance of its start time.
- ``%{ }%`` sees the ``tcp_info()`` of the socket last created, accepted or connected (its
  connection lives on after close()), in Linux units (``tcpi_rto`` in microseconds).
- ``profile="portable"``: options compared as a set of meanings (no NOP/EOL, any order), PSH
  and the window not compared.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import ipaddress
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tcplab.drill import ast as A
from tcplab.socket import MSG_DONTWAIT, RecvCall, SendCall, Socket, Until, WouldBlock
from tcplab.tcp.config import Config
from tcplab.tcp.states import LINUX_STATE_NUMBER, State
from tcplab.trace.events import EPOCH, EventLog
from tcplab.wire import MalformedPacket, build_packet, parse_packet
from tcplab.wire.tcp import (
    EOL,
    MSS,
    NOP,
    Flags,
    Sack,
    SackPermitted,
    Segment,
    Timestamps,
    WindowScale,
    flags_str,
    format_options,
    parse_flags,
)

PROFILES = ("strict", "portable")
DEFAULT_TOLERANCE_USECS = 4000
LATE_LIMIT = 2.0  # an expected outbound segment not seen this long after its time: failure
ANY_TIME_LIMIT = 600.0  # how long `*` waits
SERVER_PORT = 8080  # the port `...` stands for in bind() and connect()
FIRST_REMOTE_PORT = 40001  # remote ports of the connections the script opens
LOCAL_NAME = "tcplab"
REMOTE_NAME = "script"

# Linux's numbers for the symbolic constants scripts use.
CONSTANTS: dict[str, int] = {
    "AF_INET": 2,
    "AF_INET6": 10,
    "PF_INET": 2,
    "PF_INET6": 10,
    "AF_UNSPEC": 0,
    "SOCK_STREAM": 1,
    "SOCK_DGRAM": 2,
    "SOCK_NONBLOCK": 0o4000,
    "SOCK_CLOEXEC": 0o2000000,
    "IPPROTO_IP": 0,
    "IPPROTO_TCP": 6,
    "IPPROTO_UDP": 17,
    "IPPROTO_IPV6": 41,
    "SOL_TCP": 6,
    "SOL_SOCKET": 1,
    "SO_REUSEADDR": 2,
    "SO_TYPE": 3,
    "SO_ERROR": 4,
    "SO_SNDBUF": 7,
    "SO_RCVBUF": 8,
    "SO_KEEPALIVE": 9,
    "SO_LINGER": 13,
    "SO_REUSEPORT": 15,
    "SO_RCVLOWAT": 18,
    "SO_SNDLOWAT": 19,
    "SO_RCVTIMEO": 20,
    "SO_SNDTIMEO": 21,
    "TCP_NODELAY": 1,
    "TCP_MAXSEG": 2,
    "TCP_CORK": 3,
    "TCP_KEEPIDLE": 4,
    "TCP_KEEPINTVL": 5,
    "TCP_KEEPCNT": 6,
    "TCP_SYNCNT": 7,
    "TCP_LINGER2": 8,
    "TCP_DEFER_ACCEPT": 9,
    "TCP_WINDOW_CLAMP": 10,
    "TCP_INFO": 11,
    "TCP_QUICKACK": 12,
    "TCP_CONGESTION": 13,
    "TCP_USER_TIMEOUT": 18,
    "TCP_FASTOPEN": 23,
    "TCP_NOTSENT_LOWAT": 25,
    "O_RDONLY": 0,
    "O_WRONLY": 1,
    "O_RDWR": 2,
    "O_NONBLOCK": 0o4000,
    "O_NDELAY": 0o4000,
    "F_GETFD": 1,
    "F_SETFD": 2,
    "F_GETFL": 3,
    "F_SETFL": 4,
    "FD_CLOEXEC": 1,
    "SHUT_RD": 0,
    "SHUT_WR": 1,
    "SHUT_RDWR": 2,
    "FIONREAD": 0x541B,
    "SIOCINQ": 0x541B,
    "SIOCOUTQ": 0x5411,
    "TIOCOUTQ": 0x5411,
    "FIONBIO": 0x5421,
    "MSG_OOB": 1,
    "MSG_PEEK": 2,
    "MSG_DONTWAIT": 0x40,
    "MSG_WAITALL": 0x100,
    "MSG_NOSIGNAL": 0x4000,
    "MSG_MORE": 0x8000,
    "MSG_ZEROCOPY": 0x4000000,
    "POLLIN": 0x1,
    "POLLPRI": 0x2,
    "POLLOUT": 0x4,
    "POLLERR": 0x8,
    "POLLHUP": 0x10,
    "POLLNVAL": 0x20,
    "POLLRDNORM": 0x40,
    "POLLRDBAND": 0x80,
    "POLLWRNORM": 0x100,
    "POLLWRBAND": 0x200,
    "POLLRDHUP": 0x2000,
    "INADDR_ANY": 0,
    "SOMAXCONN": 4096,
}

# %{ }% sees the Linux state numbers (tcp_states.h) under both spellings.
STATE_CONSTANTS: dict[str, int] = {}
for _state, _number in LINUX_STATE_NUMBER.items():
    _name = {"SYN_RCVD": "SYN_RECV", "CLOSED": "CLOSE", "FIN_WAIT_1": "FIN_WAIT1", "FIN_WAIT_2": "FIN_WAIT2"}.get(
        _state.name, _state.name
    )
    for _prefix in ("TCP_", "TCPI_"):
        STATE_CONSTANTS[_prefix + _name] = _number
        STATE_CONSTANTS[_prefix + _state.name] = _number
STATE_CONSTANTS.update({"TCPI_OPT_TIMESTAMPS": 1, "TCPI_OPT_SACK": 2, "TCPI_OPT_WSCALE": 4, "TCPI_OPT_ECN": 8})


# ---- results ------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What became of one script."""

    path: str
    status: str  # "PASS", "FAIL", "SKIP"
    reason: str = ""  # why it failed / was skipped
    line: int | None = None  # the script line that failed
    expected: str | None = None  # that line's text
    actual: str | None = None  # what tcplab did instead
    recent: list[str] = field(default_factory=list)  # the last few events before the failure
    events: list[dict] = field(default_factory=list)  # the whole trace
    duration: float = 0.0  # virtual seconds the script ran

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "reason": self.reason,
            "line": self.line,
            "expected": self.expected,
            "actual": self.actual,
            "recent": self.recent,
            "virtual_seconds": round(self.duration, 6),
        }


class _Fail(Exception):
    def __init__(self, event: A.Event | None, reason: str, actual: str | None = None, upto: int | None = None) -> None:
        super().__init__(reason)
        self.event = event
        self.reason = reason
        self.actual = actual
        self.upto = upto  # the events up to the failure (for "last events")


class _Skip(Exception):
    pass


# ---- resumable system calls -----------------------------------------------------------------------
class _Blocked(Exception):
    """A system call has to wait: park it until ``ready()`` holds or virtual time reaches
    ``deadline``, then make it again (the way the kernel restarts a blocked system call)."""

    def __init__(self, ready: Callable[[], bool], deadline: float | None) -> None:
        super().__init__("blocked")
        self.ready = ready
        self.deadline = deadline


class _Step:
    """The restartable rest of a system call (what a handler returns when the call may block)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn


class _Call:
    """One system call: made at once, and when it blocks, parked and made again as virtual time
    advances -- so a blocking call (``T...E``) returns exactly when the socket call would."""

    def __init__(self, make: Callable[[], Any], event: A.Event, start_base: float) -> None:
        self.make = make
        self.event = event
        self.start_base = start_base  # the base of its time (for E)
        self.step: Callable[[], Any] | None = None
        self.done = False
        self.result: Any = None
        self.exc: BaseException | None = None
        self.ready: Callable[[], bool] | None = None
        self.deadline: float | None = None

    def attempt(self) -> None:
        try:
            if self.step is None:
                out = self.make()
                if not isinstance(out, _Step):
                    self.result, self.done = out, True
                    return
                self.step = out.fn
            self.result = self.step()
            self.done = True
        except _Blocked as blocked:
            self.ready, self.deadline = blocked.ready, blocked.deadline
        except Exception as exc:
            self.exc, self.done = exc, True

    def can_go_on(self, now: float) -> bool:
        if self.deadline is not None and now >= self.deadline:
            return True
        return self.ready is not None and bool(self.ready())


class _Runtime:
    """``host.runtime`` for the drill: virtual time owned by the runner. System calls never wait
    through it: they are parked by the runner (see ``_Call``)."""

    virtual_time = True

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.epoch = EPOCH  # virtual time, like the simulator's

    def now(self) -> float:
        return self.runner.now

    def kick(self) -> None:
        pass  # the runner collects the host's output after every call

    def call_later(self, delay: float, callback: Callable[[], Any]) -> None:
        self.runner.call_later(delay, callback)

    def wait_until(self, predicate: Callable[[], bool], timeout: float | None, what: str = "") -> bool:
        if predicate():
            return True
        raise RuntimeError(f"{what or 'a socket call'} waited outside the drill's call machinery")


# ---- connections the script plays ---------------------------------------------------------------
@dataclass
class _Flow:
    remote_port: int
    local_port: int | None
    remote_isn: int | None = None
    local_isn: int | None = None
    passive: bool = True
    accepted: bool = False


@dataclass
class _Sent:
    t: float
    seg: Segment
    version: int
    src: str
    dst: str
    log_index: int = 0  # its event's place in the log


def _mod(x: int) -> int:
    return x & 0xFFFFFFFF


class Runner:
    def __init__(
        self,
        script: A.Script,
        profile: str = "strict",
        tolerance_usecs: int | None = None,
        strict_segments: bool | None = None,
        config: Config | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
        self.script = script
        self.profile = profile
        opts = script.options
        tol = tolerance_usecs
        if tol is None:
            try:
                tol = int(opts.get("tolerance_usecs") or DEFAULT_TOLERANCE_USECS)
            except ValueError:
                raise _Skip(f"bad --tolerance_usecs={opts.get('tolerance_usecs')}") from None
        self.tolerance = tol / 1e6
        self.strict_segments = strict_segments if strict_segments is not None else "strict_segments" in opts
        ip_version = opts.get("ip_version") or "ipv4"
        if ip_version not in ("ipv4", "ipv6", "ipv4-mapped-ipv6"):
            raise _Skip(f"--ip_version={ip_version} is not supported")
        if ip_version == "ipv4-mapped-ipv6":
            raise _Skip("--ip_version=ipv4-mapped-ipv6 is not supported (tcplab has no dual-stack IPv6 sockets)")
        self.v6 = ip_version == "ipv6"
        self.local_ip = str(ipaddress.ip_address(opts.get("local_ip") or ("fd00::2" if self.v6 else "198.18.0.2")))
        self.remote_ip = str(ipaddress.ip_address(opts.get("remote_ip") or ("fd00::1" if self.v6 else "198.18.0.1")))
        for name in ("mss", "mtu"):
            if opts.get(name):
                raise _Skip(f"--{name} is not supported")
        from tcplab.host import Host

        self.log = EventLog()
        self.host = Host(LOCAL_NAME, [self.local_ip], config or Config(), log=self.log)
        self.runtime = _Runtime(self)
        self.host.runtime = self.runtime
        self.now = 0.0
        self._later: list[tuple[float, Callable[[], Any]]] = []
        self.pending: _Call | None = None
        self.fds: dict[int, Any] = {}
        self.flows: list[_Flow] = []
        self.flow: _Flow | None = None
        self.next_remote_port = FIRST_REMOTE_PORT
        self.sent: list[_Sent] = []  # segments tcplab emitted that no line consumed yet
        self.ts_map: dict[int, int] = {}
        self.zero_payloads = True  # every byte written came from `...` (zeros)
        self.current_sock: Any = None

    # ---- virtual time ---------------------------------------------------------------------------
    def call_later(self, delay: float, callback: Callable[[], Any]) -> None:
        self._later.append((self.now + delay, callback))

    def _collect(self) -> None:
        for raw in self.host.poll_transmit():
            try:
                pkt = parse_packet(raw)
            except MalformedPacket as exc:
                raise _Fail(None, f"tcplab sent a malformed packet: {exc}") from None
            seg = pkt.tcp
            if seg is None:
                continue
            sent = _Sent(self.now, seg, pkt.version, str(pkt.src), str(pkt.dst))
            self.sent.append(sent)
            flow = self._flow_for_local(seg.src_port, seg.dst_port)
            if flow is not None and seg.flags & Flags.SYN and flow.local_isn is None:
                flow.local_isn = seg.seq  # its ISN counted as 0 until now
            self._log_segment(LOCAL_NAME, REMOTE_NAME, seg, flow, outbound=True)
            sent.log_index = len(self.log.events)

    def _next_time(self) -> float | None:
        times = []
        d = self.host.next_deadline()
        if d is not None:
            times.append(d)
        if self._later:
            times.append(min(t for t, _ in self._later))
        if self.pending is not None and self.pending.deadline is not None:
            times.append(self.pending.deadline)
        return min(times) if times else None

    def _after_change(self) -> None:
        """After a packet, timer or call: collect output, resume a parked call that can go on."""
        self._collect()
        call = self.pending
        if call is not None and not call.done and call.can_go_on(self.now):
            call.attempt()
            self._collect()
        if call is not None and call.done:
            self.pending = None
            self._finish_blocking(call)

    def _advance_to(self, t: float, stop: Callable[[], bool] | None = None) -> bool:
        """Run timers up to virtual time ``t``. With ``stop``, return True as soon as
        ``stop()`` holds (time then is when it happened)."""
        if stop is not None and stop():
            return True
        while True:
            nxt = self._next_time()
            if nxt is None or nxt > t:
                break
            if nxt > self.now:
                self.now = nxt
            if self._later:
                due = [cb for when, cb in self._later if when <= self.now]
                self._later = [(w, cb) for w, cb in self._later if w > self.now]
                for cb in due:
                    cb()
            self.host.handle_timeout(self.now)
            self._after_change()
            if stop is not None and stop():
                return True
        if t > self.now:
            self.now = t
        self._after_change()
        return stop is not None and stop()

    # ---- flows ----------------------------------------------------------------------------------
    def _flow_for_local(self, sport: int, dport: int) -> _Flow | None:
        for flow in self.flows:
            if flow.remote_port == dport and flow.local_port in (sport, None):
                if flow.local_port is None:
                    flow.local_port = sport
                return flow
        return None

    def _new_flow(self, remote_port: int, local_port: int | None, passive: bool) -> _Flow:
        flow = _Flow(remote_port, local_port, passive=passive)
        self.flows.append(flow)
        self.flow = flow
        return flow

    def _flow_is_over(self, flow: _Flow) -> bool:
        """No connection on the flow's ports any more, or only one in TIME-WAIT."""
        if flow.local_port is None:
            return False
        ep = self.host.conns.get((self.local_ip, flow.local_port, self.remote_ip, flow.remote_port))
        return ep is None or ep.conn.state in (State.TIME_WAIT, State.CLOSED)

    def _listening_port(self) -> int | None:
        for listener in self.host.listeners.values():
            return listener.port
        return None

    def _inbound_flow(self, ev: A.Event, pkt: A.Packet, flags: Flags) -> _Flow:
        if pkt.sport is not None and pkt.dport is not None:
            for known in self.flows:
                if known.remote_port == pkt.sport and known.local_port == pkt.dport:
                    self.flow = known
                    return known
            return self._new_flow(pkt.sport, pkt.dport, passive=True)
        flow = self.flow
        pure_syn = flags & Flags.SYN and not flags & Flags.ACK
        if pure_syn:
            port = self._listening_port()
            fresh = flow is None or (
                flow.passive
                and not flow.accepted
                and port is not None
                and flow.remote_isn is not None
                and flow.remote_isn != pkt.start
            )
            if fresh:
                if port is None:
                    port = SERVER_PORT
                flow = self._new_flow(self.next_remote_port, port, passive=True)
                self.next_remote_port += 1
        if flow is None:
            raise _Fail(
                ev, "an inbound segment before any connection exists (no listener was opened and no connect() was made)"
            )
        return flow

    # ---- the event log ------------------------------------------------------------------------
    def _log_segment(self, src: str, dst: str, seg: Segment, flow: _Flow | None, outbound: bool) -> None:
        if flow is not None:
            own = flow.local_isn if outbound else flow.remote_isn
            other = flow.remote_isn if outbound else flow.local_isn
        else:
            own = other = None
        rel_seq = _mod(seg.seq - (own or 0)) if own is not None else seg.seq
        rel_ack = _mod(seg.ack - (other or 0)) if other is not None else seg.ack
        self.log.record(
            "segment",
            self.now,
            src=src,
            dst=dst,
            flags=flags_str(seg.flags),
            seq=rel_seq,
            ack=rel_ack if seg.flags & Flags.ACK else 0,
            len=len(seg.payload),
            win=seg.window,
            fate="delivered",
            abs_seq=seg.seq,
            abs_ack=seg.ack,
            options=format_options(seg.options),
            t_arrive=self.now,
        )

    # ---- running --------------------------------------------------------------------------------
    def run(self) -> Outcome:
        script = self.script
        outcome = Outcome(script.path, "PASS")
        upto = None
        try:
            try:
                if script.init_command:
                    self._shell(None, script.init_command, init=True)
                self._run_events()
                if self.pending is not None:
                    end, tol = self._expected_end(self.pending)
                    self._advance_to(max(self.now, end + tol + LATE_LIMIT), stop=lambda: self.pending is None)
                if self.pending is not None:
                    call = self.pending
                    raise _Fail(call.event, "the blocking call never returned")
            finally:
                self.pending = None
        except _Fail as exc:
            outcome.status = "FAIL"
            outcome.reason = exc.reason
            outcome.actual = exc.actual
            upto = exc.upto
            if exc.event is not None:
                outcome.line = exc.event.line
                outcome.expected = self._line_text(exc.event.line)
        except _Skip as exc:
            outcome.status = "SKIP"
            outcome.reason = str(exc)
        except Exception as exc:  # a bug in the interpreter: one line, not a traceback
            outcome.status = "FAIL"
            outcome.reason = f"drill interpreter error: {type(exc).__name__}: {exc}"
        if self.host.errors and outcome.status == "PASS":
            outcome.status = "FAIL"
            outcome.reason = "tcplab raised an exception: " + self.host.errors[0].strip().splitlines()[-1]
        outcome.events = list(self.log.events)
        before = outcome.events[:upto] if upto is not None else outcome.events
        outcome.recent = [describe(e) for e in before[-6:]]
        outcome.duration = self.now
        return outcome

    def _line_text(self, line: int) -> str:
        lines = self.script.lines
        return lines[line - 1].strip() if 0 < line <= len(lines) else ""

    def _run_events(self) -> None:
        base = 0.0  # when the previous event actually completed
        prev_script = 0.0  # the previous event's script time
        for ev in self.script.events:
            t = ev.time
            body = ev.body
            if t.kind == "abs":
                when = t.usecs / 1e6
            elif t.kind == "rel":
                when = base + t.usecs / 1e6
            else:
                when = None
            if isinstance(body, A.Packet) and body.direction == ">":
                done, script_t = self._expect(ev, body, when, base, prev_script)
                base = done
                prev_script = script_t
                continue
            assert when is not None
            if when < self.now - 1e-9:
                if t.kind == "abs" and when < self.now - self.tolerance:
                    raise _Fail(ev, f"the script's time {when:.6f} is already past (now {self.now:.6f})")
                when = self.now
            self._advance_to(when)
            if isinstance(body, A.Packet):
                self._inject(ev, body)
            elif isinstance(body, A.Syscall):
                self._syscall(ev, body, when)
            elif isinstance(body, A.Shell):
                self._shell(ev, body.command)
            elif isinstance(body, A.Python):
                self._python(ev, body.code)
            base = when
            prev_script = when

    # ---- inbound ------------------------------------------------------------------------------
    def _inject(self, ev: A.Event, pkt: A.Packet) -> None:
        if pkt.ecn:
            raise _Skip(f"line {ev.line}: ECN marks ([{pkt.ecn}]) are not supported")
        if pkt.ip_info:
            raise _Skip(f"line {ev.line}: IP header settings ({pkt.ip_info}) are not supported")
        flags = parse_flags(pkt.flags)
        flow = self._inbound_flow(ev, pkt, flags)
        if flags & Flags.SYN:
            seq = pkt.start
            if flow.remote_isn is None:
                flow.remote_isn = pkt.start
            elif not flags & Flags.ACK and self._flow_is_over(flow):
                # a new incarnation on the same ports (after TIME-WAIT or a reset)
                flow.remote_isn = pkt.start
                flow.local_isn = None
                flow.accepted = False
        else:
            seq = _mod((flow.remote_isn or 0) + pkt.start)
        ack = _mod((flow.local_isn or 0) + pkt.ack) if pkt.ack is not None else 0
        options = []
        for opt in pkt.options or ():
            options.append(self._wire_option(ev, opt, flow))
        local_port = flow.local_port if flow.local_port is not None else SERVER_PORT
        seg = Segment(
            flow.remote_port, local_port, seq, ack, flags, pkt.win or 0, pkt.urg or 0, tuple(options), bytes(pkt.length)
        )
        raw = build_packet(self.remote_ip, self.local_ip, seg)
        self._log_segment(REMOTE_NAME, LOCAL_NAME, seg, flow, outbound=False)
        self.host.deliver(raw, self.now)
        self._after_change()

    def _wire_option(self, ev: A.Event, opt: A.PacketOption, flow: _Flow) -> Any:
        if isinstance(opt, A.OptNop):
            return NOP()
        if isinstance(opt, A.OptEol):
            return EOL()
        if isinstance(opt, A.OptMss):
            return MSS(opt.value)
        if isinstance(opt, A.OptWscale):
            return WindowScale(opt.shift)
        if isinstance(opt, A.OptSackOK):
            return SackPermitted()
        if isinstance(opt, A.OptSack):
            base = flow.local_isn or 0
            return Sack(tuple((_mod(base + a), _mod(base + b)) for a, b in opt.blocks))
        if isinstance(opt, A.OptTimestamp):
            return Timestamps(opt.val, self.ts_map.get(opt.ecr, opt.ecr))
        raise _Skip(f"line {ev.line}: TCP option '{opt.name}' is not supported")

    # ---- outbound -----------------------------------------------------------------------------
    def _expect(
        self, ev: A.Event, pkt: A.Packet, when: float | None, base: float, prev_script: float
    ) -> tuple[float, float]:
        t = ev.time
        if t.kind == "any":
            lo, hi = float("-inf"), float("inf")
            limit = self.now + ANY_TIME_LIMIT
            script_t = self.now
        elif t.kind == "range":
            start = (base if t.relative else 0.0) + t.usecs / 1e6
            end = (base if t.end_relative else 0.0) + (t.end_usecs or 0) / 1e6
            lo, hi = start - self.tolerance, end + self.tolerance
            limit = max(hi, end) + LATE_LIMIT
            script_t = start
        else:
            assert when is not None
            tol = max(self.tolerance, 0.125 * max(0.0, when - prev_script))
            lo, hi = when - tol, when + tol
            limit = max(hi, when + LATE_LIMIT)
            script_t = when
        if not self.sent:
            self._advance_to(max(limit, self.now), stop=lambda: bool(self.sent))
        if not self.sent:
            raise _Fail(ev, "tcplab sent nothing", f"no segment by {limit:.6f} (script time {script_t:.6f})")
        first = self.sent[0]
        actual = self._format_actual(first)
        if first.t < lo:
            raise _Fail(
                ev,
                f"segment too early: sent at {first.t:.6f}, expected {self._window_text(lo, hi)}",
                actual,
                first.log_index,
            )
        try:
            group = self._match(ev, pkt)
        except _Fail as exc:
            exc.upto = first.log_index
            raise
        if first.t > hi:
            raise _Fail(
                ev,
                f"segment too late: sent at {first.t:.6f}, expected {self._window_text(lo, hi)}",
                actual,
                first.log_index,
            )
        del self.sent[:group]
        return first.t, script_t

    @staticmethod
    def _window_text(lo: float, hi: float) -> str:
        return f"between {lo:.6f} and {hi:.6f}"

    def _format_actual(self, sent: _Sent) -> str:
        seg = sent.seg
        flow = self._flow_for_local(seg.src_port, seg.dst_port)
        lisn = flow.local_isn if flow and flow.local_isn is not None else None
        risn = flow.remote_isn if flow and flow.remote_isn is not None else None
        s = _mod(seg.seq - lisn) if lisn is not None else seg.seq
        seq_text = f"{s}:{_mod(s + len(seg.payload))}"
        text = f"{sent.t:.6f} > {flags_str(seg.flags)} {seq_text}({len(seg.payload)})"
        if seg.flags & Flags.ACK:
            a = _mod(seg.ack - risn) if risn is not None else seg.ack
            text += f" ack {a}"
        text += f" win {seg.window}"
        if seg.urgent:
            text += f" urg {seg.urgent}"
        if seg.options:
            text += " <" + self._options_text(seg.options, risn) + ">"
        return text

    @staticmethod
    def _options_text(options: Any, risn: int | None) -> str:
        parts = []
        for opt in options:
            if type(opt) is Sack:
                base = risn or 0
                parts.append("sack " + " ".join(f"{_mod(a - base)}:{_mod(b - base)}" for a, b in opt.blocks))
            else:
                parts.append(format_options((opt,)))
        return ",".join(parts)

    def _match(self, ev: A.Event, pkt: A.Packet) -> int:
        """Compare the first unconsumed segment(s) with ``pkt``; the number of segments used."""
        first = self.sent[0]
        seg = first.seg
        actual = self._format_actual(first)
        flow = self.flow
        found = self._flow_for_local(seg.src_port, seg.dst_port)
        if pkt.sport is not None and pkt.dport is not None:
            if (seg.src_port, seg.dst_port) != (pkt.dport, pkt.sport) and (seg.src_port, seg.dst_port) != (
                pkt.sport,
                pkt.dport,
            ):
                raise _Fail(ev, f"wrong ports: {seg.src_port}>{seg.dst_port}", actual)
            flow = found
        elif found is not None:
            flow = found
        if flow is None or flow is not found:
            raise _Fail(ev, f"segment for another connection ({seg.src_port}>{seg.dst_port})", actual)
        if (first.version == 6) != self.v6:
            raise _Fail(ev, f"wrong IP version: IPv{first.version}", actual)

        want_flags = parse_flags(pkt.flags)
        got_flags = seg.flags
        if self.profile == "portable":
            want_flags &= ~Flags.PSH
            got_flags &= ~Flags.PSH
        if want_flags & Flags.SYN and got_flags == want_flags:
            flow.local_isn = _mod(seg.seq - pkt.start)
        groups = 1
        length = len(seg.payload)
        # several segments for one line: PSH may sit on the last one only
        if got_flags != want_flags and not (
            self._may_split(pkt, seg) and (got_flags | Flags.PSH) == (want_flags | Flags.PSH)
        ):
            raise _Fail(ev, f"wrong flags: {flags_str(seg.flags)}, expected {pkt.flags}", actual)
        lisn = flow.local_isn or 0
        want_seq = _mod(lisn + pkt.start)
        if seg.seq != want_seq:
            rel = _mod(seg.seq - lisn)
            raise _Fail(ev, f"wrong sequence number: {rel}, expected {pkt.start}", actual)
        if pkt.ack is not None:
            risn = flow.remote_isn or 0
            want_ack = _mod(risn + pkt.ack)
            if seg.ack != want_ack:
                raise _Fail(ev, f"wrong ack: {_mod(seg.ack - risn)}, expected {pkt.ack}", actual)
        if pkt.win is not None and self.profile == "strict" and seg.window != pkt.win:
            raise _Fail(ev, f"wrong window: {seg.window}, expected {pkt.win}", actual)
        if pkt.urg is not None and seg.urgent != pkt.urg:
            raise _Fail(ev, f"wrong urgent pointer: {seg.urgent}, expected {pkt.urg}", actual)
        if not pkt.any_options:
            problem = self._compare_options(pkt.options or (), seg.options, flow)
            if problem:
                raise _Fail(ev, problem, actual)
        if length != pkt.length:
            if length < pkt.length and self._may_split(pkt, seg):
                groups, length = self._gather(pkt, want_flags)
            if length != pkt.length:
                raise _Fail(ev, f"wrong payload length: {length}, expected {pkt.length}", actual)
        elif got_flags != want_flags:
            raise _Fail(ev, f"wrong flags: {flags_str(seg.flags)}, expected {pkt.flags}", actual)
        if self.zero_payloads:
            for sent in self.sent[:groups]:
                if any(sent.seg.payload):
                    raise _Fail(ev, "wrong payload bytes (expected zeros)", actual)
        for opt in seg.options:
            if type(opt) is Timestamps:
                ts = self._expected_ts(pkt)
                if ts is not None:
                    self.ts_map[ts.val] = opt.val
        return groups

    def _may_split(self, pkt: A.Packet, seg: Segment) -> bool:
        return not self.strict_segments and 0 < len(seg.payload) < pkt.length

    def _gather(self, pkt: A.Packet, want_flags: Flags) -> tuple[int, int]:
        """Several contiguous segments, identical headers, all but the last of one size."""
        first = self.sent[0].seg
        size = len(first.payload)
        total, count = size, 1
        nxt = _mod(first.seq + size)
        last_len = size
        for sent in self.sent[1:]:
            seg = sent.seg
            if total >= pkt.length or last_len != size:
                break
            if (
                seg.seq != nxt
                or seg.ack != first.ack
                or seg.window != first.window
                or (seg.src_port, seg.dst_port) != (first.src_port, first.dst_port)
            ):
                break
            if [type(o) for o in seg.options] != [type(o) for o in first.options]:
                break
            if (seg.flags | Flags.PSH) != (want_flags | Flags.PSH):
                break
            last_len = len(seg.payload)
            total += last_len
            count += 1
            nxt = _mod(seg.seq + last_len)
        last_flags = self.sent[count - 1].seg.flags
        if self.profile == "strict" and (last_flags & Flags.PSH) != (want_flags & Flags.PSH):
            return 1, size
        return count, total

    @staticmethod
    def _expected_ts(pkt: A.Packet) -> A.OptTimestamp | None:
        for opt in pkt.options or ():
            if isinstance(opt, A.OptTimestamp):
                return opt
        return None

    def _compare_options(self, want: tuple[A.PacketOption, ...], got: tuple[Any, ...], flow: _Flow) -> str | None:
        risn = flow.remote_isn or 0

        def norm_want(opt: A.PacketOption) -> tuple:
            if isinstance(opt, A.OptNop):
                return ("nop",)
            if isinstance(opt, A.OptEol):
                return ("eol",)
            if isinstance(opt, A.OptMss):
                return ("mss", opt.value)
            if isinstance(opt, A.OptWscale):
                return ("wscale", opt.shift)
            if isinstance(opt, A.OptSackOK):
                return ("sackOK",)
            if isinstance(opt, A.OptSack):
                return ("sack", tuple((_mod(risn + a), _mod(risn + b)) for a, b in opt.blocks))
            if isinstance(opt, A.OptTimestamp):
                return ("TS",)
            raise _Skip(f"TCP option '{opt.name}' is not supported")

        def norm_got(opt: Any) -> tuple:
            t = type(opt)
            if t is NOP:
                return ("nop",)
            if t is EOL:
                return ("eol",)
            if t is MSS:
                return ("mss", opt.value)
            if t is WindowScale:
                return ("wscale", opt.shift)
            if t is SackPermitted:
                return ("sackOK",)
            if t is Sack:
                return ("sack", tuple(opt.blocks))
            if t is Timestamps:
                return ("TS",)
            return ("kind", opt.kind)

        w = [norm_want(o) for o in want]
        g = [norm_got(o) for o in got]
        if self.profile == "portable":
            w = sorted(x for x in w if x[0] not in ("nop", "eol"))
            g = sorted(x for x in g if x[0] not in ("nop", "eol"))
        else:
            while w and w[-1] == ("eol",):
                w.pop()
            while g and g[-1] == ("eol",):
                g.pop()
        if w != g:
            got_text = self._options_text(got, flow.remote_isn) or "none"
            want_text = ",".join(" ".join(str(p) for p in x) for x in w) or "none"
            return f"wrong options: <{got_text}>, expected <{want_text}>"
        return None

    # ---- system calls -----------------------------------------------------------------------
    def _value(self, ev: A.Event, expr: A.Expr) -> Any:
        if isinstance(expr, A.Int):
            return expr.value
        if isinstance(expr, A.Symbol):
            if expr.name in CONSTANTS:
                return CONSTANTS[expr.name]
            if expr.name in ("NULL",):
                return 0
            raise _Skip(f"line {ev.line}: unknown constant {expr.name}")
        if isinstance(expr, A.BitOr):
            v = 0
            for term in expr.terms:
                v |= int(self._value(ev, term))
            return v
        if isinstance(expr, A.String):
            return expr.value
        if isinstance(expr, A.Array):
            return [self._value(ev, x) for x in expr.items]
        if isinstance(expr, A.Struct):
            return {k: self._value(ev, v) for k, v in expr.fields}
        return ...

    def _sock(self, ev: A.Event, args: tuple[A.Expr, ...], i: int = 0) -> Any:
        if len(args) <= i:
            raise _Fail(ev, "missing file descriptor argument")
        fd = self._value(ev, args[i])
        if not isinstance(fd, int):
            raise _Fail(ev, f"bad file descriptor argument {fd!r}")
        return fd, self.fds.get(fd)

    def _syscall(self, ev: A.Event, call: A.Syscall, when: float) -> None:
        if self.pending is not None and ev.time.blocking:
            raise _Fail(ev, "a blocking call is already in flight (only one at a time)")
        fn = self._syscall_fn(ev, call)
        job = _Call(fn, ev, when)
        job.attempt()
        self._collect()
        if job.done:
            if ev.time.blocking:
                self._check_end_time(job, self.now)
            self._check_result(ev, call, job)
            self._after_change()
            return
        if self.pending is not None:
            raise _Fail(ev, "the call blocked while another blocking call was in flight")
        self.pending = job

    def _finish_blocking(self, job: _Call) -> None:
        self._check_end_time(job, self.now)
        self._check_result(job.event, job.event.body, job)  # type: ignore[arg-type]

    def _expected_end(self, job: _Call) -> tuple[float, float]:
        """When a call should return (E of ``T...E``, else at once) and the tolerance."""
        time = job.event.time
        if time.blocking and time.end_usecs is not None:
            base = job.start_base - time.usecs / 1e6 if time.relative else 0.0
            end = base + time.end_usecs / 1e6
            return end, max(self.tolerance, 0.125 * max(0.0, end - job.start_base))
        return job.start_base, self.tolerance

    def _check_end_time(self, job: _Call, t: float) -> None:
        ev = job.event
        end, tol = self._expected_end(job)
        if abs(t - end) > tol + 1e-9:
            what = "late" if t > end else "early"
            raise _Fail(
                ev,
                f"the call returned {what}: at {t:.6f}, expected {end:.6f} (tolerance {tol * 1e6:.0f} us)",
                f"returned at {t:.6f}",
            )

    def _check_result(self, ev: A.Event, call: A.Syscall, job: _Call) -> None:
        exc = job.exc
        if isinstance(exc, _Skip | _Fail):
            if isinstance(exc, _Fail) and exc.event is None:
                exc.event = ev
            raise exc
        if exc is not None and not isinstance(exc, OSError):
            raise _Fail(ev, f"the call raised {type(exc).__name__}: {exc}", f"{type(exc).__name__}: {exc}")
        expected = call.result
        want = self._value(ev, expected) if not isinstance(expected, A.Ellipsis_) else None
        if exc is None and call.name in ("socket", "accept", "accept4"):
            if isinstance(want, int) and want >= 0:
                self.fds[want] = job.result[1]
                return
            raise _Fail(
                ev,
                f"{call.name}() returned a descriptor, expected {want}" + (f" {call.errno}" if call.errno else ""),
                "a descriptor",
            )
        post = None
        if exc is not None:
            assert isinstance(exc, OSError)
            code = exc.errno or _errno.EIO
            got, got_errno = -1, code
        else:
            got, got_errno = job.result, None
            if isinstance(got, tuple):
                got, post = got
        got_text = (
            str(got)
            if got_errno is None
            else f"-1 {_errno.errorcode.get(got_errno, got_errno)} ({_strerror(got_errno)})"
        )
        if want is not None and got != want:
            raise _Fail(
                ev,
                f"{call.name}() returned {got_text}, expected {want}" + (f" {call.errno}" if call.errno else ""),
                got_text,
            )
        if want == -1 or call.errno:
            if got_errno is None:
                raise _Fail(ev, f"{call.name}() succeeded ({got}), expected {call.errno}", got_text)
            want_code = getattr(_errno, call.errno or "", None)
            if call.errno and want_code != got_errno:
                raise _Fail(ev, f"{call.name}() failed with {got_text}, expected {call.errno}", got_text)
        if got_errno is None and post is not None:
            post()

    def _syscall_fn(self, ev: A.Event, call: A.Syscall) -> Callable[[], Any]:
        name = call.name
        args = call.args
        handler = getattr(self, f"_sys_{name}", None)
        if handler is None:
            raise _Skip(f"line {ev.line}: system call {name}() is not supported")
        return lambda: handler(ev, args)

    # Each _sys_ function returns the result (or (result, check) where check() runs after the
    # result matched), raises OSError, or -- for a call that may block -- returns a _Step, the
    # restartable rest of the call (see _op).
    def _op(self, sock: Socket, call: Callable[[], Any], dontwait: bool = False) -> Any:
        """Make a socket core call: a non-blocking socket (or MSG_DONTWAIT) gets its EAGAIN /
        EINPROGRESS; on a blocking one the call is parked until what it waits for can hold."""
        try:
            return call()
        except WouldBlock as wb:
            if dontwait or not sock.getblocking():
                raise
            core, until, amount = sock.core, wb.until, wb.amount
            raise _Blocked(lambda: core.ready(until, amount), wb.deadline) from None

    def _sys_socket(self, ev: A.Event, args: tuple) -> Any:
        family = CONSTANTS["AF_INET6"] if self.v6 else CONSTANTS["AF_INET"]
        if args and not isinstance(args[0], A.Ellipsis_):
            family = self._value(ev, args[0])
        stype = self._value(ev, args[1]) if len(args) > 1 else CONSTANTS["SOCK_STREAM"]
        import socket as _pysocket

        py_family = _pysocket.AF_INET6 if family == CONSTANTS["AF_INET6"] else _pysocket.AF_INET
        if family not in (CONSTANTS["AF_INET"], CONSTANTS["AF_INET6"]):
            raise OSError(_errno.EAFNOSUPPORT, "address family not supported")
        if (stype & 0xF) != CONSTANTS["SOCK_STREAM"]:
            raise _Skip(f"line {ev.line}: only SOCK_STREAM sockets are supported")
        sock = Socket(self.host, py_family, _pysocket.SOCK_STREAM)
        sock.setblocking(not stype & CONSTANTS["SOCK_NONBLOCK"])
        self.current_sock = sock
        return (0, sock)

    def _need(self, ev: A.Event, args: tuple, i: int = 0) -> Any:
        _fd, sock = self._sock(ev, args, i)
        if sock is None:
            raise OSError(_errno.EBADF, "bad file descriptor")
        return sock

    def _sys_bind(self, ev: A.Event, args: tuple) -> int:
        sock = self._need(ev, args)
        addr = args[1] if len(args) > 1 else A.Ellipsis_()
        if not isinstance(addr, A.Ellipsis_):
            raise _Skip(f"line {ev.line}: bind() takes only '...' as its address here")
        sock.bind((self.local_ip, SERVER_PORT))
        return 0

    def _sys_listen(self, ev: A.Event, args: tuple) -> int:
        sock = self._need(ev, args)
        backlog = self._value(ev, args[1]) if len(args) > 1 else 128
        sock.listen(backlog)
        return 0

    def _sys_accept(self, ev: A.Event, args: tuple) -> Any:
        sock = self._need(ev, args)
        return _Step(lambda: self._accepted(Socket.from_core(self._op(sock, sock.core.accept)[0])))

    def _accepted(self, new: Socket) -> Any:
        flow = None
        port = new.getpeername()[1]
        for f in self.flows:
            if f.remote_port == port:
                flow = f
        if flow is not None:
            flow.accepted = True
            self.flow = flow
        self.current_sock = new
        return (0, new)

    _sys_accept4 = _sys_accept

    def _sys_connect(self, ev: A.Event, args: tuple) -> Any:
        sock = self._need(ev, args)
        addr = args[1] if len(args) > 1 else A.Ellipsis_()
        if not isinstance(addr, A.Ellipsis_):
            raise _Skip(f"line {ev.line}: connect() takes only '...' as its address here")
        self.current_sock = sock
        flow = None
        for f in self.flows:
            if getattr(f, "sock", None) is sock:
                flow = f
        if flow is None:
            flow = self._new_flow(SERVER_PORT, None, passive=False)
            flow.sock = sock  # type: ignore[attr-defined]
        self.flow = flow
        core = sock.core
        remote = (self.remote_ip, SERVER_PORT)

        def connect() -> int:
            try:
                self._op(sock, lambda: core.connect(remote))
            finally:
                with contextlib.suppress(OSError):
                    flow.local_port = sock.getsockname()[1] or flow.local_port
            return 0

        return _Step(connect)

    def _buffer(self, ev: A.Event, expr: A.Expr, length: int) -> bytes:
        if isinstance(expr, A.String):
            self.zero_payloads = False
            return expr.value.encode("latin-1")[:length].ljust(length, b"\0")
        return bytes(length)

    def _sending(self, sock: Socket, data: bytes, flags: int = 0) -> _Step:
        """send(): a blocking socket queues every byte (Linux), a non-blocking one what fits."""
        dontwait = bool(flags & MSG_DONTWAIT)
        if dontwait or not sock.getblocking():
            return _Step(lambda: self._op(sock, lambda: sock.core.send(data, flags), dontwait))
        call = SendCall(sock.core, data, flags)
        return _Step(lambda: self._op(sock, call))

    def _receiving(self, sock: Socket, length: int, flags: int = 0) -> _Step:
        """recv(): the number of bytes read (a blocking socket waits for some)."""
        dontwait = bool(flags & MSG_DONTWAIT)
        if dontwait or not sock.getblocking():
            return _Step(lambda: len(self._op(sock, lambda: sock.core.recv(length, flags), dontwait)))
        call = RecvCall(sock.core, length, flags)
        return _Step(lambda: len(self._op(sock, call)))

    def _sys_write(self, ev: A.Event, args: tuple) -> Any:
        sock = self._need(ev, args)
        length = self._value(ev, args[2]) if len(args) > 2 else 0
        return self._sending(sock, self._buffer(ev, args[1], int(length)))

    def _sys_send(self, ev: A.Event, args: tuple) -> Any:
        flags = self._value(ev, args[3]) if len(args) > 3 else 0
        if flags & ~(CONSTANTS["MSG_NOSIGNAL"] | CONSTANTS["MSG_DONTWAIT"]):
            raise _Skip(f"line {ev.line}: send() flags {flags:#x} are not supported")
        sock = self._need(ev, args)
        length = int(self._value(ev, args[2]))
        return self._sending(sock, self._buffer(ev, args[1], length), flags)

    _sys_sendto = _sys_send

    def _iov_total(self, ev: A.Event, iov) -> int:
        """The sum of the ``iov_len`` fields of an ``[{iov_base=..., iov_len=N}, ...]`` argument."""
        total = 0
        if isinstance(iov, A.Array):
            for item in iov.items:
                if isinstance(item, A.Struct):
                    n = item.get("iov_len")
                    total += int(self._value(ev, n)) if n is not None else 0
        return total

    def _sys_writev(self, ev: A.Event, args: tuple) -> Any:
        sock = self._need(ev, args)
        total = self._iov_total(ev, args[1] if len(args) > 1 else None)
        return self._sending(sock, bytes(total))

    def _sys_read(self, ev: A.Event, args: tuple) -> Any:
        sock = self._need(ev, args)
        length = int(self._value(ev, args[2])) if len(args) > 2 else 0
        return self._receiving(sock, length)

    def _sys_recv(self, ev: A.Event, args: tuple) -> Any:
        flags = self._value(ev, args[3]) if len(args) > 3 else 0
        sock = self._need(ev, args)
        length = int(self._value(ev, args[2]))
        if flags & CONSTANTS["MSG_PEEK"]:
            raise _Skip(f"line {ev.line}: recv(MSG_PEEK) is not supported")
        if flags & ~CONSTANTS["MSG_DONTWAIT"]:
            raise _Skip(f"line {ev.line}: recv() flags {flags:#x} are not supported")
        return self._receiving(sock, length, flags)

    _sys_recvfrom = _sys_recv

    def _sys_readv(self, ev: A.Event, args: tuple) -> Any:
        sock = self._need(ev, args)
        total = self._iov_total(ev, args[1] if len(args) > 1 else None)
        return self._receiving(sock, total)

    def _sys_close(self, ev: A.Event, args: tuple) -> Any:
        fd, sock = self._sock(ev, args)
        if sock is None:
            raise OSError(_errno.EBADF, "bad file descriptor")
        del self.fds[fd]
        core = sock.core

        def close() -> int:
            # SO_LINGER {1, n} waits for the FIN's ACK even with O_NONBLOCK (Linux inet_release).
            try:
                core.close()
            except WouldBlock as wb:
                raise _Blocked(lambda: core.ready(Until.DRAINED), wb.deadline) from None
            return 0

        return _Step(close)

    def _sys_shutdown(self, ev: A.Event, args: tuple) -> int:
        sock = self._need(ev, args)
        sock.shutdown(int(self._value(ev, args[1])))
        return 0

    def _sys_setsockopt(self, ev: A.Event, args: tuple) -> int:
        sock = self._need(ev, args)
        level = self._value(ev, args[1])
        name = self._value(ev, args[2])
        value = self._value(ev, args[3]) if len(args) > 3 else 0
        if isinstance(value, list):
            value = value[0] if value else 0
        if isinstance(value, dict):
            if "onoff" in value or "l_onoff" in value:
                value = (value.get("onoff", value.get("l_onoff", 0)), value.get("linger", value.get("l_linger", 0)))
            else:
                raise _Skip(f"line {ev.line}: setsockopt() with this struct is not supported")
        if isinstance(value, str):
            raise _Skip(f"line {ev.line}: setsockopt() with a string is not supported")
        try:
            sock.setsockopt(level, name, value)
        except OSError as exc:
            if exc.errno == _errno.ENOPROTOOPT:
                raise _Skip(f"line {ev.line}: socket option {_expr_text(args[2])} is not supported") from None
            raise
        return 0

    def _sys_getsockopt(self, ev: A.Event, args: tuple) -> Any:
        sock = self._need(ev, args)
        level = self._value(ev, args[1])
        name = self._value(ev, args[2])
        want = args[3] if len(args) > 3 else A.Ellipsis_()
        if name == CONSTANTS["SO_LINGER"] and level == CONSTANTS["SOL_SOCKET"]:
            import struct

            got = struct.unpack("ii", sock.getsockopt(level, name, 8))
            got_val: Any = {"onoff": got[0], "linger": got[1]}
        else:
            try:
                got_val = sock.getsockopt(level, name)
            except OSError as exc:
                if exc.errno == _errno.ENOPROTOOPT:
                    raise _Skip(f"line {ev.line}: socket option {_expr_text(args[2])} is not supported") from None
                raise

        def check() -> None:
            expected = self._value(ev, want)
            if isinstance(expected, list):
                expected = expected[0] if expected else None
            if isinstance(expected, dict) and isinstance(got_val, dict):
                expected = {k.replace("l_", ""): v for k, v in expected.items()}
            if expected is not ... and expected is not None and expected != got_val:
                raise _Fail(ev, f"getsockopt() value {got_val}, expected {expected}", f"value {got_val}")

        return (0, check)

    def _sys_fcntl(self, ev: A.Event, args: tuple) -> Any:
        sock = self._need(ev, args)
        cmd = self._value(ev, args[1])
        if cmd == CONSTANTS["F_GETFL"]:
            return CONSTANTS["O_RDWR"] | (0 if sock.getblocking() else CONSTANTS["O_NONBLOCK"])
        if cmd == CONSTANTS["F_SETFL"]:
            flags = self._value(ev, args[2]) if len(args) > 2 else 0
            sock.setblocking(not flags & CONSTANTS["O_NONBLOCK"])
            return 0
        if cmd in (CONSTANTS["F_GETFD"], CONSTANTS["F_SETFD"]):
            return 0
        raise _Skip(f"line {ev.line}: fcntl() command {cmd} is not supported")

    def _sys_ioctl(self, ev: A.Event, args: tuple) -> Any:
        sock = self._need(ev, args)
        req = self._value(ev, args[1])
        conn = sock.connection
        if req == CONSTANTS["FIONREAD"]:
            got = int(conn.recv_buffered) if conn is not None else 0
        elif req == CONSTANTS["SIOCOUTQ"]:
            got = int(conn.send_buffered) if conn is not None else 0
        elif req == CONSTANTS["FIONBIO"]:
            v = self._value(ev, args[2]) if len(args) > 2 else [0]
            sock.setblocking(not (v[0] if isinstance(v, list) else v))
            return 0
        else:
            raise _Skip(f"line {ev.line}: ioctl() request {req:#x} is not supported")
        want = self._value(ev, args[2]) if len(args) > 2 else ...

        def check() -> None:
            expected = want[0] if isinstance(want, list) and want else want
            if isinstance(expected, int) and expected != got:
                raise _Fail(ev, f"ioctl() value {got}, expected {expected}", f"value {got}")

        return (0, check)

    def _sys_poll(self, ev: A.Event, args: tuple) -> Any:
        items = args[0] if args else None
        if not isinstance(items, A.Array):
            raise _Skip(f"line {ev.line}: poll() needs a [{{fd=..., events=...}}] list")
        entries = []
        for item in items.items:
            if not isinstance(item, A.Struct):
                raise _Skip(f"line {ev.line}: poll() entries must be structs")
            d = {k: self._value(ev, v) for k, v in item.fields}
            entries.append(d)
        timeout_ms = int(self._value(ev, args[2])) if len(args) > 2 else 0

        def revents_of(d: dict) -> int:
            sock = self.fds.get(d.get("fd", -1))
            if sock is None:
                return CONSTANTS["POLLNVAL"]
            want = int(d.get("events", 0))
            r = 0
            if sock.readable():
                r |= want & (CONSTANTS["POLLIN"] | CONSTANTS["POLLRDNORM"])
            if sock.writable():
                r |= want & (CONSTANTS["POLLOUT"] | CONSTANTS["POLLWRNORM"])
            conn = sock.connection
            if conn is not None:
                if getattr(conn, "error", 0):
                    r |= CONSTANTS["POLLERR"]
                if conn.state is State.CLOSED:
                    r |= CONSTANTS["POLLHUP"]
                if getattr(conn, "eof", False):
                    r |= want & CONSTANTS["POLLRDHUP"]
            return r

        def ready() -> bool:
            return any(revents_of(d) for d in entries)

        deadline = None if timeout_ms < 0 else self.now + timeout_ms / 1000

        def poll() -> Any:
            if timeout_ms != 0 and not ready() and (deadline is None or self.now < deadline):
                raise _Blocked(ready, deadline)
            got = [revents_of(d) for d in entries]
            count = sum(1 for r in got if r)

            def check() -> None:
                for d, r in zip(entries, got, strict=True):
                    if "revents" in d and d["revents"] is not ... and d["revents"] != r:
                        raise _Fail(
                            ev,
                            f"poll() revents {r:#x} for fd {d.get('fd')}, expected {d['revents']:#x}",
                            f"revents {r:#x}",
                        )

            return (count, check)

        return _Step(poll)

    # ---- shell and python -----------------------------------------------------------------------
    def _shell(self, ev: A.Event | None, command: str, init: bool = False) -> None:
        for part in _split_commands(command):
            try:
                words = shlex.split(part)
            except ValueError as exc:
                raise _Skip(f"shell command {part!r}: {exc}") from None
            if not words:
                continue
            if words[0] != "sysctl":
                raise _Skip(f"shell command not supported: {part.strip()}")
            settings = []
            for w in words[1:]:
                if w.startswith("-"):
                    if set(w[1:]) - set("wq"):
                        raise _Skip(f"sysctl option {w} not supported")
                    continue
                if "=" not in w:
                    raise _Skip(f"sysctl read ({w}) not supported")
                settings.append(w.split("=", 1))
            for key, value in settings:
                reason = apply_sysctl(self.host.config, key, value)
                if reason:
                    raise _Skip(reason)

    def _python(self, ev: A.Event, code: str) -> None:
        ns: dict[str, Any] = dict(STATE_CONSTANTS)
        sock = self.current_sock
        if sock is not None:
            ns.update(tcpi_vars(sock))
        try:
            exec(compile(code, f"{self.script.path}:{ev.line}", "exec"), ns)
        except AssertionError as exc:
            raise _Fail(ev, f"assertion failed{': ' + str(exc) if str(exc) else ''}", _tcpi_summary(ns)) from None
        except NameError as exc:
            raise _Skip(f"line {ev.line}: python snippet uses an unknown name ({exc})") from None
        except Exception as exc:
            raise _Fail(ev, f"python snippet raised {type(exc).__name__}: {exc}") from None


def _split_commands(command: str) -> list[str]:
    parts: list[str] = []
    for line in command.replace("&&", ";").split("\n"):
        parts.extend(p for p in line.split(";") if p.strip())
    return parts


def _expr_text(expr: A.Expr) -> str:
    if isinstance(expr, A.Symbol):
        return expr.name
    if isinstance(expr, A.Int):
        return str(expr.value)
    return type(expr).__name__


def _strerror(code: int) -> str:
    import os

    return os.strerror(code)


def tcpi_vars(sock: Any) -> dict[str, Any]:
    """``tcpi_*`` variables, in Linux units (times in microseconds), from ``sock.tcp_info()``."""
    try:
        info = sock.tcp_info()
    except OSError:
        # a closed descriptor: the connection it had lives on (FIN-WAIT, TIME-WAIT, ...)
        conn = sock.connection
        if conn is None:
            return {}
        info = dict(conn.tcp_info())
    out: dict[str, Any] = {}
    for key, value in info.items():
        out["tcpi_" + key] = value
    state = info.get("tcpi_state")
    if state is None:
        name = info.get("state")
        try:
            state = LINUX_STATE_NUMBER[State[name] if isinstance(name, str) else name]
        except (KeyError, TypeError):
            state = LINUX_STATE_NUMBER.get(State.CLOSED, 7)
    out["tcpi_state"] = state
    for key in ("rto", "rtt", "rttvar"):
        if isinstance(info.get(key), int | float):
            out["tcpi_" + key] = round(info[key] * 1_000_000)
    if "cwnd" in info:
        out["tcpi_snd_cwnd"] = info["cwnd"]
    if "ssthresh" in info:
        out["tcpi_snd_ssthresh"] = info["ssthresh"]
    opts = 0
    if info.get("timestamps"):
        opts |= 1
    if info.get("sack"):
        opts |= 2
    if info.get("snd_wscale") or info.get("rcv_wscale"):
        opts |= 4
    out["tcpi_options"] = opts
    return out


def _tcpi_summary(ns: dict[str, Any]) -> str:
    keys = ("tcpi_state", "tcpi_rto", "tcpi_unacked", "tcpi_retransmits", "tcpi_snd_mss")
    return ", ".join(f"{k}={ns[k]}" for k in keys if k in ns)


# ---- sysctl ---------------------------------------------------------------------------------------
def _flag(v: str) -> bool:
    return int(v) != 0


def _ms(v: str) -> float:
    return int(v) / 1000.0


def _middle(v: str) -> int:
    parts = v.split()
    return int(parts[1] if len(parts) >= 2 else parts[0])


def _last(v: str) -> int:
    return int(v.split()[-1])


# name -> list of (Config field, converter)
SYSCTLS: dict[str, list[tuple[str, Callable[[str], Any]]]] = {
    # Linux
    "net.ipv4.tcp_timestamps": [("timestamps", _flag)],
    "net.ipv4.tcp_sack": [("sack", _flag)],
    "net.ipv4.tcp_window_scaling": [("window_scaling", _flag)],
    # tcp_rmem[1] is the buffer, half of which carries data (tcp_win_from_space); [2] the most
    # auto-tuning grows it to (and what the window scale is chosen for).
    "net.ipv4.tcp_rmem": [("rcv_buf", lambda v: _middle(v) // 2), ("rcv_buf_max", _last)],
    "net.core.rmem_max": [("rmem_max", int)],
    "net.ipv4.tcp_moderate_rcvbuf": [("rcv_autotune", _flag)],
    "net.ipv4.tcp_slow_start_after_idle": [("slow_start_after_idle", _flag)],
    "net.ipv4.tcp_wmem": [("snd_buf", _middle)],
    "net.ipv4.tcp_rfc1337": [("rfc1337", _flag)],
    "net.ipv4.tcp_fin_timeout": [("fin_wait_2_timeout", float)],
    "net.ipv4.tcp_syn_retries": [("syn_retries", int)],
    "net.ipv4.tcp_synack_retries": [("synack_retries", int)],
    "net.ipv4.tcp_retries1": [("retries1", int)],
    "net.ipv4.tcp_retries2": [("retries2", int)],
    "net.ipv4.tcp_orphan_retries": [("orphan_retries", lambda v: int(v) or 8)],
    "net.ipv4.tcp_keepalive_time": [("keepalive_idle", float)],
    "net.ipv4.tcp_keepalive_intvl": [("keepalive_interval", float)],
    "net.ipv4.tcp_keepalive_probes": [("keepalive_count", int)],
    "net.ipv4.tcp_rto_min_us": [("rto_min", lambda v: int(v) / 1e6)],
    "net.ipv4.tcp_challenge_ack_limit": [("challenge_ack_limit", int)],
    "net.ipv4.tcp_invalid_ratelimit": [("invalid_ratelimit", _ms)],
    # FreeBSD
    "net.inet.tcp.rfc1323": [
        ("window_scaling", lambda v: int(v) in (1, 2)),
        ("timestamps", lambda v: int(v) in (1, 3)),
    ],
    "net.inet.tcp.sack.enable": [("sack", _flag)],
    "net.inet.tcp.sendspace": [("snd_buf", int)],
    "net.inet.tcp.recvspace": [("rcv_buf", int)],
    "net.inet.tcp.msl": [("msl", _ms)],
    "net.inet.tcp.rexmit_initial": [("rto_initial", _ms)],
    "net.inet.tcp.rexmit_min": [("rto_min", _ms)],
    "net.inet.tcp.delacktime": [("delayed_ack", _ms)],
    "net.inet.tcp.keepidle": [("keepalive_idle", _ms)],
    "net.inet.tcp.keepintvl": [("keepalive_interval", _ms)],
    "net.inet.tcp.keepcnt": [("keepalive_count", int)],
    "net.inet.tcp.finwait2_timeout": [("fin_wait_2_timeout", _ms)],
    # tcplab has one RFC 5961 switch for both RST and SYN handling
    "net.inet.tcp.insecure_rst": [("rfc5961", lambda v: not _flag(v))],
    "net.inet.tcp.insecure_syn": [("rfc5961", lambda v: not _flag(v))],
    "net.inet.tcp.mssdflt": [("default_peer_mss", int)],
}

# Settings that change nothing tcplab does, with the values for which that is true (None: any).
HARMLESS: dict[str, set[str] | None] = {
    "net.ipv4.tcp_no_metrics_save": None,
    "net.ipv4.tcp_autocorking": {"0"},
    "net.ipv4.tcp_ecn": {"0"},
    "net.ipv4.tcp_fastopen": {"0"},
    "net.ipv4.tcp_syncookies": {"0"},
    "net.ipv4.tcp_abort_on_overflow": {"0"},
    "net.ipv4.tcp_min_tso_segs": None,
    "net.ipv4.tcp_mtu_probing": {"0"},
    "net.ipv4.tcp_dsack": None,
    "net.ipv4.tcp_fack": None,
    "net.ipv4.tcp_tso_win_divisor": None,
    "net.ipv4.tcp_early_retrans": None,
    "net.ipv4.tcp_recovery": None,
    "net.ipv4.tcp_thin_linear_timeouts": {"0"},
    "net.core.default_qdisc": None,
    "net.inet.tcp.ecn.enable": {"0"},
    "net.inet.tcp.fastopen.server_enable": {"0"},
    "net.inet.tcp.fastopen.client_enable": {"0"},
    "net.inet.tcp.syncookies": {"0"},
    "net.inet.tcp.hostcache.purgenow": None,
    "net.inet.tcp.tolerate_missing_ts": None,
}


def apply_sysctl(config: Config, key: str, value: str) -> str | None:
    """Apply one ``sysctl -w key=value`` to ``config``; a reason string when unsupported."""
    key = key.replace("/", ".")
    value = value.strip().strip("'\"")
    if key in SYSCTLS:
        try:
            for fld, convert in SYSCTLS[key]:
                setattr(config, fld, convert(value))
        except (ValueError, IndexError):
            return f"sysctl {key}={value}: value not understood"
        return None
    if key in HARMLESS:
        allowed = HARMLESS[key]
        if allowed is None or value in allowed:
            return None
    return f"sysctl {key}={value} is not supported by tcplab"


def describe(e: dict) -> str:
    """One line for an event of the trace."""
    t = e.get("t", 0.0)
    kind = e.get("kind")
    if kind == "segment":
        arrow = ">" if e.get("src") == LOCAL_NAME else "<"
        s = e.get("seq", 0)
        text = f"{t:.6f} {arrow} {e.get('flags')} {s}:{s + e.get('len', 0)}({e.get('len', 0)})"
        if "." in str(e.get("flags")):
            text += f" ack {e.get('ack')}"
        text += f" win {e.get('win')}"
        if e.get("options"):
            text += f" <{e['options']}>"
        return text
    if kind == "state":
        return f"{t:.6f} state {e.get('from')} -> {e.get('to')} ({e.get('cause')})"
    if kind == "outcome":
        return f"{t:.6f} {e.get('outcome')}"
    return f"{t:.6f} {kind} {e.get('text', '')}".rstrip()


def run_script(
    script: A.Script,
    profile: str = "strict",
    tolerance_usecs: int | None = None,
    strict_segments: bool | None = None,
    config: Config | None = None,
) -> Outcome:
    """Run ``script`` on a fresh tcplab host; a PASS / FAIL / SKIP :class:`Outcome`."""
    try:
        runner = Runner(script, profile, tolerance_usecs, strict_segments, config)
    except _Skip as exc:
        return Outcome(script.path, "SKIP", str(exc))
    return runner.run()

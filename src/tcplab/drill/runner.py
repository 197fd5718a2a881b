"""Run a parsed packetdrill-language script against a fresh tcplab host on a virtual clock.

The script plays the remote peer. The runner drives one :class:`~tcplab.host.Host` directly (no
simulated network): it injects the script's ``<`` packets with ``host.deliver`` at their
virtual time, takes what the host sends with ``host.poll_transmit``, and moves virtual time
(:mod:`tcplab.drill.clock`). The pieces, each in its own module:

- :mod:`~tcplab.drill.parser` (with ``scanner``, ``exprs``, ``check``): text to tree;
- :mod:`~tcplab.drill.clock`: the virtual-clock scheduler and parked system calls;
- :mod:`~tcplab.drill.flows`: which connection a line is about, and its numbers;
- :mod:`~tcplab.drill.inbound` / :mod:`~tcplab.drill.matcher`: packets in, and packets out
  compared with the script;
- :mod:`~tcplab.drill.calls` (with ``sockopts``, ``polling``): the system-call table;
- :mod:`~tcplab.drill.sysctl`, :mod:`~tcplab.drill.profiles`, :mod:`~tcplab.drill.tcpinfo`:
  shell lines, the stack a script was written for, and what ``%{ }%`` sees.

tcplab is 198.18.0.2 (IPv6 fd00::2), the script 198.18.0.1 (fd00::1); ``--local_ip`` and
``--remote_ip`` change them. ``run_script(script, profile="linux", compare="strict", ...)``
returns an :class:`~tcplab.drill.outcome.Outcome`.
"""

from __future__ import annotations

import errno as _errno
import ipaddress
import os
import re
from collections.abc import Callable
from typing import Any

from tcplab.drill import ast as A
from tcplab.drill import calls as C
from tcplab.drill import polling as _polling  # noqa: F401 (registers poll and epoll)
from tcplab.drill import sockopts as _sockopts  # noqa: F401 (registers the option calls)
from tcplab.drill.clock import Call, Clock, DrillRuntime
from tcplab.drill.flows import SERVER_PORT, Flow, Flows, mod32
from tcplab.drill.inbound import Endpoints, icmp_packet, tcp_packet, tcp_segment
from tcplab.drill.matcher import COMPARISONS, Mismatch, Rules, match
from tcplab.drill.outcome import Broken, Fail, Outcome, Skip
from tcplab.drill.profiles import PROFILES
from tcplab.drill.symbols import LINUX
from tcplab.drill.sysctl import Shell
from tcplab.drill.tcpinfo import missing_field, namespace
from tcplab.drill.text import LOCAL_NAME, REMOTE_NAME, Sent, describe, script_notation, tcpdump_line
from tcplab.host import Host, LinkOffloads
from tcplab.tcp.config import Config
from tcplab.trace.events import EventLog
from tcplab.wire import MalformedPacket, Packet, parse_icmp_error, parse_packet
from tcplab.wire.tcp import Flags, Segment, flags_str, format_options

DEFAULT_TOLERANCE_USECS = 4000
LATE_LIMIT = 2.0  # an expected outbound segment not seen this long after its time: failure
ANY_TIME_LIMIT = 600.0  # how long `*` waits
# Header options that change nothing for tcplab (addresses of packetdrill's own tun device, its
# Python command, its debugging), and those that ask for a mode tcplab has not.
_INERT_OPTIONS = frozenset(
    [
        "gateway_ip",
        "netmask_ip",
        "speed",
        "code_command",
        "code_format",
        "code_sockopt",
        "debug",
        "verbose",
        "dry_run",
        "send_omit_free",
    ]
)
_MODES = {
    "wire_client": "packetdrill's wire client/server mode",
    "wire_server": "packetdrill's wire client/server mode",
    "wire_server_ip": "packetdrill's wire client/server mode",
    "wire_server_at": "packetdrill's wire client/server mode",
    "wire_server_port": "packetdrill's wire client/server mode",
    "wire_client_dev": "packetdrill's wire client/server mode",
    "wire_server_dev": "packetdrill's wire client/server mode",
    "so_filename": "a TCP stack loaded from a shared object",
    "so_flags": "a TCP stack loaded from a shared object",
    "non_fatal": "non-fatal packet and call mismatches (--non_fatal)",
    "is_anyip": "any-IP sockets",
    "init_scripts": "--init_scripts",
}


def _usecs_option(opts: dict[str, str | None], name: str, default: int | None) -> int | None:
    value = opts.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise Broken(f"--{name}={value}: a number is expected") from None


class Runner:
    def __init__(
        self,
        script: A.Script,
        profile: str = "linux",
        compare: str = "strict",
        tolerance_usecs: int | None = None,
        strict_segments: bool | None = None,
        config: Config | None = None,
        mss: int | None = None,
        mtu: int | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.script = script
        self.profile = PROFILES[profile]
        self.abi = self.profile.abi
        self.echo = echo
        opts = script.options
        for name in opts:
            if name in _MODES:
                raise Skip(f"{_MODES[name]} (--{name})")
        tol = tolerance_usecs if tolerance_usecs is not None else _usecs_option(opts, "tolerance_usecs", None)
        tol = DEFAULT_TOLERANCE_USECS if tol is None else tol
        self.tolerance = tol / 1e6
        percent = opts.get("tolerance_percent")
        self.tolerance_share = float(percent) / 100 if percent else 0.125
        self.rules = Rules(
            compare=compare,
            strict_segments=strict_segments if strict_segments is not None else "strict_segments" in opts,
            ts_tick_usecs=_usecs_option(opts, "tcp_ts_tick_usecs", 0) or 0,
            tolerance_usecs=tol,
        )
        self.ecr_scaled = "tcp_ts_ecr_scaled" in opts
        ip_version = opts.get("ip_version") or "ipv4"
        if ip_version not in ("ipv4", "ipv6", "ipv4-mapped-ipv6"):
            raise Broken(f"--ip_version={ip_version}: ipv4, ipv6 or ipv4-mapped-ipv6")
        self.v6 = self.rules.v6 = ip_version == "ipv6"  # on the wire
        self.mapped = ip_version == "ipv4-mapped-ipv6"  # AF_INET6 sockets, IPv4 packets
        self.local_ip = str(ipaddress.ip_address(opts.get("local_ip") or ("fd00::2" if self.v6 else "198.18.0.2")))
        self.remote_ip = str(ipaddress.ip_address(opts.get("remote_ip") or ("fd00::1" if self.v6 else "198.18.0.1")))
        self.gro_mss = mss if mss is not None else _usecs_option(opts, "mss", None)
        self.mtu = mtu if mtu is not None else _usecs_option(opts, "mtu", None)
        for port in ("bind_port", "connect_port"):
            if opts.get(port) not in (None, str(SERVER_PORT)):
                raise Skip(f"--{port} other than {SERVER_PORT}")
        self.log = EventLog()
        cfg = config.copy() if config is not None else self.profile.config()
        if self.mtu is not None:
            cfg.mss = self.mtu - (60 if self.v6 else 40)
        link = LinkOffloads(mtu=self.mtu) if self.mtu is not None else None
        self.host = Host(LOCAL_NAME, [self.local_ip], cfg, log=self.log, link=link)
        self.clock = Clock(self.host, self._collect, self._finish_blocking)
        self.host.runtime = DrillRuntime(self.clock)
        self.ends = Endpoints(self.local_ip, self.remote_ip)
        self.flows = Flows()
        self.calls = C.Calls(self)
        self.shell = Shell(self.host.config, os.path.dirname(os.path.abspath(script.path)))
        self.sent: list[Sent] = []  # segments of the connection under test no line consumed yet
        self.icmp_sent: list[tuple[float, Packet]] = []
        self.current: Any = None  # the socket %{ }% looks at

    @property
    def now(self) -> float:
        return self.clock.now

    # ---- what the host sends -------------------------------------------------------------------
    def _collect(self) -> None:
        for raw in self.host.poll_transmit():
            try:
                pkt = parse_packet(raw)
            except MalformedPacket as exc:
                raise Fail(None, f"tcplab sent a malformed packet: {exc}") from None
            seg = pkt.tcp
            if seg is None:
                self.icmp_sent.append((self.now, pkt))
                self._echo(">", pkt, None)
                continue
            flow = self.flows.of_segment(seg.src_port, seg.dst_port)
            if flow is not None and seg.flags & Flags.SYN:
                flow.local_syn_sent(seg.seq)
            self._log_segment(LOCAL_NAME, REMOTE_NAME, seg, flow, outbound=True)
            self._echo(">", pkt, flow)
            if self.flows.under_test(flow):
                self.sent.append(Sent(self.now, seg, pkt, flow, len(self.log.events)))

    def _echo(self, direction: str, pkt: Packet, flow: Flow | None, icmp: str = "") -> None:
        if self.echo is not None:
            self.echo(tcpdump_line(self.now, direction, pkt, flow, icmp))

    def _log_segment(self, src: str, dst: str, seg: Segment, flow: Flow | None, outbound: bool) -> None:
        own = other = 0
        if flow is not None:
            own = (flow.local_isn or 0) if outbound else flow.remote_isn
            other = flow.remote_isn if outbound else (flow.local_isn or 0)
        self.log.record(
            "segment",
            self.now,
            src=src,
            dst=dst,
            flags=flags_str(seg.flags),
            seq=mod32(seg.seq - own),
            ack=mod32(seg.ack - other) if seg.flags & Flags.ACK else 0,
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
                    self.shell.run(script.init_command.text, script.init_command.line)
                self._run_events()
                if self.clock.pending is not None:
                    end, tol = self._expected_end(self.clock.pending)
                    self.clock.advance_to(
                        max(self.now, end + tol + LATE_LIMIT), stop=lambda: self.clock.pending is None
                    )
                if self.clock.pending is not None:
                    raise Fail(self.clock.pending.event, "the blocking call never returned")
                if script.cleanup_command:
                    self.shell.run(script.cleanup_command.text, script.cleanup_command.line)
            finally:
                self.clock.pending = None
        except Fail as exc:
            outcome.status, outcome.reason, outcome.actual, upto = "FAIL", exc.reason, exc.actual, exc.upto
            if exc.event is not None:
                outcome.line = exc.event.line
                outcome.expected = self._line_text(exc.event.line)
        except Skip as exc:
            outcome.status, outcome.reason, outcome.line = "SKIP", exc.reason, exc.line
        except Broken as exc:
            outcome.status, outcome.reason, outcome.line, outcome.column = "ERROR", exc.reason, exc.line, exc.column
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

    def _result_text(self, call: A.Syscall, value: Any) -> str:
        """A result as written: fcntl(F_GETFL)'s file status flags by name (``0x6 (flags
        O_RDWR|O_NONBLOCK)``), anything else as its number."""
        cmd = call.args[1] if len(call.args) > 1 else None
        if call.name != "fcntl" or not isinstance(cmd, A.Symbol) or cmd.name != "F_GETFL" or not isinstance(value, int):
            return str(value)
        abi = self.calls.ctx.abi
        access = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR"}.get(value & 3, str(value & 3))
        names, rest = abi.flag_names("oflags", value & ~3)
        words = [access, *names] + ([f"0x{rest:x}"] if rest else [])
        return f"0x{value:x} (flags {'|'.join(words)})"

    def _column_of(self, ev: A.Event, word: str) -> int | None:
        """The column of ``word`` on the event's first line (else the event's own column)."""
        text = self.script.lines[ev.line - 1] if 0 < ev.line <= len(self.script.lines) else ""
        m = re.search(rf"\b{re.escape(word)}\b", text)
        return m.start() + 1 if m else ev.column

    def _line_text(self, line: int) -> str:
        lines = self.script.lines
        return lines[line - 1].strip() if 0 < line <= len(lines) else ""

    def _run_events(self) -> None:
        base = 0.0  # when the previous event actually completed
        prev_script = 0.0  # the previous event's script time
        for ev in self.script.events:
            t, body = ev.time, ev.body
            when = t.usecs / 1e6 if t.kind == "abs" else base + t.usecs / 1e6 if t.kind == "rel" else None
            if isinstance(body, A.Packet | A.Icmp | A.OtherPacket) and body.direction == ">":
                base, prev_script = self._expect(ev, body, when, base, prev_script)
                continue
            assert when is not None
            if when < self.now - 1e-9:
                if t.kind == "abs" and when < self.now - self.tolerance:
                    raise Fail(ev, f"the script's time {when:.6f} is already past (now {self.now:.6f})")
                when = self.now
            self.clock.advance_to(when)
            if isinstance(body, A.Packet):
                self._inject(ev, body)
            elif isinstance(body, A.Icmp):
                self._inject_icmp(ev, body)
            elif isinstance(body, A.OtherPacket):
                raise Skip(f"{body.what} packets (tcplab has TCP only)", ev.line)
            elif isinstance(body, A.Syscall):
                self._syscall(ev, body, when)
            elif isinstance(body, A.Shell):
                self.shell.run(body.command, ev.line)
            else:
                self._python(ev, body.code)
            base = prev_script = when

    # ---- inbound ----------------------------------------------------------------------------
    def _local_port(self) -> int:
        sut = self.flows.sut
        binding = getattr(getattr(sut, "core", None), "binding", None)
        listener = getattr(sut, "listener", None)
        if listener is not None:
            return int(listener.port)
        return int(binding.port) if binding is not None else SERVER_PORT

    def _inject(self, ev: A.Event, line: A.Packet) -> None:
        if self.gro_mss is not None and line.length > self.gro_mss:
            raise Skip(
                f"--mss={self.gro_mss} makes a segment larger than it a GRO aggregate; tcplab has no GRO "
                "(its receiver would take the aggregate's size for the peer's MSS)",
                ev.line,
            )
        flow = self.flows.for_inbound(line.start, self._local_port(), line.sport, line.dport)
        seg = tcp_segment(line, ev, flow, self.ecr_scaled)
        if seg.flags & Flags.SYN:
            flow.inbound_syn(seg.seq, bool(seg.flags & Flags.ACK))
        raw = tcp_packet(line, ev, seg, self.ends)
        self._log_segment(REMOTE_NAME, LOCAL_NAME, seg, flow, outbound=False)
        self._echo("<", parse_packet(raw), flow)
        self.host.deliver(raw, self.now)
        self.clock.settle()

    def _inject_icmp(self, ev: A.Event, line: A.Icmp) -> None:
        raw = icmp_packet(line, ev, self.flows.flow, self.ends, self.v6)
        pkt = parse_packet(raw)
        err = parse_icmp_error(pkt)
        text = f"ICMP {line.type_name}" + (f" {line.code_name}" if line.code_name else "")
        if err is not None and err.mtu:
            text += f" (mtu {err.mtu})"
        self._echo("<", pkt, None, text)
        self.log.record("note", self.now, host=REMOTE_NAME, text=f"{REMOTE_NAME} sends {text}")
        self.host.deliver(raw, self.now)
        self.clock.settle()

    # ---- outbound ---------------------------------------------------------------------------
    def _window(
        self, ev: A.Event, when: float | None, base: float, prev_script: float
    ) -> tuple[float, float, float, float]:
        """(earliest, latest, give-up time, script time) of an outbound line."""
        t = ev.time
        if t.kind == "any":
            return float("-inf"), float("inf"), self.now + ANY_TIME_LIMIT, self.now
        if t.kind == "range":
            start = (base if t.relative else 0.0) + t.usecs / 1e6
            end = (base if t.end_relative else 0.0) + (t.end_usecs or 0) / 1e6
            return start - self.tolerance, end + self.tolerance, end + self.tolerance + LATE_LIMIT, start
        assert when is not None
        tol = max(self.tolerance, self.tolerance_share * max(0.0, when - prev_script))
        return when - tol, when + tol, max(when + tol, when + LATE_LIMIT), when

    def _expect(
        self, ev: A.Event, line: A.Packet | A.Icmp | A.OtherPacket, when: float | None, base: float, prev: float
    ) -> tuple[float, float]:
        if isinstance(line, A.OtherPacket):
            raise Skip(f"{line.what} packets (tcplab has TCP only)", ev.line)
        lo, hi, limit, script_t = self._window(ev, when, base, prev)
        queue: list[Any] = self.icmp_sent if isinstance(line, A.Icmp) else self.sent

        def waiting() -> bool:
            self._drop_stale()
            return bool(queue)

        if not waiting():
            self.clock.advance_to(max(limit, self.now), stop=waiting)
        if not queue:
            raise Fail(ev, "tcplab sent nothing", f"no segment by {limit:.6f} (script time {script_t:.6f})")
        if isinstance(line, A.Icmp):
            return self._expect_icmp(ev, line, lo, hi), script_t
        first = self.sent[0]
        actual = script_notation(first)
        if first.t < lo:
            raise Fail(
                ev, f"segment too early: sent at {first.t:.6f}, expected {_between(lo, hi)}", actual, first.log_index
            )
        try:
            count = match(line, ev, self.sent, self.rules)
        except Mismatch as exc:
            raise Fail(ev, exc.reason, actual, first.log_index) from None
        if first.t > hi:
            raise Fail(
                ev, f"segment too late: sent at {first.t:.6f}, expected {_between(lo, hi)}", actual, first.log_index
            )
        del self.sent[:count]
        return first.t, script_t

    def _drop_stale(self) -> None:
        """Segments of a connection no longer under test are not the script's business."""
        while self.sent and not self.flows.under_test(self.sent[0].flow):
            del self.sent[0]

    def _expect_icmp(self, ev: A.Event, line: A.Icmp, lo: float, hi: float) -> float:
        from tcplab.drill.inbound import icmp_type_code

        t, pkt = self.icmp_sent.pop(0)
        want = icmp_type_code(line, self.v6)
        got = (pkt.payload[0], pkt.payload[1]) if len(pkt.payload) >= 2 else (-1, -1)
        if got != want or not lo <= t <= hi:
            raise Fail(
                ev, f"tcplab sent ICMP type {got[0]} code {got[1]} at {t:.6f}, expected {want} {_between(lo, hi)}"
            )
        return t

    # ---- system calls -------------------------------------------------------------------------
    def _syscall(self, ev: A.Event, call: A.Syscall, when: float) -> None:
        if self.clock.pending is not None and ev.time.blocking:
            raise Fail(ev, "a blocking call is already in flight (only one at a time)")
        handler = C.HANDLERS.get(call.name)
        if handler is None:
            C.unsupported(self.calls, ev, call.name)
            return
        job = Call(lambda: handler(self.calls, ev, call.args), ev, when)
        if self.clock.start(job):
            if ev.time.blocking:
                self._check_end_time(job, self.now)
            self._check_result(ev, call, job)
            self.clock.settle()
        elif self.clock.pending is not job:
            raise Fail(ev, "the call blocked while another blocking call was in flight")

    def _finish_blocking(self, job: Call) -> None:
        self._check_end_time(job, self.now)
        self._check_result(job.event, job.event.body, job)  # type: ignore[arg-type]

    def _expected_end(self, job: Call) -> tuple[float, float]:
        """When a call should return (E of ``T...E``, else at once) and the tolerance."""
        time = job.event.time
        if time.blocking and time.end_usecs is not None:
            base = job.start_base - time.usecs / 1e6 if time.relative else 0.0
            end = base + time.end_usecs / 1e6
            return end, max(self.tolerance, self.tolerance_share * max(0.0, end - job.start_base))
        return job.start_base, self.tolerance

    def _check_end_time(self, job: Call, t: float) -> None:
        end, tol = self._expected_end(job)
        if abs(t - end) > tol + 1e-9:
            what = "late" if t > end else "early"
            raise Fail(
                job.event,
                f"the call returned {what}: at {t:.6f}, expected {end:.6f} (tolerance {tol * 1e6:.0f} us)",
                f"returned at {t:.6f}",
            )

    def _check_result(self, ev: A.Event, call: A.Syscall, job: Call) -> None:
        exc = job.exc
        if isinstance(exc, Skip | Fail | Broken):
            if isinstance(exc, Fail) and exc.event is None:
                exc.event = ev
            if isinstance(exc, Skip | Broken) and exc.line is None:
                exc.line = ev.line
            raise exc
        if exc is not None and not isinstance(exc, OSError):
            raise Fail(ev, f"the call raised {type(exc).__name__}: {exc}", f"{type(exc).__name__}: {exc}")
        want = None if isinstance(call.result, A.Ellipsis_) else self.calls.value(ev, call.result)
        result = job.result
        if exc is None and isinstance(result, tuple) and result[0] == "fd":
            if isinstance(want, int) and want >= 0:
                self.calls.fds[want] = result[1]
                return
            raise Fail(ev, f"{call.name}() returned a descriptor, expected {want}", "a descriptor")
        post = None
        if exc is not None:
            code = exc.errno or _errno.EIO
            got, got_text = -1, C.errno_text(code)
        else:
            got, code = result, None
            if isinstance(got, tuple):
                got, post = got
            got_text = self._result_text(call, got)
        expected = f"{want}" + (f" {call.errno}" if call.errno else "")
        if call.name == "fcntl" and isinstance(want, int) and got_text != str(got):
            expected = self._result_text(call, want)
        if want is not None and got != want:
            raise Fail(ev, f"{call.name}() returned {got_text}, expected {expected}", got_text)
        if want == -1 or call.errno:
            if code is None:
                raise Fail(ev, f"{call.name}() succeeded ({got}), expected {call.errno or -1}", got_text)
            if call.errno and LINUX.number(call.errno) != code:
                raise Fail(ev, f"{call.name}() failed with {got_text}, expected {call.errno}", got_text)
        if code is None and post is not None:
            post()

    # ---- python -------------------------------------------------------------------------------
    def _python(self, ev: A.Event, code: str) -> None:
        ns = namespace(self.current, self.abi)
        try:
            exec(compile(code, f"{self.script.path}:{ev.line}", "exec"), ns)
        except AssertionError as exc:
            summary = ", ".join(f"{k}={ns[k]}" for k in ("tcpi_state", "tcpi_rto", "tcpi_unacked") if k in ns)
            raise Fail(ev, f"assertion failed{': ' + str(exc) if str(exc) else ''}", summary) from None
        except NameError as exc:
            name = getattr(exc, "name", None) or str(exc).split("'")[1]
            field = missing_field(name)
            if field is not None:
                raise Skip(f"tcp_info field tcpi_{field}: tcplab's TCP_INFO does not report it", ev.line) from None
            raise Broken(f"python snippet: unknown name {name}", ev.line, self._column_of(ev, name)) from None
        except SyntaxError as exc:
            raise Broken(f"python snippet: {exc.msg}", ev.line, ev.column) from None
        except Exception as exc:
            raise Fail(ev, f"python snippet raised {type(exc).__name__}: {exc}") from None


def _between(lo: float, hi: float) -> str:
    return f"between {lo:.6f} and {hi:.6f}"


def run_script(
    script: A.Script,
    profile: str = "linux",
    compare: str = "strict",
    tolerance_usecs: int | None = None,
    strict_segments: bool | None = None,
    config: Config | None = None,
    mss: int | None = None,
    mtu: int | None = None,
    echo: Callable[[str], None] | None = None,
) -> Outcome:
    """Run ``script`` on a fresh tcplab host; a PASS / FAIL / SKIP / ERROR :class:`Outcome`.
    ``profile``: the stack the script was written for (``linux``, ``freebsd``, ``rfc``);
    ``compare``: ``strict`` or ``portable`` (an old ``profile="portable"`` still means that)."""
    if profile in COMPARISONS:
        profile, compare = "linux", profile
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    if compare not in COMPARISONS:
        raise ValueError(f"unknown comparison {compare!r}; choose from {', '.join(COMPARISONS)}")
    try:
        runner = Runner(script, profile, compare, tolerance_usecs, strict_segments, config, mss, mtu, echo)
    except Skip as exc:
        return Outcome(script.path, "SKIP", exc.reason, line=exc.line)
    except Broken as exc:
        return Outcome(script.path, "ERROR", exc.reason, line=exc.line, column=exc.column)
    return runner.run()

"""``tcplab watch``: every state change of the kernel's own TCP sockets, live.

tcplab watch --port 9527                   # one line per change, as it happens
tcplab watch --port 9527 --json            # JSON Lines (tcplab's state events, host "kernel")
tcplab watch --port 9527 --ladder --duration 10
tcplab watch --port 9527 --diagram-svg seen.svg
tcplab watch --snapshot [--netns NAME]     # the table, like ss -tan, from netlink
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import signal
import sys
import time
from typing import Any

from tcplab.cli import CLIError
from tcplab.trace.events import clock_event, dumps
from tcplab.watch import (
    DiagError,
    KernelWatcher,
    WatchError,
    WatchUnavailable,
    format_table,
    snapshot,
)
from tcplab.watch.render import diagram_svg, event_line, header_line, render_ladders
from tcplab.watch.watcher import normalize_address


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "watch",
        help="every state change of the kernel's own TCP sockets, live",
        description=(
            "Print every state change of the Linux kernel's TCP sockets as it happens, from the "
            "tracepoint sock:inet_sock_set_state (a private tracefs instance; needs root), with "
            "TIME_WAIT seen through sock_diag. Without root or tracefs it polls the sock_diag "
            "table instead."
        ),
    )
    p.add_argument("--port", type=int, metavar="N", help="only sockets with this local or peer port")
    p.add_argument("--address", metavar="A", help="only sockets with this local or peer address")
    p.add_argument("--json", action="store_true", help="write JSON Lines (tcplab state events)")
    p.add_argument("--ladder", action="store_true", help="at the end, draw each connection's two sides")
    p.add_argument("--diagram-svg", metavar="FILE", help="at the end, write the state diagram, seen edges lit")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--snapshot", action="store_true", help="print the current table (like ss -tan) and exit")
    p.add_argument("--netns", metavar="NAME", help="network namespace of the sockets (for sock_diag)")
    p.add_argument("--poll", action="store_true", help="poll sock_diag even when the tracepoint works")
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> None:
    if args.port is not None and not 0 < args.port <= 0xFFFF:
        raise CLIError(f"--port must be 1..65535, not {args.port}")
    if args.address is not None:
        try:
            ipaddress.ip_address(args.address)
        except ValueError:
            raise CLIError(f"--address: not an IP address: {args.address!r}") from None
    if args.duration is not None and not args.duration > 0:
        raise CLIError("--duration must be a positive number of seconds")


def _snapshot(args: argparse.Namespace) -> int:
    try:
        entries = snapshot(args.netns)
    except DiagError as exc:
        raise CLIError(f"cannot read the socket table: {exc.strerror or exc}") from None
    if args.port is not None:
        entries = [e for e in entries if args.port in (e.sport, e.dport)]
    if args.address is not None:
        want = normalize_address(args.address)
        entries = [e for e in entries if want in (normalize_address(e.saddr), normalize_address(e.daddr))]
    sys.stdout.write(format_table(entries))
    return 0


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    if args.snapshot:
        return _snapshot(args)
    try:
        watcher = KernelWatcher(
            port=args.port,
            address=args.address,
            netns=args.netns,
            mode="poll" if args.poll else "auto",
        )
    except WatchError as exc:
        raise CLIError(str(exc)) from None
    try:
        previous: Any = signal.signal(signal.SIGTERM, _terminate)  # stop cleanly on SIGTERM too
    except ValueError:  # not the main thread
        previous = None
    seen: list[dict[str, Any]] = []
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C (or SIGTERM): stop, then report
            _watch(args, watcher, seen)
        _report_still(args, watcher, seen)
    except KeyboardInterrupt:
        pass
    except (WatchError, WatchUnavailable) as exc:
        raise CLIError(str(exc)) from None
    finally:
        _close(watcher)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if watcher.lost_events:
        print(
            f"tcplab watch: the kernel's trace buffer overflowed, {watcher.lost_events} state "
            "changes were lost; use --port/--address to watch fewer sockets",
            file=sys.stderr,
        )
    _finish(args, seen)
    return 0


def _close(watcher: KernelWatcher) -> None:
    """Remove the tracefs instance; a second Ctrl-C must not interrupt that."""
    blocked = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    except (AttributeError, OSError, ValueError):
        old = None
    try:
        watcher.close()
    finally:
        if old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _watch(args: argparse.Namespace, watcher: KernelWatcher, seen: list[dict[str, Any]]) -> None:
    watcher.start()
    out = sys.stdout
    if watcher.mode == "poll":
        why = watcher.unavailable or "--poll given"
        print(
            f"tcplab watch: {why}; polling the sock_diag table every "
            f"{watcher.poll_interval * 1000:.0f} ms instead: short-lived states may be missed",
            file=sys.stderr,
            flush=True,
        )
    assert watcher.epoch is not None
    clock = clock_event(watcher.epoch, "watch")
    if args.json:
        out.write(dumps(clock) + "\n")
    else:
        print(header_line(), file=out, flush=True)
        print(f"{0.0:>12.6f}  (times are seconds since the watch started, {clock['utc']})", file=out, flush=True)
    deadline = None if args.duration is None else time.monotonic() + args.duration
    while True:
        left = 0.2 if deadline is None else deadline - time.monotonic()
        if left <= 0:
            break
        for event in watcher.poll(min(0.2, left)):
            seen.append(event)
            _print_event(event, args.json, out)
        out.flush()


def _report_still(args: argparse.Namespace, watcher: KernelWatcher, seen: list[dict[str, Any]]) -> None:
    """The connections seen that have not reached CLOSED yet (TIME_WAIT with its timer left)."""
    if not watcher.mode:
        return
    for event in watcher.still_open():
        seen.append(event)
        _print_event(event, args.json, sys.stdout)
    sys.stdout.flush()


def _print_event(event: dict[str, Any], as_json: bool, out: Any) -> None:
    if as_json:
        out.write(dumps(event) + "\n")
        return
    if event.get("kind") == "note" and str(event.get("text", "")).startswith("polling"):
        return  # already said on stderr
    out.write(event_line(event) + "\n")


def _finish(args: argparse.Namespace, seen: list[dict[str, Any]]) -> None:
    report = sys.stderr if args.json else sys.stdout
    if args.ladder:
        text = render_ladders(seen, color=None if not args.json else False)
        print("", file=report)
        print(text if text else "(no connections seen)", file=report, end="" if text else "\n")
    if args.diagram_svg:
        title = "kernel TCP states seen" + (f" (port {args.port})" if args.port else "")
        svg, unknown = diagram_svg(seen, title=title)
        try:
            with open(args.diagram_svg, "w", encoding="utf-8") as f:
                f.write(svg)
        except OSError as exc:
            raise CLIError(f"cannot write {args.diagram_svg}: {exc.strerror}") from None
        states = sum(1 for e in seen if e.get("kind") == "state")
        print(f"wrote {args.diagram_svg} ({states} state changes)", file=report)
        for change in sorted(set(unknown)):
            print(f"not a transition of the RFC diagram: {change}", file=report)

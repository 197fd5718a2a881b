"""``tcplab netstat``: the connection table of a running tcplab stack (like ``ss -tan``).

A running stack (``tcplab serve`` / ``tcplab connect``) serves ``tcplab.netstat.snapshot`` on its
control socket (``tcplab.control``); this command asks it and prints the table, the counters
(``-s``) or the raw snapshot (``--json``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tcplab.cli import CLIError
from tcplab.netstat import format_counters, format_table, rows_from_snapshot


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "netstat",
        help="connection table of a running tcplab stack (like ss -tan)",
        description="Show the connections of a running tcplab stack: State, Recv-Q, Send-Q, "
        "local and peer address, and the timer column.",
    )
    p.add_argument("--stack", metavar="NAME", help="which running stack (default: the only one running)")
    p.add_argument(
        "-s", "--statistics", action="store_true", help="show the counters (like netstat -s) instead of the table"
    )
    p.add_argument("--json", action="store_true", help="print the raw snapshot as JSON")
    p.add_argument(
        "--watch", action="store_true", help="print the table, then each state change as it happens (Ctrl-C stops)"
    )
    p.set_defaults(func=run)


def choose_stack(name: str | None) -> str | None:
    """The stack to talk to: ``name``, or the only one running (None when none runs)."""
    from tcplab import control

    if name is not None:
        return name
    stacks = control.list_stacks()
    if not stacks:
        return None
    if len(stacks) > 1:
        raise CLIError(f"several tcplab stacks are running ({', '.join(stacks)}): choose one with --stack NAME")
    return stacks[0]


def find_running_stack(name: str | None = None) -> dict[str, Any] | None:
    """The snapshot (``tcplab.netstat.snapshot``) of a running stack, or None when none runs.
    Raises CLIError when it cannot be chosen or reached."""
    from tcplab import control

    name = choose_stack(name)
    if name is None:
        return None
    try:
        return control.query(name)
    except (control.ControlError, OSError) as exc:
        raise CLIError(f"cannot reach tcplab stack {name!r}: {exc}") from None


def render(snap: dict[str, Any], args: argparse.Namespace) -> str:
    if getattr(args, "json", False):
        return json.dumps(snap, indent=2) + "\n"
    if getattr(args, "statistics", False):
        return format_counters(snap)
    return format_table(rows_from_snapshot(snap))


def format_state_event(event: dict[str, Any]) -> str:
    """One line for a state change: time, connection, FROM -> TO, cause."""
    return (
        f"{event.get('t', 0.0):10.3f}  {event.get('conn', event.get('host', '?')):<45} "
        f"{event.get('from', '?'):>11} -> {event.get('to', '?'):<11} ({event.get('cause', '?')})"
    )


def watch(args: argparse.Namespace) -> int:
    from tcplab import control
    from tcplab.trace.events import clock_event

    name = choose_stack(getattr(args, "stack", None))
    if name is None:
        raise CLIError(
            "no running tcplab stack found: start one first (e.g. 'tcplab serve'), "
            "then run 'tcplab netstat --watch' again"
        )
    try:
        for message in control.watch(name):
            kind = message.get("type")
            if kind == "snapshot":
                snap = message["snapshot"]
                clock = clock_event(snap["epoch"], f"stack {name}") if snap.get("epoch") is not None else None
                if clock is not None and getattr(args, "json", False):
                    print(json.dumps(clock), flush=True)
                print(render(snap, args), end="", flush=True)
                since = f"; times are seconds since the stack started, {clock['utc']}" if clock else ""
                print(f"-- state changes as they happen (Ctrl-C stops){since} --", flush=True)
            elif kind == "event":
                event = message.get("event", {})
                if getattr(args, "json", False):
                    print(json.dumps(event), flush=True)
                elif event.get("kind") == "state":
                    print(format_state_event(event), flush=True)
            elif kind == "end":
                print(f"-- stack {name!r} stopped --", flush=True)
                return 0
    except (control.ControlError, OSError) as exc:
        raise CLIError(f"cannot reach tcplab stack {name!r}: {exc}") from None
    return 0


def run(args: argparse.Namespace) -> int:
    if getattr(args, "watch", False):
        return watch(args)
    snap = find_running_stack(getattr(args, "stack", None))
    if snap is None:
        raise CLIError(
            "no running tcplab stack found: start one first (e.g. 'tcplab serve'), then run 'tcplab netstat' again"
        )
    print(render(snap, args), end="")
    return 0

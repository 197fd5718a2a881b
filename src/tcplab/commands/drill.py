"""``tcplab drill``: run packetdrill-language scripts against tcplab.

Exit status: 0 when every script passed or was skipped, 1 when one failed, 2 when one is broken
(a syntax error, a system call or constant no packetdrill knows) or the command line is wrong.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from typing import Any

from tcplab.cli import CLIError

_LEGACY_PROFILES = ("strict", "portable")  # before --compare, --profile chose the comparison


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "drill",
        help="run packetdrill-language scripts (.pkt) against tcplab",
        description="Run packetdrill-language scripts (written for Linux's or FreeBSD's packetdrill) "
        "against a fresh tcplab host on a virtual clock: the script plays the remote peer. One line per "
        "script (PASS, FAIL, SKIP, ERROR). Exit status 0 when nothing failed, 1 when a script failed, "
        "2 when a script is broken or the command line is wrong.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="script files, or directories searched for *.pkt")
    p.add_argument(
        "--profile",
        choices=("linux", "freebsd", "rfc", *_LEGACY_PROFILES),
        default="linux",
        help="the stack the scripts were written for: its constants' numbering and the defaults it "
        "assumes (window scale, initial window, buffers, option layout). linux (default), freebsd, rfc",
    )
    p.add_argument(
        "--compare",
        choices=("strict", "portable"),
        default=None,
        help="strict (default): compare segments as packetdrill does; portable: options by meaning, "
        "PSH and window not compared",
    )
    p.add_argument(
        "-D",
        dest="defines",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="define NAME (replaces the word NAME in scripts; enables #ifdef NAME)",
    )
    for name, metavar, what in (
        ("tolerance-usecs", "N", "timing tolerance in microseconds (default: the script's, else 4000)"),
        ("mss", "N", "inbound segments larger than N arrive as GRO aggregates (as packetdrill --mss)"),
        ("mtu", "N", "tcplab's link MTU (default 1500)"),
    ):
        p.add_argument(
            f"--{name}",
            f"--{name.replace('-', '_')}",
            dest=name.replace("-", "_"),
            type=int,
            default=None,
            metavar=metavar,
            help=what,
        )
    p.add_argument(
        "--strict-segments",
        "--strict_segments",
        dest="strict_segments",
        action="store_true",
        default=None,
        help="one emitted segment per outbound script line",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per script")
    p.add_argument("--trace", metavar="DIR", help="write each script's ladder SVG and JSON Lines trace into DIR")
    p.add_argument("--skip-report", action="store_true", help="after the summary, the skip reasons grouped and counted")
    p.add_argument("-v", "--verbose", action="store_true", help="print every packet as tcpdump would")
    p.set_defaults(func=run)


def _defines(items: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in items:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not name or not (name[0].isalpha() or name[0] == "_") or not all(c.isalnum() or c == "_" for c in name):
            raise CLIError(f"-D {item!r}: expected NAME or NAME=VALUE")
        out[name] = value if eq else None
    return out


def _collect(paths: list[str]) -> list[str]:
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found: list[str] = []
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found.extend(os.path.join(root, n) for n in sorted(names) if n.endswith(".pkt"))
            if not found:
                raise CLIError(f"{path}: no .pkt scripts in this directory")
            files.extend(found)
        elif os.path.exists(path):
            files.append(path)
        else:
            raise CLIError(f"{path}: no such file or directory")
    return files


def _trace_name(path: str, used: set[str]) -> str:
    base = os.path.splitext(os.path.basename(path))[0] or "script"
    name, i = base, 2
    while name in used:
        name, i = f"{base}-{i}", i + 1
    used.add(name)
    return name


def write_trace(outcome: Any, directory: str, name: str) -> None:
    from tcplab.trace.events import write_jsonl

    with open(os.path.join(directory, name + ".jsonl"), "w", encoding="utf-8") as f:
        write_jsonl(outcome.events, f)
    try:
        from tcplab.trace.svg_ladder import render_ladder_svg
    except ImportError:
        return
    svg = render_ladder_svg(
        outcome.events, "tcplab", "script", title=f"{os.path.basename(outcome.path)}: {outcome.status}"
    )
    with open(os.path.join(directory, name + ".svg"), "w", encoding="utf-8") as f:
        f.write(svg)


def _where(outcome: Any) -> str:
    place = f":{outcome.line}" if outcome.line else ""
    if outcome.line and outcome.column:
        place += f":{outcome.column}"
    return outcome.path + place


def _print(out: Any, outcome: Any) -> None:
    if outcome.status == "PASS":
        out.write(f"PASS {outcome.path}\n")
        return
    out.write(f"{outcome.status} {_where(outcome)}: {outcome.reason}\n")
    if outcome.status != "FAIL":
        return
    if outcome.expected:
        out.write(f"    script:  {outcome.expected}\n")
    if outcome.actual:
        out.write(f"    tcplab:  {outcome.actual}\n")
    if outcome.recent:
        out.write("    last events:\n")
        for line in outcome.recent:
            out.write(f"      {line}\n")


def skip_report(skipped: list[Any]) -> list[str]:
    """The skip reasons, most frequent first, each with its count and (some of) its scripts."""
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for outcome in skipped:
        groups[outcome.reason].append(_where(outcome))

    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    lines = [f"skipped, by reason ({n(len(skipped), 'script')}, {n(len(groups), 'reason')}):"]
    for reason, places in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        lines.append(f"  {len(places):4d}  {reason}")
        shown = places[:3]
        more = f" (and {len(places) - 3} more)" if len(places) > 3 else ""
        lines.append("        " + ", ".join(shown) + more)
    return lines


def run(args: argparse.Namespace) -> int:
    from tcplab.drill import run_file

    profile, compare = args.profile, args.compare
    if profile in _LEGACY_PROFILES:
        if compare is not None and compare != profile:
            raise CLIError(f"--profile {profile} is the old spelling of --compare {profile}; give one of them")
        sys.stderr.write(f"note: --profile {profile} is now --compare {profile} (profiles: linux, freebsd, rfc)\n")
        profile, compare = "linux", profile
    compare = compare or "strict"
    defines = _defines(args.defines)
    files = _collect(args.paths)
    for name in ("tolerance_usecs", "mss", "mtu"):
        value = getattr(args, name)
        if value is not None and value <= (-1 if name == "tolerance_usecs" else 0):
            raise CLIError(
                f"--{name.replace('_', '-')} must be {'0 or more' if name == 'tolerance_usecs' else 'positive'}"
            )
    if args.mtu is not None and args.mtu < 576:
        raise CLIError("--mtu must be at least 576 (RFC 791)")
    if args.trace:
        try:
            os.makedirs(args.trace, exist_ok=True)
        except OSError as exc:
            raise CLIError(f"--trace {args.trace}: {exc.strerror}") from None
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0, "ERROR": 0}
    skipped: list[Any] = []
    used: set[str] = set()
    out = sys.stdout
    echo_to = sys.stderr if args.json else out

    def echo(line: str) -> None:
        echo_to.write(f"  {line}\n")

    for path in files:
        if args.verbose:
            echo_to.write(f"{path}:\n")
        outcome = run_file(
            path,
            profile,
            defines,
            args.tolerance_usecs,
            args.strict_segments,
            compare=compare,
            mss=args.mss,
            mtu=args.mtu,
            echo=echo if args.verbose else None,
        )
        counts[outcome.status] += 1
        if outcome.status == "SKIP":
            skipped.append(outcome)
        if args.trace:
            write_trace(outcome, args.trace, _trace_name(path, used))
        if args.json:
            out.write(json.dumps(outcome.as_dict()) + "\n")
        else:
            _print(out, outcome)
    summary = f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped"
    if counts["ERROR"]:
        summary += f", {counts['ERROR']} broken"
    lines = [summary] + (skip_report(skipped) if args.skip_report else [])
    (sys.stderr if args.json else out).write("\n".join(lines) + "\n")
    if counts["ERROR"]:
        return 2
    return 1 if counts["FAIL"] else 0

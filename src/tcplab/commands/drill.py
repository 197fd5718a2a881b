"""``tcplab drill``: run packetdrill-language scripts against tcplab."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from tcplab.cli import CLIError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "drill",
        help="run packetdrill-language scripts (.pkt) against tcplab",
        description="Run packetdrill-language scripts against a fresh tcplab host on a virtual "
        "clock: the script plays the remote peer. One line per script (PASS, FAIL, "
        "SKIP); exit status 0 only when nothing failed.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="script files, or directories searched for *.pkt")
    p.add_argument(
        "--profile",
        choices=("strict", "portable"),
        default="strict",
        help="strict: compare as packetdrill does; portable: options by meaning, "
        "PSH and window not compared (default: strict)",
    )
    p.add_argument(
        "-D",
        dest="defines",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="define NAME (replaces the word NAME in scripts; enables #ifdef NAME)",
    )
    p.add_argument(
        "--tolerance-usecs",
        type=int,
        default=None,
        metavar="N",
        help="timing tolerance in microseconds (default: the script's, else 4000)",
    )
    p.add_argument(
        "--strict-segments", action="store_true", default=None, help="one emitted segment per outbound script line"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per script")
    p.add_argument("--trace", metavar="DIR", help="write each script's ladder SVG and JSON Lines trace into DIR")
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


def run(args: argparse.Namespace) -> int:
    from tcplab.drill import run_file

    defines = _defines(args.defines)
    files = _collect(args.paths)
    if args.tolerance_usecs is not None and args.tolerance_usecs < 0:
        raise CLIError("--tolerance-usecs must be 0 or more")
    if args.trace:
        try:
            os.makedirs(args.trace, exist_ok=True)
        except OSError as exc:
            raise CLIError(f"--trace {args.trace}: {exc.strerror}") from None
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    used: set[str] = set()
    out = sys.stdout
    for path in files:
        outcome = run_file(path, args.profile, defines, args.tolerance_usecs, args.strict_segments)
        counts[outcome.status] += 1
        if args.trace:
            write_trace(outcome, args.trace, _trace_name(path, used))
        if args.json:
            out.write(json.dumps(outcome.as_dict()) + "\n")
            continue
        if outcome.status == "PASS":
            out.write(f"PASS {path}\n")
        elif outcome.status == "SKIP":
            out.write(f"SKIP {path}: {outcome.reason}\n")
        else:
            where = f":{outcome.line}" if outcome.line else ""
            out.write(f"FAIL {path}{where}: {outcome.reason}\n")
            if outcome.expected:
                out.write(f"    script:  {outcome.expected}\n")
            if outcome.actual:
                out.write(f"    tcplab:  {outcome.actual}\n")
            if outcome.recent:
                out.write("    last events:\n")
                for line in outcome.recent:
                    out.write(f"      {line}\n")
    summary = f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped"
    if args.json:
        sys.stderr.write(summary + "\n")
    else:
        out.write(summary + "\n")
    return 1 if counts["FAIL"] else 0

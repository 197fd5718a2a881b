"""``tcplab demo``: the classic TCP stories, played on the simulated network.

    tcplab demo                         list the scenarios, one line each
    tcplab demo simultaneous-close      the ladder diagram, the outcome, the transitions taken
    tcplab demo handshake --json        the trace as JSON Lines instead of the ladder
    tcplab demo lossy-transfer --seed 3 --loss 0.1 --pcap out.pcap
    tcplab demo --all --report out/     one HTML page per scenario and an index

No privileges needed: everything runs on ``tcplab.net.sim`` in virtual time.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import textwrap
from typing import Any
from urllib.parse import urlencode

from tcplab.cli import CLIError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="play the classic TCP stories on the simulated network",
        description="Play a named TCP story (handshake, simultaneous-close, refused, ...) on the "
        "built-in simulated network and show it: a ladder diagram with each end's "
        "states, the outcome, the transitions taken. Without NAME, list the stories.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="the scenario to play (omit to list)")
    p.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the simulated network's randomness (default 0)"
    )
    p.add_argument(
        "--loss",
        type=float,
        default=None,
        metavar="P",
        help="packet loss probability on the link, 0 to 1 (default: the story's)",
    )
    p.add_argument(
        "--delay", type=float, default=None, metavar="MS", help="one-way link delay in milliseconds (default 50)"
    )
    p.add_argument("--ladder-svg", metavar="FILE", help="also write the ladder diagram as SVG")
    p.add_argument(
        "--diagram-svg", metavar="FILE", help="also write the state diagram (transitions taken highlighted) as SVG"
    )
    p.add_argument("--tsg-svg", metavar="FILE", help="also write the time-sequence graph (with cwnd and RTT) as SVG")
    p.add_argument(
        "--pcap",
        metavar="FILE",
        help="also write every packet, when sent, to a capture: pcapng with a comment on each lost, "
        "duplicated, corrupted or delayed one (classic pcap, without them, if FILE ends in .pcap)",
    )
    p.add_argument("--json", action="store_true", help="print the trace as JSON Lines instead of the ladder")
    p.add_argument("--all", action="store_true", help="run every scenario (with --report)")
    p.add_argument(
        "--report", metavar="DIR", help="write an HTML report (index.html and one page per scenario) into DIR"
    )
    p.set_defaults(func=run)


def _scenarios() -> dict[str, Any]:
    from tcplab.scenarios import SCENARIOS

    return SCENARIOS


def list_scenarios(out: Any) -> None:
    scenarios = _scenarios()
    width = max(len(name) for name in scenarios)
    for name, sc in scenarios.items():
        out.write(f"{name:<{width}}  {sc.description}\n")
    out.write("\nPlay one with: tcplab demo NAME  (options: tcplab demo --help)\n")


def _check(args: argparse.Namespace) -> None:
    if args.loss is not None and not (math.isfinite(args.loss) and 0.0 <= args.loss <= 1.0):
        raise CLIError(f"--loss must be a probability between 0 and 1, got {args.loss:g}")
    if args.delay is not None and not (math.isfinite(args.delay) and 0.0 <= args.delay <= 60_000):
        raise CLIError(f"--delay must be between 0 and 60000 milliseconds, got {args.delay:g}")
    if args.all and args.name:
        raise CLIError("give a scenario NAME or --all, not both")
    if args.all and not args.report:
        raise CLIError("--all needs --report DIR (one HTML page per scenario)")
    if args.all and (args.json or args.ladder_svg or args.diagram_svg or args.tsg_svg or args.pcap):
        raise CLIError(
            "--all writes an HTML report only; --json, --ladder-svg, --diagram-svg, --tsg-svg "
            "and --pcap need a single scenario NAME"
        )
    if args.name is not None and args.name not in _scenarios():
        raise CLIError(f"unknown scenario {args.name!r}; 'tcplab demo' lists the {len(_scenarios())} scenarios")


def play(name: str, seed: int = 0, loss: float | None = None, delay_ms: float | None = None, tap: Any = None) -> Any:
    """Run scenario ``name``; a story that cannot finish under the given impairments is a
    CLIError (one line)."""
    from tcplab.net.sim import SimulationError
    from tcplab.net.simhost import SimulationStalled

    sc = _scenarios()[name]
    kwargs: dict[str, Any] = {"seed": seed}
    if loss is not None:
        kwargs["loss"] = loss  # replaces the story's own loss (lossy-transfer: 5 %)
    if delay_ms is not None:
        kwargs["delay"] = delay_ms / 1000.0
    if tap is not None:
        kwargs["tap"] = tap
    try:
        return sc.run(**kwargs)
    except (OSError, AssertionError, SimulationStalled, SimulationError) as exc:
        what = str(exc) or type(exc).__name__
        raise CLIError(
            f"scenario {name} could not finish (seed {seed}"
            f"{f', loss {loss:g}' if loss else ''}): {what}; try another --seed or "
            "a smaller --loss"
        ) from None


def _write(path: str, text: str, what: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise CLIError(f"cannot write the {what} to {path}: {exc.strerror or exc}") from None


def transitions_text(run_: Any, width: int = 100) -> str:
    """The transitions each endpoint took, one connection per line."""
    lines = ["transitions:"]
    current: dict[tuple[str, str], list[str]] = {}
    order: list[list[str]] = []
    for e in run_.events:
        if e["kind"] != "state":
            continue
        key = (e.get("host", ""), e.get("conn", ""))
        parts = current.get(key)
        if parts is None or parts[-1].endswith("CLOSED") or not parts[-1].endswith(e["from"]):
            parts = current[key] = [f"{key[0]} {key[1]}:", e["from"]]
            order.append(parts)
        parts.append(f"-[{e['cause']}]-> {e['to']}")
    for parts in order:
        lines.append(
            textwrap.fill(
                " ".join(parts),
                width=width,
                initial_indent="  ",
                subsequent_indent="      ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines) + "\n"


def _terminal_width(out: Any) -> int:
    try:
        if out.isatty():
            return max(80, min(shutil.get_terminal_size().columns, 160))
    except (AttributeError, ValueError, OSError):
        pass
    return 100


def run(args: argparse.Namespace) -> int:
    _check(args)
    out = sys.stdout
    if args.all:
        return write_report(args.report, list(_scenarios()), args.seed, args.loss, args.delay, out)
    if args.name is None:
        if args.report or args.json or args.ladder_svg or args.diagram_svg or args.tsg_svg or args.pcap:
            raise CLIError("which scenario? give a NAME ('tcplab demo' lists them) or --all")
        list_scenarios(out)
        return 0

    tap = None
    if args.pcap:
        from tcplab.net.capture import open_writer

        try:
            tap = open_writer(args.pcap)
        except OSError as exc:
            raise CLIError(f"cannot write the pcap file {args.pcap}: {exc.strerror or exc}") from None
    try:
        result = play(args.name, args.seed, args.loss, args.delay, tap)
    finally:
        if tap is not None:
            tap.close()

    sc = _scenarios()[args.name]
    if args.ladder_svg:
        from tcplab.trace.svg_ladder import render_ladder_svg

        _write(
            args.ladder_svg,
            render_ladder_svg(result.events, sc.left, sc.right, title=f"{sc.name}: {sc.description}"),
            "ladder SVG",
        )
    if args.diagram_svg:
        from tcplab.trace.diagram import render_state_diagram_svg, transitions_from_events

        taken = transitions_from_events(result.events, strict=False)
        _write(
            args.diagram_svg,
            render_state_diagram_svg(taken, title=f"{sc.name}: the transitions both ends took"),
            "state diagram SVG",
        )
    if args.tsg_svg:
        from tcplab.graph.flows import segments_from_events
        from tcplab.graph.tsg import GraphError, render_tsg_svg

        try:
            svg = render_tsg_svg(segments_from_events(result.events), result.events,
                                 title=f"{sc.name}: {sc.description}")  # fmt: skip
        except GraphError as exc:
            raise CLIError(f"{sc.name}: {exc}") from None
        _write(args.tsg_svg, svg, "time-sequence graph")
    if args.report:
        write_report(args.report, [args.name], args.seed, args.loss, args.delay, None)

    if args.json:
        from tcplab.trace.events import EPOCH, clock_event, write_jsonl

        write_jsonl([clock_event(EPOCH, "simulator"), *result.events], out)
        return 0
    from tcplab.trace.ladder import render_ladder

    out.write(f"{sc.name}: {sc.description}\n\n")
    out.write(render_ladder(result.events, sc.left, sc.right, color=None, width=_terminal_width(out)))
    out.write(f"\noutcome: {result.summary}\n")
    out.write(transitions_text(result, _terminal_width(out)))
    return 0


def write_report(
    directory: str,
    names: list[str],
    seed: int,
    loss: float | None,
    delay: float | None,
    out: Any,
) -> int:
    """One page per story, with its capture (pcapng), JSON trace and time-sequence graph
    written beside it and linked, and a link that opens the story in ``tcplab lab``."""
    from tcplab.commands.lab import DEFAULT_PORT
    from tcplab.graph.flows import segments_from_events
    from tcplab.graph.tsg import GraphError, render_tsg_svg
    from tcplab.net.pcapng import PcapngWriter
    from tcplab.trace.events import EPOCH, clock_event, write_jsonl
    from tcplab.trace.report import slugify
    from tcplab.trace.report import write_report as _write_report

    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot write the report into {directory}: {exc.strerror or exc}") from None
    pages = []
    for name in names:
        sc = _scenarios()[name]
        slug = slugify(sc.name)
        capture = os.path.join(directory, f"{slug}.pcapng")
        try:
            with PcapngWriter(capture) as tap:
                result = play(name, seed, loss, delay, tap)  # (played again: the capture sees it all)
            with open(os.path.join(directory, f"{slug}.jsonl"), "w", encoding="utf-8") as f:
                write_jsonl([clock_event(EPOCH, "simulator"), *result.events], f)
            graph = render_tsg_svg(segments_from_events(result.events), result.events,
                                   title=f"{sc.name}: {sc.description}")  # fmt: skip
            with open(os.path.join(directory, f"{slug}-tsg.svg"), "w", encoding="utf-8") as f:
                f.write(graph)
        except GraphError:
            graph = ""
        except OSError as exc:
            raise CLIError(f"cannot write the report into {directory}: {exc.strerror or exc}") from None
        lab = f"http://127.0.0.1:{DEFAULT_PORT}/?" + urlencode({"story": sc.name, "seed": seed, "at": 0})
        links = [
            ("capture (pcapng)", f"{slug}.pcapng", "every packet when sent; Wireshark shows the losses"),
            ("trace (JSON Lines)", f"{slug}.jsonl", "the events"),
            ("time-sequence graph (SVG)", f"{slug}-tsg.svg", ""),
            ("open in the lab", lab, "with tcplab lab running: step it, then play by hand"),
        ]
        if not graph:
            links.pop(2)
        pages.append(
            {
                "name": sc.name,
                "description": sc.description,
                "explanation": f"{sc.explanation}\n\nWhat happened in this run: {result.summary}.",
                "events": result.events,
                "left": sc.left,
                "right": sc.right,
                "links": links,
                "graph_svg": graph,
            }
        )
    try:
        paths = _write_report(directory, pages, title="tcplab demo: the TCP stories")
    except OSError as exc:
        raise CLIError(f"cannot write the report into {directory}: {exc.strerror or exc}") from None
    if out is not None:
        out.write(f"wrote {len(paths) - 1} scenario pages and {os.path.join(directory, 'index.html')}\n")
    return 0

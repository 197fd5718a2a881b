"""``tcplab graph``: the time-sequence graph of a trace or a capture.

    tcplab graph run.jsonl -o run.svg          # a tcplab JSON trace (tcplab demo NAME --json)
    tcplab graph capture.pcap -o tsg.svg       # any pcap/pcapng: tcplab's, tcpdump's, tshark's
    tcplab graph capture.pcapng --sender 198.18.0.1 -o tsg.svg

The busiest data direction is drawn unless ``--sender`` names one (a host name, an address, or
address:port). A JSON trace adds the sender's congestion window and RTT/RTO panels.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from tcplab.cli import CLIError


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "graph",
        help="draw the time-sequence graph of a JSON trace or a pcap/pcapng capture",
        description="Draw the time-sequence graph (sequence numbers over time, ACK and window "
        "lines, SACK blocks, retransmissions and losses) of the busiest flow of a tcplab JSON "
        "trace or of a pcap/pcapng capture (tcpdump's and tshark's too). A JSON trace also gives "
        "the sender's cwnd/ssthresh and RTT/RTO over time.",
    )
    p.add_argument("file", metavar="FILE", help="a JSON Lines trace, a pcap or a pcapng file")
    p.add_argument("-o", "--output", metavar="SVG", required=True, help="where to write the SVG")
    p.add_argument("--sender", metavar="WHO", help="the data sender to draw: host name, address or address:port")
    p.add_argument("--title", metavar="TEXT", help="the title (default: the file's name)")
    p.add_argument("--no-zoom", action="store_true", help="no close-up of the first loss")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tcplab.graph.flows import TraceFileError, load
    from tcplab.graph.tsg import GraphError, render_tsg_svg

    try:
        loaded = load(args.file)
    except TraceFileError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    title = args.title or f"{os.path.basename(args.file)} ({loaded.kind})"
    try:
        svg = render_tsg_svg(loaded.segments, loaded.events, title=title, sender=args.sender, zoom=not args.no_zoom)
    except GraphError as exc:
        raise CLIError(f"{args.file}: {exc}") from None
    try:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(svg)
    except OSError as exc:
        raise CLIError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"wrote {args.output}")
    return 0

"""``tcplab lab``: TCP in the browser, served on 127.0.0.1.

    tcplab lab                 # http://127.0.0.1:9580/
    tcplab lab --port 8000

Needs Flask (``pip install 'tcplab[lab]'``). The server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any

from tcplab.cli import CLIError

DEFAULT_PORT = 9580


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "lab",
        help="TCP in the browser: two endpoints, a network, a live ladder and the state diagram",
        description="Serve the lab on 127.0.0.1 and print its URL: two endpoints on the simulated "
        "network with buttons for the user calls and the network, a live ladder diagram, RFC "
        "9293's state diagram with the state and the edge just taken, the demo stories stepped "
        "segment by segment, and a URL that replays what was played.",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N", help=f"port (default {DEFAULT_PORT})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 < args.port <= 0xFFFF:
        raise CLIError(f"--port must be 1..65535, not {args.port}")
    try:
        from werkzeug.serving import make_server

        from tcplab.lab.app import create_app
    except ImportError as exc:
        raise CLIError(f"tcplab lab needs Flask ({exc.name} is missing): pip install 'tcplab[lab]'") from None
    try:  # our own listening socket: werkzeug would print its own lines and exit 1
        sock = socket.create_server(("127.0.0.1", args.port))
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise CLIError(f"cannot listen on 127.0.0.1:{args.port}: {why}; try --port N") from None
    sock.set_inheritable(True)
    server = make_server("127.0.0.1", args.port, create_app(), threaded=True, fd=sock.fileno())
    print(f"tcplab lab: http://127.0.0.1:{sock.getsockname()[1]}/  (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sock.close()
    print("tcplab lab: stopped", file=sys.stderr)
    return 0

"""The ``tcplab`` command.

Each subcommand lives in ``tcplab.commands.<name>`` and provides ``add_parser(subparsers)``
(which registers the subparser and sets ``func``) and the function it registers. Errors the user
can fix are raised as ``CLIError`` and printed as one line, exit status 2, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from tcplab import __version__

# Order of appearance in `tcplab --help`.
COMMANDS = ("demo", "graph", "lab", "netstat", "serve", "connect", "run", "drill", "watch")


class CLIError(Exception):
    """A problem the user can fix: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one clear line, exit 2 (argparse prints usage too)
        self.exit(2, f"tcplab: error: {message} (see 'tcplab --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tcplab", description="A TCP/IP stack in pure Python that shows what it does.")
    parser.add_argument("--version", action="version", version=f"tcplab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"tcplab.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"tcplab: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

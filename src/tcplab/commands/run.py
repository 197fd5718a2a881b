"""``tcplab run --tun NAME ... -- python prog.py ARGS``: an unmodified Python program on a tcplab
host -- its TCP sockets are tcplab's (``tcplab.patch``) while the kernel, curl and nc talk to it
over the TUN device.

    sudo tcplab run --tun tlab0 -- python -m http.server 8080
    curl http://198.18.0.2:8080/              # another terminal: the kernel's TCP is the client

The program runs in this process (``python prog.py``, ``python -m module`` or ``python -c
CODE``), with the TUN loop in a thread of its own. TCP sockets bound to the wildcard or to the
tcplab host's address, and connections to the link's subnet, are tcplab's; everything else --
DNS, UDP, Unix sockets, 127.0.0.1 -- stays on the kernel. The exit status is the program's.
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import Any

from tcplab.commands.tunhost import TunHost, add_tun_arguments

_PYTHONS = ("python", "python3", os.path.basename(sys.executable))


def _target(argv: list[str]) -> tuple[str, str, list[str]]:
    """``(kind, what, argv)`` for ``python prog.py ...`` / ``-m module ...`` / ``-c code ...``."""
    from tcplab.cli import CLIError

    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise CLIError("give the program after '--': tcplab run --tun NAME -- python prog.py")
    if os.path.basename(argv[0]) not in _PYTHONS and not argv[0].startswith("python"):
        raise CLIError(
            f"tcplab run runs Python programs in its own process: give 'python prog.py', "
            f"'python -m module' or 'python -c code', not {argv[0]!r}"
        )
    rest = argv[1:]
    if not rest:
        raise CLIError("tcplab run needs a program: python prog.py, python -m module or python -c code")
    if rest[0] == "-m" and len(rest) > 1:
        return "module", rest[1], [rest[1], *rest[2:]]
    if rest[0] == "-c" and len(rest) > 1:
        return "code", rest[1], ["-c", *rest[2:]]
    if rest[0].startswith("-"):
        raise CLIError(f"tcplab run does not take Python option {rest[0]!r}: give prog.py, -m or -c")
    if not os.path.exists(rest[0]):
        raise CLIError(f"no such program: {rest[0]}")
    return "path", rest[0], rest


def _run_program(kind: str, what: str, argv: list[str]) -> int:
    old_argv = sys.argv
    sys.argv = argv
    try:
        if kind == "module":
            runpy.run_module(what, run_name="__main__", alter_sys=True)
        elif kind == "path":
            runpy.run_path(what, run_name="__main__")
        else:
            exec(compile(what, "<string>", "exec"), {"__name__": "__main__"})
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    finally:
        sys.argv = old_argv
    return 0


def run_program(args: Any) -> int:
    import tcplab
    from tcplab.socket import set_default_host

    kind, what, argv = _target(list(args.program))
    tun = TunHost(args)
    patch = None
    try:
        tun.runtime.start()
        patch = tcplab.patch(tun.host, routes=tun.link.networks())
        set_default_host(tun.host)
        where = ", ".join(tun.link.host_addresses())
        print(f"tcplab: running {what} on tcplab host {where} via {args.tun} (stack {tun.name})", file=sys.stderr)
        try:
            return _run_program(kind, what, argv)
        except KeyboardInterrupt:
            return 130
    finally:
        if patch is not None:
            patch.undo()
        set_default_host(None)
        tun.settle(3.0)
        tun.close()


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run an unmodified Python program on a tcplab host over TUN",
        description=__doc__.split("\n\n")[0],
    )
    add_tun_arguments(p)
    p.add_argument("program", nargs="+", metavar="-- python PROGRAM", help="python prog.py | -m module | -c code")
    p.set_defaults(func=run_program)

"""The checks a script must pass before it runs: every system call and every constant it names
must be one a packetdrill knows. A typo is a broken script (exit status 2, the place named),
never a SKIP; a real name tcplab has no use for is left to the runner, which SKIPs naming it."""

from __future__ import annotations

from tcplab.drill import ast as A
from tcplab.drill.scanner import DrillSyntaxError
from tcplab.drill.symbols import known, suggestion

# System calls of Linux's and FreeBSD's packetdrill (run_system_call.c's tables).
KNOWN_SYSCALLS = frozenset(
    [
        "socket",
        "bind",
        "listen",
        "accept",
        "accept4",
        "connect",
        "read",
        "readv",
        "recv",
        "recvfrom",
        "recvmsg",
        "recvmmsg",
        "write",
        "writev",
        "send",
        "sendto",
        "sendmsg",
        "sendmmsg",
        "sendfile",
        "close",
        "shutdown",
        "getsockopt",
        "setsockopt",
        "poll",
        "fcntl",
        "ioctl",
        "epoll_create",
        "epoll_create1",
        "epoll_ctl",
        "epoll_wait",
        "pipe",
        "splice",
        "open",
        "getsockname",
        "getpeername",
        "sctp_sendmsg",
        "sctp_recvmsg",
        "sctp_bindx",
        "sctp_connectx",
        "sctp_peeloff",
        "sctp_getpaddrs",
        "sctp_freepaddrs",
        "sctp_getladdrs",
        "sctp_freeladdrs",
        "sctp_send",
        "sctp_sendx",
        "sctp_sendv",
        "sctp_recvv",
        "sctp_opt_info",
        "sctp_getassocid",
    ]
)

# Helpers written like calls inside arguments (``htons(8080)``).
KNOWN_HELPERS = frozenset(["htons", "htonl", "inet_addr", "inet6_addr", "CMSG_LEN", "CMSG_SPACE"])


def check_script(script: A.Script) -> None:
    """Raise DrillSyntaxError at the first name no packetdrill knows."""
    for ev in script.events:
        body = ev.body
        if not isinstance(body, A.Syscall):
            continue
        if body.name not in KNOWN_SYSCALLS:
            raise DrillSyntaxError(
                script.path, ev.line, body.name_column, f"unknown system call {body.name}() (no packetdrill has it)"
            )
        for expr in (*body.args, body.result):
            _check_expr(script.path, ev, expr)
        if body.errno is not None and not known(body.errno):
            raise DrillSyntaxError(
                script.path,
                ev.line,
                _column(script, ev, body.errno),
                f"unknown errno {body.errno}{suggestion(body.errno)}",
            )


def _column(script: A.Script, ev: A.Event, word: str) -> int:
    """The column of the last ``word`` on the event's line (else the event's column)."""
    text = script.lines[ev.line - 1] if 0 < ev.line <= len(script.lines) else ""
    at = text.rfind(word)
    return at + 1 if at >= 0 else ev.column


def _check_expr(path: str, ev: A.Event, expr: A.Expr) -> None:
    if isinstance(expr, A.Symbol):
        if not known(expr.name):
            raise DrillSyntaxError(
                path,
                expr.line or ev.line,
                expr.column or ev.column,
                f"unknown constant {expr.name}{suggestion(expr.name)} (no packetdrill knows it)",
            )
    elif isinstance(expr, A.BitOr | A.Array | A.Call):
        if isinstance(expr, A.Call) and expr.name not in KNOWN_HELPERS:
            raise DrillSyntaxError(path, ev.line, ev.column, f"unknown helper {expr.name}()")
        for item in expr.terms if isinstance(expr, A.BitOr) else expr.items if isinstance(expr, A.Array) else expr.args:
            _check_expr(path, ev, item)
    elif isinstance(expr, A.Struct):
        for _key, value in (*expr.fields, *expr.sizes):
            _check_expr(path, ev, value)

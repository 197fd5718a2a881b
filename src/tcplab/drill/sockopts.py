"""``setsockopt``/``getsockopt``, ``fcntl`` and ``ioctl`` of the system-call table: the script's
names and numbers (its ABI's) decoded, handed to :mod:`tcplab.socket` in Linux's numbers, and
the values it hands back compared in the script's numbers."""

from __future__ import annotations

import errno as _errno
import struct
from typing import Any

from tcplab.drill import ast as A
from tcplab.drill.calls import Calls, syscall
from tcplab.drill.outcome import Broken, Fail, Skip
from tcplab.drill.symbols import LINUX

# level name -> the namespace of its option names
_LEVELS = {
    "SOL_SOCKET": "so",
    "IPPROTO_TCP": "tcp",
    "SOL_TCP": "tcp",
    "IPPROTO_IP": "ip",
    "SOL_IP": "ip",
    "IPPROTO_IPV6": "ipv6",
    "SOL_IPV6": "ipv6",
}
_LINUX_LEVEL = {"so": "SOL_SOCKET", "tcp": "SOL_TCP", "ip": "SOL_IP", "ipv6": "SOL_IPV6"}
# Options whose value is an errno (compared by name across ABIs).
_ERRNO_OPTIONS = ("SO_ERROR",)


def _option(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> tuple[str, int, int]:
    """(option name, Linux level, Linux option number)."""
    abi = c.ctx.abi
    level = c.int_arg(ev, args, 1, "the level")
    level_name = abi.name_of("level", level) or abi.name_of("proto", level)
    namespace = _LEVELS.get(level_name or "")
    if namespace is None:
        raise Skip(f"socket options at level {level_name or level} (tcplab has TCP sockets only)", ev.line)
    number = c.int_arg(ev, args, 2, "the option name")
    name = abi.name_of(namespace, number)
    if name is None:
        raise Skip(f"socket option {number} at level {level_name} (not one {abi.name} has)", ev.line)
    linux = LINUX.number(name)
    if linux is None:
        raise Skip(f"socket option {name} ({abi.name} only): tcplab has Linux's options", ev.line)
    linux_level = LINUX.number(_LINUX_LEVEL[namespace])
    assert linux_level is not None
    return name, linux_level, linux


def _set_value(c: Calls, ev: A.Event, name: str, expr: A.Expr) -> Any:
    value = c.value(ev, expr)
    if isinstance(value, list):
        value = value[0] if value else 0
    if isinstance(value, dict):
        onoff = value.get("onoff", value.get("l_onoff"))
        linger = value.get("linger", value.get("l_linger"))
        if onoff is None or linger is None:
            raise Skip(f"setsockopt({name}) with this struct", ev.line)
        return (int(onoff), int(linger))
    if isinstance(value, str):
        return value.encode()
    if value is ...:
        raise Broken(f"setsockopt({name}) needs a value", ev.line)
    return value


@syscall("setsockopt")
def _setsockopt(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> int:
    sock = c.sock(ev, args)
    name, level, opt = _option(c, ev, args)
    value = _set_value(c, ev, name, args[3] if len(args) > 3 else A.Int(0))
    try:
        sock.setsockopt(level, opt, value)
    except OSError as exc:
        if exc.errno == _errno.ENOPROTOOPT:
            raise Skip(f"socket option {name}: tcplab has none", ev.line) from None
        raise
    return 0


def _getsockopt_value(sock: Any, name: str, level: int, opt: int, text: bool) -> Any:
    if name == "SO_LINGER":
        onoff, linger = struct.unpack("ii", sock.getsockopt(level, opt, 8))
        return {"onoff": onoff, "linger": linger}
    if text:  # a string option (TCP_CONGESTION): its bytes, up to the NUL
        return bytes(sock.getsockopt(level, opt, 64)).split(b"\0", 1)[0].decode("latin-1")
    return sock.getsockopt(level, opt)


@syscall("getsockopt")
def _getsockopt(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    name, level, opt = _option(c, ev, args)
    want = args[3] if len(args) > 3 else A.Ellipsis_()
    try:
        got = _getsockopt_value(sock, name, level, opt, isinstance(want, A.String))
    except OSError as exc:
        if exc.errno == _errno.ENOPROTOOPT:
            raise Skip(f"socket option {name}: tcplab has none", ev.line) from None
        raise
    if name in _ERRNO_OPTIONS and isinstance(got, int) and got:
        got = c.ctx.abi.from_linux("errno", got)

    def check() -> None:
        expected = c.value(ev, want)
        if isinstance(expected, list):
            expected = expected[0] if expected else ...
        if isinstance(expected, dict) and isinstance(got, dict):
            expected = {k.replace("l_", ""): v for k, v in expected.items()}
        if expected is not ... and expected != got:
            raise Fail(ev, f"getsockopt({name}) value {_shown(got)}, expected {_shown(expected)}", f"value {got}")

    def _shown(value: Any) -> str:
        if name in _ERRNO_OPTIONS and isinstance(value, int) and value:
            return f"{value} ({c.ctx.abi.name_of('errno', value) or 'unknown errno'})"
        return str(value)

    return (0, check)


# ---- fcntl ------------------------------------------------------------------------------------
@syscall("fcntl")
def _fcntl(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    fd = c.int_arg(ev, args, 0, "a file descriptor")
    abi = c.ctx.abi
    cmd = abi.name_of("fcntl", c.int_arg(ev, args, 1, "the command"))
    if cmd == "F_GETFL":
        flags = LINUX.number("O_RDWR") or 0
        if not sock.getblocking():
            flags |= LINUX.number("O_NONBLOCK") or 0
        return abi.flags_from_linux("oflags", flags)
    if cmd == "F_SETFL":
        value = c.int_arg(ev, args, 2, "the flags") if len(args) > 2 else 0
        linux = c.linux_flags(ev, "oflags", value, {"O_ASYNC": "signal-driven I/O (O_ASYNC)"})
        sock.setblocking(not linux & (LINUX.number("O_NONBLOCK") or 0))
        return 0
    if cmd == "F_GETFD":
        return c.cloexec.get(fd, 0)
    if cmd == "F_SETFD":
        c.cloexec[fd] = (c.int_arg(ev, args, 2, "the flags") if len(args) > 2 else 0) & 1
        return 0
    raise Skip(f"fcntl({cmd or 'command'}) on a socket", ev.line)


# ---- ioctl ------------------------------------------------------------------------------------
@syscall("ioctl")
def _ioctl(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    abi = c.ctx.abi
    number = c.int_arg(ev, args, 1, "the request")
    name = abi.name_of("ioctl", number)
    if name == "FIONBIO":
        on = c.int_arg(ev, args, 2, "the value") if len(args) > 2 else 0
        sock.setblocking(not on)
        return 0
    linux = LINUX.number(name) if name else None
    if linux is None:
        raise Skip(f"ioctl({name or hex(number)}) on a socket", ev.line)
    try:
        got = sock.core.ioctl(linux)
    except OSError as exc:
        if exc.errno == _errno.ENOTTY and name in ("FIONREAD", "SIOCINQ", "SIOCOUTQ", "SIOCOUTQNSD"):
            raise Skip(f"ioctl({name}): tcplab's sockets do not answer it", ev.line) from None
        raise
    want = args[2] if len(args) > 2 else A.Ellipsis_()

    def check() -> None:
        expected = c.value(ev, want)
        if isinstance(expected, list):
            expected = expected[0] if expected else ...
        if isinstance(expected, int) and expected != got:
            raise Fail(ev, f"ioctl({name}) value {got}, expected {expected}", f"value {got}")

    return (0, check)

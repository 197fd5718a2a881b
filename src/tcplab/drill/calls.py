"""The system-call table: each script call made on tcplab's sockets (:mod:`tcplab.socket`).

``HANDLERS`` maps a call's name to a function ``(calls, event, args) -> result``. A handler
returns the call's result (or ``(result, check)``: ``check()`` runs once the result matched, to
compare values the call hands back by reference), raises ``OSError`` with Linux's errno, raises
:class:`~tcplab.drill.outcome.Skip` naming what tcplab lacks, or -- for a call that may block --
returns a :class:`~tcplab.drill.clock.Step`, the restartable rest of the call.

Numbers come in as the script's ABI numbers them and go to the sockets as Linux's
(:mod:`tcplab.drill.symbols`). Conventions: ``...`` stands for the obvious value (the address
family, the local address 8080 for ``bind``, the script's address and port 8080 for ``connect``,
a zero-filled buffer for ``write``); script descriptors are labels for what tcplab returned.
This module holds the sockets' life and data calls; options, ``fcntl`` and ``ioctl`` are in
:mod:`tcplab.drill.sockopts`, ``poll`` and ``epoll`` in :mod:`tcplab.drill.polling`.
"""

from __future__ import annotations

import errno as _errno
import socket as _pysocket
from collections.abc import Callable
from typing import Any, Protocol

from tcplab.drill import ast as A
from tcplab.drill.clock import Blocked, Clock, Step
from tcplab.drill.flows import SERVER_PORT, Flows
from tcplab.drill.outcome import Broken, Fail, Skip
from tcplab.drill.symbols import LINUX, Abi
from tcplab.host import Host
from tcplab.socket import MSG_DONTWAIT, RecvCall, SendCall, Socket, Until, WouldBlock


class Context(Protocol):
    """What the system calls use of the run (the runner provides it)."""

    abi: Abi  # how the script numbers its constants
    clock: Clock
    flows: Flows  # the connection under test
    host: Host
    current: Any  # the socket %{ }% looks at
    local_ip: str
    remote_ip: str
    rules: Any  # the matcher's Rules (for v6)
    v6: bool  # IPv6 on the wire
    mapped: bool  # --ip_version=ipv4-mapped-ipv6: AF_INET6 sockets, IPv4-mapped addresses


Handler = Callable[["Calls", A.Event, tuple[A.Expr, ...]], Any]
HANDLERS: dict[str, Handler] = {}

# Calls a packetdrill knows that tcplab has no use for, and why.
LACKING = {
    "pipe": "pipes",
    "splice": "pipes",
    "sendfile": "files",
    "open": "files",
    "sendmmsg": "sendmmsg()",
    "recvmmsg": "recvmmsg()",
}


def syscall(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn

    return register


def _flag(linux_name: str) -> int:
    value = LINUX.number(linux_name)
    assert value is not None
    return value


MSG_OOB, MSG_PEEK, MSG_WAITALL = _flag("MSG_OOB"), _flag("MSG_PEEK"), _flag("MSG_WAITALL")
_SEND_LACKS = {"MSG_FASTOPEN": "TCP Fast Open (RFC 7413)", "MSG_ZEROCOPY": "MSG_ZEROCOPY", "MSG_OOB": "urgent data"}
_RECV_LACKS = {"MSG_ERRQUEUE": "the error queue (timestamping)", "MSG_OOB": "urgent data out of band"}


class Calls:
    """The system calls of one run (``ctx``: the runner, for the host, the clock, the ABI, the
    descriptor table and the connection under test)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.fds: dict[int, Any] = {}
        self.cloexec: dict[int, int] = {}  # FD_CLOEXEC, by descriptor

    # ---- values ---------------------------------------------------------------------------------
    def value(self, ev: A.Event, expr: A.Expr) -> Any:
        """An argument as the script's ABI numbers it (``...`` as Ellipsis)."""
        if isinstance(expr, A.Int):
            return expr.value
        if isinstance(expr, A.Symbol):
            number = self.ctx.abi.number(expr.name)
            if number is None:
                other = "freebsd" if self.ctx.abi.name == "linux" else "linux"
                raise Skip(
                    f"{expr.name} is not in {self.ctx.abi.name}'s headers (a script for {other}? "
                    f"run it with --profile {other})",
                    ev.line,
                )
            return number
        if isinstance(expr, A.BitOr):
            v = 0
            for term in expr.terms:
                v |= int(self.value(ev, term))
            return v
        if isinstance(expr, A.String):
            return expr.value
        if isinstance(expr, A.Array):
            return [self.value(ev, x) for x in expr.items]
        if isinstance(expr, A.Struct):
            return {k: self.value(ev, v) for k, v in expr.fields}
        if isinstance(expr, A.Call):
            args = [self.value(ev, a) for a in expr.args]
            if expr.name in ("htons", "htonl") and len(args) == 1:
                return args[0]
            if expr.name in ("inet_addr", "inet6_addr") and len(args) == 1:
                return args[0]
            raise Skip(f"the {expr.name}() helper in arguments", ev.line)
        return ...

    def int_arg(self, ev: A.Event, args: tuple[A.Expr, ...], i: int, what: str) -> int:
        if len(args) <= i:
            raise Broken(f"{ev.body.name}() needs {what} (argument {i + 1})", ev.line)  # type: ignore[union-attr]
        v = self.value(ev, args[i])
        if isinstance(v, list) and len(v) == 1:
            v = v[0]
        if not isinstance(v, int):
            raise Broken(f"{what} must be a number", ev.line)
        return v

    def linux_flags(self, ev: A.Event, namespace: str, value: int, lacks: dict[str, str]) -> int:
        """Flags in Linux's numbers; a flag tcplab cannot honour SKIPs naming it."""
        linux, missing = self.ctx.abi.flags_to_linux(namespace, value)
        if missing:
            raise Skip(f"{', '.join(missing)} ({namespace} flags Linux has not)", ev.line)
        names, rest = LINUX.flag_names(namespace, linux)
        for name in names:
            if name in lacks:
                raise Skip(f"{name}: tcplab has no {lacks[name]}", ev.line)
        if rest:
            raise Skip(f"{namespace} flags {rest:#x} (unknown bits)", ev.line)
        return linux

    # ---- descriptors ----------------------------------------------------------------------------
    def fd(self, ev: A.Event, args: tuple[A.Expr, ...], i: int = 0) -> tuple[int, Any]:
        fd = self.int_arg(ev, args, i, "a file descriptor")
        return fd, self.fds.get(fd)

    def sock(self, ev: A.Event, args: tuple[A.Expr, ...], i: int = 0) -> Socket:
        _fd, obj = self.fd(ev, args, i)
        if obj is None:
            raise OSError(_errno.EBADF, "Bad file descriptor")
        if not isinstance(obj, Socket):
            raise OSError(_errno.ENOTSOCK, "Socket operation on non-socket")
        return obj

    def op(self, sock: Socket, call: Callable[[], Any], dontwait: bool = False) -> Any:
        """A socket core call: a non-blocking socket (or MSG_DONTWAIT) gets its EAGAIN or
        EINPROGRESS; on a blocking one the call is parked until what it waits for can hold."""
        try:
            return call()
        except WouldBlock as wb:
            if dontwait or not sock.getblocking():
                raise
            core, until, amount = sock.core, wb.until, wb.amount
            raise Blocked(lambda: core.ready(until, amount), wb.deadline) from None

    def buffer(self, expr: A.Expr, length: int) -> bytes:
        if isinstance(expr, A.String):
            self.ctx.rules.zero_payloads = False
            return expr.value.encode("latin-1")[:length].ljust(length, b"\0")
        return bytes(length)

    # ---- data, shared by the calls that send and receive -------------------------------------
    def sending(self, sock: Socket, data: bytes, flags: int = 0) -> Step:
        """send(): a blocking socket queues every byte (Linux), a non-blocking one what fits."""
        dontwait = bool(flags & MSG_DONTWAIT)
        if dontwait or not sock.getblocking():
            return Step(lambda: self.op(sock, lambda: sock.core.send(data, flags), dontwait))
        call = SendCall(sock.core, data, flags)
        return Step(lambda: self.op(sock, call))

    def receiving(self, sock: Socket, length: int, flags: int = 0) -> Step:
        """recv(): the number of bytes read (a blocking socket waits for some)."""
        dontwait = bool(flags & MSG_DONTWAIT)
        if dontwait or not sock.getblocking():
            return Step(lambda: len(self.op(sock, lambda: sock.core.recv(length, flags), dontwait)))
        call = RecvCall(sock.core, length, flags)
        return Step(lambda: len(self.op(sock, call)))

    def send_flags(self, ev: A.Event, args: tuple[A.Expr, ...], i: int) -> int:
        return self.linux_flags(ev, "msg", self.int_arg(ev, args, i, "flags") if len(args) > i else 0, _SEND_LACKS)

    def recv_flags(self, ev: A.Event, args: tuple[A.Expr, ...], i: int) -> int:
        return self.linux_flags(ev, "msg", self.int_arg(ev, args, i, "flags") if len(args) > i else 0, _RECV_LACKS)

    def iov_total(self, ev: A.Event, iov: A.Expr | None, count: A.Expr | None = None) -> tuple[int, bytes | None]:
        """The bytes an ``[{..., N}, {iov_base=..., iov_len=N}]`` array describes, and its data
        (None: zeros)."""
        if not isinstance(iov, A.Array):
            raise Broken("an iovec array [{..., N}, ...] is expected", ev.line)
        if count is not None and not isinstance(count, A.Ellipsis_):
            n = self.value(ev, count)
            if n != len(iov.items):
                raise Broken(f"iov count {n} does not match the {len(iov.items)}-element iovec array", ev.line)
        total, parts = 0, []
        for item in iov.items:
            if not isinstance(item, A.Struct):
                raise Broken("each iovec is {iov_base, iov_len}", ev.line)
            base = item.get("iov_base") or item.get("0")
            size = item.get("iov_len") or item.get("1")
            n = int(self.value(ev, size)) if size is not None else 0
            total += n
            parts.append(self.buffer(base if base is not None else A.Ellipsis_(), n))
        return total, b"".join(parts)


def _strerror(code: int) -> str:
    import os

    return os.strerror(code)


# ---- socket life --------------------------------------------------------------------------------
@syscall("socket")
def _socket(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    abi = c.ctx.abi
    v6_socket = c.ctx.v6 or c.ctx.mapped
    family = abi.number("AF_INET6" if v6_socket else "AF_INET")
    if args and not isinstance(args[0], A.Ellipsis_):
        family = c.int_arg(ev, args, 0, "the address family")
    stype = c.int_arg(ev, args, 1, "the socket type")
    flags_mask = sum(abi.namespaces["sockflags"].values())
    kind = abi.name_of("socktype", stype & ~flags_mask)
    fam = abi.name_of("family", family or 0)
    if fam not in ("AF_INET", "AF_INET6"):
        raise OSError(_errno.EAFNOSUPPORT, "Address family not supported by protocol")
    if kind != "SOCK_STREAM":
        raise Skip(f"{kind or 'this socket type'} sockets (tcplab has TCP only)", ev.line)
    proto = c.int_arg(ev, args, 2, "the protocol") if len(args) > 2 else 0
    if abi.name_of("proto", proto) not in ("IPPROTO_TCP", "IPPROTO_IP"):
        raise Skip(f"{abi.name_of('proto', proto) or proto} sockets (tcplab has TCP only)", ev.line)
    if (fam == "AF_INET6") != v6_socket:
        raise Skip(f"an {fam} socket in an {'IPv4' if fam == 'AF_INET6' else 'IPv6'} script", ev.line)
    sock = Socket(c.ctx.host, _pysocket.AF_INET6 if fam == "AF_INET6" else _pysocket.AF_INET, _pysocket.SOCK_STREAM)
    nonblock = abi.number("SOCK_NONBLOCK") or 0
    sock.setblocking(not stype & nonblock)
    c.ctx.flows.new_socket(sock)
    c.ctx.current = sock
    return ("fd", sock)


def _address(c: Calls, ev: A.Event, args: tuple[A.Expr, ...], default: tuple[str, int]) -> tuple[str, int]:
    """``...`` or a ``{sa_family=..., sin_port=htons(P), sin_addr=inet_addr("A")}`` struct."""
    addr = args[1] if len(args) > 1 else A.Ellipsis_()
    if isinstance(addr, A.Ellipsis_):
        return default
    value = c.value(ev, addr)
    if isinstance(value, dict) and "sin_port" in value:
        return str(value.get("sin_addr", default[0])), int(value["sin_port"])
    if isinstance(value, int) and c.ctx.abi.name_of("family", value) == "AF_UNSPEC":
        raise Skip("connect() with AF_UNSPEC (disconnecting a socket)", ev.line)
    raise Broken('the address must be ... or {sa_family=..., sin_port=htons(N), sin_addr=inet_addr("A")}', ev.line)


def _sock_ip(c: Calls, ip: str) -> str:
    """An address as the script's sockets name it: IPv4-mapped in ipv4-mapped-ipv6 mode."""
    return f"::ffff:{ip}" if c.ctx.mapped else ip


@syscall("bind")
def _bind(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> int:
    sock = c.sock(ev, args)
    sock.bind(_address(c, ev, args, (_sock_ip(c, c.ctx.local_ip), SERVER_PORT)))
    return 0


@syscall("listen")
def _listen(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> int:
    sock = c.sock(ev, args)
    sock.listen(c.int_arg(ev, args, 1, "the backlog") if len(args) > 1 else 128)
    c.ctx.flows.listen(sock)
    return 0


@syscall("accept", "accept4")
def _accept(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    nonblock = c.ctx.abi.accept_inherits_nonblock and not sock.getblocking()
    if ev.body.name == "accept4" and len(args) > 3:  # type: ignore[union-attr]
        flags = c.int_arg(ev, args, 3, "flags")
        nonblock = bool(flags & (c.ctx.abi.number("SOCK_NONBLOCK") or 0))

    def accept() -> Any:
        core, _peer = c.op(sock, sock.core.accept)
        new = Socket.from_core(core)
        new.setblocking(not nonblock)
        c.ctx.current = new
        return ("fd", new)

    return Step(accept)


@syscall("connect")
def _connect(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    remote = _address(c, ev, args, (_sock_ip(c, c.ctx.remote_ip), SERVER_PORT))
    core = sock.core
    if core.connection is None:
        c.ctx.flows.connect(sock, remote[1])
    c.ctx.current = sock

    def connect() -> int:
        c.op(sock, lambda: core.connect(remote))
        return 0

    return Step(connect)


@syscall("close")
def _close(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    fd, obj = c.fd(ev, args)
    if obj is None:
        raise OSError(_errno.EBADF, "Bad file descriptor")
    del c.fds[fd]
    if not isinstance(obj, Socket):
        return 0
    core = obj.core

    def close() -> int:
        # SO_LINGER {1, n} waits for the FIN's ACK even with O_NONBLOCK (Linux inet_release).
        try:
            core.close()
        except WouldBlock as wb:
            raise Blocked(lambda: core.ready(Until.DRAINED), wb.deadline) from None
        return 0

    return Step(close)


@syscall("shutdown")
def _shutdown(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> int:
    sock = c.sock(ev, args)
    how = c.ctx.abi.to_linux("shut", c.int_arg(ev, args, 1, "how"))
    if how is None:
        raise OSError(_errno.EINVAL, "Invalid argument")
    sock.shutdown(how)
    return 0


@syscall("getsockname", "getpeername")
def _sockname(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> int:
    sock = c.sock(ev, args)
    (sock.getsockname if ev.body.name == "getsockname" else sock.getpeername)()  # type: ignore[union-attr]
    return 0


# ---- data ---------------------------------------------------------------------------------------
@syscall("write")
def _write(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    length = c.int_arg(ev, args, 2, "the length")
    return c.sending(sock, c.buffer(args[1], length))


@syscall("send", "sendto")
def _send(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    flags = c.send_flags(ev, args, 3)
    length = c.int_arg(ev, args, 2, "the length")
    return c.sending(sock, c.buffer(args[1], length), flags)


@syscall("writev")
def _writev(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    _total, data = c.iov_total(ev, args[1] if len(args) > 1 else None, args[2] if len(args) > 2 else None)
    return c.sending(sock, data or b"")


def _msghdr(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> A.Struct:
    msg = args[1] if len(args) > 1 else None
    if not isinstance(msg, A.Struct) or msg.get("msg_iov") is None:
        raise Broken("a msghdr {msg_name(...)=..., msg_iov(N)=[...], msg_flags=F} is expected", ev.line)
    control = msg.get("msg_control")
    empty = control is None or isinstance(control, A.Ellipsis_) or (isinstance(control, A.Array) and not control.items)
    if not empty:
        raise Skip("ancillary data (msg_control) on a TCP socket", ev.line)
    return msg


@syscall("sendmsg")
def _sendmsg(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    msg = _msghdr(c, ev, args)
    flags = c.send_flags(ev, args, 2)
    _total, data = c.iov_total(ev, msg.get("msg_iov"), msg.size("msg_iov"))
    return c.sending(sock, data or b"", flags)


@syscall("read")
def _read(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    return c.receiving(sock, c.int_arg(ev, args, 2, "the length"))


@syscall("recv", "recvfrom")
def _recv(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    flags = c.recv_flags(ev, args, 3)
    return c.receiving(sock, c.int_arg(ev, args, 2, "the length"), flags)


@syscall("readv")
def _readv(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    total, _data = c.iov_total(ev, args[1] if len(args) > 1 else None, args[2] if len(args) > 2 else None)
    return c.receiving(sock, total)


@syscall("recvmsg")
def _recvmsg(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    sock = c.sock(ev, args)
    msg = _msghdr(c, ev, args)
    flags = c.recv_flags(ev, args, 2)
    total, _data = c.iov_total(ev, msg.get("msg_iov"), msg.size("msg_iov"))
    step = c.receiving(sock, total, flags)
    want = msg.get("msg_flags")

    def recvmsg() -> Any:
        got = step.fn()

        def check() -> None:
            # TCP's recvmsg hands back no flags (no MSG_TRUNC, MSG_CTRUNC or MSG_EOR on a stream).
            if want is not None and not isinstance(want, A.Ellipsis_) and c.value(ev, want) != 0:
                raise Fail(ev, f"recvmsg() msg_flags 0, expected {c.value(ev, want):#x}", "msg_flags 0")

        return (got, check)

    return Step(recvmsg)


def unsupported(c: Calls, ev: A.Event, name: str) -> Any:
    """A call a packetdrill knows but tcplab has no use for."""
    if name.startswith("sctp_"):
        raise Skip(f"{name}(): tcplab has no SCTP", ev.line)
    raise Skip(f"{name}(): tcplab has no {LACKING.get(name, name + '()')}", ev.line)


def errno_name(code: int) -> str:
    return _errno.errorcode.get(code, str(code))


def errno_text(code: int) -> str:
    return f"-1 {errno_name(code)} ({_strerror(code)})"


__all__ = ["HANDLERS", "Calls", "errno_name", "errno_text", "syscall", "unsupported"]

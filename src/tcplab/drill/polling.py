"""``poll`` and ``epoll_create``/``epoll_ctl``/``epoll_wait`` of the system-call table.

Readiness is what Linux's ``tcp_poll`` reports for a socket (``SocketCore.poll``), in Linux's
bits, shown to the script in its ABI's. A call with a timeout blocks on the virtual clock until
a descriptor is ready or the time is over. ``epoll`` keeps an interest list per instance:
level-triggered by default, edge-triggered with ``EPOLLET`` (an event is reported once per
wake-up of the socket), ``EPOLLONESHOT`` disables an entry after it reported.
"""

from __future__ import annotations

import errno as _errno
from dataclasses import dataclass, field
from typing import Any

from tcplab.drill import ast as A
from tcplab.drill.calls import Calls, syscall
from tcplab.drill.clock import Blocked, Step
from tcplab.drill.outcome import Broken, Fail
from tcplab.drill.symbols import LINUX
from tcplab.socket import Socket

_NORM = {"POLLIN": "POLLRDNORM", "POLLOUT": "POLLWRNORM"}
_ALWAYS = ("POLLERR", "POLLHUP", "POLLNVAL")


def linux_mask(sock: Any) -> int:
    """Linux tcp_poll's mask for a socket (POLLRDNORM/POLLWRNORM come with POLLIN/POLLOUT)."""
    if sock is None:
        return LINUX.number("POLLNVAL") or 0
    mask = int(sock.core.poll())
    for plain, norm in _NORM.items():
        if mask & (LINUX.number(plain) or 0):
            mask |= LINUX.number(norm) or 0
    return mask


def _bits(names: tuple[str, ...]) -> int:
    return sum(LINUX.number(n) or 0 for n in names)


# ---- poll -------------------------------------------------------------------------------------
@syscall("poll")
def _poll(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    items = args[0] if args else None
    if not isinstance(items, A.Array) or not all(isinstance(i, A.Struct) for i in items.items):
        raise Broken("poll() needs a [{fd=..., events=...}, ...] list", ev.line)
    abi = c.ctx.abi
    entries = []
    for item in items.items:
        assert isinstance(item, A.Struct)
        fields = {k: c.value(ev, v) for k, v in item.fields}
        events = c.linux_flags(ev, "poll", int(fields.get("events", 0)), {})
        entries.append((fields, events))
    timeout_ms = c.int_arg(ev, args, 2, "the timeout") if len(args) > 2 else 0

    def revents(fields: dict, events: int) -> int:
        mask = linux_mask(c.fds.get(fields.get("fd", -1)))
        return mask & (events | _bits(_ALWAYS))

    def ready() -> bool:
        return any(revents(f, e) for f, e in entries)

    deadline = None if timeout_ms < 0 else c.ctx.clock.now + timeout_ms / 1000

    def poll() -> Any:
        if timeout_ms != 0 and not ready() and (deadline is None or c.ctx.clock.now < deadline):
            raise Blocked(ready, deadline)
        got = [abi.flags_from_linux("poll", revents(f, e)) for f, e in entries]

        def check() -> None:
            for (fields, _events), r in zip(entries, got, strict=True):
                want = fields.get("revents", ...)
                if want is not ... and want != r:
                    raise Fail(
                        ev, f"poll() revents {r:#x} for fd {fields.get('fd')}, expected {want:#x}", f"revents {r:#x}"
                    )

        return (sum(1 for r in got if r), check)

    return Step(poll)


# ---- epoll ------------------------------------------------------------------------------------
@dataclass
class _Interest:
    events: int  # Linux bits
    data: Any
    woken: bool = True  # edge-triggered: something happened since the last report
    disabled: bool = False  # EPOLLONESHOT, after reporting


@dataclass
class Epoll:
    """An epoll instance: the interest list, by script descriptor."""

    interest: dict[int, _Interest] = field(default_factory=dict)


@syscall("epoll_create", "epoll_create1")
def _epoll_create(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    if ev.body.name == "epoll_create" and c.int_arg(ev, args, 0, "the size") <= 0:  # type: ignore[union-attr]
        raise OSError(_errno.EINVAL, "Invalid argument")
    return ("fd", Epoll())


def _epoll(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Epoll:
    _fd, obj = c.fd(ev, args)
    if obj is None:
        raise OSError(_errno.EBADF, "Bad file descriptor")
    if not isinstance(obj, Epoll):
        raise OSError(_errno.EINVAL, "Invalid argument")
    return obj


@syscall("epoll_ctl")
def _epoll_ctl(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> int:
    ep = _epoll(c, ev, args)
    op = c.ctx.abi.name_of("epoll_op", c.int_arg(ev, args, 1, "the operation"))
    fd, target = c.fd(ev, args, 2)
    if target is None:
        raise OSError(_errno.EBADF, "Bad file descriptor")
    if not isinstance(target, Socket):
        raise OSError(_errno.EPERM, "Operation not permitted")
    if op == "EPOLL_CTL_DEL":
        if fd not in ep.interest:
            raise OSError(_errno.ENOENT, "No such file or directory")
        del ep.interest[fd]
        return 0
    spec = c.value(ev, args[3]) if len(args) > 3 else {}
    if not isinstance(spec, dict):
        raise Broken("epoll_ctl() needs {events=..., fd=...}", ev.line)
    events = c.linux_flags(ev, "epoll", int(spec.get("events", 0)), {"EPOLLEXCLUSIVE": "EPOLLEXCLUSIVE"})
    data = next((spec[k] for k in ("fd", "u32", "u64", "ptr") if k in spec), fd)
    if op == "EPOLL_CTL_ADD":
        if fd in ep.interest:
            raise OSError(_errno.EEXIST, "File exists")
        entry = ep.interest[fd] = _Interest(events, data)
        target.core.add_waker(lambda: setattr(entry, "woken", True))
    elif op == "EPOLL_CTL_MOD":
        if fd not in ep.interest:
            raise OSError(_errno.ENOENT, "No such file or directory")
        old = ep.interest[fd]
        old.events, old.data, old.disabled, old.woken = events, data, False, True
    else:
        raise OSError(_errno.EINVAL, "Invalid argument")
    return 0


@syscall("epoll_wait")
def _epoll_wait(c: Calls, ev: A.Event, args: tuple[A.Expr, ...]) -> Any:
    ep = _epoll(c, ev, args)
    maxevents = c.int_arg(ev, args, 2, "maxevents")
    if maxevents <= 0:
        raise OSError(_errno.EINVAL, "Invalid argument")
    timeout_ms = c.int_arg(ev, args, 3, "the timeout") if len(args) > 3 else 0
    et, oneshot = LINUX.number("EPOLLET") or 0, LINUX.number("EPOLLONESHOT") or 0
    always = _bits(("POLLERR", "POLLHUP"))

    def due() -> list[tuple[int, _Interest, int]]:
        out = []
        for fd, entry in ep.interest.items():
            if entry.disabled or (entry.events & et and not entry.woken):
                continue
            mask = linux_mask(c.fds.get(fd)) & (entry.events | always)
            if mask:
                out.append((fd, entry, mask))
        return out[:maxevents]

    deadline = None if timeout_ms < 0 else c.ctx.clock.now + timeout_ms / 1000

    def wait() -> Any:
        ready = due()
        if not ready and timeout_ms != 0 and (deadline is None or c.ctx.clock.now < deadline):
            raise Blocked(lambda: bool(due()), deadline)
        reported = []
        for _fd, entry, mask in ready:
            entry.woken = False
            if entry.events & oneshot:
                entry.disabled = True
            reported.append({"events": c.ctx.abi.flags_from_linux("epoll", mask), "data": entry.data})
        want = c.value(ev, args[1]) if len(args) > 1 else ...

        def check() -> None:
            expected = want if isinstance(want, list) else [want] if isinstance(want, dict) else []
            for exp, got in zip(expected, reported, strict=False):
                if exp.get("events", ...) not in (..., got["events"]):
                    raise Fail(ev, f"epoll_wait() events {got['events']:#x}, expected {exp['events']:#x}")
                key = next((k for k in ("fd", "u32", "u64", "ptr") if k in exp), None)
                if key is not None and exp[key] is not ... and exp[key] != got["data"]:
                    raise Fail(ev, f"epoll_wait() {key} {got['data']}, expected {exp[key]}")

        return (len(reported), check)

    return Step(wait)

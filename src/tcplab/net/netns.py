"""Network namespaces: create, enter (per thread), run a command inside, delete.

Python 3.11 has no ``os.setns``; ``setns(2)`` is called through ctypes. ``setns`` with
``CLONE_NEWNET`` moves only the calling thread, so :func:`entered` is safe to use from one thread
while others keep working in their own namespace. Namespaces are the ``ip netns`` kind: a file in
``/run/netns/NAME`` (pyroute2 creates and removes them, no shelling out).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import secrets
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

__all__ = [
    "NETNS_DIR",
    "NetnsError",
    "create",
    "entered",
    "exists",
    "remove",
    "run",
    "run_in",
    "temporary",
    "unique_name",
]

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
T = TypeVar("T")

_libc: Any = None


class NetnsError(OSError):
    """A namespace could not be created, entered or removed (the message says why)."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(err, f"setns: {os.strerror(err)}")


def unique_name(prefix: str = "tcplab-t-") -> str:
    return prefix + secrets.token_hex(4)


def exists(name: str) -> bool:
    return os.path.exists(os.path.join(NETNS_DIR, name))


def create(name: str) -> str:
    """Create the namespace ``name`` (like ``ip netns add``) with its loopback up."""
    from pyroute2 import netns as pr_netns

    if exists(name):
        raise NetnsError(17, f"network namespace {name!r} already exists")
    try:
        pr_netns.create(name)
    except PermissionError as exc:
        raise NetnsError(1, "creating a network namespace needs root (run with sudo)") from exc
    with entered(name):
        from pyroute2 import IPRoute

        with IPRoute() as ipr:
            idx = ipr.link_lookup(ifname="lo")
            if idx:
                ipr.link("set", index=idx[0], state="up")
    return name


def remove(name: str) -> None:
    """Delete the namespace (its interfaces go with it). Missing is not an error."""
    from pyroute2 import netns as pr_netns

    if not exists(name):
        return
    with contextlib.suppress(FileNotFoundError):
        pr_netns.remove(name)


@contextlib.contextmanager
def entered(name: str | None) -> Iterator[None]:
    """Run the block with the calling thread in namespace ``name`` (None: stay where we are).

    Sockets (netlink included) and TUN devices created inside stay in that namespace after the
    block ends.
    """
    if name is None:
        yield
        return
    path = os.path.join(NETNS_DIR, name)
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NetnsError(2, f"no network namespace {name!r} (create it with 'ip netns add {name}')") from None
    except PermissionError:
        raise NetnsError(1, "entering a network namespace needs root (run with sudo)") from None
    # The thread's own namespace (not the process's: another block may have moved this thread).
    home = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def run_in(name: str | None, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``func(*args, **kwargs)`` with this thread inside namespace ``name``."""
    with entered(name):
        return func(*args, **kwargs)


def run(name: str, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess:
    """Run a program inside the namespace (``ip netns exec``); ``kwargs`` go to subprocess.run."""
    return subprocess.run(["ip", "netns", "exec", name, *argv], **kwargs)


def popen(name: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
    """Start a program inside the namespace (``ip netns exec``)."""
    return subprocess.Popen(["ip", "netns", "exec", name, *argv], **kwargs)


@contextlib.contextmanager
def temporary(prefix: str = "tcplab-t-") -> Iterator[str]:
    """A fresh namespace with a unique name, removed at the end of the block."""
    name = create(unique_name(prefix))
    try:
        yield name
    finally:
        remove(name)

"""Fixtures for the kernel watcher tests: a network namespace of our own (root only)."""

from __future__ import annotations

import itertools
import os
import random
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

_counter = itertools.count()


def root_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root: network namespaces, tracefs and the sock:inet_sock_set_state tracepoint"
    if shutil.which("ip") is None:
        return "needs the ip command (iproute2) to create a network namespace"
    return None


def tracepoint_skip_reason() -> str | None:
    reason = root_skip_reason()
    if reason:
        return reason
    from tcplab.watch.tracefs import EVENT, WatchUnavailable, find_tracefs

    try:
        root = find_tracefs()
    except WatchUnavailable as exc:
        return f"tracefs is not usable here: {exc}"
    if not os.path.isdir(os.path.join(root, EVENT)):
        return "this kernel has no sock:inet_sock_set_state tracepoint"
    return None


@dataclass
class Netns:
    name: str
    addr: str  # an address from 198.18.0.0/15 on the namespace's lo
    port: int  # a port for this test's server
    addr6: str = ""  # an address from fd00::/8 on the namespace's lo

    def run_py(self, code: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run Python code in the namespace (a real kernel client/server); check it succeeded."""
        return subprocess.run(
            ["ip", "netns", "exec", self.name, sys.executable, "-c", textwrap.dedent(code)],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def ip(self, *args: str) -> None:
        subprocess.run(["ip", "-n", self.name, *args], check=True, capture_output=True)


@pytest.fixture
def netns() -> Iterator[Netns]:
    reason = tracepoint_skip_reason()
    if reason:
        pytest.skip(reason)
    name = f"tcplab-w-{os.getpid():x}{next(_counter)}"
    rnd = random.Random(f"{os.getpid()}-{name}")
    # A unique address, so that tests of other people (same kernel, same tracepoint) never match.
    addr = f"198.19.{rnd.randrange(1, 255)}.{rnd.randrange(1, 255)}"
    port = rnd.randrange(20000, 30000)
    addr6 = f"fd00:7c::{rnd.randrange(1, 0xFFFF):x}:{rnd.randrange(1, 0xFFFF):x}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        ns = Netns(name, addr, port, addr6)
        ns.ip("link", "set", "lo", "up")
        ns.ip("addr", "add", f"{addr}/32", "dev", "lo")
        ns.ip("-6", "addr", "add", f"{addr6}/128", "dev", "lo", "nodad")
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)

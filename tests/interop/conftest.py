"""Interop fixtures: a tcplab host on a TUN device inside a fresh network namespace, and the
kernel's TCP as subprocesses in the same namespace (see ``helpers``).

Every test gets its own namespace ``tcplab-t-<random>`` holding the TUN device ``tlab0`` with
198.18.0.1/24 + fd00::1/64 on the kernel side and 198.18.0.2 + fd00::2 for tcplab; the namespace
(and with it the device and every kernel socket) is removed after the test. Without root the
tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from .helpers import TunBench


def _why_not() -> str | None:
    if sys.platform != "linux":
        return "interop tests need Linux (TUN devices, network namespaces)"
    if os.geteuid() != 0:
        return "interop tests need root (TUN devices and network namespaces): run with sudo"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (modprobe tun)"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    return None


_REASON = _why_not()


def pytest_collection_modifyitems(config: Any, items: list) -> None:
    if _REASON is None:
        return
    skip = pytest.mark.skip(reason=_REASON)
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(skip)


@pytest.fixture
def ns() -> Iterator[str]:
    from tcplab.net import netns

    with netns.temporary("tcplab-t-") as name:
        yield name


@pytest.fixture
def tun(ns: str, tmp_path: Any) -> Iterator[TunBench]:
    s = TunBench(ns, pcap=str(tmp_path / "tun.pcap"))
    try:
        yield s
    finally:
        s.close()

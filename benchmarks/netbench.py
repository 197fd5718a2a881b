"""What the root benchmarks (tun.py, connections.py) share: kernel programs run inside a
namespace, a veth pair between two namespaces (the kernel -> kernel yardstick), per-namespace
sysctls, medians. Only 198.18.0.0/15 addresses inside namespaces the benchmarks create."""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
HERE = pathlib.Path(__file__).resolve().parent


def need_root(name: str) -> None:
    if os.geteuid() != 0:
        raise SystemExit(f"benchmarks/{name} needs root (TUN devices, namespaces): run with sudo")


def in_ns(ns: str, *argv: object, **kwargs: object) -> subprocess.Popen:
    """A program inside namespace ``ns``, stdout/stderr piped (text)."""
    env = dict(os.environ, PYTHONPATH=str(SRC))
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, *map(str, argv)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,  # type: ignore[arg-type]
    )


def python_in_ns(ns: str, script: str, *args: object) -> subprocess.Popen:
    return in_ns(ns, sys.executable, script, *args)


def sysctl(ns: str, **values: str) -> None:
    """Set sysctls inside namespace ``ns`` (net.* ones are per namespace)."""
    for key, value in values.items():
        subprocess.run(
            ["ip", "netns", "exec", ns, "sysctl", "-qw", f"{key.replace('__', '.')}={value}"],
            check=True,
        )


def wait_event(proc: subprocess.Popen, name: str) -> dict:
    """Read JSON lines from ``proc`` until the event ``name`` (or an error) arrives."""
    assert proc.stdout is not None
    for line in proc.stdout:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") in (name, "error"):
            return ev
    err = proc.stderr.read() if proc.stderr is not None else ""
    raise SystemExit(f"{proc.args!r} ended before '{name}': {err.strip()[-400:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def veth(ns_a: str, addr_a: str, ns_b: str, addr_b: str, mtu: int = 1500) -> None:
    """A veth pair: ``vbench0`` in ``ns_a`` with ``addr_a``/24, ``vbench1`` in ``ns_b``."""
    from pyroute2 import IPRoute

    from tcplab.net import netns

    with netns.entered(ns_a), IPRoute() as ipr:
        ipr.link("add", ifname="vbench0", kind="veth", peer={"ifname": "vbench1", "net_ns_fd": f"/run/netns/{ns_b}"})
    for ns, name, addr in ((ns_a, "vbench0", addr_a), (ns_b, "vbench1", addr_b)):
        with netns.entered(ns), IPRoute() as ipr:
            idx = ipr.link_lookup(ifname=name)[0]
            ipr.addr("add", index=idx, address=addr, prefixlen=24)
            ipr.link("set", index=idx, mtu=mtu, state="up")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")

"""Bulk transfers between tcplab and the Linux kernel's TCP through real kernel-side loss: an
nftables rule ``numgen random mod 100 < N drop`` on the kernel's input hook (what tcplab sends
is lost), its output hook (what the kernel sends is lost), or both; no tcplab code decides
which packet goes. 20 MB each, IPv4 and IPv6, either end sending, SHA-256 checked.

The whole matrix (2 families x 2 directions x 1/5/20 % x input/output/both: 36 transfers) takes
a while; the default run plays a representative set (both families, both directions, each
rate, each hook) and ``TCPLAB_LOSS_MATRIX=full`` plays all of it (so does
``benchmarks/robustness.py --kernel``)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

import pytest

from tcplab.socket import AF_INET, AF_INET6, Socket

from .helpers import H4, H6, K4, K6, MB, TunBench, blob, exchange, listen

SIZE = 20 * MB
PORT = 9529
DATA = 100  # octets: a TCP packet longer than this carries data
FAMILIES = {"ipv4": (K4, H4), "ipv6": (K6, H6)}
DIRECTIONS = ("kernel-to-tcplab", "tcplab-to-kernel")
RATES = (1, 5, 20)
HOOKS = ("input", "output", "both")

# Every family, direction, rate and hook appears at least once.
DEFAULT = {
    ("ipv4", "kernel-to-tcplab", 5, "both"),
    ("ipv6", "tcplab-to-kernel", 5, "both"),
    ("ipv4", "tcplab-to-kernel", 1, "input"),
    ("ipv6", "kernel-to-tcplab", 20, "output"),
}
FULL = os.environ.get("TCPLAB_LOSS_MATRIX", "") == "full"


def _cells() -> list:
    out = []
    for family in FAMILIES:
        for direction in DIRECTIONS:
            for rate in RATES:
                for hook in HOOKS:
                    cell = (family, direction, rate, hook)
                    marks = [] if FULL or cell in DEFAULT else [pytest.mark.skip(reason="TCPLAB_LOSS_MATRIX=full")]
                    out.append(pytest.param(*cell, id=f"{family}-{direction}-{rate}pct-{hook}", marks=marks))
    return out


def nft_loss(ns: str, rate: int, hook: str) -> None:
    """Drop ``rate`` % of the TCP packets crossing the kernel's ``input`` / ``output`` hook (or
    both) on the test's TUN device, chosen by the kernel's own random numbers."""
    if shutil.which("nft") is None:
        pytest.skip("nft (Debian package nftables) is not installed")
    script = ["add table inet tcplab_loss"]
    for h in ("input", "output") if hook == "both" else (hook,):
        dev = "iifname" if h == "input" else "oifname"
        script += [
            f"add chain inet tcplab_loss {h} {{ type filter hook {h} priority 0; }}",
            # Two rules, one per kind of packet, both dropping at ``rate``: their counters tell
            # data packets (longer than the headers: IP 20/40 + TCP 20 + timestamps 12) lost.
            f'add rule inet tcplab_loss {h} {dev} "tlab0" meta l4proto tcp meta length > {DATA} '
            f"numgen random mod 100 < {rate} counter drop",
            f'add rule inet tcplab_loss {h} {dev} "tlab0" meta l4proto tcp meta length <= {DATA} '
            f"numgen random mod 100 < {rate} counter drop",
        ]
    res = subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "-f", "-"], input="\n".join(script), capture_output=True, text=True
    )
    if res.returncode:
        pytest.skip(f"nftables cannot filter in this kernel: {res.stderr.strip()}")


def nft_dropped(ns: str, hook: str = "", data_only: bool = False) -> int:
    """Packets the loss rules dropped (on ``hook``'s chain only, if given; data packets only)."""
    res = subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "list", "table", "inet", "tcplab_loss"], capture_output=True, text=True
    )
    total = 0
    for chain in res.stdout.split("chain ")[1:]:
        if hook and not chain.startswith(hook + " "):
            continue
        for rule in chain.splitlines():
            if "counter packets " in rule and (not data_only or "length >" in rule):
                total += int(rule.split("counter packets ")[1].split()[0])
    return total


def transfer(tun: TunBench, family: str, direction: str, size: int = SIZE, timeout: float = 900) -> None:
    """One bulk transfer, ``size`` bytes one way, checked end to end with SHA-256."""
    kip, hip = FAMILIES[family]
    if direction == "kernel-to-tcplab":
        srv = listen(tun, hip, PORT)
        peer = tun.kpeer("client", hip, PORT, "--send", size, "--shut", "--eof", "--timeout", timeout)
        conn, _ = srv.accept()
        got = exchange(tun, conn, b"", None, until_eof=True, timeout=timeout)
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(blob(size)).hexdigest()
        conn.close()
        peer.wait("closed", timeout)
        srv.close()
    else:
        peer = tun.kpeer("server", kip, PORT, "--eof", "--shut", "--timeout", timeout)
        peer.wait("listening", 20)
        sock = Socket(tun.host, AF_INET6 if ":" in kip else AF_INET)
        sock.settimeout(30)
        sock.connect((kip, PORT))
        data = blob(size, seed=17)
        exchange(tun, sock, data, 0, shut=True, until_eof=True, timeout=timeout)
        peer.wait("closed", timeout)
        assert peer.event("done")["recv_sha"] == hashlib.sha256(data).hexdigest()
        sock.close()
    assert tun.host.counters["internal_errors"] == 0


@pytest.mark.parametrize(("family", "direction", "rate", "hook"), _cells())
def test_bulk_transfer_through_kernel_side_loss(tun: TunBench, family, direction, rate, hook) -> None:
    nft_loss(tun.ns, rate, hook)
    # With the TUN offloads 20 MB may cross in a few hundred 64 KB packets: at 1 % a transfer
    # can lose none of them. Transfer again (up to four times) until the kernel dropped data.
    for _attempt in range(4):
        transfer(tun, family, direction)
        if nft_dropped(tun.ns, data_only=True) > 0:
            break
    seen = f"drops {nft_dropped(tun.ns)}, of data {nft_dropped(tun.ns, data_only=True)}; {tun.host.counters}"
    assert nft_dropped(tun.ns, data_only=True) > 0, seen  # the kernel really dropped data packets
    if direction == "tcplab-to-kernel":
        # tcplab's data lost on the kernel's input hook: tcplab retransmitted it.
        lost = nft_dropped(tun.ns, "input", data_only=True)
        assert (tun.host.counters["segments_retransmitted"] > 0) or not lost, seen

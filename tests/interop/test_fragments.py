"""IP fragments from the Linux kernel: tcplab reassembles what the kernel cuts (ping with a
3000-byte payload, IPv4 and IPv6) and serves a TCP peer behind a router that fragments (a second
namespace whose kernel does no path MTU discovery, forwarded by the first one onto a TUN device
with MTU 576)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import types

import pytest

from tcplab.net import netns

from .helpers import H4, H6, MB, KPeer, TunBench, blob, exchange, listen


@pytest.mark.parametrize("addr", [H4, H6])
def test_big_ping_is_reassembled_and_answered_in_fragments(tun: TunBench, addr: str) -> None:
    if shutil.which("ping") is None:
        pytest.skip("ping is not installed (apt-get install iputils-ping)")
    v6 = ["-6"] if ":" in addr else ["-M", "dont"]
    res = tun.run(["ping", *v6, "-s", "3000", "-c", "3", "-i", "0.2", "-W", "2", addr], timeout=20)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 packets transmitted, 3 received" in res.stdout
    c = tun.host.counters
    assert c["reasm_ok"] == 3 and c["reasm_fragments"] == 9  # 3 fragments per 3028-byte request
    assert c["icmp_echo_replies"] == 3 and c["reasm_fails"] == 0


def _sh(ns: str, *cmd: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True, capture_output=True, text=True, timeout=10)


def test_tcp_through_a_fragmenting_router(tun: TunBench) -> None:
    with netns.temporary("tcplab-f-") as far:
        # far (198.18.1.1) --veth-- tun.ns (198.18.1.2, forwarding) --tlab0, MTU 576-- tcplab
        veth = f"vf{far[-6:]}"
        subprocess.run(
            ["ip", "link", "add", veth, "netns", far, "type", "veth", "peer", "name", "vr0", "netns", tun.ns],
            check=True,
            capture_output=True,
            timeout=10,
        )
        _sh(far, "ip", "addr", "add", "198.18.1.1/24", "dev", veth)
        _sh(far, "ip", "link", "set", veth, "up")
        _sh(far, "ip", "route", "add", "198.18.0.0/24", "via", "198.18.1.2")
        _sh(far, "sysctl", "-q", "net.ipv4.ip_no_pmtu_disc=1")  # no DF: routers may fragment
        _sh(tun.ns, "ip", "addr", "add", "198.18.1.2/24", "dev", "vr0")
        _sh(tun.ns, "ip", "link", "set", "vr0", "up")
        _sh(tun.ns, "ip", "link", "set", "tlab0", "mtu", "576")
        _sh(tun.ns, "sysctl", "-q", "net.ipv4.ip_forward=1")
        srv = listen(tun, H4)
        size = 2 * MB
        far_bench = types.SimpleNamespace(ns=far, runtime=tun.runtime, peers=tun.peers)
        peer = KPeer(far_bench, "client", H4, 9527, "--send", size, "--recv", size, "--shut")
        conn, (pip, *_) = srv.accept()
        assert pip == "198.18.1.1"
        got = exchange(tun, conn, b"", None, echo=True, until_eof=True, timeout=120)
        done = peer.wait("done", 120)
        assert len(got) == size
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(blob(size)).hexdigest() == done["recv_sha"]
        conn.close()
        peer.wait("closed", 30)
        # Every full-sized segment from the far kernel came to tcplab in fragments.
        assert tun.host.counters["reasm_ok"] >= size // 1460
        assert tun.host.counters["reasm_fails"] == 0
        srv.close()

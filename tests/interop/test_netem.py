"""20 MB intact in both directions through ``netem loss 5% reorder 10% delay 5ms`` on the TUN
device (the kernel's egress towards tcplab: data one way, ACKs the other)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest

from tcplab.socket import Socket

from .helpers import H4, K4, MB, TunBench, blob, exchange, listen

BIG = 20 * MB
PORT = 9528


@pytest.fixture
def lossy(tun: TunBench) -> TunBench:
    if shutil.which("tc") is None:
        pytest.skip("tc (iproute2) is not installed")
    res = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            tun.ns,
            "tc",
            "qdisc",
            "add",
            "dev",
            "tlab0",
            "root",
            "netem",
            "loss",
            "5%",
            "reorder",
            "10%",
            "delay",
            "5ms",
        ],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if res.returncode != 0:
        pytest.skip(f"netem is not available in this kernel (modprobe sch_netem; tc says: {res.stderr.strip()})")
    return tun


def test_netem_kernel_to_tcplab_and_back(lossy: TunBench) -> None:
    _there_and_back(lossy, BIG)


def test_netem_tcplab_client_to_kernel_server(lossy: TunBench) -> None:
    _tcplab_client(lossy, BIG)


def _there_and_back(tun: TunBench, size: int) -> None:
    srv = listen(tun, H4, PORT)
    peer = tun.kpeer("client", H4, PORT, "--send", size, "--shut", "--eof", "--timeout", 600)
    conn, _ = srv.accept()
    got = exchange(tun, conn, b"", None, until_eof=True, timeout=600)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(blob(size)).hexdigest()
    reply = blob(size, seed=11)
    exchange(tun, conn, reply, None, timeout=600)
    conn.close()
    peer.wait("closed", 600)
    assert peer.event("done")["recv_sha"] == hashlib.sha256(reply).hexdigest()
    assert tun.host.counters["internal_errors"] == 0
    srv.close()


def _tcplab_client(tun: TunBench, size: int) -> None:
    peer = tun.kpeer("server", K4, PORT, "--echo", "--eof", "--shut", "--timeout", 600)
    peer.wait("listening", 20)
    sock = Socket(tun.host)
    sock.settimeout(30)
    sock.connect((K4, PORT))
    data = blob(size, seed=13)
    got = exchange(tun, sock, data, size, shut=True, until_eof=True, timeout=600)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    peer.wait("closed", 600)
    assert peer.event("done")["recv_sha"] == hashlib.sha256(data).hexdigest()
    sock.close()


@pytest.fixture
def impaired(tun: TunBench) -> TunBench:
    """The same impairment applied inside tcplab's loop (both directions), so loss recovery over
    TUN is exercised on kernels without sch_netem too."""
    from tcplab.net.tun import Impairment

    tun.runtime.impairment = Impairment(loss=0.05, reorder=0.10, delay=0.005, direction="both", seed=5)
    return tun


def test_impaired_kernel_to_tcplab_and_back(impaired: TunBench) -> None:
    _there_and_back(impaired, BIG)
    assert impaired.runtime.impairment.dropped > 0
    assert impaired.runtime.impairment.reordered > 0


def test_impaired_tcplab_client_to_kernel_server(impaired: TunBench) -> None:
    _tcplab_client(impaired, BIG)
    assert impaired.runtime.impairment.dropped > 0

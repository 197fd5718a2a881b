"""The kernel as the peer of tcplab's modern TCP (issue 11): ECN negotiated both ways and a CE
mark answered both ways, TCP Fast Open with the kernel as client and as server (sysctls set
inside the test's namespace), a CUBIC bulk transfer, and data intact across real random loss
(nftables in the namespace). Each exchange completes and the kernel's ``ss -tin`` shows what was
negotiated."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess

import pytest

from tcplab.socket import IPPROTO_TCP, MSG_FASTOPEN, TCP_FASTOPEN, Socket

from .helpers import H4, K4, MB, TunBench, blob, exchange, listen

PORT = 9531


def sysctl(tun: TunBench, name: str, value: object) -> None:
    subprocess.run(["ip", "netns", "exec", tun.ns, "sysctl", "-qw", f"{name}={value}"], check=True, timeout=10)


def nft(tun: TunBench, *rules: str) -> None:
    if shutil.which("nft") is None:
        pytest.skip("nftables ('nft') is not installed (apt-get install nftables)")
    script = "\n".join(["add table inet tlab", *rules])
    subprocess.run(["ip", "netns", "exec", tun.ns, "nft", "-f", "-"], input=script, text=True, check=True, timeout=10)


def _nft_dropped(tun: TunBench) -> int:
    """Packets the ``counter`` rules of table ``tlab`` have counted."""
    res = tun.run(["nft", "list", "table", "inet", "tlab"], timeout=10)
    return sum(int(w.split()[0]) for w in res.stdout.split("counter packets ")[1:])


def hook(name: str) -> str:
    return f"add chain inet tlab {name} {{ type filter hook {name} priority 0 ; }}"


def ss_info(tun: TunBench, port: int) -> str:
    """The kernel's ``ss -tien`` lines for its connections with port ``port`` (ss of iproute2
    6.1 prints the option words ts, sack, ecn, ecnseen, fastopen only with -e)."""
    res = tun.run(["ss", "-tienH", f"( sport = :{port} or dport = :{port} )"], timeout=10)
    return res.stdout


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------- ECN
def test_ecn_kernel_client_asks_tcplab_accepts_and_ce_is_answered(tun: TunBench) -> None:
    """The kernel with tcp_ecn=1 sends SEW; tcplab (tcp_ecn=2, Linux's default) answers SE.;
    CE marks put on every tenth of the kernel's data packets (nftables: numgen inc, ip ecn set ce;
    a random tenth could mark none of the few 64 KB packets of 1 MB) are echoed by tcplab until the
    kernel's CWR: the kernel shows ecn, and counts the CE deliveries tcplab echoed."""
    sysctl(tun, "net.ipv4.tcp_ecn", 1)
    nft(
        tun,
        hook("output"),
        "add rule inet tlab output meta l4proto tcp ip ecn ect0 numgen inc mod 10 == 0 ip ecn set ce",
    )
    srv = listen(tun, H4, PORT)
    peer = tun.kpeer("client", H4, PORT, "--send", MB, "--shut", "--recv", 0, "--pause")
    conn, _ = srv.accept()
    got = exchange(tun, conn, b"", None, until_eof=True)
    assert _sha(got) == _sha(blob(MB))
    peer.wait("done")
    info = ss_info(tun, PORT)
    delivered_ce = re.search(r"delivered_ce:(\d+)", info)
    assert re.search(r"\becn\b", info) and delivered_ce and int(delivered_ce.group(1)) > 0, info
    assert conn.tcp_info()["ecn"]
    peer.resume()
    conn.close()
    peer.wait("closed")


def test_ecn_tcplab_client_asks_the_kernel_and_reduces_on_its_echo(tun: TunBench) -> None:
    """tcplab with tcp_ecn=1 sends SEW to a kernel server (tcp_ecn=2); CE marks put on tcplab's
    data at the kernel's input are echoed by the kernel; tcplab reduces once per window and
    sets CWR; the kernel shows ecn and ecnseen."""
    nft(
        tun,
        hook("input"),
        "add rule inet tlab input meta l4proto tcp ip ecn ect0 numgen inc mod 10 == 0 ip ecn set ce",
    )
    tun.host.config.ecn = 1
    peer = tun.kpeer("server", K4, PORT, "--recv", MB, "--pause")
    peer.wait("listening")
    sock = Socket(tun.host)
    sock.settimeout(20)
    sock.connect((K4, PORT))
    exchange(tun, sock, blob(MB), 0)
    done = peer.wait("done")
    assert done["recv_sha"] == _sha(blob(MB))
    info = ss_info(tun, PORT)
    assert re.search(r"\becn\b", info) and "ecnseen" in info, info
    assert sock.tcp_info()["ecn"]
    peer.resume()
    sock.close()
    peer.wait("closed")


# ---------------------------------------------------------------------------- TCP Fast Open
def test_fast_open_kernel_client_to_tcplab_server(tun: TunBench) -> None:
    """The kernel (tcp_fastopen=1) asks tcplab's listener for a cookie, then sends its data in
    the SYN of the next connection; tcplab takes it before the handshake completes."""
    tun.host.config.fastopen = 3
    srv = Socket(tun.host)
    srv.setsockopt(IPPROTO_TCP, TCP_FASTOPEN, 16)
    srv.bind((H4, PORT))
    srv.listen(8)
    srv.settimeout(20)
    for round_ in range(2):
        peer = tun.kpeer("client", H4, PORT, "--fastopen", "--send", 5000, "--shut", "--eof")
        conn, _ = srv.accept()
        got = exchange(tun, conn, b"", None, until_eof=True, shut=True)
        assert _sha(got) == _sha(blob(5000))
        assert conn.tcp_info()["fastopen"] is (round_ == 1)
        conn.close()
        peer.wait("closed")
    metrics = tun.run(["ip", "tcp_metrics", "show", H4]).stdout
    assert "fo_cookie" in metrics, metrics  # the kernel cached tcplab's cookie


def test_fast_open_tcplab_client_to_kernel_server(tun: TunBench) -> None:
    """The kernel server (tcp_fastopen=3, TCP_FASTOPEN on its listener) gives tcplab a cookie;
    tcplab's next sendto(MSG_FASTOPEN) carries the data in its SYN and the kernel acknowledges it
    in its SYN-ACK."""
    sysctl(tun, "net.ipv4.tcp_fastopen", 3)
    for round_ in range(2):
        peer = tun.kpeer("server", K4, PORT, "--fastopen", "--recv", 3000, "--reuseaddr")
        peer.wait("listening")
        sock = Socket(tun.host)
        sock.settimeout(20)
        assert sock.sendto(blob(3000)[:1000], MSG_FASTOPEN, (K4, PORT)) == 1000
        exchange(tun, sock, blob(3000)[1000:], 0)
        assert peer.wait("done")["recv_sha"] == _sha(blob(3000))
        # the second time, the SYN-ACK acknowledged the data of the SYN (TCPI_OPT_SYN_DATA)
        info = sock.tcp_info()
        assert info["fastopen"] is (round_ == 1) and info["total_retrans"] == 0
        if round_ == 0:
            assert K4 in tun.host.fastopen_cookies
        sock.close()
        peer.wait("closed")


# ---------------------------------------------------------------------------- CUBIC, loss
def test_cubic_bulk_transfer_to_the_kernel(tun: TunBench) -> None:
    """4 MB from tcplab (CUBIC, the linux profile's default) to the kernel: intact; the window
    grew past the initial one; the kernel shows the negotiated options."""
    peer = tun.kpeer("server", K4, PORT, "--recv", 4 * MB, "--pause")
    peer.wait("listening")
    sock = Socket(tun.host)
    sock.settimeout(20)
    sock.connect((K4, PORT))
    exchange(tun, sock, blob(4 * MB), 0)
    assert peer.wait("done")["recv_sha"] == _sha(blob(4 * MB))
    info = sock.tcp_info()
    assert info["congestion_control"] == "cubic" and info["cwnd"] > 10
    kernel = ss_info(tun, PORT)
    for word in ("ts", "sack", "wscale:"):
        assert re.search(rf"\b{word}", kernel), kernel
    peer.resume()
    sock.close()
    peer.wait("closed")


@pytest.mark.parametrize(("chain", "rate"), [("input", 5), ("output", 5), ("input", 20)])
def test_data_intact_across_random_loss(tun: TunBench, chain: str, rate: int) -> None:
    """``rate`` % of the TCP packets that carry data dropped on one of the kernel's hooks (input:
    tcplab is the sender that recovers; output: the kernel is): 1 MB echoed by tcplab comes back
    intact. With the TUN offloads a dropped packet may be a whole 64 KB super-segment, so a run
    can see no drop at all: tcplab must have retransmitted when the input hook dropped, and when it
    dropped nothing a retransmission can only be a timer that fired late on a loaded machine,
    which the kernel then reports as a duplicate (D-SACK, RFC 2883).
    At 20 % tcplab's sends go through chains of retransmission timeouts (as the kernel's do
    under such loss: benchmarks/tun.py --lossy), and still deliver every byte."""
    data = "ip length > 100"  # 20 + 20 + 12 (timestamps) octets of headers: more is data
    rule = f"meta l4proto tcp {data} numgen random mod 100 < {rate} counter drop"
    nft(tun, hook(chain), f"add rule inet tlab {chain} {rule}")
    srv = listen(tun, H4, PORT)
    peer = tun.kpeer("client", H4, PORT, "--send", MB, "--recv", MB, "--shut", "--timeout", 120)
    conn, _ = srv.accept()
    exchange(tun, conn, b"", None, echo=True, until_eof=True, shut=True, timeout=120)
    done = peer.wait("done", 120)
    assert done["recv"] == MB and done["recv_sha"] == _sha(blob(MB))
    if chain == "input":
        dropped, retransmitted = _nft_dropped(tun), tun.host.counters["segments_retransmitted"]
        if dropped:
            assert retransmitted > 0, dropped
        else:
            assert retransmitted == 0 or conn.tcp_info()["dsack_dups"] > 0, retransmitted
    conn.close()
    peer.wait("closed")

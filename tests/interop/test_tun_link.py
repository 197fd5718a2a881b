"""The TUN link itself: ping, ping -6, RST for closed ports, setup errors, pcap."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys

import pytest

from tcplab.net import netns
from tcplab.net.tun import BadAddress, DeviceBusy, TunLink, parse_interface_address
from tcplab.socket import Socket

from .helpers import H4, H6, K4, TunBench


def _ping(tun: TunBench, *args: str) -> subprocess.CompletedProcess:
    if shutil.which("ping") is None:
        pytest.skip("ping is not installed (apt-get install iputils-ping)")
    return tun.run(["ping", *args, "-c", "3", "-i", "0.2", "-W", "2"], timeout=20)


def test_ping_ipv4_answered(tun: TunBench) -> None:
    res = _ping(tun, H4)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 packets transmitted, 3 received" in res.stdout
    assert tun.host.counters["icmp_echo_replies"] == 3


def test_ping_ipv6_answered(tun: TunBench) -> None:
    res = _ping(tun, "-6", H6)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 packets transmitted, 3 received" in res.stdout
    assert tun.host.counters["icmp_echo_replies"] == 3


@pytest.mark.parametrize("addr", [H4, H6])
def test_kernel_connect_to_closed_port_refused(tun: TunBench, addr: str) -> None:
    peer = tun.kpeer("client", addr, 9)
    ev = peer.wait("connected", 20)
    assert ev == {"event": "error", "errno": "ECONNREFUSED"}
    peer.finish()
    assert tun.host.counters["no_listener_resets"] == 1


@pytest.mark.parametrize("addr", [K4, "fd00::1"])
def test_tcplab_connect_to_closed_kernel_port_refused(tun: TunBench, addr: str) -> None:
    from tcplab.socket import AF_INET, AF_INET6

    sock = Socket(tun.host, AF_INET6 if ":" in addr else AF_INET)
    sock.settimeout(10)
    with pytest.raises(ConnectionRefusedError) as info:
        sock.connect((addr, 9))
    assert info.value.errno == errno.ECONNREFUSED
    sock.close()


def test_bad_addresses_are_typed_one_line_errors() -> None:
    with pytest.raises(BadAddress) as info:
        TunLink("tlab0", "198.18.0.1/24", "198.18.1.2/24")
    assert str(info.value) == (
        "host address 198.18.1.2 is not in the kernel side's subnet 198.18.0.0/24: use an address in the same subnet"
    )
    with pytest.raises(BadAddress) as info:
        parse_interface_address("198.18.0.300/24", "host address")
    assert str(info.value) == (
        "bad host address '198.18.0.300/24': expected an address with a prefix such as 198.18.0.2/24 or fd00::2/64"
    )
    with pytest.raises(BadAddress):
        TunLink("tlab0", "198.18.0.1/24", "198.18.0.1/24")
    with pytest.raises(BadAddress):
        TunLink("tlab0", "198.18.0.1/24", "fd00::2/64")
    with pytest.raises(BadAddress):
        TunLink("a-name-much-too-long", "198.18.0.1/24", "198.18.0.2/24")


def test_device_name_busy(tun: TunBench) -> None:
    other = TunLink("tlab0", "198.18.2.1/24", "198.18.2.2/24", netns=tun.ns)
    with pytest.raises(DeviceBusy) as info:
        other.open()
    assert str(info.value) == ("TUN device tlab0 is busy (another program has it open): choose another --tun name")
    assert info.value.errno == errno.EBUSY
    lo = TunLink("lo", "198.18.3.1/24", "198.18.3.2/24", netns=tun.ns)
    with pytest.raises(DeviceBusy) as info:
        lo.open()
    assert info.value.errno == errno.EINVAL


def test_not_root_is_a_clear_error(ns: str) -> None:
    code = (
        "from tcplab.net.tun import TunLink, TunError\n"
        "try:\n"
        "    TunLink('tlab9').open()\n"
        "except TunError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    res = netns.run(
        ns,
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    if res.returncode != 0 and "setpriv" in res.stderr:
        pytest.skip(f"setpriv unavailable: {res.stderr.strip()}")
    # Where /dev/net/tun is mode 0600 the open() fails; where it is world-writable (some distros)
    # the open succeeds and TUNSETIFF fails. Either way: one line saying what is needed.
    assert res.stdout.strip() in (
        "NotPermitted cannot open /dev/net/tun: a TUN device needs root or CAP_NET_ADMIN (run with sudo)",
        "NotPermitted creating TUN device tlab9 needs root or CAP_NET_ADMIN (run with sudo)",
    ), (res.stdout, res.stderr)


def test_pcap_readable_by_tshark(tun: TunBench, tmp_path) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed (apt-get install tshark)")
    from tcplab.socket import SO_REUSEADDR, SOL_SOCKET

    srv = Socket(tun.host)
    srv.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    srv.bind((H4, 9527))
    srv.listen(4)
    srv.settimeout(20)
    peer = tun.kpeer("client", H4, 9527, "--send", 300000, "--recv", 300000, "--shut", "--eof")
    conn, _ = srv.accept()
    conn.settimeout(20)
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)
    conn.close()
    done = peer.wait("done", 30)
    assert done["recv_sha"] == done["sent_sha"]
    peer.finish()
    tun.runtime.run_until(lambda: False, 0.2)
    tun.link.close()
    pcap = str(tmp_path / "tun.pcap")
    res = subprocess.run(
        ["tshark", "-n", "-r", pcap, "-Y", "tcp.analysis.ack_lost_segment || _ws.malformed"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""
    # The whole exchange is in it: 300,000 bytes each way (in fewer packets with offloads: the
    # super-segments are recorded whole, as tcpdump on the device shows them).
    lens = subprocess.run(
        ["tshark", "-n", "-r", pcap, "-Y", "tcp", "-T", "fields", "-e", "tcp.len"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sum(int(x) for x in lens.stdout.split()) >= 2 * 300000  # (and any retransmission)


def test_kernel_link_up_chatter_is_dropped_harmlessly(tun: TunBench) -> None:
    # On link up the kernel sends IPv6 router solicitations (to ff02::2) down the device.
    tun.runtime.run_until(lambda: tun.link.packets_in >= 1, 10)
    tun.runtime.run_until(lambda: False, 0.5)
    assert tun.link.packets_in >= 1
    counters = tun.host.counters
    assert counters["not_for_us"] == tun.link.packets_in
    assert counters["malformed"] == 0
    assert counters["internal_errors"] == 0
    assert tun.link.packets_out == 0  # nothing answered

"""TUN benchmark (root): bulk transfer between the Linux kernel's TCP and tcplab over a TUN
device, in both directions, and kernel to kernel over a veth pair between two namespaces as the
yardstick. Prints MB/s for each and the ratio tcplab / kernel. A figure, not a test.

    sudo python benchmarks/tun.py [--mb 20] [--runs 3] [--mtu 1500,9000,65535] [--no-offload]
    sudo python benchmarks/tun.py --lossy [--lossy-mb 4] [--loss 1,5,20] [--cc cubic]

``--lossy`` measures loss recovery on a real lossy path (issue 11): ``tcplab serve echo`` on a
TUN device, a kernel client echoing 4 MB through it, with random loss from nftables in the
namespace (``numgen random mod 100 < N drop``) on the kernel's *input* hook only (what tcplab
sends is lost: tcplab is the sender that recovers), then on its *output* hook only (the kernel is
the sender that recovers); and kernel to kernel over veth with the same loss both ways, as the
yardstick. The figure to watch: the tcplab-sender MB/s against the kernel-sender MB/s with real
loss (below) at 5 %; single runs vary tenfold (one retransmission timeout costs 200 ms, about
twice the whole echo without one): compare several runs.

Beware the output hook: a packet netfilter drops there never left, and the kernel's TCP knows it
(ip_local_out fails, tcp_write_xmit keeps the segment unsent and sends it again at the next
chance): no retransmission, no loss recovery (measured at 20 %: 42 of 175 packets dropped,
TcpRetransSegs 0). So the kernel is also measured with the loss *after* its TCP has sent: a tc
filter on the TUN device's egress (classic BPF ``ld rand``) redirects that share of its TCP
packets into a veth pair that leads nowhere, and tc reports them sent (TC_ACT_STOLEN): real loss
the kernel must detect and repair as tcplab must (measured at 20 %: TcpRetransSegs 1427,
TCPTimeouts 59). Both kernel figures are printed, with tcplab's ratio to each.

The kernel's sockets use CUBIC (``--cc``, set per socket with TCP_CONGESTION), the algorithm of
tcplab's linux profile: this kernel's default is BBR, which does not shrink its window on random
loss (in Recovery it holds the packets in flight and restores the window on exit), so against
BBR the figures at 20 % compared a model-based sender with a loss-based one (measured: the kernel
with BBR 0.06-32 MB/s, mostly in a few long recoveries with its window restored after each; with
CUBIC 0.09-0.11 MB/s and 126-152 timeouts). ``--cc bbr`` measures against the default.

The kernel side is the same small Python program in every case (tests/interop/kpeer.py: one
``send``/``recv`` loop of 256 KB calls), so the yardstick is "the kernel's TCP with a Python
application", and tcplab's figure includes its whole per-packet path: TUN read/write, parsing,
the host, the engine, the socket layer. The ratios are against the veth pair at MTU 1500 (the
kernel's usual MTU), measured in the same run; the TUN figures are printed for every MTU asked
for (the first is the one the ratios use). Only 198.18.0.0/15 addresses inside namespaces
created (and removed) here are used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import netbench

KPEER = str(netbench.ROOT / "tests" / "interop" / "kpeer.py")
MB = 1 << 20
# tcplab's buffers: what Linux's autotuning gives its own sockets at most (net.ipv4.tcp_rmem and
# tcp_wmem maxima are 32 MB and 4 MB on this kernel), so both TCPs may keep as much in flight.
BUF = 4 * MB


def _kpeer(ns: str, *args: object):
    return netbench.python_in_ns(ns, KPEER, *args)


def _link(ns: str, mtu: int, offload: bool):
    from tcplab.net.tun import TunLink

    kwargs = {} if offload else {"offload": False}
    return TunLink("tlab0", "198.18.0.1/24", "198.18.0.2/24", netns=ns, mtu=mtu, **kwargs)


def _report_while_running(rt, proc, name: str) -> dict:
    """The kernel peer's JSON event ``name``, read from its pipe while the TUN loop runs."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    buf = bytearray()

    def readable() -> None:
        with contextlib.suppress(BlockingIOError):
            buf.extend(os.read(fd, 65536) or b"\n")

    def found() -> dict | None:
        for line in bytes(buf).splitlines():
            ev = json.loads(line) if line.strip() else {}
            if ev.get("event") in (name, "error"):
                return ev
        return None

    rt.add_reader(fd, readable)
    rt.run_until(lambda: found() is not None or proc.poll() is not None, 120)
    rt.remove_reader(fd)
    return found() or {"event": "none"}


def _config():
    from tcplab.tcp import Config

    return Config(rcv_buf=BUF, snd_buf=BUF)


def kernel_to_tcplab(ns: str, nbytes: int, mtu: int, offload: bool) -> float:
    from tcplab.host import Host
    from tcplab.net.tun import TunRuntime
    from tcplab.socket import Socket

    with _link(ns, mtu, offload) as link:
        host = Host("bench", link.host_addresses(), _config())
        rt = TunRuntime(link, host)
        srv = Socket(host)
        srv.bind(("198.18.0.2", 9000))
        srv.listen(4)
        srv.settimeout(20)
        peer = _kpeer(ns, "client", "198.18.0.2", 9000, "--send", nbytes, "--shut", "--no-hash")
        try:
            conn, _ = srv.accept()
            conn.settimeout(120)
            t0 = time.perf_counter()
            got = 0
            while True:
                data = conn.recv(1 << 20)
                if not data:
                    break
                got += len(data)
            dt = time.perf_counter() - t0
            conn.close()
            rt.run_until(lambda: peer.poll() is not None, 10)
        finally:
            netbench.stop(peer)
            rt.close()
        if got != nbytes:
            raise SystemExit(f"kernel -> tcplab: received {got} of {nbytes} bytes")
        return nbytes / dt / MB


def tcplab_to_kernel(ns: str, nbytes: int, mtu: int, offload: bool) -> float:
    from tcplab.host import Host
    from tcplab.net.tun import TunRuntime
    from tcplab.socket import Socket

    with _link(ns, mtu, offload) as link:
        host = Host("bench", link.host_addresses(), _config())
        rt = TunRuntime(link, host)
        peer = _kpeer(ns, "server", "0.0.0.0", 9001, "--eof", "--no-hash")
        try:
            netbench.wait_event(peer, "listening")
            payload = os.urandom(nbytes)  # before connecting: the kernel's clock starts there
            sock = Socket(host)
            sock.settimeout(120)
            sock.connect(("198.18.0.1", 9001))
            sock.sendall(payload)
            sock.close()
            done = _report_while_running(rt, peer, "done")
        finally:
            netbench.stop(peer)
            rt.close()
        if done.get("recv") != nbytes:
            raise SystemExit(f"tcplab -> kernel: the kernel reported {done}")
        return nbytes / done["elapsed"] / MB


def kernel_to_kernel_veth(ns_a: str, ns_b: str, nbytes: int, mtu: int) -> float:
    netbench.veth(ns_a, "198.19.0.1", ns_b, "198.19.0.2", mtu)
    server = _kpeer(ns_b, "server", "198.19.0.2", 9002, "--eof", "--no-hash")
    try:
        netbench.wait_event(server, "listening")
        client = _kpeer(ns_a, "client", "198.19.0.2", 9002, "--send", nbytes, "--shut", "--no-hash")
        client.wait(120)
        done = netbench.wait_event(server, "done")
        server.wait(30)
    finally:
        netbench.stop(server)
    if done.get("recv") != nbytes:
        raise SystemExit(f"veth: the server reported {done}")
    return nbytes / done["elapsed"] / MB


# ---- loss recovery on a real lossy path ---------------------------------------------------------
def nft_loss(ns: str, hooks: tuple[str, ...], percent: float) -> None:
    """Random loss of TCP packets on the given netfilter hooks of namespace ``ns``."""
    rules = ["add table inet tlab_loss"]
    for hook in hooks:
        rules.append(f"add chain inet tlab_loss {hook} {{ type filter hook {hook} priority 0 ; }}")
        rules.append(f"add rule inet tlab_loss {hook} meta l4proto tcp numgen random mod 100 < {percent:g} drop")
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input="\n".join(rules), text=True, check=True)


def tc_egress_loss(ns: str, dev: str, percent: float) -> None:
    """Random loss of the kernel's TCP packets as they leave on ``dev`` in namespace ``ns``,
    after its TCP sent them: a classic BPF filter (``ldb [9]``: IP protocol 6; ``ld rand`` below
    the threshold) on the device's egress redirects them into a veth pair leading nowhere
    (``mirred`` says stolen, so the sender counts them sent; netfilter's output hook would make
    the kernel send them again instead)."""
    threshold = int(percent / 100 * (1 << 32))
    bpf = f"6,48 0 0 9,21 0 3 6,32 0 0 {0xFFFFF038},53 1 0 {threshold},6 0 0 {0xFFFFFFFF},6 0 0 0"
    redirect = ["action", "mirred", "egress", "redirect", "dev", f"{dev}s"]
    for cmd in (
        ["ip", "link", "add", f"{dev}s", "type", "veth", "peer", "name", f"{dev}t"],
        ["ip", "link", "set", f"{dev}s", "up"],
        ["ip", "link", "set", f"{dev}t", "up"],
        ["tc", "qdisc", "add", "dev", dev, "clsact"],
        ["tc", "filter", "add", "dev", dev, "egress", "bpf", "bytecode", bpf, *redirect],
    ):
        subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True)


def _serve_echo(ns: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(netbench.ROOT / "src"))
    name = f"lossy{os.getpid()}"  # a stack name of its own: other tcplab stacks may be running
    args = ["serve", "echo", "--netns", ns, "--tun", "tlab0", "--port", "9527", "--name", name]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tcplab", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    line = proc.stderr.readline()
    if "echo on" not in line:
        proc.kill()
        raise SystemExit(f"tcplab serve echo did not start: {line!r}")
    return proc


def _echo_through(ns: str, addr: str, port: int, nbytes: int, timeout: float, cc: str) -> float:
    """A kernel client in ``ns`` (congestion control ``cc``) sends ``nbytes`` and reads them
    back; MB/s of the echo."""
    args = ("--send", nbytes, "--recv", nbytes, "--shut", "--timeout", timeout, "--cc", cc)
    client = _kpeer(ns, "client", addr, port, *args)
    out, err = client.communicate(timeout=timeout + 30)
    done = None
    for line in out.splitlines():
        ev = json.loads(line)
        if ev["event"] == "error":
            raise SystemExit(f"kernel client: {ev} {err}")
        if ev["event"] == "done":
            done = ev
    if not done or done["recv"] != nbytes or done["recv_sha"] != done["sent_sha"]:
        raise SystemExit(f"echo of {nbytes} bytes through {addr} failed: {done} {err[-500:]}")
    return nbytes / done["elapsed"] / MB


def echo_tcplab(nbytes: int, hook: str, percent: float, timeout: float, cc: str) -> float:
    """``tcplab serve echo`` on TUN; loss on the kernel's netfilter ``hook`` (input: tcplab's
    data), or with ``hook`` "egress" after the kernel's TCP sent (``tc_egress_loss``)."""
    from tcplab.net import netns

    with netns.temporary("tcplab-t-") as ns:
        server = _serve_echo(ns)
        try:
            if percent and hook == "egress":
                tc_egress_loss(ns, "tlab0", percent)
            elif percent:
                nft_loss(ns, (hook,), percent)
            return _echo_through(ns, "198.18.0.2", 9527, nbytes, timeout, cc)
        finally:
            server.terminate()
            server.wait(15)


def echo_kernel_veth(nbytes: int, percent: float, timeout: float, cc: str) -> float:
    """Kernel to kernel over veth: an echo server in one namespace, loss both ways in it."""
    from tcplab.net import netns

    with netns.temporary("tcplab-t-") as ns_a, netns.temporary("tcplab-t-") as ns_b:
        netbench.veth(ns_a, "198.19.0.1", ns_b, "198.19.0.2")
        args = ("--echo", "--eof", "--shut", "--timeout", timeout, "--cc", cc)
        server = _kpeer(ns_b, "server", "198.19.0.2", 9003, *args)
        try:
            line = server.stdout.readline()
            if "listening" not in line:
                raise SystemExit(f"veth echo server: {line!r}")
            if percent:
                nft_loss(ns_b, ("input", "output"), percent)
            return _echo_through(ns_a, "198.19.0.2", 9003, nbytes, timeout, cc)
        finally:
            if server.poll() is None:
                server.kill()
            server.wait(10)


def lossy(nbytes: int, losses: list[float], timeout: float, cc: str) -> None:
    print(f"echo of {nbytes // MB} MB from a kernel client ({cc}), random loss (MB/s)")
    heads = (("tcplab sends", "(input hook)"), ("kernel sends", "(TUN egress)"), ("kernel sends", "(output hook)"))
    print(f"  {'loss':>5}  " + "  ".join(f"{a:>13}" for a, _ in heads) + f"  {'kernel<->kernel':>15}  ratio  ratio")
    print(f"  {'':>5}  " + "  ".join(f"{b:>13}" for _, b in heads) + f"  {'(veth, both)':>15}  (egr.) (out.)")
    for pct in losses:
        tcplab_sends = echo_tcplab(nbytes, "input", pct, timeout, cc)
        kernel_lost = echo_tcplab(nbytes, "egress", pct, timeout, cc)
        kernel_sends = echo_tcplab(nbytes, "output", pct, timeout, cc)
        veth = echo_kernel_veth(nbytes, pct, timeout, cc)
        print(
            f"  {pct:>4g}%  {tcplab_sends:13.1f}  {kernel_lost:13.1f}  {kernel_sends:13.1f}  {veth:15.1f}"
            f"  {tcplab_sends / kernel_lost:5.2f}  {tcplab_sends / kernel_sends:5.2f}",
            flush=True,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=20, help="megabytes per transfer (default 20)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each (median shown)")
    ap.add_argument("--mtu", default="1500,9000,65535", help="TUN MTUs, comma-separated (the first gives the ratios)")
    ap.add_argument("--no-offload", dest="offload", action="store_false", help="TUN without offloads")
    ap.add_argument("--lossy", action="store_true", help="measure loss recovery instead (see above)")
    ap.add_argument("--lossy-mb", type=int, default=4, help="megabytes echoed per lossy run (default 4)")
    ap.add_argument("--loss", default="1,5,20", help="loss percentages for --lossy (default 1,5,20)")
    ap.add_argument(
        "--cc", default="cubic", help="the kernel's congestion control for --lossy (default cubic: tcplab's; see above)"
    )
    args = ap.parse_args()
    netbench.need_root("tun.py")
    if args.lossy:
        lossy(args.lossy_mb * MB, [float(x) for x in args.loss.split(",")], timeout=600, cc=args.cc)
        return 0
    from tcplab.net import netns
    from tcplab.net.allocator import keep_freed_memory

    keep_freed_memory()  # as tcplab serve does (tcplab/net/allocator.py)

    mtus = [int(m) for m in args.mtu.split(",")]
    nbytes = args.mb * MB
    tun: dict[tuple[str, int], list[float]] = {}
    yard: list[float] = []
    for _ in range(args.runs):
        for mtu in mtus:
            for name, fn in (("kernel -> tcplab", kernel_to_tcplab), ("tcplab -> kernel", tcplab_to_kernel)):
                with netns.temporary("tcplab-t-") as ns:
                    tun.setdefault((name, mtu), []).append(fn(ns, nbytes, mtu, args.offload))
        with netns.temporary("tcplab-t-") as a, netns.temporary("tcplab-t-") as b:
            yard.append(kernel_to_kernel_veth(a, b, nbytes, 1500))
    k = netbench.median(yard)
    offload = "with offloads" if args.offload else "without offloads"
    print(f"bulk transfer of {args.mb} MB, median of {args.runs} runs; TUN {offload}")
    print(f"  {'kernel -> kernel (veth, MTU 1500)':34s} {k:9.1f} MB/s")
    for (name, mtu), values in tun.items():
        v = netbench.median(values)
        ratio = f"   ratio {v / k:.3f} of kernel -> kernel" if mtu == mtus[0] else ""
        print(f"  {name + f' (TUN, MTU {mtu})':34s} {v:9.1f} MB/s{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

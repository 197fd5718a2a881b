"""TUN benchmark (root): bulk transfer between the Linux kernel's TCP and tcplab over a TUN
device, in both directions, and kernel to kernel over a veth pair between two namespaces as the
yardstick. Prints MB/s for each and the ratio tcplab / kernel. A figure, not a test.

    sudo python benchmarks/tun.py [--mb 20] [--runs 3] [--mtu 1500,9000,65535] [--no-offload]

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=20, help="megabytes per transfer (default 20)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each (median shown)")
    ap.add_argument("--mtu", default="1500,9000,65535", help="TUN MTUs, comma-separated (the first gives the ratios)")
    ap.add_argument("--no-offload", dest="offload", action="store_false", help="TUN without offloads")
    args = ap.parse_args()
    netbench.need_root("tun.py")
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

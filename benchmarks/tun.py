"""TUN benchmark (root): bulk transfer between the Linux kernel's TCP and tcplab over a TUN
device, in both directions, and kernel to kernel over a veth pair between two namespaces as the
yardstick. Prints MB/s for each and the ratio tcplab / kernel. A figure, not a test.

    sudo python benchmarks/tun.py [--mb 20] [--runs 3]
    sudo python benchmarks/tun.py --lossy [--lossy-mb 4] [--loss 1,5,20]

``--lossy`` measures loss recovery on a real lossy path (issue 11): ``tcplab serve echo`` on a
TUN device, a kernel client echoing 4 MB through it, with random loss from nftables in the
namespace (``numgen random mod 100 < N drop``) on the kernel's *input* hook only (what tcplab
sends is lost: tcplab is the sender that recovers), then on its *output* hook only (the kernel is
the sender that recovers); and kernel to kernel over veth with the same loss both ways, as the
yardstick. The figure to watch: the tcplab-sender MB/s against the kernel-sender MB/s at 5 %.

The kernel side is the same small Python program in every case (tests/interop/kpeer.py: one
``send``/``recv`` loop of 256 KB calls), so the yardstick is "the kernel's TCP with a Python
application", and tcplab's figure includes its whole per-packet path: TUN read/write, parsing,
the host, the engine, the socket layer. Only 198.18.0.0/15 addresses inside namespaces created
(and removed) here are used.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KPEER = str(ROOT / "tests" / "interop" / "kpeer.py")
MB = 1 << 20


def _kpeer(ns: str, *args: object) -> subprocess.Popen:
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, KPEER, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _events_reader(stack_runtime, proc: subprocess.Popen, events: list) -> None:
    buf = bytearray()
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not data:
            stack_runtime.remove_reader(fd)
            return
        buf.extend(data)
        while b"\n" in buf:
            i = buf.index(b"\n")
            events.append(json.loads(bytes(buf[:i])))
            del buf[: i + 1]

    stack_runtime.add_reader(fd, readable)


def _find(events: list, name: str) -> dict | None:
    for e in events:
        if e["event"] in (name, "error"):
            return e
    return None


def kernel_to_tcplab(ns: str, nbytes: int) -> float:
    from tcplab.host import Host
    from tcplab.net.tun import TunLink, TunRuntime
    from tcplab.socket import Socket

    with TunLink("tlab0", "198.18.0.1/24", "198.18.0.2/24", netns=ns) as link:
        host = Host("bench", link.host_addresses())
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
            if peer.poll() is None:
                peer.kill()
            peer.wait()
            rt.close()
        if got != nbytes:
            raise SystemExit(f"kernel -> tcplab: received {got} of {nbytes} bytes")
        return nbytes / dt / MB


def tcplab_to_kernel(ns: str, nbytes: int) -> float:
    from tcplab.host import Host
    from tcplab.net.tun import TunLink, TunRuntime
    from tcplab.socket import Socket

    with TunLink("tlab0", "198.18.0.1/24", "198.18.0.2/24", netns=ns) as link:
        host = Host("bench", link.host_addresses())
        rt = TunRuntime(link, host)
        peer = _kpeer(ns, "server", "0.0.0.0", 9001, "--eof", "--no-hash")
        events: list = []
        _events_reader(rt, peer, events)
        try:
            rt.run_until(lambda: _find(events, "listening") is not None, 20)
            sock = Socket(host)
            sock.settimeout(120)
            sock.connect(("198.18.0.1", 9001))
            payload = os.urandom(nbytes)
            sock.sendall(payload)
            sock.close()
            rt.run_until(lambda: _find(events, "done") is not None, 120)
            done = _find(events, "done")
        finally:
            if peer.poll() is None:
                peer.kill()
            peer.wait()
            rt.close()
        if not done or done.get("recv") != nbytes:
            raise SystemExit(f"tcplab -> kernel: the kernel reported {done}")
        return nbytes / done["elapsed"] / MB


def kernel_to_kernel_veth(ns_a: str, ns_b: str, nbytes: int) -> float:
    _veth(ns_a, ns_b)
    server = _kpeer(ns_b, "server", "198.19.0.2", 9002, "--eof", "--no-hash")
    try:
        line = server.stdout.readline()
        if "listening" not in line:
            raise SystemExit(f"veth server: {line!r} {server.stderr.read()!r}")
        client = _kpeer(ns_a, "client", "198.19.0.2", 9002, "--send", nbytes, "--shut", "--no-hash")
        client.wait(120)
        done = None
        for line in server.stdout:
            ev = json.loads(line)
            if ev["event"] == "done":
                done = ev
                break
        server.wait(30)
    finally:
        for p in (server,):
            if p.poll() is None:
                p.kill()
    if not done or done["recv"] != nbytes:
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


def _serve_echo(ns: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tcplab", "serve", "echo", "--netns", ns, "--tun", "tlab0", "--port", "9527"],
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


def _echo_through(ns: str, addr: str, port: int, nbytes: int, timeout: float) -> float:
    """A kernel client in ``ns`` sends ``nbytes`` and reads them back; MB/s of the echo."""
    client = _kpeer(ns, "client", addr, port, "--send", nbytes, "--recv", nbytes, "--shut", "--timeout", timeout)
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


def echo_tcplab(nbytes: int, hook: str, percent: float, timeout: float) -> float:
    """``tcplab serve echo`` on TUN; loss on the kernel's ``hook`` (input: tcplab's data)."""
    from tcplab.net import netns

    with netns.temporary("tcplab-t-") as ns:
        server = _serve_echo(ns)
        try:
            if percent:
                nft_loss(ns, (hook,), percent)
            return _echo_through(ns, "198.18.0.2", 9527, nbytes, timeout)
        finally:
            server.terminate()
            server.wait(15)


def echo_kernel_veth(nbytes: int, percent: float, timeout: float) -> float:
    """Kernel to kernel over veth: an echo server in one namespace, loss both ways in it."""
    from tcplab.net import netns

    with netns.temporary("tcplab-t-") as ns_a, netns.temporary("tcplab-t-") as ns_b:
        _veth(ns_a, ns_b)
        server = _kpeer(ns_b, "server", "198.19.0.2", 9003, "--echo", "--eof", "--shut", "--timeout", timeout)
        try:
            line = server.stdout.readline()
            if "listening" not in line:
                raise SystemExit(f"veth echo server: {line!r}")
            if percent:
                nft_loss(ns_b, ("input", "output"), percent)
            return _echo_through(ns_a, "198.19.0.2", 9003, nbytes, timeout)
        finally:
            if server.poll() is None:
                server.kill()
            server.wait(10)


def lossy(nbytes: int, losses: list[float], timeout: float) -> None:
    print(f"echo of {nbytes // MB} MB from a kernel client, nftables random loss (MB/s)")
    print(f"  {'loss':>5}  {'tcplab sends':>13}  {'kernel sends':>13}  {'kernel<->kernel':>15}  ratio")
    print(f"  {'':>5}  {'(input hook)':>13}  {'(output hook)':>13}  {'(veth, both)':>15}")
    for pct in losses:
        tcplab_sends = echo_tcplab(nbytes, "input", pct, timeout)
        kernel_sends = echo_tcplab(nbytes, "output", pct, timeout)
        veth = echo_kernel_veth(nbytes, pct, timeout)
        ratio = tcplab_sends / kernel_sends
        print(f"  {pct:>4g}%  {tcplab_sends:13.1f}  {kernel_sends:13.1f}  {veth:15.1f}  {ratio:5.2f}", flush=True)


def _veth(ns_a: str, ns_b: str) -> None:
    from pyroute2 import IPRoute

    from tcplab.net import netns

    with netns.entered(ns_a), IPRoute() as ipr:
        ipr.link("add", ifname="vbench0", kind="veth", peer={"ifname": "vbench1", "net_ns_fd": f"/run/netns/{ns_b}"})
        idx = ipr.link_lookup(ifname="vbench0")[0]
        ipr.addr("add", index=idx, address="198.19.0.1", prefixlen=24)
        ipr.link("set", index=idx, state="up")
    with netns.entered(ns_b), IPRoute() as ipr:
        idx = ipr.link_lookup(ifname="vbench1")[0]
        ipr.addr("add", index=idx, address="198.19.0.2", prefixlen=24)
        ipr.link("set", index=idx, state="up")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=20, help="megabytes per transfer (default 20)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each (median shown)")
    ap.add_argument("--lossy", action="store_true", help="measure loss recovery instead (see above)")
    ap.add_argument("--lossy-mb", type=int, default=4, help="megabytes echoed per lossy run (default 4)")
    ap.add_argument("--loss", default="1,5,20", help="loss percentages for --lossy (default 1,5,20)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("benchmarks/tun.py needs root (TUN devices, namespaces): run with sudo", file=sys.stderr)
        return 2
    if args.lossy:
        lossy(args.lossy_mb * MB, [float(x) for x in args.loss.split(",")], timeout=600)
        return 0
    from tcplab.net import netns

    nbytes = args.mb * MB
    results: dict[str, list[float]] = {
        "kernel -> tcplab (TUN)": [],
        "tcplab -> kernel (TUN)": [],
        "kernel -> kernel (veth)": [],
    }
    for _ in range(args.runs):
        with netns.temporary("tcplab-t-") as ns:
            results["kernel -> tcplab (TUN)"].append(kernel_to_tcplab(ns, nbytes))
        with netns.temporary("tcplab-t-") as ns:
            results["tcplab -> kernel (TUN)"].append(tcplab_to_kernel(ns, nbytes))
        with netns.temporary("tcplab-t-") as a, netns.temporary("tcplab-t-") as b:
            results["kernel -> kernel (veth)"].append(kernel_to_kernel_veth(a, b, nbytes))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"bulk transfer of {args.mb} MB, median of {args.runs} runs")
    for k, v in med.items():
        print(f"  {k:26s} {v:10.1f} MB/s")
    yard = med["kernel -> kernel (veth)"]
    for k in ("kernel -> tcplab (TUN)", "tcplab -> kernel (TUN)"):
        print(f"  ratio {k:20s} {med[k] / yard:10.4f} of kernel -> kernel")
    return 0


if __name__ == "__main__":
    sys.exit(main())

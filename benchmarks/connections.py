"""Connection benchmark: connections per second, and memory per idle connection.

    sudo python benchmarks/connections.py [--seconds 2] [--parallel 8] [--runs 3] [--conns 10000]
                                          [--busy-poll USEC]

Connections per second (root; namespaces and TUN/veth devices made and removed here): one
connection is a handshake and an orderly close (the client connects, sends FIN at once, waits
for the server's FIN and closes; the server reads to EOF and closes), ``--parallel`` of them at a
time, for ``--seconds``, in three set-ups measured in the same run:

- kernel -> tcplab: the kernel's TCP (benchmarks/churn.py) against ``tcplab serve discard`` on
  a TUN device (a separate process, as a user runs it);
- tcplab -> kernel: tcplab's sockets on a TUN device (this process) against the kernel's TCP,
  the host built as ``tcplab serve`` builds its own (events for subscribers only: none here);
- kernel -> kernel over a veth pair between two namespaces: the yardstick.

With ``--busy-poll USEC`` both tcplab figures are measured twice, without and with busy polling
(``tcplab serve --busy-poll``; ``TunRuntime(busy_poll=...)`` for the client), runs alternating.

Memory (no root; the simulator): ``--conns`` connections between two simulated hosts, measured
with tracemalloc: bytes per idle ESTABLISHED endpoint (everything the two hosts and the sockets
hold for it, divided by the endpoints: two per connection) and per TIME_WAIT entry (after the
clients close and every socket object is dropped). Figures, not tests; medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import gc
import os
import pathlib
import signal
import sys
import time
import tracemalloc

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import contextlib

import netbench

CHURN = str(netbench.HERE / "churn.py")
PORT = 9100


# ---- connections per second ------------------------------------------------------------------
def kernel_to_tcplab(ns: str, seconds: float, parallel: int, offload: bool, busy_poll: int = 0) -> float:
    serve = netbench.in_ns(
        ns,
        sys.executable,
        "-m",
        "tcplab",
        "serve",
        "discard",
        "--tun",
        "tlabc0",
        "--port",
        PORT,
        *(() if offload else ("--no-offload",)),
        *(("--busy-poll", busy_poll) if busy_poll else ()),
    )
    try:
        assert serve.stderr is not None
        line = serve.stderr.readline()
        if "Ctrl-C to stop" not in line:
            raise SystemExit(f"tcplab serve did not start: {line.strip()} {serve.stderr.read().strip()[-300:]}")
        client = netbench.python_in_ns(ns, CHURN, "client", "198.18.0.2", PORT, "--seconds", seconds,
                                       "--parallel", parallel)  # fmt: skip
        done = netbench.wait_event(client, "done")
        netbench.stop(client)
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(10)
            except Exception:
                serve.kill()
    if done.get("event") != "done" or not done["connections"]:
        raise SystemExit(f"kernel -> tcplab: {done}")
    return done["connections"] / done["elapsed"]


def tcplab_to_kernel(ns: str, seconds: float, parallel: int, offload: bool, busy_poll: int = 0) -> float:
    from tcplab.host import Host
    from tcplab.net.tun import TunLink, TunRuntime
    from tcplab.socket import SHUT_WR, SO_ERROR, SOL_SOCKET, Socket
    from tcplab.trace.events import EventLog

    with TunLink(
        "tlabc0", "198.18.0.1/24", "198.18.0.2/24", netns=ns, **({} if offload else {"offload": False})
    ) as link:
        server = netbench.python_in_ns(ns, CHURN, "server", "198.18.0.1", PORT)
        try:
            netbench.wait_event(server, "listening")
            host = Host("bench", link.host_addresses(), log=EventLog(limit=0))  # as tcplab serve's
            rt = TunRuntime(link, host, busy_poll=busy_poll / 1e6)
            live: dict[Socket, bool] = {}  # socket -> connected (FIN sent)
            done = failed = 0

            def start() -> None:
                s = Socket(host)
                s.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    s.connect(("198.18.0.1", PORT))
                live[s] = False

            t0 = time.monotonic()
            end = t0 + seconds
            last = t0
            for _ in range(parallel):
                start()
            while live:
                rt.step(0.05)
                for s, connected in list(live.items()):
                    if not connected:
                        if not s.writable():
                            continue
                        if s.getsockopt(SOL_SOCKET, SO_ERROR):
                            failed += 1
                            s.close()
                            del live[s]
                        else:
                            s.shutdown(SHUT_WR)
                            live[s] = True
                            continue
                    elif not s.readable():
                        continue
                    else:
                        try:
                            data = s.recv(4096)
                        except OSError:
                            data, failed = b"", failed + 1
                        if data:
                            continue
                        s.close()
                        del live[s]
                        done += 1
                        last = time.monotonic()
                    if failed > 100:
                        raise SystemExit(f"tcplab -> kernel: {failed} connections failed")
                    if time.monotonic() < end:
                        start()
            rt.close()
        finally:
            netbench.stop(server)
    return done / (last - t0)


def kernel_to_kernel(ns_a: str, ns_b: str, seconds: float, parallel: int) -> float:
    netbench.veth(ns_a, "198.19.0.1", ns_b, "198.19.0.2")
    server = netbench.python_in_ns(ns_b, CHURN, "server", "198.19.0.2", PORT)
    try:
        netbench.wait_event(server, "listening")
        client = netbench.python_in_ns(ns_a, CHURN, "client", "198.19.0.2", PORT, "--seconds", seconds,
                                       "--parallel", parallel)  # fmt: skip
        done = netbench.wait_event(client, "done")
        netbench.stop(client)
    finally:
        netbench.stop(server)
    if done.get("event") != "done":
        raise SystemExit(f"kernel -> kernel: {done}")
    return done["connections"] / done["elapsed"]


def _client_ns(prefix: str = "tcplab-c-"):
    """A fresh namespace whose kernel may open 64k connections in a few seconds (the client
    leaves each in TIME_WAIT: a wide port range, and TIME_WAIT ports reused after 1 s)."""
    from tcplab.net import netns

    class _Ns:
        def __enter__(self) -> str:
            self._cm = netns.temporary(prefix)
            name = self._cm.__enter__()
            netbench.sysctl(name, net__ipv4__ip_local_port_range="1024 65535", net__ipv4__tcp_tw_reuse="1")
            return name

        def __exit__(self, *exc: object) -> None:
            self._cm.__exit__(*exc)

    return _Ns()


def connections_per_second(args: argparse.Namespace) -> None:
    # With --busy-poll: each tcplab figure without and with it, the runs alternating.
    polls = (0, args.busy_poll) if args.busy_poll else (0,)
    results: dict[str, list[float]] = {}
    yard: list[float] = []
    for _ in range(args.runs):
        for poll in polls:
            note = f", busy-poll {poll} us" if poll else ""
            with _client_ns() as ns:
                rate = kernel_to_tcplab(ns, args.seconds, args.parallel, args.offload, poll)
                results.setdefault(f"kernel -> tcplab (TUN{note})", []).append(rate)
            with _client_ns() as ns:
                rate = tcplab_to_kernel(ns, args.seconds, args.parallel, args.offload, poll)
                results.setdefault(f"tcplab -> kernel (TUN{note})", []).append(rate)
        with _client_ns() as a, _client_ns() as b:
            yard.append(kernel_to_kernel(a, b, args.seconds, args.parallel))
    k = netbench.median(yard)
    print(
        f"connections per second: connect, FIN, FIN, close; {args.parallel} at a time for {args.seconds:g} s; "
        f"median of {args.runs} runs"
    )
    print(f"  {'kernel -> kernel (veth)':42s} {k:10,.0f} /s")
    for name, values in results.items():
        v = netbench.median(values)
        print(f"  {name:42s} {v:10,.0f} /s   ratio {v / k:.3f} of kernel -> kernel")


# ---- memory ------------------------------------------------------------------------------------
def _sim_hosts():
    from tcplab.host import Host
    from tcplab.net.sim import Network
    from tcplab.net.simhost import SimRuntime
    from tcplab.trace.events import EventLog

    # Logs that keep no events (nobody listens, as in tcplab serve): the log is the trace's
    # memory, not the connections'.
    net = Network(seed=0, log=None)
    c = Host("client", ("198.18.0.1",), log=EventLog(limit=0))
    s = Host("server", ("198.18.0.2",), log=EventLog(limit=0))
    net.add(c)
    net.add(s)
    net.link(c, s, delay=0.001)
    SimRuntime.attach(net)
    return net, c, s


def memory(n: int) -> tuple[float, float]:
    """(bytes per idle ESTABLISHED endpoint, bytes per TIME_WAIT entry) for ``n`` connections."""
    from tcplab.socket import Socket
    from tcplab.tcp.states import State

    net, c, s = _sim_hosts()
    lst = Socket(s)
    lst.bind(("198.18.0.2", 9527))
    lst.listen(4096)
    lst.setblocking(False)
    clients: list[Socket] = []
    servers: list[Socket] = []
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]

    def accept_all() -> None:
        while True:
            try:
                servers.append(lst.accept()[0])
            except BlockingIOError:
                return

    for i in range(n):
        sock = Socket(c)
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            sock.connect(("198.18.0.2", 9527))
        clients.append(sock)
        if i % 1000 == 999:
            net.run(until=net.now + 0.01)
            accept_all()
    net.run(until=net.now + 1.0)  # every handshake done, delayed ACKs sent: idle
    accept_all()
    if len(servers) != n or any(ep.conn.state is not State.ESTABLISHED for ep in c.conns.values()):
        raise SystemExit(f"memory: {len(servers)} of {n} connections established")
    gc.collect()
    established = (tracemalloc.get_traced_memory()[0] - base) / (2 * n)
    for sock in clients:
        sock.close()
    net.run(until=net.now + 0.1)
    for sock in servers:
        sock.close()
    net.run(until=net.now + 1.0)
    del clients[:], servers[:]
    if len(c.conns) != n or any(ep.conn.state is not State.TIME_WAIT for ep in c.conns.values()) or s.conns:
        raise SystemExit(f"memory: {len(c.conns)} client endpoints, {len(s.conns)} server endpoints after close")
    gc.collect()
    time_wait = (tracemalloc.get_traced_memory()[0] - base) / n
    tracemalloc.stop()
    return established, time_wait


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="length of each connections-per-second run")
    ap.add_argument("--parallel", type=int, default=8, help="connections at a time (default 8)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each (median shown)")
    ap.add_argument("--conns", type=int, default=10_000, help="connections for the memory figures")
    ap.add_argument("--no-offload", dest="offload", action="store_false", help="TUN without offloads")
    ap.add_argument("--busy-poll", type=int, default=0, metavar="USEC",
                    help="also measure tcplab with --busy-poll USEC, beside the figures without")  # fmt: skip
    ap.add_argument("--memory-only", action="store_true", help="only the memory figures (no root needed)")
    args = ap.parse_args()
    if not args.memory_only:
        from tcplab.net.allocator import keep_freed_memory

        keep_freed_memory()  # as tcplab serve does (tcplab/net/allocator.py)
        netbench.need_root("connections.py")
        connections_per_second(args)
    est, tw = memory(args.conns)
    print(f"memory in the simulator, {args.conns:,} connections (tracemalloc)")
    print(f"  per idle ESTABLISHED endpoint {est:8,.0f} bytes  (target <= 2,048)")
    print(f"  per TIME_WAIT entry           {tw:8,.0f} bytes  (target <= 2,048)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())

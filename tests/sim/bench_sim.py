"""Benchmark: the network's per-packet cost (not a test; run ``python tests/sim/bench_sim.py``).

A sender pushes N full-size TCP packets (1460 bytes payload) to a node that answers each with
a pure ACK; both ends are trivial, so the figures are the simulator's own overhead.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from sim_fakes import Sink, tcp

from tcplab.net.sim import Network
from tcplab.trace.events import EventLog

A, B = "198.18.0.1", "198.18.0.2"


class Blaster(Sink):
    def __init__(self, name, addr, packets):
        super().__init__(name, addr)
        self.outbox = list(packets)


class Acker(Sink):
    def __init__(self, name, addr, ack):
        super().__init__(name, addr)
        self.ack = ack
        self.count = 0

    def deliver(self, packet, now):
        self.count += 1
        self.outbox.append(self.ack)


def run(n: int, log: bool, impair: bool) -> float:
    data = [tcp(A, B, "P.", seq=i * 1460, payload=bytes(1460)) for i in range(n)]
    ack = tcp(B, A, ".", sport=2000, dport=1000)
    net = Network(seed=1, log=EventLog() if log else None)
    a = net.add(Blaster("a", A, data))
    b = net.add(Acker("b", B, ack))
    if impair:
        net.link(a, b, delay=0.01, bandwidth=10_000_000, jitter=0.001, loss=0.01, duplicate=0.01)
    else:
        net.link(a, b, delay=0.01)
    start = time.perf_counter()
    net.run()
    elapsed = time.perf_counter() - start
    assert b.count > 0
    return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    for log in (False, True):
        for impair in (False, True):
            elapsed = run(n, log, impair)
            pkts = n * 2
            print(
                f"{n} data + acks, log={'on ' if log else 'off'} impairments="
                f"{'on ' if impair else 'off'}: {elapsed:.3f} s, "
                f"{elapsed / pkts * 1e6:.1f} us/packet, {pkts / elapsed:,.0f} packets/s"
            )


if __name__ == "__main__":
    main()

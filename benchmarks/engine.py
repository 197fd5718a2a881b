"""Engine benchmark: two Connections back to back, bulk transfer; prints segments/s and MB/s.

A figure, not a test: ``python benchmarks/engine.py [--mb 100] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tests.tcp.pipe import Pipe

from tcplab.tcp import Config


def one_run(total: int, chunk: bytes) -> tuple[float, int]:
    p = Pipe(Config(rcv_buf=1 << 20, snd_buf=1 << 20), delay=0.001)
    p.b.listen(0.0)
    p.a.connect(0.0)
    p.run(until=0.1)
    sent = received = 0
    t0 = time.perf_counter()
    while received < total:
        while sent < total:
            n = p.a.send(chunk[: min(len(chunk), total - sent)], p.now)
            if not n:
                break
            sent += n
        p.step()
        received += len(p.b.receive(now=p.now))
    elapsed = time.perf_counter() - t0
    return elapsed, len(p.log)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    total = args.mb * 1_000_000
    chunk = bytes(range(256)) * 256
    results = [one_run(total, chunk) for _ in range(args.runs)]
    secs = statistics.median(r[0] for r in results)
    segs = results[0][1]
    print(f"engine back to back: {args.mb} MB in {secs:.2f} s (median of {args.runs})")
    print(f"  {total / secs / 1e6:.1f} MB/s, {segs / secs:,.0f} segments/s ({segs:,} segments a run)")


if __name__ == "__main__":
    main()

"""Engine benchmark: two Connections back to back (tcplab.net.pipe), bulk transfer; prints
segments/s and MB/s. A figure, not a test: ``python benchmarks/engine.py [--mb 100] [--runs 5]``.

Time is this process's CPU time (``time.process_time``): the engine does nothing but compute,
and CPU time stays true on a machine busy with other work, where wall-clock time would not.
One line per way of carrying the bytes: segments of the usual MSS one by one; the same MSS with
a link that segments (the engines hand it 64 KB super-segments, ``Config.gso_max``); and 64 KB
segments proper (an MSS as large as over loopback).
"""

from __future__ import annotations

import argparse
import statistics
import time

from tcplab.net.allocator import keep_freed_memory
from tcplab.net.pipe import Pipe
from tcplab.tcp import Config


def one_run(total: int, chunk: bytes, config: Config) -> tuple[float, int]:
    p = Pipe(config, delay=0.001)
    p.b.listen(0.0)
    p.a.connect(0.0)
    p.run(until=0.1)
    sent = received = 0
    t0 = time.process_time()
    while received < total:
        while sent < total:
            n = p.a.send(chunk[: min(len(chunk), total - sent)], p.now)
            if not n:
                break
            sent += n
        p.step()
        received += len(p.b.receive(now=p.now))
    elapsed = time.process_time() - t0
    return elapsed, len(p.log)


# What each line of the output measures: a label and the Config.
CASES = {
    "MSS 1460": {"mss": 1460},
    "MSS 1460, the link segments (64 KB super-segments)": {"mss": 1460, "gso_max": 65000},
    "64 KB segments (MSS 65483, as over loopback)": {"mss": 65483},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--malloc-default", action="store_true", help="leave glibc's malloc thresholds as they are")
    args = ap.parse_args()
    if not args.malloc_default:
        keep_freed_memory()  # as tcplab serve does (tcplab/net/allocator.py)
    total = args.mb * 1_000_000
    chunk = bytes(range(256)) * 256
    print(f"engine back to back: {args.mb} MB a run, median of {args.runs} runs, per CPU second")
    for label, fields in CASES.items():
        config = Config(rcv_buf=1 << 20, snd_buf=1 << 20, **fields)
        results = [one_run(total, chunk, config) for _ in range(args.runs)]
        secs = statistics.median(r[0] for r in results)
        segs = results[0][1]
        print(f"  {label:50s} {total / secs / 1e6:8.1f} MB/s  {segs / secs:9,.0f} segments/s ({segs:,} a run)")


if __name__ == "__main__":
    main()

"""Engine benchmark: two Connections back to back (tcplab.net.pipe), bulk transfer; prints
segments/s and MB/s. A figure, not a test: ``python benchmarks/engine.py [--mb 100] [--runs 5]``.

Time is this process's CPU time (``time.process_time``): the engine does nothing but compute,
and CPU time stays true on a machine busy with other work, where wall-clock time would not.
One line per way of carrying the bytes: segments of the usual MSS one by one; the same MSS with
a link that segments (the engines hand it 64 KB super-segments, ``Config.gso_max``); and 64 KB
segments proper (an MSS as large as over loopback).

Then loss recovery: a 10 MB transfer over the simulator's lossy link (1 % loss and 10 %
reordering both ways, 20 ms each way) for NewReno and CUBIC, with RACK-TLP and without (the
duplicate threshold, RFC 6675): the transfer time (virtual seconds), the retransmissions, and
how many of them were spurious (an earlier copy of the segment had been delivered)
(``--lossy-mb 10 --seed 1``; 0 skips it).
"""

from __future__ import annotations

import argparse
import statistics
import time

from tcplab.net.allocator import keep_freed_memory
from tcplab.net.pipe import Pipe
from tcplab.net.simhost import two_hosts
from tcplab.socket import Socket
from tcplab.tcp import Config

# The same lossy transfer before issue 11's loss recovery (NewReno, SACK holes, DupThresh 3, go
# back N after a timeout; commit 349d55f), seed 1: what "fewer spurious retransmissions" means.
BEFORE = "NewReno before issue 11: 69.1 s, 403 retransmissions, 333 spurious (seed 1)"


def one_run(total: int, chunk: bytes, config: Config) -> tuple[float, int]:
    p = Pipe(config, delay=0.001, keep_log=False)
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
    return elapsed, p.sent


def lossy_run(config: Config, total: int, seed: int) -> tuple[float, int, int]:
    """``total`` bytes client -> server over a lossy, reordering simulated link; (virtual
    seconds, retransmissions, spurious retransmissions)."""
    net, c, s = two_hosts(seed=seed, delay=0.02, config=config, loss=0.01, reorder=0.1)
    srv = Socket(s)
    srv.bind(("198.18.0.2", 9000))
    srv.listen(1)
    cli = Socket(c)
    cli.connect(("198.18.0.2", 9000))
    conn, _ = srv.accept()
    cli.setblocking(False)
    conn.setblocking(False)
    data = bytes(range(256)) * 4096
    sent = got = 0
    start = net.now
    while got < total:
        while sent < total:
            try:
                sent += cli.send(data[: min(len(data), total - sent)])
            except BlockingIOError:
                break
        net.run(until=net.now + 0.005)
        while True:
            try:
                chunk = conn.recv(1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                break
            got += len(chunk)
    elapsed = net.now - start
    copies: dict[int, list[str]] = {}
    for e in net.log.of_kind("segment"):
        if e["src"] == "client" and e["len"]:
            copies.setdefault(e["abs_seq"], []).append(e["fate"])
    rexmit = sum(len(f) - 1 for f in copies.values())
    spurious = sum(
        1 for fates in copies.values() for i in range(1, len(fates)) if any(f != "dropped" for f in fates[:i])
    )
    return elapsed, rexmit, spurious


def lossy(total: int, seed: int) -> None:
    print(f"{total // 1_000_000} MB over a lossy link (1 % loss, 10 % reorder, 20 ms), seed {seed}:")
    for cc in ("reno", "cubic"):
        for rack in (False, True):
            cfg = Config(rcv_buf=1 << 20, snd_buf=1 << 20, congestion_control=cc, rack=rack, tlp=rack)
            secs, rexmit, spurious = lossy_run(cfg, total, seed)
            label = f"{'NewReno' if cc == 'reno' else 'CUBIC'}, {'RACK-TLP' if rack else 'DupThresh'}"
            print(f"  {label:20s} {secs:6.1f} s  {rexmit:4d} retransmissions, {spurious:4d} spurious", flush=True)
    print(f"  ({BEFORE})")


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
    ap.add_argument("--lossy-mb", type=int, default=10, help="megabytes of the lossy transfer (0: skip it)")
    ap.add_argument("--seed", type=int, default=1, help="the lossy link's seed")
    ap.add_argument("--case", type=int, choices=range(1, len(CASES) + 1), help="run only this line (1, 2, 3)")
    ap.add_argument("--malloc-default", action="store_true", help="leave glibc's malloc thresholds as they are")
    args = ap.parse_args()
    if not args.malloc_default:
        keep_freed_memory()  # as tcplab serve does (tcplab/net/allocator.py)
    total = args.mb * 1_000_000
    chunk = bytes(range(256)) * 256
    print(f"engine back to back: {args.mb} MB a run, median of {args.runs} runs, per CPU second")
    for i, (label, fields) in enumerate(CASES.items(), 1):
        if args.case and i != args.case:
            continue
        config = Config(rcv_buf=1 << 20, snd_buf=1 << 20, **fields)
        results = [one_run(total, chunk, config) for _ in range(args.runs)]
        secs = statistics.median(r[0] for r in results)
        segs = results[0][1]
        print(f"  {label:50s} {total / secs / 1e6:8.1f} MB/s  {segs / secs:9,.0f} segments/s ({segs:,} a run)")
    if args.lossy_mb:
        lossy(args.lossy_mb * 1_000_000, args.seed)


if __name__ == "__main__":
    main()

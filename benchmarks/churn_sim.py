"""Per-connection cost of the engine under churn, in the simulator (no root, load-independent).

    python benchmarks/churn_sim.py [--conns 2000]          # CPU time per connection
    python benchmarks/churn_sim.py --callgrind [--conns 2000]  # instructions per connection

One connection as benchmarks/connections.py makes them: the client connects and sends FIN at
once, the server reads to EOF and closes, the client closes; the two simulated hosts keep no
events (``EventLog(limit=0)``, as ``tcplab serve`` builds its host). ``--callgrind`` runs this
script twice under valgrind's callgrind (``--conns`` and twice as many) and prints the difference
in instructions divided by the extra connections: set-up and interpreter start cancel out.
A figure, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import re
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from connections import _sim_hosts

PORT = 9527
BATCH = 50  # connections opened between two runs of the simulator


def churn(n: int) -> None:
    """Open and close ``n`` connections between two simulated hosts."""
    from tcplab.socket import Socket

    net, c, s = _sim_hosts()
    lst = Socket(s)
    lst.bind(("198.18.0.2", PORT))
    lst.listen(4096)
    lst.setblocking(False)
    done = 0
    while done < n:
        clients = []
        for _ in range(min(BATCH, n - done)):
            sock = Socket(c)
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("198.18.0.2", PORT))
            clients.append(sock)
        net.run(until=net.now + 0.01)  # handshakes done
        for sock in clients:
            sock.shutdown(1)  # SHUT_WR: FIN at once
        net.run(until=net.now + 0.01)
        while True:
            try:
                server = lst.accept()[0]
            except BlockingIOError:
                break
            server.setblocking(False)
            if server.recv(4096) != b"":
                raise SystemExit("churn: the server read data, not EOF")
            server.close()
        net.run(until=net.now + 0.01)
        for sock in clients:
            if sock.recv(4096) != b"":
                raise SystemExit("churn: the client read data, not EOF")
            sock.close()
        done += len(clients)
    net.run(until=net.now + 1.0)
    if s.conns or len(c.conns) != n:
        raise SystemExit(f"churn: {len(s.conns)} server endpoints left, {len(c.conns)} client endpoints")


def instructions(n: int) -> int:
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--conns",
            str(n),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))  # type: ignore[union-attr]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--conns", type=int, default=2000, help="connections (default 2,000)")
    ap.add_argument("--callgrind", action="store_true", help="instructions per connection (valgrind)")
    args = ap.parse_args()
    if args.callgrind:
        small, large = instructions(args.conns), instructions(2 * args.conns)
        print(f"instructions per connection (callgrind): {(large - small) / args.conns:,.0f}")
        return 0
    start = time.process_time()
    churn(args.conns)
    cpu = time.process_time() - start
    print(f"{args.conns:,} connections: {cpu / args.conns * 1e6:,.0f} us CPU per connection")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())

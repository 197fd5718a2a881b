"""``tcplab connect ADDRESS PORT``: netcat through tcplab's TCP on a TUN device.

    sudo tcplab connect 198.18.0.1 8080 --tun tlab0 --address 198.18.0.2/24 \\
        --peer-address 198.18.0.1/24

Standard input goes to the connection, the connection to standard output. At the end of
standard input tcplab half-closes (FIN) and keeps reading until the peer closes too. Ctrl-C closes
the connection and exits.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import queue
import sys
import threading
from typing import Any

from tcplab.commands.tunhost import TunHost, add_tun_arguments

_CHUNK = 65536


class _StdinReader(threading.Thread):
    """Reads standard input in a thread (pipes, files and terminals alike) and wakes the loop."""

    def __init__(self, fd: int, tun: TunHost) -> None:
        super().__init__(daemon=True, name="tcplab-stdin")
        self.fd = fd
        self.tun = tun
        self.chunks: queue.Queue[bytes] = queue.Queue(maxsize=16)

    def run(self) -> None:
        while True:
            try:
                data = os.read(self.fd, _CHUNK)
            except OSError:
                data = b""
            self.chunks.put(data)
            self.tun.wake()
            if not data:
                return


def run_connect(args: Any) -> int:
    from tcplab.cli import CLIError
    from tcplab.socket import AF_INET, AF_INET6, SHUT_WR, SO_ERROR, SOL_SOCKET, Socket

    try:
        remote = ipaddress.ip_address(args.address_to)
    except ValueError:
        raise CLIError(f"bad address {args.address_to!r}: give an IP address") from None
    if not 0 < args.port < 65536:
        raise CLIError(f"bad port {args.port}: 1..65535")
    tun = TunHost(args)
    try:
        runtime = tun.runtime
        tun.catch_signals()
        sock = Socket(tun.host, AF_INET6 if remote.version == 6 else AF_INET)
        if args.source_port:
            sock.bind(("::" if remote.version == 6 else "0.0.0.0", args.source_port))
        sock.setblocking(False)
        try:
            sock.connect((str(remote), args.port))
        except BlockingIOError:
            pass
        except OSError as exc:
            raise CLIError(f"connect to {remote} port {args.port}: {exc.strerror}") from None
        ok = runtime.run_until(lambda: tun.stopping or sock.writable(), args.timeout)
        if tun.stopping:
            sock.close()
            return 130
        err = sock.getsockopt(SOL_SOCKET, SO_ERROR)
        if not ok:
            sock.close()
            raise CLIError(f"connect to {remote} port {args.port}: timed out after {args.timeout:g} s")
        if err:
            sock.close()
            raise CLIError(f"connect to {remote} port {args.port}: {os.strerror(err)}")
        if args.verbose:
            print(f"tcplab: connected to {remote} port {args.port}", file=sys.stderr, flush=True)
        reader = _StdinReader(sys.stdin.fileno(), tun)
        reader.start()
        out = sys.stdout.buffer
        pending = bytearray()
        stdin_eof = False
        shut = False
        peer_eof = False
        status = 0
        while not tun.stopping:
            runtime.step(1.0)
            try:
                while not peer_eof:
                    try:
                        data = sock.recv(_CHUNK)
                    except BlockingIOError:
                        break
                    if not data:
                        peer_eof = True
                        break
                    out.write(data)
                out.flush()
                while not stdin_eof and len(pending) < _CHUNK:
                    try:
                        chunk = reader.chunks.get_nowait()
                    except queue.Empty:
                        break
                    if chunk:
                        pending += chunk
                    else:
                        stdin_eof = True
                while pending:
                    try:
                        n = sock.send(pending)
                    except BlockingIOError:
                        break
                    del pending[:n]
                if stdin_eof and not pending and not shut:
                    sock.shutdown(SHUT_WR)
                    shut = True
            except BrokenPipeError:
                break  # our stdout went away
            except OSError as exc:
                print(f"tcplab: connection: {exc.strerror or exc}", file=sys.stderr)
                status = 1
                break
            if peer_eof and (shut or not args.wait_stdin):
                break
        with contextlib.suppress(OSError):
            with contextlib.suppress(BlockingIOError):
                while sock.recv(_CHUNK):
                    pass
            sock.close()
        tun.settle(3.0)
        return 130 if tun.stopping and status == 0 and not peer_eof else status
    finally:
        tun.close()


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "connect", help="netcat through tcplab on a TUN device", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("address_to", metavar="ADDRESS", help="the peer's IP address")
    p.add_argument("port", type=int, metavar="PORT")
    p.add_argument("--source-port", type=int, default=0, help="bind to this local port first")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the connection (default 10)")
    p.add_argument(
        "--wait-stdin", action="store_true", help="after the peer closes, keep sending standard input until its end"
    )
    p.add_argument("-v", "--verbose", action="store_true")
    add_tun_arguments(p)
    p.set_defaults(func=run_connect)

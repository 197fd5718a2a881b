"""``tcplab connect``: netcat through tcplab's TCP on a TUN device, with netcat's habits.

    sudo tcplab connect 198.18.0.1 8080 --tun tlab0        # like nc 198.18.0.1 8080
    sudo tcplab connect -l 9000 --tun tlab0                # like nc -l 9000 (tcplab listens)
    sudo tcplab connect -z 198.18.0.1 8080 --tun tlab0     # like nc -z: is anyone there?

Standard input goes to the connection, the connection to standard output. At the end of
standard input tcplab half-closes (FIN; ``--no-half-close`` keeps the connection open as nc does
without -N) and keeps reading until the peer closes too -- or, with ``-q SECS``, at most SECS
seconds longer (``-q 0``: quit at once). ``-l`` listens on the tcplab host (``-k``: accept
another connection after each one). ``-4``/``-6`` pick the address family. Ctrl-C closes the
connection and exits.

The TUN device may already exist -- for instance made persistent with ``ip tuntap add`` and
given the kernel-side address so that a kernel ``nc -l 198.18.0.1 8080`` could bind before
tcplab starts: tcplab attaches to it and keeps its addresses.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import queue
import sys
import threading
import time
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


class _Relay:
    """stdin -> connection -> stdout for one connection; ``run()`` returns the exit status."""

    def __init__(self, tun: TunHost, sock: Any, reader: _StdinReader | None, args: Any, stdin_state: dict) -> None:
        self.tun, self.sock, self.reader, self.args = tun, sock, reader, args
        self.stdin = stdin_state  # shared across -k connections: {"eof": bool, "at": float | None}

    def run(self) -> int:
        from tcplab.socket import SHUT_WR

        tun, sock, args = self.tun, self.sock, self.args
        out = sys.stdout.buffer
        pending = bytearray()
        shut = False
        peer_eof = False
        status = 0
        while not tun.stopping:
            tun.runtime.step(0.2)
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
                self._take_stdin(pending)
                while pending:
                    try:
                        n = sock.send(pending)
                    except BlockingIOError:
                        break
                    del pending[:n]
                if self.stdin["eof"] and not pending and not shut and args.half_close:
                    sock.shutdown(SHUT_WR)
                    shut = True
            except BrokenPipeError:
                break  # our stdout went away
            except OSError as exc:
                print(f"tcplab: connection: {exc.strerror or exc}", file=sys.stderr)
                status = 1
                break
            if peer_eof and (not args.wait_stdin or (self.stdin["eof"] and not pending)):
                break
            at = self.stdin["at"]
            if at is not None and not pending and args.quit_after >= 0 and time.monotonic() - at >= args.quit_after:
                break  # -q SECS after the end of standard input
        self.close()
        return 130 if tun.stopping and status == 0 and not peer_eof else status

    def _take_stdin(self, pending: bytearray) -> None:
        reader = self.reader
        while reader is not None and not self.stdin["eof"] and len(pending) < _CHUNK:
            try:
                chunk = reader.chunks.get_nowait()
            except queue.Empty:
                return
            if chunk:
                pending += chunk
            else:
                self.stdin["eof"] = True
                self.stdin["at"] = time.monotonic()

    def close(self) -> None:
        sock = self.sock
        with contextlib.suppress(OSError):
            with contextlib.suppress(BlockingIOError):
                while sock.recv(_CHUNK):
                    pass  # unread data would turn close() into a RST (as Linux)
            sock.close()


def _family(args: Any, address: str | None) -> int | None:
    """4, 6 or None (either) from -4/-6 and the address; CLIError when they disagree."""
    from tcplab.cli import CLIError

    want = 4 if args.ipv4 else 6 if args.ipv6 else None
    if address is None:
        return want
    try:
        version = ipaddress.ip_address(address).version
    except ValueError:
        raise CLIError(f"bad address {address!r}: give an IP address (tcplab does no name resolution)") from None
    if want is not None and want != version:
        raise CLIError(f"{address} is not an IPv{want} address (-{want})")
    return version


def _ports(args: Any) -> tuple[str | None, int]:
    from tcplab.cli import CLIError

    targets = list(args.targets)
    if len(targets) == 1 and args.listen:
        address, port_text = None, targets[0]
    elif len(targets) == 2:
        address, port_text = targets
    else:
        raise CLIError("give ADDRESS PORT (or, with -l, [ADDRESS] PORT)")
    try:
        port = int(port_text)
    except ValueError:
        raise CLIError(f"bad port {port_text!r}: 1..65535") from None
    if not 0 < port < 65536:
        raise CLIError(f"bad port {port}: 1..65535")
    return address, port


def _connect(tun: TunHost, args: Any, address: str, port: int, version: int | None) -> Any:
    from tcplab.cli import CLIError
    from tcplab.socket import AF_INET, AF_INET6, SO_ERROR, SOL_SOCKET, Socket

    sock = Socket(tun.host, AF_INET6 if version == 6 else AF_INET)
    if args.source_port:
        sock.bind(("::" if version == 6 else "0.0.0.0", args.source_port))
    sock.setblocking(False)
    try:
        sock.connect((address, port))
    except BlockingIOError:
        pass
    except OSError as exc:
        raise CLIError(f"connect to {address} port {port}: {exc.strerror}") from None
    ok = tun.runtime.run_until(lambda: tun.stopping or sock.writable(), args.timeout)
    if tun.stopping:
        sock.close()
        return None
    err = sock.getsockopt(SOL_SOCKET, SO_ERROR)
    if not ok or err:
        sock.close()
        why = f"timed out after {args.timeout:g} s" if not ok else os.strerror(err)
        if args.zero:
            print(f"tcplab: connect to {address} port {port} (tcp) failed: {why}", file=sys.stderr)
            raise SystemExit(1)
        raise CLIError(f"connect to {address} port {port}: {why}")
    if args.verbose or args.zero:
        print(f"Connection to {address} {port} port [tcp] succeeded!", file=sys.stderr, flush=True)
    return sock


def _listen(tun: TunHost, args: Any, address: str | None, port: int, version: int | None) -> list:
    from tcplab.cli import CLIError
    from tcplab.commands.serve import open_listeners

    addresses = [address] if address else tun.link.host_addresses()
    if version is not None:
        addresses = [a for a in addresses if ipaddress.ip_address(a).version == version]
    if not addresses:
        raise CLIError(f"the tcplab host has no IPv{version} address (give --address6/--peer-address6)")
    try:
        listeners = open_listeners(tun.host, addresses, port)
    except OSError as exc:
        raise CLIError(f"cannot listen on port {port}: {exc.strerror or exc}") from None
    if args.verbose:
        where = ", ".join(addresses)
        print(f"Listening on {where} {port}", file=sys.stderr, flush=True)
    return listeners


def _accept(tun: TunHost, listeners: list, args: Any) -> Any:
    while not tun.stopping:
        for lsock in listeners:
            try:
                conn, peer = lsock.accept()
            except (BlockingIOError, OSError):
                continue
            conn.setblocking(False)
            if args.verbose:
                print(f"Connection received on {peer[0]} {peer[1]}", file=sys.stderr, flush=True)
            return conn
        tun.runtime.step(0.2)
    return None


def run_connect(args: Any) -> int:
    from tcplab.cli import CLIError

    address, port = _ports(args)
    version = _family(args, address)
    if args.listen and args.zero:
        raise CLIError("-z and -l do not go together")
    if args.keep_open and not args.listen:
        raise CLIError("-k needs -l")
    tun = TunHost(args)
    try:
        tun.catch_signals()
        stdin_state: dict = {"eof": False, "at": None}
        reader = None
        if not args.zero:
            reader = _StdinReader(sys.stdin.fileno(), tun)
            reader.start()
        if not args.listen:
            assert address is not None
            sock = _connect(tun, args, address, port, version)
            if sock is None:
                return 130
            if args.zero:
                _Relay(tun, sock, None, args, stdin_state).close()
                tun.settle(3.0)
                return 0
            status = _Relay(tun, sock, reader, args, stdin_state).run()
        else:
            listeners = _listen(tun, args, address, port, version)
            status = 0
            while not tun.stopping:
                conn = _accept(tun, listeners, args)
                if conn is None:
                    break
                status = _Relay(tun, conn, reader, args, stdin_state).run()
                if not args.keep_open:
                    break
            for lsock in listeners:
                lsock.close()
        tun.settle(3.0)
        return 130 if tun.stopping and status == 0 else status
    finally:
        tun.close()


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "connect",
        help="netcat through tcplab on a TUN device (-l, -k, -q, -z, -4/-6)",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("targets", nargs="+", metavar="ADDRESS PORT", help="ADDRESS PORT, or with -l [ADDRESS] PORT")
    p.add_argument("-l", "--listen", action="store_true", help="listen on the tcplab host instead of connecting")
    p.add_argument("-k", "--keep-open", action="store_true", help="with -l: accept another connection after each one")
    p.add_argument(
        "-q",
        dest="quit_after",
        type=float,
        default=-1.0,
        metavar="SECS",
        help="after the end of standard input, wait at most SECS for the peer, then quit (default: wait for it)",
    )
    p.add_argument(
        "--no-half-close",
        dest="half_close",
        action="store_false",
        help="at the end of standard input send no FIN (nc without -N)",
    )
    p.add_argument("-z", dest="zero", action="store_true", help="connect, then close at once: report whether it worked")
    p.add_argument("-4", dest="ipv4", action="store_true", help="IPv4 only")
    p.add_argument("-6", dest="ipv6", action="store_true", help="IPv6 only")
    p.add_argument("-p", "--source-port", type=int, default=0, help="bind to this local port first")
    p.add_argument("-w", "--timeout", type=float, default=10.0, help="seconds to wait for the connection (default 10)")
    p.add_argument(
        "--wait-stdin", action="store_true", help="after the peer closes, keep sending standard input until its end"
    )
    p.add_argument("-v", "--verbose", action="store_true")
    add_tun_arguments(p)
    p.set_defaults(func=run_connect)

"""Every call, flag and option of tcplab sockets beside the kernel's socket in the same situation.

Each test runs one story twice -- on the Linux kernel's TCP over 127.0.0.1 (no privileges
needed) and on tcplab's over the simulated network -- and compares what the application sees:
values, errnos, bytes, segment counts. Where tcplab models a sysctl of this machine (buffer
limits), the comparison is skipped with a reason when the kernel running the test has another
value. What differs by design (loopback's 64 KB MSS, tcplab's congestion control) is left out of
the comparison and said so.
"""

from __future__ import annotations

import errno
import fcntl
import pathlib
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tcplab.net.simhost import two_hosts
from tcplab.socket import (
    F_GETFL,
    F_SETFL,
    FIONREAD,
    IPPROTO_TCP,
    MSG_DONTWAIT,
    MSG_EOR,
    MSG_MORE,
    MSG_NOSIGNAL,
    MSG_OOB,
    MSG_PEEK,
    MSG_TRUNC,
    MSG_WAITALL,
    O_NONBLOCK,
    SIOCOUTQ,
    SIOCOUTQNSD,
    SO_ACCEPTCONN,
    SO_LINGER,
    SO_RCVBUF,
    SO_RCVLOWAT,
    SO_SNDBUF,
    SOL_SOCKET,
    TCP_CONGESTION,
    TCP_CORK,
    TCP_INFO,
    TCP_MAXSEG,
    TCP_NOTSENT_LOWAT,
    Socket,
    tcpinfo,
    wait,
)
from tcplab.socket import options as tcplab_options


class Bench:
    """What both benches share: a connected pair from a listener."""

    def socket(self) -> Any:
        raise NotImplementedError

    def listen(self, setup: Callable[[Any], None] | None = None) -> tuple[Any, tuple]:
        raise NotImplementedError

    def settle(self, seconds: float = 0.05) -> None:
        raise NotImplementedError

    def pair(self, client_setup=None, listener_setup=None) -> tuple[Any, Any, Any]:
        lst, addr = self.listen(listener_setup)
        cli = self.socket()
        if client_setup:
            client_setup(cli)
        cli.connect(addr)
        srv, _ = lst.accept()
        self.settle()
        return lst, cli, srv


class KernelBench(Bench):
    """The kernel's TCP on the loopback."""

    name = "kernel"

    def socket(self) -> Any:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    def listen(self, setup: Callable[[Any], None] | None = None) -> tuple[Any, tuple]:
        lst = self.socket()
        if setup:
            setup(lst)
        lst.bind(("127.0.0.1", 0))
        lst.listen()
        return lst, lst.getsockname()

    def settle(self, seconds: float = 0.05) -> None:
        time.sleep(seconds)

    def until(self, predicate: Callable[[], bool], limit: float = 2.0) -> bool:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if predicate():
                return True
            time.sleep(0.005)
        return predicate()

    def later(self, seconds: float, fn: Callable[[], Any]) -> None:
        timer = threading.Timer(seconds, fn)
        timer.daemon = True
        timer.start()

    def ioctl(self, sock: Any, request: int) -> int:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), request, b"\0" * 4))[0]

    def fcntl(self, sock: Any, cmd: int, arg: int = 0) -> int:
        return fcntl.fcntl(sock.fileno(), cmd, arg)

    def writable(self, sock: Any) -> bool:
        return bool(select.select([], [sock], [], 0)[1])

    def readable(self, sock: Any) -> bool:
        return bool(select.select([sock], [], [], 0)[0])


class TcplabBench(Bench):
    """tcplab's TCP on the simulated network (virtual time)."""

    name = "tcplab"

    def __init__(self) -> None:
        self.net, self.client, self.server = two_hosts()

    def socket(self) -> Any:
        return Socket(self.client)

    def listen(self, setup: Callable[[Any], None] | None = None) -> tuple[Any, tuple]:
        lst = Socket(self.server)
        if setup:
            setup(lst)
        lst.bind(("198.18.0.2", 0))
        lst.listen()
        return lst, lst.getsockname()

    def settle(self, seconds: float = 0.05) -> None:
        self.net.run(until=self.net.now + seconds)

    def until(self, predicate: Callable[[], bool], limit: float = 2.0) -> bool:
        return self.net.run_until(predicate, timeout=limit)

    def later(self, seconds: float, fn: Callable[[], Any]) -> None:
        self.net.call_later(seconds, fn)

    def ioctl(self, sock: Any, request: int) -> int:
        return sock.ioctl(request)

    def fcntl(self, sock: Any, cmd: int, arg: int = 0) -> int:
        return sock.fcntl(cmd, arg)

    def writable(self, sock: Any) -> bool:
        return bool(wait([], [sock], 0)[1])

    def readable(self, sock: Any) -> bool:
        return bool(wait([sock], [], 0)[0])


def both(story: Callable[[Any], Any]) -> tuple[Any, Any]:
    """The story's observations on the kernel and on tcplab."""
    return story(KernelBench()), story(TcplabBench())


def errno_of(fn: Callable[[], Any]) -> Any:
    """The call's result, or its errno name."""
    try:
        return fn()
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, exc.errno)


def sysctl(name: str) -> str:
    return pathlib.Path("/proc/sys", *name.split(".")).read_text().split("\n")[0].strip()


def needs_modelled_sysctls() -> None:
    modelled = {
        "net.core.wmem_max": str(tcplab_options.WMEM_MAX),
        "net.core.rmem_max": str(tcplab_options.RMEM_MAX),
        "net.ipv4.tcp_wmem": "\t".join(map(str, tcplab_options.TCP_WMEM)),
        "net.ipv4.tcp_rmem": "\t".join(map(str, tcplab_options.TCP_RMEM)),
    }
    for name, value in modelled.items():
        if sysctl(name) != value:
            pytest.skip(f"this kernel has {name} = {sysctl(name)!r}; tcplab models {value!r}")


# ---- recv flags ---------------------------------------------------------------------------------
def test_recv_flags_peek_trunc_waitall_dontwait_oob():
    def story(b):
        _lst, cli, srv = b.pair()
        seen = [errno_of(lambda: srv.recv(10, MSG_DONTWAIT))]  # nothing yet: EAGAIN
        cli.sendall(b"abcdefghij")
        cli.shutdown(socket.SHUT_WR)
        b.settle()
        seen += [
            srv.recv(4, MSG_PEEK),
            srv.recv(100, MSG_PEEK),
            b.ioctl(srv, FIONREAD),  # peeking takes nothing (the FIN is not counted)
            srv.recv(3),
            len(srv.recv(2, MSG_TRUNC)),  # discarded: only the count means something
            b.ioctl(srv, FIONREAD),
            errno_of(lambda: srv.recv(10, MSG_OOB)),  # no urgent data: EINVAL
            srv.recv(100, MSG_WAITALL),  # EOF ends MSG_WAITALL early
            srv.recv(10, MSG_PEEK),
            srv.recv(10, MSG_DONTWAIT),
        ]
        return seen

    kernel, tcplab = both(story)
    assert kernel == ["EAGAIN", b"abcd", b"abcdefghij", 10, b"abc", 2, 5, "EINVAL", b"fghij", b"", b""]
    assert tcplab == kernel


def test_recv_waitall_blocks_until_every_byte_came():
    def story(b):
        _lst, cli, srv = b.pair()
        b.later(0.05, lambda: cli.send(b"first "))
        b.later(0.10, lambda: cli.send(b"second"))
        return srv.recv(12, MSG_WAITALL), errno_of(lambda: srv.recv(1, MSG_DONTWAIT))

    kernel, tcplab = both(story)
    assert kernel == (b"first second", "EAGAIN")
    assert tcplab == kernel


def test_so_rcvlowat_values_and_blocking_recv():
    def story(b):
        s = b.socket()
        seen = [s.getsockopt(SOL_SOCKET, SO_RCVLOWAT)]
        for v in (0, -1, 5, 2**31 - 1):
            s.setsockopt(SOL_SOCKET, SO_RCVLOWAT, v)
            seen.append(s.getsockopt(SOL_SOCKET, SO_RCVLOWAT))
        s.setsockopt(SOL_SOCKET, SO_RCVBUF, 4096)  # SOCK_RCVBUF_LOCK: the cap is half of 8192
        s.setsockopt(SOL_SOCKET, SO_RCVLOWAT, 100000)
        seen.append(s.getsockopt(SOL_SOCKET, SO_RCVLOWAT))
        _lst, cli, srv = b.pair()
        srv.setsockopt(SOL_SOCKET, SO_RCVLOWAT, 8)
        cli.send(b"abc")
        b.settle()
        seen.append(b.readable(srv))  # 3 bytes < SO_RCVLOWAT 8: not readable
        # A blocking recv takes the 3 bytes, then waits until 8 more are readable: Linux wakes
        # a reader only for SO_RCVLOWAT bytes (tcp_data_ready), so 5 are not enough.
        b.later(0.05, lambda: cli.send(b"defgh"))
        b.later(0.10, lambda: cli.send(b"ijklmnop"))
        seen.append(srv.recv(100))
        return seen

    kernel, tcplab = both(story)
    assert kernel == [1, 1, 16777216, 5, 16777216, 4096, False, b"abcdefghijklmnop"]
    assert tcplab == kernel


# ---- send flags and TCP_CORK: segments counted by the receiver's TCP_INFO ------------------------
def data_segs_in(sock: Any) -> int:
    return tcpinfo.unpack(sock.getsockopt(IPPROTO_TCP, TCP_INFO, 512))["data_segs_in"]


def test_cork_more_and_eor_decide_how_writes_become_segments():
    def story(b):
        seen = []
        for case in ("cork", "cork+eor", "more", "plain-nodelay"):
            _lst, cli, srv = b.pair()
            before = data_segs_in(srv)
            if case.startswith("cork"):
                cli.setsockopt(IPPROTO_TCP, TCP_CORK, 1)
                cli.send(b"a" * 100, MSG_EOR if case == "cork+eor" else 0)
                cli.send(b"b" * 100)
                cli.setsockopt(IPPROTO_TCP, TCP_CORK, 0)
            elif case == "more":
                cli.send(b"a" * 100, MSG_MORE)
                cli.send(b"b" * 100, MSG_MORE | MSG_NOSIGNAL)
                cli.send(b"c" * 50)
            else:
                cli.setsockopt(IPPROTO_TCP, socket.TCP_NODELAY, 1)
                cli.send(b"a" * 100)
                b.settle()
                cli.send(b"b" * 100)
            b.settle(0.3)  # past any delayed ACK (tcplab has no quick-ACK start, Linux has)
            got = srv.recv(1000)
            seen.append((case, len(got), data_segs_in(srv) - before))
        return seen

    kernel, tcplab = both(story)
    assert kernel == [("cork", 200, 1), ("cork+eor", 200, 2), ("more", 250, 1), ("plain-nodelay", 200, 2)]
    assert tcplab == kernel


def test_corked_data_goes_out_by_itself_and_tcp_cork_reads_back_as_a_flag():
    def story(b):
        _lst, cli, srv = b.pair()
        cli.setsockopt(IPPROTO_TCP, TCP_CORK, 5)
        seen = [cli.getsockopt(IPPROTO_TCP, TCP_CORK)]
        cli.send(b"x" * 100)
        b.settle(0.05)
        seen.append(b.ioctl(srv, FIONREAD))  # still held
        seen.append(b.until(lambda: b.ioctl(srv, FIONREAD) == 100))  # the probe timer sends it
        for flag in (MSG_MORE, 0):
            cli.setsockopt(IPPROTO_TCP, TCP_CORK, 0)
            cli.send(b"y" * 10, flag)
            seen.append(b.until(lambda: b.ioctl(srv, FIONREAD) in (110, 120)))
        return seen

    kernel, tcplab = both(story)
    assert kernel == [1, 0, True, True, True]
    assert tcplab == kernel


def test_tcp_notsent_lowat_limits_what_send_queues_and_what_poll_calls_writable():
    def story(b):
        s = b.socket()
        seen = [s.getsockopt(IPPROTO_TCP, TCP_NOTSENT_LOWAT)]
        for v in (-1, 5, 0):
            s.setsockopt(IPPROTO_TCP, TCP_NOTSENT_LOWAT, v)
            seen.append(s.getsockopt(IPPROTO_TCP, TCP_NOTSENT_LOWAT))
        _lst, cli, srv = b.pair(listener_setup=lambda lst: lst.setsockopt(SOL_SOCKET, SO_RCVBUF, 4096))
        cli.setsockopt(SOL_SOCKET, SO_SNDBUF, 1 << 20)
        cli.setsockopt(IPPROTO_TCP, TCP_NOTSENT_LOWAT, 10000)
        cli.setblocking(False)
        sent = 0
        while True:  # fill: the receiver's window closes, the rest stays unsent
            try:
                sent += cli.send(b"n" * 3000)
            except BlockingIOError:
                break
            b.settle(0.01)
        b.settle()
        notsent = tcpinfo.unpack(cli.getsockopt(IPPROTO_TCP, TCP_INFO, 512))["notsent_bytes"]
        seen += [notsent >= 10000, b.writable(cli), b.ioctl(cli, SIOCOUTQNSD) == notsent]
        srv.setblocking(False)

        def drain() -> bool:  # read everything that arrives, for a while
            try:
                while srv.recv(100000):
                    pass
            except BlockingIOError:
                pass
            return False

        b.until(drain, 0.3)
        b.until(lambda: b.writable(cli))
        notsent = tcpinfo.unpack(cli.getsockopt(IPPROTO_TCP, TCP_INFO, 512))["notsent_bytes"]
        seen += [notsent * 2 < 10000, b.writable(cli)]
        return seen

    kernel, tcplab = both(story)
    assert kernel == [0, -1, 5, 0, True, False, True, True, True]
    assert tcplab == kernel


# ---- sendmsg / recvmsg ---------------------------------------------------------------------------
def test_sendmsg_recvmsg_recvmsg_into():
    def story(b):
        _lst, cli, srv = b.pair()
        seen = [cli.sendmsg([b"ab", b"cd", memoryview(b"ef")])]
        b.settle()
        seen.append(srv.recvmsg(3, 0, MSG_PEEK))
        seen.append(srv.recvmsg(10))
        cli.send(b"hello world")
        b.settle()
        small, big = bytearray(2), bytearray(20)
        seen.append(srv.recvmsg_into([small, big]))
        seen.append((bytes(small), bytes(big[:9])))
        for level, kind in ((SOL_SOCKET, 1), (SOL_SOCKET, 99), (socket.IPPROTO_IP, 1)):
            seen.append(errno_of(lambda level=level, kind=kind: cli.sendmsg([b"x"], [(level, kind, b"\0" * 4)])))
        return seen

    kernel, tcplab = both(story)
    assert kernel == [
        6,
        (b"abc", [], 0, None),
        (b"abcdef", [], 0, None),
        (11, [], 0, None),
        (b"he", b"llo world"),
        1,
        "EINVAL",
        1,
    ]
    assert tcplab == kernel


# ---- SO_LINGER -----------------------------------------------------------------------------------
def test_so_linger_values():
    def story(b):
        s = b.socket()
        seen = [s.getsockopt(SOL_SOCKET, SO_LINGER), s.getsockopt(SOL_SOCKET, SO_LINGER, 8)]
        for onoff, linger in ((1, 0), (5, 7), (1, -3), (1, 10**9)):
            s.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("ii", onoff, linger))
            seen.append(struct.unpack("ii", s.getsockopt(SOL_SOCKET, SO_LINGER, 8)))
        seen.append(s.getsockopt(SOL_SOCKET, SO_LINGER))
        seen.append(errno_of(lambda: s.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("i", 1))))
        seen.append(errno_of(lambda: s.setsockopt(SOL_SOCKET, SO_LINGER, 1)))
        return seen

    kernel, tcplab = both(story)
    assert kernel[:3] == [0, b"\0" * 8, (1, 0)]
    assert kernel[4] == (1, -1752346657) or kernel[4][1] < 0  # "forever", in this kernel's jiffies
    assert tcplab == kernel


def test_so_linger_zero_resets_the_peer():
    def story(b):
        _lst, cli, srv = b.pair()
        cli.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("ii", 1, 0))
        cli.send(b"lost?")
        b.settle()
        cli.close()
        b.settle()
        return srv.recv(100), errno_of(lambda: srv.recv(100)), errno_of(lambda: srv.send(b"x", MSG_NOSIGNAL))

    kernel, tcplab = both(story)
    assert kernel == (b"lost?", "ECONNRESET", "EPIPE")
    assert tcplab == kernel


# ---- buffers, MSS, congestion control ----------------------------------------------------------
def test_so_sndbuf_so_rcvbuf_values():
    needs_modelled_sysctls()

    def story(b):
        s = b.socket()
        seen = [(s.getsockopt(SOL_SOCKET, SO_SNDBUF), s.getsockopt(SOL_SOCKET, SO_RCVBUF))]
        for v in (0, 1, 1000, 2303, 2304, 4096, 65536, 1 << 20, 1 << 30, -1):
            s = b.socket()
            s.setsockopt(SOL_SOCKET, SO_SNDBUF, v)
            s.setsockopt(SOL_SOCKET, SO_RCVBUF, v)
            seen.append((v, s.getsockopt(SOL_SOCKET, SO_SNDBUF), s.getsockopt(SOL_SOCKET, SO_RCVBUF)))
        lst, _cli, srv = b.pair()
        seen.append((lst.getsockopt(SOL_SOCKET, SO_SNDBUF), srv.getsockopt(SOL_SOCKET, SO_RCVBUF)))
        return seen

    kernel, tcplab = both(story)
    assert kernel[0] == (16384, 131072) and kernel[1] == (0, 4608, 2304) and kernel[4] == (2303, 4608, 4606)
    assert tcplab == kernel


def test_tcp_maxseg_range():
    def story(b):
        s = b.socket()
        seen = [s.getsockopt(IPPROTO_TCP, TCP_MAXSEG)]
        for v in (1, 87, 88, 536, 32767, 32768, 65535, 70000, -1, 0):
            seen.append(
                (
                    v,
                    errno_of(lambda v=v: s.setsockopt(IPPROTO_TCP, TCP_MAXSEG, v)),
                    s.getsockopt(IPPROTO_TCP, TCP_MAXSEG),
                )
            )
        lst, _ = b.listen(lambda lst: lst.setsockopt(IPPROTO_TCP, TCP_MAXSEG, 1000))
        seen.append(lst.getsockopt(IPPROTO_TCP, TCP_MAXSEG))
        return seen

    kernel, tcplab = both(story)
    assert kernel[0] == 536 and kernel[1] == (1, "EINVAL", 536) and kernel[3] == (88, None, 88)
    assert tcplab == kernel


def test_tcp_congestion_set_and_get():
    def story(b):
        s = b.socket()
        seen = []
        for name in (b"reno", b"no-such-cc", b"", 1):
            seen.append(errno_of(lambda name=name: s.setsockopt(IPPROTO_TCP, TCP_CONGESTION, name)))
        seen.append(s.getsockopt(IPPROTO_TCP, TCP_CONGESTION, 16))
        seen.append(s.getsockopt(IPPROTO_TCP, TCP_CONGESTION, 3))
        seen.append(s.getsockopt(IPPROTO_TCP, TCP_CONGESTION))  # no buffer: the first 4 bytes as an int
        return seen

    kernel, tcplab = both(story)
    assert kernel == [None, "ENOENT", "EINVAL", "ENOENT", b"reno" + b"\0" * 12, b"ren", struct.unpack("i", b"reno")[0]]
    assert tcplab == kernel
    # The default differs by design: this kernel's is bbr, tcplab's the engine's.
    assert TcplabBench().socket().getsockopt(IPPROTO_TCP, TCP_CONGESTION, 16).rstrip(b"\0") in {
        n.encode() for n in tcplab_options.congestion_names()
    }


# ---- TCP_INFO ------------------------------------------------------------------------------------
def test_tcp_info_bytes_and_fields():
    def story(b):
        s = b.socket()
        raw = s.getsockopt(IPPROTO_TCP, TCP_INFO, 512)
        seen = [len(raw), raw[0], len(s.getsockopt(IPPROTO_TCP, TCP_INFO, 100)), s.getsockopt(IPPROTO_TCP, TCP_INFO)]
        _lst, cli, srv = b.pair()
        cli.sendall(b"d" * 1000)
        b.settle()
        srv.recv(5000)
        b.settle()
        c = tcpinfo.unpack(cli.getsockopt(IPPROTO_TCP, TCP_INFO, 512))
        s_ = tcpinfo.unpack(srv.getsockopt(IPPROTO_TCP, TCP_INFO, 512))
        keys = ("state", "options", "unacked", "retransmits", "total_retrans", "notsent_bytes")
        seen.append({k: c[k] for k in keys})
        seen.append((c["bytes_acked"], c["bytes_sent"], c["data_segs_out"], c["bytes_retrans"]))
        seen.append((s_["bytes_received"], s_["data_segs_in"], s_["state"], s_["bytes_acked"]))
        cli.shutdown(socket.SHUT_WR)
        b.settle(0.1)  # the FIN's ACK waits for the delayed-ACK timer (40 ms after data)
        c = tcpinfo.unpack(cli.getsockopt(IPPROTO_TCP, TCP_INFO, 512))
        s_ = tcpinfo.unpack(srv.getsockopt(IPPROTO_TCP, TCP_INFO, 512))
        seen.append((c["state"], c["bytes_acked"], s_["bytes_received"]))
        return seen

    kernel, tcplab = both(story)
    assert kernel[:4] == [280, 7, 100, 7]
    assert kernel[4]["state"] == 1 and kernel[4]["options"] & 7 == 7
    assert kernel[5] == (1001, 1000, 1, 0)  # the active opener's SYN counts as acknowledged
    assert kernel[6] == (1000, 1, 1, 0)
    assert kernel[7] == (5, 1002, 1001)  # FIN_WAIT2; the FIN counts in both
    assert tcplab == kernel


# ---- ioctl and fcntl -----------------------------------------------------------------------------
def test_ioctl_siocinq_siocoutq_siocoutqnsd_and_fcntl_nonblock():
    def story(b):
        s = b.socket()
        seen = [[b.ioctl(s, r) for r in (FIONREAD, SIOCOUTQ, SIOCOUTQNSD)]]
        seen.append(b.fcntl(s, F_GETFL))
        b.fcntl(s, F_SETFL, O_NONBLOCK)
        seen.append(b.fcntl(s, F_GETFL))
        lst, cli, srv = b.pair()
        seen.append([errno_of(lambda r=r: b.ioctl(lst, r)) for r in (FIONREAD, SIOCOUTQ, SIOCOUTQNSD)])
        seen.append(lst.getsockopt(SOL_SOCKET, SO_ACCEPTCONN))
        cli.send(b"a" * 10)
        cli.shutdown(socket.SHUT_WR)
        b.settle(0.1)  # the FIN's ACK waits for the delayed-ACK timer (40 ms after data)
        seen.append([b.ioctl(srv, FIONREAD), b.ioctl(cli, SIOCOUTQ), b.ioctl(cli, SIOCOUTQNSD)])
        return seen

    kernel, tcplab = both(story)
    assert kernel == [[0, 0, 0], 2, 0o4002, ["EINVAL"] * 3, 1, [10, 0, 0]]
    assert tcplab == kernel


def test_recv_that_may_not_wait_takes_bytes_below_so_rcvlowat():
    """Non-blocking, a recv takes what is there even below SO_RCVLOWAT (and with MSG_WAITALL);
    with a timeout it waits until SO_RCVLOWAT bytes are readable, and a timeout leaves the
    bytes already there for the next call."""

    def story(b):
        _lst, cli, srv = b.pair()
        srv.setsockopt(SOL_SOCKET, SO_RCVLOWAT, 10)
        cli.send(b"12345")
        b.settle()
        srv.setblocking(False)
        seen = [errno_of(lambda: srv.recv(100)), errno_of(lambda: srv.recv(100))]
        cli.send(b"678")
        b.settle()
        seen.append(errno_of(lambda: srv.recv(100, MSG_WAITALL)))
        cli.send(b"abc")
        b.settle()
        srv.settimeout(0.2)
        try:
            seen.append(srv.recv(100))
        except TimeoutError:
            seen.append("timed out")  # 3 bytes < 10: times out, keeps them
        b.later(0.05, lambda: cli.send(b"defghijk"))
        seen.append(errno_of(lambda: srv.recv(100)))  # 11 readable: all of them
        return seen

    kernel, tcplab = both(story)
    assert kernel == [b"12345", "EAGAIN", b"678", "timed out", b"abcdefghijk"]
    assert tcplab == kernel

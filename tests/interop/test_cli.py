"""``tcplab serve``, ``tcplab connect`` and ``tcplab netstat`` (via the control socket) as
programs, with the kernel's TCP on the other side of the TUN device."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator

import pytest

from tcplab import control

from .helpers import KPEER

TUN = ["--tun", "tlab0", "--address", "198.18.0.2/24", "--peer-address", "198.18.0.1/24"]


def _tcplab(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tcplab", *args], **kwargs)


def _kpeer(ns: str, *args) -> subprocess.Popen:
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, KPEER, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


_READERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # stream -> its lines


def _lines_of(stream) -> queue.Queue:
    """Lines of ``stream``, read by a thread (a selector would miss lines already buffered)."""
    q = _READERS.get(stream)
    if q is None:
        q = _READERS[stream] = queue.Queue()

        def pump() -> None:
            for line in iter(stream.readline, ""):
                q.put(line)
            q.put(None)

        threading.Thread(target=pump, daemon=True).start()
    return q


def _wait_line(stream, needle: str, timeout: float = 30.0) -> str:
    """Read lines from ``stream`` until one contains ``needle`` (bounded in time)."""
    q = _lines_of(stream)
    end = time.monotonic() + timeout
    seen = []
    while time.monotonic() < end:
        try:
            line = q.get(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no line with {needle!r} within {timeout} s; got {seen}")


@contextlib.contextmanager
def _serving(*args: str) -> Iterator[subprocess.Popen]:
    """``tcplab serve ARGS`` running while the block runs; then Ctrl-C must stop it cleanly."""
    proc = _tcplab("serve", *args, stderr=subprocess.PIPE, text=True)
    try:
        _wait_line(proc.stderr, "Ctrl-C to stop")
        yield proc
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


@pytest.fixture
def server(ns: str):
    name = f"t{os.getpid()}{ns[-4:]}"
    proc = _tcplab(
        "serve", "echo", "--port", "9527", *TUN, "--netns", ns, "--name", name, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_line(proc.stderr, "Ctrl-C to stop")
        yield proc, name
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_serve_echo_netstat_and_clean_stop(ns: str, server) -> None:
    proc, name = server
    peer = _kpeer(ns, "client", "198.18.0.2", 9527, "--send", 100000, "--recv", 100000, "--pause")
    done = json.loads(_wait_line(peer.stdout, '"done"'))
    assert done["recv_sha"] == done["sent_sha"]
    # The running stack answers on its control socket: a listener and the connection.
    snap = control.query(name)
    rows = {(r["state"], r["local"], r["peer"]) for r in snap["rows"]}
    assert ("LISTEN", "198.18.0.2:9527", "0.0.0.0:*") in rows
    estab = [r for r in snap["rows"] if r["state"] == "ESTABLISHED"]
    assert len(estab) == 1 and estab[0]["local"] == "198.18.0.2:9527"
    connected = estab[0]["peer"]
    assert snap["counters"]["passive_opens"] == 1
    # ``tcplab netstat --stack`` prints the same table.
    out = subprocess.run(
        [sys.executable, "-m", "tcplab", "netstat", "--stack", name], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert "LISTEN" in out.stdout and connected in out.stdout
    # Watching: the snapshot first, then each state change as it happens.
    events = control.watch(name)
    first = next(events)
    assert first["type"] == "snapshot"
    # ... and the same through ``tcplab netstat --watch``: the table, then one line per change.
    watcher = _tcplab("netstat", "--stack", name, "--watch", stdout=subprocess.PIPE, text=True)
    _wait_line(watcher.stdout, "state changes as they happen")
    peer.stdin.write("go\n")
    peer.stdin.flush()
    assert json.loads(_wait_line(peer.stdout, '"closed"'))["event"] == "closed"
    seen = []
    for msg in events:
        assert msg["type"] == "event"
        ev = msg["event"]
        if ev["kind"] == "state":
            seen.append((ev["from"], ev["to"]))
        if seen[-1:] == [("LAST_ACK", "CLOSED")]:
            break
    assert seen == [("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSED")]
    events.close()
    assert "ESTABLISHED -> CLOSE_WAIT" in _wait_line(watcher.stdout, "-> CLOSE_WAIT")
    assert "(close)" in _wait_line(watcher.stdout, "CLOSE_WAIT -> LAST_ACK")
    assert "(rcv ACK of FIN)" in _wait_line(watcher.stdout, "LAST_ACK -> CLOSED")
    peer.wait(10)
    # Ctrl-C: clean stop, control socket removed.
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) == 0
    assert "stopped" in _wait_line(proc.stderr, "stopped")
    assert f"stack {name!r} stopped" in _wait_line(watcher.stdout, "stopped")
    assert watcher.wait(20) == 0
    assert name not in control.list_stacks()
    assert not os.path.exists(control.socket_path(name))


def test_interrupt_closes_open_connections_with_fin(ns: str, server) -> None:
    proc, name = server
    peer = _kpeer(ns, "client", "198.18.0.2", 9527, "--eof")
    _wait_line(peer.stdout, '"connected"')
    for _ in range(100):
        snap = control.query(name)
        if any(r["state"] == "ESTABLISHED" for r in snap["rows"]):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    done = json.loads(_wait_line(peer.stdout, '"done"'))
    assert done["eof"] is True  # a FIN, not a reset
    assert "recv_error" not in done
    assert proc.wait(20) == 0
    peer.wait(10)


def test_connect_is_netcat(ns: str) -> None:
    # The TUN device (and 198.18.0.1) appear only when tcplab starts: the kernel server
    # listens on the wildcard address.
    peer = _kpeer(ns, "server", "0.0.0.0", 7000, "--echo", "--eof", "--shut")
    _wait_line(peer.stdout, '"listening"')
    data = os.urandom(300000)
    proc = _tcplab(
        "connect",
        "198.18.0.1",
        "7000",
        *TUN,
        "--netns",
        ns,
        "--name",
        f"c{os.getpid()}{ns[-4:]}",
        "--timeout",
        "20",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(data, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        if peer.poll() is None:
            peer.kill()
    assert proc.returncode == 0, err
    assert out == data


def test_cli_errors_are_one_line(ns: str) -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tcplab",
            "serve",
            "echo",
            "--tun",
            "tlab0",
            "--address",
            "198.18.1.2/24",
            "--peer-address",
            "198.18.0.1/24",
            "--netns",
            ns,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2
    assert res.stderr == (
        "tcplab: host address 198.18.1.2 is not in the kernel side's subnet "
        "198.18.0.0/24: use an address in the same subnet\n"
    )
    res = subprocess.run(
        [sys.executable, "-m", "tcplab", "netstat", "--stack", "nosuchstack"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2
    assert len(res.stderr.splitlines()) == 1
    assert "no running tcplab stack named 'nosuchstack'" in res.stderr


@pytest.mark.parametrize("service", ["discard", "chargen"])
def test_serve_discard_and_chargen_over_ipv6(ns: str, service: str) -> None:
    name = f"s{os.getpid()}{ns[-4:]}"
    v6 = ("--address6", "fd00::2/64", "--peer-address6", "fd00::1/64")
    with _serving(service, "--port", "19", *TUN, *v6, "--netns", ns, "--name", name):
        if service == "discard":
            peer = _kpeer(ns, "client", "fd00::2", 19, "--send", 500000, "--shut", "--eof")
            done = json.loads(_wait_line(peer.stdout, '"done"'))
            assert done["recv"] == 0 and done["eof"] is True  # discarded, then closed
        else:
            peer = _kpeer(ns, "client", "fd00::2", 19, "--recv", 7400)
            done = json.loads(_wait_line(peer.stdout, '"done"'))
            assert done["recv"] >= 7400
        peer.wait(10)


def test_chargen_pattern() -> None:
    from tcplab.commands.serve import _chargen_block

    block, offset = _chargen_block(0, 96)
    lines = block.split(b"\r\n")[:-1]
    assert len(lines) == 96 and offset == 96 % 95
    assert lines[0] == bytes(range(32, 104))
    assert lines[1] == bytes(range(33, 105))
    assert lines[94] == bytes([126]) + bytes(range(32, 103))
    assert lines[95] == lines[0]
    assert all(len(line) == 72 for line in lines)


def test_missing_netns_is_one_line() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "tcplab", "serve", "echo", *TUN, "--netns", "tcplab-t-doesnotexist"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2
    assert res.stderr == (
        "tcplab: no network namespace 'tcplab-t-doesnotexist' (create it with 'ip netns add tcplab-t-doesnotexist')\n"
    )


def test_connect_refused_is_one_line(ns: str) -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tcplab",
            "connect",
            "198.18.0.1",
            "7001",
            *TUN,
            "--netns",
            ns,
            "--name",
            f"r{os.getpid()}{ns[-4:]}",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert res.stderr == "tcplab: connect to 198.18.0.1 port 7001: Connection refused\n"


def test_serve_with_impairment_options(ns: str) -> None:
    name = f"i{os.getpid()}{ns[-4:]}"
    with _serving("echo", *TUN, "--netns", ns, "--name", name, "--loss", "5", "--delay", "5", "--reorder", "10"):
        peer = _kpeer(
            ns, "client", "198.18.0.2", 9527, "--send", 300000, "--recv", 300000, "--shut", "--eof", "--timeout", 60
        )
        done = json.loads(_wait_line(peer.stdout, '"done"', timeout=90))
        assert done["recv"] == 300000
        assert done["recv_sha"] == done["sent_sha"]
        assert done["eof"] is True
        peer.wait(10)
        assert control.query(name)["counters"]["segments_retransmitted"] > 0


def test_serve_with_busy_poll_serves_connections(ns: str) -> None:
    """``--busy-poll USEC``: the loop spins on the device before it sleeps; connections are
    served as without it (echoed data intact, FIN after it), one after another."""
    name = f"b{os.getpid()}{ns[-4:]}"
    with _serving("echo", *TUN, "--netns", ns, "--name", name, "--busy-poll", "200"):
        for _ in range(3):
            peer = _kpeer(ns, "client", "198.18.0.2", 9527, "--send", 50000, "--recv", 50000, "--shut", "--eof")
            done = json.loads(_wait_line(peer.stdout, '"done"'))
            assert done["recv"] == 50000 and done["recv_sha"] == done["sent_sha"]
            assert done["eof"] is True
            peer.wait(10)
        assert control.query(name)["counters"]["passive_opens"] == 3


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "tcplab: bad --busy-poll -1: microseconds, 0..1000000\n"),
        ("1000001", "tcplab: bad --busy-poll 1000001: microseconds, 0..1000000\n"),
        ("fast", "tcplab: error: argument --busy-poll: invalid int value: 'fast' (see 'tcplab --help')\n"),
    ],
)
def test_bad_busy_poll_is_one_line(value: str, message: str) -> None:
    # Checked before any device is made: no root, no namespace needed.
    res = subprocess.run(
        [sys.executable, "-m", "tcplab", "serve", "echo", *TUN, f"--busy-poll={value}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2
    assert res.stderr == message

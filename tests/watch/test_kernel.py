"""The watcher against the real kernel: clients and servers in a network namespace of our own.

Root only (skips with the reason otherwise). Every test uses its own namespace, address and
port, and filters on them: the tracepoint is global, other tests may run at the same time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import tcplab
from tcplab.watch import KernelWatcher, sequence, snapshot
from tcplab.watch.tracefs import TRACEFS

from .conftest import Netns

SERVER_AND_CLIENT_FIRST_CLOSE = """
    import socket
    A, P = {addr!r}, {port}
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((A, P))
    s.listen()
    c = socket.socket()
    c.connect((A, P))
    print(c.getsockname()[1])
    a, _ = s.accept()
    c.close()                     # the client closes first
    assert a.recv(1) == b""       # the server sees the FIN ...
    a.close()                     # ... and closes too
    s.close()
"""

LINGER_ZERO = """
    import socket, struct
    A, P = {addr!r}, {port}
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((A, P))
    s.listen()
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.connect((A, P))
    print(c.getsockname()[1])
    a, _ = s.accept()
    c.close()                     # SO_LINGER 0: RST instead of FIN
    try:
        a.recv(1)
        raise SystemExit("no RST")
    except ConnectionResetError:
        pass
    a.close()
    s.close()
"""

CLOSED_PORT = """
    import socket
    c = socket.socket()
    try:
        c.connect(({addr!r}, {port}))
    except ConnectionRefusedError:
        print("refused")
"""


def _sides(ns: Netns, cport: int) -> tuple[str, str]:
    return f"{ns.addr}:{cport}", f"{ns.addr}:{ns.port}"


def _client_first_close(ns: Netns) -> int:
    return int(ns.run_py(SERVER_AND_CLIENT_FIRST_CLOSE.format(addr=ns.addr, port=ns.port)).stdout)


def _has(events: list[dict], local: str, to: str) -> bool:
    return any(e["local"] == local and e["to"] == to for e in events)


def test_client_first_close_sequences(netns: Netns) -> None:
    with KernelWatcher(port=netns.port, address=netns.addr, netns=netns.name) as w:
        assert w.mode == "trace"
        cport = _client_first_close(netns)
        client, server = _sides(netns, cport)
        seen = w.wait_for(lambda ev: _has(ev, client, "TIME_WAIT") and _has(ev, server, "CLOSED"), timeout=10)
        client_conn = f"{client}-{server}"
        server_conn = f"{server}-{client}"
        assert sequence(seen, conn=client_conn) == [
            "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT",
        ]  # fmt: skip
        assert [e["from"] for e in seen if e["conn"] == client_conn] == [
            "CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2",
        ]  # fmt: skip
        assert sequence(seen, conn=server_conn) == [
            "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED",
        ]  # fmt: skip
        assert [e["from"] for e in seen if e["conn"] == server_conn] == [
            "LISTEN", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK",
        ]  # fmt: skip
        listener = f"{server}-0.0.0.0:0"
        assert [(e["from"], e["to"]) for e in seen if e["conn"] == listener] == [
            ("CLOSED", "LISTEN"),
            ("LISTEN", "CLOSED"),
        ]
        established = next(e for e in seen if e["conn"] == client_conn and e["to"] == "ESTABLISHED")
        assert {k: v for k, v in established.items() if k != "t"} == {
            "kind": "state",
            "host": "kernel",
            "from": "SYN_SENT",
            "to": "ESTABLISHED",
            "cause": "kernel",
            "conn": client_conn,
            "local": client,
            "remote": server,
            "rfc_cause": "rcv SYN-ACK",
        }
        time_wait = next(e for e in seen if e["conn"] == client_conn and e["to"] == "TIME_WAIT")
        assert time_wait["rfc_cause"] == "rcv FIN"
        assert time_wait["linux"].startswith("timewait minisock") or time_wait["linux"].startswith(
            "TCP_FIN_WAIT2 -> TCP_CLOSE"
        )
        # times come from the trace lines: in order along each connection
        times = [e["t"] for e in seen if e["conn"] == client_conn]
        assert times == sorted(times)
        # the notes explain where Linux differs from the RFC diagram
        texts = [e["text"] for e in w.log if e["kind"] == "note"]
        assert any("TIME_WAIT" in t and "minisock" in t for t in texts)

        # TIME_WAIT ends (here: destroyed through sock_diag by `ss -K`): TIME_WAIT -> CLOSED
        subprocess.run(
            ["ip", "netns", "exec", netns.name, "ss", "-K", "-tn", "state", "time-wait"],
            check=True, capture_output=True,
        )  # fmt: skip
        seen = w.wait_for(lambda ev: _has(ev, client, "CLOSED"), timeout=10)
        ended = [e for e in seen if e["conn"] == client_conn and e["to"] == "CLOSED"]
        # ended early, by an RST or SOCK_DESTROY (the kernel does not say which): no row claimed
        assert [(e["from"], e["to"], e["rfc_cause"]) for e in ended] == [("TIME_WAIT", "CLOSED", None)]


def test_connection_to_closed_port(netns: Netns) -> None:
    with KernelWatcher(port=netns.port, address=netns.addr, netns=netns.name) as w:
        out = netns.run_py(CLOSED_PORT.format(addr=netns.addr, port=netns.port)).stdout
        assert out.strip() == "refused"
        server = f"{netns.addr}:{netns.port}"
        seen = w.wait_for(lambda ev: any(e["to"] == "CLOSED" for e in ev), timeout=10)
        assert [(e["from"], e["to"], e["remote"]) for e in seen] == [
            ("SYN_SENT" if i else "CLOSED", to, server) for i, to in enumerate(["SYN_SENT", "CLOSED"])
        ]
        assert seen[0]["local"] == seen[1]["local"]
        assert not seen[0]["local"].endswith(":0")  # the port-less SYN_SENT got its port
        assert seen[1]["rfc_cause"] == "rcv RST"


def test_linger_zero_gives_no_time_wait(netns: Netns) -> None:
    with KernelWatcher(port=netns.port, address=netns.addr, netns=netns.name) as w:
        cport = int(netns.run_py(LINGER_ZERO.format(addr=netns.addr, port=netns.port)).stdout)
        client, server = _sides(netns, cport)
        seen = w.wait_for(lambda ev: _has(ev, client, "CLOSED") and _has(ev, server, "CLOSED"), timeout=10)
        seen += w.events(timeout=0.2)  # anything late (there must be nothing)
        assert sequence(seen, conn=f"{client}-{server}") == ["SYN_SENT", "ESTABLISHED", "CLOSED"]
        assert sequence(seen, conn=f"{server}-{client}") == ["SYN_RCVD", "ESTABLISHED", "CLOSED"]
        assert not any(e["to"] == "TIME_WAIT" for e in seen)
        assert not any(e.state.value == "TIME_WAIT" and e.dport == netns.port for e in snapshot(netns.name))


def test_instance_removed_on_exit_and_on_exception(netns: Netns) -> None:
    with KernelWatcher(port=netns.port, netns=netns.name) as w:
        path = w.instance_path
        assert path is not None
        assert os.path.basename(path).startswith(f"tcplab-{os.getpid()}-")
        assert os.path.isdir(path)
        with open(os.path.join(path, "events/sock/inet_sock_set_state/filter")) as f:
            assert f.read().strip() == f"protocol == 6 && (sport == {netns.port} || dport == {netns.port})"
        with open(os.path.join(path, "events/sock/inet_sock_set_state/enable")) as f:
            assert f.read().strip() == "1"
    assert not os.path.exists(path)
    assert w.instance_path is None

    with pytest.raises(RuntimeError, match="boom"), KernelWatcher(port=netns.port) as w2:
        path2 = w2.instance_path
        assert path2 is not None and os.path.isdir(path2)
        raise RuntimeError("boom")
    assert not os.path.exists(path2)


def _start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tcplab", "watch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _enabled(path: str) -> bool:
    try:
        with open(os.path.join(path, "events", "sock", "inet_sock_set_state", "enable")) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def _wait_for_instance(proc: subprocess.Popen[str]) -> str:
    """The CLI is ready once its tracefs instance exists with the tracepoint enabled (from then
    on the kernel buffers every event for it, however slowly the CLI goes on starting)."""
    path = os.path.join(TRACEFS, "instances", f"tcplab-{proc.pid}-0")
    deadline = time.monotonic() + 20
    while not _enabled(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _out, err = proc.communicate()
            pytest.fail(f"tcplab watch did not start: {err.strip()}")
        time.sleep(0.02)
    return path


def test_cli_json_duration(netns: Netns) -> None:
    proc = _start_cli(
        "--port", str(netns.port), "--address", netns.addr, "--netns", netns.name,
        "--json", "--duration", "4",
    )  # fmt: skip
    path = _wait_for_instance(proc)
    cport = _client_first_close(netns)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not os.path.exists(path)
    events = [json.loads(line) for line in out.splitlines()]
    clock = events.pop(0)  # what t == 0 is in wall-clock time
    assert (clock["t"], clock["kind"], clock["source"]) == (0.0, "clock", "watch") and clock["epoch"] > 1.7e9
    assert all(e["kind"] in ("state", "note", "still") and e["host"] == "kernel" for e in events)
    states = [e for e in events if e["kind"] == "state"]
    client, server = _sides(netns, cport)
    # when the 4 s end, the client is still in TIME_WAIT (60 s on Linux): the last line says so
    still = [e for e in events if e["kind"] == "still"]
    assert [(e["conn"], e["state"]) for e in still] == [(f"{client}-{server}", "TIME_WAIT")]
    assert events[-1] is still[0]
    assert 50 < still[0]["timer"] < 60
    assert sequence(states, conn=f"{client}-{server}") == [
        "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT",
    ], f"stdout:\n{out}\nstderr:\n{err}"  # fmt: skip
    assert sequence(states, conn=f"{server}-{client}") == [
        "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED",
    ]  # fmt: skip
    first = next(e for e in states if e["conn"] == f"{client}-{server}")
    assert list(first) == [
        "t", "kind", "host", "from", "to", "cause", "conn", "local", "remote", "rfc_cause",
    ]  # fmt: skip
    assert (first["from"], first["to"], first["cause"]) == ("CLOSED", "SYN_SENT", "kernel")


def test_cli_text_ladder_and_diagram(netns: Netns, tmp_path) -> None:
    svg = tmp_path / "seen.svg"
    proc = _start_cli(
        "--port", str(netns.port), "--address", netns.addr, "--netns", netns.name,
        "--ladder", "--diagram-svg", str(svg), "--duration", "4",
    )  # fmt: skip
    _wait_for_instance(proc)
    cport = _client_first_close(netns)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    client, server = _sides(netns, cport)
    lines = out.splitlines()
    assert lines[0].split() == ["time", "local", "peer", "change"]
    changes = [line.split()[1:5] for line in lines[1:] if f"{client} " in line]
    assert changes, f"stdout:\n{out}\nstderr:\n{err}"
    assert changes[:2] == [
        [client, server, "CLOSED", "->"],
        [client, server, "SYN_SENT", "->"],
    ]
    assert any(line.rstrip().endswith("FIN_WAIT_2 -> TIME_WAIT") or
               "FIN_WAIT_2 -> TIME_WAIT  (" in line for line in lines)  # fmt: skip
    still = [line.split() for line in lines if "still" in line]
    assert [words[1:6] for words in still] == [[client, server, "still", "TIME_WAIT", "when"]]
    assert f"connection {client} -> {server}" in out
    assert f"wrote {svg}" in out
    assert "not a transition of the RFC diagram" not in out
    text = svg.read_text()
    assert text.lstrip().startswith("<svg") or text.lstrip().startswith("<?xml")


def test_cli_snapshot_shows_time_wait(netns: Netns) -> None:
    cport = _client_first_close(netns)
    client, server = _sides(netns, cport)
    out = subprocess.run(
        [sys.executable, "-m", "tcplab", "watch", "--snapshot", "--netns", netns.name,
         "--port", str(netns.port)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    lines = out.splitlines()
    assert lines[0].split() == [
        "State", "Recv-Q", "Send-Q", "Local", "Address:Port", "Peer", "Address:Port", "Timer",
    ]  # fmt: skip
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == 1
    state, recvq, sendq, local, peer, timer = rows[0]
    assert (state, recvq, sendq, local, peer) == ("TIME_WAIT", "0", "0", client, server)
    assert timer.startswith("timewait,") and timer.endswith("s,0")


def test_poll_fallback_without_tracefs(netns: Netns) -> None:
    code = f"""
        import socket, time
        A, P = {netns.addr!r}, {netns.port}
        s = socket.socket(); s.bind((A, P)); s.listen()
        c = socket.socket(); c.connect((A, P)); a, _ = s.accept()
        time.sleep(0.6)      # ESTABLISHED, long enough to be polled
        c.close()
        time.sleep(0.6)      # FIN_WAIT_2 / CLOSE_WAIT
        a.close()
        s.close()
    """
    with KernelWatcher(port=netns.port, address=netns.addr, netns=netns.name, tracefs="/nonexistent") as w:
        assert w.mode == "poll"
        assert w.instance_path is None
        assert w.unavailable == "no tracefs at /nonexistent (no instances/ directory)"
        proc = subprocess.Popen(["ip", "netns", "exec", netns.name, sys.executable, "-c", textwrap.dedent(code)])
        try:
            seen = w.wait_for(lambda ev: any(e["to"] == "TIME_WAIT" for e in ev), timeout=15)
        finally:
            assert proc.wait(timeout=30) == 0
    server = f"{netns.addr}:{netns.port}"
    client_seq = [e["to"] for e in seen if e["remote"] == server]
    assert client_seq[-1] == "TIME_WAIT"
    assert "ESTABLISHED" in client_seq
    assert client_seq.index("ESTABLISHED") < client_seq.index("FIN_WAIT_2")
    assert all(e["cause"] == "kernel (polled)" for e in seen)
    notes = [e["text"] for e in w.log if e["kind"] == "note"]
    assert notes == ["polling the sock_diag table every 50 ms: states shorter than that may be missed."]


def test_cli_poll_says_what_is_missing(netns: Netns) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "tcplab", "watch", "--poll", "--duration", "0.2",
         "--netns", netns.name],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0
    assert res.stderr.splitlines() == [
        "tcplab watch: --poll given; polling the sock_diag table every 50 ms instead: short-lived states may be missed"
    ]


def test_cli_unknown_netns_is_one_line_error(netns: Netns) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "tcplab", "watch", "--snapshot", "--netns", netns.name + "-nope"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 2
    assert len(res.stderr.splitlines()) == 1
    assert res.stderr.startswith("tcplab: cannot read the socket table: cannot enter network")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_stops_cleanly_on_signal(netns: Netns, sig: int) -> None:
    proc = _start_cli("--port", str(netns.port), "--netns", netns.name, "--json")
    path = _wait_for_instance(proc)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err == ""
    assert not os.path.exists(path)


def _nobody_python() -> list[str] | None:
    """A Python 3.11+ that user nobody can run, with tcplab importable from the source tree."""
    if shutil.which("setpriv") is None:
        return None
    src = os.path.dirname(os.path.dirname(tcplab.__file__))
    for python in (sys.executable, "/usr/bin/python3"):
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
               "env", f"PYTHONPATH={src}", python]  # fmt: skip
        probe = subprocess.run(
            [*cmd, "-c", "import sys, tcplab.watch; assert sys.version_info >= (3, 11)"],
            capture_output=True, cwd="/", timeout=60,
        )  # fmt: skip
        if probe.returncode == 0:
            return cmd
    return None


def test_cli_without_root_says_what_is_missing_and_polls(netns: Netns) -> None:
    cmd = _nobody_python()
    if cmd is None:
        pytest.skip("no Python 3.11+ with tcplab that user nobody can run (setpriv)")
    res = subprocess.run(
        [*cmd, "-m", "tcplab", "watch", "--json", "--duration", "0.3", "--port", str(netns.port)],
        capture_output=True, text=True, cwd="/", timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("tcplab watch: ")
    assert "tracefs" in lines[0] and "needs root" in lines[0]
    assert lines[0].endswith("polling the sock_diag table every 50 ms instead: short-lived states may be missed")
    assert [json.loads(line)["kind"] for line in res.stdout.splitlines()] == ["clock", "note"]


def test_client_first_close_over_ipv6(netns: Netns) -> None:
    code = SERVER_AND_CLIENT_FIRST_CLOSE.replace("socket.socket()", "socket.socket(socket.AF_INET6)")
    with KernelWatcher(port=netns.port, address=netns.addr6, netns=netns.name) as w:
        cport = int(netns.run_py(code.format(addr=netns.addr6, port=netns.port)).stdout)
        client, server = f"[{netns.addr6}]:{cport}", f"[{netns.addr6}]:{netns.port}"
        seen = w.wait_for(lambda ev: _has(ev, client, "TIME_WAIT") and _has(ev, server, "CLOSED"), timeout=10)
        assert sequence(seen, conn=f"{client}-{server}") == [
            "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT",
        ]  # fmt: skip
        assert sequence(seen, conn=f"{server}-{client}") == [
            "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED",
        ]  # fmt: skip
        listener = f"{server}-[::]:0"
        assert [(e["from"], e["to"]) for e in seen if e["conn"] == listener] == [
            ("CLOSED", "LISTEN"),
            ("LISTEN", "CLOSED"),
        ]


def test_syn_sent_reported_live_with_its_port(netns: Netns) -> None:
    """A SYN nobody answers: the tracepoint's SYN_SENT has no port yet (sport=0); the watcher
    finds it through sock_diag while the socket is still in SYN_SENT."""
    third = int(netns.addr.rsplit(".", 1)[1])
    peer = f"198.18.{third}.2"
    # A veth pair inside the namespace, the far end without address: nobody answers (not even
    # ARP), and nothing leaves the namespace.
    netns.ip("link", "add", "tcplabw0", "type", "veth", "peer", "name", "tcplabw1")
    netns.ip("link", "set", "tcplabw0", "up")
    netns.ip("link", "set", "tcplabw1", "up")
    netns.ip("addr", "add", f"198.18.{third}.1/24", "dev", "tcplabw0")
    code = f"""
        import socket, sys
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(({peer!r}, {netns.port}))
        except BlockingIOError:
            pass
        print(c.getsockname()[1], flush=True)
        sys.stdin.read()
        c.close()
    """
    with KernelWatcher(port=netns.port, address=peer, netns=netns.name) as w:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", netns.name, sys.executable, "-c", textwrap.dedent(code)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None and proc.stdin is not None
            local = f"198.18.{third}.1:{int(proc.stdout.readline())}"
            seen = w.wait_for(lambda ev: _has(ev, local, "SYN_SENT"), timeout=10)
            assert [(e["from"], e["to"], e["local"]) for e in seen] == [("CLOSED", "SYN_SENT", local)]
            assert proc.poll() is None  # still connecting: the event came live
        finally:
            proc.communicate("", timeout=30)
        seen = w.wait_for(lambda ev: _has(ev, local, "CLOSED"), timeout=10)
        assert [(e["from"], e["to"], e["local"], e["remote"]) for e in seen] == [
            ("CLOSED", "SYN_SENT", local, f"{peer}:{netns.port}"),
            ("SYN_SENT", "CLOSED", local, f"{peer}:{netns.port}"),
        ]


def test_dual_stack_client_ipv4_mapped(netns: Netns) -> None:
    """An AF_INET6 client talking to an IPv4 server: the kernel prints ::ffff:a.b.c.d."""
    code = SERVER_AND_CLIENT_FIRST_CLOSE.replace(
        "c = socket.socket()\n    c.connect((A, P))",
        "c = socket.socket(socket.AF_INET6)\n    c.connect(('::ffff:' + A, P))",
    )
    assert "AF_INET6" in code
    with KernelWatcher(port=netns.port, address=netns.addr, netns=netns.name) as w:
        cport = int(netns.run_py(code.format(addr=netns.addr, port=netns.port)).stdout)
        client = f"[::ffff:{netns.addr}]:{cport}"
        server = f"[::ffff:{netns.addr}]:{netns.port}"
        seen = w.wait_for(lambda ev: _has(ev, client, "TIME_WAIT"), timeout=10)
        assert sequence(seen, conn=f"{client}-{server}") == [
            "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT",
        ]  # fmt: skip

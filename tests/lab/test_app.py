"""The lab's HTTP API through Flask's test client (no browser, no socket)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("flask", reason="the lab needs Flask: pip install 'tcplab[lab]'")

from tcplab.lab.app import create_app
from tcplab.lab.session import PORT


@pytest.fixture
def client():
    return create_app().test_client()


def test_state_of_a_handshake(client) -> None:
    r = client.get("/api/state?a=server.listen&a=client.connect&a=wait:0.5")
    assert r.status_code == 200
    body = r.get_json()
    assert list(body) == ["query", "recipe", "time", "hosts", "port", "ladder", "transitions", "last", "messages",
                          "segments", "story", "link"]  # fmt: skip
    assert body["query"] == "a=server.listen&a=client.connect&a=wait%3A0.5"
    assert (body["hosts"]["client"]["state"], body["hosts"]["server"]["state"]) == ("ESTABLISHED", "ESTABLISHED")
    assert body["segments"] == 3 and body["ladder"].count('class="segment fate-delivered"') == 3
    assert body["last"]["text"].startswith("The ACK of our SYN") and body["port"] == PORT


@pytest.mark.parametrize(
    ("url", "status", "error"),
    [
        ("/api/state?a=client.jump", 400, "not an action: 'client.jump'"),
        ("/api/state?story=nope", 400, "unknown story 'nope'"),
        ("/api/state?seed=1e9", 400, "seed must be a whole number, not '1e9'"),
        ("/api/state?x=1", 400, "unknown parameter(s): x (story, seed, at, a)"),
        ("/api/state?a=" + "w" * 5000, 400, "not an action"),
        ("/api/nothing", 404, "no such page: /api/nothing"),
    ],
)
def test_malformed_requests_get_a_json_error(client, url: str, status: int, error: str) -> None:
    r = client.get(url)
    assert r.status_code == status
    assert r.get_json()["error"].startswith(error)
    assert client.get("/api/state").status_code == 200  # and the server goes on


def test_post_is_refused(client) -> None:
    r = client.post("/api/state", data="{}")
    assert r.status_code == 405 and r.get_json() == {"error": "POST is not allowed on /api/state"}


def test_page_static_files_and_downloads(client) -> None:
    page = client.get("/").get_data(as_text=True)
    assert '<script src="/static/lab.js">' in page and "http" not in page.replace("http://", "")
    assert "//" not in page.split("<body>")[1].replace("://", "")  # nothing from elsewhere
    assert client.get("/static/lab.js").status_code == 200
    assert client.get("/static/lab.css").status_code == 200
    stories = client.get("/api/stories").get_json()
    assert stories[0] == {"name": "handshake", "description": stories[0]["description"]}
    svg = client.get("/api/diagram.svg")
    assert svg.mimetype == "image/svg+xml" and b'data-state="TIME_WAIT"' in svg.data
    q = "a=server.listen&a=client.connect&a=wait:0.5"
    pcap = client.get("/api/capture.pcapng?" + q)
    assert pcap.headers["Content-Disposition"] == "attachment; filename=tcplab-lab.pcapng"
    assert pcap.data[:4] == b"\x0a\x0d\x0d\x0a"  # a pcapng section header
    trace = client.get("/api/trace.jsonl?" + q).get_data(as_text=True)
    kinds = [json.loads(line)["kind"] for line in trace.splitlines()]
    assert kinds.count("segment") == 3 and "state" in kinds


def test_cli_serves_on_loopback_and_stops() -> None:
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tcplab", "lab", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == f"tcplab lab: http://127.0.0.1:{port}/  (Ctrl-C stops it)\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/stories", timeout=10) as r:
            assert json.load(r)[0]["name"] == "handshake"
        # a second server on the same port: one line, exit 2
        busy = subprocess.run([sys.executable, "-m", "tcplab", "lab", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert busy.returncode == 2
        assert busy.stderr == f"tcplab: cannot listen on 127.0.0.1:{port}: Address already in use; try --port N\n"
    finally:
        proc.send_signal(2)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and err.endswith("tcplab lab: stopped\n")


def test_cli_bad_port() -> None:
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "tcplab", "lab", "--port", "70000"], capture_output=True, text=True)
    assert (res.returncode, res.stderr) == (2, "tcplab: --port must be 1..65535, not 70000\n")

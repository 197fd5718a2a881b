"""netstat: rows, the ss-style table, counters, snapshot, the CLI subcommand."""

from __future__ import annotations

import json

from tcplab import control
from tcplab.cli import main as cli_main
from tcplab.net.simhost import two_hosts
from tcplab.netstat import Row, format_counters, format_table, format_timer, rows, snapshot
from tcplab.socket import Socket


def test_format_timer():
    assert format_timer(None) == ""
    assert format_timer(("timewait", 52.4, 0)) == "timewait 52s"
    assert format_timer(("on", 1.234, 3)) == "on 1.2s/3"
    assert format_timer(("keepalive", 7190.9, 0)) == "keepalive 7190s"
    assert format_timer(("persist", 0.4, 2)) == "persist 0.4s/2"


def test_format_table_exact():
    table = [
        Row("LISTEN", 0, 128, "0.0.0.0:9527", "0.0.0.0:*"),
        Row("ESTABLISHED", 12, 3400, "198.18.0.2:9527", "198.18.0.1:40312", "on 1.2s/3"),
        Row("TIME_WAIT", 0, 0, "[fd00::2]:9527", "[fd00::1]:40000", "timewait 52s"),
    ]
    assert format_table(table) == (
        "State      Recv-Q  Send-Q  Local Address:Port  Peer Address:Port  Timer\n"
        "LISTEN          0     128  0.0.0.0:9527        0.0.0.0:*\n"
        "ESTAB          12    3400  198.18.0.2:9527     198.18.0.1:40312   on 1.2s/3\n"
        "TIME-WAIT       0       0  [fd00::2]:9527      [fd00::1]:40000    timewait 52s\n"
    )
    assert format_table([]) == "State  Recv-Q  Send-Q  Local Address:Port  Peer Address:Port  Timer\n"


def test_rows_snapshot_and_counters():
    net, client, server = two_hosts()
    srv = Socket(server)
    srv.bind(("", 9527))
    srv.listen(16)
    cli = Socket(client)
    cli.connect(("198.18.0.2", 9527))
    conn, _ = srv.accept()
    cli.sendall(b"12345")
    net.run(until=net.now + 1)
    assert rows(server) == [
        Row("LISTEN", 0, 16, "0.0.0.0:9527", "0.0.0.0:*"),
        Row("ESTABLISHED", 5, 0, "198.18.0.2:9527", f"198.18.0.1:{cli.getsockname()[1]}"),
    ]
    snap = snapshot(server)
    assert json.loads(json.dumps(snap)) == snap
    assert snap["host"] == "server"
    assert snap["rows"][1]["recv_q"] == 5
    assert snap["counters"]["passive_opens"] == 1
    text = format_counters(server)
    assert text.startswith("Tcp (server):\n")
    assert "    1 passive connection openings\n" in text
    assert format_counters(snap) == text
    conn.close()


def test_cli_without_a_running_stack(capsys, monkeypatch):
    monkeypatch.setattr(control, "list_stacks", lambda: [])
    assert cli_main(["netstat"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tcplab: no running tcplab stack found")
    assert err.count("\n") == 1


def test_cli_prints_a_running_stacks_table_counters_and_json(capsys, monkeypatch):
    _net, _client, server = two_hosts()
    srv = Socket(server)
    srv.bind(("", 9527))
    srv.listen(16)
    snap = json.loads(json.dumps(snapshot(server)))
    monkeypatch.setattr(control, "list_stacks", lambda: ["tlab0"])
    monkeypatch.setattr(control, "query", lambda name, timeout=5.0: snap)
    assert cli_main(["netstat"]) == 0
    assert capsys.readouterr().out == format_table(rows(server))
    assert cli_main(["netstat", "-s", "--stack", "tlab0"]) == 0
    assert capsys.readouterr().out == format_counters(server)
    assert cli_main(["netstat", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == snap
    monkeypatch.setattr(control, "list_stacks", lambda: ["a", "b"])
    assert cli_main(["netstat"]) == 2
    assert "several tcplab stacks are running (a, b)" in capsys.readouterr().err

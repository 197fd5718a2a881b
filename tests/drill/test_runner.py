"""The runner: timing tolerance, the several-segments rule, profiles, timestamps, settings,
system calls, SKIP reasons. Each test runs a small script on a fresh host (virtual time)."""

from __future__ import annotations

import pytest

from tcplab.drill import apply_sysctl, parse_script, run_script
from tcplab.drill.outcome import Broken
from tcplab.tcp.config import Config

PASSIVE = """\
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1000,nop,wscale 7>
+0  > S. 0:0(0) ack 1 <mss 1460,nop,wscale 10>
+.1 < . 1:1(0) ack 1 win 512
+0  accept(3, ..., ...) = 4
"""

ACTIVE_NO_TS = """\
`sysctl -w net.ipv4.tcp_timestamps=0`
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0  connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0  > S 0:0(0) <mss 1460,nop,nop,sackOK,nop,wscale 10>
+.1 < S. 0:0(0) ack 1 win 65535 <mss 1000,nop,wscale 7>
+0  > . 1:1(0) ack 1
"""


# PASSIVE, then 16 one-byte segments, each acknowledged at once: Linux's quick-ACK mode is
# used up, so the next segment waits for the 40 ms delayed-ACK timer.
QUICK_ACKS_USED = PASSIVE + "".join(
    f"+0  < . {1 + i}:{2 + i}(1) ack 1 win 512\n+0  > . 1:1(0) ack {2 + i}\n" for i in range(16)
)
DELAYED_LINE = QUICK_ACKS_USED.count("\n") + 2  # the script line of the delayed ACK


def run(text: str, **kw):
    defines = kw.pop("defines", None)
    return run_script(parse_script(text, "t.pkt", defines), **kw)


def ok(text: str, **kw):
    outcome = run(text, **kw)
    assert outcome.status == "PASS", (outcome.line, outcome.reason, outcome.actual)
    return outcome


def fails(text: str, line: int, reason: str, **kw):
    outcome = run(text, **kw)
    assert (outcome.status, outcome.line) == ("FAIL", line), (outcome.reason, outcome.actual)
    assert reason in outcome.reason, outcome.reason
    return outcome


# ---- timing -------------------------------------------------------------------------------------
def test_delayed_ack_within_default_tolerance():
    # the delayed ACK leaves at +40 ms; 4 ms tolerance either way
    data = "+.1 < . 17:117(100) ack 1 win 512\n"
    ok(QUICK_ACKS_USED + data + "+.036 > . 1:1(0) ack 117\n")
    ok(QUICK_ACKS_USED + data + "+.044 > . 1:1(0) ack 117\n")
    fails(
        QUICK_ACKS_USED + data + "+.035 > . 1:1(0) ack 117\n",
        DELAYED_LINE,
        "segment too late: sent at 0.240000, expected between 0.230625 and 0.239375",
    )
    fails(
        QUICK_ACKS_USED + data + "+.046 > . 1:1(0) ack 117\n",
        DELAYED_LINE,
        "segment too early: sent at 0.240000",
    )


def test_tolerance_from_option_and_argument():
    text = QUICK_ACKS_USED + "+.1 < . 17:117(100) ack 1 win 512\n+.03 > . 1:1(0) ack 117\n"
    fails(text, DELAYED_LINE, "too late")
    ok("--tolerance_usecs=10000\n" + text)
    ok(text, tolerance_usecs=10000)


def test_tolerance_grows_with_the_gap():
    # 12.5 % of a 1.1 s gap is 137.5 ms: the SYN-ACK retransmission at +1.0 s matches +1.1
    head = PASSIVE.split("+.1 <")[0]
    ok(head + "+1.1 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 10>\n")
    fails(head + "+1.2 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 10>\n", 6, "too early")


def test_absolute_times_and_ranges_and_any():
    head = PASSIVE.split("+.1 <")[0]
    ok(head + "1 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 10>\n")
    ok(head + "0.5~1.5 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 10>\n")
    fails(head + "+0.1~+0.5 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 10>\n", 6, "too late")
    ok(head + "* > S. 0:0(0) ack 1 <mss 1460,nop,wscale 10>\n* > S. 0:0(0) ack 1 <mss 1460,nop,wscale 10>\n")


def test_blocking_call_returns_when_the_socket_call_would():
    text = """\
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1460>
+0  > S. 0:0(0) ack 1 <mss 1460>
+.1 < . 1:1(0) ack 1 win 65535
+0  accept(3, ..., ...) = 4
+0...0.3 read(4, ..., 100) = 10
+.3 < P. 1:11(10) ack 1 win 65535
"""
    ok(text)
    fails(text.replace("0...0.3", "0...0.5"), 8, "the call returned early: at 0.400000")
    fails(text.replace("+0...0.3 read", "+0 read"), 8, "the call returned late: at 0.400000")
    fails(text.replace("+.3 < P. 1:11(10) ack 1 win 65535\n", ""), 8, "the blocking call never returned")


# ---- comparing segments --------------------------------------------------------------------------
def test_several_segments_match_one_line_unless_strict_segments():
    text = ACTIVE_NO_TS + "+0 write(3, ..., 3000) = 3000\n+0 > P. 1:3001(3000) ack 1\n"
    ok(text)
    fails(text, 9, "wrong flags: ., expected P.", strict_segments=True)
    fails("--strict_segments\n" + text, 10, "wrong flags: ., expected P.")
    fails(
        ACTIVE_NO_TS + "+0 write(3, ..., 3000) = 3000\n+0 > P. 1:2501(2500) ack 1\n",
        9,
        "wrong payload length: 3000, expected 2500",
    )
    ok(
        ACTIVE_NO_TS + "+0 write(3, ..., 3000) = 3000\n+0 > . 1:1001(1000) ack 1\n"
        "+0 > . 1001:2001(1000) ack 1\n+0 > P. 2001:3001(1000) ack 1\n",
        strict_segments=True,
    )


def test_portable_comparison_compares_options_by_meaning_and_ignores_psh_and_window():
    head = PASSIVE.split("+0  > S.")[0]
    text = head + "+0 > S. 0:0(0) ack 1 win 1000 <nop,wscale 10,mss 1460>\n"
    fails(text, 5, "wrong window: 64240, expected 1000")
    ok(text, compare="portable")
    ok(text, profile="portable")  # the old spelling of the comparison mode
    wrong = "wrong options: <mss 1460,nop,wscale 10>, expected <nop,wscale 10,mss 1460>"
    fails(text.replace("win 1000 ", ""), 5, wrong)
    fails(
        head + "+0 > S. 0:0(0) ack 1 <mss 1460,sackOK,wscale 10,nop,nop,nop>\n",
        5,
        "wrong options: <mss 1460,nop,wscale 10>, expected <mss 1460,sackOK,wscale 10>",
        compare="portable",
    )
    data = PASSIVE + "+0 write(4, ..., 10) = 10\n+0 > . 1:11(10) ack 1\n"
    fails(data, 9, "wrong flags: P., expected .")
    ok(data, compare="portable")
    with pytest.raises(ValueError, match="unknown profile"):
        run(data, profile="solaris")


def test_no_option_list_means_no_options_and_any_options():
    head = PASSIVE.split("+0  > S.")[0]
    fails(head + "+0 > S. 0:0(0) ack 1\n", 5, "wrong options: <mss 1460,nop,wscale 10>, expected <none>")
    ok(head + "+0 > S. 0:0(0) ack 1 <...>\n")


def test_timestamp_ecr_is_rewritten_to_what_tcplab_sent():
    text = """\
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
+0  > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 5 ecr 100,nop,wscale 10>
+.1 < . 1:1(0) ack 1 win 512 <nop,nop,TS val 200 ecr 5>
+0  accept(3, ..., ...) = 4
"""
    outcome = ok(text)
    segs = [e for e in outcome.events if e["kind"] == "segment"]
    synack, ack = segs[1], segs[2]
    val = int(synack["options"].split("TS val ")[1].split()[0])
    assert val != 5
    assert f"TS val 200 ecr {val}" in ack["options"]


def test_sequence_numbers_are_relative_to_each_side_isn():
    outcome = ok(ACTIVE_NO_TS)
    segs = [e for e in outcome.events if e["kind"] == "segment"]
    syn, synack, ack = segs
    assert (syn["seq"], synack["seq"], synack["ack"], ack["seq"], ack["ack"]) == (0, 0, 1, 1, 1)
    assert synack["abs_seq"] == 0  # the inbound SYN's number is taken literally
    assert ack["abs_ack"] == 1
    assert ack["abs_seq"] == (syn["abs_seq"] + 1) % 2**32


def test_inbound_sack_blocks_are_relative_to_the_local_isn():
    text = (
        ACTIVE_NO_TS.replace("<mss 1000,nop,wscale 7>", "<mss 1000,sackOK,nop,nop,nop,wscale 7>")
        + "+0 write(3, ..., 3000) = 3000\n+0 > P. 1:3001(3000) ack 1\n"
        "+.1 < . 1:1(0) ack 1 win 512 <nop,nop,sack 1001:3001>\n"
    )
    outcome = ok(text)
    last = [e for e in outcome.events if e["kind"] == "segment"][-1]
    syn = next(e for e in outcome.events if e["kind"] == "segment")
    isn = syn["abs_seq"]
    assert f"sack 1 {{{(isn + 1001) % 2**32}:{(isn + 3001) % 2**32}}}" in last["options"]


def test_one_remote_port_while_the_connection_under_test_lives():
    """packetdrill's model: inbound lines belong to the connection under test (the listener's
    SYN, then the accepted socket); a fresh remote port only once a new socket is under test."""
    text = """\
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  bind(3, ..., ...) = 0
+0  listen(3, 5) = 0
+0  < S 0:0(0) win 65535 <mss 1460>
+0  > S. 0:0(0) ack 1 <mss 1460>
+.1 < . 1:1(0) ack 1 win 65535
+0  accept(3, ..., ...) = 4
+0  close(4) = 0
+0  > F. 1:1(0) ack 1
+0  close(3) = 0
+0  socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0  bind(3, ..., ...) = 0
+0  listen(3, 5) = 0
+0  < S 0:0(0) win 65535 <mss 1460>
+0  > S. 0:0(0) ack 1 <mss 1460>
"""
    outcome = ok(text)
    states = [e for e in outcome.events if e["kind"] == "state" and e["to"] == "SYN_RCVD"]
    assert [e["conn"].rsplit(":", 1)[1] for e in states] == ["40001", "40002"]


def test_inbound_segment_before_any_connection_reaches_the_host():
    """No socket: the host answers by RFC 9293 3.10.7.1 (the RST takes SEG.ACK as its SEQ)."""
    ok("0 < . 1:1(0) ack 1 win 100\n+0 > R 1:1(0) win 0\n")
    ok("0 < S 0:0(0) win 100\n+0 > R. 0:0(0) ack 1 win 0\n")


# ---- system calls ------------------------------------------------------------------------------
def test_syscall_results_errnos_and_values():
    base = PASSIVE
    ok(
        base + "+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [0], [4]) = 0\n"
        "+0 setsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], 4) = 0\n"
        "+0 getsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], [4]) = 0\n"
        "+0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0\n"
        "+0 fcntl(4, F_GETFL) = 0x2 (flags O_RDWR)\n"
        "+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
        "+0 fcntl(4, F_GETFL) = O_RDWR|O_NONBLOCK\n"
        "+0 read(4, ..., 10) = -1 EAGAIN (Resource temporarily unavailable)\n"
        "+0 ioctl(4, FIONREAD, [0]) = 0\n"
        "+0 poll([{fd=4, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 0) = 1\n"
        "+0 getsockopt(4, SOL_SOCKET, SO_ERROR, [0], [4]) = 0\n"
        "+0 close(4) = 0\n"
        "+0 > R. 1:1(0) ack 1\n"
        "+0 close(4) = -1 EBADF (Bad file descriptor)\n"
    )
    fails(
        base + "+0 getsockopt(4, IPPROTO_TCP, TCP_NODELAY, [1], [4]) = 0\n",
        8,
        "getsockopt(TCP_NODELAY) value 0, expected 1",
    )
    fails(base + "+0 read(4, ..., 10) = -1 EAGAIN\n", 8, "the blocking call never returned")
    fails(
        base + "+0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 read(4, ..., 10) = -1 ECONNRESET\n",
        9,
        "read() failed with -1 EAGAIN (Resource temporarily unavailable), expected ECONNRESET",
    )
    fails(base + "+0 write(4, ..., 10) = 9\n", 8, "write() returned 10, expected 9")
    fails(base + "+0 write(4, ..., 10) = -1 EPIPE\n", 8, "write() returned 10, expected -1")


def test_poll_blocks_until_ready():
    ok(
        PASSIVE + "+0...0.2 poll([{fd=4, events=POLLIN, revents=POLLIN}], 1, 1000) = 1\n"
        "+.2 < P. 1:11(10) ack 1 win 512\n"
    )
    ok(PASSIVE + "+0...0.5 poll([{fd=4, events=POLLIN, revents=0}], 1, 500) = 0\n")


# ---- settings, shell, python -----------------------------------------------------------------
def test_sysctl_changes_the_host_config():
    ok(ACTIVE_NO_TS)
    cfg = Config()
    assert apply_sysctl(cfg, "net.ipv4.tcp_sack", "0") is None and cfg.sack is False
    assert apply_sysctl(cfg, "net.ipv4.tcp_rmem", "4096 87380 6291456") is None
    assert (cfg.rcv_buf, cfg.rcv_buf_max, cfg.wscale) == (43690, 6291456, 7)
    assert apply_sysctl(cfg, "net.ipv4.tcp_fin_timeout", "30") is None
    assert cfg.fin_wait_2_timeout == 30.0
    assert apply_sysctl(cfg, "net.inet.tcp.rfc1323", "0") is None
    assert (cfg.timestamps, cfg.window_scaling) == (False, False)
    assert apply_sysctl(cfg, "net.inet.tcp.rfc1323", "1") is None
    assert (cfg.timestamps, cfg.window_scaling) == (True, True)
    assert apply_sysctl(cfg, "net.inet.tcp.msl", "5000") is None and cfg.msl == 5.0
    assert apply_sysctl(cfg, "net.inet.tcp.insecure_rst", "1") is None and cfg.rfc5961 is False
    assert apply_sysctl(cfg, "net/ipv4/tcp_rfc1337", "1") is None and cfg.rfc1337 is True
    assert apply_sysctl(cfg, "net.ipv4.tcp_ecn", "1") is None and cfg.ecn == 1
    with pytest.raises(Broken):
        apply_sysctl(cfg, "net.ipv4.tcp_ecn", "3")  # this kernel refuses it
    assert apply_sysctl(cfg, "net.ipv4.tcp_fastopen", "0x203") is None and cfg.fastopen == 0x203
    assert apply_sysctl(cfg, "net.ipv4.tcp_congestion_control", "reno") is None and cfg.congestion_control == "reno"
    assert apply_sysctl(cfg, "net.ipv4.tcp_congestion_control", "bbr") == (
        "sysctl net.ipv4.tcp_congestion_control=bbr: tcplab has no bbr congestion control"
    )
    assert apply_sysctl(cfg, "net.ipv4.tcp_recovery", "0") is None and cfg.rack is False
    assert apply_sysctl(cfg, "net.ipv4.tcp_early_retrans", "0") is None and cfg.tlp is False
    assert apply_sysctl(cfg, "net.ipv4.tcp_dsack", "0") is None and cfg.dsack is False
    assert apply_sysctl(cfg, "net.ipv4.tcp_nonesuch", "1") == (
        "sysctl net.ipv4.tcp_nonesuch=1: tcplab has no setting of that name"
    )
    assert apply_sysctl(cfg, "vm.swappiness", "1") == "sysctl vm.swappiness=1: not a TCP setting"
    # a setting tcplab has no field for is taken only at the value that asks for what it does
    assert apply_sysctl(cfg, "net.ipv4.tcp_frto", "0") is None
    assert apply_sysctl(cfg, "net.ipv4.tcp_frto", "1") == "sysctl net.ipv4.tcp_frto=1: tcplab has no F-RTO (RFC 5682)"
    with pytest.raises(Broken):
        apply_sysctl(cfg, "net.ipv4.tcp_sack", "x")


def test_shell_lines_and_scripts_of_sysctls(tmp_path):
    defaults = tmp_path / "defaults.sh"
    defaults.write_text(
        "#!/bin/sh\n# comment\nsysctl -q net.ipv4.tcp_timestamps=0\n"
        'sysctl -q net.ipv4.tcp_rmem="4096 $((64*1024)) $((6*1024*1024))"\n'
        "echo 0 > /proc/sys/net/ipv4/tcp_sack\n"
    )
    script = tmp_path / "t.pkt"
    script.write_text(
        "`./defaults.sh`\n"
        "0 `sysctl net.inet.tcp.msl=5000 net.ipv4.tcp_fin_timeout=7; "
        "set_sysctls.py /proc/sys/net/ipv4/tcp_syn_retries=2`\n"
        "+0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
        "+0 %{ pass }%\n"
    )
    from tcplab.drill import run_file
    from tcplab.drill.sysctl import Shell

    assert run_file(str(script)).status == "PASS"
    cfg = Config()
    Shell(cfg, str(tmp_path)).run((tmp_path / "t.pkt").read_text().split("\n")[0].strip("`"), 1)
    # tcp_rmem[1]: a buffer half of which carries data; [2]: what the window scale is sized for
    assert (cfg.timestamps, cfg.sack, cfg.rcv_buf, cfg.rcv_buf_max) == (False, False, 32768, 6291456)
    assert cfg.wscale == 7
    Shell(cfg, str(tmp_path)).run("sysctl -w net.inet.tcp.msl=5000 net.ipv4.tcp_fin_timeout=7 > /dev/null 2>&1", 2)
    assert (cfg.msl, cfg.fin_wait_2_timeout) == (5.0, 7.0)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            "0 `sysctl -w net.ipv4.tcp_congestion_control=vegas`",
            "sysctl net.ipv4.tcp_congestion_control=vegas: tcplab has no vegas congestion control",
        ),
        ("0 `ip link set dev lo mtu 1500`", "shell command 'ip link set dev lo mtu 1500' (drill never runs"),
        ("0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3", "SOCK_DGRAM sockets (tcplab has TCP only)"),
        ("0 pipe([3, 4]) = 0", "pipe(): tcplab has no pipes"),
        ("0 < SEWA 0:0(0) win 100", "AccECN"),
        ("0 %{ assert tcpi_sacked == 0 }%", "tcp_info field tcpi_sacked: tcplab's TCP_INFO does not report it"),
    ],
)
def test_unsupported_things_skip_with_a_reason(line, reason):
    outcome = run(line + "\n")
    assert outcome.status == "SKIP", (outcome.status, outcome.reason)
    assert reason in outcome.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0 %{ assert tcpi_nonexistent == 1 }%", "python snippet: unknown name tcpi_nonexistent"),
        ("0 `sysctl -w net.ipv4.tcp_sack=maybe`", "invalid value"),
    ],
)
def test_broken_things_are_errors_never_skips(text, reason):
    outcome = run(text + "\n")
    assert outcome.status == "ERROR", (outcome.status, outcome.reason)
    assert reason in outcome.reason


def test_defines_and_ifdef_at_run_time():
    text = PASSIVE + "#ifdef WITH_DATA\n+0 write(4, ..., LEN) = LEN\n+0 > P. 1:101(100) ack 1\n#endif\n"
    ok(text, defines={"LEN": "100"})
    ok(text, defines={"LEN": "100", "WITH_DATA": None})
    fails(text, 10, "wrong payload length: 50, expected 100", defines={"LEN": "50", "WITH_DATA": None})


def test_python_snippets_see_tcp_info_and_constants():
    ok(
        PASSIVE + "+0 %{\nassert tcpi_state == TCP_ESTABLISHED == TCPI_ESTABLISHED == 1\n"
        "assert tcpi_snd_mss == 1000, tcpi_snd_mss\nassert tcpi_rto >= 200000, tcpi_rto\n"
        "assert tcpi_unacked == 0 and tcpi_retransmits == 0\n}%\n"
    )
    fails(PASSIVE + "+0 %{ 1 / 0 }%\n", 8, "python snippet raised ZeroDivisionError")


def test_ipv6():
    text = "--ip_version=ipv6\n" + PASSIVE.replace("<mss 1460,nop,wscale 10>", "<mss 1440,nop,wscale 10>")
    outcome = ok(text)
    assert any("fd00::2" in str(e.get("conn", "")) for e in outcome.events)


# ---- profiles, ICMP, verbose output ------------------------------------------------------------
def test_freebsd_profile_lays_out_syn_options_as_freebsd_and_numbers_constants_as_freebsd():
    active = """\
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0
+0  connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0  > S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>
"""
    ok(active, profile="freebsd")
    # kern.ipc.maxsockbuf sizes the scale as FreeBSD does: the smallest with 65535 << s >= it
    ok("0 `sysctl kern.ipc.maxsockbuf=8388608`\n" + active.replace("wscale 6,", "wscale 8,"), profile="freebsd")
    ok("0 `sysctl kern.ipc.maxsockbuf=4194300`\n" + active.replace("wscale 6,", "wscale 7,"), profile="freebsd")
    fails(active, 4, "wrong window: 64240, expected 65535", profile="linux")  # Linux: whole segments
    # FreeBSD's accept() hands on the listener's O_NONBLOCK (0x4 there); Linux's does not
    passive = PASSIVE.replace("+0  bind", "+0  fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0  bind")
    freebsd = passive.replace("wscale 10>", "wscale 6>")  # from kern.ipc.maxsockbuf, 2 MiB
    ok(freebsd + "+0 fcntl(4, F_GETFL) = 0x6 (flags O_RDWR|O_NONBLOCK)\n", profile="freebsd")
    ok(passive + "+0 fcntl(4, F_GETFL) = O_RDWR\n")
    ok(freebsd + "+0 %{ assert tcpi_state == TCPS_ESTABLISHED == 4 }%\n", profile="freebsd")


def test_icmp_lines_reach_the_host():
    refused = """\
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
+0  connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
+0  > S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 10>
+.01 < icmp unreachable port_unreachable [0:0(0)]
+0  getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0
"""
    ok(refused)
    # an ICMP message quoting a sequence number outside the window is ignored (RFC 5927 4.1)
    ignored = refused.replace("[0:0(0)]", "[5000:5000(0)]").replace("[ECONNREFUSED]", "[0]")
    ok(ignored)


def test_echo_prints_each_packet_as_tcpdump_would():
    lines: list[str] = []
    ok(PASSIVE, echo=lines.append)
    assert lines[0] == (
        "0.000000 < IP 198.18.0.1.40001 > 198.18.0.2.8080: Flags [S], seq 0, win 65535, "
        "options [mss 1000,nop,wscale 7], length 0"
    )
    assert lines[1].startswith("0.000000 > IP 198.18.0.2.8080 > 198.18.0.1.40001: Flags [S.], seq 0, ack 1, win ")
    assert lines[2].startswith("0.100000 < IP 198.18.0.1.40001 > 198.18.0.2.8080: Flags [.], seq 1, ack 1, win 512")

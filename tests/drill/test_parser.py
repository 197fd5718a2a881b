"""The packetdrill-language parser: every construct, and errors that name line and column."""

from __future__ import annotations

import pytest

from tcplab.drill import DrillSyntaxError, parse_script
from tcplab.drill.ast import (
    Array,
    BitOr,
    Call,
    Command,
    Ellipsis_,
    Icmp,
    IcmpEchoed,
    Int,
    IpInfo,
    OptEol,
    OptFastOpen,
    OptMd5,
    OptMss,
    OptNop,
    OptSack,
    OptSackOK,
    OptTimestamp,
    OptWscale,
    OtherPacket,
    Packet,
    Python,
    Shell,
    String,
    Struct,
    Symbol,
    Syscall,
    Time,
)


def one(text: str, **kw):
    script = parse_script(text, "t.pkt", **kw)
    assert len(script.events) == 1, script.events
    return script.events[0]


def error(text: str, **kw) -> DrillSyntaxError:
    with pytest.raises(DrillSyntaxError) as info:
        parse_script(text, "t.pkt", **kw)
    return info.value


# ---- file layout ----------------------------------------------------------------------------
def test_header_options_with_dashes_several_per_line_and_unknown_ones():
    script = parse_script("--tolerance-usecs=10000 --mss=1000\n--mtu=1500 --define=X=`y`\n0 close(3) = 0\n", "t.pkt")
    assert script.options == {"tolerance_usecs": "10000", "mss": "1000", "mtu": "1500", "define": "X=`y`"}
    e = error("--tolerence_usecs=1\n0 close(3) = 0\n")
    assert (e.line, e.column, e.message) == (1, 1, "unknown option --tolerence_usecs (no packetdrill has it)")


def test_options_init_cleanup_and_comments():
    script = parse_script(
        "--ip_version=ipv4\n--tolerance_usecs=10000\n--strict_segments\n"
        "`sysctl -w net.ipv4.tcp_sack=1`\n"
        "// a comment\n/* a\n block */ 0 close(3) = 0 // trailing\n"
        "`echo done`\n",
        "t.pkt",
    )
    assert script.options == {"ip_version": "ipv4", "tolerance_usecs": "10000", "strict_segments": None}
    assert script.init_command == Command("sysctl -w net.ipv4.tcp_sack=1", 4)
    assert script.cleanup_command == Command("echo done", 8)
    assert len(script.events) == 1
    ev = script.events[0]
    assert (ev.line, ev.column) == (7, 11)
    assert ev.body == Syscall("close", (Int(3),), Int(0))


def test_untimed_command_in_the_middle_is_an_error():
    e = error("0 close(3) = 0\n`echo x`\n+0 close(4) = 0\n")
    assert (e.line, e.column) == (2, 1)
    assert "untimed command" in e.message


def test_defines_replace_words():
    ev = one("0 write(4, ..., BYTES) = BYTES\n", defines={"BYTES": "100"})
    assert ev.body.args[2] == Int(100)
    assert ev.body.result == Int(100)
    # only whole words
    ev = one("0 write(4, ..., BYTES2) = 0\n", defines={"BYTES": "100"})
    assert ev.body.args[2] == Symbol("BYTES2")


def test_ifdef_keeps_lines_only_when_defined():
    text = "0 close(3) = 0\n#ifdef LINUX\n+0 close(4) = 0\n#else\n+0 close(5) = 0\n#endif\n+0 close(6) = 0\n"
    script = parse_script(text, "t.pkt", {"LINUX": None})
    assert [e.body.args[0] for e in script.events] == [Int(3), Int(4), Int(6)]
    assert [e.line for e in script.events] == [1, 3, 7]
    script = parse_script(text, "t.pkt")
    assert [e.body.args[0] for e in script.events] == [Int(3), Int(5), Int(6)]
    script = parse_script("#ifndef X\n0 close(3) = 0\n#endif\n", "t.pkt")
    assert len(script.events) == 1


def test_ifdef_errors():
    assert error("#ifdef A\n0 close(3) = 0\n").message == "#ifdef without #endif"
    assert error("#endif\n").message == "#endif without #ifdef"
    assert error("#ifdef\n#endif\n").message == "#ifdef needs a name"


# ---- time ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "time"),
    [
        ("0", Time("abs", 0)),
        ("1.5", Time("abs", 1_500_000)),
        ("+.1", Time("rel", 100_000, True)),
        ("+0.000001", Time("rel", 1, True)),
        ("2.", Time("abs", 2_000_000)),
        ("0.1~0.3", Time("range", 100_000, False, 300_000, False)),
        ("+.1~+.3", Time("range", 100_000, True, 300_000, True)),
        ("+0...0.100", Time("rel", 0, True, 100_000, True, True)),
        ("+0 ... 0.100", Time("rel", 0, True, 100_000, True, True)),
        ("1...2.5", Time("abs", 1_000_000, False, 2_500_000, False, True)),
        ("1 ... 2.5", Time("abs", 1_000_000, False, 2_500_000, False, True)),
        ("+.1 ~ +.3", Time("range", 100_000, True, 300_000, True)),
    ],
)
def test_time_forms(text, time):
    body = "> . 1:1(0) ack 1" if "~" in text else "close(3) = 0"
    assert one(f"{text} {body}\n").time == time


def test_any_time_only_for_outbound_packets():
    assert one("* > . 1:1(0) ack 1\n").time == Time("any")
    assert "outbound packets" in error("* close(3) = 0\n").message
    assert "outbound packets" in error("0.1~0.2 close(3) = 0\n").message


def test_blocking_only_for_syscalls_and_end_without_plus():
    assert "system calls" in error("0...1 > . 1:1(0)\n").message
    assert "without '+'" in error("+0...+1 close(3) = 0\n").message


def test_absolute_time_never_goes_backwards():
    e = error("1 close(3) = 0\n0.5 close(4) = 0\n")
    assert (e.line, e.message) == (2, "absolute time goes backwards")


def test_missing_time():
    e = error("close(3) = 0\n")
    assert (e.line, e.column, e.message) == (1, 1, "expected a time, found 'close(3)'")


# ---- system calls -------------------------------------------------------------------------------
def test_syscall_arguments_of_every_kind():
    ev = one(
        "0 f(1, 0x10, -1, SOCK_STREAM, O_RDWR|O_NONBLOCK, [4], [], {onoff=1, linger=0},"
        ' "hi\\n", ..., [{fd=3, events=POLLIN}], {1, 2}) = 0\n'
    )
    assert ev.body.args == (
        Int(1),
        Int(16),
        Int(-1),
        Symbol("SOCK_STREAM"),
        BitOr((Symbol("O_RDWR"), Symbol("O_NONBLOCK"))),
        Array((Int(4),)),
        Array(()),
        Struct((("onoff", Int(1)), ("linger", Int(0)))),
        String("hi\n"),
        Ellipsis_(),
        Array((Struct((("fd", Int(3)), ("events", Symbol("POLLIN")))),)),
        Struct((("0", Int(1)), ("1", Int(2)))),
    )


def test_syscall_result_errno_and_text():
    ev = one("0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n")
    assert ev.body == Syscall(
        "connect", (Int(3), Ellipsis_(), Ellipsis_()), Int(-1), "EINPROGRESS", "Operation now in progress"
    )
    ev = one("0 read(3, ..., 10) = -1 EAGAIN\n")
    assert (ev.body.errno, ev.body.errno_text) == ("EAGAIN", None)
    assert one("0 f() = 0\n").body.args == ()
    ev = one("0 read(4, ..., 512) = -1 EHOSTUNREACH(No route to host)\n")
    assert (ev.body.errno, ev.body.errno_text) == ("EHOSTUNREACH", "No route to host")
    ev = one("0 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)\n")
    assert (ev.body.result, ev.body.errno, ev.body.errno_text) == (Int(2), None, "flags O_RDWR")


def test_msghdr_sockaddr_and_epoll_structs():
    ev = one(
        "0 sendmsg(4, {msg_name(...)=..., msg_iov(2)=[{..., 10}, {iov_base=..., iov_len=20}], msg_flags=0}, 0) = 30\n"
    )
    msg = ev.body.args[1]
    assert msg.size("msg_iov") == Int(2)
    assert msg.size("msg_name") == Ellipsis_()
    assert msg.get("msg_iov") == Array(
        (
            Struct((("0", Ellipsis_()), ("1", Int(10)))),
            Struct((("iov_base", Ellipsis_()), ("iov_len", Int(20)))),
        )
    )
    ev = one('0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}, 16) = 0\n')
    assert ev.body.args[1].get("sin_port") == Call("htons", (Int(8080),))
    ev = one("0 epoll_wait(5, {events=EPOLLIN, fd=4}, 1, 0) = 1\n")
    assert ev.body.args[1] == Struct((("events", Symbol("EPOLLIN")), ("fd", Int(4))))
    ev = one('0 write(4, "ab" "cd"..., 10) = 10\n')
    assert ev.body.args[1] == String("abcd", more=True)


def test_syscall_arguments_may_span_lines():
    ev = one("0 setsockopt(3, SOL_SOCKET,\n   SO_LINGER, {onoff=1,\n linger=0}, 8) = 0\n")
    assert ev.body.args[3] == Struct((("onoff", Int(1)), ("linger", Int(0))))


def test_syscall_errors():
    e = error("0 close(3 = 0\n")
    assert (e.line, e.column) == (1, 11)
    assert e.message.startswith("expected ',' or ')'")
    e = error("0 close(3)\n+0 close(4) = 0\n")
    assert e.message.startswith("expected '= result'")
    e = error("0 close(3) = 0 (unclosed\n")
    assert "unbalanced" in e.message
    assert "unterminated string" in error('0 write(3, "abc, 3) = 3\n').message


# ---- packets ----------------------------------------------------------------------------------
def test_inbound_packet_every_field():
    ev = one("0 < S. 1000:1000(0) ack 1 win 65535 urg 0 <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>\n")
    assert ev.body == Packet(
        "<",
        "S.",
        1000,
        1000,
        0,
        ack=1,
        win=65535,
        urg=0,
        options=(OptMss(1460), OptSackOK(), OptTimestamp(1, 0), OptNop(), OptWscale(7)),
    )


def test_outbound_packet_defaults():
    p = one("0 > P. 1:1001(1000) ack 1\n").body
    assert (p.direction, p.flags, p.start, p.end, p.length, p.ack) == (">", "P.", 1, 1001, 1000, 1)
    assert p.win is None and p.options is None and not p.any_options


def test_any_options_and_empty_options():
    assert one("0 > S 0:0(0) <...>\n").body.any_options
    assert one("0 > S 0:0(0) <>\n").body.options == ()
    e = error("0 < S 0:0(0) win 1 <...>\n")
    assert "outbound" in e.message


def test_sack_eol_and_other_options():
    p = one("0 < . 1:1(0) ack 1 win 100 <nop,nop,sack 1:100 200:300>\n").body
    assert p.options == (OptNop(), OptNop(), OptSack(((1, 100), (200, 300))))
    p = one("0 < S 0:0(0) win 100 <mss 1460,eol,eol,eol,eol>\n").body
    assert p.options == (OptMss(1460), OptEol(), OptEol(), OptEol(), OptEol())
    p = one("0 < S 0:0(0) win 100 <FO abcd1234,nop,nop>\n").body
    assert p.options == (OptFastOpen(bytes.fromhex("abcd1234")), OptNop(), OptNop())
    p = one("0 < S 0:0(0) win 100 <FOEXP>\n").body
    assert p.options == (OptFastOpen(b"", experimental=True),)
    p = one("0 < S 0:0(0) win 100 <md5 000102030405060708090a0b0c0d0e0f,nop,nop>\n").body
    assert p.options == (OptMd5(bytes(range(16))), OptNop(), OptNop())
    p = one("0 > S 0:0(0) <mss 1460, nop,wscale 6,sackOK,TS val ... ecr 0>\n").body
    assert p.options[-1] == OptTimestamp(None, 0)


def test_flags_ports_ip_info_ecn():
    p = one("0 < 40000>8080 F. 1:1(0) ack 1 win 10\n").body
    assert (p.sport, p.dport, p.flags) == (40000, 8080, "F.")
    p = one("0 < [ect0] - 1:1(0) win 10\n").body
    assert (p.ip, p.flags) == (IpInfo(ecn="ect0"), "-")
    p = one("0 < (tos 0x2) . 1:1(0) win 10\n").body
    assert p.ip == IpInfo(tos=2)
    p = one("0 > [ce, flowlabel 0x12] . 1:1(0)\n").body
    assert p.ip == IpInfo(ecn="ce", flowlabel=0x12)
    p = one("0 <[noecn] SEWA 0:0(0) win 10\n").body
    assert (p.ip, p.flags) == (IpInfo(ecn="noecn"), "SEWA")
    p = one("0 > [ect0]  5. 1:1461(1460) ack 1\n").body  # an AccECN ACE value, FreeBSD style
    assert p.flags == "5."
    assert "ect01" in error("0 < [ect01] . 1:1(0) win 1\n").message
    assert "unknown IP setting" in error("0 < [ecn0] . 1:1(0) win 1\n").message
    assert "conflicting TCP flag" in error("0 > 56. 1:1(0)\n").message
    assert "cannot be combined" in error("0 > E5. 1:1(0)\n").message


def test_icmp_lines():
    ev = one("0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]\n")
    assert ev.body == Icmp("<", "unreachable", "frag_needed", 1200, None, IcmpEchoed("tcp", 1, 1460))
    ev = one("0 < [ect0] icmp unreachable [5000:6000(1000)]\n")
    assert ev.body == Icmp("<", "unreachable", None, echoed=IcmpEchoed("tcp", 5000, 1000), ip=IpInfo(ecn="ect0"))
    assert one("0 < icmp packet_too_big mtu 1280 [1:1(0)]\n").body.mtu == 1280
    assert one("0 < icmp type_3 code_4 [udp (8)]\n").body.echoed == IcmpEchoed("udp", 0, 8)
    assert "unknown ICMP type" in error("0 < icmp unreachabel [1:1(0)]\n").message
    assert "unknown code" in error("0 < icmp unreachable frag_neded [1:1(0)]\n").message


def test_other_packets_are_kept_for_the_runner():
    assert one("0 < udp (100)\n").body == OtherPacket("<", "UDP")
    assert one("0 < ipv4 192.0.2.1 > 192.0.2.2: < . 1:1(0) win 1\n").body == OtherPacket("<", "IPv4 encapsulation")


def test_packet_spanning_lines_and_comments():
    script = parse_script(
        "0 > S. 0:0(0) ack 1 // the SYN-ACK\n   <mss 1460>\n+0 < . 1:1(0) ack 1 /* x */ win 5\n", "t.pkt"
    )
    assert script.events[0].body.options == (OptMss(1460),)
    assert script.events[1].body.win == 5


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("0 < S 0:0(0) win\n+0 close(3) = 0\n", 1, 17, "expected 'win' value, found end of line"),
        ("0 > . 1:1(0) ack x\n", 1, 18, "expected 'ack' value, found 'x'"),
        ("0 > . 1:1(0)\n+0 > . 1:1(0) ack\n", 2, 18, "expected 'ack' value, found end of file"),
        ("0 > S 0:0 <mss 1>\n", 1, 7, "expected start:end(len), found '0:0'"),
        ("0 > S 0:5(4)\n", 1, 7, "start:end(len) disagree: 5 - 0 is not 4"),
        ("0 > Q 0:0(0)\n", 1, 5, "expected TCP flags (like S, S., ., P., F., R), found 'Q'"),
        (
            "0 > S. 0:0(0) ack 1 <mss 1460,sackOK>\n",
            1,
            21,
            "the options take 6 bytes, not a multiple of 4 (pad with nop)",
        ),
        ("0 > S. 0:0(0) <mss>\n", 1, 19, "expected 'mss' value, found '>'"),
        ("0 > S. 0:0(0) <TS 1 ecr 2>\n", 1, 19, "expected 'val' after 'TS', found '1'"),
        ("0 > S. 0:0(0) <mss 1460;>\n", 1, 24, "expected ',' or '>' in the option list, found ';>'"),
        ("0 > S. 0:0(0) <sack>\n", 1, 16, "expected 1 to 4 'left:right' blocks after 'sack'"),
        ("0 < S 0:0(0)\n", 1, 13, "an inbound packet needs 'win N'"),
        ("0 < S 0:0(0) win 70000\n", 1, 13, "'win' value 70000 out of range"),
        ("0 < 70000>1 S 0:0(0) win 1\n", 1, 5, "port 70000 out of range"),
        ("0 > S. 0:0(0) <wscale 7,\n", 2, 1, "expected a TCP option, found end of file"),
        (
            "0 > S. 0:0(0) <exp 1>\n",
            1,
            16,
            "unknown TCP option 'exp' (nop, eol, mss, wscale, sackOK, sack, TS, FO, FOEXP, md5)",
        ),
        ("0 < S 0:0(0) win 1 <FO abc>\n", 1, 24, "the cookie has an odd number of hex digits"),
        ("0 < S 0:0(0) win 1 <FO zz,nop,nop>\n", 1, 24, "the cookie 'zz' is not hex"),
    ],
)
def test_packet_errors_name_line_and_column(text, line, column, message):
    e = error(text)
    assert (e.line, e.column, e.message) == (line, column, message)
    assert str(e) == f"t.pkt:{line}:{column}: {message}"


# ---- shell and python ---------------------------------------------------------------------------
def test_shell_and_python_lines():
    script = parse_script(
        "0 `sysctl -w net.ipv4.tcp_timestamps=0`\n"
        "+0 %{ assert tcpi_state == TCP_LISTEN }%\n"
        "+0 %{\n    x = 7 // 2\n    assert x == 3\n}%\n",
        "t.pkt",
    )
    assert script.events[0].body == Shell("sysctl -w net.ipv4.tcp_timestamps=0")
    assert script.events[1].body == Python("assert tcpi_state == TCP_LISTEN\n")
    assert script.events[2].body == Python("x = 7 // 2\nassert x == 3\n")
    assert "unterminated %{" in error("0 %{ x = 1\n").message
    assert "unterminated `command`" in error("0 `ls\n").message
    assert "unterminated /*" in error("0 close(3) = 0 /* x\n").message


def test_event_text_and_lines_kept():
    script = parse_script("// c\n0   close(3) = 0   // done\n", "t.pkt")
    ev = script.events[0]
    assert ev.text == "0   close(3) = 0"
    assert script.lines[1] == "0   close(3) = 0   // done"


def test_unknown_body():
    e = error("0 ^ x\n")
    assert e.message.startswith("expected a packet, a system call")

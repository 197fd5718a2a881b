"""Read packetdrill-language scripts into the typed tree of :mod:`tcplab.drill.ast`.

``parse_script(text, path="script.pkt", defines=None) -> Script``; syntax errors raise
:class:`DrillSyntaxError` whose message names the place: ``file.pkt:12:7: expected 'ack' value``.
The grammar is packetdrill's (Linux's and FreeBSD's packetdrill): header options, untimed init and
cleanup commands, timed events (packets, system calls, `shell`, ``%{ python }%``).
:mod:`tcplab.drill.check` then rejects names no packetdrill knows.
"""

from __future__ import annotations

import re
import textwrap

from tcplab.drill.ast import (
    Body,
    Command,
    Event,
    Icmp,
    IcmpEchoed,
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
    PacketOption,
    Python,
    Script,
    Shell,
    Syscall,
    Time,
    option_length,
)
from tcplab.drill.exprs import ExprParser
from tcplab.drill.scanner import DrillSyntaxError, preprocess

__all__ = ["DrillSyntaxError", "parse_file", "parse_script"]

_TIME = re.compile(r"\d+\.\d+|\d+\.(?!\.)|\d+|\.\d+")
_FLAGS = re.compile(r"[.FSRPEWAUC0-7-]+")
_PORTS = re.compile(r"(\d+)[ \t]*>[ \t]*(\d+)")
_SEQ = re.compile(r"(\d+)[ \t]*:[ \t]*(\d+)[ \t]*\([ \t]*(\d+)[ \t]*\)")
_HEX = re.compile(r"[0-9A-Za-z_]*")
_OPTION = re.compile(r"--([A-Za-z0-9_-]+)(?:=(\"[^\"\n]*\"|`[^`\n]*`|\S*))?")
_ECN_WORDS = ("noecn", "ect0", "ect1", "ce", "ect01")

# Header options of Linux's and FreeBSD's packetdrill (names with '_'; '-' is accepted too).
KNOWN_OPTIONS = frozenset(
    [
        "ip_version",
        "bind_port",
        "code_command",
        "code_format",
        "code_sockopt",
        "connect_port",
        "remote_ip",
        "local_ip",
        "gateway_ip",
        "netmask_ip",
        "speed",
        "mss",
        "mtu",
        "init_scripts",
        "tolerance_usecs",
        "tolerance_percent",
        "wire_client",
        "wire_server",
        "wire_server_ip",
        "wire_server_at",
        "wire_server_port",
        "wire_client_dev",
        "wire_server_dev",
        "so_filename",
        "so_flags",
        "tcp_ts_ecr_scaled",
        "tcp_ts_tick_usecs",
        "strict_segments",
        "non_fatal",
        "dry_run",
        "is_anyip",
        "send_omit_free",
        "debug",
        "define",
        "verbose",
    ]
)

# ICMP type and code names (RFC 792, RFC 1812 5.2.7.1, RFC 4443): (type, {code name: code}).
ICMPV4_TYPES: dict[str, tuple[int, dict[str, int]]] = {
    "echo_reply": (0, {}),
    "unreachable": (
        3,
        {
            name: code
            for code, name in enumerate(
                [
                    "net_unreachable",
                    "host_unreachable",
                    "protocol_unreachable",
                    "port_unreachable",
                    "frag_needed",
                    "source_route_failed",
                    "net_unknown",
                    "host_unknown",
                    "source_host_isolated",
                    "net_prohibited",
                    "host_prohibited",
                    "net_unreachable_for_tos",
                    "host_unreachable_for_tos",
                    "packet_filtered",
                    "precedence_violation",
                    "precedence_cutoff",
                ]
            )
        },
    ),
    "source_quench": (4, {}),
    "redirect": (5, {}),
    "echo_request": (8, {}),
    "time_exceeded": (11, {}),
    "parameter_problem": (12, {}),
    "timestamp_request": (13, {}),
    "timestamp_reply": (14, {}),
    "information_request": (15, {}),
    "information_reply": (16, {}),
    "address_mask_request": (17, {}),
    "address_mask_reply": (18, {}),
}
ICMPV6_TYPES: dict[str, tuple[int, dict[str, int]]] = {
    "unreachable": (
        1,
        {
            "net_unreachable": 0,
            "no_route": 0,
            "admin_prohibited": 1,
            "not_neighbour": 2,
            "address_unreachable": 3,
            "port_unreachable": 4,
        },
    ),
    "packet_too_big": (2, {}),
    "time_exceeded": (3, {"exceeded_hop_limit": 0, "exceeded_frag_time": 1}),
    "parameter_problem": (4, {"header_field": 0, "unknown_next_header": 1, "unknown_option": 2}),
    "echo_request": (128, {}),
    "echo_reply": (129, {}),
}


def _usecs(text: str) -> int:
    if "." in text:
        whole, frac = text.split(".", 1)
        frac = (frac + "000000")[:6]
        return int(whole or "0") * 1_000_000 + int(frac or "0")
    return int(text) * 1_000_000


def parse_flags_text(text: str) -> tuple[str, int | None]:
    """Check a flags word as packetdrill does; (the letters, the AccECN ACE value or None).
    Raises ValueError with the reason."""
    if text == "-":
        return "", None
    if "-" in text:
        raise ValueError("'-' means no flags and cannot be combined with others")
    digits = [c for c in text if c.isdigit()]
    if len(digits) > 1:
        raise ValueError(f"conflicting TCP flag '{digits[1]}' (one AccECN ACE value at most)")
    if digits and any(c in "EWAC" for c in text):
        raise ValueError("an AccECN ACE value cannot be combined with E, W or A")
    return "".join(c for c in text if not c.isdigit()), int(digits[0]) if digits else None


class _Parser(ExprParser):
    # -- the script -----------------------------------------------------------------------------
    def script(self) -> Script:
        script = Script(path=self.path, lines=self.text.split("\n"))
        self.header_options(script)
        self.skip_ws()
        if self.at("`"):
            script.init_command = Command(self.backquoted(), self.where()[0])
            self.skip_ws()
        while self.pos < self.n:
            if self.at("`"):
                start = self.pos
                line = self.where()[0]
                command = self.backquoted()
                self.skip_ws()
                if self.pos < self.n:
                    raise self.error(
                        "one untimed command is allowed before the first event and one after the last "
                        "(packetdrill's grammar); give this one a time",
                        start,
                    )
                script.cleanup_command = Command(command, line)
                break
            script.events.append(self.event())
            self.skip_ws()
        return script

    def header_options(self, script: Script) -> None:
        """``--name[=value]``, several per line if wanted, before anything else."""
        while True:
            self.skip_ws()
            if not self.at("--"):
                return
            start = self.pos
            m = self.match(_OPTION)
            if not m:
                raise self.error("expected an option name after '--'", start + 2)
            name = m.group(1).replace("-", "_")
            if name not in KNOWN_OPTIONS:
                raise self.error(f"unknown option --{m.group(1)} (no packetdrill has it)", start)
            value = m.group(2)
            if value is not None and len(value) >= 2 and value[0] == value[-1] and value[0] in '"`':
                value = value[1:-1]
            script.options[name] = value

    def backquoted(self) -> str:
        start = self.pos
        self.expect("`")
        out: list[str] = []
        while self.pos < self.n:
            c = self.text[self.pos]
            if c == "\\" and self.pos + 1 < self.n and self.text[self.pos + 1] == "`":
                out.append("`")
                self.pos += 2
                continue
            self.pos += 1
            if c == "`":
                return "".join(out)
            out.append(c)
        raise self.error("unterminated `command`", start)

    # -- events -------------------------------------------------------------------------------
    def event(self) -> Event:
        start = self.pos
        line, col = self.where()
        time = self.time()
        self.skip_ws(newlines=False)
        body: Body
        if self.at("<") or self.at(">"):
            body = self.packet()
        elif self.at("`"):
            body = Shell(self.backquoted())
        elif self.at("%{"):
            body = self.python()
        else:
            name_pos = self.pos
            name = self.ident()
            if name is None:
                raise self.error(
                    f"expected a packet, a system call, a `command` or %{{ }}% after the time, found {self.found()}"
                )
            body = self.syscall(name, name_pos)
        outbound = isinstance(body, Packet | Icmp | OtherPacket) and body.direction == ">"
        if not outbound and time.kind in ("any", "range"):
            raise self.error("'*' and time ranges are allowed only for outbound packets", start)
        if time.blocking and not isinstance(body, Syscall):
            raise self.error("'T...E' is allowed only for system calls", start)
        text = self.text[start : self.pos].split("\n", 1)[0]
        text = re.sub(r"\s*(//.*|/\*.*)$", "", text).strip()
        return Event(line, col, time, body, text)

    def one_time(self) -> tuple[int, bool]:
        relative = self.eat("+")
        m = self.match(_TIME)
        if not m:
            raise self.error(f"expected a time, found {self.found()}")
        return _usecs(m.group(0)), relative

    def time(self) -> Time:
        if self.eat("*"):
            return Time("any")
        usecs, relative = self.one_time()
        save = self.pos
        self.skip_ws(newlines=False)
        if self.eat("..."):  # a blocking call: T...E (E with T's base), spaces allowed
            self.skip_ws(newlines=False)
            end, end_relative = self.one_time()
            if end_relative:
                raise self.error("the end E of 'T...E' has the base of T: write it without '+'")
            return Time("rel" if relative else "abs", usecs, relative, end, relative, True)
        if self.eat("~"):
            self.skip_ws(newlines=False)
            end, end_relative = self.one_time()
            if relative != end_relative:
                raise self.error("a time range is T1~T2 or +T1~+T2")
            return Time("range", usecs, relative, end, end_relative)
        self.pos = save
        return Time("rel" if relative else "abs", usecs, relative)

    def python(self) -> Python:
        start = self.pos
        self.expect("%{")
        end = self.text.find("}%", self.pos)
        if end < 0:
            raise self.error("unterminated %{ python }%", start)
        code = self.text[self.pos : end]
        self.pos = end + 2
        lines = code.split("\n")
        first = lines[0].strip()
        rest = textwrap.dedent("\n".join(lines[1:]))
        return Python((first + "\n" + rest).strip("\n") + "\n")

    # -- packets --------------------------------------------------------------------------------
    def packet(self) -> Packet | Icmp | OtherPacket:
        direction = self.text[self.pos]
        self.pos += 1
        self.skip_ws(newlines=False)
        ip = self.ip_info()
        word_pos = self.pos
        word = self.ident()
        if word in ("ipv4", "ipv6", "gre", "GREv0", "mpls"):
            self.pos = word_pos
            return self.encapsulated(direction)
        if word == "icmp":
            return self.icmp(direction, ip)
        if word in ("udp", "udplite"):
            self.skip_ws(newlines=False)
            if self.match(_PORTS):
                self.skip_ws(newlines=False)
            self.enclosed("(", ")", "the UDP length")
            return OtherPacket(direction, "UDP")
        self.pos = word_pos
        return self.tcp(direction, ip)

    def encapsulated(self, direction: str) -> OtherPacket:
        """``ipv4 192.0.2.1 > 192.168.0.1: < tcp >`` and GRE/MPLS prefixes: kept as what they are."""
        word = self.ident() or ""
        end = self.text.find("\n", self.pos)
        self.pos = self.n if end < 0 else end
        what = {"ipv4": "IPv4 encapsulation", "ipv6": "IPv6 encapsulation", "mpls": "MPLS"}.get(word, "GRE")
        return OtherPacket(direction, what)

    def ip_info(self) -> IpInfo | None:
        """``[ect0]``, ``(tos 0x2)``, ``[ce, flowlabel 0x1]``, ``(ttl 64)`` after the direction."""
        if not (self.at("(") or self.at("[")):
            return None
        start = self.pos
        closing = ")" if self.at("(") else "]"
        inner = self.enclosed(self.text[self.pos], closing, "the IP settings")
        self.skip_ws(newlines=False)
        ecn = None
        values: dict[str, int] = {}
        for part in (p.strip() for p in inner.split(",")):
            words = part.split()
            if len(words) == 1 and words[0] in _ECN_WORDS:
                ecn = words[0]
            elif len(words) == 2 and words[0] in ("tos", "ttl", "hlim", "flowlabel", "dscp", "class"):
                try:
                    values[words[0]] = int(words[1], 0)
                except ValueError:
                    raise self.error(f"'{words[0]}' needs a number, not '{words[1]}'", start) from None
            else:
                raise self.error(f"unknown IP setting '{part}' (ect0, ect1, ce, noecn, tos N, ttl N, ...)", start)
        tos = values.get("tos")
        if tos is None and ("dscp" in values or "class" in values):
            tos = values.get("dscp", values.get("class", 0)) << 2
        return IpInfo(ecn, tos, values.get("ttl", values.get("hlim")), values.get("flowlabel"))

    def tcp(self, direction: str, ip: IpInfo | None) -> Packet:
        sport = dport = None
        m = _PORTS.match(self.text, self.pos)
        if m:
            sport, dport = int(m.group(1)), int(m.group(2))
            for port, g in ((sport, 1), (dport, 2)):
                if port > 0xFFFF:
                    raise self.error(f"port {port} out of range", m.start(g))
            self.pos = m.end()
            self.skip_ws(newlines=False)
        flags_pos = self.pos
        m = _FLAGS.match(self.text, self.pos)
        if not m or (m.end() < self.n and not self.text[m.end()].isspace()):
            raise self.error(f"expected TCP flags (like S, S., ., P., F., R), found {self.found()}")
        flags = m.group(0)
        try:
            parse_flags_text(flags)
        except ValueError as exc:
            raise self.error(str(exc), flags_pos) from None
        self.pos = m.end()
        self.skip_ws(newlines=False)
        seq_pos = self.pos
        m = self.match(_SEQ)
        if not m:
            raise self.error(f"expected start:end(len), found {self.found()}")
        start, end, length = (int(m.group(i)) for i in (1, 2, 3))
        for value, g in ((start, 1), (end, 2)):
            if value > 0xFFFFFFFF:
                raise self.error(f"sequence number {value} out of range", m.start(g))
        if length > 0xFFFF:
            raise self.error(f"payload length {length} out of range", m.start(3))
        if (end - start) % (1 << 32) != length:
            raise self.error(f"start:end(len) disagree: {end} - {start} is not {length}", seq_pos)
        ack = win = urg = None
        options: tuple[PacketOption, ...] | None = None
        any_options = False
        while True:
            save = self.pos
            self.skip_ws()
            word = next((w for w in ("ack", "win", "urg") if self.keyword_ahead(w)), None)
            if word is not None:
                self.pos += len(word)
                self.skip_ws(newlines=False)
                value = self.number(f"'{word}' value")
                if not 0 <= value <= (0xFFFFFFFF if word == "ack" else 0xFFFF):
                    raise self.error(f"'{word}' value {value} out of range", save)
                if word == "ack":
                    ack = value
                elif word == "win":
                    win = value
                else:
                    urg = value
            elif self.at("<") and options is None and not any_options:
                if re.compile(r"<\s*\.\.\.\s*>").match(self.text, self.pos):
                    if direction == "<":
                        raise self.error("'<...>' (any options) is allowed only on outbound packets")
                    self.pos = self.text.index(">", self.pos) + 1
                    any_options = True
                else:
                    options = self.options()
            else:
                self.pos = save
                break
        if direction == "<" and win is None:
            raise self.error("an inbound packet needs 'win N'")
        if ip is not None and ip.ecn == "ect01" and direction == "<":
            raise self.error("[ect01] can only be used with outbound packets")
        return Packet(direction, flags, start, end, length, ack, win, urg, options, any_options, ip, sport, dport)

    def icmp(self, direction: str, ip: IpInfo | None) -> Icmp:
        """``icmp TYPE [CODE] [mtu N] [id N] [[start:end(len)] | [udp (N)] | [raw (N)]]``."""
        self.skip_ws(newlines=False)
        type_pos = self.pos
        type_name = self.ident()
        if type_name is None:
            raise self.error(f"expected an ICMP type (like unreachable), found {self.found()}")
        codes = {**ICMPV4_TYPES.get(type_name, (0, {}))[1], **ICMPV6_TYPES.get(type_name, (0, {}))[1]}
        if type_name not in ICMPV4_TYPES and type_name not in ICMPV6_TYPES and not re.fullmatch(r"type_\d+", type_name):
            raise self.error(f"unknown ICMP type '{type_name}'", type_pos)
        self.skip_ws(newlines=False)
        code_name = None
        save = self.pos
        word = self.ident()
        if word is not None and word not in ("mtu", "id"):
            if word not in codes and not re.fullmatch(r"code_\d+", word):
                raise self.error(f"unknown code '{word}' for ICMP {type_name}", save)
            code_name = word
            self.skip_ws(newlines=False)
        else:
            self.pos = save
        mtu = echo_id = None
        if self.eat_keyword("mtu"):
            self.skip_ws(newlines=False)
            mtu = self.number("the MTU")
            self.skip_ws(newlines=False)
        if self.eat_keyword("id"):
            self.skip_ws(newlines=False)
            echo_id = self.number("the echo id")
            self.skip_ws(newlines=False)
        echoed = None
        if self.at("["):
            echoed = self.icmp_echoed()
        return Icmp(direction, type_name, code_name, mtu, echo_id, echoed, ip)

    def icmp_echoed(self) -> IcmpEchoed:
        start = self.pos
        inner = self.enclosed("[", "]", "what the ICMP message quotes")
        m = _SEQ.fullmatch(inner)
        if m:
            s, e, n = (int(m.group(i)) for i in (1, 2, 3))
            if (e - s) % (1 << 32) != n:
                raise self.error(f"start:end(len) disagree: {e} - {s} is not {n}", start)
            return IcmpEchoed("tcp", s, n)
        m = re.fullmatch(r"(udp|raw)\s*\(\s*(\d+)\s*\)", inner)
        if m:
            return IcmpEchoed(m.group(1), 0, int(m.group(2)))
        raise self.error("expected [start:end(len)], [udp (N)] or [raw (N)] after the ICMP type", start)

    # -- TCP options ----------------------------------------------------------------------------
    def options(self) -> tuple[PacketOption, ...]:
        list_pos = self.pos
        self.expect("<")
        out: list[PacketOption] = []
        self.skip_ws()
        if self.eat(">"):
            return ()
        while True:
            self.skip_ws()
            out.append(self.option())
            self.skip_ws()
            if self.eat(">"):
                break
            self.expect(",", "',' or '>' in the option list")
        total = sum(option_length(o) for o in out)
        if total % 4:
            raise self.error(f"the options take {total} bytes, not a multiple of 4 (pad with nop)", list_pos)
        if total > 40:
            raise self.error(f"the options take {total} bytes, more than 40", list_pos)
        return tuple(out)

    def option(self) -> PacketOption:
        name_pos = self.pos
        name = self.ident()
        self.skip_ws(newlines=False)
        if name == "nop":
            return OptNop()
        if name == "eol":
            return OptEol()
        if name in ("mss", "wscale"):
            value = self.number(f"'{name}' value")
            if not 0 <= value <= (0xFFFF if name == "mss" else 0xFF):
                raise self.error(f"{name} {value} out of range", name_pos)
            return OptMss(value) if name == "mss" else OptWscale(value)
        if name == "sackOK":
            return OptSackOK()
        if name == "sack":
            blocks: list[tuple[int, int]] = []
            while m := re.compile(r"(\d+):(\d+)").match(self.text, self.pos):
                blocks.append((int(m.group(1)), int(m.group(2))))
                self.pos = m.end()
                self.skip_ws(newlines=False)
            if not 1 <= len(blocks) <= 4:
                raise self.error("expected 1 to 4 'left:right' blocks after 'sack'", name_pos)
            return OptSack(tuple(blocks))
        if name == "TS":
            val = self.ts_value("val", "'TS'")
            ecr = self.ts_value("ecr", "'TS val N'")
            return OptTimestamp(val, ecr)
        if name in ("FO", "FOEXP"):
            cookie = self.hex_blob("cookie", 16 if name == "FO" else 14)
            return OptFastOpen(cookie, experimental=name == "FOEXP")
        if name == "md5":
            return OptMd5(self.hex_blob("digest", 16))
        if name is None:
            raise self.error(f"expected a TCP option, found {self.found()}", name_pos)
        raise self.error(
            f"unknown TCP option '{name}' (nop, eol, mss, wscale, sackOK, sack, TS, FO, FOEXP, md5)", name_pos
        )

    def ts_value(self, word: str, after: str) -> int | None:
        if not self.eat_keyword(word):
            raise self.error(f"expected '{word}' after {after}, found {self.found()}")
        self.skip_ws(newlines=False)
        if self.eat("..."):
            value = None
        else:
            value = self.number(f"'{word}' value") & 0xFFFFFFFF
        self.skip_ws(newlines=False)
        return value

    def hex_blob(self, what: str, limit: int) -> bytes:
        start = self.pos
        m = self.match(_HEX)
        text = m.group(0) if m else ""
        if len(text) % 2:
            raise self.error(f"the {what} has an odd number of hex digits", start)
        try:
            blob = bytes.fromhex(text)
        except ValueError:
            raise self.error(f"the {what} '{text}' is not hex", start) from None
        if len(blob) > limit:
            raise self.error(f"the {what} is {len(blob)} bytes, at most {limit}", start)
        return blob


def parse_script(text: str, path: str = "script.pkt", defines: dict[str, str | None] | None = None) -> Script:
    """Parse a whole script. ``defines`` maps -D names to their values (None: defined only)."""
    defines = dict(defines or {})
    source = preprocess(text, path, defines)
    script = _Parser(source, path).script()
    script.lines = text.split("\n")
    _check_times(script)
    return script


def _check_times(script: Script) -> None:
    last_abs = None
    for ev in script.events:
        t = ev.time
        if (t.kind == "abs" and not t.blocking) or (t.blocking and not t.relative):
            if last_abs is not None and t.usecs < last_abs:
                raise DrillSyntaxError(script.path, ev.line, ev.column, "absolute time goes backwards")
            last_abs = t.usecs
        if t.blocking and t.end_usecs is not None and t.end_usecs < t.usecs:
            raise DrillSyntaxError(script.path, ev.line, ev.column, "a blocking call cannot end before it starts")
        if t.kind == "range" and t.end_usecs is not None and t.end_usecs < t.usecs:
            raise DrillSyntaxError(script.path, ev.line, ev.column, "empty time range")


def parse_file(path: str, defines: dict[str, str | None] | None = None) -> Script:
    with open(path, encoding="utf-8") as f:
        return parse_script(f.read(), path, defines)

"""Read packetdrill-language scripts into the typed tree of :mod:`tcplab.drill.ast`.

``parse_script(text, path="script.pkt", defines=None) -> Script``; syntax errors raise
:class:`DrillSyntaxError` whose message names the place: ``file.pkt:12:7: expected 'ack' value``.

Before parsing, ``#ifdef NAME`` / ``#ifndef NAME`` / ``#else`` / ``#endif`` blocks are resolved
(lines dropped keep their place, so line numbers stay right) and every ``-D NAME=value`` replaces
the word ``NAME``.
"""

from __future__ import annotations

import bisect
import re
import textwrap
from collections.abc import Callable

from tcplab.drill.ast import (
    Array,
    BitOr,
    Body,
    Ellipsis_,
    Event,
    Expr,
    Int,
    OptEol,
    OptMss,
    OptNop,
    OptOther,
    OptSack,
    OptSackOK,
    OptTimestamp,
    OptWscale,
    Packet,
    PacketOption,
    Python,
    Script,
    Shell,
    String,
    Struct,
    Symbol,
    Syscall,
    Time,
    option_length,
)


class DrillSyntaxError(ValueError):
    """A script that does not parse; ``str()`` is ``path:line:column: message``."""

    def __init__(self, path: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {message}")
        self.path = path
        self.line = line
        self.column = column
        self.message = message


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUMBER = re.compile(r"-?(0[xX][0-9a-fA-F]+|\d+)")
_TIME = re.compile(r"\d+\.\d+|\d+\.(?!\.)|\d+|\.\d+")
_FLAGS = re.compile(r"[.FSRPEWUC-]+")
_PORTS = re.compile(r"(\d+)\s*>\s*(\d+)")
_SEQ = re.compile(r"(\d+):(\d+)\((\d+)\)")
_DIRECTIVE = re.compile(r"^\s*#\s*(ifdef|ifndef|else|endif)\b\s*(\S*)")
_OTHER_OPTION_LENGTH = {"md5": 18, "ECN": 0, "FO": 0, "exp": 0}


def _usecs(text: str) -> int:
    if "." in text:
        whole, frac = text.split(".", 1)
        frac = (frac + "000000")[:6]
        return int(whole or "0") * 1_000_000 + int(frac or "0")
    return int(text) * 1_000_000


def _literally(value: str) -> Callable[[re.Match[str]], str]:
    """A re.sub replacement that inserts ``value`` as it is (no backslash escapes)."""
    return lambda _m: value


def preprocess(text: str, path: str, defines: dict[str, str | None]) -> str:
    """Resolve ``#ifdef`` blocks (dropped lines become empty) and replace ``-D`` words."""
    out: list[str] = []
    stack: list[tuple[bool, int]] = []  # (keeping this branch, line of the #if)
    for number, line in enumerate(text.split("\n"), 1):
        m = _DIRECTIVE.match(line)
        if m:
            word, name = m.group(1), m.group(2)
            if word in ("ifdef", "ifndef"):
                if not name:
                    raise DrillSyntaxError(path, number, m.start(2) + 1, f"#{word} needs a name")
                keep = (name in defines) == (word == "ifdef")
                stack.append((keep, number))
            elif word == "else":
                if not stack:
                    raise DrillSyntaxError(path, number, 1, "#else without #ifdef")
                keep, start = stack.pop()
                stack.append((not keep, start))
            else:
                if not stack:
                    raise DrillSyntaxError(path, number, 1, "#endif without #ifdef")
                stack.pop()
            out.append("")
            continue
        if not all(keep for keep, _ in stack):
            out.append("")
            continue
        out.append(line)
    if stack:
        raise DrillSyntaxError(path, stack[-1][1], 1, "#ifdef without #endif")
    text = "\n".join(out)
    for name, value in defines.items():
        if value is None:
            continue
        text = re.sub(r"(?<![\w$])" + re.escape(name) + r"(?![\w])", _literally(value), text)
    return text


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.pos = 0
        self.n = len(text)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    # -- positions and errors -----------------------------------------------------------------
    def where(self, pos: int | None = None) -> tuple[int, int]:
        pos = self.pos if pos is None else pos
        line = bisect.bisect_right(self.line_starts, pos) - 1
        return line + 1, pos - self.line_starts[line] + 1

    def error(self, message: str, pos: int | None = None) -> DrillSyntaxError:
        line, col = self.where(pos)
        return DrillSyntaxError(self.path, line, col, message)

    def found(self) -> str:
        rest = self.text[self.pos :]
        if not rest.strip():
            return "end of file"
        if not rest.split("\n", 1)[0].strip():
            return "end of line"
        m = re.compile(r"\S+").match(self.text, self.pos)
        word = m.group(0) if m else self.text[self.pos]
        return f"'{word[:20]}'"

    # -- scanning -----------------------------------------------------------------------------
    def skip_ws(self, newlines: bool = True) -> None:
        text, n = self.text, self.n
        while self.pos < n:
            c = text[self.pos]
            if c == "\n" and not newlines:
                return
            if c in " \t\r\n\f\v":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("unterminated /* comment")
                if not newlines and "\n" in text[self.pos : end]:
                    return
                self.pos = end + 2
            else:
                return

    def at(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def eat(self, s: str) -> bool:
        if self.text.startswith(s, self.pos):
            self.pos += len(s)
            return True
        return False

    def expect(self, s: str, what: str | None = None) -> None:
        if not self.eat(s):
            raise self.error(f"expected {what or repr(s)}, found {self.found()}")

    def match(self, pattern: re.Pattern) -> re.Match | None:
        m = pattern.match(self.text, self.pos)
        if m:
            self.pos = m.end()
        return m

    def ident(self) -> str | None:
        m = self.match(_IDENT)
        return m.group(0) if m else None

    def number(self, what: str) -> int:
        m = self.match(_NUMBER)
        if not m:
            raise self.error(f"expected {what}, found {self.found()}")
        return int(m.group(0), 0)

    def keyword_ahead(self, word: str) -> bool:
        return self.at(word) and not (
            self.pos + len(word) < self.n
            and (self.text[self.pos + len(word)].isalnum() or self.text[self.pos + len(word)] == "_")
        )

    # -- the script -----------------------------------------------------------------------------
    def script(self) -> Script:
        script = Script(path=self.path, lines=self.text.split("\n"))
        # options: --name[=value], each on its own line, before anything else
        while True:
            self.skip_ws()
            if not self.at("--"):
                break
            start = self.pos
            end = self.text.find("\n", start)
            end = self.n if end < 0 else end
            item = self.text[start + 2 : end].strip()
            if not item or not re.match(r"[A-Za-z_][\w-]*", item):
                raise self.error("expected an option name after '--'", start + 2)
            name, eq, value = item.partition("=")
            script.options[name.strip()] = value.strip() if eq else None
            self.pos = end
        self.skip_ws()
        if self.at("`"):
            script.init_command = self.backquoted()
            self.skip_ws()
        while self.pos < self.n:
            if self.at("`"):
                start = self.pos
                command = self.backquoted()
                self.skip_ws()
                if self.pos < self.n:
                    raise self.error(
                        "an untimed command is allowed only before the first event or after the last", start
                    )
                script.cleanup_command = command
                break
            script.events.append(self.event())
            self.skip_ws()
        return script

    def backquoted(self) -> str:
        start = self.pos
        self.expect("`")
        end = self.text.find("`", self.pos)
        if end < 0:
            raise self.error("unterminated `command`", start)
        command = self.text[self.pos : end]
        self.pos = end + 1
        return command

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
        if not isinstance(body, Packet) and time.kind in ("any", "range"):
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
        if self.eat("..."):
            end, end_relative = self.one_time()
            if end_relative:
                raise self.error("the end E of 'T...E' has the base of T: write it without '+'")
            return Time("rel" if relative else "abs", usecs, relative, end, relative, True)
        if self.eat("~"):
            end, end_relative = self.one_time()
            return Time("range", usecs, relative, end, end_relative or relative)
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

    # -- system calls ---------------------------------------------------------------------------
    def syscall(self, name: str, name_pos: int) -> Syscall:
        self.skip_ws()
        self.expect("(", f"'(' after system call name '{name}'")
        args: list[Expr] = []
        self.skip_ws()
        if not self.eat(")"):
            while True:
                self.skip_ws()
                args.append(self.expr())
                self.skip_ws()
                if self.eat(")"):
                    break
                self.expect(",", "',' or ')' in the argument list")
        self.skip_ws(newlines=False)
        self.expect("=", f"'= result' after {name}(...)")
        self.skip_ws(newlines=False)
        result = self.expr()
        errno = text = None
        self.skip_ws(newlines=False)
        m = re.compile(r"E[A-Z0-9]+\b").match(self.text, self.pos)
        if m:
            errno = m.group(0)
            self.pos = m.end()
            self.skip_ws(newlines=False)
        if self.at("("):
            text = self.parenthesized()
        return Syscall(name, tuple(args), result, errno, text)

    def parenthesized(self) -> str:
        start = self.pos
        self.expect("(")
        depth = 1
        i = self.pos
        while i < self.n and depth:
            c = self.text[i]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            elif c == "\n":
                break
            i += 1
        if depth:
            raise self.error("unbalanced '(' (expected ')' on the same line)", start)
        inner = self.text[self.pos : i - 1]
        self.pos = i
        return inner.strip()

    def expr(self) -> Expr:
        terms = [self.term()]
        while True:
            save = self.pos
            self.skip_ws()
            if self.at("|"):
                self.pos += 1
                self.skip_ws()
                terms.append(self.term())
            else:
                self.pos = save
                break
        return terms[0] if len(terms) == 1 else BitOr(tuple(terms))

    def term(self) -> Expr:
        if self.eat("..."):
            return Ellipsis_()
        if self.at("["):
            self.pos += 1
            items: list[Expr] = []
            self.skip_ws()
            if not self.eat("]"):
                while True:
                    self.skip_ws()
                    items.append(self.expr())
                    self.skip_ws()
                    if self.eat("]"):
                        break
                    self.expect(",", "',' or ']'")
            return Array(tuple(items))
        if self.at("{"):
            self.pos += 1
            fields: list[tuple[str, Expr]] = []
            self.skip_ws()
            if not self.eat("}"):
                while True:
                    self.skip_ws()
                    save = self.pos
                    name = self.ident()
                    self.skip_ws()
                    if name is not None and self.eat("="):
                        self.skip_ws()
                        fields.append((name, self.expr()))
                    else:
                        self.pos = save
                        fields.append((str(len(fields)), self.expr()))
                    self.skip_ws()
                    if self.eat("}"):
                        break
                    self.expect(",", "',' or '}'")
            return Struct(tuple(fields))
        if self.at('"'):
            return String(self.string())
        m = self.match(_NUMBER)
        if m:
            return Int(int(m.group(0), 0))
        name = self.ident()
        if name is not None:
            return Symbol(name)
        raise self.error(f"expected a value, found {self.found()}")

    def string(self) -> str:
        start = self.pos
        self.expect('"')
        out: list[str] = []
        while True:
            if self.pos >= self.n or self.text[self.pos] == "\n":
                raise self.error("unterminated string", start)
            c = self.text[self.pos]
            self.pos += 1
            if c == '"':
                return "".join(out)
            if c == "\\" and self.pos < self.n:
                e = self.text[self.pos]
                self.pos += 1
                if e == "x":
                    digits = self.text[self.pos : self.pos + 2]
                    try:
                        out.append(chr(int(digits, 16)))
                    except ValueError:
                        raise self.error("bad \\x escape", self.pos - 2) from None
                    self.pos += 2
                else:
                    out.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(e, e))
            else:
                out.append(c)

    # -- packets --------------------------------------------------------------------------------
    def packet(self) -> Packet:
        direction = self.text[self.pos]
        self.pos += 1
        self.skip_ws(newlines=False)
        ip_info = ecn = None
        sport = dport = None
        while True:
            if self.at("("):
                ip_info = self.parenthesized()
            elif self.at("["):
                end = self.text.find("]", self.pos)
                nl = self.text.find("\n", self.pos)
                if end < 0 or (0 <= nl < end):
                    raise self.error("unbalanced '['")
                ecn = self.text[self.pos + 1 : end].strip()
                self.pos = end + 1
            else:
                break
            self.skip_ws(newlines=False)
        m = _PORTS.match(self.text, self.pos)
        if m:
            sport, dport = int(m.group(1)), int(m.group(2))
            for port, g in ((sport, 1), (dport, 2)):
                if port > 0xFFFF:
                    raise self.error(f"port {port} out of range", m.start(g))
            self.pos = m.end()
            self.skip_ws(newlines=False)
        m = _FLAGS.match(self.text, self.pos)
        if not m or (m.end() < self.n and not self.text[m.end()].isspace()):
            raise self.error(f"expected TCP flags (like S, S., ., P., F., R), found {self.found()}")
        flags = m.group(0)
        if "-" in flags and flags != "-":
            raise self.error("'-' means no flags and cannot be combined with others")
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
        if (end - start) % (1 << 32) != length:
            raise self.error(f"start:end(len) disagree: {end} - {start} is not {length}", seq_pos)
        ack = win = urg = None
        options: tuple[PacketOption, ...] | None = None
        any_options = False
        while True:
            save = self.pos
            self.skip_ws()
            for word in ("ack", "win", "urg"):
                if self.keyword_ahead(word):
                    self.pos += len(word)
                    self.skip_ws(newlines=False)
                    value = self.number(f"'{word}' value")
                    limit = 0xFFFFFFFF if word == "ack" else 0xFFFF
                    if not 0 <= value <= limit:
                        raise self.error(f"'{word}' value {value} out of range", save)
                    if word == "ack":
                        ack = value
                    elif word == "win":
                        win = value
                    else:
                        urg = value
                    break
            else:
                if self.at("<") and options is None and not any_options:
                    if self.text.startswith("<...>", self.pos):
                        if direction == "<":
                            raise self.error("'<...>' (any options) is allowed only on outbound packets")
                        self.pos += 5
                        any_options = True
                    else:
                        options = self.options()
                    continue
                self.pos = save
                break
        if direction == "<" and win is None:
            raise self.error("an inbound packet needs 'win N'")
        return Packet(
            direction, flags, start, end, length, ack, win, urg, options, any_options, ip_info, ecn, sport, dport
        )

    def options(self) -> tuple[PacketOption, ...]:
        list_pos = self.pos
        self.expect("<")
        out: list[PacketOption] = []
        self.skip_ws()
        if self.eat(">"):
            return ()
        while True:
            self.skip_ws()
            name_pos = self.pos
            name = self.ident()
            if name is None:
                raise self.error(f"expected a TCP option, found {self.found()}")
            self.skip_ws(newlines=False)
            if name == "nop":
                out.append(OptNop())
            elif name == "eol":
                out.append(OptEol())
            elif name == "mss":
                value = self.number("'mss' value")
                if not 0 <= value <= 0xFFFF:
                    raise self.error(f"mss {value} out of range", name_pos)
                out.append(OptMss(value))
            elif name == "wscale":
                value = self.number("'wscale' value")
                if not 0 <= value <= 255:
                    raise self.error(f"wscale {value} out of range", name_pos)
                out.append(OptWscale(value))
            elif name == "sackOK":
                out.append(OptSackOK())
            elif name == "sack":
                blocks: list[tuple[int, int]] = []
                while True:
                    m = re.compile(r"(\d+):(\d+)").match(self.text, self.pos)
                    if not m:
                        break
                    blocks.append((int(m.group(1)), int(m.group(2))))
                    self.pos = m.end()
                    self.skip_ws(newlines=False)
                if not 1 <= len(blocks) <= 4:
                    raise self.error("expected 1 to 4 'left:right' blocks after 'sack'", name_pos)
                out.append(OptSack(tuple(blocks)))
            elif name == "TS":
                if not self.keyword_ahead("val"):
                    raise self.error(f"expected 'val' after 'TS', found {self.found()}")
                self.pos += 3
                self.skip_ws(newlines=False)
                val = self.number("'val' value")
                self.skip_ws(newlines=False)
                if not self.keyword_ahead("ecr"):
                    raise self.error(f"expected 'ecr' after 'TS val N', found {self.found()}")
                self.pos += 3
                self.skip_ws(newlines=False)
                ecr = self.number("'ecr' value")
                out.append(OptTimestamp(val & 0xFFFFFFFF, ecr & 0xFFFFFFFF))
            else:
                # md5, FO, ECN, exp, ...: kept as text up to ',' or '>'
                m = re.compile(r"[^,>\n]*").match(self.text, self.pos)
                text = m.group(0).strip() if m else ""
                self.pos = m.end() if m else self.pos
                out.append(OptOther(name, text, _OTHER_OPTION_LENGTH.get(name, 0)))
            self.skip_ws()
            if self.eat(">"):
                break
            self.expect(",", "',' or '>' in the option list")
        if not any(isinstance(o, OptOther) and not o.length for o in out):
            total = sum(option_length(o) for o in out)
            if total % 4:
                raise self.error(f"the options take {total} bytes, not a multiple of 4 (pad with nop)", list_pos)
            if total > 40:
                raise self.error(f"the options take {total} bytes, more than 40", list_pos)
        return tuple(out)


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
        if t.kind == "range" and not t.relative and t.end_usecs is not None and t.end_usecs < t.usecs:
            raise DrillSyntaxError(script.path, ev.line, ev.column, "empty time range")


def parse_file(path: str, defines: dict[str, str | None] | None = None) -> Script:
    with open(path, encoding="utf-8") as f:
        return parse_script(f.read(), path, defines)

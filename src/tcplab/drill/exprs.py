"""System-call lines: ``name(arg, ...) = result [ERRNO] [(note)]`` and the argument expressions
(integers, names, ``A|B``, ``[n]``, structs such as ``{msg_iov(1)=[{..., 10}], msg_flags=0}``,
``"strings"``, helpers such as ``htons(8080)``)."""

from __future__ import annotations

import re

from tcplab.drill.ast import Array, BitOr, Call, Ellipsis_, Expr, Int, String, Struct, Symbol, Syscall
from tcplab.drill.scanner import Scanner

_ERRNO = re.compile(r"E[A-Z0-9]+\b")
_FLOAT = re.compile(r"-?\d*\.\d+")


class ExprParser(Scanner):
    def syscall(self, name: str, name_pos: int) -> Syscall:
        self.skip_ws()
        self.expect("(", f"'(' after system call name '{name}'")
        args = self.expr_list(")", "')'")
        self.skip_ws(newlines=False)
        self.expect("=", f"'= result' after {name}(...)")
        self.skip_ws(newlines=False)
        result = self.expr()
        errno = note = None
        self.skip_ws(newlines=False)
        m = self.match(_ERRNO)
        if m:
            errno = m.group(0)
            self.skip_ws(newlines=False)
        if self.at("("):
            note = self.enclosed("(", ")", "the note after the result")
        return Syscall(name, tuple(args), result, errno, note, self.where(name_pos)[1])

    def expr_list(self, closing: str, what: str) -> list[Expr]:
        """Expressions separated by ',' up to ``closing`` (eaten)."""
        items: list[Expr] = []
        self.skip_ws()
        if self.eat(closing):
            return items
        while True:
            self.skip_ws()
            items.append(self.expr())
            self.skip_ws()
            if self.eat(closing):
                return items
            self.expect(",", f"',' or {what}")

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
            return Array(tuple(self.expr_list("]", "']'")))
        if self.at("{"):
            return self.struct()
        if self.at('"'):
            return self.strings()
        if self.match(_FLOAT):
            raise self.error("a fraction is not a value here", self.pos - 1)
        m = self.match(re.compile(r"-?(0[xX][0-9a-fA-F]+|\d+)"))
        if m:
            return Int(int(m.group(0), 0))
        start = self.pos
        name = self.ident()
        if name is None:
            raise self.error(f"expected a value, found {self.found()}")
        if self.at("("):
            self.pos += 1
            return Call(name, tuple(self.expr_list(")", "')'")))
        line, col = self.where(start)
        return Symbol(name, line, col)

    def strings(self) -> String:
        """``"a"``, ``"a" "b"`` (joined), ``"a"...`` (a prefix)."""
        value = self.string()
        while True:
            save = self.pos
            self.skip_ws(newlines=False)
            if not self.at('"'):
                self.pos = save
                break
            value += self.string()
        more = self.eat("...")
        return String(value, more)

    def struct(self) -> Struct:
        self.expect("{")
        fields: list[tuple[str, Expr]] = []
        sizes: list[tuple[str, Expr]] = []
        self.skip_ws()
        if self.eat("}"):
            return Struct(())
        while True:
            self.skip_ws()
            save = self.pos
            name = self.ident()
            size: Expr | None = None
            if name is not None and self.at("("):  # msg_iov(1)=..., msg_name(...)=...
                self.pos += 1
                args = self.expr_list(")", "')'")
                size = args[0] if len(args) == 1 else None
            self.skip_ws()
            if name is not None and self.at("=") and not self.at("=="):
                self.pos += 1
                self.skip_ws()
                fields.append((name, self.expr()))
                if size is not None:
                    sizes.append((name, size))
            else:
                self.pos = save
                fields.append((str(len(fields)), self.expr()))
            self.skip_ws()
            if self.eat("}"):
                return Struct(tuple(fields), tuple(sizes))
            self.expect(",", "',' or '}'")

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

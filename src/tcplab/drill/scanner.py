"""What the parser stands on: the syntax error, ``#ifdef``/``-D`` preprocessing, and a scanner
over the script's text that knows line and column of every position."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable


class DrillSyntaxError(ValueError):
    """A script that does not parse (or names what no packetdrill knows); ``str()`` is
    ``path:line:column: message``."""

    def __init__(self, path: str, line: int, column: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {message}")
        self.path = path
        self.line = line
        self.column = column
        self.message = message


_DIRECTIVE = re.compile(r"^\s*#\s*(ifdef|ifndef|else|endif)\b\s*(\S*)")
_NUMBER = re.compile(r"-?(0[xX][0-9a-fA-F]+|\d+)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_WORD_END = re.compile(r"[A-Za-z0-9_]")


def _literally(value: str) -> Callable[[re.Match[str]], str]:
    """A re.sub replacement that inserts ``value`` as it is (no backslash escapes)."""
    return lambda _m: value


def preprocess(text: str, path: str, defines: dict[str, str | None]) -> str:
    """Resolve ``#ifdef`` blocks (dropped lines become empty, so line numbers stay right) and
    replace every ``-D NAME=value`` word by its value."""
    out: list[str] = []
    stack: list[tuple[bool, int]] = []  # (keeping this branch, line of the #if)
    for number, line in enumerate(text.split("\n"), 1):
        m = _DIRECTIVE.match(line)
        if m:
            word, name = m.group(1), m.group(2)
            if word in ("ifdef", "ifndef"):
                if not name:
                    raise DrillSyntaxError(path, number, m.start(2) + 1, f"#{word} needs a name")
                stack.append(((name in defines) == (word == "ifdef"), number))
            elif not stack:
                raise DrillSyntaxError(path, number, 1, f"#{word} without #ifdef")
            elif word == "else":
                keep, start = stack.pop()
                stack.append((not keep, start))
            else:
                stack.pop()
            out.append("")
        elif all(keep for keep, _ in stack):
            out.append(line)
        else:
            out.append("")
    if stack:
        raise DrillSyntaxError(path, stack[-1][1], 1, "#ifdef without #endif")
    text = "\n".join(out)
    for name, value in defines.items():
        if value is not None:
            text = re.sub(r"(?<![\w$])" + re.escape(name) + r"(?![\w])", _literally(value), text)
    return text


class Scanner:
    """A position in the text, with the small moves every parsing step makes."""

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

    # -- moves --------------------------------------------------------------------------------
    def skip_ws(self, newlines: bool = True) -> None:
        """Skip blanks and comments (and newlines, unless told not to)."""
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

    def match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
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
        end = self.pos + len(word)
        return self.at(word) and not (end < self.n and _WORD_END.match(self.text[end]))

    def eat_keyword(self, word: str) -> bool:
        if self.keyword_ahead(word):
            self.pos += len(word)
            return True
        return False

    def enclosed(self, opening: str, closing: str, what: str) -> str:
        """The text up to the matching ``closing`` on the same line (nesting counted)."""
        start = self.pos
        self.expect(opening)
        depth, i = 1, self.pos
        while i < self.n and depth:
            c = self.text[i]
            if c == opening:
                depth += 1
            elif c == closing:
                depth -= 1
            elif c == "\n":
                break
            i += 1
        if depth:
            raise self.error(f"unbalanced '{opening}' in {what} (expected '{closing}' on the same line)", start)
        inner = self.text[self.pos : i - 1]
        self.pos = i
        return inner.strip()

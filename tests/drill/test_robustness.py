"""Bad input never escapes as anything but DrillSyntaxError (parser) or an Outcome (runner)."""

from __future__ import annotations

import pathlib
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.drill import DrillSyntaxError, parse_script, run_script

HERE = pathlib.Path(__file__).parent
CORPUS = sorted((HERE / "scripts").rglob("*.pkt"))
ALPHABET = "0123456789+.*~<>()[]{}:,=|`%/ \n\t-_SFPR.abcdefghijklmnopqrstuvwxyzACKEOLTW\"'#"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=200))
def test_parser_raises_only_syntax_errors(text):
    try:
        parse_script(text, "fuzz.pkt")
    except DrillSyntaxError as exc:
        assert str(exc).startswith("fuzz.pkt:")
        assert exc.line >= 1 and exc.column >= 1


def _mutations(text: str, rng: random.Random, count: int) -> list[str]:
    out = []
    words = text.split(" ")
    for _ in range(count):
        w = list(words)
        i = rng.randrange(len(w))
        w[i] = rng.choice(
            [
                "0",
                "99999",
                "-1",
                "S",
                "R.",
                "...",
                "ack",
                "[1]",
                "{x=1}",
                "4",
                "",
                "4294967295",
                "+1",
                "<nop>",
                "win",
                "F.",
            ]
        )
        out.append(" ".join(w))
    return out


def test_mutated_corpus_scripts_end_in_an_outcome():
    rng = random.Random(6)
    statuses = set()
    for path in CORPUS[::4]:
        for text in _mutations(path.read_text(), rng, 4):
            try:
                script = parse_script(text, path.name)
            except DrillSyntaxError:
                continue
            outcome = run_script(script)
            assert outcome.status in ("PASS", "FAIL", "SKIP", "ERROR")
            assert "drill interpreter error" not in outcome.reason, (path, outcome.reason, text)
            statuses.add(outcome.status)
    assert "FAIL" in statuses

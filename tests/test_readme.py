"""The README's two set-up commands stay true: CI runs exactly the second one."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S)
    return [blocks[0].strip(), blocks[1].strip()]


def test_first_command_installs_and_runs_the_demo():
    first, _ = _commands()
    assert first.startswith("pip install") and "tcplab demo" in first


def test_ci_runs_exactly_the_readme_test_command():
    _, second = _commands()
    assert "pytest" in second
    ci = (ROOT / ".ci" / "run").read_text()
    assert second in ci.splitlines(), f"{second!r} is not a line of .ci/run"

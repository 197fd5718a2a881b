"""The README stays true: its two set-up commands, the check CI runs, and its Python examples."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _commands() -> list[str]:
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", README, re.S)
    return [blocks[0].strip(), blocks[1].strip()]


def test_first_command_installs_and_runs_the_demo():
    first, _ = _commands()
    assert first.startswith("pip install") and "tcplab demo" in first


def test_second_command_installs_the_test_extras_and_runs_the_check():
    _, second = _commands()
    assert second == "pip install -e '.[test]' && bash .ci/check"


def test_ci_runs_exactly_the_readme_test_command():
    _, second = _commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert second in ci.splitlines(), f"{second!r} is not a line of .ci/run"


def test_the_check_lints_formats_types_then_tests():
    lines = [ln for ln in (ROOT / ".ci" / "check").read_text().splitlines() if ln and not ln.startswith("#")]
    assert "set -euo pipefail" in lines  # the first tool that fails stops it, with its status
    tools = [ln for ln in lines if ln.split()[0] in ("ruff", "mypy", "pytest")]
    assert tools == ["ruff check .", "ruff format --check .", "mypy", 'pytest -q "$@"']


def test_test_extras_have_every_tool_the_check_runs():
    pyproject = (ROOT / "pyproject.toml").read_text()
    extras = re.search(r"^test = \[(.*?)\]", pyproject, re.S | re.M)
    assert extras is not None
    names = set(re.findall(r'"([A-Za-z0-9_-]+)', extras.group(1)))
    assert {"pytest", "ruff", "mypy"} <= names


@pytest.mark.parametrize(
    ("name", "source", "says"),
    [
        ("lint", "import os\n", "F401"),
        ("format", "x = [1,2]\n", "would be reformatted"),
        ("types", 'x: int = "one"\n', "Incompatible types in assignment"),
    ],
)
def test_the_check_stops_at_a_lint_format_or_type_error(tmp_path, name, source, says):
    for tool in ("ruff", "mypy"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (pip install -e '.[test]')")
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / ".ci", copy / ".ci")
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    (copy / "tests").mkdir()
    (copy / "tests" / "test_would_run.py").write_text('def test_reached():\n    print("PYTEST RAN")\n')
    (copy / "src" / "tcplab" / f"_{name}_probe.py").write_text(source)
    res = subprocess.run(
        ["bash", str(copy / ".ci" / "check"), "-s"], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert says in out and f"_{name}_probe.py" in out, out
    assert "PYTEST RAN" not in out


def _python_examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("example", _python_examples(), ids=lambda e: e.splitlines()[0])
def test_readme_python_examples_run(tmp_path, example):
    res = subprocess.run(
        [sys.executable, "-c", example],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert res.returncode == 0, res.stderr

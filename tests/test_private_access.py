"""Layering honesty: no module of src/tcplab reaches into another module's private names.

A private name is one with a leading underscore (not a dunder). Inside the module that defines
it anything goes (``other._ep`` between two sockets of one class); elsewhere, ``obj._name`` where
``obj`` is not ``self``/``cls``/``super()``, and ``from tcplab.x import _name``, are violations:
adapters drive the engine, the host and the sockets through their public API. A name counts as
defined in a module when the module assigns it (``self._x = ...``, ``obj._x = ...``), declares
it in a class body (fields, ``__slots__``, methods) or defines it at module level."""

from __future__ import annotations

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "tcplab"
# Private names of the standard library that tcplab may use.
STDLIB = {
    "_exit",
    "_getframe",
    "_asdict",
    "_replace",
    "_fields",
    "_make",
    "_value2member_map_",
    "_GLOBAL_DEFAULT_TIMEOUT",  # socket's "no timeout given" marker (create_connection's default)
}
# Known debts, each to be paid by the work named beside it (not a place for new entries).
KNOWN = {
    # the graphs/lab work in trace/ owns svg_ladder's element helper and will make it public
    "tcplab/trace/diagram.py: from tcplab.trace.svg_ladder import _el",
}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name)
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__slots__" for t in node.targets):
            for elt in ast.walk(node.value):
                if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                    names.add(elt.value)
    return names


def _own_reference(value: ast.expr) -> bool:
    if isinstance(value, ast.Name):
        return value.id in ("self", "cls")
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super"


def _violations(path: pathlib.Path, name: str) -> list[str]:
    tree = ast.parse(path.read_text())
    defined = _defined(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) and not _own_reference(node.value):
            if node.attr not in defined and node.attr not in STDLIB:
                found.append(f"{name}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tcplab"):
            found += [
                f"{name}:{node.lineno}: from {node.module} import {a.name}"
                for a in node.names
                if _private(a.name) and f"{name}: from {node.module} import {a.name}" not in KNOWN
            ]
    return found


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_private_access_across_modules(path: pathlib.Path):
    assert not _violations(path, str(path.relative_to(SRC.parent)))


def test_the_check_catches_a_reach_into_another_module(tmp_path: pathlib.Path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from tcplab.host.host import _TW\n"
        "class Mine:\n    def __init__(self):\n        self._own = 1\n"
        "def f(sock, other):\n    return sock._ep, sock.connection, other._own, super()._x\n"
    )
    assert _violations(probe, "probe.py") == ["probe.py:1: from tcplab.host.host import _TW", "probe.py:6: ._ep"]

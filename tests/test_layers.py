"""The layers of docs/architecture.md, read from the source: every ``import`` of a tcplab module
(module level or inside a function) is an edge; the graph has no cycle, and the lower layers
import only what lies beneath them."""

from __future__ import annotations

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "tcplab"


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _owner(name: str) -> str:
    """The module ``name`` lives in (``tcplab.host.Host`` -> ``tcplab.host``)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(_owner(a.name) for a in node.names if a.name.startswith("tcplab"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            if base.startswith("tcplab"):
                found.update(_owner(f"{base}.{a.name}") for a in node.names)
    found.discard(module)
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def _layer(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_module_imports_itself_back():
    assert _cycle(GRAPH) is None, " -> ".join(_cycle(GRAPH) or [])


def test_no_layer_imports_itself_back():
    layers: dict[str, set[str]] = {}
    for module, deps in GRAPH.items():
        layers.setdefault(_layer(module), set()).update(_layer(d) for d in deps if _layer(d) != _layer(module))
    assert _cycle(layers) is None, " -> ".join(_cycle(layers) or [])


# What each lower layer may import besides itself (docs/architecture.md, "Layers").
ALLOWED = {
    "tcplab.wire": set(),
    "tcplab.tcp": {"tcplab.wire"},
    # The host: the engine, the wire formats, the event log, and the Runtime protocol (its own).
    "tcplab.host": {"tcplab.tcp", "tcplab.wire", "tcplab.trace.events"},
    "tcplab.socket": {"tcplab.host", "tcplab.tcp", "tcplab.wire"},
}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_lower_layers_import_only_what_lies_beneath(layer: str):
    allowed = ALLOWED[layer]
    bad = {
        f"{module} imports {dep}"
        for module, deps in GRAPH.items()
        if _layer(module) == layer
        for dep in deps
        if _layer(dep) != layer and dep not in allowed and _layer(dep) not in allowed
    }
    assert not bad, sorted(bad)

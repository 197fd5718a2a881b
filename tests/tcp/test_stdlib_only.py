"""The engine and the wire formats use the standard library only (DESIGN: layers)."""

import json
import subprocess
import sys

PROBE = """
import json, sys
before = set(sys.modules)
import tcplab.tcp, tcplab.wire  # noqa: E401
loaded = {m.split('.')[0] for m in set(sys.modules) - before}
print(json.dumps(sorted(loaded)))
"""


def test_tcp_and_wire_import_only_the_standard_library():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    foreign = {m for m in loaded if m not in sys.stdlib_module_names and m != "tcplab" and not m.startswith("_")}
    assert not foreign, f"tcplab.tcp / tcplab.wire pulled in {sorted(foreign)}"
    assert "tcplab" in loaded


def test_engine_modules_do_not_import_other_tcplab_layers():
    probe = PROBE.replace(
        "print(json.dumps(sorted(loaded)))",
        "print(json.dumps(sorted(m for m in set(sys.modules) - before if m.startswith('tcplab'))))",
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    layers = {m.split(".")[1] for m in json.loads(out.stdout) if m.count(".") >= 1}
    assert layers <= {"tcp", "wire"}, layers

"""The packetdrill-language interpreter: run ``.pkt`` scripts against tcplab.

``parse_script(text, path, defines) -> Script`` (typed tree in :mod:`tcplab.drill.ast`, errors as
:class:`DrillSyntaxError` naming ``file:line:column``); ``run_script(script, profile=...,
compare=...) -> Outcome`` runs it on a fresh tcplab host on a virtual clock; ``run_file(path,
...)`` does both, and checks that every name the script uses is one a packetdrill knows (a
broken script is an ERROR outcome, never a SKIP). The runner's structure: :mod:`tcplab.drill.runner`.
"""

from __future__ import annotations

from collections.abc import Callable

from tcplab.drill.check import check_script
from tcplab.drill.matcher import COMPARISONS
from tcplab.drill.outcome import Outcome
from tcplab.drill.parser import parse_file, parse_script
from tcplab.drill.profiles import PROFILES
from tcplab.drill.runner import run_script
from tcplab.drill.scanner import DrillSyntaxError
from tcplab.drill.sysctl import apply_sysctl
from tcplab.drill.text import describe


def run_file(
    path: str,
    profile: str = "linux",
    defines: dict[str, str | None] | None = None,
    tolerance_usecs: int | None = None,
    strict_segments: bool | None = None,
    compare: str = "strict",
    mss: int | None = None,
    mtu: int | None = None,
    echo: Callable[[str], None] | None = None,
) -> Outcome:
    """Parse, check and run one script file. A script that does not parse, or names what no
    packetdrill knows, is an ERROR outcome naming the place."""
    try:
        script = parse_file(path, defines)
        extra = script.options.get("define")
        if extra:  # --define=NAME=VALUE in the script's header
            name, _, value = extra.partition("=")
            script = parse_file(path, {**(defines or {}), name: value or None})
        check_script(script)
    except DrillSyntaxError as exc:
        return Outcome(path, "ERROR", exc.message, line=exc.line, column=exc.column)
    except OSError as exc:
        return Outcome(path, "ERROR", f"cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        return Outcome(path, "ERROR", f"cannot read: not UTF-8 text ({exc.reason})")
    return run_script(script, profile, compare, tolerance_usecs, strict_segments, mss=mss, mtu=mtu, echo=echo)


__all__ = [
    "COMPARISONS",
    "PROFILES",
    "DrillSyntaxError",
    "Outcome",
    "apply_sysctl",
    "check_script",
    "describe",
    "parse_file",
    "parse_script",
    "run_file",
    "run_script",
]

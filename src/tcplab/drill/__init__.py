"""The packetdrill-language interpreter: run ``.pkt`` scripts against tcplab.

``parse_script(text, path, defines) -> Script`` (typed tree in :mod:`tcplab.drill.ast`, errors as
:class:`DrillSyntaxError` naming ``file:line:column``); ``run_script(script, profile=...) ->
Outcome`` runs it on a fresh tcplab host on a virtual clock; ``run_file(path, ...)`` does both.
"""

from tcplab.drill.parser import DrillSyntaxError, parse_file, parse_script
from tcplab.drill.runner import PROFILES, Outcome, apply_sysctl, describe, run_script


def run_file(
    path: str,
    profile: str = "strict",
    defines: dict[str, str | None] | None = None,
    tolerance_usecs: int | None = None,
    strict_segments: bool | None = None,
) -> Outcome:
    """Parse and run one script file; a syntax error is a FAIL naming the place."""
    try:
        script = parse_file(path, defines)
    except DrillSyntaxError as exc:
        return Outcome(path, "FAIL", f"syntax error: {exc}", line=exc.line)
    except OSError as exc:
        return Outcome(path, "FAIL", f"cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        return Outcome(path, "FAIL", f"cannot read: not UTF-8 text ({exc.reason})")
    return run_script(script, profile, tolerance_usecs, strict_segments)


__all__ = [
    "PROFILES",
    "DrillSyntaxError",
    "Outcome",
    "apply_sysctl",
    "describe",
    "parse_file",
    "parse_script",
    "run_file",
    "run_script",
]

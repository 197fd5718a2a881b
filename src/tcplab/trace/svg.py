"""The SVG primitives the pictures share: escaping, one element, an arrowhead marker, fonts.

Only presentation attributes are used (no CSS, no scripts, no external resources), so the
pictures render the same in browsers, in ``rsvg-convert`` and inline in an HTML page.
"""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape

__all__ = [
    "FONT_MONO",
    "FONT_SANS",
    "MONO_ADVANCE",
    "SANS_ADVANCE",
    "arrow_marker",
    "element",
    "svg_attr",
    "svg_text",
    "xml_safe",
]

FONT_SANS = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"
FONT_MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"

# Per-character advance of the fonts at size 1 (DejaVu; close enough for the others).
MONO_ADVANCE = 0.602
SANS_ADVANCE = 0.62

# Characters XML 1.0 does not allow (C0 controls but tab/newline/CR, surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: Any) -> str:
    """``str(value)`` with characters XML cannot carry replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", str(value))


def svg_attr(value: Any) -> str:
    """An attribute value, escaped for use inside double quotes."""
    return escape(xml_safe(value), {'"': "&quot;"})


def svg_text(value: Any) -> str:
    return escape(xml_safe(value))


def element(tag: str, content: str | None = None, **attrs: Any) -> str:
    """``<tag a="..">content</tag>``: attribute names with ``_`` become ``-`` (a trailing ``_``
    is dropped: ``class_``), None values are left out, floats get at most one decimal."""
    parts = []
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        if isinstance(value, float):
            value = f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else int(value)
        parts.append(f'{name}="{svg_attr(value)}"')
    opening = f"<{tag} {' '.join(parts)}" if parts else f"<{tag}"
    if content is None:
        return opening + "/>"
    return f"{opening}>{content}</{tag}>"


def arrow_marker(marker_id: str, color: str, size: int) -> str:
    """A filled arrowhead ``size`` units wide, for ``marker-end="url(#marker_id)"``."""
    return (
        f'<marker id="{marker_id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="{size}" '
        f'markerHeight="{size}" orient="auto-start-reverse" markerUnits="userSpaceOnUse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
    )

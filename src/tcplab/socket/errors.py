"""``oserror(code)``: the ``OSError`` Linux's errno gives (Python picks the subclass:
ConnectionResetError, BrokenPipeError, ...)."""

from __future__ import annotations

import os


def oserror(code: int, text: str | None = None) -> OSError:
    return OSError(code, text or os.strerror(code))

"""Keep freed memory in the process: a lever for moving 64 KB packets in Python.

A TUN link with offloads moves packets of up to 64 KB, and every one is a fresh ``bytes`` object
that Python frees soon after. glibc's malloc gives memory at the top of its heap back to the
kernel once more than ``M_TRIM_THRESHOLD`` is free (128 KB to start with) and serves large
blocks with their own ``mmap``; the next packet then faults its pages in again, one by one, which
costs more than copying them. :func:`keep_freed_memory` raises both thresholds, so freed packets
are reused from the heap. Measured on the engine benchmark's 64 KB segments: about 1.6 times the
throughput (README, "Performance"). The process's memory then shrinks only as far as 32 MB above
what it uses.

It changes the whole process, so the library never calls it by itself: ``tcplab serve`` and
``tcplab connect`` do, and so do the benchmarks; a program of one's own may.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
_KEEP = 32 * 1024 * 1024  # the largest M_MMAP_THRESHOLD glibc accepts on 64-bit (HEAP_MAX / 2)


def keep_freed_memory(limit: int = _KEEP) -> bool:
    """Have glibc keep up to ``limit`` bytes of freed memory (and serve blocks below it from
    the heap). False where that cannot be done (not Linux, not glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_TRIM_THRESHOLD, limit)) and bool(mallopt(M_MMAP_THRESHOLD, limit))

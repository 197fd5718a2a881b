"""``tcplab watch``: every state change of the Linux kernel's own TCP sockets, live.

- ``KernelWatcher``: a context manager yielding the kernel's state changes as tcplab state
  events (tracepoint ``sock:inet_sock_set_state`` in a private tracefs instance, paired with
  sock_diag for TIME_WAIT; falls back to polling sock_diag without root or tracefs).
- ``snapshot()`` / ``format_table()``: the socket table over netlink, like ``ss -tan``.
- ``parse_trace_line()``: one ``trace_pipe`` line as a ``KernelStateChange``.
"""

from tcplab.watch.diag import DiagError, SockDiag, SockEntry, format_table, snapshot
from tcplab.watch.mapping import rfc_transition, transitions_of
from tcplab.watch.tracefs import TraceInstance, WatchUnavailable
from tcplab.watch.traceline import (
    KERNEL_STATE,
    KernelStateChange,
    TraceLineError,
    parse_trace_line,
)
from tcplab.watch.watcher import KernelWatcher, WatchError, sequence

__all__ = [
    "KERNEL_STATE",
    "DiagError",
    "KernelStateChange",
    "KernelWatcher",
    "SockDiag",
    "SockEntry",
    "TraceInstance",
    "TraceLineError",
    "WatchError",
    "WatchUnavailable",
    "format_table",
    "parse_trace_line",
    "rfc_transition",
    "sequence",
    "snapshot",
    "transitions_of",
]

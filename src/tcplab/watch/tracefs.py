"""A private tracefs instance with the tracepoint ``sock:inet_sock_set_state`` enabled.

Each watcher makes its own instance (``instances/tcplab-<pid>-<n>``), so several watchers and
other users of tracing never disturb each other, and removes it (rmdir) when closed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import itertools
import os
import select
import time

TRACEFS = "/sys/kernel/tracing"
EVENT = "events/sock/inet_sock_set_state"
_counter = itertools.count()


class WatchUnavailable(Exception):
    """The tracepoint cannot be used here; the message is one line saying what is missing."""


def _mount_tracefs(root: str) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.mount(b"nodev", root.encode(), b"tracefs", 0, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def find_tracefs(root: str | None = None, mount: bool = True) -> str:
    """The tracefs directory (mounted on demand); raises WatchUnavailable if there is none."""
    if root is not None:
        if not os.path.isdir(os.path.join(root, "instances")):
            raise WatchUnavailable(f"no tracefs at {root} (no instances/ directory)")
        return root
    if os.path.isdir(os.path.join(TRACEFS, "instances")):
        return TRACEFS
    if os.path.isdir(TRACEFS) and not os.access(TRACEFS, os.R_OK | os.X_OK):
        raise WatchUnavailable(f"no permission to use tracefs at {TRACEFS} (needs root)")
    if os.geteuid() != 0:
        raise WatchUnavailable("tracefs is not mounted and mounting it needs root")
    if not mount:
        raise WatchUnavailable(f"tracefs is not mounted at {TRACEFS}")
    try:
        _mount_tracefs(TRACEFS)
    except OSError as exc:
        raise WatchUnavailable(f"cannot mount tracefs at {TRACEFS}: {exc.strerror}") from None
    if not os.path.isdir(os.path.join(TRACEFS, "instances")):
        raise WatchUnavailable(f"tracefs mounted at {TRACEFS} has no instances/ directory")
    return TRACEFS


def filter_expression(port: int | None = None) -> str:
    """The kernel filter: TCP only, and the port on either side when given."""
    expr = "protocol == 6"
    if port is not None:
        expr += f" && (sport == {int(port)} || dport == {int(port)})"
    return expr


class TraceInstance:
    """``instances/tcplab-<pid>-<n>`` with the tracepoint on; ``read_lines`` reads trace_pipe."""

    def __init__(self, port: int | None = None, root: str | None = None) -> None:
        self.port = port
        self.root = root
        self.path: str | None = None
        self._fd: int | None = None
        self._partial = b""

    def _write(self, rel: str, text: str) -> None:
        assert self.path is not None
        with open(os.path.join(self.path, rel), "w") as f:
            f.write(text)

    def open(self) -> None:
        root = find_tracefs(self.root)
        if not os.path.isdir(os.path.join(root, EVENT)):
            raise WatchUnavailable(f"this kernel has no tracepoint sock:inet_sock_set_state ({root})")
        name = f"tcplab-{os.getpid()}-{next(_counter)}"
        path = os.path.join(root, "instances", name)
        # Known before mkdir: a Ctrl-C right after mkdir must still find it to remove it.
        self.path = path
        try:
            os.mkdir(path)
        except PermissionError:
            self.path = None
            raise WatchUnavailable(f"cannot create a tracefs instance in {root}/instances: needs root") from None
        except OSError as exc:
            self.path = None
            raise WatchUnavailable(f"cannot create tracefs instance {path}: {exc.strerror}") from None
        try:
            self._write("trace_clock", "mono")  # the clock of time.monotonic()
            self._write("buffer_size_kb", "4096")  # per CPU: ~50000 events
            if os.path.exists(os.path.join(path, "buffer_percent")):
                self._write("buffer_percent", "0")  # wake readers on every event
            self._write(f"{EVENT}/filter", filter_expression(self.port))
            self._write(f"{EVENT}/enable", "1")
            self._fd = os.open(os.path.join(path, "trace_pipe"), os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            self.close()
            raise WatchUnavailable(f"cannot set up tracefs instance {path}: {exc}") from None

    def read_lines(self, timeout: float) -> list[str]:
        """Complete lines available within ``timeout`` seconds (at least one wait, no busy loop)."""
        if self._fd is None:
            return []
        ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout))
        if not ready:
            return []
        chunks = [self._partial]
        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EINTR):
                    break
                raise
            if not data:
                break
            chunks.append(data)
        buf = b"".join(chunks)
        *lines, self._partial = buf.split(b"\n")
        return [line.decode("utf-8", "replace") for line in lines]

    def close(self) -> None:
        """Disable the event and remove the instance; safe to call twice."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.path is None:
            return
        path, self.path = self.path, None
        try:
            with open(os.path.join(path, EVENT, "enable"), "w") as f:
                f.write("0")
        except OSError:
            pass
        for _ in range(50):
            try:
                os.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                time.sleep(0.02)
        os.rmdir(path)

    def __enter__(self) -> TraceInstance:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

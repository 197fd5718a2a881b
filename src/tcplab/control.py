"""The control socket of a running tcplab stack (``tcplab serve`` / ``tcplab connect``).

A running stack listens on a UNIX-domain stream socket, mode 0600, in a per-user runtime
directory (``$XDG_RUNTIME_DIR/tcplab/<stack>.sock``; as root without XDG_RUNTIME_DIR
``/run/tcplab/<stack>.sock``; otherwise ``/tmp/tcplab-<uid>/<stack>.sock``). The protocol is
JSON Lines: the client sends one request line, the server answers.

- ``{"cmd": "snapshot"}`` -> one line, ``tcplab.netstat.snapshot(host)``, then the server closes.
- ``{"cmd": "watch"}`` -> ``{"type": "snapshot", "snapshot": {...}}`` first, then one line per
  event of the host's event log as it happens (``{"type": "event", "event": {...}}``; state
  changes, outcomes, notes in the JSON Lines trace format), until the client goes away or the
  stack stops (a final ``{"type": "end"}``).

Client side, for ``tcplab netstat``::

    from tcplab import control
    snap = control.query("tlab0")             # dict: host, time, addresses, rows, counters, ...
    for message in control.watch("tlab0"):    # dicts as above, the snapshot first
        ...
    control.list_stacks()                     # names of the stacks with a socket here
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
from collections.abc import Iterator
from typing import Any

__all__ = ["ControlError", "ControlServer", "list_stacks", "query", "runtime_dir", "socket_path", "watch"]

_MAX_REQUEST = 4096
_MAX_BACKLOG = 4 << 20  # bytes queued for a slow watcher before it is dropped


class ControlError(OSError):
    """The control socket could not be reached or answered nonsense (one-line message)."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def runtime_dir() -> str:
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base:
        return os.path.join(base, "tcplab")
    if os.geteuid() == 0:
        return "/run/tcplab"
    return f"/tmp/tcplab-{os.geteuid()}"


def socket_path(stack: str) -> str:
    if not stack or "/" in stack or stack.startswith("."):
        raise ControlError(errno.EINVAL, f"bad stack name {stack!r}")
    return os.path.join(runtime_dir(), f"{stack}.sock")


def list_stacks() -> list[str]:
    """The stacks running now (sockets left by a stack that was killed are skipped)."""
    directory = runtime_dir()
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, PermissionError):
        return []
    return sorted(n[:-5] for n in names if n.endswith(".sock") and _alive(os.path.join(directory, n)))


def _snapshot(host: Any) -> dict[str, Any]:
    from tcplab.netstat import snapshot

    return snapshot(host)


class _Client:
    __slots__ = ("inbuf", "outbuf", "sock", "watching")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = b""
        self.outbuf = bytearray()
        self.watching = False


class ControlServer:
    """Serves a host's snapshot and events on the stack's control socket, inside a TUN runtime's
    loop (``runtime.add_reader``; single-threaded, never blocks the loop)."""

    def __init__(self, host: Any, stack: str, runtime: Any) -> None:
        self.host = host
        self.stack = stack
        self.runtime = runtime
        self.path = socket_path(stack)
        self._clients: dict[int, _Client] = {}
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if os.path.exists(self.path):
            if _alive(self.path):
                raise ControlError(
                    errno.EADDRINUSE,
                    f"a tcplab stack named {stack!r} is already running ({self.path}): choose another name",
                )
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self.sock.bind(self.path)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        self.sock.listen(16)
        self.sock.setblocking(False)
        runtime.add_reader(self.sock, self._accept)
        # Subscribed to the host's events only while a client watches: a stack nobody watches
        # builds no events at all (Host: the log is not listening).
        self._subscribed = False

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sock.setblocking(False)
            client = _Client(sock)
            self._clients[sock.fileno()] = client
            self.runtime.add_reader(sock, lambda c=client: self._readable(c))

    def _readable(self, client: _Client) -> None:
        try:
            data = client.sock.recv(_MAX_REQUEST)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        if client.watching:
            return  # anything a watcher sends after its request is ignored
        client.inbuf += data
        if b"\n" not in client.inbuf:
            if len(client.inbuf) > _MAX_REQUEST:
                self._reply(client, {"type": "error", "error": "request too long"}, close=True)
            return
        line = client.inbuf.split(b"\n", 1)[0]
        try:
            request = json.loads(line)
            cmd = request.get("cmd") if isinstance(request, dict) else None
        except ValueError:
            cmd = None
        if cmd == "snapshot":
            self._reply(client, _snapshot(self.host), close=True)
        elif cmd == "watch":
            client.watching = True
            if not self._subscribed:
                self.host.log.subscribe(self._on_event)
                self._subscribed = True
            self._reply(client, {"type": "snapshot", "snapshot": _snapshot(self.host)})
        else:
            self._reply(client, {"type": "error", "error": "unknown request"}, close=True)

    def _reply(self, client: _Client, obj: dict[str, Any], close: bool = False) -> None:
        client.outbuf += json.dumps(obj, separators=(",", ":")).encode() + b"\n"
        self._push(client)
        if close:
            # Snapshots are small; finish the write blocking briefly rather than keep state.
            with contextlib.suppress(OSError):
                client.sock.setblocking(True)
                client.sock.settimeout(2.0)
                client.sock.sendall(client.outbuf)
            client.outbuf.clear()
            self._drop(client)

    def _push(self, client: _Client) -> None:
        while client.outbuf:
            try:
                n = client.sock.send(client.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(client)
                return
            del client.outbuf[:n]
        if len(client.outbuf) > _MAX_BACKLOG:
            self._drop(client)

    def _on_event(self, event: dict[str, Any]) -> None:
        watchers = [c for c in self._clients.values() if c.watching]
        if not watchers:
            return
        line = json.dumps({"type": "event", "event": event}, separators=(",", ":"), default=str).encode() + b"\n"
        for client in watchers:
            client.outbuf += line
            self._push(client)

    def _drop(self, client: _Client) -> None:
        fileno = client.sock.fileno()
        if fileno >= 0:
            self.runtime.remove_reader(fileno)
            self._clients.pop(fileno, None)
        with contextlib.suppress(OSError):
            client.sock.close()
        if self._subscribed and not any(c.watching for c in self._clients.values()):
            self._unsubscribe()

    def _unsubscribe(self) -> None:
        self._subscribed = False
        with contextlib.suppress(ValueError):
            self.host.log.unsubscribe(self._on_event)

    def close(self) -> None:
        if self._subscribed:
            self._unsubscribe()
        for client in list(self._clients.values()):
            if client.watching:
                client.outbuf += b'{"type":"end"}\n'
                with contextlib.suppress(OSError):
                    client.sock.setblocking(True)
                    client.sock.settimeout(1.0)
                    client.sock.sendall(client.outbuf)
            self._drop(client)
        with contextlib.suppress(OSError):
            self.runtime.remove_reader(self.sock.fileno())
        self.sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def _alive(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(1.0)
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _connect(stack: str, timeout: float | None) -> socket.socket:
    path = socket_path(stack)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except FileNotFoundError:
        s.close()
        running = list_stacks()
        hint = (
            f" (running: {', '.join(running)})" if running else " (start one with 'tcplab serve' or 'tcplab connect')"
        )
        raise ControlError(errno.ENOENT, f"no running tcplab stack named {stack!r}{hint}") from None
    except PermissionError:
        s.close()
        raise ControlError(
            errno.EACCES, f"permission denied on {path}: run as the user that started the stack (sudo)"
        ) from None
    except ConnectionRefusedError:
        s.close()
        raise ControlError(
            errno.ECONNREFUSED, f"the tcplab stack {stack!r} is not running (stale socket {path})"
        ) from None
    except OSError as exc:
        s.close()
        raise ControlError(exc.errno or errno.EIO, f"cannot reach stack {stack!r}: {exc.strerror}") from None
    return s


def _lines(sock: socket.socket) -> Iterator[dict[str, Any]]:
    buf = b""
    while True:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            raise ControlError(errno.ETIMEDOUT, "the tcplab stack did not answer") from None
        if not data:
            if buf.strip():
                raise ControlError(errno.EPROTO, "the tcplab stack sent a truncated answer")
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                obj = json.loads(line)
            except ValueError:
                raise ControlError(errno.EPROTO, "the tcplab stack sent something that is not JSON") from None
            yield obj


def query(stack: str, timeout: float = 5.0) -> dict[str, Any]:
    """The running stack's ``tcplab.netstat.snapshot`` (rows, counters, ...)."""
    with _connect(stack, timeout) as s:
        s.sendall(b'{"cmd":"snapshot"}\n')
        for obj in _lines(s):
            if obj.get("type") == "error":
                raise ControlError(errno.EPROTO, f"the stack answered: {obj.get('error')}")
            return obj
    raise ControlError(errno.EPROTO, "the tcplab stack closed without answering")


def watch(stack: str) -> Iterator[dict[str, Any]]:
    """The snapshot, then each event as it happens: ``{"type": "snapshot"|"event"|"end", ...}``.
    Ends when the stack stops."""
    s = _connect(stack, 5.0)
    try:
        s.sendall(b'{"cmd":"watch"}\n')
        s.settimeout(None)
        for obj in _lines(s):
            yield obj
            if obj.get("type") == "end":
                return
    finally:
        s.close()

"""A lab session: two endpoints on the simulated network, driven by a list of actions.

A session is its ``Recipe``: an optional story (a ``tcplab demo`` scenario, its seed, and the
segment after which the user took over: ``at``) and the actions played since, in order. The
simulator is deterministic, so the recipe *is* the session: the same recipe always builds the
same world, packet for packet. That is how the page steps backwards (the recipe without its last
action) and how a shared URL replays (the recipe is the URL's query).

Actions (strings, as they appear in the URL):

- ``client.listen`` ``server.listen``: a listening socket on port ``PORT``;
- ``client.connect`` ``server.connect``: a connection to the other host's ``PORT``;
- ``HOST.send:N`` (N bytes), ``HOST.read``, ``HOST.shutdown`` (SHUT_WR), ``HOST.close``,
  ``HOST.abort`` (close with SO_LINGER 0: an RST) on the host's current connection (the newest
  one its application still holds);
- ``net.drop:A>B``, ``net.dup:A>B``, ``net.delay:A>B:MS``: the next segment from A to B is
  dropped, duplicated or held MS milliseconds;
- ``net.loss:P`` (percent, both ways), ``net.latency:MS`` (one-way delay, both ways);
- ``wait:S`` (let S seconds of virtual time pass), ``step`` (process the next event only).

The sockets are ``tcplab.socket`` sockets in non-blocking mode; an OSError an action meets (say
EPIPE after a close) is the action's outcome, shown to the user, not a failure of the session.
A recipe that cannot be read (an unknown action, story or host, a number out of range) raises
``RecipeError`` with one line saying what is wrong.
"""

from __future__ import annotations

import errno
import io
import os
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tcplab.scenarios.base import CLIENT_IP, SERVER_IP, SERVER_PORT
from tcplab.socket import SHUT_WR, SO_LINGER, SO_REUSEADDR, SOL_SOCKET, Socket, open_sockets

__all__ = ["HOSTS", "MAX_ACTIONS", "PORT", "Recipe", "RecipeError", "Session", "StoryPaused"]

HOSTS = ("client", "server")
MAX_ACTIONS = 2000
MAX_WAIT = 3600.0
MAX_BYTES = 16 << 20
_HOST_OPS = ("listen", "connect", "send", "read", "shutdown", "close", "abort")
_ACTION = re.compile(
    r"^(?:(?P<host>[a-z0-9_-]+)\.(?P<op>listen|connect|send|read|shutdown|close|abort)(?::(?P<n>\d{1,9}))?"
    r"|net\.(?P<rule>drop|dup|delay):(?P<src>[a-z0-9_-]+)>(?P<dst>[a-z0-9_-]+)(?::(?P<ms>\d{1,7}))?"
    r"|net\.(?P<knob>loss|latency):(?P<value>\d{1,5}(?:\.\d{1,3})?)"
    r"|wait:(?P<wait>\d{1,5}(?:\.\d{1,6})?)"
    r"|(?P<step>step))$"
)


PORT = SERVER_PORT  # the demo stories' port: a lab session continues them


class RecipeError(ValueError):
    """A recipe (URL query, request body) that cannot be played: the message says why."""


class StoryPaused(BaseException):
    """Raised through a story's script when the user takes over (BaseException: a story's
    ``except Exception`` must not swallow it)."""


@dataclass
class Recipe:
    story: str | None = None
    seed: int = 0
    at: int | None = None  # the story stops after its at-th segment (None: after its end)
    actions: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> Recipe:
        """From a URL's query (``story``, ``seed``, ``at``, ``a`` repeated) or a JSON body
        (``actions`` a list). Values are checked; RecipeError says what is wrong."""

        def one(name: str) -> Any:
            value = query.get(name)
            if isinstance(value, list):
                value = value[0] if value else None
            return value

        story = one("story") or None
        if story is not None:
            from tcplab.scenarios import SCENARIOS

            if not isinstance(story, str) or story not in SCENARIOS:
                raise RecipeError(f"unknown story {story!r} (the stories: {', '.join(SCENARIOS)})")
        seed = _int(one("seed"), "seed", 0, 2**31 - 1, default=0)
        at = _int(one("at"), "at", 0, 10**7, default=None)
        actions = query.get("actions", query.get("a", []))
        if isinstance(actions, str):
            actions = [actions]
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise RecipeError("actions must be a list of strings")
        if len(actions) > MAX_ACTIONS:
            raise RecipeError(f"too many actions ({len(actions)}; at most {MAX_ACTIONS})")
        for a in actions:
            parse_action(a)
        if at is not None and story is None:
            raise RecipeError("'at' needs a story")
        return cls(story, seed, at, list(actions))

    def query(self) -> str:
        """The URL query that replays this recipe."""
        params: list[tuple[str, Any]] = []
        if self.story:
            params += [("story", self.story), ("seed", self.seed)]
            if self.at is not None:
                params.append(("at", self.at))
        params += [("a", a) for a in self.actions]
        return urlencode(params)


def _int(value: Any, name: str, lo: int, hi: int, default: int | None) -> Any:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RecipeError(f"{name} must be a whole number, not {value!r}") from None
    if not lo <= number <= hi:
        raise RecipeError(f"{name} must be between {lo} and {hi}, not {number}")
    return number


def parse_action(text: str) -> dict[str, Any]:
    """One action as a dict (``kind`` and its fields); RecipeError if it is not one."""
    m = _ACTION.match(text) if isinstance(text, str) and len(text) <= 80 else None
    if m is None:
        raise RecipeError(f"not an action: {text!r} (e.g. client.connect, server.send:1000, net.drop:client>server, "
                          "wait:0.5)")  # fmt: skip
    g = m.groupdict()
    if g["op"]:
        if g["host"] not in HOSTS:
            raise RecipeError(f"no host {g['host']!r} (the hosts: {', '.join(HOSTS)})")
        if (g["op"] == "send") != (g["n"] is not None):
            raise RecipeError(f"{text!r}: send takes a byte count (HOST.send:N), the other calls none")
        n = int(g["n"]) if g["n"] else 0
        if g["op"] == "send" and not 0 < n <= MAX_BYTES:
            raise RecipeError(f"{text!r}: send between 1 and {MAX_BYTES} bytes")
        return {"kind": "call", "host": g["host"], "op": g["op"], "n": n}
    if g["rule"]:
        for host in (g["src"], g["dst"]):
            if host not in HOSTS:
                raise RecipeError(f"no host {host!r} (the hosts: {', '.join(HOSTS)})")
        if g["src"] == g["dst"]:
            raise RecipeError(f"{text!r}: a direction goes from one host to the other")
        if (g["rule"] == "delay") != (g["ms"] is not None):
            raise RecipeError(f"{text!r}: delay takes milliseconds (net.delay:A>B:MS), drop and dup none")
        ms = int(g["ms"]) if g["ms"] else 0
        if g["rule"] == "delay" and not 0 < ms <= 600_000:
            raise RecipeError(f"{text!r}: a delay between 1 and 600000 ms")
        return {"kind": "rule", "rule": g["rule"], "src": g["src"], "dst": g["dst"], "ms": ms}
    if g["knob"]:
        value = float(g["value"])
        if g["knob"] == "loss" and not 0 <= value <= 100:
            raise RecipeError(f"{text!r}: loss is a percentage, 0 to 100")
        if g["knob"] == "latency" and not 0 <= value <= 60_000:
            raise RecipeError(f"{text!r}: latency between 0 and 60000 ms")
        return {"kind": "knob", "knob": g["knob"], "value": value}
    if g["wait"]:
        seconds = float(g["wait"])
        if not 0 < seconds <= MAX_WAIT:
            raise RecipeError(f"{text!r}: wait between 0 and {MAX_WAIT:g} seconds")
        return {"kind": "wait", "seconds": seconds}
    return {"kind": "step"}


# ---- the world -------------------------------------------------------------------------------------


class Session:
    """The world a recipe builds: a ``Bench`` (two hosts, one link, one event log), the sockets
    the lab holds, and what the actions answered. Build with ``Session(recipe)``; extend with
    ``apply(action)``."""

    def __init__(self, recipe: Recipe) -> None:
        from tcplab.net.pcapng import PcapngWriter
        from tcplab.scenarios import SCENARIOS
        from tcplab.scenarios.base import Bench

        self.recipe = Recipe(recipe.story, recipe.seed, recipe.at, [])
        self.messages: list[dict[str, Any]] = []  # what the actions answered, with their time
        self.story_ended = recipe.story is None
        self._pcap = io.BytesIO()
        tap = PcapngWriter(self._pcap)
        if recipe.story is None:
            self.bench = Bench(seed=recipe.seed, tap=tap)
        else:
            scenario = SCENARIOS[recipe.story]
            self.bench = scenario.bench(seed=recipe.seed, tap=tap)
            self._play_story(scenario, recipe.at)
            self._accept_all()  # the story's listening sockets are the lab's now
        for action in recipe.actions:
            self.apply(action)

    # -- the story, up to where the user takes over --------------------------------------------
    def _play_story(self, scenario: Any, at: int | None) -> None:
        bench = self.bench
        seen = 0

        def count(event: dict[str, Any]) -> None:
            nonlocal seen
            if event["kind"] == "segment":
                seen += 1
                if at is not None and seen == at:
                    bench.net.interrupt(StoryPaused())

        if at == 0:
            bench.net.interrupt(StoryPaused())
        bench.log.subscribe(count)
        try:
            scenario.script(bench)
            self.story_ended = True
        except StoryPaused:
            self.story_ended = False
        except Exception as exc:  # a story that cannot finish (it was written for its own ending)
            self.story_ended = True
            self._say(None, f"the story stopped: {type(exc).__name__}: {exc}")
        finally:
            bench.log.unsubscribe(count)

    # -- actions -------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.bench.net.now

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.bench.log.events

    def apply(self, text: str) -> None:
        """Play one action (RecipeError if it is not one)."""
        action = parse_action(text)
        self.recipe.actions.append(text)
        kind = action["kind"]
        net = self.bench.net
        if kind == "call":
            self._call(action["host"], action["op"], action["n"])
            net.poll()
        elif kind == "rule":
            from tcplab.net.sim import Match, Rule

            name = {"drop": "drop", "dup": "duplicate", "delay": "delay"}[action["rule"]]
            net.add_rule(Rule(name, Match(src=action["src"], dst=action["dst"]), delay=action["ms"] / 1000))
            self._say(None, f"the next segment {action['src']} \u2192 {action['dst']} will be "
                            + {"drop": "dropped", "dup": "duplicated",
                               "delay": f"held {action['ms']} ms"}[action["rule"]])  # fmt: skip
        elif kind == "knob":
            if action["knob"] == "loss":
                self.bench.link.set(loss=action["value"] / 100)
            else:
                self.bench.link.set(delay=action["value"] / 1000)
        elif kind == "wait":
            net.run(until=net.now + action["seconds"])
        else:  # step: the next event only (a packet's arrival, a timer)
            steps = iter((False, True))
            net.run_until(lambda: next(steps, True), timeout=None)
        self._accept_all()

    def _say(self, host: str | None, text: str) -> None:
        self.messages.append({"t": round(self.now, 6), "host": host, "text": text})

    def _accept_all(self) -> None:
        """Every listening socket accepts what is ready (as a server loop would): the lab's own
        and, once the user took over, the story's."""
        for host in HOSTS:
            for lsock in open_sockets(self.bench.hosts[host]):
                if lsock.listener is None:
                    continue
                lsock.setblocking(False)
                while True:
                    try:
                        lsock.accept()
                    except OSError:  # EAGAIN: nothing (more) to accept
                        break

    def current(self, host: str) -> Any:
        """The socket the host's application holds for its newest connection (a story's own
        sockets too), or None."""
        held = [(s, s.endpoint) for s in open_sockets(self.bench.hosts[host]) if s.endpoint is not None]
        live = [s for s, ep in held if not ep.finished]
        if live:
            return live[-1]
        return held[-1][0] if held else None

    def _call(self, host: str, op: str, n: int) -> None:
        node = self.bench.hosts[host]
        ip = CLIENT_IP if host == "client" else SERVER_IP
        peer = SERVER_IP if host == "client" else CLIENT_IP
        try:
            if op == "listen":
                sock = Socket(node)
                sock.setblocking(False)
                sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
                sock.bind((ip, PORT))
                sock.listen(8)
                self._say(host, f"listening on port {PORT}")
                return
            if op == "connect":
                sock = Socket(node)
                sock.setblocking(False)
                err = sock.connect_ex((peer, PORT))
                self._say(host, f"connect() to {peer}:{PORT}: " + ("in progress" if err in (0, errno.EINPROGRESS) else
                                                                   _strerror(err)))  # fmt: skip
                return
            sock = self.current(host)
            if sock is None:
                pending = [ep for ep in node.conns.values() if not ep.finished]
                if pending:
                    self._say(host, f"{op}: no socket yet: the connection is in {pending[-1].state}, not accepted")
                else:
                    self._say(host, f"{op}: no connection (connect or listen first)")
                return
            sock.setblocking(False)
            if op == "send":
                sent = sock.send(bytes(n))
                self._say(host, f"send({n}) = {sent}")
            elif op == "read":
                data = sock.recv(1 << 20)
                self._say(host, f"recv() = {len(data)} bytes" if data else "recv() = 0: end of file (the peer's FIN)")
            elif op == "shutdown":
                sock.shutdown(SHUT_WR)
                self._say(host, "shutdown(SHUT_WR): a FIN after the data")
            elif op == "close":
                sock.close()
                self._say(host, "close()")
            else:  # abort: SO_LINGER {1, 0} and close: an RST (Linux tcp_close)
                sock.setsockopt(SOL_SOCKET, SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                self._say(host, "abort: close() with SO_LINGER 0")
        except BlockingIOError:
            self._say(host, f"{op}: would block (EAGAIN): nothing yet")
        except OSError as exc:
            self._say(host, f"{op}: {_strerror(exc.errno)}")

    # -- what the page shows ---------------------------------------------------------------------
    def capture(self) -> bytes:
        """Every packet sent so far, pcapng (a comment on each the network did not just deliver)."""
        return self._pcap.getvalue()


def _strerror(code: int | None) -> str:

    if not code:
        return "done"
    return f"{errno.errorcode.get(code, code)}: {os.strerror(code)}"


def states(events: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per host, its connections (in order of appearance) with their last state."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for e in events:
        if e.get("kind") != "state":
            continue
        conns = out.setdefault(str(e.get("host")), {})
        conns[str(e.get("conn", ""))] = {"conn": e.get("conn", ""), "state": e["to"], "since": e["t"]}
    return {host: list(conns.values()) for host, conns in out.items()}

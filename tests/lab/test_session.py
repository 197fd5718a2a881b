"""The lab's sessions without a browser: recipes, replay, stories stepped and taken over."""

from __future__ import annotations

import pytest

from tcplab.lab.session import PORT, Recipe, RecipeError, Session, parse_action
from tcplab.lab.view import Sessions, describe
from tcplab.net.capture import read_capture
from tcplab.scenarios import SCENARIOS
from tcplab.wire import parse_packet

HANDSHAKE = ["server.listen", "client.connect", "wait:0.5"]


def _segments(events: list[dict]) -> list[tuple[str, str, int, int, str]]:
    return [(e["src"], e["flags"], e["seq"], e["len"], e["fate"]) for e in events if e["kind"] == "segment"]


def test_handshake_transfer_and_close_by_hand() -> None:
    s = Session(Recipe(actions=[*HANDSHAKE, "client.send:3000", "wait:0.5", "server.read", "client.close",
                                "wait:0.5", "server.close", "wait:0.5"]))  # fmt: skip
    d = describe(s)
    assert (d["hosts"]["client"]["state"], d["hosts"]["server"]["state"]) == ("TIME_WAIT", "CLOSED")
    assert _segments(s.events)[:3] == [
        ("client", "S", 0, 0, "delivered"),
        ("server", "S.", 0, 0, "delivered"),
        ("client", ".", 1, 0, "delivered"),
    ]
    assert [m["text"] for m in s.messages] == [
        f"listening on port {PORT}",
        f"connect() to 198.18.0.2:{PORT}: in progress",
        "send(3000) = 3000",
        "recv() = 3000 bytes",
        "close()",
        "close()",
    ]
    assert d["last"]["from"] == "LAST_ACK" and d["last"]["rfc"] == "RFC 9293 3.10.7.4 (fifth check)"
    s.apply("wait:60")
    assert describe(s)["hosts"]["client"]["state"] == "CLOSED"  # 2 MSL later


def test_the_same_recipe_builds_the_same_world() -> None:
    recipe = Recipe(actions=[*HANDSHAKE, "net.loss:30", "client.send:20000", "wait:5", "server.read",
                             "net.drop:server>client", "client.close", "wait:3"])  # fmt: skip
    a, b = Session(recipe), Session(recipe)
    assert a.events == b.events and a.capture() == b.capture()
    assert any(e["fate"] == "dropped" for e in a.events if e["kind"] == "segment")


def test_network_rules_act_on_the_next_segment() -> None:
    s = Session(Recipe(actions=[*HANDSHAKE, "net.drop:client>server", "client.send:100", "wait:0.02"]))
    assert _segments(s.events)[-1] == ("client", "P.", 1, 100, "dropped")
    s = Session(Recipe(actions=[*HANDSHAKE, "net.dup:client>server", "client.send:100", "wait:0.5"]))
    assert ("client", "P.", 1, 100, "duplicated") in _segments(s.events)
    s = Session(Recipe(actions=[*HANDSHAKE, "net.delay:client>server:300", "client.send:100", "wait:1"]))
    sent = next(e for e in s.events if e["kind"] == "segment" and e["len"] == 100)
    assert round(sent["t_arrive"] - sent["t"], 6) == 0.35  # 50 ms link + 300 ms held
    s = Session(Recipe(actions=["net.latency:300", *HANDSHAKE]))
    assert describe(s)["link"] == {"loss": 0.0, "latency": 300.0}
    assert describe(s)["hosts"]["client"]["state"] == "SYN_SENT"  # the SYN-ACK comes at 0.6 s
    s.apply("wait:1")
    assert describe(s)["hosts"]["client"]["state"] == "ESTABLISHED"


def test_calls_answer_like_linux() -> None:
    s = Session(Recipe(actions=["client.send:10", "client.connect", "client.send:10", "wait:1"]))
    assert [m["text"] for m in s.messages] == [
        "send: no connection (connect or listen first)",
        f"connect() to 198.18.0.2:{PORT}: in progress",
        "send: would block (EAGAIN): nothing yet",  # still connecting
    ]
    assert describe(s)["hosts"]["client"]["state"] == "CLOSED"  # refused: nobody listens
    assert describe(s)["transitions"][-1]["cause"] == "rcv RST"
    s.apply("client.send:10")
    assert s.messages[-1]["text"] == "send: ECONNREFUSED: Connection refused"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"a": ["client.fly"]}, "not an action: 'client.fly'"),
        ({"a": ["router.connect"]}, "no host 'router'"),
        ({"a": ["client.send"]}, "send takes a byte count"),
        ({"a": ["client.send:0"]}, "send between 1 and"),
        ({"a": ["net.drop:client>client"]}, "a direction goes from one host to the other"),
        ({"a": ["net.delay:client>server"]}, "delay takes milliseconds"),
        ({"a": ["net.loss:101"]}, "loss is a percentage"),
        ({"a": ["wait:0"]}, "wait between 0 and"),
        ({"story": ["nope"]}, "unknown story 'nope'"),
        ({"seed": ["x"]}, "seed must be a whole number"),
        ({"at": ["3"]}, "'at' needs a story"),
        ({"story": ["handshake"], "at": ["-1"]}, "at must be between 0 and"),
        ({"a": ["wait:1"] * 2001}, "too many actions"),
    ],
)
def test_bad_recipes_say_what_is_wrong(query: dict, message: str) -> None:
    with pytest.raises(RecipeError, match=message.replace("(", r"\(")):
        Recipe.from_query(query)


def test_recipe_query_round_trip() -> None:
    recipe = Recipe("lost-final-ack", 3, 4, ["client.send:5", "net.delay:server>client:250", "wait:0.25"])
    from urllib.parse import parse_qs

    assert Recipe.from_query(parse_qs(recipe.query())) == recipe
    assert parse_action("net.delay:server>client:250") == {
        "kind": "rule", "rule": "delay", "src": "server", "dst": "client", "ms": 250,
    }  # fmt: skip


def test_story_stepped_segment_by_segment() -> None:
    sc = SCENARIOS["simultaneous-close"]
    whole = sc.run().events
    total = sum(1 for e in whole if e["kind"] == "segment")
    store = Sessions()
    for at in range(total + 1):
        recipe = Recipe("simultaneous-close", 0, at)
        d = describe(store.get(recipe), store.total(recipe))
        assert d["segments"] == at  # exactly the first `at` segments, in the story's order
        assert _segments([e for e in d_events(store.get(recipe)) if e["kind"] == "segment"]) == _segments(whole)[:at]
        assert d["story"]["total"] == total and not d["story"]["live"]
    end = describe(store.get(Recipe("simultaneous-close", 0, None)), total)
    assert end["story"]["ended"] and end["hosts"]["client"]["state"] == "CLOSED"


def d_events(session: Session) -> list[dict]:
    from tcplab.lab.view import _visible

    return _visible(session)


def test_story_taken_over_and_continued_by_hand() -> None:
    # active-close: after the handshake's 3 segments (the last ACK still on its way to the server)
    # the user, not the story, sends and closes
    by_hand = ["server.send:500", "wait:0.1", "server.send:500", "wait:0.5", "client.read", "server.close",
               "wait:0.5", "client.close", "wait:0.5"]  # fmt: skip
    s = Session(Recipe("active-close", 0, 3, by_hand))
    d = describe(s)
    assert d["story"]["live"]
    assert [m["text"] for m in s.messages][:3] == [
        "send: no socket yet: the connection is in SYN_RCVD, not accepted",
        "send(500) = 500",
        "recv() = 500 bytes",
    ]
    assert (d["hosts"]["server"]["state"], d["hosts"]["client"]["state"]) == ("TIME_WAIT", "CLOSED")


def test_cache_extends_a_session_like_a_fresh_build() -> None:
    store = Sessions(size=4)
    base = Recipe(actions=HANDSHAKE)
    first = store.get(base)
    longer = Recipe(actions=[*HANDSHAKE, "client.send:800", "wait:0.3"])
    store.get(Recipe(actions=[*HANDSHAKE, "client.send:800"]))
    extended = store.get(longer)
    assert extended is first  # one action more each time: the cached world went on
    assert extended.events == Session(longer).events


def test_capture_has_every_packet_with_its_fate(tmp_path) -> None:
    s = Session(Recipe(actions=[*HANDSHAKE, "net.drop:client>server", "client.send:1000", "wait:0.5"]))
    path = tmp_path / "lab.pcapng"
    path.write_bytes(s.capture())
    records = list(read_capture(path))
    sent = [e for e in s.events if e["kind"] == "segment"]
    assert [(parse_packet(r.packet).tcp.seq, r.interface) for r in records] == [(e["abs_seq"], e["src"]) for e in sent]
    assert [r.comments for r in records if r.comments] == [("dropped by a fault rule",)]
    assert [e["fate"] for e in sent].count("dropped") == 1


def test_step_processes_one_event_at_a_time() -> None:
    s = Session(Recipe(actions=["server.listen", "client.connect"]))
    assert [e["flags"] for e in s.events if e["kind"] == "segment"] == ["S"]  # sent, in flight
    s.apply("step")  # the SYN arrives: the SYN-ACK leaves
    assert [e["flags"] for e in s.events if e["kind"] == "segment"] == ["S", "S."] and s.now == 0.05
    s.apply("step")
    assert describe(s)["hosts"]["client"]["state"] == "ESTABLISHED" and s.now == 0.1
    s.apply("step")
    assert describe(s)["hosts"]["server"]["state"] == "ESTABLISHED" and s.now == 0.15

"""Record which rows of the transition table the engine tests produce.

``test_zz_transition_coverage.py`` (collected last) checks that every row was produced by at
least one engine test; it skips when only part of tests/tcp was selected.
"""

from __future__ import annotations

import pytest

from tcplab.tcp.connection import Connection

PRODUCED: set = set()
SELECTION = {"complete": True}


@pytest.fixture(autouse=True)
def _record_transitions(monkeypatch):
    original = Connection._enter

    def enter(self, new, cause):
        before = self.state
        original(self, new, cause)
        PRODUCED.add((before, new, cause))

    monkeypatch.setattr(Connection, "_enter", enter)
    yield


def pytest_collection_modifyitems(session, config, items):
    tcp_items = [i for i in items if "tests/tcp/" in str(i.fspath).replace("\\", "/")]
    if config.option.keyword or config.option.markexpr or config.option.deselect:
        SELECTION["complete"] = False
    # The coverage check must run after every other engine test.
    items.sort(key=lambda i: "test_zz_transition_coverage" in str(i.fspath))
    SELECTION["count"] = len(tcp_items)

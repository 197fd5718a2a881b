"""Every row of the transition table is produced by at least one engine test."""

import pytest

from tcplab.tcp.states import TRANSITIONS

from .conftest import PRODUCED, SELECTION


def test_every_transition_row_is_produced_by_an_engine_test(request):
    files = {str(i.fspath) for i in request.session.items if "tests/tcp/" in str(i.fspath)}
    if not SELECTION["complete"] or len(files) < 3:
        pytest.skip("only part of tests/tcp was selected; run the whole directory to check coverage")
    missing = [t.label() for t in TRANSITIONS if (t.src, t.dst, t.cause) not in PRODUCED]
    assert not missing, "rows no engine test produced:\n" + "\n".join(missing)

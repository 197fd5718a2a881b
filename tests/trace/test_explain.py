"""Every row of the transition table has its words and its clause (the lab shows them)."""

from tcplab.tcp.states import TRANSITIONS, Cause, State, Transition
from tcplab.trace.explain import explain


def test_every_row_is_explained_with_a_source() -> None:
    for row in TRANSITIONS:
        text, where = explain(row)
        assert text.endswith((".", ")")) and len(text) > 30, row
        assert where.startswith(("RFC 9293 ", "RFC 1122 ", "Linux")), row


def test_specific_rows_before_general_ones() -> None:
    refused = explain(Transition(State.SYN_SENT, State.CLOSED, Cause.RCV_RST))
    reset = explain(Transition(State.ESTABLISHED, State.CLOSED, Cause.RCV_RST))
    assert "refused" in refused[0] and refused[1] == "RFC 9293 3.10.7.3"
    assert "reset the connection" in reset[0] and reset[1] == "RFC 9293 3.10.7.4 (second check)"

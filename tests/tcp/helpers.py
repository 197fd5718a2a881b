"""Put a Connection in any state and talk to it segment by segment, as RFC 9293's examples do.

The connection under test is local 198.18.0.2:9527 (ISS 1000 unless told otherwise); the test
plays the peer 198.18.0.1:40000 (its ISN is 5000). Segments are compared as tuples
``(flags, seq, ack, win, len)`` with flags written as tcpdump writes them.
"""

from __future__ import annotations

from tcplab.tcp import Config, Connection, FixedISN, State, profile
from tcplab.tcp.events import StateChanged
from tcplab.wire.tcp import MSS, Segment, flags_str, parse_flags

LOCAL = ("198.18.0.2", 9527)
REMOTE = ("198.18.0.1", 40000)
ISS = 1000
PEER_ISS = 5000
WIN = 65535


def classic(**changes) -> Config:
    """The classic profile: no window scaling, timestamps or SACK, the RFC's plain receive
    window: segments carry only what RFC 9293 shows."""
    return profile("classic").copy(**changes)


def seg(flags: str, seq: int, ack: int = 0, win: int = WIN, data: bytes = b"", options=(), urgent: int = 0) -> Segment:
    """A segment from the peer (absolute sequence numbers)."""
    return Segment(
        REMOTE[1], LOCAL[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, parse_flags(flags), win, urgent, tuple(options), data
    )


def brief(s: Segment) -> tuple:
    return (flags_str(s.flags), s.seq, s.ack, s.window, len(s.payload))


class Peer:
    """A Connection under test plus what it said."""

    def __init__(self, config: Config | None = None, iss: int = ISS, remote=REMOTE, challenge_acks=None) -> None:
        self.conn = Connection(
            config or classic(), LOCAL, remote, isn=FixedISN(iss), name="local", challenge_acks=challenge_acks
        )
        self.now = 0.0
        self.transitions: list[tuple[str, str, str]] = []
        self.all_events: list = []

    @property
    def state(self) -> State:
        return self.conn.state

    def out(self) -> list[tuple]:
        self._collect()
        return [brief(s) for s in self.conn.segments_to_send()]

    def raw_out(self) -> list[Segment]:
        self._collect()
        return self.conn.segments_to_send()

    def _collect(self) -> None:
        for ev in self.conn.events():
            self.all_events.append(ev)
            if isinstance(ev, StateChanged):
                self.transitions.append((ev.src.value, ev.dst.value, ev.cause.value))

    def events(self) -> list:
        self._collect()
        return self.all_events

    def recv(self, s: Segment, at: float | None = None) -> list[tuple]:
        if at is not None:
            self.now = at
        self.conn.segment_arrives(s, self.now)
        return self.out()

    def advance(self, to: float) -> list[tuple]:
        """Run the timers up to time ``to``; return what was sent (with send times)."""
        sent = []
        while True:
            d = self.conn.next_deadline()
            if d is None or d > to:
                break
            self.now = d
            self.conn.handle_timeout(d)
            sent += [(round(d, 6), *b) for b in self.out()]
        self.now = to
        return sent

    # -- ways into each state ------------------------------------------------------------------
    def to_listen(self) -> Peer:
        self.conn.listen(self.now)
        return self

    def to_syn_sent(self) -> Peer:
        self.conn.connect(self.now)
        self.out()
        return self

    def to_syn_rcvd(self) -> Peer:
        self.to_listen()
        self.recv(seg("S", PEER_ISS, options=(MSS(1460),)))
        return self

    def to_established(self, passive: bool = False) -> Peer:
        if passive:
            self.to_syn_rcvd()
            self.recv(seg(".", PEER_ISS + 1, ISS + 1))
        else:
            self.to_syn_sent()
            self.recv(seg("S.", PEER_ISS, ISS + 1, options=(MSS(1460),)))
        assert self.state is State.ESTABLISHED
        return self

    def to_fin_wait_1(self) -> Peer:
        self.to_established()
        self.conn.close(self.now)
        self.out()
        return self

    def to_fin_wait_2(self, close: bool = True) -> Peer:
        self.to_established()
        if close:
            self.conn.close(self.now)
        else:
            self.conn.shutdown(self.now)
        self.out()
        self.recv(seg(".", PEER_ISS + 1, ISS + 2))
        assert self.state is State.FIN_WAIT_2
        return self

    def to_close_wait(self) -> Peer:
        self.to_established()
        self.recv(seg("F.", PEER_ISS + 1, ISS + 1))
        assert self.state is State.CLOSE_WAIT
        return self

    def to_closing(self) -> Peer:
        self.to_fin_wait_1()
        self.recv(seg("F.", PEER_ISS + 1, ISS + 1))
        assert self.state is State.CLOSING
        return self

    def to_last_ack(self) -> Peer:
        self.to_close_wait()
        self.conn.close(self.now)
        self.out()
        assert self.state is State.LAST_ACK
        return self

    def to_time_wait(self) -> Peer:
        self.to_fin_wait_2()
        self.recv(seg("F.", PEER_ISS + 1, ISS + 2))
        assert self.state is State.TIME_WAIT
        return self

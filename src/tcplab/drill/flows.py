"""packetdrill's sequence-number conventions: which connection a packet line is about, and how its
numbers map to the numbers on the wire.

Like packetdrill, the drill talks to one *socket under test* at a time:

- ``socket()`` makes the new socket the one under test.
- An inbound packet while that socket is only created, bound or listening (or when there is no
  socket at all) starts a new connection from the script's side: a fresh remote port (40001,
  40002, ...) to the bound port (8080), and the packet's sequence number becomes the remote ISN.
  The host then does with it what a kernel does: RST for a port that is closed or only bound
  (RFC 9293 3.10.7.1), the listener's rules for a listening one (3.10.7.2).
- ``connect()`` starts a connection from tcplab's side (to the script's port 8080).
- Every later packet line is about that connection; ``sport>dport`` on a line only changes the
  ports of an injected packet. Segments tcplab sends on other connections are not the script's
  business (they are logged, never matched).

Numbers (``Flow``): the remote ISN is the script's (the drill injects what the script says), so:

- an inbound SYN's sequence number is taken as written; any other inbound sequence number is
  relative to the remote ISN;
- tcplab's ISN is learned from its first SYN (or SYN-ACK) on the connection; the script's own
  number for it is what the first ``> S``/``> S.`` line says (usually 0). Sequence numbers of
  tcplab's SYNs are compared in that script space; those of its other segments relative to its
  ISN; acknowledgment numbers and SACK blocks likewise, by the other side's ISN: an ``ack`` in
  an inbound SYN(-ACK) is relative to the script's number for tcplab's ISN, in an outbound
  SYN(-ACK) it is absolute (the remote ISN was the script's own number).
- Nothing is relearned while the connection lasts: a SYN that reopens a TIME-WAIT connection and
  the SYN-ACK answering it are written relative to the first incarnation's ISNs, exactly as
  packetdrill computes them (so the new SYN-ACK shows tcplab's new ISN minus the old one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

FIRST_REMOTE_PORT = 40001  # remote ports of the connections the script opens
SERVER_PORT = 8080  # the port `...` stands for in bind() and connect()


def mod32(x: int) -> int:
    return x & 0xFFFFFFFF


@dataclass
class Flow:
    """One connection the script plays the other end of (its ports and ISNs)."""

    remote_port: int
    local_port: int | None  # unknown until tcplab's SYN for a connect()
    passive: bool
    remote_isn: int = 0  # the script's (and the wire's) remote ISN
    local_isn: int | None = None  # tcplab's ISN, once seen
    script_local_isn: int = 0  # the script's number for it (from the first > S / > S. line)
    awaiting_local_syn: bool = True  # learn local_isn from the next SYN tcplab sends
    script_isn_pending: bool = True  # take script_local_isn from the next > S / > S. line
    awaiting_synack: bool = False  # an active open learns the remote ISN from the SYN-ACK
    ts_map: dict[int, int] = field(default_factory=dict)  # script TS val -> the val tcplab sent
    first_ts: tuple[int, int] | None = None  # (script val, tcplab's val) of the first TS matched

    # -- script -> wire (inbound) -------------------------------------------------------------
    def _local_offset(self, syn: bool) -> int:
        live = self.local_isn or 0
        return live - self.script_local_isn if syn else live

    def inbound_seq(self, seq: int, syn: bool) -> int:
        return seq if syn else mod32(seq + self.remote_isn)

    def inbound_ack(self, ack: int, syn: bool) -> int:
        return mod32(ack + self._local_offset(syn))

    def inbound_script_seq(self, seq: int, syn: bool) -> int:
        """An injected packet's sequence number back in the script's numbers."""
        return seq if syn else mod32(seq - self.remote_isn)

    def inbound_script_ack(self, ack: int, syn: bool) -> int:
        return mod32(ack - self._local_offset(syn))

    # -- wire -> script (outbound) ------------------------------------------------------------
    def outbound_seq(self, seq: int, syn: bool) -> int:
        return mod32(seq - self._local_offset(syn))

    def outbound_ack(self, ack: int, syn: bool) -> int:
        return ack if syn else mod32(ack - self.remote_isn)

    # -- learning -----------------------------------------------------------------------------
    def local_syn_sent(self, seq: int) -> None:
        if self.awaiting_local_syn:
            self.local_isn = seq
            self.awaiting_local_syn = False

    def script_syn_line(self, start: int) -> None:
        if self.script_isn_pending:
            self.script_local_isn = start
            self.script_isn_pending = False

    def inbound_syn(self, seq: int, ack: bool) -> None:
        if ack and self.awaiting_synack:
            self.remote_isn = seq
            self.awaiting_synack = False


class Flows:
    """The socket under test and every connection the script has had (see the module
    docstring). ``sut`` is the socket object under test; ``flow`` its connection, if any."""

    def __init__(self) -> None:
        self.sut: object | None = None
        self.listening = False
        self.flow: Flow | None = None
        self.all: list[Flow] = []
        self.next_remote_port = FIRST_REMOTE_PORT

    def new_socket(self, sock: object) -> None:
        self.sut, self.flow, self.listening = sock, None, False

    def listen(self, sock: object) -> None:
        if sock is self.sut:
            self.listening = True

    def connect(self, sock: object, remote_port: int) -> Flow:
        flow = Flow(remote_port, None, passive=False, awaiting_synack=True)
        self.all.append(flow)
        self.sut, self.flow, self.listening = sock, flow, False
        return flow

    def for_inbound(self, start: int, local_port: int, sport: int | None, dport: int | None) -> Flow:
        """The connection an inbound packet line is about, a new one when no connection is under
        test (``start``: the line's sequence number, the new remote ISN)."""
        if self.flow is not None:
            return self.flow
        if sport is not None and dport is not None:
            remote, local = sport, dport
        else:
            remote, local = self.next_remote_port, local_port
            self.next_remote_port += 1
        flow = Flow(remote, local, passive=True, remote_isn=start)
        self.all.append(flow)
        self.flow, self.listening = flow, False
        return flow

    def of_segment(self, sport: int, dport: int) -> Flow | None:
        """The connection a segment tcplab sent belongs to (learning a connect()'s local port)."""
        for flow in reversed(self.all):
            if flow.remote_port == dport and flow.local_port == sport:
                return flow
        for flow in reversed(self.all):
            if flow.remote_port == dport and flow.local_port is None:
                flow.local_port = sport
                return flow
        return None

    def under_test(self, flow: Flow | None) -> bool:
        return flow is not None and flow is self.flow

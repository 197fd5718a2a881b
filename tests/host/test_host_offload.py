"""A host on a link with offloads (Host.link): the MSS follows the MTU; TCP checksums are left
partial for the link; super-segments go out marked for the link to split and come in counted
as their parts."""

from __future__ import annotations

import contextlib

from tcplab.host import Host, LinkOffloads
from tcplab.socket import Socket
from tcplab.tcp import Config
from tcplab.wire import parse_packet
from tcplab.wire.checksum import partial, pseudo_header_sum

OFFLOADING = LinkOffloads(1500, checksum=True, segmentation=65535)


def test_the_advertised_mss_follows_the_link_mtu():
    for mtu, v4, v6 in ((1500, 1460, 1440), (9000, 8960, 8940), (65535, 65495, 65475)):
        host = Host("h", link=LinkOffloads(mtu))
        assert (host.conn_config("198.18.0.2").mss, host.conn_config("fd00::2").mss) == (v4, v6)
    # A smaller MSS asked for in the Config, or by TCP_MAXSEG, is kept.
    host = Host("h", config=Config(mss=536), link=LinkOffloads(9000))
    assert host.conn_config("198.18.0.2").mss == 536
    assert Host("h", link=LinkOffloads(9000)).conn_config("198.18.0.2", user_mss=1000).mss == 1000


def test_segmentation_becomes_the_engines_gso_max():
    assert Host("h").conn_config("198.18.0.2").gso_max == 0
    host = Host("h", link=OFFLOADING)
    assert host.conn_config("198.18.0.2").gso_max == 65535 - 20 - 60
    assert host.conn_config("fd00::2").gso_max == 65535 - 40 - 60


class Wire:
    """Two hosts joined by hand as a TUN link with offloads joins tcplab and the kernel:
    packets pass with what the virtio-net header would say (checksum vouched for, gso_size)."""

    def __init__(self) -> None:
        self.a = Host("a", ("198.18.0.1",), link=OFFLOADING)
        self.b = Host("b", ("198.18.0.2",), link=OFFLOADING)
        self.now = 0.0
        self.sent: dict[str, list[tuple[bytes, int]]] = {"a": [], "b": []}

    def run(self, until) -> None:
        for _ in range(100_000):
            if until():
                return
            moved = False
            for src, dst in ((self.a, self.b), (self.b, self.a)):
                out, gso_at = src.poll_transmit_offloaded()
                for i, pkt in enumerate(out):
                    self.sent[src.name].append((pkt, gso_at.get(i, 0)))
                    dst.deliver(pkt, self.now, checksum_ok=True, gso_size=gso_at.get(i, 0))
                    moved = True
            if not moved:
                self.now += 0.01
                for h in (self.a, self.b):
                    if (d := h.next_deadline()) is not None and d <= self.now:
                        h.handle_timeout(self.now)
        raise AssertionError("did not finish")


def test_bulk_data_over_an_offloading_link():
    w = Wire()
    lst = Socket(w.b)
    lst.bind(("198.18.0.2", 9527))
    lst.listen(1)
    lst.setblocking(False)
    cli = Socket(w.a)
    cli.setblocking(False)
    cli.connect_ex(("198.18.0.2", 9527))
    w.run(lambda: lst.readable())
    srv, _ = lst.accept()
    srv.setblocking(False)
    data = bytes(range(256)) * 4096  # 1 MiB
    got = bytearray()
    sent = 0

    def progress() -> bool:
        nonlocal sent
        with contextlib.suppress(BlockingIOError):
            if sent < len(data):
                sent += cli.send(data[sent : sent + 65536])
        with contextlib.suppress(BlockingIOError):
            got.extend(srv.recv(1 << 20))
        return len(got) == len(data)

    w.run(progress)
    assert bytes(got) == data
    supers = [(pkt, g) for pkt, g in w.sent["a"] if g]
    assert supers and all(g == 1448 for _, g in supers)  # 1460 less 12 bytes of timestamps
    assert max(len(pkt) for pkt, _ in supers) > 1500
    # Every TCP checksum left for the link: the pseudo-header sum, no pass over the payload.
    for pkt, _ in w.sent["a"][:50]:
        assert int.from_bytes(pkt[36:38], "big") == partial(
            pseudo_header_sum("198.18.0.1", "198.18.0.2", 6, len(pkt) - 20)
        )
    # Counters count segments on the wire (parts), not packets.
    assert w.a.counters["segments_sent"] > len(w.sent["a"])
    assert w.b.counters["segments_received"] == w.a.counters["segments_sent"]
    assert w.b.counters["bad_checksums"] == 0


def test_a_partial_checksum_is_only_trusted_when_the_link_vouches():
    w = Wire()
    cli = Socket(w.a)
    cli.setblocking(False)
    cli.connect_ex(("198.18.0.2", 9527))
    (syn,), _ = w.a.poll_transmit_offloaded()
    w.b.deliver(syn, 0.0)  # as if from a link that checks nothing: the checksum is wrong
    assert w.b.counters["bad_checksums"] == 1 and w.b.counters["no_listener_resets"] == 0
    w.b.deliver(syn, 0.0, checksum_ok=True)
    assert w.b.counters["no_listener_resets"] == 1  # taken, and answered (nobody listens)
    assert parse_packet(syn, verify_checksum=False).tcp.syn

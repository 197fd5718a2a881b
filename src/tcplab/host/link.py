"""What the link under a host does for it: its MTU and its offloads (``Host.link``).

The host asks nothing of the link it sits on but this record, set by whatever drives the host
(the TUN runtime from what the kernel accepted; the simulator leaves the default: a plain
1500-byte link that neither segments nor checksums). From it the host derives the MSS it
advertises (MTU - 40 for IPv4, - 60 for IPv6, as Linux does from the route's MTU), whether it
leaves TCP checksums to the link, and how large a segment the engine may hand down for the link
to split (``Config.gso_max``). See docs/architecture.md, "Link capabilities".
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LinkOffloads"]


@dataclass(frozen=True, slots=True)
class LinkOffloads:
    mtu: int = 1500
    # The link fills in TCP checksums of what the host sends (Linux NETIF_F_HW_CSUM, virtio
    # NEEDS_CSUM): the host writes only the pseudo-header sum. Received packets say themselves
    # whether the link vouches for their checksums (``Host.deliver(checksum_ok=...)``).
    checksum: bool = False
    # TSO/GSO: the link splits a TCP segment of up to this many bytes (headers included) into
    # MSS-sized ones itself; 0: it does not (every segment the engine makes goes as it is).
    segmentation: int = 0

    def mss(self, ipv6: bool) -> int:
        """The MSS for this MTU: what fits in one packet after the IP and TCP headers."""
        return self.mtu - (60 if ipv6 else 40)

    def __str__(self) -> str:
        what = []
        if self.checksum:
            what.append("checksum")
        if self.segmentation:
            what.append(f"segmentation up to {self.segmentation:,} bytes")
        return f"MTU {self.mtu}, offloads: {', '.join(what) or 'none'}"

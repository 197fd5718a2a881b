"""TCP Fast Open (RFC 7413): the server's cookies and the settings' bits.

``Config.fastopen`` is Linux's net.ipv4.tcp_fastopen (Documentation/networking/ip-sysctl.rst):

- ``CLIENT`` (0x1, the default): a client may send data in its SYN (MSG_FASTOPEN,
  TCP_FASTOPEN_CONNECT); with a cookie cached for the server it does, otherwise its SYN asks for
  a cookie and the data follows the handshake;
- ``SERVER`` (0x2): a listener with a Fast Open queue (TCP_FASTOPEN) gives cookies and accepts
  data in a SYN that carries a valid one;
- ``CLIENT_NO_COOKIE`` (0x4): the client sends SYN data without any cookie option;
- ``SERVER_NO_COOKIE`` (0x200): the server accepts SYN data without a cookie;
- ``SERVER_ALL_LISTENERS`` (0x400): every listener acts as if TCP_FASTOPEN were set.

The cookie (RFC 7413 4.1.2) is a MAC of the client's and the server's addresses under a secret
of the host's (Linux: siphash of saddr/daddr under the per-netns key; here BLAKE2b keyed with
the host's secret): 8 bytes, as Linux sends.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

CLIENT = 0x1
SERVER = 0x2
CLIENT_NO_COOKIE = 0x4
SERVER_NO_COOKIE = 0x200
SERVER_ALL_LISTENERS = 0x400

COOKIE_SIZE = 8  # Linux TCP_FASTOPEN_COOKIE_SIZE
COOKIE_MIN, COOKIE_MAX = 4, 16  # RFC 7413 4.1.1


def usable_cookie(cookie: bytes) -> bool:
    """A cookie a client may keep: 4 to 16 bytes, an even number (Linux tcp_parse_fastopen_option)."""
    return COOKIE_MIN <= len(cookie) <= COOKIE_MAX and not len(cookie) & 1


class CookieKey:
    """The server's Fast Open secret: makes and checks cookies."""

    __slots__ = ("_key",)

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.blake2b(secret, digest_size=32, person=b"tcplab-tfo-key").digest()

    def cookie(self, client_ip: str, server_ip: str) -> bytes:
        """RFC 7413 4.1.2: cookie = MAC(key, client address) (Linux also takes its own)."""
        data = ipaddress.ip_address(client_ip).packed + ipaddress.ip_address(server_ip).packed
        return hashlib.blake2b(data, key=self._key, digest_size=COOKIE_SIZE).digest()

    def valid(self, cookie: bytes, client_ip: str, server_ip: str) -> bool:
        return hmac.compare_digest(cookie, self.cookie(client_ip, server_ip))

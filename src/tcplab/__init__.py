"""tcplab: a TCP/IP stack in pure Python that lives RFC 9293's whole state machine.

How it works (layers, who owns time, a segment's journey, the event stream): docs/architecture.md.
``tcplab.patch(host)`` (from ``tcplab.patching``) runs unmodified ``socket``/``asyncio``
programs on a tcplab host.
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("patch", "Patch"):
        from tcplab import patching

        return getattr(patching, name)
    raise AttributeError(f"module 'tcplab' has no attribute {name!r}")

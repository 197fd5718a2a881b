"""tcplab: a TCP/IP stack in pure Python that lives RFC 9293's whole state machine.

How it works (layers, who owns time, a segment's journey, the event stream): docs/architecture.md.
"""

__version__ = "0.1.0"

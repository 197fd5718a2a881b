"""tcplab: a TCP/IP stack in pure Python that lives RFC 9293's whole state machine."""

__version__ = "0.1.0"

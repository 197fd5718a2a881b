"""The TCP engine, sans-IO: RFC 9293's connection state machine. Standard library only.

The API is in docs/engine-api.md; its place among the layers in docs/architecture.md.
"""

from tcplab.tcp.config import PROFILES, Config, profile
from tcplab.tcp.connection import Connection
from tcplab.tcp.isn import FixedISN, ISNGenerator
from tcplab.tcp.states import TRANSITIONS, Cause, State, Transition

__all__ = [
    "PROFILES",
    "TRANSITIONS",
    "Cause",
    "Config",
    "Connection",
    "FixedISN",
    "ISNGenerator",
    "State",
    "Transition",
    "profile",
]

"""The TCP engine, sans-IO: RFC 9293's connection state machine. Standard library only."""

from tcplab.tcp.states import TRANSITIONS, Cause, State, Transition

__all__ = ["TRANSITIONS", "Cause", "State", "Transition"]

"""The in-memory pipe lives in the package now (``tcplab.net.pipe``); this name stays for tests
that import it from here."""

from tcplab.net.pipe import Hook, Pipe, lossy_hook

__all__ = ["Hook", "Pipe", "lossy_hook"]

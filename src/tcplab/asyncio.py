"""asyncio streams on tcplab hosts: the same module as ``tcplab.aio`` (see there)."""

from tcplab import aio as _aio
from tcplab.aio import *  # noqa: F403

__all__ = list(_aio.__all__)

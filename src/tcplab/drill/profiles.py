"""``--profile``: the stack a script was written for, and so the defaults it assumes.

A profile names the headers the script's constants come from (its ABI: how ``SOL_SOCKET``,
``O_NONBLOCK``, ``ECONNRESET`` or a TCP state are numbered) and the settings the stack starts
with -- buffer sizes, window scale, initial window, timers, option layout -- as a
:class:`~tcplab.tcp.config.Config`:

- ``linux`` (default): Linux's numbering; tcplab's defaults, which are Linux's.
- ``freebsd``: FreeBSD's numbering and defaults (net.inet.tcp.sendspace 32768, recvspace 65536,
  msl 30 s, delacktime 100 ms, an RTO floor of rexmit_min + rexmit_slop = 230 ms, RST ignored
  in TIME-WAIT, FreeBSD's SYN option layout, the window scale from kern.ipc.maxsockbuf, the
  free buffer as the window, no quick ACKs), and accept() handing on the listener's O_NONBLOCK.
- ``rfc``: Linux's numbering; RFC 9293/6298's literal values (``tcplab.tcp.config``'s ``rfc``).

A Config field a profile would set that tcplab does not have yet is left at tcplab's value (the
script then shows the difference when it matters).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from tcplab.drill.symbols import FREEBSD, LINUX, Abi
from tcplab.tcp.config import Config
from tcplab.tcp.config import profile as config_profile

_FIELDS = frozenset(f.name for f in dataclasses.fields(Config))


@dataclass(frozen=True)
class Profile:
    name: str
    abi: Abi
    make: Callable[[], Config]
    description: str

    def config(self) -> Config:
        return self.make()


def _with(base: Config, **fields: object) -> Config:
    return base.copy(**{k: v for k, v in fields.items() if k in _FIELDS})


def _freebsd() -> Config:
    return _with(
        Config(),
        snd_buf=32768,  # net.inet.tcp.sendspace
        rcv_buf=65536,  # net.inet.tcp.recvspace
        msl=30.0,  # net.inet.tcp.msl = 30000 ms
        delayed_ack=0.1,  # net.inet.tcp.delacktime = 100 ms
        rto_min=0.23,  # net.inet.tcp.rexmit_min 30 ms + rexmit_slop 200 ms (TCP_REXMTVAL adds the slop)
        rto_initial=1.0,  # net.inet.tcp.rexmit_initial = 1000 ms
        fin_wait_2_timeout=60.0,  # net.inet.tcp.finwait2_timeout = 60000 ms
        keepalive_count=8,  # net.inet.tcp.keepcnt
        rfc1337=True,  # tcp_twcheck drops every RST in TIME-WAIT
        # the socket keeps its tcpcb in TIME-WAIT (FreeBSD 14 has no compressed tcptw): tcp_info
        # reads TCPS_TIME_WAIT (not checked on a FreeBSD machine)
        time_wait_socket="time_wait",
        syn_option_layout="freebsd",  # tcp_addoptions: mss, nop+wscale, sackOK, TS
        # The window scale is chosen for kern.ipc.maxsockbuf (2 MiB: 6), with no floor like
        # Linux's rmem_max; the window offered is the free buffer (no rcv_ssthresh growth),
        # and no quick-ACK mode (tcp_input ACKs every second segment, else after delacktime).
        rcv_buf_max=2097152,
        rmem_max=0,
        rcv_window_rules="rfc",
        quickack=0,
        rtt_estimator="rfc",  # tcp_xmit_timer: RFC 6298
        nagle_rules="rfc",  # tcp_output: a small segment only when idle (snd_max == snd_una)
        # tcp_send_challenge_ack allows net.inet.tcp.ack_war_cnt (5) per ack_war_timewindow
        # (1 s); tcplab's limit is one per interval, so none here (the grids send two or three).
        invalid_ratelimit=0.0,
        # net.inet.tcp.cc.algorithm=newreno; the default stack has no RACK or tail loss probes
        congestion_control="reno",
        rack=False,
        tlp=False,
    )


PROFILES: dict[str, Profile] = {
    "linux": Profile("linux", LINUX, Config, "Linux's numbering and defaults (tcplab's own)"),
    "freebsd": Profile("freebsd", FREEBSD, _freebsd, "FreeBSD's numbering and defaults"),
    "rfc": Profile("rfc", LINUX, lambda: config_profile("rfc"), "Linux's numbering, RFC 9293/6298's values"),
}

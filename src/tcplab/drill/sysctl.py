"""Shell lines: settings, never commands.

Scripts set sysctls in shell lines (``sysctl -w net.ipv4.tcp_sack=0``, ``sysctl -q
net.ipv4.tcp_rmem="4096 87380 6291456"``, FreeBSD's ``sysctl net.inet.tcp.rfc1323=0``, several
per line, ``echo 0 > /proc/sys/net/ipv4/tcp_sack``, Linux's ``set_sysctls.py /proc/sys/...=V``)
and in small shell scripts made only of such lines. The drill never runs a shell command:

- a sysctl that changes TCP behaviour is applied to the :class:`~tcplab.tcp.config.Config` field
  with the same meaning (``SETTINGS``);
- a sysctl for which tcplab has no field is accepted only at a value that asks for what tcplab
  does anyway (``net.ipv4.tcp_frto=0``: tcplab has no F-RTO); any other value SKIPs the
  script, naming the sysctl and what tcplab lacks;
- a shell script is read (relative to the .pkt file) and its lines handled the same way;
- any other command SKIPs the script, naming the command.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tcplab.drill.outcome import Broken, Skip
from tcplab.tcp.config import Config

_FIELDS = frozenset(f.name for f in dataclasses.fields(Config))
INT_MAX = 2**31 - 1


@dataclass(frozen=True)
class Setting:
    """How tcplab takes one sysctl: into Config fields (``fields``: name -> converter), or, when
    it has no such field yet, at the values that ask for what it does (``accepts``)."""

    fields: tuple[tuple[str, Callable[[str], Any]], ...] = ()
    accepts: Callable[[str], bool] | None = None
    lacks: str = ""  # what tcplab lacks, for the SKIP reason


def _int(v: str) -> int:
    return int(v, 0)


def _flag(v: str) -> bool:
    n = _int(v)
    if n not in (0, 1):
        raise Unsupported(v)
    return bool(n)


def _ms(v: str) -> float:
    return _int(v) / 1000.0


def _middle(v: str) -> int:
    parts = v.split()
    if len(parts) != 3:
        raise ValueError(v)
    return int(parts[1])


def _last(v: str) -> int:
    return int(v.split()[-1])


def _to(name: str, convert: Callable[[str], Any] = _int, lacks: str = "", accepts: set[str] | None = None) -> Setting:
    """Into Config field ``name``; while Config has no such field, accepted at ``accepts``."""
    return Setting(((name, convert),), (lambda v: v in accepts) if accepts else None, lacks)


class Unsupported(ValueError):
    """A valid value tcplab cannot take."""


def _ecn(v: str) -> int:
    """net.ipv4.tcp_ecn: 0, 1 or 2 (this kernel refuses other values: notes/linux-behaviour.md A)."""
    n = _int(v)
    if n not in (0, 1, 2):
        raise ValueError(v)
    return n


def _bsd_ecn(v: str) -> int:
    """net.inet.tcp.ecn.enable: 0, 1 (request and accept) and 2 (accept) mean what Linux's do;
    3 and 4 (ECN++, AccECN) tcplab does not have."""
    n = _int(v)
    if n not in (0, 1, 2):
        raise Unsupported(v)
    return n


def _congestion(v: str) -> str:
    from tcplab.tcp.congestion import ALGORITHMS

    name = "reno" if v == "newreno" else v
    if name not in ALGORITHMS:
        raise Unsupported(v)
    return name


def _only(values: Any, lacks: str) -> Setting:
    """Accepted at ``values`` (a set of strings, or a predicate on the integer value)."""
    if callable(values):
        test = values
        return Setting((), lambda v: test(_int(v)), lacks)
    return Setting((), lambda v: v in values, lacks)


def _any(_: str) -> bool:
    return True


_TSO = "TSO (tcplab sends each segment whole: no TSO deferral, sizing or small-queue limits)"
_LINUX: dict[str, Setting] = {
    "net.ipv4.tcp_timestamps": _to("timestamps", _flag, "timestamps without a per-connection offset (value 2)"),
    "net.ipv4.tcp_sack": _to("sack", _flag),
    "net.ipv4.tcp_window_scaling": _to("window_scaling", _flag),
    # tcp_rmem[1] is the starting buffer, half of which carries data (tcp_win_from_space,
    # tcp_adv_win_scale 1); [2] the most auto-tuning grows it to, and what the window scale is
    # chosen for (tcp_select_initial_window), with net.core.rmem_max as a floor.
    "net.ipv4.tcp_rmem": Setting((("rcv_buf", lambda v: _middle(v) // 2), ("rcv_buf_max", _last))),
    "net.core.rmem_max": _to("rmem_max"),
    # Config.rcv_autotune also stands for "no SO_RCVBUF lock", which sizes the window scale
    # from the buffer itself; Linux with tcp_moderate_rcvbuf=0 still sizes it from tcp_rmem[2]
    # (tcp_select_initial_window), so only the default is the same meaning.
    "net.ipv4.tcp_moderate_rcvbuf": _only(
        {"1"}, "switch for auto-tuning apart from the window scale (Config.rcv_autotune sizes both)"
    ),
    "net.ipv4.tcp_slow_start_after_idle": _to("slow_start_after_idle", _flag),
    "net.ipv4.tcp_challenge_ack_limit": _to("challenge_ack_limit"),
    "net.ipv6.bindv6only": _to("bindv6only", _flag),
    "net.ipv4.tcp_invalid_ratelimit": _to("invalid_ratelimit", _ms),
    # Linux starts a send buffer at tcp_wmem[1] and grows it at the handshake (tcp_sndbuf_expand);
    # tcplab's send buffer is a fixed size: only the default, which tcplab's sizes follow, is taken.
    "net.ipv4.tcp_wmem": _only(
        {"4096 16384 4194304"}, "send buffer sized from tcp_wmem (Linux grows it from tcp_wmem[1])"
    ),
    "net.ipv4.tcp_rfc1337": _to("rfc1337", _flag),
    "net.ipv4.tcp_fin_timeout": _to("fin_wait_2_timeout", float),
    "net.ipv4.tcp_syn_retries": _to("syn_retries"),
    "net.ipv4.tcp_synack_retries": _to("synack_retries"),
    "net.ipv4.tcp_retries1": _to("retries1"),
    "net.ipv4.tcp_retries2": _to("retries2"),
    "net.ipv4.tcp_orphan_retries": _to("orphan_retries", lambda v: _int(v) or 8),
    "net.ipv4.tcp_keepalive_time": _to("keepalive_idle", float),
    "net.ipv4.tcp_keepalive_intvl": _to("keepalive_interval", float),
    "net.ipv4.tcp_keepalive_probes": _to("keepalive_count"),
    "net.ipv4.tcp_rto_min_us": _to("rto_min", lambda v: _int(v) / 1e6),
    "net.ipv4.tcp_rto_max_ms": _to("rto_max", _ms),
    "net.ipv4.tcp_congestion_control": _to("congestion_control", _congestion, "{value} congestion control", {"reno"}),
    "net.ipv4.tcp_ecn": _to("ecn", _ecn),
    "net.ipv4.tcp_fastopen": _to("fastopen", _int, "TCP Fast Open (RFC 7413) on the server side", {"0", "1"}),
    "net.ipv4.tcp_fastopen_key": _to("fastopen_key", str, "TCP Fast Open (RFC 7413) cookies"),
    "net.ipv4.tcp_syncookies": _to("syncookies", _int, "SYN cookies (RFC 4987)", {"0"}),
    "net.ipv4.tcp_syn_linear_timeouts": _to("syn_linear_timeouts"),
    "net.ipv4.tcp_notsent_lowat": _to("notsent_lowat", _int, "a default TCP_NOTSENT_LOWAT", {"4294967295", "-1"}),
    "net.ipv4.tcp_min_snd_mss": _to("min_snd_mss", _int, "a floor under the peer's MSS option (tcp_min_snd_mss)"),
    "net.ipv4.tcp_abort_on_overflow": _only({"0"}, "resetting connections the accept queue cannot take"),
    "net.ipv4.tcp_autocorking": _only({"0"}, "autocorking"),
    "net.ipv4.tcp_no_metrics_save": _only({"1"}, "a per-destination metrics cache"),
    "net.ipv4.tcp_dsack": _to("dsack", _flag),
    "net.ipv4.tcp_frto": _only({"0"}, "F-RTO (RFC 5682)"),
    # tail loss probes (RFC 8985 7) are values 3 and 4; 1 and 2 (RFC 5827 early retransmit,
    # gone from Linux) leave them off too
    "net.ipv4.tcp_early_retrans": _to("tlp", lambda v: _int(v) in (3, 4)),
    "net.ipv4.tcp_recovery": _to("rack", lambda v: bool(_int(v) & 1)),  # bit 0: RACK (RFC 8985)
    "net.ipv4.tcp_reordering": _to("reordering"),
    "net.ipv4.tcp_max_reordering": _to("max_reordering"),
    "net.ipv4.tcp_thin_linear_timeouts": _only({"0"}, "linear timeouts for thin streams"),
    "net.ipv4.tcp_thin_dupack": _only({"0"}, "early retransmit for thin streams"),
    "net.ipv4.tcp_mtu_probing": _only({"0"}, "packetization-layer path MTU discovery (RFC 4821)"),
    "net.ipv4.tcp_tw_reuse": _only({"0", "2"}, "reusing TIME-WAIT ports for new connections"),
    "net.ipv4.tcp_adv_win_scale": _only({"1"}, "tcp_adv_win_scale"),
    "net.ipv4.tcp_app_win": _only({"31"}, "tcp_app_win"),
    "net.ipv4.tcp_stdurg": _only({"0"}, "RFC 1122's reading of the urgent pointer"),
    "net.ipv4.tcp_shrink_window": _only({"0"}, "shrinking the receive window"),
    "net.ipv4.tcp_workaround_signed_windows": _only({"0"}, "the signed-window workaround"),
    "net.ipv4.tcp_retrans_collapse": _only({"0"}, "collapsing retransmissions"),
    "net.ipv4.tcp_comp_sack_nr": _only({"0"}, "compressed SACKs"),
    "net.ipv4.tcp_reflect_tos": _only({"0"}, "reflecting the peer's TOS"),
    "net.ipv4.tcp_fwmark_accept": _only({"0"}, "fwmark"),
    "net.ipv4.tcp_l3mdev_accept": _only({"0"}, "VRF devices"),
    "net.ipv4.tcp_migrate_req": _only({"0"}, "SO_REUSEPORT request migration"),
    "net.ipv4.tcp_plb_enabled": _only({"0"}, "protective load balancing"),
    "net.ipv4.tcp_max_tw_buckets": _only(lambda n: n >= 131072, "a TIME-WAIT bucket limit"),
    "net.ipv4.tcp_max_syn_backlog": _only(lambda n: n >= 2048, "a SYN queue limit apart from the backlog"),
    "net.ipv4.tcp_tso_win_divisor": _only(set(), _TSO),
    "net.ipv4.tcp_min_tso_segs": _only(set(), _TSO),
    "net.ipv4.tcp_tso_rtt_log": _only(set(), _TSO),
    "net.ipv4.tcp_limit_output_bytes": _only(set(), _TSO),
    "net.ipv4.tcp_pingpong_thresh": _only(set(), "Linux's delayed-ACK ping-pong mode"),
    "net.ipv4.tcp_backlog_ack_defer": _only(set(), "deferring ACKs of the socket backlog"),
    "net.ipv4.ip_no_pmtu_disc": _only({"0"}, "sending without DF"),
    "net.ipv4.route.min_pmtu": _only({"552"}, "a path-MTU floor other than 552"),
    "net.ipv4.ip_local_port_range": _only({"32768 60999"}, "another ephemeral port range"),
    "net.core.somaxconn": _only({"4096"}, "a listen-backlog cap other than 4096"),
    "net.core.wmem_max": _only({"4194304"}, "an SO_SNDBUF limit other than 4194304"),
    "net.core.default_qdisc": _only({"pfifo_fast", "pfifo"}, "queueing disciplines (fq pacing)"),
    # Knobs that only tune a mechanism that stays off (ECN fallback, MTU probing, pacing without
    # fq or BBR, TCP's early demux, opt-in MPTCP, protective load balancing), and tcp_fack, which
    # Linux ignores since 4.15: no TCP behaviour to honour.
    **dict.fromkeys(
        [
            "net.ipv4.tcp_fack",
            "net.ipv4.tcp_ecn_fallback",
            "net.ipv4.tcp_base_mss",
            "net.ipv4.tcp_probe_interval",
            "net.ipv4.tcp_probe_threshold",
            "net.ipv4.tcp_mtu_probe_floor",
            "net.ipv4.tcp_pacing_ss_ratio",
            "net.ipv4.tcp_pacing_ca_ratio",
            "net.ipv4.tcp_early_demux",
            "net.mptcp.enabled",
            "net.ipv4.tcp_fastopen_blackhole_timeout_sec",
            "net.ipv4.tcp_plb_cong_thresh",
            "net.ipv4.tcp_plb_idle_rehash_rounds",
            "net.ipv4.tcp_plb_rehash_rounds",
            "net.ipv4.tcp_plb_suspend_rto_sec",
            "net.ipv4.tcp_comp_sack_delay_ns",
            "net.ipv4.tcp_comp_sack_slack_ns",
            "net.core.rmem_default",
            "net.core.wmem_default",
        ],
        Setting((), _any),
    ),
}


def _zero(v: str) -> float:
    """Only 0 (no limit) is a value tcplab's setting can take."""
    if _int(v) != 0:
        raise Unsupported(v)
    return 0.0


def _maxsockbuf(v: str) -> int:
    """kern.ipc.maxsockbuf (sb_max) as the buffer limit the window scale is chosen for. FreeBSD
    takes the smallest scale with TCP_MAXWIN << scale >= sb_max (tcp_connect, syncache_add);
    Config.wscale takes ilog2(limit) - 15, so the limit is the power of two of that scale."""
    sb_max, shift = _int(v), 0
    while shift < 14 and (0xFFFF << shift) < sb_max:
        shift += 1
    return 1 << (shift + 15)


def _rfc1323(v: str) -> tuple[bool, bool]:
    n = _int(v)
    if not 0 <= n <= 3:
        raise Unsupported(v)
    return n in (1, 2), n in (1, 3)  # (window scaling, timestamps)


_FREEBSD: dict[str, Setting] = {
    "net.inet.tcp.rfc1323": Setting(
        (("window_scaling", lambda v: _rfc1323(v)[0]), ("timestamps", lambda v: _rfc1323(v)[1]))
    ),
    "net.inet.tcp.sack.enable": _to("sack", _flag),
    "net.inet.tcp.sendspace": _to("snd_buf"),
    "net.inet.tcp.recvspace": _to("rcv_buf"),
    "net.inet.tcp.msl": _to("msl", _ms),
    "net.inet.tcp.rexmit_initial": _to("rto_initial", _ms),
    "net.inet.tcp.rexmit_min": _to("rto_min", _ms),
    "net.inet.tcp.delacktime": _to("delayed_ack", _ms),
    "net.inet.tcp.keepidle": _to("keepalive_idle", _ms),
    "net.inet.tcp.keepintvl": _to("keepalive_interval", _ms),
    "net.inet.tcp.keepcnt": _to("keepalive_count"),
    "net.inet.tcp.finwait2_timeout": _to("fin_wait_2_timeout", _ms),
    "net.inet.tcp.insecure_rst": _to("rfc5961", lambda v: not _flag(v)),
    "net.inet.tcp.insecure_syn": _to("rfc5961", lambda v: not _flag(v)),
    "net.inet.tcp.mssdflt": _to("default_peer_mss"),
    "net.inet.tcp.initcwnd_segments": _to("initial_window"),
    "net.inet.tcp.cc.algorithm": _to("congestion_control", _congestion, "{value} congestion control", {"newreno"}),
    "net.inet.tcp.ecn.enable": _to("ecn", _bsd_ecn, "ECN++ or AccECN"),
    "net.inet.tcp.syncookies": _to("syncookies", _int, "SYN cookies (RFC 4987)", {"0"}),
    "net.inet.tcp.syncookies_only": _only({"0"}, "SYN cookies (RFC 4987)"),
    # Config.fastopen holds Linux's bits: the client's (0x1) always, the server's (0x2) on request
    "net.inet.tcp.fastopen.server_enable": _to("fastopen", lambda v: 0x3 if _flag(v) else 0x1),
    "net.inet.tcp.fastopen.client_enable": _only({"0", "1"}, "TCP Fast Open (RFC 7413)"),
    "net.inet.tcp.hostcache.purgenow": Setting((), _any),  # tcplab caches nothing per host
    "net.inet.tcp.hostcache.enable": _only({"0"}, "a host cache (RTT and MSS per destination)"),
    "net.inet.tcp.always_keepalive": _only({"0"}, "keepalives without SO_KEEPALIVE"),
    "net.inet.tcp.blackhole": _only({"0"}, "dropping segments to closed ports without a RST"),
    "net.inet.tcp.drop_synfin": _only({"1"}, "accepting SYN+FIN"),
    "net.inet.tcp.rfc3042": _only({"1"}, "turning Limited Transmit (RFC 3042) off"),
    "net.inet.tcp.rfc6675_pipe": _only({"1"}, "a pipe estimate other than RFC 6675's"),
    "net.inet.tcp.rfc3390": Setting((), _any),  # initcwnd_segments decides (FreeBSD 11+)
    "net.inet.tcp.do_prr": _to("prr", _flag),
    "net.inet.tcp.tso": _only({"0"}, _TSO),
    "net.inet.tcp.path_mtu_discovery": _only({"1"}, "sending without DF"),
    "net.inet.tcp.functions_default": _only({"freebsd"}, "FreeBSD's alternative TCP stacks (RACK, BBR)"),
    "net.inet.tcp.newcwv": _only({"0"}, "new congestion window validation (RFC 7661)"),
    "net.inet.tcp.ts_offset_per_conn": _only({"1"}, "a timestamp clock shared by all connections"),
    "net.inet.tcp.nolocaltimewait": Setting((), _any),  # local connections only; tcplab has none
    "net.inet.tcp.ack_war_cnt": _to("invalid_ratelimit", _zero, "challenge-ACK limit of N per window"),
    "kern.ipc.maxsockbuf": _to("rcv_buf_max", _maxsockbuf),
    "kern.ipc.somaxconn": _only({"4096"}, "a listen-backlog cap other than 4096"),
    "kern.ipc.soacceptqueue": _only({"4096"}, "a listen-backlog cap other than 4096"),
}

SETTINGS: dict[str, Setting] = {**_LINUX, **_FREEBSD}


def apply_sysctl(config: Config, name: str, value: str) -> str | None:
    """Apply one ``sysctl name=value`` to ``config``; the SKIP reason when tcplab cannot."""
    name = name.replace("/", ".")
    value = " ".join(value.strip().strip("'\"").split())
    setting = SETTINGS.get(name)
    if setting is None:
        if name.startswith(("net.ipv4.tcp", "net.inet.tcp", "net.ipv6", "net.core", "net.ipv4", "kern.ipc")):
            return f"sysctl {name}={value}: tcplab has no setting of that name"
        return f"sysctl {name}={value}: not a TCP setting"
    fields = [(f, convert) for f, convert in setting.fields if f in _FIELDS]
    try:
        if fields:
            converted = [(f, convert(value)) for f, convert in fields]
            for f, v in converted:
                setattr(config, f, v)
            return None
        if setting.accepts is not None and setting.accepts(value):
            return None
    except Unsupported:
        pass
    except (ValueError, IndexError, TypeError):
        raise Broken(f"sysctl {name}={value}: invalid value (the command fails)") from None
    lacks = (setting.lacks or "such behaviour").format(value=value)
    return f"sysctl {name}={value}: tcplab has no {lacks}"


# ---- shell lines ------------------------------------------------------------------------------
_PROC = re.compile(r"/proc/sys/(\S+)")


def _commands(text: str) -> list[str]:
    """The commands of a shell text: lines, ``;`` and ``&&`` outside quotes; comments dropped."""
    out: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        part, quote, i = "", "", 0
        while i < len(line):
            c = line[i]
            if quote:
                quote = "" if c == quote else quote
            elif c in "'\"":
                quote = c
            elif c == "#" and (not part or part[-1].isspace()):
                break
            elif c == ";" or line.startswith("&&", i):
                out.append(part)
                part, i = "", i + (2 if c == "&" else 1)
                continue
            part += c
            i += 1
        out.append(part)
    return [c.strip() for c in out if c.strip()]


def _without_redirections(words: list[str]) -> list[str]:
    """``> /dev/null 2>&1`` does not change what a sysctl does."""
    out, skip = [], False
    for w in words:
        if skip:
            skip = False
        elif w in (">", "2>", "1>", ">>"):
            skip = True
        elif w in ("2>&1", ">/dev/null", "2>/dev/null", "&>/dev/null", "1>/dev/null"):
            continue
        else:
            out.append(w)
    return out


_ARITH = re.compile(r"\$\(\(([^()]*(?:\([^()]*\)[^()]*)*)\)\)")


def _arith(expr: str) -> int:
    """The value of a shell ``$((expr))`` of integers (``15*1024*1024``), without running it."""
    tree = ast.parse(expr.strip(), mode="eval")
    ops: dict[type, Callable[[int, int], int]] = {
        ast.Add: lambda a, b: a + b,
        ast.Sub: lambda a, b: a - b,
        ast.Mult: lambda a, b: a * b,
        ast.FloorDiv: lambda a, b: a // b,
        ast.Div: lambda a, b: int(a / b),
        ast.Mod: lambda a, b: a % b,
        ast.LShift: lambda a, b: a << b,
        ast.RShift: lambda a, b: a >> b,
    }

    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](value(node.left), value(node.right))
        raise ValueError(expr)

    return value(tree.body)


def _expand(command: str) -> str:
    """Shell arithmetic in values (``"4096 540000 $((15*1024*1024))"``) is worked out."""
    try:
        return _ARITH.sub(lambda m: str(_arith(m.group(1).replace("/", "//"))), command)
    except (ValueError, SyntaxError, ZeroDivisionError):
        return command


class Shell:
    """Runs the shell lines of one script on one Config (see the module docstring)."""

    def __init__(self, config: Config, script_dir: str) -> None:
        self.config = config
        self.script_dir = script_dir
        self._depth = 0

    def run(self, text: str, line: int | None) -> None:
        for command in _commands(text):
            self._command(command, line)

    def _command(self, command: str, line: int | None) -> None:
        try:
            raw = shlex.split(_expand(command))
        except ValueError as exc:
            raise Broken(f"shell command '{command}': {exc}", line) from None
        if len(raw) == 4 and raw[0] == "echo" and raw[2] == ">" and _PROC.match(raw[3]):
            self._set(_PROC.match(raw[3]).group(1), raw[1], line)  # type: ignore[union-attr]
            return
        words = _without_redirections(raw)
        if not words:
            return
        head = os.path.basename(words[0])
        if head == "sysctl":
            self._sysctl(words[1:], command, line)
        elif head == "set_sysctls.py":
            for w in words[1:]:
                self._set(*self._proc_setting(w, command, line), line)
        elif self._is_script(words[0]):
            self._script(words[0], line)
        else:
            raise Skip(f"shell command '{command}' (drill never runs shell commands)", line)

    def _sysctl(self, args: list[str], command: str, line: int | None) -> None:
        for w in args:
            if w.startswith("-"):
                if set(w[1:]) - set("wqen"):
                    raise Skip(f"shell command '{command}' (sysctl option {w})", line)
            elif "=" in w:
                name, value = w.split("=", 1)
                self._set(name, value, line)
            # a bare name only reads the setting

    def _proc_setting(self, word: str, command: str, line: int | None) -> tuple[str, str]:
        m = _PROC.match(word)
        if m is None or "=" not in word:
            raise Skip(f"shell command '{command}' (drill never runs shell commands)", line)
        path, value = m.group(1).split("=", 1)
        return path, value

    def _set(self, name: str, value: str, line: int | None) -> None:
        reason = apply_sysctl(self.config, name, value)
        if reason:
            raise Skip(reason, line)

    def _path(self, word: str) -> str:
        word = word.replace("$(dirname $0)", ".")
        return word if os.path.isabs(word) else os.path.join(self.script_dir, word)

    def _is_script(self, word: str) -> bool:
        return word.endswith(".sh") or ("/" in word and os.path.isfile(self._path(word)))

    def _script(self, word: str, line: int | None) -> None:
        path = self._path(word)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise Broken(f"shell script {word}: {exc.strerror or exc}", line) from None
        if self._depth > 8:
            raise Broken(f"shell script {word} runs itself", line)
        self._depth += 1
        try:
            self.run(text, line)
        finally:
            self._depth -= 1

"""Does what tcplab sent match an outbound script line?

``match(line, sent, ...)`` compares the first unconsumed segment(s) tcplab sent on the connection
under test with a ``>`` line and returns how many segments the line consumed, or raises
:class:`Mismatch` naming the first difference. What is compared (packetdrill's rules): IP version
and the IP settings the line writes (``[ect0]``, ``(tos ..)``, ``(ttl ..)``), every TCP flag, the
sequence number, the acknowledgment field (its raw value when the ACK flag is off), the window
(when written), the urgent pointer, the options (kinds in order and their values; TS val only
with ``--tcp_ts_tick_usecs``, TS ecr never), the payload length and bytes. Several contiguous,
alike segments may together match one line unless ``--strict_segments``.

Comparison modes: ``strict`` (packetdrill's), ``portable`` (options compared as a set of
meanings without NOP/EOL, PSH and the window not compared).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tcplab.drill import ast as A
from tcplab.drill.flows import Flow, mod32
from tcplab.drill.outcome import Skip
from tcplab.drill.parser import parse_flags_text
from tcplab.drill.text import Sent, ecn_word, options_text
from tcplab.wire.tcp import (
    EOL,
    MSS,
    NOP,
    Flags,
    Sack,
    SackPermitted,
    Timestamps,
    UnknownOption,
    WindowScale,
    flags_str,
    parse_flags,
)

COMPARISONS = ("strict", "portable")
ACCECN = "AccECN (RFC 9768: the AE flag and the ACE counter) is not in tcplab"


class Mismatch(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Rules:
    compare: str = "strict"
    strict_segments: bool = False
    zero_payloads: bool = True  # every byte written came from `...` (zeros)
    ts_tick_usecs: int = 0  # packetdrill --tcp_ts_tick_usecs: check outbound TS val
    tolerance_usecs: int = 4000
    v6: bool = False


def line_flags(text: str, line: int) -> Flags:
    """The TCP flags a line writes; AccECN's AE flag and ACE values SKIP (tcplab has none)."""
    letters, ace = parse_flags_text(text)
    if ace is not None or "A" in letters:
        raise Skip(ACCECN, line)
    return parse_flags(letters or "-")


def match(line: A.Packet, ev: A.Event, sent: list[Sent], rules: Rules) -> int:
    """The number of segments ``line`` consumed from ``sent`` (see the module docstring)."""
    first = sent[0]
    seg, flow = first.seg, first.flow
    assert flow is not None  # only segments of the connection under test are matched
    if (first.packet.version == 6) != rules.v6:
        raise Mismatch(f"wrong IP version: IPv{first.packet.version}")
    _check_ip(line, first)
    want = line_flags(line.flags, ev.line)
    got = seg.flags
    if rules.compare == "portable":
        want &= ~Flags.PSH
        got &= ~Flags.PSH
    syn = bool(got & Flags.SYN)
    if want & Flags.SYN and got == want:
        flow.script_syn_line(line.start)
    split = _may_split(line, len(seg.payload), rules)
    if got != want and not (split and (got | Flags.PSH | Flags.FIN) == (want | Flags.PSH | Flags.FIN)):
        raise Mismatch(f"wrong flags: {flags_str(seg.flags)}, expected {line.flags}")
    seq = flow.outbound_seq(seg.seq, syn)
    if seq != line.start:
        raise Mismatch(f"wrong sequence number: {seq}, expected {line.start}")
    _check_ack(line, seg, flow, syn)
    if line.win is not None and rules.compare == "strict" and seg.window != line.win:
        raise Mismatch(f"wrong window: {seg.window}, expected {line.win}")
    if seg.urgent != (line.urg or 0):
        raise Mismatch(f"wrong urgent pointer: {seg.urgent}, expected {line.urg or 0}")
    if not line.any_options:
        _check_options(line, seg.options, flow, syn, rules)
    count, length = 1, len(seg.payload)
    if length < line.length and split:
        count, length = _gather(line, sent, want, rules)
    if length != line.length:
        raise Mismatch(f"wrong payload length: {length}, expected {line.length}")
    last = sent[count - 1].seg.flags & ~(Flags.PSH if rules.compare == "portable" else Flags(0))
    if count > 1 and last != want:
        raise Mismatch(f"wrong flags: {flags_str(sent[count - 1].seg.flags)}, expected {line.flags}")
    if count == 1 and got != want:
        raise Mismatch(f"wrong flags: {flags_str(seg.flags)}, expected {line.flags}")
    if rules.zero_payloads and any(any(s.seg.payload) for s in sent[:count]):
        raise Mismatch("wrong payload bytes (expected zeros)")
    _remember_ts(line, seg, flow, rules)
    return count


def _check_ip(line: A.Packet, sent: Sent) -> None:
    ip = line.ip
    if ip is None:
        return
    header = sent.packet.header
    tos = int(header.tos if header.version == 4 else header.traffic_class)  # type: ignore[union-attr]
    if ip.ecn is not None:
        got = ecn_word(sent.packet)
        ok = got in ("ect0", "ect1") if ip.ecn == "ect01" else got == ip.ecn
        if not ok:
            raise Mismatch(f"wrong IP ECN field: [{got}], expected [{ip.ecn}]")
    if ip.tos is not None and tos != ip.tos:
        raise Mismatch(f"wrong IP TOS: 0x{tos:x}, expected 0x{ip.tos:x}")
    if ip.ttl is not None and header.ttl != ip.ttl:
        raise Mismatch(f"wrong IP TTL: {header.ttl}, expected {ip.ttl}")


def _check_ack(line: A.Packet, seg: Any, flow: Flow, syn: bool) -> None:
    want = line.ack or 0
    if seg.flags & Flags.ACK:
        got = flow.outbound_ack(seg.ack, syn)
        if line.ack is not None and got != want:
            raise Mismatch(f"wrong ack: {got}, expected {want}")
    elif seg.ack != want:
        raise Mismatch(f"wrong acknowledgment field: {seg.ack} (no ACK flag), expected {want}")


def _may_split(line: A.Packet, length: int, rules: Rules) -> bool:
    return not rules.strict_segments and 0 < length < line.length


def _gather(line: A.Packet, sent: list[Sent], want: Flags, rules: Rules) -> tuple[int, int]:
    """Several contiguous segments, identical headers, all but the last of one size."""
    first = sent[0].seg
    size = len(first.payload)
    total, count, last_len = size, 1, size
    nxt = mod32(first.seq + size)
    for s in sent[1:]:
        seg = s.seg
        if total >= line.length or last_len != size:
            break
        alike = (
            seg.seq == nxt
            and seg.ack == first.ack
            and seg.window == first.window
            and (seg.src_port, seg.dst_port) == (first.src_port, first.dst_port)
            and [type(o) for o in seg.options] == [type(o) for o in first.options]
            and (seg.flags | Flags.PSH | Flags.FIN) == (want | Flags.PSH | Flags.FIN)
        )
        if not alike:
            break
        last_len = len(seg.payload)
        total += last_len
        count += 1
        nxt = mod32(seg.seq + last_len)
    return count, total


# ---- options ------------------------------------------------------------------------------------
def _want_key(opt: A.PacketOption, flow: Flow, syn: bool) -> tuple:
    if isinstance(opt, A.OptNop):
        return ("nop",)
    if isinstance(opt, A.OptEol):
        return ("eol",)
    if isinstance(opt, A.OptMss):
        return ("mss", opt.value)
    if isinstance(opt, A.OptWscale):
        return ("wscale", opt.shift)
    if isinstance(opt, A.OptSackOK):
        return ("sackOK",)
    if isinstance(opt, A.OptSack):
        return ("sack", tuple(opt.blocks))
    if isinstance(opt, A.OptTimestamp):
        return ("TS",)
    if isinstance(opt, A.OptFastOpen):
        return ("FOEXP" if opt.experimental else "FO", opt.cookie)
    return ("md5", opt.digest)


def _got_key(opt: Any, flow: Flow, syn: bool) -> tuple:
    t = type(opt)
    if t is NOP:
        return ("nop",)
    if t is EOL:
        return ("eol",)
    if t is MSS:
        return ("mss", opt.value)
    if t is WindowScale:
        return ("wscale", opt.shift)
    if t is SackPermitted:
        return ("sackOK",)
    if t is Sack:
        return ("sack", tuple((flow.outbound_ack(a, syn), flow.outbound_ack(b, syn)) for a, b in opt.blocks))
    if t is Timestamps:
        return ("TS",)
    if t is UnknownOption and opt.opt_kind == 34:
        return ("FO", bytes(opt.data))
    if t is UnknownOption and opt.opt_kind == 254 and bytes(opt.data[:2]) == b"\xf9\x89":
        return ("FOEXP", bytes(opt.data[2:]))
    if t is UnknownOption and opt.opt_kind == 19:
        return ("md5", bytes(opt.data))
    return ("kind", opt.kind)


def _key_text(key: tuple) -> str:
    if key[0] == "sack":
        return "sack " + " ".join(f"{a}:{b}" for a, b in key[1])
    if key[0] in ("FO", "FOEXP", "md5"):
        return f"{key[0]} {key[1].hex()}".rstrip()
    return " ".join(str(p) for p in key)


def _check_options(line: A.Packet, got: tuple[Any, ...], flow: Flow, syn: bool, rules: Rules) -> None:
    want_opts = line.options or ()
    w = [_want_key(o, flow, syn) for o in want_opts]
    g = [_got_key(o, flow, syn) for o in got]
    if rules.compare == "portable":
        w = sorted((x for x in w if x[0] not in ("nop", "eol")), key=repr)
        g = sorted((x for x in g if x[0] not in ("nop", "eol")), key=repr)
    else:
        while w and w[-1] == ("eol",):
            w.pop()
        while g and g[-1] == ("eol",):
            g.pop()
    if w != g:
        got_text = options_text(got, flow, syn) or "none"
        raise Mismatch(f"wrong options: <{got_text}>, expected <{','.join(_key_text(x) for x in w) or 'none'}>")
    if rules.ts_tick_usecs:
        _check_ts_val(line, got, flow, rules)


def _script_ts(line: A.Packet) -> A.OptTimestamp | None:
    return next((o for o in line.options or () if isinstance(o, A.OptTimestamp)), None)


def _check_ts_val(line: A.Packet, got: tuple[Any, ...], flow: Flow, rules: Rules) -> None:
    """packetdrill --tcp_ts_tick_usecs: TS val, in script space, within the tolerance."""
    want = _script_ts(line)
    ts = next((o for o in got if type(o) is Timestamps), None)
    if want is None or want.val is None or ts is None or flow.first_ts is None:
        return
    first_script, first_actual = flow.first_ts
    in_script = mod32(first_script + ts.val - first_actual)
    diff = (in_script - want.val + 2**31) % 2**32 - 2**31
    if abs(diff) * rules.ts_tick_usecs > rules.tolerance_usecs:
        raise Mismatch(f"wrong TS val: {in_script}, expected {want.val} (tolerance {rules.tolerance_usecs} us)")


def _remember_ts(line: A.Packet, seg: Any, flow: Flow, rules: Rules) -> None:
    """Map the script's TS val to what tcplab sent, for the ecr of later inbound lines."""
    want = _script_ts(line)
    ts = next((o for o in seg.options if type(o) is Timestamps), None)
    if want is None or want.val is None or ts is None:
        return
    flow.ts_map[want.val] = ts.val
    if flow.first_ts is None:
        flow.first_ts = (want.val, ts.val)

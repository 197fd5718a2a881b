"""The named TCP stories behind ``tcplab demo``.

``SCENARIOS`` maps a name to a :class:`Scenario` (``name``, one-line ``description``, a paragraph
of ``explanation``, ``left``/``right`` host names, ``run(seed=0, loss=0.0, delay=None,
**options) -> Run``). A :class:`Run` holds the ``log`` (``tcplab.trace.events.EventLog``), the
``network``, the ``hosts``, a one-line ``summary`` and ``paths()``: each endpoint's state path.

    from tcplab.scenarios import SCENARIOS
    run = SCENARIOS["simultaneous-close"].run(seed=1)
    run.paths()["client"]   # [['CLOSED', 'SYN_SENT', 'ESTABLISHED', 'FIN_WAIT_1', 'CLOSING', ...]]

Every story runs on the simulated network (client 198.18.0.1, server 198.18.0.2, 50 ms one
way) in virtual time, so a 60 s TIME_WAIT costs nothing. Together the scenarios take every row
of ``tcplab.tcp.states.TRANSITIONS``.
"""

from __future__ import annotations

from tcplab.scenarios import classic, edges, incarnations, modern
from tcplab.scenarios.base import SERVER_PORT, Bench, Run, Scenario, scenario_config

__all__ = ["SCENARIOS", "Bench", "Run", "Scenario", "scenario_config"]

_LIST = [
    Scenario(
        "handshake",
        "Three-way handshake: SYN, SYN-ACK, ACK; both ends ESTABLISHED.",
        "The client's connect() is an active OPEN (RFC 9293 3.10.1): it picks an initial sequence "
        "number, sends SYN and enters SYN_SENT. The server's listening socket is a passive OPEN "
        "in LISTEN; the SYN creates a child connection that answers SYN-ACK and enters SYN_RCVD "
        "(3.10.7.2). The SYN-ACK acknowledges the client's SYN, so the client is ESTABLISHED "
        "(3.10.7.3) and sends the ACK that moves the server's child to ESTABLISHED (3.10.7.4, "
        "fifth check). Each side learns the other's ISN and MSS; the server application's "
        "accept() returns only now.",
        classic.handshake,
    ),
    Scenario(
        "active-close",
        "The client closes first: FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT for 2MSL.",
        "close() on an ESTABLISHED connection sends FIN and enters FIN_WAIT_1 (RFC 9293 3.10.4). "
        "The server's ACK of that FIN moves the client to FIN_WAIT_2; the server, having "
        "received FIN, is in CLOSE_WAIT and its application reads end-of-file. When it closes "
        "too, it sends its own FIN (LAST_ACK); the client acknowledges it and enters TIME_WAIT "
        "(3.10.7.4, eighth), where it stays 2 MSL (60 s here, as Linux) so that a lost last ACK "
        "can be repeated and old duplicates die out (3.6). The server goes to CLOSED when the "
        "last ACK arrives. Whoever closes first pays the TIME_WAIT.",
        classic.active_close,
    ),
    Scenario(
        "server-close",
        "The server closes first: now the server sits in TIME_WAIT.",
        "The same four-way close as active-close with the roles swapped (RFC 9293 3.10.4, "
        "3.10.7.4): the server sends the first FIN, so it walks FIN_WAIT_1, FIN_WAIT_2 and "
        "TIME_WAIT, while the client goes CLOSE_WAIT and LAST_ACK. This is why busy servers "
        "accumulate TIME_WAIT connections, and why a restarted server may find its port busy "
        "(see time-wait-restart).",
        classic.server_close,
    ),
    Scenario(
        "half-close",
        "The client shuts down its sending side and keeps receiving in FIN_WAIT_2.",
        "shutdown(SHUT_WR) sends FIN after the queued request: the client can no longer send but "
        "can still receive (RFC 9293 3.6: CLOSE means 'I have no more to send'). The server "
        "reads the request and end-of-file, sits in CLOSE_WAIT, and goes on sending its answer "
        "in three chunks, which the client receives in FIN_WAIT_2 (3.10.7.4, seventh: text is "
        "still processed in FIN_WAIT_1/2). Then the server closes (LAST_ACK) and the client "
        "enters TIME_WAIT.",
        classic.half_close,
    ),
    Scenario(
        "fin-ack-together",
        "The peer's ACK and FIN arrive in one segment: FIN_WAIT_1 straight to TIME_WAIT.",
        "When the segment that carries the peer's FIN also acknowledges our FIN, FIN_WAIT_1 "
        "skips FIN_WAIT_2 and CLOSING: 'if our FIN has been ACKed ... enter the TIME-WAIT state' "
        "(RFC 9293 3.10.7.4, eighth). Linux makes this common by delaying the ACK of a FIN "
        "until the application closes; tcplab acknowledges a FIN at once, so here the lone ACK "
        "is lost (a fault rule) and the server's FIN, sent as soon as the application sees "
        "end-of-file, carries the acknowledgment.",
        classic.fin_ack_together,
    ),
    Scenario(
        "simultaneous-open",
        "Both ends send SYN at once: SYN_SENT, SYN_RCVD, ESTABLISHED on both.",
        "Two sockets bound to known ports connect to each other at the same instant. Each SYN "
        "reaches a connection in SYN_SENT, which enters SYN_RCVD and answers SYN-ACK (RFC 9293 "
        "3.10.7.3, fourth: 'Otherwise, enter SYN-RECEIVED, form a SYN,ACK segment'). Each "
        "SYN-ACK then acknowledges the other's SYN and both are ESTABLISHED (Figure 7 of the "
        "RFC). One connection, no listener involved.",
        classic.simultaneous_open,
    ),
    Scenario(
        "simultaneous-close",
        "Both ends send FIN at once: FIN_WAIT_1, CLOSING, TIME_WAIT on both.",
        "Both applications close at the same instant, so the FINs cross. Each end receives a "
        "FIN in FIN_WAIT_1 before its own FIN is acknowledged and enters CLOSING (RFC 9293 "
        "3.10.7.4, eighth); the ACKs cross next and each end moves from CLOSING to TIME_WAIT. "
        "Both ends wait 2 MSL (Figure 13 of the RFC).",
        classic.simultaneous_close,
    ),
    Scenario(
        "refused",
        "SYN to a port nobody listens on: RST, SYN_SENT to CLOSED, connection refused.",
        "No socket listens on port 9, so the server host treats the SYN as a segment for a "
        "CLOSED connection and answers with <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (RFC 9293 "
        "3.10.7.1). In SYN_SENT a RST that acknowledges our SYN means 'error: connection reset' "
        "(3.10.7.3): the client goes to CLOSED and connect() fails with ECONNREFUSED.",
        classic.refused,
    ),
    Scenario(
        "syn-timeout",
        "SYNs go unanswered: retransmitted with backoff, then CLOSED, timed out.",
        "Every SYN is lost. The client retransmits it on the retransmission timer, doubling the "
        "timeout each time (RFC 6298 5.5: 1, 2, 4, ... 64 s), and gives up after "
        "tcp_syn_retries = 6 retransmissions, as Linux (RFC 9293 3.8.3, R2 for SYN: at least "
        "3 minutes in the RFC). The connection goes to CLOSED and connect() fails with "
        "ETIMEDOUT.",
        classic.syn_timeout,
    ),
    Scenario(
        "reset-in-syn-rcvd",
        "An old duplicate SYN: the listener's child in SYN_RCVD gets RST and returns to LISTEN.",
        "RFC 9293 Figure 8 (recovery from an old duplicate SYN): a SYN from a dead incarnation "
        "reaches the listener, whose child answers SYN-ACK from SYN_RCVD. The client host has no "
        "such connection and answers the SYN-ACK with RST (3.10.7.1). A RST in SYN_RCVD of a "
        "passively opened connection 'returns it to the LISTEN state' (3.10.7.4, second check): "
        "the child is discarded and the listener is untouched, so the real connection that "
        "follows succeeds.",
        classic.reset_in_syn_rcvd,
    ),
    Scenario(
        "close-in-syn-rcvd",
        "close() in SYN_RCVD sends FIN at once: SYN_RCVD to FIN_WAIT_1.",
        "During a simultaneous open the client is in SYN_RCVD when its application closes. "
        "RFC 9293 3.10.4: 'SYN-RECEIVED STATE: If no SENDs have been issued and there is no "
        "pending data to send, then form a FIN segment and send it, and enter FIN-WAIT-1 "
        "state'. The handshake still completes for the server, which receives the FIN in "
        "ESTABLISHED; the close then proceeds as usual.",
        classic.close_in_syn_rcvd,
    ),
    Scenario(
        "listen-then-send",
        "A listening endpoint with a known remote is asked to send: LISTEN to SYN_SENT.",
        "RFC 9293 3.10.2 (SEND in LISTEN): 'If the foreign socket is specified, then change the "
        "connection from passive to active, select an ISS. Send a SYN segment, set SND.UNA to "
        "ISS, SND.NXT to ISS+1. Enter SYN-SENT state.' The data waits in the send buffer and "
        "goes once the connection is ESTABLISHED. BSD sockets have no such call; the story uses "
        "the engine's listen() and send() on a connection of the client host.",
        classic.listen_then_send,
    ),
    Scenario(
        "lost-final-ack",
        "The last ACK of a close is lost: LAST_ACK retransmits FIN, TIME_WAIT re-acknowledges it.",
        "This is what TIME_WAIT is for (RFC 9293 3.6). The client's ACK of the server's FIN is "
        "lost, so the server, in LAST_ACK, retransmits its FIN when its retransmission timer "
        "fires. The client is still in TIME_WAIT: it acknowledges the FIN again and restarts "
        "the 2 MSL timeout (3.10.7.4, eighth: 'TIME-WAIT STATE: Remain in the TIME-WAIT state. "
        "Restart the 2 MSL time-wait timeout'). Had the client gone to CLOSED at once, the FIN "
        "would have drawn a RST and the server's close would have ended in an error.",
        classic.lost_final_ack,
    ),
    Scenario(
        "abort",
        "Abortive close (SO_LINGER 0): RST, both ends CLOSED, no TIME_WAIT.",
        "close() with SO_LINGER {on, 0 s} is ABORT (RFC 9293 3.10.5): the client sends "
        "<SEQ=SND.NXT><CTL=RST> (as Linux does, with an ACK of RCV.NXT and its window: "
        "tcp_send_active_reset), discards its queues and goes straight to CLOSED, without FIN "
        "and without TIME_WAIT. The server's connection accepts the in-window RST (3.10.7.4, "
        "second check) and goes to CLOSED; its next recv() fails with ECONNRESET.",
        classic.abort,
    ),
    Scenario(
        "mss",
        "MSS 1460 against a peer that sends no MSS option (536): segment sizes follow.",
        "Each end may send segments no larger than the MSS the other announced in its SYN; with "
        "no MSS option the default is 536 bytes for IPv4 (RFC 9293 3.7.1, RFC 879). The "
        "client's SYN leaves with its MSS option removed (as an old stack would send it), so "
        "the server sends 536-byte segments, while the client, told 1460 by the server's "
        "SYN-ACK, sends 1460-byte segments. Both send 3072 bytes.",
        classic.mss,
        options={"client_node": classic.StripMSS},
    ),
    Scenario(
        "lossy-transfer",
        "1 MB over a link with 5 % loss and reordering: retransmissions, data intact.",
        "The client sends 1 MiB of random bytes over a link that loses 5 % of packets and "
        "delays 5 % of them so that later ones overtake them. The receiver holds out-of-order "
        "segments and acknowledges the next byte it expects (RFC 9293 3.10.7.4, seventh); "
        "duplicate ACKs trigger fast retransmit (RFC 5681) and the retransmission timer covers "
        "the rest (RFC 6298). The SHA-256 of what arrived equals that of what was sent.",
        classic.lossy_transfer,
        defaults={"loss": 0.05, "reorder": 0.05},
    ),
    Scenario(
        "time-wait-restart",
        "The server restarts at once on its port: EADDRINUSE, then SO_REUSEADDR succeeds.",
        f"The server closed first, so its end of the old connection is in TIME_WAIT on port {SERVER_PORT} "
        f"(RFC 9293 3.6). When the server program restarts, bind() to port {SERVER_PORT} fails with "
        "EADDRINUSE, as on Linux: a connection still uses the port. With SO_REUSEADDR set "
        "before bind(), Linux allows the bind while the old connection is in TIME_WAIT (the "
        "4-tuple of a new connection cannot collide with it: the new clients come from other "
        "ports), and the new listener serves the next client.",
        edges.time_wait_restart,
    ),
    Scenario(
        "backlog",
        "Listener with backlog 2, five clients at once: SYNs dropped, retried, accepted as the queue drains.",
        "listen(2) bounds the listener's queues as Linux does: a SYN queue and an accept queue "
        "that each count as full above 2. Five SYNs arrive together: three are taken, two are "
        "dropped without an answer (net.ipv4.tcp_syncookies=0 here; with Linux's default 1 they "
        "would get SYN cookies: see syn-flood), so their clients retransmit the SYN after 1 s "
        "(RFC 6298). The server accepts one connection every 0.5 s; as the queue drains, "
        "retransmitted SYNs find room, and all five connections are established in the end.",
        edges.backlog,
        config={"syncookies": 0},
    ),
    Scenario(
        "syn-flood",
        "A SYN flood fills the listener's queue; a SYN cookie still lets a real client in.",
        "Spoofed SYNs from addresses that never answer each make a half-open child that waits "
        "in SYN_RCVD, retransmitting its SYN-ACK for a minute: a few of them fill a listen(2) "
        "queue, and without defence every real client's SYN is dropped. With "
        "net.ipv4.tcp_syncookies=1 (Linux's default) a full SYN queue answers with a SYN cookie "
        "(RFC 4987 3.6) and keeps nothing: the SYN-ACK's sequence number is a keyed hash of the "
        "addresses, ports, the client's ISN and the minute, with the MSS coded in it (Linux's "
        "table: 536, 1300, 1440, 1460). The client's ACK brings it back plus one; the server "
        "checks it, rebuilds the SYN it stands for, and only now makes the connection: LISTEN, "
        "SYN_RCVD and ESTABLISHED at once. What a cookie cannot carry is lost unless timestamps "
        "are on (then window scale and SACK ride in the TSval's low bits); here, without them, "
        "the connection goes on with the table's MSS. The spoofed children give up after two "
        "SYN-ACK retransmissions (tcp_synack_retries=2 here to keep the story short; Linux's 5 "
        "take a minute).",
        edges.syn_flood,
        config={"synack_retries": 2},
    ),
    Scenario(
        "rst-everywhere",
        "A RST arrives in every synchronized state (and SYN_RCVD): straight to CLOSED.",
        "RFC 9293 3.10.7.4, second check: in ESTABLISHED, FIN_WAIT_1/2 and CLOSE_WAIT 'any "
        "outstanding RECEIVEs and SEND should receive reset responses ... Enter the CLOSED "
        "state'; in CLOSING, LAST_ACK and TIME_WAIT 'enter the CLOSED state'; in SYN_RCVD of an "
        "actively opened connection 'the connection was refused'. Seven acts: the peer aborts "
        "while we are in FIN_WAIT_1 or FIN_WAIT_2 or it is in CLOSE_WAIT; a FIN retransmitted "
        "from CLOSING or LAST_ACK reaches a host whose connection was killed (ss -K) and draws "
        "a RST (3.10.7.1); RFC 1337's TIME-WAIT assassination (an old ACK provokes an ACK that "
        "provokes a RST); and an abort during a simultaneous open.",
        edges.rst_everywhere,
    ),
    Scenario(
        "abort-everywhere",
        "ABORT in every state: RST where the peer may hold state, silence elsewhere.",
        "RFC 9293 3.10.5: ABORT in LISTEN and SYN_SENT just deletes the TCB (and in SYN_SENT "
        "close() does the same: 3.10.4); in SYN_RCVD, ESTABLISHED, FIN_WAIT_1/2 and CLOSE_WAIT "
        "it sends <SEQ=SND.NXT><CTL=RST> (Linux's carries an ACK of RCV.NXT too); in CLOSING, "
        "LAST_ACK and TIME_WAIT it only deletes the TCB. Sockets abort with close() under "
        "SO_LINGER {1, 0}; the LISTEN act calls the engine directly.",
        edges.abort_everywhere,
    ),
    Scenario(
        "timeout-everywhere",
        "Retransmissions give up in every waiting state; an orphaned FIN_WAIT_2 expires.",
        "When a segment is retransmitted without an answer for too long, TCP gives up and "
        "closes the connection (RFC 9293 3.8.3, R2; RFC 5482 TCP_USER_TIMEOUT, here 10 s; "
        "tcp_synack_retries = 5 for a SYN-ACK). Six acts cut the link in ESTABLISHED, SYN_RCVD, "
        "FIN_WAIT_1, CLOSING, CLOSE_WAIT and LAST_ACK. FIN_WAIT_2 waits for nothing it sent; a "
        "closed (orphaned) socket there expires after Linux's tcp_fin_timeout, 60 s.",
        edges.timeout_everywhere,
    ),
    Scenario(
        "unread-data-close",
        "close() with unread data sends RST instead of FIN, in four states.",
        "RFC 1122 4.2.2.13 (and RFC 9293 3.10.4's note on discarding data): a close() that "
        "would lose received data the application never read sends RST, as Linux does "
        "(tcp_close: 'data was lost'). Four acts: unread data in ESTABLISHED, in CLOSE_WAIT, in "
        "FIN_WAIT_1 after shutdown(SHUT_WR) and in FIN_WAIT_2. Each goes straight to CLOSED and "
        "the peer's connection is reset.",
        edges.unread_data_close,
    ),
    Scenario(
        "time-wait-reopen",
        "A new SYN on the same 4-tuple ends the server's TIME_WAIT early.",
        "The server closed first, so its end is in TIME_WAIT when the client, 5 s later, "
        "connects again from the same port. RFC 9293 3.10.7.4 lets a SYN reopen a connection "
        "in TIME_WAIT when its sequence number is beyond the old one (RFC 6191 with "
        "timestamps); Linux does so (tcp_timewait_state_process, TCP_TW_SYN). The old "
        "incarnation goes to CLOSED and the listener takes the SYN as a new connection.",
        edges.time_wait_reopen,
    ),
    Scenario(
        "syn-in-syn-rcvd",
        "Without RFC 5961, a SYN in SYN_RCVD sends the child back to LISTEN.",
        "RFC 9293 3.10.7.4, fourth check: 'SYN-RECEIVED STATE: If the connection was initiated "
        "with a passive OPEN, then return this connection to the LISTEN state and return.' "
        "This needs RFC 5961 off (tcplab, like Linux, answers such a SYN with a challenge ACK "
        "by default). The handshake's last ACK is lost, a second SYN with another ISN arrives "
        "from the client's port, the child is discarded, and the client's data then reaches "
        "the listener, which answers RST (3.10.7.2, second).",
        edges.syn_in_syn_rcvd,
        config={"rfc5961": False},
    ),
    Scenario(
        "syn-everywhere",
        "Without RFC 5961, an in-window SYN in every synchronized state: RST, straight to CLOSED.",
        "RFC 9293 3.10.7.4, fourth check, for implementations that do not follow RFC 5961 (the "
        "rule of RFC 793): 'If the SYN is in the window it is an error: send a reset, any "
        "outstanding RECEIVEs and SEND should receive reset responses, all segment queues "
        "should be flushed, ... enter the CLOSED state'. The reset answers the SYN as one for "
        "no connection (3.5.2): <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>. Eight acts: a SYN from the "
        "client's port, in the server's window, reaches the server's end in ESTABLISHED, "
        "CLOSE_WAIT, LAST_ACK, FIN_WAIT_1, FIN_WAIT_2, CLOSING and TIME_WAIT (TIME_WAIT by the "
        "RFC's rules, Config.time_wait_rules='rfc'; Linux's would take it as a new connection), "
        "and the client's end of a simultaneous open in SYN_RCVD. With RFC 5961 (the default, "
        "as Linux) each SYN would draw a challenge ACK and change nothing.",
        edges.syn_everywhere,
        config={"rfc5961": False, "time_wait_rules": "rfc"},
    ),
    Scenario(
        "why-time-wait",
        "An old duplicate corrupts a new incarnation when TIME_WAIT is cut short; TIME_WAIT rejects it.",
        "TIME_WAIT lasts 2 MSL for two reasons (RFC 9293 3.6 and 3.4): the last ACK may be lost "
        "and must be repeatable, and old duplicates of the connection must die out before the "
        "same 4-tuple is used again. This story shows the second. The server sends 1 MB fast "
        "enough that its sequence numbers run ahead of the ISN clock (RFC 6528: 4 microsecond "
        "ticks), so the ISN of the next incarnation falls inside the old sequence space. Act 1: "
        "the client closes with SO_LINGER 0 (RST, no TIME_WAIT) and connects again at once "
        "from the same port; a late copy of an old segment that covers the new connection's "
        "first byte arrives and is accepted: the application reads stale bytes of the first "
        "incarnation as new data. Act 2: the client closes normally and holds TIME_WAIT; the "
        "same reconnect is refused (EADDRINUSE), the old copy meets TIME_WAIT and is only "
        "acknowledged, and 2 MSL later the new connection reads its own data. The TCP here "
        "has neither timestamps (PAWS, RFC 7323) nor RFC 5961's ACK check, the later defences "
        "that would also reject the old copy.",
        incarnations.why_time_wait,
        config={"rfc5961": False},
    ),
    Scenario(
        "quiet-time",
        "A crashed host that restarts at once reuses old sequence numbers; quiet time (MSL) prevents it.",
        "RFC 9293 3.4.3: a host that loses its memory of the sequence numbers it used (a crash) "
        "'must keep quiet for an MSL before assigning any sequence numbers upon starting up', "
        "because segments of its previous connections may still be in the network. Here the "
        "server's ISN clock restarts with the host, as on a machine without stable storage. "
        "Act 1 (quiet time off, the default, as Linux): the server crashes and restarts, the "
        "client connects again from the same port at the same uptime, the server picks the very "
        "ISN it used before, and a late copy of its old first segment is read by the client as "
        "new data. Act 2 (Config.quiet_time): the restarted server sends nothing for MSL (30 s "
        "here); the client's SYNs are retransmitted until the quiet time ends, the old copy "
        "arrives while the client is still in SYN_SENT and is reset, and the new connection "
        "(with an ISN 30 s of clock further on) reads its own data. No timestamps and no "
        "RFC 5961 ACK check here, as in the TCP the RFC describes.",
        incarnations.quiet_time,
        config={"rfc5961": False},
    ),
    Scenario(
        "icmp-errors",
        "ICMP errors: a rejected SYN ends connect() at once; a SYN_RCVD goes back to LISTEN.",
        "A TCP host reads the ICMP errors routers and hosts send about its segments (RFC 1122 "
        "4.2.3.9, RFC 5927): it finds the connection by the addresses and ports the message "
        "quotes and believes it only if the quoted sequence number is one it has sent and not "
        "had acknowledged. While a connection is still opening, an error ends it: a firewall "
        "that rejects the SYN with 'port unreachable' makes connect() fail with ECONNREFUSED at "
        "once, without the minutes of SYN retransmissions a silent drop costs. A passive "
        "connection in SYN_RCVD whose SYN-ACK meets 'host unreachable' is dropped and its "
        "listener keeps LISTENing (Linux tcp_req_err); the client's retransmitted SYN then "
        "opens the connection after all. In a simultaneous open the SYN_RCVD end is closed. "
        "Once synchronized, an error only informs (SO_ERROR), and 'fragmentation needed' lowers "
        "the segment size (RFC 1191).",
        edges.icmp_errors,
    ),
]

_LIST += [
    Scenario(
        "ecn",
        "ECN: congestion marked CE instead of a drop; ECE echoed until CWR; one reduction, no loss.",
        "Both ends negotiate ECN in the handshake (RFC 3168 6.1.1: the client's SYN carries ECE "
        "and CWR, the SYN-ACK ECE: SEW and SE. in the trace; net.ipv4.tcp_ecn=1 here, Linux's "
        "default 2 only accepts). Data then travels ECN-capable (ECT(0)). The link's queue "
        "fills and its AQM marks packets CE instead of dropping them (RFC 3168 5). The receiver "
        "sets ECE on every ACK until it sees CWR (6.1.3); the sender reduces its window once for "
        "that window of data, as for a loss but without retransmitting anything, and sets CWR "
        "on its next new segment (6.1.2; the reduction is PRR's, as Linux).",
        modern.ecn,
        config={"ecn": 1},
    ),
    Scenario(
        "fast-open",
        "TCP Fast Open: a cookie first, then the request rides on the SYN and one round trip is saved.",
        "The server's listener has a Fast Open queue (TCP_FASTOPEN, net.ipv4.tcp_fastopen=3). "
        "The client's first sendto(MSG_FASTOPEN) sends a SYN asking for a cookie (RFC 7413 "
        "4.1.1: an empty option) and the request after the handshake. The SYN-ACK gives the "
        "cookie, a MAC of the client's address under the server's secret (4.1.2), which the "
        "client keeps. The second time the request rides on the SYN with the cookie; the server "
        "checks it, acknowledges the data in its SYN-ACK and hands it to the application at "
        "once, which answers before the handshake completes (4.2). The reply comes one round "
        "trip sooner.",
        modern.fast_open,
        config={"fastopen": 3},
    ),
    Scenario(
        "tail-loss-probe",
        "The tail of a reply is lost: a probe after 2 SRTT, then RACK, instead of a retransmission timeout.",
        "The last two segments of the server's reply are lost. No later segment arrives, so the "
        "client sends no duplicate ACKs and nothing triggers fast retransmit. Instead of waiting "
        "for the retransmission timeout, the server sends a tail loss probe 2 SRTT + 2 ms after "
        "its last segment (RFC 8985 7, Linux tcp_schedule_loss_probe): the last segment again. "
        "The client SACKs it; now a segment sent after the other missing one has been delivered "
        "and RACK (RFC 8985 6) marks that one lost once a quarter of the minimum RTT has passed; "
        "fast recovery retransmits it (PRR, RFC 6937). The reply is complete long before the RTO "
        "would have fired.",
        modern.tail_loss_probe,
        config={"sack": True, "timestamps": True, "rack": True, "tlp": True, "prr": True},
    ),
]

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _LIST}

"""Graphs of long transfers: the time-sequence graph (Stevens, tcptrace) of a tcplab JSON trace or
of any pcap/pcapng capture, with the sender's cwnd/ssthresh and RTT/RTO from the engine's events.

- ``tcplab.graph.flows``: segments of a trace or a capture as one record, grouped into flows;
- ``tcplab.graph.tsg``: the SVG.

A layer above ``trace`` (it draws with the ladder's SVG helpers) and ``net`` (it reads captures).
"""

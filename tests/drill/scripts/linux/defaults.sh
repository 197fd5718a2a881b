#!/bin/sh
# The settings the scripts of this directory assume, as a Linux packetdrill tree keeps them:
# one sysctl a line. drill reads these lines (it runs no shell); each one maps to the tcplab
# setting with the same meaning, or the script SKIPs naming it.

# RFC 7323 and RFC 2018 options
sysctl -q net.ipv4.tcp_timestamps=1
sysctl -q net.ipv4.tcp_sack=1
sysctl -q net.ipv4.tcp_window_scaling=1
sysctl -q net.ipv4.tcp_dsack=0

# receive and send buffers: min, default, max (the receive max chooses the window scale:
# ilog2(max(15 MiB, rmem_max 4 MiB)) - 15 = 8)
sysctl -q net.ipv4.tcp_rmem="4096 131072 $((15*1024*1024))"
sysctl -q net.ipv4.tcp_wmem="4096 16384 4194304"
sysctl -q net.core.rmem_max=4194304

# congestion control and its knobs
sysctl -q net.ipv4.tcp_congestion_control=reno
sysctl -q net.ipv4.tcp_slow_start_after_idle=0
sysctl -q net.ipv4.tcp_ecn=0

# timers, retries, limits
sysctl -q net.ipv4.tcp_syn_retries=6
sysctl -q net.ipv4.tcp_synack_retries=5
sysctl -q net.ipv4.tcp_fin_timeout=60
sysctl -q net.ipv4.tcp_rfc1337=0
sysctl -q net.ipv4.tcp_invalid_ratelimit=500

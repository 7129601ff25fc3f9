#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Path MTU (issue 10): a link in the middle of the underlay takes only 1280
# bytes.  TCP through the tunnel still moves data both ways, and no ESP
# packet is fragmented on the way (DF on every data socket; an EMSGSIZE
# lowers the tunnel's limit; inner packets above it get a Packet Too Big
# written back into the TUN; later SYNs get a smaller MSS).
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice
lm_internet                       # inet router; srv at 192.0.2.1 behind it
lm_link inet i-alice 198.51.100.1/24 a wan 198.51.100.2/24
n a ip route add default via 198.51.100.1
# The middle: inet <-> srv takes 1280 bytes; alice's own link takes 1500,
# so she learns the limit only from the router's ICMP.
n inet ip link set srv mtu 1280
n srv ip link set wan mtu 1280

# A host behind the server (its own MTU 1500) that knows nothing of the
# tunnel: only MSS clamping keeps its segments small enough.
lm_link srv eth0 203.0.113.1/24 www eth0 203.0.113.80/24
n www ip route add default via 203.0.113.1
n srv sysctl -qw net.ipv4.ip_forward=1

lm_server_conf server subnet relay "Route = 203.0.113.0/24"
lm_client_conf alice 192.0.2.1
lm_start srv server
lm_start a alice
lm_wait_up a alice 20
[ "$(n a cat /sys/class/net/lm-alice/mtu)" = 1400 ] || die "alice's TUN MTU is not 1400: the test assumes it"

fa0=$(lm_frags a) fs0=$(lm_frags srv)

# TCP both ways through the tunnel at the device's full size (MSS 1360).
lm_tcp_both_ways a srv 198.18.0.1 "through the tunnel"
pass "1 MB each way over TCP through a path that takes 1280 bytes"

fa=$(($(lm_frags a) - fa0)) fs=$(($(lm_frags srv) - fs0))
[ "$fa" = 0 ] && [ "$fs" = 0 ] || die "ESP was fragmented: alice made $fa fragments, the server $fs"
pass "no fragments: DF on the ESP, EMSGSIZE learnt"

pmtu=$(lm_ctl a alice -j peer show | jq -r '.[0].path_mtu // empty')
[ -n "$pmtu" ] && [ "$pmtu" -lt 1280 ] || die "alice's peer show has no path MTU below 1280: ${pmtu:-none}"
grep -q "path mtu: $pmtu" <<<"$(lm_ctl a alice peer show)" || die "peer show (text) lacks the path MTU"
srv_pmtu() { [ -n "$(lm_ctl srv server -j peer show alice | jq -r '.[0].path_mtu // empty')" ]; }
lm_wait 15 srv_pmtu || die "the server did not learn its path MTU to alice"
pass "path MTU $pmtu per peer (peer show, JSON)"

# Above the path's limit but below the device's MTU: a local error naming
# the MTU, not a fragmented packet.
out=$(n a ping -n -M do -s 1300 -c 3 -i 0.3 -W 1 198.18.0.1 2>&1)
grep -Eq "mtu ?= ?$pmtu" <<<"$out" || die "ping -M do -s 1300 was not told the path MTU: $out"
out=$(n a ping -n -M do -s 1400 -c 1 -W 1 198.18.0.1 2>&1)
grep -Eiq "message too long|mtu" <<<"$out" || die "ping -M do -s 1400 (above the device MTU) went out: $out"
# (The padded probes may find the limit before any TCP segment is too big,
# so the SYNs are clamped: the ping is what surely gets the Packet Too Big.)
[ "$(lm_json a alice .counters.ptb_sent)" -ge 1 ] || die "alice wrote no Packet Too Big"
pass "ping -M do above the path MTU gets the MTU back locally (a Packet Too Big written into the TUN)"

# The host behind the server: its SYN-ACK's MSS (1460) is clamped by the
# server, alice's SYN (1360, from her device) by alice, to the path's limit.
sb=$(lm_json srv server .counters.mss_clamped) ab=$(lm_json a alice .counters.mss_clamped)
lm_tcp_both_ways a www 203.0.113.80 "through the tunnel"
[ "$(lm_json srv server .counters.mss_clamped)" -gt "$sb" ] || die "the server clamped no MSS"
[ "$(lm_json a alice .counters.mss_clamped)" -gt "$ab" ] || die "alice clamped no MSS to the path's limit"
fa=$(($(lm_frags a) - fa0)) fs=$(($(lm_frags srv) - fs0))
[ "$fa" = 0 ] && [ "$fs" = 0 ] || die "ESP was fragmented: alice made $fa fragments, the server $fs"
pass "a host behind the server: SYN and SYN-ACK MSS clamped both ways, 1 MB each way, no fragments"

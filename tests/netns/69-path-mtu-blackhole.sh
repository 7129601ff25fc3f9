#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Path MTU through a black hole (issue 10, data/mtu_probe.h): the link
# between two routers takes only 1280 bytes and both routers drop their own
# ICMP "fragmentation needed", so no kernel ever learns the limit (they
# clamp the MSS of TCP on the underlay, as such routers do).  The
# client's padded probes find it: `peer show` on both ends shows the probed
# size, TCP moves 1 MB each way through the tunnel at the device's full
# size, and no ESP is fragmented.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice
lm_link a wan 198.51.100.2/24 r1 la 198.51.100.1/24
lm_link r1 mid 203.0.113.1/30 r2 mid 203.0.113.2/30
lm_link r2 ls 192.0.2.254/24 srv wan 192.0.2.1/24
n a ip route add default via 198.51.100.1
n r1 ip route add default via 203.0.113.2
n r2 ip route add 198.51.100.0/24 via 203.0.113.1
n srv ip route add default via 192.0.2.254
for r in r1 r2; do
    n $r sysctl -qw net.ipv4.ip_forward=1
    n $r ip link set mid mtu 1280
    # The router's own ICMP leaves through its output hook.
    n $r nft -f - <<'NFT' || die "nft on $r"
table ip blackhole {
    chain local_out {
        type filter hook output priority 0; policy accept;
        icmp type destination-unreachable icmp code frag-needed counter drop
    }
    chain forwarded {
        type filter hook forward priority 0; policy accept;
        icmp type destination-unreachable icmp code frag-needed counter drop
        # As routers in front of a small link do (PPPoE): the TLS control
        # connection on the underlay gets segments that fit.  ESP has no MSS.
        tcp flags syn tcp option maxseg size set rt mtu
    }
}
NFT
done
# Alice's and the server's own links take 1500: neither knows of the 1280 hop.
lm_server_conf server subnet relay
lm_client_conf alice 192.0.2.1
lm_start srv server
lm_start a alice
lm_wait_up a alice 20
[ "$(n a cat /sys/class/net/lm-alice/mtu)" = 1400 ] || die "alice's TUN MTU is not 1400: the test assumes it"

probed() { lm_ctl "$1" "$2" -j peer show ${3:-} | jq -r '.[0].path_mtu_probed // empty'; }
probed_is() { [ "$(probed "$@")" = 1280 ]; }
lm_wait 40 probed_is a alice ||
    die "alice's probes did not find 1280: $(probed a alice) ($(grep -i 'path mtu' "$T/alice.log" | tail -2))"
lm_wait 10 probed_is srv server alice || die "the server did not take alice's result: $(probed srv server alice)"
pmtu=$(lm_ctl a alice -j peer show | jq -r '.[0].path_mtu')
lm_ctl a alice peer show | grep -q "path mtu: $pmtu (inner, probed: 1280 bytes make the round trip)" ||
    die "peer show (text) lacks the probed size: $(lm_ctl a alice peer show | grep 'path mtu')"
dropped=$( (n r1 nft list table ip blackhole; n r2 nft list table ip blackhole) | grep -o 'packets [0-9]*' |
    awk '{s += $2} END {print s}')
[ "${dropped:-0}" -gt 0 ] || die "the routers dropped no ICMP: the black hole was not hit"
pass "probed 1280 bytes on both ends (alice: inner $pmtu); the routers dropped $dropped ICMP frag-needed"

fa0=$(lm_frags a) fs0=$(lm_frags srv)
lm_tcp_both_ways a srv 198.18.0.1 "through the black hole"
fa=$(($(lm_frags a) - fa0)) fs=$(($(lm_frags srv) - fs0))
[ "$fa" = 0 ] && [ "$fs" = 0 ] || die "ESP was fragmented: alice made $fa fragments, the server $fs"
# The probed limit reached the inner TCP: its SYNs' MSS clamped to it.
clamped=$(lm_json a alice .counters.mss_clamped)
[ "$clamped" -ge 1 ] || die "alice clamped no MSS to the probed limit"
pass "1 MB each way over TCP through the black hole, no fragments; MSS clamped to the probed limit ($clamped)"

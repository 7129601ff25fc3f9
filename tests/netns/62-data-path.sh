#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The client's data path proves itself and falls back (client/path_ladder.h):
# a public client starts on ESP in UDP, the fast path, and stays there when a
# firewall on the way drops IP protocol 50; one that drops UDP 4500 instead
# moves it to raw ESP within 10 s, and one that drops both moves it into the
# TLS connection within 15 s (ping and iperf3 through it); once the rules
# are lifted it goes back up to ESP in UDP with no ping lost on the way.
# Each step is visible in `link show`, `peer show` and the monitor.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice
# inet routes between the server (192.0.2.1) and alice (203.0.113.2); its
# forward chain is the firewall.
lm_internet
lm_link inet fw0 203.0.113.1/30 a wan 203.0.113.2/30
n a ip route add default via 203.0.113.1
lm_server_conf server subnet relay
lm_client_conf alice 192.0.2.1
lm_start srv server
lm_start a alice
lm_wait_up a alice

path() { lm_ctl a alice -j link show | jq -r '"\(.data_path) \(.data_path_state)"'; }
on_path() { [ "$(path)" = "$1 carrying" ]; }
lm_wait 10 on_path udp || die "alice's ESP-in-UDP path never carried: $(path)"
lm_ping a 198.18.0.1 || die "no ping over ESP in UDP"
# systemd would have heard READY=1 only now; the tool shows where the path is.
lm_ctl a alice link show | grep -q 'data-path udp carrying' || die "link show: $(lm_ctl a alice link show)"
pass "alice carries on ESP in UDP, the fast path: $(path)"

# Not through n(): $! must be the process itself (ip netns exec execs it).
ip netns exec "$P-a" "$LANMESH" -R "$T/run-alice" -n alice -j monitor path > "$T/monitor.txt" 2>&1 &
PIDS+=($!)

# Traffic that would find the path dead: pings every 0.2 s from here on.
ip netns exec "$P-a" ping -n -i 0.2 198.18.0.1 > "$T/ping-bg.txt" 2>&1 &
PING=$!
PIDS+=($PING)

# A firewall that drops protocol 50 (most cloud security groups do): the
# node is on UDP 4500 and stays there.
n inet nft -f - <<'NFT' || die "nft"
table inet fw {
    chain path {
        type filter hook forward priority filter; policy accept;
        meta l4proto esp drop comment "proto50"
    }
}
NFT
sleep 6   # longer than PathLadder::kDeadAfterMs: a wrong move would show
on_path udp || die "left ESP in UDP when only protocol 50 was dropped: $(path)"
lm_ping a 198.18.0.1 || die "no ping over ESP in UDP with protocol 50 dropped"
pass "protocol 50 dropped: still on ESP in UDP"

# The other way round: UDP 4500 dropped, protocol 50 let through.  Raw ESP
# is the step below (no NAT between alice and the server).
handle=$(n inet nft -a list chain inet fw path | sed -n 's/.*comment "proto50" # handle \([0-9]*\).*/\1/p')
[ -n "$handle" ] || die "cannot find the protocol 50 rule"
n inet nft delete rule inet fw path handle "$handle"
n inet nft add rule inet fw path udp dport 4500 drop
n inet nft add rule inet fw path udp sport 4500 drop
lm_wait 10 on_path raw || die "not on raw ESP 10 s after UDP 4500 was dropped: $(path)"
lm_ping a 198.18.0.1 || die "no ping over raw ESP"
reason=$(lm_ctl a alice -j link show | jq -r .data_path_reason)
case "$reason" in *"ESP in UDP"*) ;; *) die "no reason for leaving ESP in UDP: $reason" ;; esac
grep -q 'data path to 192.0.2.1:4500: no authenticated ESP came back by ESP in UDP for 4 s; trying raw ESP' "$T/alice.log" || die "not logged"
pass "UDP 4500 dropped: on raw ESP ($reason)"

n inet nft add rule inet fw path meta l4proto esp drop
lm_wait 15 on_path tls || die "not in TLS 15 s after protocol 50 was dropped too: $(path)"
lm_ping a 198.18.0.1 || die "no ping over ESP in TLS"
[ "$(lm_json srv server '.peers[] | select(.name=="alice") | .encapsulation')" = tls ] \
    || die "the server does not send alice's ESP in TLS"
lm_ctl a alice peer show | grep -q 'data path: ESP in TLS, carrying' || die "peer show: $(lm_ctl a alice peer show)"
ip netns exec "$P-srv" iperf3 -s -B 198.18.0.1 >"$T/iperf-server.log" 2>&1 &
PIDS+=($!)
lm_wait 5 eval "n srv ss -ltn | grep -q ':5201 '" || die "iperf3 server did not start"
n a iperf3 -c 198.18.0.1 -t 5 -J > "$T/iperf.json" || die "iperf3 through TLS failed"
bytes=$(jq -r '.end.sum_received.bytes' "$T/iperf.json")
[ "$bytes" -gt 100000 ] || die "iperf3 through TLS moved only $bytes bytes"
log "iperf3 through TLS, 5 s: $(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$T/iperf.json") Mbit/s"
pass "protocol 50 dropped too: IP over TLS carries ping and iperf3 ($bytes bytes)"

kill -TERM $PING; wait $PING 2>/dev/null
# Lift the rules: within an upward round (30 s) alice is back on ESP in
# UDP, and not one ping every 0.2 s is lost across the move.
n inet nft delete table inet fw
ip netns exec "$P-a" ping -n -i 0.2 -c 225 -W 2 198.18.0.1 > "$T/ping-up.txt" 2>&1 &
PING=$!
PIDS+=($PING)
lm_wait 45 on_path udp || die "not back on ESP in UDP 45 s after the rules were lifted: $(path)"
wait $PING
loss=$(grep -oE '[0-9.]+% packet loss' "$T/ping-up.txt")
[ "$loss" = "0% packet loss" ] || die "pings lost on the way up: $loss"
grep -q 'ESP in UDP carries again' "$T/alice.log" || die "move up not logged"
grep -q '"state":"carrying","encapsulation":"raw"' "$T/monitor.txt" || die "monitor: $(cat "$T/monitor.txt")"
pass "back on ESP in UDP with no ping lost ($loss)"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Traffic: a 5-second iperf3 TCP run through the tunnel; rekeying under load
# (a packet limit) and by time, with no ping lost across the switch; the
# ChaCha20-Poly1305 negotiation; many flows spread over two workers with no
# packet taken for a replay.  Speed is printed, never asserted.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice carol
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_nat nat1 192.0.2.21 198.51.100.1/26
lm_behind c nat1 198.51.100.2/26 198.51.100.1
lm_server_conf server subnet relay "RekeyAfterTime = 10" "RekeyAfterPackets = 20000" "RekeyGrace = 5" "Workers = 2"
lm_client_conf alice 192.0.2.1 "Workers = 2"
lm_client_conf carol 192.0.2.1 "Ciphers = chacha20-poly1305" "Workers = 1"
lm_start srv server
lm_start a alice; lm_wait_up a alice
lm_start c carol; lm_wait_up c carol

[ "$(lm_json srv server '.peers[] | select(.name=="alice") | .sa[0].cipher')" = aes-256-gcm ] || die "alice: cipher"
[ "$(lm_json srv server '.peers[] | select(.name=="carol") | .sa[0].cipher')" = chacha20-poly1305 ] || die "carol: cipher"
lm_ping c 198.18.0.1 && lm_ping c 198.18.0.2 || die "carol over ChaCha20-Poly1305"
pass "negotiated AES-256-GCM with alice and ChaCha20-Poly1305 with carol; both carry traffic"

ip netns exec "$P-srv" iperf3 -s -B 198.18.0.1 >"$T/iperf-server.log" 2>&1 &
PIDS+=($!)
lm_wait 5 eval "n srv ss -ltn | grep -q ':5201 '" || die "iperf3 server did not start"
for who in a:alice c:carol; do
    ns=${who%%:*}; name=${who#*:}
    n $ns iperf3 -c 198.18.0.1 -t 5 -J > "$T/iperf-$name.json" || die "iperf3 from $name failed"
    bps=$(jq -r '.end.sum_received.bits_per_second' "$T/iperf-$name.json")
    bytes=$(jq -r '.end.sum_received.bytes' "$T/iperf-$name.json")
    [ "$bytes" -gt 1000000 ] || die "iperf3 from $name moved only $bytes bytes"
    log "iperf3 $name -> server, 5 s TCP: $(awk -v b="$bps" 'BEGIN{printf "%.0f Mbit/s", b/1e6}') ($bytes bytes)"
done
[ "$(lm_json c carol '.workers | length')" = 1 ] || die "carol: Workers = 1 not honoured"
pass "one worker (single-queue path) and two workers both carry iperf3"

# Sixteen flows from alice's two workers: the TUN queues spread them (all on
# one queue has odds of 2^-15), and the server, which gets the sequence
# numbers of both workers' blocks interleaved, must take none for a replay.
[ "$(lm_json a alice '.workers | length')" = 2 ] || die "alice: Workers = 2 not honoured"
r0=$(lm_json srv server .drops.replay)
n a iperf3 -c 198.18.0.1 -t 3 -P 16 -J > "$T/iperf-p16.json" || die "iperf3 -P 16 from alice failed"
bps=$(jq -r '.end.sum_received.bits_per_second' "$T/iperf-p16.json")
per=$(lm_json a alice '[.workers[].tun_rx] | map(tostring) | join(" / ")')
log "iperf3 alice -> server, 16 flows, 3 s: $(awk -v b="$bps" 'BEGIN{printf "%.0f Mbit/s", b/1e6}'); packets read per worker: $per"
[ "$(lm_json a alice '[.workers[] | select(.tun_rx > 1000)] | length')" = 2 ] || die "flows not spread over both workers: $per"
r1=$(lm_json srv server .drops.replay)
[ "$r1" = "$r0" ] || die "server took $((r1 - r0)) packets from two sending workers for replays"
pass "16 flows spread over both of alice's workers ($per); no replay drops at the server"

rekeys=$(lm_json srv server .counters.rekeys)
[ "$rekeys" -ge 2 ] || die "no rekey under load (RekeyAfterPackets = 20000), rekeys=$rekeys"
pass "iperf3 runs done; $rekeys rekeys happened under load"

# Time-based rekey while pinging every 50 ms: nothing may be lost.
e0=$(lm_json a alice .epoch)
n a ping -q -n -i 0.05 -c 300 198.18.0.1 > "$T/ping.txt" || true
e1=$(lm_json a alice .epoch)
loss=$(grep -oE '[0-9.]+% packet loss' "$T/ping.txt")
log "epochs $e0 -> $e1 during 15 s of pings; $loss"
[ "$e1" -gt "$e0" ] || die "no time-based rekey in 15 s (RekeyAfterTime = 10)"
[ "$loss" = "0% packet loss" ] || die "pings lost across a rekey: $loss"
old=$(lm_json srv server '[.peers[] | select(.name=="alice") | .sa[] | select(.state=="old")] | length')
pass "rekeyed by time with no packet lost (old SAs still in their grace: $old)"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The mesh (ClientToClient = direct): clients behind NATs find a direct path
# within seconds of their first packet and the server stops carrying their
# traffic; port-randomising NATs fall back to the blind relay (forwarded by
# SPI, never decrypted); clients behind one NAT meet on their LAN addresses.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_cert server server
for c in alice bob carol dave erin; do lm_pki_cert $c client; done

# inet routes between the server's segment and four NATs:
#   natA (masquerade): alice, erin     natB (masquerade): bob
#   natC (fully-random): carol         natD (fully-random): dave
lm_internet
lm_isp_nat natA 203.0.113.1/26 203.0.113.62/26 198.51.100.1/26
lm_isp_nat natB 203.0.113.65/26 203.0.113.126/26 198.51.100.65/26
lm_isp_nat natC 203.0.113.129/26 203.0.113.190/26 198.51.100.129/26 fully-random
lm_isp_nat natD 203.0.113.193/26 203.0.113.254/26 198.51.100.193/26 fully-random
lm_behind alice natA 198.51.100.2/26 198.51.100.1
lm_behind erin natA 198.51.100.3/26 198.51.100.1
lm_behind bob natB 198.51.100.66/26 198.51.100.65
lm_behind carol natC 198.51.100.130/26 198.51.100.129
lm_behind dave natD 198.51.100.194/26 198.51.100.193

# A low packet limit makes pairs rekey under load too (same limits as the
# client<->server SAs, pushed by the server).
lm_server_conf server subnet direct "DebugKeyFile = $T/server-keys" "RekeyAfterPackets = 200000"
for c in alice bob carol dave erin; do lm_client_conf $c 192.0.2.1 "DebugKeyFile = $T/$c-keys"; done
lm_start srv server
for c in alice bob carol dave erin; do lm_start $c $c; done
for c in alice bob carol dave erin; do lm_wait_up $c $c 20; done
addr() { lm_json "$1" "$1" .address; }
A=$(addr alice); B=$(addr bob); C=$(addr carol); D=$(addr dave); E=$(addr erin)
pair() { lm_json "$1" "$1" ".pairs[] | select(.name==\"$2\") | $3"; }
path_is() { [ "$(pair "$1" "$2" .path)" = "$3" ]; }

# 1. alice (masquerade) <-> bob (masquerade): direct, quickly.
lm_ping alice "$B" || die "alice -> bob (first packets, through the server)"
lm_wait 5 path_is alice bob direct || die "alice -> bob did not go direct: $(lm_show alice alice | jq -c .pairs)"
lm_wait 5 path_is bob alice direct || die "bob -> alice did not go direct"
ttd=$(pair alice bob .time_to_direct_ms)
log "alice<->bob direct via $(pair alice bob .endpoint) and $(pair bob alice .endpoint), ${ttd} ms after the introduction"
[ "$ttd" -le 2000 ] || die "direct took ${ttd} ms, more than 2 s"
relayed0=$(lm_json srv server .counters.relayed); fwd0=$(lm_json srv server .mesh.forwarded_packets)
ip netns exec "$P-srv" tcpdump -i wan -U -w "$T/uplink.pcap" 'udp port 4500 or esp' >"$T/tcpdump.log" 2>&1 &
TCPDUMP=$!; PIDS+=($TCPDUMP)
lm_wait 5 grep -q listening "$T/tcpdump.log" || die "tcpdump did not start"
ip netns exec "$P-bob" iperf3 -s -1 -B "$B" >"$T/iperf-s.log" 2>&1 &
PIDS+=($!)
lm_wait 5 eval "n bob ss -ltn | grep -q ':5201 '" || die "iperf3 server did not start"
n alice iperf3 -c "$B" -t 5 -J > "$T/iperf.json" || die "iperf3 alice -> bob failed"
n alice ping -q -n -c 5 -i 0.2 "$B" >/dev/null || die "ping alice -> bob over the direct path"
sleep 1; kill -INT $TCPDUMP; wait $TCPDUMP 2>/dev/null
bytes=$(jq -r .end.sum_received.bytes "$T/iperf.json")
mbps=$(jq -r '.end.sum_received.bits_per_second / 1e6 | floor' "$T/iperf.json")
data=$(tshark -r "$T/uplink.pcap" -Y 'esp && (ip.addr == 203.0.113.1 || ip.addr == 203.0.113.65) && frame.len > 200' 2>/dev/null | wc -l)
[ "$(lm_json srv server .counters.relayed)" -eq "$relayed0" ] || die "the server relayed alice<->bob traffic after direct"
[ "$(lm_json srv server .mesh.forwarded_packets)" -eq "$fwd0" ] || die "the server forwarded alice<->bob traffic after direct"
[ "$data" -eq 0 ] || die "$data A<->B data packets on the server's uplink after direct"
epoch=$(pair alice bob .epoch)
[ "$epoch" -ge 2 ] || die "the pair did not rekey under load (epoch $epoch)"
path_is alice bob direct || die "the pair left the direct path while rekeying"
pass "alice<->bob: direct in ${ttd} ms; iperf3 ${mbps} Mbit/s ($bytes bytes), pair rekeyed to epoch $epoch; no A<->B data on the server's uplink"

# 2. alice and erin behind the same NAT meet on their LAN addresses.
lm_ping alice "$E" || die "alice -> erin"
lm_wait 5 path_is alice erin direct || die "alice -> erin did not go direct"
ep=$(pair alice erin .endpoint)
[[ $ep == 198.51.100.3:* ]] || die "alice reaches erin via $ep, not her LAN address"
pass "alice<->erin (same NAT): direct over the LAN, $ep"

# 3. carol behind a port-randomising NAT, bob behind a plain one: after the
# ordinary round fails, birthday punching (src/mesh/punch_plan.h): carol
# opens 256 extra ports toward bob, bob probes random ports of carol's
# address, and the pair goes direct on the port found.  A spray finds one
# with about 98 % odds; a second one comes within 20 s if not.
lm_ping carol "$B" || die "carol -> bob"
lm_wait 45 path_is carol bob direct ||
    die "carol -> bob did not go direct: $(lm_ctl carol carol -j peer show bob | jq -r '.[0].punch_reason'); bob: $(lm_ctl bob bob -j peer show carol | jq -r '.[0].punch_reason')"
lm_wait 5 path_is bob carol direct || die "bob -> carol did not go direct"
ep=$(pair bob carol .endpoint)
given=$(pair bob carol '.candidates[0]')
[[ $ep == 203.0.113.129:* && $ep != "$given" ]] || die "bob reaches carol via $ep (the server gave $given)"
why=$(lm_ctl bob bob -j peer show carol | jq -r '.[0].punch_reason')
[[ $why == *"found by probing random ports"* ]] || die "bob's reason for the direct path to carol: $why"
[ "$(lm_json carol carol .mesh.birthday_hits)" -ge 1 ] || die "carol counted no birthday hit"
f1=$(lm_json srv server .mesh.forwarded_packets); r1=$(lm_json srv server .counters.relayed)
n carol ping -q -n -c 10 -i 0.1 "$B" >/dev/null || die "carol -> bob over the direct path"
f2=$(lm_json srv server .mesh.forwarded_packets); r2=$(lm_json srv server .counters.relayed)
[ $((f2 - f1 + r2 - r1)) -lt 5 ] || die "the server still carried carol<->bob traffic (+$((f2 - f1)) forwarded, +$((r2 - r1)) relayed)"
log "carol<->bob: direct via $ep after $(pair carol bob .time_to_direct_ms) ms; bob sent $(lm_json bob bob .mesh.spray_probes) probes to random ports"
pass "carol (fully-random) <-> bob (masquerade): direct by birthday punching, via $ep"

# 4. carol and dave both behind port-randomising NATs: the blind relay.
lm_ping carol "$D" || die "carol -> dave"
sleep 6
f1=$(lm_json srv server .mesh.forwarded_packets); r1=$(lm_json srv server .counters.relayed)
n carol ping -q -n -c 10 -i 0.1 "$D" >/dev/null || die "carol -> dave over the relay"
f2=$(lm_json srv server .mesh.forwarded_packets); r2=$(lm_json srv server .counters.relayed)
log "carol<->dave: path $(pair carol dave .path); server forwarded by SPI +$((f2 - f1)), relayed (decrypted) +$((r2 - r1))"
[ "$(pair carol dave .path)" = relay ] || die "carol<->dave should be on the blind relay"
[ $((f2 - f1)) -ge 20 ] || die "the server did not forward carol<->dave by SPI"
[ $((r2 - r1)) -eq 0 ] || die "the server decrypted carol<->dave traffic"
for spi in $(lm_json carol carol '.pairs[] | select(.name=="dave") | .spis[]'); do
    hex=$(printf '0x%08x' "$spi")
    grep -q "$hex" "$T/server-keys" && die "the server holds a key for pair SPI $hex"
    grep -q "$hex" "$T/carol-keys" || die "carol's own key export lacks $hex (the check would prove nothing)"
done
# Both NATs change the port per destination: peer show says so, in text and JSON.
why=$(lm_ctl carol carol -j peer show dave | jq -r '.[0].punch_reason')
[[ $why == *"peer's NAT changes port per destination"*"using the relay"* ]] || die "carol's reason for the relay to dave: $why"
lm_ctl dave dave peer show carol | grep -q "reason: peer's NAT changes port per destination" ||
    die "dave's peer show gives no reason: $(lm_ctl dave dave peer show carol)"
log "carol on dave: $why"
pass "carol<->dave: blind relay, forwarded by SPI, never decrypted; no pair key on the server; reason shown"

# 5. Forged probes are rejected and counted.
bad0=$(lm_json alice alice .drops.probe_bad)

spi=$(lm_json bob bob '.pairs[] | select(.name=="alice") | .spis[1]')
n erin python3 - "198.51.100.2:4500" "$spi" <<'PY'
import os, socket, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(20):   # right format, right SPI, wrong MAC
    s.sendto(b"\0\0\0\0LMP1" + bytes([1]) + struct.pack(">I", int(sys.argv[2])) + os.urandom(8 + 16), (host, int(port)))
PY
lm_wait 5 eval '[ "$(lm_json alice alice .drops.probe_bad)" -ge $((bad0 + 1)) ]' || die "forged probes not counted"
path_is alice bob direct || die "forged probes disturbed the direct path"
pass "forged probes rejected and counted ($(lm_json alice alice .drops.probe_bad))"

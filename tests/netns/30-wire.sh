#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What crosses the wire: the client behind a NAT speaks ESP in UDP 4500 (auto),
# the client without a NAT pinned to raw ESP (IP protocol 50) speaks that
# (auto would take ESP in UDP there too: 62-data-path); no plaintext ICMP leaves a
# tunnel endpoint; and tshark, given the keys the server exports in debug
# mode, decrypts the capture and finds the inner ICMP echo.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice carol
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_nat nat1 192.0.2.21 198.51.100.1/26
lm_behind c nat1 198.51.100.2/26 198.51.100.1

lm_server_conf server subnet relay "DebugKeyFile = $T/esp_sa"
lm_client_conf alice 192.0.2.1 "Encapsulation = raw"
lm_client_conf carol 192.0.2.1
lm_start srv server
lm_start a alice; lm_wait_up a alice
lm_start c carol; lm_wait_up c carol

[ "$(lm_json srv server '.peers[] | select(.name=="alice") | .encapsulation')" = raw ] || die "alice should use raw ESP"
[ "$(lm_json srv server '.peers[] | select(.name=="carol") | .encapsulation')" = udp ] || die "carol should use ESP in UDP"
pass "raw ESP for alice (no NAT, pinned) and UDP for carol (NAT, auto)"

ip netns exec "$P-srv" tcpdump -i wan -U -w "$T/wan.pcap" 'esp or udp port 4500 or icmp' >"$T/tcpdump.log" 2>&1 &
TCPDUMP=$!
PIDS+=($TCPDUMP)
lm_wait 5 grep -q listening "$T/tcpdump.log" || die "tcpdump did not start"
lm_ping a 198.18.0.1 || die "alice -> server"
lm_ping c 198.18.0.1 || die "carol -> server"
lm_ping a 198.18.0.3 || die "alice -> carol"
sleep 1.5   # let tcpdump drain its buffer before it is stopped
kill -INT $TCPDUMP; wait $TCPDUMP 2>/dev/null

count() { tshark -r "$T/wan.pcap" -Y "$1" 2>/dev/null | wc -l; }
raw=$(count 'ip.proto == 50 && ip.addr == 192.0.2.11')
udp=$(count 'udp.port == 4500 && ip.addr == 192.0.2.21 && esp')
plain=$(count 'icmp')
[ "$raw" -ge 6 ] || die "expected raw ESP packets from/to alice, saw $raw"
[ "$udp" -ge 6 ] || die "expected ESP in UDP 4500 from/to the NAT, saw $udp"
[ "$(count 'udp.port == 4500 && ip.addr == 192.0.2.11')" -eq 0 ] || die "alice used UDP"
[ "$plain" -eq 0 ] || die "$plain plaintext ICMP packets on the wire"
pass "on the wire: $raw raw ESP packets (alice), $udp ESP-in-UDP packets (carol's NAT), no plaintext"

# Decrypt with the exported SAs (Wireshark's esp_sa UAT format).
export WIRESHARK_CONFIG_DIR=$T/ws
mkdir -p "$WIRESHARK_CONFIG_DIR"
grep -v '^#' "$T/esp_sa" > "$WIRESHARK_CONFIG_DIR/esp_sa"
printf 'esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n' > "$WIRESHARK_CONFIG_DIR/preferences"
dec=$(tshark -r "$T/wan.pcap" -Y 'icmp.type == 8 && ip.dst == 198.18.0.1 && esp' -T fields -e ip.src 2>/dev/null | sort | uniq -c)
log "decrypted echo requests to the server, by outer,inner source: $(echo $dec)"
echo "$dec" | grep -q '198.18.0.2' || die "tshark did not decrypt alice's echo requests"
echo "$dec" | grep -q '198.18.0.3' || die "tshark did not decrypt carol's echo requests"
good=$(tshark -r "$T/wan.pcap" -Y 'esp.icv_good == 1' 2>/dev/null | wc -l)
bad=$(tshark -r "$T/wan.pcap" -Y 'esp.icv_bad == 1' 2>/dev/null | wc -l)
[ "$good" -gt 0 ] && [ "$bad" -eq 0 ] || die "ICV check in tshark: $good good, $bad bad"
pass "tshark decrypted the capture with the exported keys ($good packets with a correct ICV)"
grep -q 'never in production' "$T/server.log" || die "the debug key export was not announced in the log"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# No packet loop through the server's own TUN (issue 9, items 1 and 14).
#
# carol (behind a NAT, ESP in UDP) seals ESP with her own keys (taken from
# her DebugKeyFile) and sends it, inside her tunnel, to the server's overlay
# address (ESP in UDP to port 4500, and raw ESP).  Sent to the server's
# public address and port (a policy rule takes what comes from her overlay
# address into the tunnel), it never leaves carol: that is what her own ESP
# would look like coming back from her TUN (tun_loop).  The server
# reads it back from its TUN on its own sockets.  It must drop it as
# overlay_src and keep carol's real endpoint; had it learned carol's overlay
# address, every packet for her would circle through the TUN and alice
# would lose her pings too.
#
# Then alice sends a burst of 1500 packets with RekeyAfterPackets = 1000: the
# data path reports the limit at once, so the SA that was current carried
# about 1000 packets, not whatever a once-a-tick check let through.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice carol
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_nat nat1 192.0.2.21 198.51.100.1/26
lm_behind c nat1 198.51.100.2/26 198.51.100.1

lm_server_conf server subnet relay "RekeyAfterPackets = 1000"
lm_client_conf alice 192.0.2.1
lm_client_conf carol 192.0.2.1 "DebugKeyFile = $T/carol-keys" "Ciphers = aes-256-gcm"
lm_start srv server
lm_start a alice; lm_wait_up a alice
lm_start c carol; lm_wait_up c carol
lm_ping c 198.18.0.1 || die "carol -> server"
lm_ping a 198.18.0.1 || die "alice -> server"

peer() { lm_json srv server ".peers[] | select(.name==\"$1\") | $2"; }
ep0=$(peer carol .endpoint)
[ "${ep0%:*}" = 192.0.2.21 ] || die "carol's endpoint should be her NAT's address, is $ep0"

# carol's outbound SA to the server, its key from her export, a sequence
# number above anything she sent.
spi=$(lm_json c carol '.peers[0].sa[] | select(.direction=="out") | .spi')
seq=$(lm_json c carol '.peers[0].sa[] | select(.direction=="out") | .seq')
hexspi=$(printf '0x%08x' "$spi")
key=$(grep -F "\"$hexspi\"" "$T/carol-keys" | tail -1 | cut -d, -f6 | tr -d '"')
[ -n "$key" ] || die "no key for SPI $hexspi in carol's export"

# The server's public address too, for packets from carol's overlay address.
n c ip rule add from 198.18.0.3 lookup 65 || die "ip rule"
n c ip route add 192.0.2.1/32 dev lm-carol table 65 || die "ip route"
n c python3 - "$spi" "$((seq + 100000))" "$key" <<'PY' || die "cannot send the crafted ESP"
import socket, struct, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
spi, seq, key = int(sys.argv[1]), int(sys.argv[2]), bytes.fromhex(sys.argv[3][2:])
aead, salt = AESGCM(key[:32]), key[32:36]

def esp(seq):
    # A dummy packet (next header 59): no payload, pad 1 2, pad length 2.
    head = struct.pack(">II", spi, seq)
    iv = struct.pack(">Q", seq)
    return head + iv + aead.encrypt(salt + iv, bytes([1, 2, 2, 59]), head)

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
p.bind(("198.18.0.3", 0))   # the policy rule below takes it into the tunnel
for i in range(5):
    u.sendto(esp(seq + i), ("198.18.0.1", 4500))
    r.sendto(esp(seq + 100 + i), ("198.18.0.1", 0))
    p.sendto(esp(seq + 200 + i), ("192.0.2.1", 4500))
PY
lm_wait 5 eval '[ "$(lm_json c carol .drops.tun_loop)" -ge 5 ]' \
    || die "carol sealed ESP for the server's own address and port again ($(lm_json c carol .drops.tun_loop))"
pass "carol does not tunnel ESP to the server's own address and port (tun_loop $(lm_json c carol .drops.tun_loop))"
lm_wait 5 eval '[ "$(lm_json srv server .drops.overlay_src)" -ge 10 ]' \
    || die "ESP from carol's overlay address not dropped as overlay_src ($(lm_json srv server .drops.overlay_src))"
[ "$(peer carol .endpoint)" = "$ep0" ] || die "carol's endpoint moved to $(peer carol .endpoint)"
pass "ESP read back from the TUN dropped as overlay_src ($(lm_json srv server .drops.overlay_src)); carol's endpoint stays $ep0"

rx0=$(lm_json srv server .counters.tun_rx)
lm_ping c 198.18.0.1 || die "carol lost the server"
lm_ping a 198.18.0.1 || die "alice lost the server"
lm_ping a 198.18.0.3 || die "alice -> carol"
rx1=$(lm_json srv server .counters.tun_rx)
# Three echo requests from alice to carol cross the server's TUN, nothing
# circles: a loop would read hundreds of thousands.
[ $((rx1 - rx0)) -lt 100 ] || die "the server read $((rx1 - rx0)) packets from its TUN for a few pings"
pass "no loop: pings pass, the server's TUN read $((rx1 - rx0)) packets meanwhile"
grep -q 'inside the network' "$T/server.log" || die "the drop was not logged"

# RekeyAfterPackets, prompt: alice's burst, then the server's old inbound SA
# from her holds what her first SA carried.
e0=$(peer alice .epoch)
n a python3 - <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(1500):
    s.sendto(b"x" * 32, ("198.18.0.1", 9))
    if i % 100 == 99:
        time.sleep(0.002)   # the TUN queue holds 500
PY
lm_wait 5 eval '[ "$(peer alice .epoch)" -gt "$e0" ]' || die "alice's SAs were not rekeyed"
old=$(peer alice "[.sa[] | select(.direction==\"in\" and .epoch==$e0)] | .[0].packets")
[ "$old" != null ] || { peer alice .sa; die "the server no longer shows alice's epoch-$e0 inbound SA"; }
log "epoch $e0 carried $old packets from alice (limit 1000)"
# Some of the burst may be lost on the way; what arrived must be most of it.
[ "$old" -ge 500 ] || die "the burst did not arrive: $old packets"
[ "$old" -le 1300 ] || die "RekeyAfterPackets overshot: $old packets on an SA limited to 1000"
pass "RekeyAfterPackets = 1000: the SA carried $old packets"

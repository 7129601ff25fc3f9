#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two servers of one network on one etcd ([Registry] PeerAddress,
# docs/DESIGN.md §11): they find each other in the registry, open the
# server-to-server channel (TLS with server certificates both ways, ESP
# between their data ports), and alice, admitted by srva behind one NAT,
# reaches bob, admitted by srvb behind another, through both servers.  A
# client certificate cannot open the channel.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob
lm_hub
lm_public reg 192.0.2.9
lm_public sa 192.0.2.1
lm_public sb 192.0.2.2
lm_nat natA 192.0.2.11 198.51.100.1/26
lm_nat natB 192.0.2.12 198.51.100.65/26
lm_behind alice natA 198.51.100.2/26 198.51.100.1
lm_behind bob natB 198.51.100.66/26 198.51.100.65
lm_etcd reg 192.0.2.9
pass "etcd up at 192.0.2.9:2379"

C2C=${C2C:-relay}
for s in srva srvb; do
    cp "$PKI/server.crt" "$PKI/$s.crt"; cp "$PKI/server.key" "$PKI/$s.key"
done
lm_server_conf srva subnet "$C2C" "[Registry]" "Endpoint = http://192.0.2.9:2379" \
    "Prefix = /lanmesh/test/" "Name = srva" "TTL = 5" "PeerAddress = 192.0.2.1"
lm_server_conf srvb subnet "$C2C" "[Registry]" "Endpoint = http://192.0.2.9:2379" \
    "Prefix = /lanmesh/test/" "Name = srvb" "TTL = 5" "PeerAddress = 192.0.2.2"
lm_client_conf alice 192.0.2.1
lm_client_conf bob 192.0.2.2
lm_start sa srva
lm_start sb srvb
lm_start alice alice
lm_start bob bob
lm_wait_up alice alice 30; lm_wait_up bob bob 30
A=$(lm_json alice alice .address); B=$(lm_json bob bob .address)
log "alice $A on srva, bob $B on srvb"

# 1. The channel: registered under server/, up on both sides.
keys=$(lm_etcd_keys reg 192.0.2.9 /lanmesh/test/server/ | sort | tr '\n' ' ')
[ "$keys" = "/lanmesh/test/server/srva /lanmesh/test/server/srvb " ] || die "server registrations: '$keys'"
link_up() { [ "$(lm_json "$1" "$2" ".servers.peers[] | select(.name==\"$3\") | .state")" = up ]; }
lm_wait 20 link_up sa srva srvb || die "srva: channel to srvb not up: $(lm_show sa srva | jq -c .servers)"
lm_wait 10 link_up sb srvb srva || die "srvb: channel to srva not up: $(lm_show sb srvb | jq -c .servers)"
pass "srva and srvb registered and connected"

# 2. alice <-> bob through both servers, both ways.
routed() { [ "$(lm_json "$1" "$2" .servers.routes)" -ge 1 ]; }
lm_wait 10 routed sa srva || die "srva has no route to srvb's nodes: $(lm_show sa srva | jq -c .servers)"
lm_wait 10 routed sb srvb || die "srvb has no route to srva's nodes: $(lm_show sb srvb | jq -c .servers)"
lm_wait 15 lm_ping alice "$B" || die "alice (srva) -> bob (srvb)"
lm_ping bob "$A" || die "bob (srvb) -> alice (srva)"
tx=$(lm_json sa srva '.servers.peers[] | select(.name=="srvb") | .tx_packets')
rx=$(lm_json sb srvb '.servers.peers[] | select(.name=="srva") | .rx_packets')
[ "${tx:-0}" -ge 6 ] && [ "${rx:-0}" -ge 6 ] || die "the channel did not carry the pings: srva tx $tx, srvb rx $rx"
pass "alice and bob reach each other across the servers (srva -> srvb: $tx packets)"

# 3. A client certificate is not a server's: the channel refuses it.
n alice timeout 10 openssl s_client -connect 192.0.2.2:4501 -cert "$PKI/alice.crt" -key "$PKI/alice.key" \
    -CAfile "$PKI/ca.crt" -quiet </dev/null >/dev/null 2>&1
lm_wait 10 grep -q 'servers: refused a channel' "$T/srvb.log" || die "srvb did not refuse a client certificate"
link_up sb srvb srva || die "the real channel went down"
pass "a client certificate cannot open the server-to-server channel"

# 4. srvb stops: srva drops the channel and the routes to its nodes.
lm_stop srvb
gone() { [ "$(lm_json sa srva .servers.routes)" = 0 ]; }
lm_wait 15 gone || die "srva still routes to srvb's nodes: $(lm_show sa srva | jq -c .servers)"
pass "srvb gone: srva no longer routes to its nodes"

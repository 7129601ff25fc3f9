#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Routing policy: pushed routes, a network behind a client, inner source
# address enforcement, and ClientToClient = off.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_public b 192.0.2.12
# bob has a LAN behind him (an address on his loopback stands in for it).
n b ip addr add 198.19.5.1/32 dev lo
# The server pushes a route to a network it can reach itself.
n srv ip addr add 198.19.7.1/32 dev lo

lm_client_conf alice 192.0.2.1
lm_client_conf bob 192.0.2.1

for c2c in relay off; do
    log "=== ClientToClient = $c2c"
    rm -rf "$T/state-server"
    lm_server_conf server subnet $c2c "Route = 198.19.7.0/24"
    printf '[Peer]\nName = bob\nAddress = 198.18.0.20\nNetwork = 198.19.5.0/24\n' >> "$T/server.conf"
    lm_start srv server
    lm_start a alice; lm_wait_up a alice
    # bob is configured but not connected: listed as down, with his address.
    lm_ctl srv server -br peer show >"$T/brief"
    grep -Eq '^bob +down +- +198\.18\.0\.20 +- +never$' "$T/brief" || die "bob not listed as down: $(cat "$T/brief")"
    grep -Eq '^alice +up +direct +198\.18\.0\.[0-9]+ 2001:db8:1::[0-9a-f]+ +192\.0\.2\.11' "$T/brief" ||
        die "alice's brief line: $(cat "$T/brief")"
    [ "$(lm_ctl srv server -j peer show bob | jq -r '.[0].state')" = down ] || die "bob's state in JSON"
    lm_start b bob; lm_wait_up b bob
    [ "$(lm_ctl srv server -j peer show bob | jq -r '.[0].state')" = up ] || die "bob not up once connected"
    pass "$c2c: peer show lists a configured client that is not connected as down (-br: one line each)"

    [ "$(lm_json b bob .address)" = 198.18.0.20 ] || die "bob did not get his fixed Address"
    n a ip route show 198.19.7.0/24 | grep -q "via 198.18.0.1 dev lm-alice" || die "pushed route missing on alice"
    lm_ping a 198.19.7.1 || die "alice cannot reach the pushed network"
    pass "$c2c: pushed route installed and usable"

    n srv ip route show 198.19.5.0/24 | grep -q "dev lm-server" || die "server has no route to bob's LAN"
    lm_ping srv 198.19.5.1 || die "server cannot reach the network behind bob"
    lm_ping b -I 198.19.5.1 198.18.0.1 || die "bob's LAN cannot reach the server"
    pass "$c2c: network behind bob routed both ways"

    # An inner source alice does not own is dropped and counted.
    before=$(lm_json srv server .drops.src_not_allowed)
    n a ip addr add 198.18.0.200/32 dev lm-alice
    lm_ping a -I 198.18.0.200 198.18.0.1 && die "spoofed inner source got through"
    after=$(lm_json srv server .drops.src_not_allowed)
    [ "$after" -ge $((before + 3)) ] || die "spoofed packets not counted ($before -> $after)"
    per_peer=$(lm_ctl srv server -j -s peer show alice | jq -r '.[0].drops.src_not_allowed')
    [ "$per_peer" -ge 3 ] || die "lanmesh -s peer show alice: src_not_allowed $per_peer"
    n a ip addr del 198.18.0.200/32 dev lm-alice
    pass "$c2c: spoofed inner source dropped and counted ($before -> $after)"

    if [ $c2c = relay ]; then
        lm_ping a 198.18.0.20 || die "relay: alice -> bob"
        lm_ping a 198.19.5.1 || die "relay: alice -> bob's LAN"
        pass "relay: alice reaches bob and his LAN through the server"
    else
        lm_ping a 198.18.0.20 && die "off: alice reached bob"
        [ "$(lm_json srv server .drops.c2c_off)" -ge 3 ] || die "off: drops not counted"
        lm_ping a 198.18.0.1 || die "off: alice -> server"
        pass "off: client-to-client dropped and counted, server still reachable"
    fi
    for d in bob alice server; do lm_stop $d; done
done

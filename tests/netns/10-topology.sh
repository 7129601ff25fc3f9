#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One server and three clients (alice and bob public, carol behind a NAT) for
# each topology: the kernel state on every node must be exactly docs/DESIGN.md §3's
# table, and ping must work in every allowed direction (relay on).
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob carol
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_public b 192.0.2.12
lm_nat nat1 192.0.2.21 198.51.100.1/26
lm_behind c nat1 198.51.100.2/26 198.51.100.1
lm_client_conf alice 192.0.2.1
lm_client_conf bob 192.0.2.1
lm_client_conf carol 192.0.2.1

# addrs NS DEV: "local peer/len" per IPv4/IPv6 global address, sorted.
addrs() {
    n "$1" ip -j addr show dev "$2" | jq -r '.[0].addr_info[] | select(.scope=="global") |
        "\(.local)\(if .address then " peer " + .address else "" end)/\(.prefixlen)"' | sort | tr '\n' ' '
}
# routes NS DEV: our routes (not the kernel's), "dst via gw".
routes() {
    n "$1" ip -j route show dev "$2" proto 250 | jq -r '.[] | "\(.dst) via \(.gateway // "-")"' | sort | tr '\n' ' '
}
expect() {  # expect WHAT GOT WANT
    [ "$2" = "$3" ] || die "$1: got '$2', want '$3'"
    pass "$1: $3"
}

for topo in net30 p2p subnet; do
    log "=== topology $topo"
    rm -rf "$T/state-server"
    lm_server_conf server $topo relay
    lm_start srv server
    # Clients one after the other so the leases come out in a known order.
    lm_start a alice; lm_wait_up a alice
    lm_start b bob; lm_wait_up b bob
    lm_start c carol; lm_wait_up c carol

    case $topo in
    net30|p2p)
        expect "$topo server addr" "$(addrs srv lm-server)" "198.18.0.1 peer 198.18.0.2/32 "
        expect "$topo server routes" "$(routes srv lm-server)" "198.18.0.0/24 via 198.18.0.2 "
        if [ $topo = net30 ]; then
            expect "net30 alice addr" "$(addrs a lm-alice)" "198.18.0.6 peer 198.18.0.5/32 "
            expect "net30 alice routes" "$(routes a lm-alice)" "198.18.0.0/24 via 198.18.0.5 "
            expect "net30 bob addr" "$(addrs b lm-bob)" "198.18.0.10 peer 198.18.0.9/32 "
            expect "net30 carol addr" "$(addrs c lm-carol)" "198.18.0.14 peer 198.18.0.13/32 "
            expect "net30 carol routes" "$(routes c lm-carol)" "198.18.0.0/24 via 198.18.0.13 "
            A=198.18.0.6 B=198.18.0.10 C=198.18.0.14
        else
            expect "p2p alice addr" "$(addrs a lm-alice)" "198.18.0.4 peer 198.18.0.1/32 "
            expect "p2p alice routes" "$(routes a lm-alice)" "198.18.0.0/24 via 198.18.0.1 "
            expect "p2p bob addr" "$(addrs b lm-bob)" "198.18.0.5 peer 198.18.0.1/32 "
            expect "p2p carol addr" "$(addrs c lm-carol)" "198.18.0.6 peer 198.18.0.1/32 "
            A=198.18.0.4 B=198.18.0.5 C=198.18.0.6
        fi
        ;;
    subnet)
        expect "subnet server addr" "$(addrs srv lm-server)" "198.18.0.1/24 2001:db8:1::1/64 "
        expect "subnet server routes" "$(routes srv lm-server)" ""
        expect "subnet alice addr" "$(addrs a lm-alice)" "198.18.0.2/24 2001:db8:1::1000/64 "
        expect "subnet bob addr" "$(addrs b lm-bob)" "198.18.0.3/24 2001:db8:1::1001/64 "
        expect "subnet carol addr" "$(addrs c lm-carol)" "198.18.0.4/24 2001:db8:1::1002/64 "
        expect "subnet carol routes" "$(routes c lm-carol)" ""
        A=198.18.0.2 B=198.18.0.3 C=198.18.0.4
        ;;
    esac

    for ns in a b c; do lm_ping $ns 198.18.0.1 || die "$topo: $ns -> server"; done
    lm_ping srv $A && lm_ping srv $B && lm_ping srv $C || die "$topo: server -> clients"
    lm_ping a $B && lm_ping a $C && lm_ping b $C && lm_ping c $A || die "$topo: client <-> client relay"
    pass "$topo: ping server<->clients and client<->client"
    if [ $topo = subnet ]; then
        lm_ping a 2001:db8:1::1 && lm_ping a 2001:db8:1::1002 && lm_ping c 2001:db8:1::1001 ||
            die "subnet: IPv6 inside the tunnel"
        pass "subnet: IPv6 ping server and relay"
    fi
    [ "$(lm_json srv server .counters.relayed)" -gt 0 ] || die "$topo: relay counter did not move"

    for d in carol bob alice server; do lm_stop $d; done
    # SIGTERM removed the devices, and with them every address and route.
    for ns in srv a b c; do
        [ -z "$(n $ns ip -o link show type tun)" ] || die "$topo: a tun device is left in $ns"
        [ -z "$(n $ns ip route show proto 250)" ] || die "$topo: routes left in $ns"
    done
    pass "$topo: SIGTERM cleaned up devices and routes"
done

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A server behind a port-forwarding NAT (only TCP 4500 and UDP 4500 are
# forwarded) and a client with a public address: the server sees no NAT in
# front of the client and would put raw ESP in its ladder, which the port
# forward does not pass.  "auto" judges NAT on both sides (the server tells
# the client its own address, which is not the one the client dials), so the
# client leaves raw ESP out, and its tunnel carries traffic on ESP in UDP.
# A second client pinned to raw
# ESP finds its path dead, says so, and never claims to carry; one pinned to
# TLS carries its ESP in the control connection from the start.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice carol dave
lm_hub
lm_nat pf 192.0.2.30 198.51.100.1/26
lm_behind srv pf 198.51.100.2/26 198.51.100.1
n pf nft -f - <<'NFT' || die "nft on pf"
table ip portfwd {
    chain pre {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "wan" tcp dport 4500 dnat to 198.51.100.2
        iifname "wan" udp dport 4500 dnat to 198.51.100.2
    }
}
NFT
lm_public a 192.0.2.11
lm_public c 192.0.2.12
lm_public d 192.0.2.13
lm_server_conf server subnet relay
lm_client_conf alice 192.0.2.30
lm_client_conf carol 192.0.2.30 "Encapsulation = raw"
lm_client_conf dave 192.0.2.30 "Encapsulation = tls"
lm_start srv server
lm_start a alice
lm_start c carol
lm_start d dave
lm_wait_up a alice

path() { lm_ctl "$1" "$2" -j link show | jq -r '"\(.data_path) \(.data_path_state)"'; }
lm_wait 10 eval '[ "$(path a alice)" = "udp carrying" ]' || die "alice: $(path a alice)"
lm_ping a 198.18.0.1 || die "alice's tunnel does not carry"
grep -q "data path to 192.0.2.30:4500: the server is behind a NAT (it is 198.51.100.2, we dial 192.0.2.30): raw ESP would not pass; raw ESP left out" "$T/alice.log" \
    || die "alice does not say why raw ESP is out: $(grep 'data path' "$T/alice.log")"
pass "public client to a port-forwarded server: ESP in UDP carries, raw ESP left out of the ladder"

lm_wait_up c carol
lm_wait 10 eval '[ "$(path c carol)" = "raw dead" ]' || die "carol (pinned raw): $(path c carol)"
lm_ctl c carol link show | grep -q 'warning: data path to 192.0.2.30:4500 does not carry' \
    || die "no warning: $(lm_ctl c carol link show)"
grep -q 'data path to 192.0.2.30:4500 is dead: no authenticated ESP came back by raw ESP' "$T/carol.log" \
    || die "not logged"
pass "a client pinned to raw ESP reports its dead path"

lm_wait_up d dave
lm_wait 10 eval '[ "$(path d dave)" = "tls carrying" ]' || die "dave (pinned tls): $(path d dave)"
lm_ping d 198.18.0.1 || die "dave's tunnel in TLS does not carry"
[ "$(lm_json d dave .counters.udp_tx)" = 0 ] || die "dave sent UDP although pinned to TLS"
pass "a client pinned to TLS carries in the control connection ($(lm_json d dave .counters.stream_tx) ESP frames sent)"

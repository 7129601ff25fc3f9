#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The mesh when things break: a direct pair outlives its server (30 s) and
# both reconnect when it returns; a NAT that changes its public address sends the pair back to
# the blind relay and then to direct again; revoking a node
# makes its peers drop their pair SAs with it within seconds.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_cert server server
for c in alice bob; do lm_pki_cert $c client; done
lm_internet
lm_isp_nat natA 203.0.113.1/26 203.0.113.62/26 198.51.100.1/26
lm_isp_nat natB 203.0.113.65/26 203.0.113.126/26 198.51.100.65/26
lm_behind alice natA 198.51.100.2/26 198.51.100.1
lm_behind bob natB 198.51.100.66/26 198.51.100.65
lm_server_conf server subnet direct
for c in alice bob; do lm_client_conf $c 192.0.2.1; done
lm_start srv server
for c in alice bob; do lm_start $c $c; lm_wait_up $c $c; done
B=$(lm_json bob bob .address)
pair() { lm_json "$1" "$1" ".pairs[] | select(.name==\"$2\") | $3"; }
path_is() { [ "$(pair "$1" "$2" .path)" = "$3" ]; }
lm_ping alice "$B" || die "alice -> bob"
lm_wait 5 path_is alice bob direct && lm_wait 5 path_is bob alice direct || die "no direct path"
pass "alice<->bob direct"

# loss_during SECONDS CMD...: pings alice -> bob every 0.1 s while CMD runs
# (CMD must take at most SECONDS), prints the number of lost pings.
loss_during() {
    local secs=$1; shift
    local count=$((secs * 10))
    n alice ping -q -n -i 0.1 -c $count -W 1 "$B" > "$T/ping.out" 2>&1 &
    local ping=$!
    "$@"
    wait $ping
    local tx rx
    tx=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1/p' "$T/ping.out")
    rx=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\2/p' "$T/ping.out")
    echo $((tx - rx))
}

# 1. The server goes away: the direct pair does not notice.
stop_server_for_30s() { lm_stop server; sleep 30; }
lost=$(loss_during 31 stop_server_for_30s)
log "30 s without the server: $lost of 310 pings lost; path $(pair alice bob .path)"
[ "$lost" -le 2 ] || die "the direct pair lost $lost pings while the server was down"
path_is alice bob direct || die "the pair left the direct path while the server was down"
lm_start srv server
lm_wait_up alice alice 40
lm_wait_up bob bob 40
pass "server down 30 s: direct pair kept pinging ($lost lost); both clients reconnected"

# 2. alice's NAT gets a new public address (and forgets its mappings): the
# direct path dies, traffic falls back, and the pair finds its way back to
# direct through the new address.
renumber() {
    n natA ip addr flush dev wan
    n natA ip addr add 203.0.113.2/26 dev wan
    n natA ip route add default via 203.0.113.62
    n natA conntrack -F >/dev/null 2>&1
    sleep 29.5
}
lost=$(loss_during 30 renumber)
log "natA renumbered 203.0.113.1 -> .2: $lost of 300 pings lost in the next 30 s; path now $(pair alice bob .path)"
lm_wait 60 path_is alice bob direct || die "the pair did not return to direct: $(lm_show alice alice | jq -c .pairs)"
ep=$(pair bob alice .endpoint)
[[ $ep == 203.0.113.2:* ]] || die "bob reaches alice via $ep, not her new address"
lm_ping alice "$B" || die "alice -> bob after returning to direct"
pass "after alice's NAT moved: $lost pings lost, back to direct via $ep"

# 3. Revocation: bob is revoked and the server reloads its CRL; alice drops
# her pair SAs with bob within 5 s.
lm_pki_revoke bob
kill -HUP "${DPID[server]}"
lm_wait 5 eval '[ -z "$(pair alice bob .name)" ]' || die "alice still has a pair with bob 5 s after the revocation"
pass "bob revoked: alice dropped the pair within 5 s"

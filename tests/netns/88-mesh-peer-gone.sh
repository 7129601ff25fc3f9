#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lost pairs (issue 9, item 10): a pair on the blind relay (never direct:
# both NATs change the port per destination) must not send into a relay
# that forgot its SPI.
#  - dave leaves (his bye): the server tells carol at once, and she drops
#    the pair without sending anything;
#  - dave dies (no bye; the server sees his connection close): carol's next
#    pair packets meet an SPI the server no longer knows; the server tells
#    her (peer_gone), and she drops the pair, which is built anew when he
#    is back.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_cert server server
for c in carol dave; do lm_pki_cert $c client; done
lm_internet
lm_isp_nat natC 203.0.113.129/26 203.0.113.190/26 198.51.100.129/26 fully-random
lm_isp_nat natD 203.0.113.193/26 203.0.113.254/26 198.51.100.193/26 fully-random
lm_behind carol natC 198.51.100.130/26 198.51.100.129
lm_behind dave natD 198.51.100.194/26 198.51.100.193
lm_server_conf server subnet direct
for c in carol dave; do lm_client_conf $c 192.0.2.1; done
lm_start srv server
for c in carol dave; do lm_start $c $c; done
for c in carol dave; do lm_wait_up $c $c 20; done
D=$(lm_json dave dave .address)
pair() { lm_json "$1" "$1" ".pairs[] | select(.name==\"$2\") | $3"; }
path_is() { [ "$(pair "$1" "$2" .path)" = "$3" ]; }
has_pair() { [ -n "$(pair "$1" "$2" .name)" ]; }

blind_pair() {
    lm_ping carol "$D" || die "carol -> dave"
    lm_wait 10 path_is carol dave relay || die "carol<->dave not on the blind relay: $(lm_show carol carol | jq -c .pairs)"
    n carol ping -q -n -c 3 -i 0.2 -W 1 "$D" >/dev/null || die "carol -> dave over the blind relay"
}
blind_pair
pass "carol<->dave on the blind relay"

# 1. dave leaves: carol is told while she sends nothing.
lm_stop dave
lm_wait 5 eval '! has_pair carol dave' || die "carol still holds her pair with dave after he left"
grep -q "pair dave dropped: server: dave left" "$T/carol.log" || die "carol was not told dave left: $(grep 'pair dave' "$T/carol.log" | tail -2)"
pass "dave left: carol dropped the pair ($(grep -m1 'pair dave dropped' "$T/carol.log" | cut -d' ' -f5-))"

# Back: the pair is built anew through the relay.
lm_start dave dave
lm_wait_up dave dave 20
blind_pair
pass "dave back: a new pair on the blind relay"

# 2. dave dies without a word: carol's pair packets meet an unknown SPI.
kill -KILL "${DPID[dave]}"
wait "${DPID[dave]}" 2>/dev/null
lm_wait 10 eval '[ "$(lm_json srv server ".peers | map(select(.name==\"dave\")) | length")" = 0 ]' ||
    die "the server did not notice dave's connection closed"
n carol ping -q -n -c 5 -i 0.2 -W 1 "$D" >/dev/null 2>&1
lm_wait 5 eval '! has_pair carol dave' ||
    die "carol still holds her pair with dave, whose SPI the relay forgot (server unknown-spi drops: $(lm_json srv server .drops.unknown_spi))"
grep -q "pair dave dropped: server: dave is gone" "$T/carol.log" || die "carol dropped the pair for another reason"
told=$(lm_json srv server .mesh.unknown_spi_told)
[ "$told" -ge 1 ] || die "the server counted no unknown-SPI notice"
pass "dave died: the relay saw his unknown SPI and told carol ($told notice(s)); she dropped the pair"

lm_start dave dave
lm_wait_up dave dave 20
blind_pair
pass "dave back again: the pair rebuilt"

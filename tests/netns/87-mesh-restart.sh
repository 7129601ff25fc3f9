#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The mesh across restarts (issue 9, items 9-11):
#  - a peer restarts: relayed traffic to it (a pair that was never direct)
#    flows again within seconds, the server telling its pairs;
#  - the server restarts: the pairs it forgot are taken up again and keep
#    rekeying (no "not introduced");
#  - all along, an idle direct pair never leaves its direct path (no
#    lost/found every NatKeepalive, nor at the first packet after the pause).
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_cert server server
for c in alice bob carol dave; do lm_pki_cert $c client; done
lm_internet
lm_isp_nat natA 203.0.113.1/26 203.0.113.62/26 198.51.100.1/26
lm_isp_nat natB 203.0.113.65/26 203.0.113.126/26 198.51.100.65/26
lm_isp_nat natC 203.0.113.129/26 203.0.113.190/26 198.51.100.129/26 fully-random
lm_isp_nat natD 203.0.113.193/26 203.0.113.254/26 198.51.100.193/26 fully-random
lm_behind alice natA 198.51.100.2/26 198.51.100.1
lm_behind bob natB 198.51.100.66/26 198.51.100.65
lm_behind carol natC 198.51.100.130/26 198.51.100.129
lm_behind dave natD 198.51.100.194/26 198.51.100.193
# Short rekey limits (pushed to the clients), so that pairs must rekey in
# the minute this test runs, across the server's restart.
lm_server_conf server subnet direct "RekeyAfterTime = 10" "RekeyGrace = 5"
for c in alice bob carol dave; do lm_client_conf $c 192.0.2.1; done
lm_start srv server
for c in alice bob carol dave; do lm_start $c $c; done
for c in alice bob carol dave; do lm_wait_up $c $c 20; done
B=$(lm_json bob bob .address); D=$(lm_json dave dave .address)
pair() { lm_json "$1" "$1" ".pairs[] | select(.name==\"$2\") | $3"; }
path_is() { [ "$(pair "$1" "$2" .path)" = "$3" ]; }
lost_lines() { grep -c "pair $2: direct path lost" "$T/$1.log"; }

# alice <-> bob direct, then idle until the end.
lm_ping alice "$B" || die "alice -> bob"
lm_wait 5 path_is alice bob direct && lm_wait 5 path_is bob alice direct || die "alice<->bob not direct"
idle_from=$(date +%s)
pass "alice<->bob direct; idle from now on"

# carol <-> dave behind port-randomising NATs: the blind relay.
lm_ping carol "$D" || die "carol -> dave"
lm_wait 10 path_is carol dave relay || die "carol<->dave not on the relay: $(lm_show carol carol | jq -c .pairs)"
n carol ping -q -n -c 5 -i 0.2 -W 1 "$D" >/dev/null || die "carol -> dave over the relay"
pass "carol<->dave on the blind relay"

# 1. dave restarts: carol's traffic to him flows again within seconds.
lm_stop dave
lm_start dave dave
lm_wait_up dave dave 20
up=$(date +%s%N)
ok=
for _ in $(seq 20); do
    if n carol ping -q -n -c 1 -W 1 "$D" >/dev/null 2>&1; then ok=1; break; fi
done
took=$(( ($(date +%s%N) - up) / 1000000 ))
[ -n "$ok" ] || die "carol -> dave still dropped 20 s after dave came back: $(grep -c unknown-spi "$T/server.log") / server drops $(lm_json srv server .drops.unknown_spi)"
[ "$took" -le 6000 ] || die "carol -> dave took ${took} ms to recover after dave came back"
n carol ping -q -n -c 5 -i 0.2 -W 1 "$D" >/dev/null || die "carol -> dave after the recovery"
pass "dave restarted: carol's traffic to him flowed again ${took} ms after he was back"

# 2. The server restarts: alice and bob hold their pair; it is taken up
# again and rekeys (RekeyAfterTime = 10) instead of being refused.
e0=$(pair alice bob .epoch)
lm_stop server
lm_start srv server
lm_wait_up alice alice 20
lm_wait_up bob bob 20
rekeyed() {
    local a b
    a=$(pair alice bob .epoch); b=$(pair bob alice .epoch)
    [ "$a" -ge $((e0 + 2)) ] && [ "$a" = "$b" ]
}
lm_wait 30 rekeyed || die "the pair did not rekey after the server restart: epoch $e0 -> $(pair alice bob .epoch)/$(pair bob alice .epoch); $(grep 'pair key' "$T/server.log" | tail -3)"
grep -q "refused: not introduced" "$T/server.log" && die "the server refused pair keys: $(grep -m1 'not introduced' "$T/server.log")"
path_is alice bob direct || die "the pair left the direct path across the server restart"
pass "server restarted: alice<->bob rekeyed from epoch $e0 to $(pair alice bob .epoch), still direct"

# 3. Idle > 25 s (one NatKeepalive and more): no lost/found, then the first
# packets after the pause go direct without a flap.
left=$(( idle_from + 32 - $(date +%s) ))
[ "$left" -gt 0 ] && sleep "$left"
for x in "alice bob" "bob alice"; do
    set -- $x
    [ "$(lost_lines "$1" "$2")" -eq 0 ] || die "$1's idle direct pair with $2 flapped: $(grep "pair $2: direct path" "$T/$1.log" | head -4)"
done
fwd0=$(lm_json srv server .mesh.forwarded_packets); rel0=$(lm_json srv server .counters.relayed)
n alice ping -q -n -c 5 -i 0.2 -W 1 "$B" >/dev/null || die "alice -> bob after the pause"
sleep 1
for x in "alice bob" "bob alice"; do
    set -- $x
    [ "$(lost_lines "$1" "$2")" -eq 0 ] || die "$1's pair with $2 flapped at the first packet after the pause"
done
[ "$(lm_json srv server .mesh.forwarded_packets)" -eq "$fwd0" ] || die "alice -> bob went through the server after the pause"
[ "$(lm_json srv server .counters.relayed)" -eq "$rel0" ] || die "alice -> bob was relayed by the server after the pause"
pass "alice<->bob idle $(( $(date +%s) - idle_from )) s: no path lost, none at the first packets after the pause"

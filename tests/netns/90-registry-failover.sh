#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Client failover between the servers of one network (docs/DESIGN.md §11):
# clients list both servers; when the one in use dies they are on the other
# within 10 s with the same addresses (the registry in etcd gives them back),
# and their direct pair loses no packet meanwhile.  A client whose first
# listed server is down connects to the next one.  A server cut off without
# a word (its packets dropped, no connection closed) is left within 10 s
# too, not at the keepalive timeout.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob carol
lm_registry_hub a b c

lm_registry_servers direct
# Both forms: a list on one line, and the key given again.
lm_client_conf alice "192.0.2.1 192.0.2.2"
lm_client_conf bob 192.0.2.1 "Server = 192.0.2.2"
lm_client_conf carol "192.0.2.1 192.0.2.2"
lm_registry_start
lm_start a alice; lm_start b bob
lm_wait_up a alice 20; lm_wait_up b bob 20
in_use() { lm_ctl "$1" "$2" -j link show | jq -r .server; }
[ "$(in_use a alice)" = 192.0.2.1:4500 ] && [ "$(in_use b bob)" = 192.0.2.1:4500 ] ||
    die "not on the first listed server: alice $(in_use a alice), bob $(in_use b bob)"
lm_ctl a alice link show | grep -q '^    servers 192.0.2.1:4500 192.0.2.2:4500  (in use 192.0.2.1:4500' ||
    die "link show does not say which server is in use: $(lm_ctl a alice link show)"
A=$(lm_json a alice .address); B=$(lm_json b bob .address)
pair() { lm_json "$1" "$2" ".pairs[] | select(.name==\"$3\") | $4"; }
path_is() { [ "$(pair "$1" "$2" "$3" .path)" = "$4" ]; }
lm_ping a "$B" || die "alice -> bob"
lm_wait 10 path_is a alice bob direct && lm_wait 10 path_is b bob alice direct ||
    die "alice<->bob did not go direct: $(lm_show a alice | jq -c .pairs)"
pass "alice ($A) and bob ($B) on srva, listing both servers; their pair is direct"

# srva dies without a word while alice pings bob over their direct pair.
n a ping -n -i 0.2 -c 75 -W 1 "$B" >"$T/ping.log" 2>&1 &
PING=$!; PIDS+=($PING)
sleep 2
t0=$(date +%s.%N)
kill -KILL "${DPID[srva]}"
on_b() { [ "$(in_use "$1" "$2")" = 192.0.2.2:4500 ] && lm_is_up "$1" "$2"; }
lm_wait 10 on_b a alice || die "alice not on srvb within 10 s: $(lm_ctl a alice -j link show | jq -c '{state,server}')"
lm_wait 10 on_b b bob || die "bob not on srvb within 10 s: $(lm_ctl b bob -j link show | jq -c '{state,server}')"
secs=$(echo "$(date +%s.%N) - $t0" | bc)
log "both on srvb ${secs} s after srva died"
[ "$(echo "$secs <= 10" | bc)" = 1 ] || die "failover took ${secs} s"
[ "$(lm_json a alice .address)" = "$A" ] || die "alice got $(lm_json a alice .address) from srvb, had $A"
[ "$(lm_json b bob .address)" = "$B" ] || die "bob got $(lm_json b bob .address) from srvb, had $B"
[ "$(lm_ctl a alice -j link show | jq -r .failovers)" -ge 1 ] || die "alice counted no failover"
grep -q 'trying the next server, 192.0.2.2:4500' "$T/alice.log" || die "alice did not log the move"
lm_ping a 198.18.0.1 || die "alice -> srvb"
wait $PING
log "$(grep -E 'packets transmitted' "$T/ping.log")"
grep -q ' 0% packet loss' "$T/ping.log" || die "the direct pair lost packets during the failover: $(grep -E 'transmitted' "$T/ping.log")"
pass "srva killed: alice and bob on srvb in ${secs} s with the same addresses; their pair lost no ping"

# The first listed server is down: carol connects to the next one.
lm_start c carol; lm_wait_up c carol 20
[ "$(in_use c carol)" = 192.0.2.2:4500 ] || die "carol is on $(in_use c carol)"
lm_ping c "$A" || die "carol -> alice"
pass "carol, whose first listed server is down, was admitted by the second"

# 3. srva back; srvb cut off without a word: every packet to and from it
# dropped, no connection closed.  Its clients move to srva within 10 s --
# not after the pushed keepalive timeout (10 s here, 60 s by default).
lm_start sa srva
lm_wait 10 lm_show sa srva || die "srva did not start again"
n sb nft -f - <<'NFT' || die "cannot cut srvb off"
table inet cut {
    chain in { type filter hook input priority -10; policy drop; }
    chain out { type filter hook output priority -10; policy drop; }
}
NFT
t0=$(date +%s.%N)
on_a() { [ "$(in_use "$1" "$2")" = 192.0.2.1:4500 ] && lm_is_up "$1" "$2"; }
for c in "a alice" "b bob" "c carol"; do
    set -- $c
    lm_wait 12 on_a "$1" "$2" || die "$2 not on srva after srvb was cut off: $(lm_ctl "$1" "$2" -j link show | jq -c '{state,server}'); $(grep -E 'warning' "$T/$2.log" | tail -n 2)"
done
secs=$(echo "$(date +%s.%N) - $t0" | bc)
log "all three on srva ${secs} s after srvb was cut off"
[ "$(echo "$secs <= 10" | bc)" = 1 ] || die "moving away from a silent server took ${secs} s"
grep -q 'keepalive timeout (no answer for 6 s)' "$T/alice.log" || die "alice did not give srvb up after 6 s of silence"
lm_ping c "$A" || die "carol -> alice after the move"
pass "srvb cut off silently: alice, bob and carol on srva in ${secs} s"

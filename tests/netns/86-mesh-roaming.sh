#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Roaming in the mesh (issue 9, item 8): alice moves from one NAT to
# another.  carol, who did not move, keeps talking to bob over their direct
# path as if nothing happened (bob does not move his data socket because a
# peer moved); alice's own traffic to bob comes back within seconds, and bob
# is told her new endpoint.  Roaming (issue 10): alice notices the change of
# route herself (netlink), registers again and punches again at once: her
# traffic is back within 1 s of the new route, direct within 3 s.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_cert server server
for c in alice bob carol; do lm_pki_cert $c client; done
lm_internet
lm_isp_nat natA 203.0.113.1/26 203.0.113.62/26 198.51.100.1/26
lm_isp_nat natB 203.0.113.65/26 203.0.113.126/26 198.51.100.65/26
lm_isp_nat natC 203.0.113.129/26 203.0.113.190/26 198.51.100.129/26
lm_isp_nat natE 203.0.113.193/26 203.0.113.254/26 198.51.100.193/26   # where alice goes
lm_behind alice natA 198.51.100.2/26 198.51.100.1
lm_behind bob natB 198.51.100.66/26 198.51.100.65
lm_behind carol natC 198.51.100.130/26 198.51.100.129
lm_server_conf server subnet direct
for c in alice bob carol; do lm_client_conf $c 192.0.2.1; done
lm_start srv server
for c in alice bob carol; do lm_start $c $c; done
for c in alice bob carol; do lm_wait_up $c $c 20; done
B=$(lm_json bob bob .address)
pair() { lm_json "$1" "$1" ".pairs[] | select(.name==\"$2\") | $3"; }
path_is() { [ "$(pair "$1" "$2" .path)" = "$3" ]; }

lm_ping alice "$B" || die "alice -> bob"
lm_ping carol "$B" || die "carol -> bob"
for x in "alice bob" "bob alice" "carol bob" "bob carol"; do
    set -- $x
    lm_wait 5 path_is "$1" "$2" direct || die "$1 -> $2 not direct"
done
pass "alice<->bob and carol<->bob direct"

# alice's cable goes from natA's LAN to natE's, with a new address there.
move_alice() {
    ip -n "$P-natA" link set "$P-alice-l" netns "$P-natE"
    n natE ip link set "$P-alice-l" master lan up
    n alice ip addr flush dev wan
    n alice ip addr add 198.51.100.194/26 dev wan
    n alice ip route add default via 198.51.100.193
}

# carol pings bob for 30 s; alice pings bob too (so that bob's path to her
# is busy and her move is noticed at once); she moves 3 s in.
n carol ping -q -n -i 0.1 -c 300 -W 1 "$B" > "$T/carol-ping.out" 2>&1 &
cping=$!; PIDS+=($cping)
n alice ping -n -i 0.2 -c 150 -W 1 -D "$B" > "$T/alice-ping.out" 2>&1 &
aping=$!; PIDS+=($aping)
sleep 3
moved=$(date +%s.%N)
move_alice
up=$(date +%s.%N)   # her new address and default route are in place
log "alice moved to natE (203.0.113.193)"
# Direct again: both ends on a path to where she is now (polled here,
# timed below from the daemons' own log lines).
lm_wait 20 eval 'path_is alice bob direct && path_is bob alice direct &&
    [[ "$(pair bob alice .endpoint)" == 203.0.113.193:* ]]' || true
wait $cping
wait $aping
sent=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1/p' "$T/carol-ping.out")
got=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\2/p' "$T/carol-ping.out")
lost=$((sent - got))
log "carol -> bob while alice moved: $lost of $sent lost; bob: $(lm_json bob bob .mesh.rebinds) data socket moves"
grep -q "data socket moved" "$T/bob.log" && die "bob moved his data socket because alice moved: $(grep -m1 'data socket moved' "$T/bob.log")"
[ "$lost" -le 10 ] || die "carol lost $lost of $sent pings to bob while alice moved"
path_is carol bob direct || die "carol<->bob left the direct path"
pass "carol -> bob: $lost of $sent pings lost while alice moved; bob kept his data socket"

# alice's pings came back: the longest stretch without an answer, from
# the move on.
gap=$(awk -v t="$moved" '/bytes from/ { s = substr($1, 2, length($1) - 2) + 0; if (s < t) next; if (s - last > max) max = s - last; last = s } BEGIN { last = t; max = 0 } END { if (last == t) print "none"; else printf "%.1f\n", max }' "$T/alice-ping.out")
[ "$gap" != none ] || die "none of alice's pings to bob got through after she moved"
log "alice -> bob: longest silence after the move $gap s"
[ "$(echo "$gap <= 25" | bc)" = 1 ] || die "alice -> bob got no answer for $gap s after the move"
# Roaming (issue 10): alice notices the new route herself, registers again
# at once and punches again; her traffic is back within a second of the
# route being up, and direct within 3 s.
back=$(awk -v t="$up" '/bytes from/ { s = substr($1, 2, length($1) - 2) + 0; if (s >= t) { printf "%.2f\n", s - t; exit } }' "$T/alice-ping.out")
[ -n "$back" ] || die "no answer to alice after her route was up"
# When a log line matching $2 first appears in $1 after her route was up,
# in seconds after that.
since_up() {
    local at
    at=$(grep -E "$2" "$1" | while read -r d t _; do
        s=$(date -d "$d $t" +%s.%N)
        [ "$(echo "$s >= $up" | bc)" = 1 ] && { echo "$s"; break; }
    done)
    [ -n "$at" ] && echo "$at - $up" | bc || echo none
}
a=$(since_up "$T/alice.log" 'pair bob: direct path via')
b=$(since_up "$T/bob.log" 'pair alice: direct path via 203\.0\.113\.193')
redirect=none
[ "$a" != none ] && [ "$b" != none ] && redirect=$(printf '%s\n%s\n' "$a" "$b" | sort -g | tail -1)
log "alice -> bob: first answer $back s after her new route was up; direct again after $redirect s"
[ "$(echo "$back <= 1.0" | bc)" = 1 ] || die "alice's traffic came back $back s after her route was up (more than 1 s)"
[ "$redirect" != none ] && [ "$(echo "$redirect <= 3.0" | bc)" = 1 ] ||
    die "alice<->bob not direct again within 3 s of her move ($redirect): alice $(pair alice bob .path), bob $(pair bob alice .path) $(pair bob alice .endpoint)"
grep -q "underlay changed: route to the server" "$T/alice.log" || die "alice did not log why she registered again"
log "alice: $(grep -m1 'underlay changed: route' "$T/alice.log" | sed 's/.*underlay changed/underlay changed/')"
pass "roaming: traffic back in $back s, direct again in $redirect s"
lm_ping alice "$B" || die "alice -> bob after her move"
# The server re-learned where alice is, and passed it on to bob.
lm_wait 10 eval '[[ "$(pair bob alice .candidates[0])" == 203.0.113.193:* ]]' ||
    die "bob was not told alice's new endpoint: $(pair bob alice .candidates)"
pass "alice -> bob answered again (longest silence $gap s); bob re-learned her endpoint $(pair bob alice .candidates[0]), path $(pair bob alice .path)"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hole punching between neighbouring NATs: natA and natB masquerade onto one
# segment, with no router between them (two home routers on one ISP LAN, two
# VM hosts on one bridge).  Every packet that leaves one NAT reaches the
# other, so whichever side's first packet arrives before the other NAT has
# its own mapping leaves an UNREPLIED entry there, and that NAT then gives
# its client another (random) port toward us, which our NAT filters.  The
# pair measures that the peer's NAT is within reach of its openers and lets
# one side send first (docs/PROTOCOLS.md §10, H6; src/mesh/punch_plan.h):
# direct in about half a minute, every time rather than by luck.
#
# Ten tries at once, as ten pairs behind the same two NATs (a try takes
# half a minute: one after another would take five).  Pair i is made of
# "a$i" or "y$i" behind natA and "b$i" behind natB, so that the side that
# sends first (the lower name) alternates between the NATs, and so does the
# side whose ping brings the introduction.
source "$(dirname "$0")/lib.sh"

N=10
lm_pki_init
lm_pki_cert server server
#   hub (192.0.2.0/24): srv .1, natA .11, natB .12
#   natA (198.51.100.0/26): A-side clients .2..   natB (198.51.100.64/26): B-side .66..
lm_hub
lm_public srv 192.0.2.1
lm_nat natA 192.0.2.11 198.51.100.1/26
lm_nat natB 192.0.2.12 198.51.100.65/26
# Each pair asks how far the peer's NAT is, which that NAT answers with ICMP;
# Linux sends one host 6 ICMP errors at once, then 1 a second
# (icmp_ratelimit).  One household's pair never meets that limit; ten pairs
# through the same two NATs in the same second would, so it is lifted here.
for x in natA natB; do n $x sysctl -qw net.ipv4.icmp_ratelimit=0; done
aside() { [ $(($1 % 2)) = 0 ] && echo "a$1" || echo "y$1"; }
for i in $(seq 0 $((N - 1))); do
    a=$(aside $i) b=b$i
    lm_pki_cert "$a" client; lm_pki_cert "$b" client
    lm_behind "$a" natA "198.51.100.$((2 + i))/26" 198.51.100.1
    lm_behind "$b" natB "198.51.100.$((66 + i))/26" 198.51.100.65
    lm_client_conf "$a" 192.0.2.1; lm_client_conf "$b" 192.0.2.1
done
lm_server_conf server subnet direct
lm_start srv server
for i in $(seq 0 $((N - 1))); do a=$(aside $i); lm_start "$a" "$a"; lm_start b$i b$i; done
# Twenty daemons: read their addresses from their logs rather than asking
# each one in turn (the state dump takes a while on a loaded machine).
laddr() { sed -n 's/.*connected to [^ ]*: \([0-9.]*\) .*/\1/p' "$T/$1.log" | tail -n 1; }
all_up() {
    local i
    for i in $(seq 0 $((N - 1))); do [ -n "$(laddr "$(aside $i)")" ] && [ -n "$(laddr b$i)" ] || return 1; done
}
lm_wait 60 all_up || die "not every client connected"
declare -A ADDR
for i in $(seq 0 $((N - 1))); do a=$(aside $i); ADDR[$a]=$(laddr "$a"); ADDR[b$i]=$(laddr b$i); done

# Each pair: one side pings the other (through the server), which brings
# the introduction; the pings alternate between the NATs too.
pings=()
for i in $(seq 0 $((N - 1))); do
    a=$(aside $i) b=b$i
    if [ $((i / 2 % 2)) = 0 ]; then n "$a" ping -q -n -c 1 -W 1 "${ADDR[$b]}" >/dev/null 2>&1 &
    else n "$b" ping -q -n -c 1 -W 1 "${ADDR[$a]}" >/dev/null 2>&1 & fi
    pings+=($!)
done
wait "${pings[@]}"
direct() { grep -q "pair $2: direct path via" "$T/$1.log"; }
# While it waits, peer show says why (pair 0: a0 holds, b0 waits).
reason_ok=0
lm_wait 10 eval 'lm_ctl b0 b0 peer show a0 | grep -q "reason: neighbouring NATs"' && reason_ok=1
why=$(lm_ctl b0 b0 -j peer show a0 | jq -r '.[0].punch_reason')
log "b0 on a0: $why"
all_direct() {
    local i
    for i in $(seq 0 $((N - 1))); do direct "$(aside $i)" b$i && direct b$i "$(aside $i)" || return 1; done
}
lm_wait 50 all_direct
ok=0
for i in $(seq 0 $((N - 1))); do
    a=$(aside $i) b=b$i R=relay
    if direct "$a" "$b" && direct "$b" "$a"; then
        R=direct
        lm_ping "$a" "${ADDR[$b]}" || R=broken
    else
        R="relay ($(lm_ctl "$a" "$a" -j peer show "$b" | jq -r '.[0].punch_reason'))"
    fi
    log "neighbouring NATs, pair $a-$b: $R $(grep -h "pair .*: direct path via" "$T/$a.log" | tail -n 1 | sed -n 's/.*(\(.*\))/(\1)/p')"
    [ "$R" = direct ] && ok=$((ok + 1))
done
[ $ok -ge 9 ] || die "neighbouring NATs: direct in only $ok of $N tries"
pass "neighbouring NATs: direct in $ok of $N tries, either side sending first"
[ $reason_ok = 1 ] || die "b0's peer show gave no reason while punching: $why"
pass "peer show: $why"

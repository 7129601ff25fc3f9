#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hole punching through a carrier-grade NAT: alice sits behind a home NAT
# that itself sits behind a CGNAT, bob behind a plain NAT.  A fixed TTL-2
# opener dies at the CGNAT without opening it, so whichever side's normal
# probe comes second finds a stale entry; the opener TTL is learnt instead
# (docs/PROTOCOLS.md §10).  The world is built once; each try restarts the
# two clients and empties the NATs' connection tables.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob carol
#   srv 192.0.2.1 -- inet -- cgn (203.0.113.1) -- natA (198.51.100.130) -- alice
#                        \-- natB (203.0.113.65) -- bob
#                        \-- cgn2 (203.0.113.129) -- natC (198.51.100.194) -- carol
lm_internet
lm_isp_nat cgn 203.0.113.1/26 203.0.113.62/26 198.51.100.129/26
lm_isp_nat natB 203.0.113.65/26 203.0.113.126/26 198.51.100.65/26
lm_isp_nat cgn2 203.0.113.129/26 203.0.113.190/26 198.51.100.193/26
lm_behind natA cgn 198.51.100.130/26 198.51.100.129
lm_nat_lan natA 198.51.100.1/26 ""
lm_behind natC cgn2 198.51.100.194/26 198.51.100.193
lm_nat_lan natC 198.51.100.225/27 ""
lm_behind alice natA 198.51.100.2/26 198.51.100.1
lm_behind bob natB 198.51.100.66/26 198.51.100.65
lm_behind carol natC 198.51.100.226/27 198.51.100.225
lm_server_conf server subnet direct
for c in alice bob carol; do lm_client_conf $c 192.0.2.1; done
lm_start srv server

NATS="cgn natA natB cgn2 natC"
declare -A ADDR
direct_n() { cat "$T/$1.log" 2>/dev/null | grep -c "pair $2: direct path via"; }
connected_n() { cat "$T/$1.log" 2>/dev/null | grep -c "connected to"; }
# try FIRST SECOND: both clients start afresh, FIRST pings SECOND; prints
# R=direct when both ends log a direct path within 3 s of the first ping,
# FIRST within 2 s of the introduction, and a ping goes through.
try() {
    local a=$1 b=$2 na nb ca cb
    for x in $NATS; do n "$x" conntrack -D -p udp >/dev/null 2>&1; done
    na=$(direct_n "$a" "$b"); nb=$(direct_n "$b" "$a")
    ca=$(connected_n "$a"); cb=$(connected_n "$b")
    lm_start "$a" "$a"; lm_start "$b" "$b"
    lm_wait 20 eval '[ "$(connected_n '"$a"')" -gt '"$ca"' ] && [ "$(connected_n '"$b"')" -gt '"$cb"' ]' || die "$a or $b did not connect"
    local addr=${ADDR[$b]:-}
    [ -n "$addr" ] || { addr=$(lm_json "$b" "$b" .address); ADDR[$b]=$addr; }
    n "$a" ping -q -n -c 1 -W 1 "$addr" >/dev/null 2>&1
    R=relay
    lm_wait 3 eval '[ "$(direct_n '"$a $b"')" -gt '"$na"' ] && [ "$(direct_n '"$b $a"')" -gt '"$nb"' ]' && R=direct
    if [ $R = direct ]; then
        lm_ping "$a" "$addr" || R=broken
        local ms
        ms=$(grep "pair $b: direct path via" "$T/$a.log" | tail -n 1 | sed -n 's/.*(\([0-9]*\) ms after introduction).*/\1/p')
        [ "${ms:-99999}" -le 2000 ] || R="slow (${ms} ms)"
    fi
    lm_stop "$a"; lm_stop "$b"
}

# 1. alice (home NAT behind a CGNAT) and bob (plain NAT), each side first in turn.
ok=0
for i in $(seq 10); do
    if [ $((i % 2)) = 1 ]; then try alice bob; else try bob alice; fi
    log "CGNAT try $i ($([ $((i % 2)) = 1 ] && echo alice || echo bob) first): $R"
    [ "$R" = direct ] && ok=$((ok + 1))
done
[ $ok -ge 9 ] || die "home NAT behind a CGNAT: direct in only $ok of 10 tries"
pass "home NAT behind a CGNAT: direct in $ok of 10 tries, either side first"

# 2. Both sides behind a CGNAT.
ok=0
for i in 1 2 3; do
    if [ $((i % 2)) = 1 ]; then try alice carol; else try carol alice; fi
    log "both behind CGNATs, try $i: $R"
    [ "$R" = direct ] && ok=$((ok + 1))
done
[ $ok -ge 3 ] || die "both behind CGNATs: direct in only $ok of 3 tries"
pass "both behind CGNATs: direct in $ok of 3 tries"

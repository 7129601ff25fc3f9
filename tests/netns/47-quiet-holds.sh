#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A quiet network costs the data path nothing but the control loop's tick:
# three clients exchange keepalives with the server every second, and the
# server holds its data-plane workers only for its tick (4 a second) and
# for the status requests that measure it, not for the keepalives, which
# touch nothing the workers read (docs/DESIGN.md §7).  No daemon makes a
# blocking call while it holds them (lib.sh checks that at the end).
#
#            hub (192.0.2.0/24)
#     srv .1   alice .11   bob .12   carol .13
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob carol
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_public b 192.0.2.12
lm_public c 192.0.2.13
# Each side pings every second: the server reads 2 keepalive frames a
# second from each client.
lm_server_conf server subnet relay
sed -i 's/^Keepalive = .*/Keepalive = 1 5/' "$T/server.conf"
for c in alice bob carol; do lm_client_conf $c 192.0.2.1; done
lm_start srv server
lm_wait 10 test -S "$T/run-server/server.sock" || die "no control socket"
lm_start a alice
lm_start b bob
lm_start c carol
lm_wait_up a alice
lm_wait_up b bob
lm_wait_up c carol
lm_ping a 198.18.0.1 || die "alice cannot reach the server"
sleep 3   # admissions, first dummies and path reports are over

pauses() { lm_show srv server | jq -r 'first(.. | objects | select(has("workers_held")) | .workers_held.pauses)'; }
p0=$(pauses)
t0=$(date +%s%N)
sleep 6
p1=$(pauses)
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
held=$((p1 - p0))
# The tick's share, plus the two status requests (accept, request, reply)
# and some slack; 6 keepalive frames a second would add about 36 more.
ticks=$((ms * 4 / 1000))
limit=$((ticks + 10))
log "server held its workers $held times in $ms ms (ticks: $ticks)"
[ "$held" -le "$limit" ] || die "server held its workers $held times in $ms ms of keepalives (at most $limit expected: the tick and the status requests)"
# The keepalives did flow meanwhile: every client is still up, its RTT measured.
for c in alice bob carol; do
    st=$(lm_ctl srv server -j peer show $c | jq -r '.[0].state')
    [ "$st" = up ] || die "$c is $st"
done
lm_ping a 198.18.0.1 || die "alice cannot reach the server"
pass "a quiet network: the server held its workers $held times in $ms ms, about its tick's $ticks; keepalives took no hold"

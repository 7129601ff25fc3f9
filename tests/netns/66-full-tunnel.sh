#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Full tunnel (issue 10, item 2): the server pushes OpenVPN's def1 halves
# and the client reaches an "internet" host behind the server through the
# tunnel, while its own TLS and ESP to the server keep using the underlay
# (SO_MARK + policy routing, net/policy_rules.h).  Killing the server gives
# the client its own default route back; Route = 0.0.0.0/0 works too; with
# FwMark = off the client refuses such a route and says why.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice
lm_internet                       # inet router; srv at 192.0.2.1 behind it
# alice on a segment of her own: only her default route reaches the server.
lm_link inet i-alice 198.51.100.1/24 a wan 198.51.100.2/24
n a ip route add default via 198.51.100.1
# The "internet" host, reachable only through the server (the inet router
# has no route to it).  The server is the exit: forwarding and the
# masquerade of examples/full-tunnel-exit.nft.
lm_link srv eth0 203.0.113.1/24 www eth0 203.0.113.80/24
n www ip route add default via 203.0.113.1
n srv ip -6 addr add 2001:db8:cafe::1/64 dev eth0 nodad
n www ip -6 addr add 2001:db8:cafe::80/64 dev eth0 nodad
n www ip -6 route add default via 2001:db8:cafe::1
n srv sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
n srv nft -f "$ROOT/examples/full-tunnel-exit.nft" || die "the example exit ruleset does not load"
lm_ping a 203.0.113.80 && die "alice reaches the internet host without the tunnel: the test proves nothing"

MARK=27757   # FwMark's default (0x6c6d)
lm_server_conf server subnet relay "Route = 0.0.0.0/1 128.0.0.0/1 ::/1 8000::/1"
lm_client_conf alice 192.0.2.1
lm_start srv server
lm_start a alice
lm_wait_up a alice 20

tbl=$(n a ip route show table $MARK)
for p in 0.0.0.0/1 128.0.0.0/1; do
    grep -q "^$p via 198.18.0.1 dev lm-alice" <<<"$tbl" || die "$p not in table $MARK: $tbl"
done
tbl6=$(n a ip -6 route show table $MARK)
for p in ::/1 8000::/1; do
    grep -q "^$p via 2001:db8:1::1 dev lm-alice" <<<"$tbl6" || die "$p not in table $MARK (IPv6): $tbl6"
done
# (Output captured first: grep -q may close the pipe early, and pipefail.)
rules=$(n a ip rule)
grep -q "not from all fwmark 0x6c6d lookup $MARK" <<<"$rules" || die "no fwmark rule: $rules"
grep -q "from all lookup main suppress_prefixlength 0" <<<"$rules" || die "no suppress rule: $rules"
grep -q "dev lm-alice" <<<"$(n a ip route get 203.0.113.80)" || die "unmarked traffic does not take the tunnel"
grep -q "dev wan" <<<"$(n a ip route get 192.0.2.1 mark $MARK)" || die "the daemon's marked traffic does not take the underlay"
pass "def1 halves (IPv4 and IPv6) in table $MARK behind the fwmark rules"

lm_ping a 203.0.113.80 || die "alice cannot reach the internet host through the server"
lm_ping a -6 2001:db8:cafe::80 || die "alice cannot reach the internet host over IPv6 through the server"
# TCP too, a few hundred kilobytes from the internet host.
n www python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("203.0.113.80", 8080)); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.sendall(b"x" * 400000); c.close()' &
srvpid=$!
PIDS+=($srvpid)
lm_wait 5 n www ss -ltn "sport = :8080" || true
got=$(n a timeout 20 python3 -c '
import socket, time
for _ in range(50):
    try:
        s = socket.create_connection(("203.0.113.80", 8080), timeout=10); break
    except OSError: time.sleep(0.1)
n = 0
while True:
    d = s.recv(65536)
    if not d: break
    n += len(d)
print(n)')
[ "$got" = 400000 ] || die "TCP from the internet host through the tunnel: got ${got:-nothing} of 400000 bytes"
pass "the client reaches an internet host through the server (ICMP, ICMPv6, TCP), the server masquerading"

# Several keepalive intervals (Keepalive = 2 10): the control connection
# stays up and is the same one.
sleep 5
lm_is_up a alice || die "alice's control connection went down behind the full tunnel"
# (alice may start before the server listens: a refused first attempt is
# no reconnect; anything after the first connect is.)
after=$(sed -n '/info: connected to 192.0.2.1/,$p' "$T/alice.log")
[ "$(grep -c 'info: connected to 192.0.2.1' <<<"$after")" = 1 ] &&
    ! grep -Eq 'disconnected|connection failed' <<<"$after" ||
    die "alice reconnected: $(grep -E 'timeout|disconnected|failed' <<<"$after" | tail -3)"
pass "the control connection stays up (one connect)"

# Server gone: the client's own default route is back within the keepalive
# timeout (10 s); the server's routes return with it.
kill -KILL "${DPID[server]}"
wait "${DPID[server]}" 2>/dev/null
own_route_back() {
    [ -z "$(n a ip route show table $MARK)" ] && grep -q "dev wan" <<<"$(n a ip route get 203.0.113.80)"
}
lm_wait 12 own_route_back || die "alice's pushed routes stayed while disconnected: $(n a ip route show table $MARK)"
lm_ping a 192.0.2.1 || die "alice cannot reach the server's underlay address on her own route"
pass "server killed: alice's own default route is back"
lm_start srv server
lm_wait_up a alice 20
lm_wait 10 n a sh -c "ip route show table $MARK | grep -q 128.0.0.0/1" || die "routes not restored on reconnect"
lm_ping a 203.0.113.80 || die "no full tunnel after the reconnect"
pass "server back: the routes are restored"

# Route = 0.0.0.0/0 ::/0: no "File exists" (alice has a default route of
# her own in main); the halves go, the default routes come.
lm_server_conf server subnet relay "Route = 0.0.0.0/0 ::/0"
lm_ctl srv server reload || die "server reload"
lm_wait 10 n a sh -c "ip route show table $MARK | grep -q '^default via 198.18.0.1 dev lm-alice'" ||
    die "0.0.0.0/0 not installed: $(n a ip route show table $MARK); $(grep -i 'route' "$T/alice.log" | tail -3)"
grep -q "/1" <<<"$(n a ip route show table $MARK)" && die "the def1 halves stayed"
grep -q "^default via 2001:db8:1::1 dev lm-alice" <<<"$(n a ip -6 route show table $MARK)" || die "::/0 not installed"
grep -q "File exists" "$T/alice.log" && die "File exists: $(grep 'File exists' "$T/alice.log")"
lm_ping a 203.0.113.80 || die "no traffic through Route = 0.0.0.0/0"
lm_is_up a alice || die "alice went down with Route = 0.0.0.0/0"
pass "Route = 0.0.0.0/0 and ::/0 work (no File exists)"

# Without the protection (FwMark = off) the client refuses a route that
# would swallow the server's address, and says so in the log and lanmesh(8).
lm_stop alice
lm_client_conf alice 192.0.2.1 "FwMark = off"
lm_start a alice
lm_wait_up a alice 20
lm_wait 5 grep -q "route 0.0.0.0/0 from the server refused" "$T/alice.log" || die "no refusal in the log"
grep -q "^0.0.0.0/0 .* refused: FwMark = off" <<<"$(lm_ctl a alice route show)" ||
    die "route show does not say it was refused: $(lm_ctl a alice route show)"
grep -q "0.0.0.0/0 from the server refused" <<<"$(lm_ctl a alice -j link show | jq -r '.warnings[]')" ||
    die "link show has no warning: $(lm_ctl a alice -j link show | jq -c .warnings)"
[ -z "$(n a ip route show table $MARK)" ] || die "a route was installed without protection"
grep -q "^default.*lm-alice" <<<"$(n a ip route show)" && die "default route in main"
lm_ping a 198.18.0.1 || die "the tunnel itself no longer works"
sleep 3
lm_is_up a alice || die "alice lost her server"
pass "FwMark = off: the route is refused with its reason (log, route show, link show); the tunnel stays up"

lm_stop alice
rules=$(n a ip rule)
grep -q "fwmark" <<<"$rules" && die "the policy rules outlived the daemon: $rules"
pass "rules removed at exit"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two servers of one network on one etcd ([Registry] PeerAddress,
# docs/DESIGN.md §11): they find each other in the registry, open the
# server-to-server channel (TLS with server certificates both ways, ESP
# between their data ports), and alice, admitted by srva behind one NAT,
# reaches bob, admitted by srvb behind another: first through both servers,
# then the two servers introduce them and they go direct, with no pair data
# on either server after that.  carol and dave, behind port-randomising
# NATs, meet on the blind relay across both servers (forwarded by SPI,
# decrypted by neither).  A client certificate cannot open the channel.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob carol dave

# inet routes between srva, srvb, etcd and four NATs, so that a packet
# between two NATs crosses a router as on the internet (the low-TTL
# hole-punch opener needs that):
#   natA (masquerade): alice on srva    natB (masquerade): bob on srvb
#   natC (fully-random): carol on srva  natD (fully-random): dave on srvb
lm_ns inet
n inet sysctl -qw net.ipv4.ip_forward=1
for h in "sa 192.0.2.62/26 192.0.2.1/26" "sb 192.0.2.126/26 192.0.2.65/26" "reg 192.0.2.190/26 192.0.2.129/26"; do
    set -- $h
    lm_link inet "$1" "$2" "$1" wan "$3"
    n "$1" ip route add default via "${2%/*}"
done
lm_isp_nat natA 203.0.113.1/26 203.0.113.62/26 198.51.100.1/26
lm_isp_nat natB 203.0.113.65/26 203.0.113.126/26 198.51.100.65/26
lm_isp_nat natC 203.0.113.129/26 203.0.113.190/26 198.51.100.129/26 fully-random
lm_isp_nat natD 203.0.113.193/26 203.0.113.254/26 198.51.100.193/26 fully-random
lm_behind alice natA 198.51.100.2/26 198.51.100.1
lm_behind bob natB 198.51.100.66/26 198.51.100.65
lm_behind carol natC 198.51.100.130/26 198.51.100.129
lm_behind dave natD 198.51.100.194/26 198.51.100.193
lm_etcd reg 192.0.2.129
pass "etcd up at 192.0.2.129:2379"

# srva presents the certificate "server"; srvb its own, "srvb" (its
# clients expect that name), so that it can be revoked alone below.
lm_pki_cert srvb server
lm_registry_server srva direct "Endpoint = http://192.0.2.129:2379" "TTL = 5" "PeerAddress = 192.0.2.1"
lm_registry_server srvb direct "Endpoint = http://192.0.2.129:2379" "TTL = 5" "PeerAddress = 192.0.2.65"
for c in alice carol; do lm_client_conf $c 192.0.2.1; done
for c in bob dave; do
    lm_client_conf $c 192.0.2.65
    sed -i 's/^ServerName = server$/ServerName = srvb/' "$T/$c.conf"
done
lm_start sa srva
lm_start sb srvb
for c in alice bob carol dave; do lm_start $c $c; done
for c in alice bob carol dave; do lm_wait_up $c $c 30; done
addr() { lm_json "$1" "$1" .address; }
A=$(addr alice); B=$(addr bob); C=$(addr carol); D=$(addr dave)
log "alice $A and carol $C on srva, bob $B and dave $D on srvb"

# 1. The channel: registered under server/, up on both sides.
keys=$(lm_etcd_keys reg 192.0.2.129 /lanmesh/test/server/ | sort | tr '\n' ' ')
[ "$keys" = "/lanmesh/test/server/srva /lanmesh/test/server/srvb " ] || die "server registrations: '$keys'"
link_up() { [ "$(lm_json "$1" "$2" ".servers.peers[] | select(.name==\"$3\") | .state")" = up ]; }
lm_wait 20 link_up sa srva srvb || die "srva: channel to srvb not up: $(lm_show sa srva | jq -c .servers)"
lm_wait 10 link_up sb srvb srva || die "srvb: channel to srva not up: $(lm_show sb srvb | jq -c .servers)"
routed() { [ "$(lm_json "$1" "$2" .servers.routes)" -ge 2 ]; }
lm_wait 10 routed sa srva || die "srva has no routes to srvb's nodes: $(lm_show sa srva | jq -c .servers)"
lm_wait 10 routed sb srvb || die "srvb has no routes to srva's nodes: $(lm_show sb srvb | jq -c .servers)"
pass "srva and srvb registered, connected, each routing to the other's nodes"

# One server/ record per server for every reader: the registry view's
# fields (address, nodes held) and the channel's (addr, peer, data), and
# link show's list of servers says the channel is up.
rec() { lm_etcd_value reg 192.0.2.129 "/lanmesh/test/server/$1" | jq -c '[.address, .nodes, .addr, .peer, .data]'; }
rec_is() { [ "$(rec "$1")" = "$2" ]; }
peer_a=$(lm_json sa srva .servers.peer)
lm_wait 10 rec_is srva "[\"192.0.2.1\",2,\"192.0.2.1:4500\",\"$peer_a\",\"192.0.2.1:4500\"]" ||
    die "srva's server/ record: $(rec srva) (channel at $peer_a)"
reg_line() { lm_ctl "$1" "$2" link show | grep -q "^    server $3  address $4  nodes 2  alive  channel up$"; }
lm_wait 10 reg_line sa srva srvb 192.0.2.65 || die "srva's link show: $(lm_ctl sa srva link show | grep '^    server')"
lm_wait 10 reg_line sb srvb srva 192.0.2.1 || die "srvb's link show: $(lm_ctl sb srvb link show | grep '^    server')"
lm_ctl sa srva link show | grep -q '^    server srva  .*alive  (this server)$' || die "srva's own line: $(lm_ctl sa srva link show)"
pass "server/srva holds both readers' fields: $(rec srva); link show lists srvb with its channel up"

# 2. alice <-> bob: the first packets through both servers, then direct.
link() { lm_json "$1" "$2" ".servers.peers[] | select(.name==\"$3\") | .$4"; }
lm_wait 15 lm_ping alice "$B" || die "alice (srva) -> bob (srvb)"
lm_ping bob "$A" || die "bob (srvb) -> alice (srva)"
tx=$(link sa srva srvb tx_packets); rx=$(link sb srvb srva rx_packets)
[ "${tx:-0}" -ge 1 ] && [ "${rx:-0}" -ge 1 ] || die "the first packets did not cross the channel: srva tx $tx, srvb rx $rx"
pair() { lm_json "$1" "$1" ".pairs[] | select(.name==\"$2\") | $3"; }
path_is() { [ "$(pair "$1" "$2" .path)" = "$3" ]; }
lm_wait 10 path_is alice bob direct || die "alice -> bob did not go direct: $(lm_show alice alice | jq -c .pairs)"
lm_wait 10 path_is bob alice direct || die "bob -> alice did not go direct: $(lm_show bob bob | jq -c .pairs)"
pass "alice <-> bob: first packets through both servers ($tx), then direct via $(pair alice bob .endpoint)"

# No pair data on either server after that: counters and a capture on each.
# relayed (decrypted), forwarded by SPI, and the channel's packets out and in.
snap() {
    lm_show "$1" "$2" | jq -r --arg p "$3" '[.counters.relayed, .mesh.forwarded_packets,
        (.servers.peers[] | select(.name==$p) | .tx_packets, .rx_packets)] | map(tostring) | join(" ")'
}
sa0=$(snap sa srva srvb); sb0=$(snap sb srvb srva)
declare -A TD
for s in sa sb; do
    ip netns exec "$P-$s" tcpdump -i wan -U -w "$T/$s.pcap" 'greater 400 and (udp port 4500 or esp)' >"$T/tcpdump-$s.log" 2>&1 &
    TD[$s]=$!; PIDS+=($!)
    lm_wait 5 grep -q listening "$T/tcpdump-$s.log" || die "tcpdump on $s did not start"
done
n alice ping -q -n -c 20 -i 0.1 -s 600 "$B" >/dev/null || die "ping alice -> bob on the direct path"
sleep 1
for s in sa sb; do kill -INT "${TD[$s]}"; wait "${TD[$s]}" 2>/dev/null; done
[ "$(snap sa srva srvb)" = "$sa0" ] || die "srva carried alice<->bob after direct: $sa0 -> $(snap sa srva srvb)"
[ "$(snap sb srvb srva)" = "$sb0" ] || die "srvb carried alice<->bob after direct: $sb0 -> $(snap sb srvb srva)"
for s in sa sb; do
    k=$(tcpdump -r "$T/$s.pcap" 2>/dev/null | wc -l)
    [ "$k" -eq 0 ] || die "$k large ESP packets on $s's uplink after direct"
done
pass "after direct, neither server carries alice<->bob (counters and captures)"

# 3. carol and dave (port-randomising NATs): the blind relay spans the
# servers; both forward by SPI, neither decrypts.
lm_wait 15 lm_ping carol "$D" || die "carol (srva) -> dave (srvb)"
settled() { [ "$(pair carol dave '"\(.path) \(.punching)"')" = "relay false" ]; }
lm_wait 20 settled ||
    die "carol <-> dave never settled: $(lm_show carol carol | jq -c .pairs)"
read -r ra0 fa0 ta0 xa0 <<<"$(snap sa srva srvb)"; read -r rb0 fb0 tb0 xb0 <<<"$(snap sb srvb srva)"
n carol ping -q -n -c 10 -i 0.1 "$D" >/dev/null || die "carol -> dave over the relay"
read -r ra1 fa1 ta1 xa1 <<<"$(snap sa srva srvb)"; read -r rb1 fb1 tb1 xb1 <<<"$(snap sb srvb srva)"
[ "$(pair carol dave .path)" = relay ] || die "carol <-> dave should be on the blind relay: $(pair carol dave .path)"
[ $((fa1 - fa0)) -ge 20 ] && [ $((fb1 - fb0)) -ge 20 ] ||
    die "the servers did not forward carol<->dave by SPI: srva +$((fa1 - fa0)), srvb +$((fb1 - fb0))"
[ "$ra0 $ta0 $xa0 $rb0 $tb0 $xb0" = "$ra1 $ta1 $xa1 $rb1 $tb1 $xb1" ] ||
    die "a server decrypted carol<->dave traffic (relayed, channel tx, rx): srva $ra0 $ta0 $xa0 -> $ra1 $ta1 $xa1, srvb $rb0 $tb0 $xb0 -> $rb1 $tb1 $xb1"
pass "carol <-> dave: blind relay across the servers (srva +$((fa1 - fa0)), srvb +$((fb1 - fb0)) by SPI, none decrypted)"

# 3b. bob (srvb) leaves: srvb tells srva, which tells alice; she drops the
# pair at once, as with a peer on her own server, instead of probing a path
# that is gone.
lm_stop bob
lm_wait 5 grep -q 'pair bob dropped: server: bob left' "$T/alice.log" ||
    die "alice kept her pair with bob after bob left srvb: $(lm_show alice alice | jq -c '[.pairs[] | {name, path}]')"
grep -q 'bob (on server srvb) left: told 1 node' "$T/srva.log" || die "srva did not say it passed bob's departure on"
pass "bob left srvb: alice, on srva, dropped the pair at once"

# 3c. srva restarts (pairs outlive a server restart): carol comes back with
# her pair with dave in her HELLO; srva asks srvb to take it up, both ends
# still hold it, carol starts a new epoch, and the blind relay across the
# servers carries again -- within seconds, not when the keys expire.
e0=$(pair carol dave .epoch)
lm_stop srva
lm_start sa srva
lm_wait 10 lm_show sa srva || die "srva did not start again"
lm_wait 20 lm_is_up carol carol || die "carol did not come back to srva"
lm_wait 20 link_up sa srva srvb || die "the channel did not come back"
newer() { [ "$(pair carol dave .epoch)" -gt "$e0" ]; }
lm_wait 20 newer || die "carol's pair with dave still at epoch $(pair carol dave .epoch) (was $e0)"
lm_wait 15 lm_ping carol "$D" || die "carol -> dave after srva restarted"
grep -q 'carol (on server srva) and dave still hold their pair; taken up again' "$T/srvb.log" ||
    die "srvb did not say it took carol and dave's pair up"
[ "$(pair carol dave .path)" = relay ] || die "carol <-> dave: path $(pair carol dave .path)"
pass "srva restarted: carol and dave's pair taken up across the servers (epoch $e0 -> $(pair carol dave .epoch)), relayed again"

# 4. A client certificate is not a server's: the channel refuses it.
n alice timeout 10 openssl s_client -connect 192.0.2.65:4501 -cert "$PKI/alice.crt" -key "$PKI/alice.key" \
    -CAfile "$PKI/ca.crt" -quiet </dev/null >/dev/null 2>&1
lm_wait 10 grep -q 'servers: refused a channel' "$T/srvb.log" || die "srvb did not refuse a client certificate"
link_up sb srvb srva || die "the real channel went down"
pass "a client certificate cannot open the server-to-server channel"

# 5. srvb's certificate is revoked: a reload on srva ends the channel,
# its routes to srvb's nodes go, and the retries are refused (logged once).
lm_pki_revoke srvb
lm_ctl sa srva reload >/dev/null || die "reload on srva"
lm_wait 10 grep -q 'servers: channel to srvb down: cut at reload' "$T/srva.log" ||
    die "srva kept its channel to a revoked srvb"
gone() { [ "$(lm_json sa srva .servers.routes)" = 0 ]; }
lm_wait 10 gone || die "srva still routes to srvb's nodes: $(lm_show sa srva | jq -c .servers)"
sleep 5
link_up sa srva srvb && die "srva opened a channel to the revoked srvb again"
ch=$(lm_ctl sa srva -j link show | jq -r '.registry.servers[] | select(.name=="srvb") | .channel')
[ "$ch" = down ] || [ "$ch" = connecting ] || die "link show: srvb's channel is '$ch' after the cut"
# Counted from the cut on: a retry refused at start (srvb had not read
# srva's registration yet) is another episode, logged on its own.
cut=$(grep -n 'servers: channel to srvb down: cut at reload' "$T/srva.log" | head -1 | cut -d: -f1)
n=$(tail -n +"$cut" "$T/srva.log" | grep -c 'servers: channel to srvb failed')
[ "$n" = 1 ] || die "the refused retries were logged $n times, expected once"
pass "srvb revoked: srva cut the channel at reload, dropped its routes, refuses it since (logged once)"

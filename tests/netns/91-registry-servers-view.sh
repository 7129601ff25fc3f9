#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The servers of one network as the registry in etcd shows them
# (docs/DESIGN.md §11): each server's `link show` lists every server (address,
# nodes held, health) and which server holds each node; `lanmesh monitor
# server` reports a server leaving (its etcd lease ended) and joining.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob
lm_registry_hub a b

lm_registry_servers relay
# srva names the address it listens on; srvb is seen at its source address
# towards etcd.
sed -i 's/^Role = server$/Role = server\nListen = 192.0.2.1/' "$T/srva.conf"
lm_client_conf alice 192.0.2.1
lm_client_conf bob 192.0.2.2
lm_start sa srva
lm_wait 10 lm_show sa srva || die "srva did not start"
ip netns exec "$P-sa" "$LANMESH" -R "$T/run-srva" -n srva -j monitor server >"$T/mon.json" 2>&1 &
PIDS+=($!)
ip netns exec "$P-sa" "$LANMESH" -R "$T/run-srva" -n srva monitor server >"$T/mon.txt" 2>&1 &
PIDS+=($!)
sleep 2   # the monitors subscribe, srva reads the registry once
lm_start sb srvb
lm_wait 10 lm_show sb srvb || die "srvb did not start"
lm_start a alice; lm_start b bob
lm_wait_up a alice 20; lm_wait_up b bob 20

reg() { lm_ctl sa srva -j link show | jq -c "$1"; }
srv_is() { [ "$(reg ".registry.servers[] | select(.name==\"$1\") | [.address, .nodes, .health]")" = "$2" ]; }
lm_wait 10 srv_is srva '["192.0.2.1:4500",1,"alive"]' || die "srva's own record: $(reg .registry.servers)"
lm_wait 10 srv_is srvb '["192.0.2.2",1,"alive"]' || die "srvb's record: $(reg .registry.servers)"
held() { [ "$(reg ".registry.nodes[] | select(.name==\"$1\") | .server")" = "\"$2\"" ]; }
lm_wait 10 held bob srvb && held alice srva || die "nodes: $(reg .registry.nodes)"
lm_ctl sa srva link show | grep -q '^    server srvb  address 192.0.2.2  nodes 1  alive$' ||
    die "link show text: $(lm_ctl sa srva link show)"
lm_ctl sa srva link show | grep -q '^    nodes online 2:  alice@srva  bob@srvb$' || die "link show text: $(lm_ctl sa srva link show)"
grep -q '"event":"server","name":"srvb","state":"joined","address":"192.0.2.2"' "$T/mon.json" ||
    die "no join on the monitor: $(cat "$T/mon.json")"
# Without a PeerAddress the one server/ record carries no channel, and
# link show names none.
rec=$(lm_etcd_value reg 192.0.2.9 /lanmesh/test/server/srvb | jq -c 'keys')
[ "$rec" = '["address","nodes"]' ] || die "srvb's server/ record: $(lm_etcd_value reg 192.0.2.9 /lanmesh/test/server/srvb)"
[ "$(reg '[.registry.servers[] | select(has("channel"))] | length')" = 0 ] || die "a channel without PeerAddress: $(reg .registry.servers)"
pass "srva shows both servers (address, nodes, alive), alice@srva and bob@srvb; srvb's join was on the monitor"

# srvb dies: its lease (TTL 5 s) ends and srva reports it gone.
kill -KILL "${DPID[srvb]}"
lm_wait 10 grep -q '"event":"server","name":"srvb","state":"left"' "$T/mon.json" ||
    die "srvb's departure not on the monitor: $(cat "$T/mon.json")"
grep -q '^server srvb left' "$T/mon.txt" || die "text monitor: $(cat "$T/mon.txt")"
srv_is srvb '["192.0.2.2",1,"gone"]' || die "srvb after it died: $(reg .registry.servers)"
grep -q 'registry: server srvb left' "$T/srva.log" || die "srva did not log srvb's departure"
pass "srvb killed: left on the monitor and in the log, gone in link show"

lm_start sb srvb
joins() { [ "$(grep -c '"event":"server","name":"srvb","state":"joined"' "$T/mon.json")" -ge 2 ]; }
lm_wait 10 joins || die "srvb's return not on the monitor: $(cat "$T/mon.json")"
lm_wait 10 srv_is srvb '["192.0.2.2",0,"alive"]' || die "srvb after it came back: $(reg .registry.servers)"
pass "srvb back: joined on the monitor, alive in link show"

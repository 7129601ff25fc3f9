#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two servers of one network sharing their leases in etcd ([Registry],
# docs/DESIGN.md §11): clients admitted by either server at the same time get
# distinct addresses; a client moving to the other server keeps its address;
# a server that dies takes its registrations with it within the TTL; while
# etcd is away a new node is refused with the reason, and `link show` says so.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob carol dave
lm_registry_hub a b c d
pass "etcd up at 192.0.2.9:2379"

# Both servers present the same certificate name ("server"), as a client's
# ServerName expects of every server of its network.
lm_registry_servers relay
lm_client_conf alice 192.0.2.1
lm_client_conf bob 192.0.2.2
lm_client_conf carol 192.0.2.1
lm_client_conf dave 192.0.2.2
lm_registry_start
[ "$(lm_ctl sa srva -j link show | jq -r .registry.state)" = up ] || die "srva: registry not up: $(lm_ctl sa srva -j link show | jq -c .registry)"

# 1. Admissions at the same time on both servers: distinct addresses.
lm_start a alice; lm_start b bob; lm_start c carol
lm_wait_up a alice 20; lm_wait_up b bob 20; lm_wait_up c carol 20
A=$(lm_json a alice .address); B=$(lm_json b bob .address); C=$(lm_json c carol .address)
log "alice $A (srva), bob $B (srvb), carol $C (srva)"
[ "$A" != "$B" ] && [ "$A" != "$C" ] && [ "$B" != "$C" ] || die "an address was handed out twice: $A $B $C"
keys=$(lm_etcd_keys reg 192.0.2.9 /lanmesh/test/online/ | sort | tr '\n' ' ')
[ "$keys" = "/lanmesh/test/online/alice /lanmesh/test/online/bob /lanmesh/test/online/carol " ] ||
    die "online registrations: '$keys'"
lm_ping a 198.18.0.1 || die "alice -> srva"
lm_ping b 198.18.0.1 || die "bob -> srvb"
pass "two servers, three clients, three addresses; each registered online"

# 2. alice moves to srvb: the same address.
lm_stop alice
lm_client_conf alice 192.0.2.2
lm_start a alice; lm_wait_up a alice 20
[ "$(lm_json a alice .address)" = "$A" ] || die "alice got $(lm_json a alice .address) from srvb, had $A from srva"
lm_ping a 198.18.0.1 || die "alice -> srvb"
pass "alice moved to srvb and kept $A"

# 3. srvb dies without a word: its registrations (alice, bob) expire with its
# etcd lease (TTL 5 s); carol's on srva stays.
kill -KILL "${DPID[srvb]}"
gone() { ! lm_etcd_keys reg 192.0.2.9 /lanmesh/test/online/ | grep -qE '/(alice|bob)$'; }
lm_wait 15 gone || die "alice and bob still registered online 15 s after srvb died"
lm_etcd_keys reg 192.0.2.9 /lanmesh/test/online/ | grep -q '/carol$' || die "carol's registration went too"
pass "srvb's registrations expired with its etcd lease"

# 4. etcd away: srva refuses a new node with the reason, says so in link show,
# and logs it once.
kill -TERM "${DPID[etcd-reg]}"; wait "${DPID[etcd-reg]}" 2>/dev/null
lm_client_conf dave 192.0.2.1
lm_start d dave
lm_wait 20 grep -q 'refused dave .*registry unavailable' "$T/srva.log" || die "srva did not refuse dave for want of the registry"
[ "$(lm_ctl sa srva -j link show | jq -r .registry.state)" = unavailable ] || die "link show: $(lm_ctl sa srva -j link show | jq -c .registry)"
lm_ctl sa srva link show | grep -q '^    registry unavailable  as srva' || die "link show text: $(lm_ctl sa srva link show)"
lm_ping c 198.18.0.1 || die "carol lost her tunnel while etcd was away"
sleep 3
n=$(grep -c 'registry unavailable, new nodes are refused' "$T/srva.log")
[ "$n" = 1 ] || die "'registry unavailable' logged $n times, expected once"
pass "etcd away: dave refused (registry unavailable), carol unaffected, logged once"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# etcd trouble (docs/DESIGN.md §11) with a three-member cluster: one member
# down changes nothing; two down (quorum lost): established tunnels carry on,
# a new node is refused at once with the reason, `link show` says
# unavailable; the members back: the new node gets in by itself.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob carol
lm_hub
lm_public e1 192.0.2.7
lm_public e2 192.0.2.8
lm_public e3 192.0.2.9
lm_public sa 192.0.2.1
lm_public a 192.0.2.11
lm_public b 192.0.2.12
lm_public c 192.0.2.13
CL="e1=http://192.0.2.7:2380,e2=http://192.0.2.8:2380,e3=http://192.0.2.9:2380"
member() { lm_etcd_member "$1" "$2" "$CL" --initial-cluster-state new; }
member e1 192.0.2.7; member e2 192.0.2.8; member e3 192.0.2.9
lm_wait 30 lm_etcd_call e1 192.0.2.7 range '{"key":"AA=="}' || die "etcd cluster did not form: $(tail -n 3 "$T/etcd-e1.log")"

lm_registry_server srva relay "Endpoint = http://192.0.2.7:2379 http://192.0.2.8:2379" \
    "Endpoint = http://192.0.2.9:2379" "TTL = 5"
for c in alice bob carol; do lm_client_conf $c 192.0.2.1; done
lm_start sa srva
lm_wait 10 lm_show sa srva || die "srva did not start"
lm_start a alice; lm_wait_up a alice 20
state() { lm_ctl sa srva -j link show | jq -r .registry.state; }

# One member of three down: nothing visible changes.
kill -TERM "${DPID[etcd-e1]}"; wait "${DPID[etcd-e1]}" 2>/dev/null
lm_start b bob; lm_wait_up b bob 20
[ "$(state)" = up ] || die "registry $(state) with two members of three"
pass "one etcd member down: bob admitted, registry up"

# Quorum lost.
kill -TERM "${DPID[etcd-e2]}"; wait "${DPID[etcd-e2]}" 2>/dev/null
lm_start c carol
lm_wait 25 grep -q 'refused carol .*registry unavailable' "$T/srva.log" || die "carol not refused: $(tail -n 5 "$T/srva.log")"
lm_wait 10 eval '[ "$(state)" = unavailable ]' || die "link show: $(lm_ctl sa srva -j link show | jq -c .registry)"
lm_ping a 198.18.0.1 || die "alice lost her tunnel without quorum"
lm_ping b "$(lm_json a alice .address)" || die "bob -> alice without quorum"
lm_is_up c carol && die "carol got in without quorum"
grep -q 'registry unavailable, new nodes are refused until etcd answers' "$T/srva.log" || die "no log line"
pass "quorum lost: alice and bob carry on, carol refused (registry unavailable), link show says so"

# The members come back: carol gets in by herself.
lm_etcd_member e1 192.0.2.7 "$CL"; lm_etcd_member e2 192.0.2.8 "$CL"
lm_wait 40 lm_is_up c carol || die "carol did not get in after quorum returned: $(tail -n 3 "$T/carol.log")"
[ "$(state)" = up ] || die "registry $(state) after quorum returned"
grep -q 'registry available again' "$T/srva.log" || die "no 'available again' log line"
pass "quorum back: carol admitted, registry up"

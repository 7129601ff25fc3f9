#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Revocation everywhere (docs/DESIGN.md §11): a CRL applied on one server
# (`lanmesh reload`) reaches the others through etcd.  bob is on srvb, whose
# own CRL file never changes; bob is revoked on srva: srvb cuts him within
# 5 s, carol (his pair on srvb) drops the pair, and srvb refuses him from then
# on.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob carol
lm_registry_hub a b c

lm_registry_servers direct
# srvb keeps a CRL of its own that nobody updates.
cp "$PKI/crl.pem" "$T/crl-srvb.pem"
sed -i "s|^CRL = .*|CRL = $T/crl-srvb.pem|" "$T/srvb.conf"
lm_client_conf alice 192.0.2.1
lm_client_conf bob 192.0.2.2
lm_client_conf carol 192.0.2.2
lm_registry_start
lm_start a alice; lm_start b bob; lm_start c carol
lm_wait_up a alice 20; lm_wait_up b bob 20; lm_wait_up c carol 20
B=$(lm_json b bob .address)
pair() { lm_json c carol ".pairs[] | select(.name==\"bob\") | .path"; }
lm_ping c "$B" || die "carol -> bob"
lm_wait 10 eval '[ "$(pair)" = direct ]' || die "carol<->bob not direct: $(lm_show c carol | jq -c .pairs)"
pass "bob and carol on srvb (direct pair), alice on srva"

lm_pki_revoke bob
t0=$(date +%s.%N)
lm_ctl sa srva reload >/dev/null || die "reload on srva"
cut() { grep -q 'bob (.*): cut: certificate revoked (serial .*, listed in the registry)' "$T/srvb.log"; }
lm_wait 5 cut || die "srvb did not cut bob within 5 s: $(tail -n 5 "$T/srvb.log")"
secs=$(echo "$(date +%s.%N) - $t0" | bc)
no_pair() { [ -z "$(pair)" ]; }
lm_wait 5 no_pair || die "carol still holds the pair with bob: $(lm_show c carol | jq -c .pairs)"
secs2=$(echo "$(date +%s.%N) - $t0" | bc)
log "srvb cut bob ${secs} s, carol dropped the pair ${secs2} s after the reload on srva"
grep -q 'registry: 1 revoked certificate published' "$T/srva.log" || die "srva did not publish the revocation"
lm_etcd_keys reg 192.0.2.9 /lanmesh/test/revoked/ | grep -qE '^/lanmesh/test/revoked/[0-9a-f]+@[0-9a-f]{8}$' ||
    die "revoked/ in etcd: $(lm_etcd_keys reg 192.0.2.9 /lanmesh/test/revoked/)"
pass "bob revoked on srva: cut on srvb in ${secs} s, carol's pair gone in ${secs2} s"

# bob comes back to srvb (its CRL file still does not list him): refused.
lm_wait 15 grep -q 'refused bob .*certificate revoked (serial .*listed in the registry)' "$T/srvb.log" ||
    die "srvb did not refuse bob: $(grep bob "$T/srvb.log" | tail -n 3)"
lm_is_up b bob && die "bob is up again"
[ "$(lm_ctl sb srvb -j link show | jq -r .registry.revoked)" = 1 ] || die "link show: $(lm_ctl sb srvb -j link show | jq -c .registry)"
lm_ping a 198.18.0.1 || die "alice lost her tunnel"
pass "srvb refuses bob from then on; alice unaffected"

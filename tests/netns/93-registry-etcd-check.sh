#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A wrong etcd certificate or endpoint is a clear error, in
# `lanmeshd --check-config` and at start (docs/DESIGN.md §11): etcd here
# serves TLS with its own CA and wants a client certificate.  An etcd that
# merely does not answer fails --check-config but not the start (it may be
# an outage): the server comes up, says so, and refuses new nodes.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server
lm_hub
lm_public reg 192.0.2.9
lm_public sa 192.0.2.1

# etcd's own CA, its server certificate for 192.0.2.9, a client certificate.
E=$T/etcd-pki; mkdir -p "$E"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=etcd CA" \
    -keyout "$E/ca.key" -out "$E/ca.crt" 2>/dev/null || die "etcd CA"
for who in member client; do
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$who" \
        -keyout "$E/$who.key" -out "$E/$who.csr" 2>/dev/null || die "etcd $who key"
    printf 'subjectAltName = IP:192.0.2.9\nextendedKeyUsage = serverAuth, clientAuth\n' >"$E/$who.ext"
    openssl x509 -req -in "$E/$who.csr" -CA "$E/ca.crt" -CAkey "$E/ca.key" -CAcreateserial -days 2 \
        -extfile "$E/$who.ext" -out "$E/$who.crt" 2>/dev/null || die "etcd $who cert"
done
lm_etcd_member reg 192.0.2.9 "reg=http://192.0.2.9:2380" \
    --listen-client-urls https://192.0.2.9:2379 --advertise-client-urls https://192.0.2.9:2379 \
    --cert-file "$E/member.crt" --key-file "$E/member.key" --client-cert-auth --trusted-ca-file "$E/ca.crt"
tls_up() { n reg curl -sf -m 2 --cacert "$E/ca.crt" --cert "$E/client.crt" --key "$E/client.key" \
    -X POST https://192.0.2.9:2379/v3/kv/range -d '{"key":"AA=="}'; }
lm_wait 20 tls_up || die "etcd (TLS) did not answer: $(tail -n 5 "$T/etcd-reg.log")"

check() { n sa "$LANMESHD" --check-config -c "$T/$1.conf" "$1" 2>&1; }
https=("Endpoint = https://192.0.2.9:2379")
lm_registry_server good relay "${https[@]}" "CA = $E/ca.crt" "Certificate = $E/client.crt" "Key = $E/client.key"
lm_registry_server wrongca relay "${https[@]}" "CA = $PKI/ca.crt" "Certificate = $E/client.crt" "Key = $E/client.key"
lm_registry_server nocert relay "${https[@]}" "CA = $E/ca.crt"
lm_registry_server plain relay "Endpoint = http://192.0.2.9:2379"
lm_registry_server nobody relay "Endpoint = http://192.0.2.8:2379"

out=$(check good) || die "--check-config refused the right certificates: $out"
out=$(check wrongca) && die "--check-config passed a CA that does not sign etcd's certificate"
grep -q 'no etcd endpoint usable: https://192.0.2.9:2379: certificate: .*(a wrong CA, certificate or endpoint?)' <<<"$out" || die "wrong CA: $out"
log "wrong CA: $out"
out=$(check nocert) && die "--check-config passed without the client certificate etcd wants"
grep -q 'no etcd endpoint usable: https://192.0.2.9:2379: .*certificate.*(a wrong CA, certificate or endpoint?)' <<<"$out" || die "no client certificate: $out"
log "no client certificate: $out"
out=$(check plain) && die "--check-config passed http:// to etcd's TLS port"
grep -q 'no etcd endpoint usable: http://192.0.2.9:2379: .*(a wrong CA, certificate or endpoint?)' <<<"$out" || die "http to a TLS port: $out"
out=$(check nobody) && die "--check-config passed an endpoint where nothing answers"
grep -q 'no etcd endpoint usable: http://192.0.2.8:2379: .*(no answer)' <<<"$out" || die "nothing there: $out"
pass "--check-config: right certificates OK; wrong CA, missing client certificate, http:// to TLS, no etcd: each an error with the reason"

# At start: the wrong ones stop the daemon with the reason.
for bad in wrongca plain; do
    n sa "$LANMESHD" -c "$T/$bad.conf" "$bad" >"$T/$bad.log" 2>&1 && die "$bad: lanmeshd started"
    grep -q 'no etcd endpoint usable' "$T/$bad.log" || die "$bad: $(tail -n 3 "$T/$bad.log")"
done
pass "lanmeshd refuses to start with a wrong etcd CA or endpoint: $(grep -o 'no etcd endpoint usable.*' "$T/wrongca.log" | head -c 160)"
# Nothing answering: it starts, says so, and shows the registry unavailable.
lm_start sa nobody
lm_wait 15 grep -q 'registry: no etcd member answers at start' "$T/nobody.log" || die "nobody: $(tail -n 3 "$T/nobody.log")"
lm_wait 10 eval '[ "$(lm_ctl sa nobody -j link show | jq -r .registry.state)" = unavailable ]' ||
    die "link show: $(lm_ctl sa nobody -j link show | jq -c .registry)"
lm_stop nobody
lm_start sa good
lm_wait 15 eval '[ "$(lm_ctl sa good -j link show | jq -r .registry.state)" = up ]' ||
    die "good: $(tail -n 3 "$T/good.log")"
lm_wait 10 eval 'lm_ctl sa good -j link show | jq -e ".registry.servers[] | select(.name==\"good\")"' ||
    die "good did not register itself over TLS"
pass "an etcd that does not answer: the server starts and says registry unavailable; the right certificates: registry up over TLS"

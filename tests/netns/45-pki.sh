#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Names and certificates at run time (lanmeshd(8), lanmesh.conf(5) [TLS]):
#  - a client whose certificate file is missing fails before it makes its
#    device (the files are checked first);
#  - RemoteCertTls: a client does not take a certificate without
#    extendedKeyUsage serverAuth for its server;
#  - no client may use the server's own name;
#  - names from certificates are escaped in the log (a right-to-left override);
#  - two hosts with one certificate: the newer session wins, the older is
#    told why and holds off for minutes instead of taking the name back every
#    second; the server warns with both endpoints;
#  - a CRL that expires while the server runs: warned ahead and at expiry
#    (log, `lanmesh link show`), admitted clients stay, a new client is told
#    "the server's CRL has expired".
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob
printf '[plain]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature\n' >> "$PKI/ca.cnf"
cert_as() {  # cert_as FILE CN EXTENSIONS: a certificate of the test CA named FILE with common name CN
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -utf8 -subj "/CN=$2" \
        -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null || die "csr $1"
    openssl ca -batch -utf8 -config "$PKI/ca.cnf" -extensions "$3" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" \
        -in "$PKI/$1.csr" -out "$PKI/$1.crt" >/dev/null 2>&1 || die "sign $1"
}
cert_as server2 server plain                  # a "server" without extendedKeyUsage
cert_as impostor server client                # a client under the server's name
cert_as evil "evil$(printf '\xe2\x80\xae')gpj.exe" client

lm_hub
lm_public srv 192.0.2.1
lm_public srv2 192.0.2.2
lm_public a 192.0.2.11
lm_public b 192.0.2.12
lm_public x 192.0.2.66
lm_server_conf server subnet relay "HandshakeTimeout = 3"
lm_server_conf server2 subnet relay
sed -i 's/^\[TLS\]/[TLS]\nRemoteCertTls = no/' "$T/server2.conf"
lm_client_conf alice 192.0.2.1
lm_client_conf bob 192.0.2.1
lm_client_conf impostor 192.0.2.1
lm_client_conf evil 192.0.2.1
lm_client_conf victim 192.0.2.2
sed -i "s|^Certificate = .*|Certificate = $PKI/alice.crt|; s|^Key = .*|Key = $PKI/alice.key|" "$T/victim.conf"
lm_client_conf twin 192.0.2.1
sed -i "s|^Certificate = .*|Certificate = $PKI/alice.crt|; s|^Key = .*|Key = $PKI/alice.key|" "$T/twin.conf"
lm_client_conf nocert 192.0.2.1
sed -i "s|^Certificate = .*|Certificate = $PKI/missing.crt|" "$T/nocert.conf"

# ---- files first: a missing certificate fails before the device is made.
# lm-nocert exists already as a bridge: a daemon that opened its TUN
# first would fail on that instead.
n x ip link add lm-nocert type bridge || die "bridge lm-nocert"
lm_start x nocert
pid=${DPID[nocert]}
lm_wait 10 bash -c "! kill -0 $pid" || die "nocert did not exit"
wait "$pid"; rc=$?
[ $rc -eq 1 ] || die "nocert: exit $rc, want 1"
grep -q "error: cannot load certificate $PKI/missing.crt: No such file or directory" "$T/nocert.log" ||
    die "nocert: not refused for its certificate: $(cat "$T/nocert.log")"
pass "missing certificate refused before the device: $(grep error: "$T/nocert.log")"

# ---- RemoteCertTls: a server certificate without serverAuth is not taken.
lm_start srv2 server2
lm_start x victim
lm_wait 15 grep -q "certificate is not for a TLS server (it has no extendedKeyUsage serverAuth" "$T/victim.log" ||
    die "victim accepted a server certificate without extendedKeyUsage"
lm_is_up x victim 2>/dev/null && die "victim came up with an impostor server"
lm_stop victim; lm_stop server2
pass "client refuses a server certificate without extendedKeyUsage: $(grep -o 'connection failed: .*not for a TLS server.*' "$T/victim.log" | head -1)"

lm_start srv server
lm_start a alice; lm_wait_up a alice

# ---- the server's own name.
lm_start x impostor
lm_wait 10 grep -qE "refused server \(192.0.2.66:[0-9]+\): certificate name is the server's own" "$T/server.log" ||
    die "impostor with the server's name not refused"
lm_wait 10 grep -q "server refused us: certificate name is the server's own" "$T/impostor.log" ||
    die "impostor not told why"
lm_stop impostor
pass "a client under the server's own name is refused"

# ---- names are escaped in the log.
lm_start x evil
lm_wait 10 grep -qF 'evil\u202Egpj.exe' "$T/server.log" || die "evil's name not in the server log, escaped"
grep -q "$(printf '\xe2\x80\xae')" "$T/server.log" "$T/evil.log" && die "a raw right-to-left override reached a log"
lm_stop evil
pass "names escaped: $(grep -F 'evil\u202E' "$T/server.log" | head -1 | cut -d' ' -f3-)"

# ---- two hosts with one certificate.
lm_start b twin; lm_wait_up b twin
lm_wait 10 grep -qE "alice: new session from 192.0.2.12:[0-9]+ replaces the one from 192.0.2.11:[0-9]+" "$T/server.log" ||
    die "server did not warn about the replaced session with both endpoints"
grep -E "warning: alice: new session from" "$T/server.log" >/dev/null || die "not a warning"
lm_wait 10 grep -q "server said bye: replaced by a newer session of the same name from 192.0.2.12:[0-9]*: another host may be using this node's certificate; not reconnecting for 3[0-9][0-9] s" "$T/alice.log" ||
    die "alice not told, or not holding off: $(tail -3 "$T/alice.log")"
lm_ctl a alice link show | grep -q "warning: server said bye: replaced by a newer session" ||
    die "alice's link show does not say why it is not connected"
admitted=$(lm_json srv server .counters.admitted)
sleep 8
now=$(lm_json srv server .counters.admitted)
[ "$now" = "$admitted" ] || die "the two sessions take turns: admitted $admitted, then $now within 8 s"
lm_is_up b twin || die "the newer session did not stay"
pass "same name twice: the newer stays, the older holds off (admitted $now)"
lm_stop alice

# ---- a CRL that expires while the server runs.
openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" -gencrl -crlsec 12 \
    -out "$PKI/crl.pem" >/dev/null 2>&1 || die "short CRL"
lm_ctl srv server reload >/dev/null || die "reload"
lm_wait 5 grep -q "warning: CRL $PKI/crl.pem (of /CN=lanmesh test CA) expires in [0-9]* seconds" "$T/server.log" ||
    die "no warning ahead of the CRL's nextUpdate"
lm_wait 20 grep -q "warning: CRL $PKI/crl.pem (of /CN=lanmesh test CA) has expired" "$T/server.log" ||
    die "the CRL's expiry went unnoticed"
sleep 1
[ "$(grep -c "has expired" "$T/server.log")" = 1 ] || die "expiry warned more than once"
lm_ctl srv server link show | grep -q "warning: CRL .* has expired" || die "link show does not say the CRL expired"
lm_ctl srv server -j link show | jq -e '.warnings[] | select(test("has expired"))' >/dev/null || die "no warning in JSON"
lm_start x bob
lm_wait 15 grep -q "server refused us: the server's CRL has expired" "$T/bob.log" ||
    die "bob not told the server's CRL has expired: $(grep -E 'failed|refused' "$T/bob.log" | head -2)"
lm_is_up b twin || die "an admitted client was cut by the CRL's expiry"
pass "expired CRL: $(grep -o 'warning: CRL.*has expired.*' "$T/server.log" | cut -c1-80)...; bob told; twin stays"

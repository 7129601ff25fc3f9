#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lanmeshd --check-config: good files pass, bad ones fail with file:line and
# exit 1; bad certificates are caught too: a certificate not for the node's
# role, a key TLS 1.3 cannot sign with (easy-rsa brainpool), a CRL out of its
# validity, a User that does not exist; a world-readable key and a CRL near
# its end are warnings.  lanmesh.conf(5) lints clean and
# documents every key the parser knows.
source "$(dirname "$0")/lib.sh"

lm_user   # --check-config checks that User (default lanmesh) exists
lm_pki_init
lm_pki_cert server server
lm_pki_cert alice client
lm_server_conf server subnet relay
lm_client_conf alice 192.0.2.1

out=$("$LANMESHD" --check-config -c "$T/server.conf" server) || die "good server config refused: $out"
[[ $out == *"configuration OK (server)"* ]] || die "unexpected output: $out"
out=$("$LANMESHD" --check-config -c "$T/alice.conf" alice) || die "good client config refused: $out"
pass "good configs pass: $out"

bad() {  # bad NAME EXPECTED-SUBSTRING: the config must fail with that message
    local out rc
    out=$("$LANMESHD" --check-config -c "$T/$1.conf" "$1" 2>&1); rc=$?
    [ $rc -eq 1 ] || die "$1: exit $rc, want 1 ($out)"
    [[ $out == *"$2"* ]] || die "$1: got '$out', want '$2'"
    pass "$1: $out"
}
sed 's/^Topology = subnet/Topology = mesh/' "$T/server.conf" > "$T/badtopo.conf"
bad badtopo "badtopo.conf:3: "
sed 's/^Pool = .*/Pool = 198.18.0.1\/24/' "$T/server.conf" > "$T/badpool.conf"
bad badpool "badpool.conf:4: "
printf 'Frobnicate = 1\n' | cat "$T/alice.conf" - > "$T/badkey.conf"
bad badkey "unknown key 'Frobnicate'"
sed "s|^Key = .*|Key = $PKI/server.key|" "$T/alice.conf" > "$T/badpair.conf"
bad badpair "$PKI/alice.crt"
bad nonexistent "nonexistent.conf: cannot open"

# A User that does not exist would stop the daemon at start: so it fails here.
sed 's/^Role = client/Role = client\nUser = lm-no-such-user/' "$T/alice.conf" > "$T/nouser.conf"
bad nouser "User 'lm-no-such-user' does not exist"

# The node's own certificate must be for its role (lanmesh.conf(5)
# RemoteCertTls): a client certificate on a server, one without
# extendedKeyUsage unless RemoteCertTls = no.
sed "s|^Certificate = .*|Certificate = $PKI/alice.crt|; s|^Key = .*|Key = $PKI/alice.key|" "$T/server.conf" > "$T/clientcert.conf"
bad clientcert "it is not for a TLS server"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=server" \
    -keyout "$PKI/plain.key" -out "$PKI/plain.csr" 2>/dev/null || die "csr plain"
printf '[plain]\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature\n' >> "$PKI/ca.cnf"
openssl ca -batch -config "$PKI/ca.cnf" -extensions plain -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" \
    -in "$PKI/plain.csr" -out "$PKI/plain.crt" >/dev/null 2>&1 || die "sign plain"
sed "s|^Certificate = .*|Certificate = $PKI/plain.crt|; s|^Key = .*|Key = $PKI/plain.key|" "$T/server.conf" > "$T/noeku.conf"
bad noeku "it has no extendedKeyUsage serverAuth, which clients require"
sed 's/^\[TLS\]/[TLS]\nRemoteCertTls = no/' "$T/noeku.conf" > "$T/noekuok.conf"
out=$("$LANMESHD" --check-config -c "$T/noekuok.conf" noekuok 2>&1) || die "RemoteCertTls = no refused: $out"
pass "RemoteCertTls = no accepts a certificate without extendedKeyUsage"

# easy-rsa with EASYRSA_CURVE=brainpoolP256r1: OpenSSL 3.0 cannot sign TLS
# 1.3 handshakes with such keys, so the files are refused up front.
EASYRSA=/usr/share/easy-rsa/easyrsa
if [ -x "$EASYRSA" ] && [ "$(openssl version | awk '{print $2}')" \< 3.2 ]; then
    ( export EASYRSA_PKI="$T/bp" EASYRSA_ALGO=ec EASYRSA_CURVE=brainpoolP256r1 EASYRSA_BATCH=1
      cd "$T" && "$EASYRSA" init-pki && EASYRSA_REQ_CN="bp CA" "$EASYRSA" build-ca nopass &&
      "$EASYRSA" build-server-full server nopass ) >"$T/easyrsa.out" 2>&1 || die "easy-rsa: $(tail -3 "$T/easyrsa.out")"
    sed "s|^CA = .*|CA = $T/bp/ca.crt|; s|^Certificate = .*|Certificate = $T/bp/issued/server.crt|;
         s|^Key = .*|Key = $T/bp/private/server.key|; /^CRL = /d" "$T/server.conf" > "$T/brainpool.conf"
    bad brainpool "its key is on curve brainpoolP256r1, which cannot sign a TLS 1.3 handshake"
else
    pass "brainpool: skipped (no easy-rsa, or OpenSSL >= 3.2 signs with brainpool in TLS 1.3)"
fi

# The CRL's validity: not yet valid or expired refuses every client (an
# error here); expiring within 7 days is a warning.
crl() {  # crl NAME openssl-ca-args...: a CRL of the test CA
    local name=$1; shift
    openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" -gencrl \
        -out "$PKI/$name.pem" "$@" >/dev/null 2>&1 || die "crl $name"
    sed "s|^CRL = .*|CRL = $PKI/$name.pem|" "$T/server.conf" > "$T/$name.conf"
}
crl crlold -crl_lastupdate 20200101000000Z -crl_nextupdate 20200201000000Z
bad crlold "has expired (nextUpdate 2020-02-01 00:00:00 UTC)"
crl crlnew -crl_lastupdate 20990101000000Z -crl_nextupdate 20990201000000Z
bad crlnew "is not yet valid (lastUpdate 2099-01-01 00:00:00 UTC is in the future"
crl crlsoon -crlhours 60
out=$("$LANMESHD" --check-config -c "$T/crlsoon.conf" crlsoon 2>&1) || die "a CRL valid for 60 hours refused: $out"
[[ $out == *"warning: CRL $PKI/crlsoon.pem (of /CN=lanmesh test CA) expires in 2 days"* ]] || die "no CRL warning: $out"
pass "CRL expiring soon: $(echo "$out" | grep warning)"

# A private key others can read is a warning (lanmesh.conf(5) says 0600).
cp "$PKI/alice.key" "$PKI/alice-open.key"; chmod 0644 "$PKI/alice-open.key"
sed "s|^Key = .*|Key = $PKI/alice-open.key|" "$T/alice.conf" > "$T/openkey.conf"
out=$("$LANMESHD" --check-config -c "$T/openkey.conf" openkey 2>&1) || die "open key refused: $out"
[[ $out == *"warning: private key $PKI/alice-open.key is readable by every user (mode 0644)"* ]] || die "no key mode warning: $out"
out=$("$LANMESHD" --check-config -c "$T/alice.conf" alice 2>&1)
[[ $out == *warning* ]] && die "warning for a key of mode $(stat -c %a "$PKI/alice.key"): $out"
pass "world-readable key: $(echo "$out" | head -1)"
"$LANMESHD" --check-config 2>/dev/null; [ $? -eq 2 ] || die "no network name should be a usage error (2)"

# The man page lints clean.
warn=$(groff -man -ww -z "$ROOT/man/lanmesh.conf.5" 2>&1)
[ -z "$warn" ] || die "groff warnings in lanmesh.conf.5: $warn"
pass "lanmesh.conf(5) lints clean (key coverage: unit test ConfigManPage)"

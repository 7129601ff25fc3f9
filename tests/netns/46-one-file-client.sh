#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One-file client configurations (lanmesh.conf(5) INLINE PEM,
# examples/make-client-conf):
#  - the script signs a fresh certificate with the server's CA (openssl, and
#    easy-rsa when installed) and writes one file; a client given only that
#    file, in a directory of its own, connects and carries traffic;
#  - the file is written 0600; once readable by every user, a reload warns
#    about the configuration file, in the log and in `lanmesh link show`;
#  - a broken inline block stops the daemon with the file and line;
#  - --qr prints a QR code when qrencode is installed.
source "$(dirname "$0")/lib.sh"
MAKE_CONF=$ROOT/examples/make-client-conf

lm_pki_init
lm_pki_certs server
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_public b 192.0.2.12
lm_server_conf server subnet relay
lm_start srv server

# ---- made with the openssl CA: nothing else in the client's directory.
mkdir -m 0755 "$T/alice"
"$MAKE_CONF" --ca "$PKI/ca.crt" --ca-key "$PKI/ca.key" --server 192.0.2.1 --net alice \
    --set "RuntimeDirectory = $T/run-alice" -o "$T/alice/alice.conf" alice 2>"$T/make-alice.log" ||
    die "make-client-conf failed: $(cat "$T/make-alice.log")"
[ "$(stat -c %a "$T/alice/alice.conf")" = 600 ] || die "the file is not mode 0600"
[ "$(grep -c -- '-----BEGIN' "$T/alice/alice.conf")" = 3 ] || die "not three inline blocks"
[ "$(ls "$T/alice")" = "$(printf 'alice.conf\nalice.crt')" ] || die "unexpected files: $(ls "$T/alice")"
rm "$T/alice/alice.crt"        # only the one file from here on
"$MAKE_CONF" --ca "$PKI/ca.crt" --ca-key "$PKI/ca.key" --server 192.0.2.1 --net alice \
    -o "$T/alice/alice.conf" alice 2>/dev/null && die "an existing file was overwritten"
lm_user
chgrp lanmesh "$T/alice/alice.conf" && chmod 0640 "$T/alice/alice.conf"
n a "$LANMESHD" --check-config -c "$T/alice/alice.conf" alice >/dev/null 2>"$T/check.log" ||
    die "--check-config: $(cat "$T/check.log")"
[ -s "$T/check.log" ] && die "--check-config warned: $(cat "$T/check.log")"
ip netns exec "$P-a" "$LANMESHD" -c "$T/alice/alice.conf" alice >>"$T/alice.log" 2>&1 &
DPID[alice]=$!; PIDS+=($!)
lm_wait_up a alice 20
lm_ping a 198.18.0.1 || die "no traffic from the one-file client"
[ "$(lm_ctl srv server -j peer show | jq -r '.[] | select(.name=="alice") | .state')" = up ] ||
    die "the server does not know alice"
pass "a client with only its one file connects: $(lm_ctl a alice link show | head -1)"

# ---- the file that holds the key, readable by all: a warning, as for a key file.
chmod 0644 "$T/alice/alice.conf"
lm_ctl a alice reload >/dev/null || die "reload"
want="configuration file $T/alice/alice.conf holds the private key inline and is readable by every user (mode 0644)"
lm_wait 5 grep -qF "warning: $want" "$T/alice.log" || die "no warning for a readable file with the key: $(tail -3 "$T/alice.log")"
lm_ctl a alice link show | grep -qF "$want" || die "link show does not show the warning"
n a "$LANMESHD" --check-config -c "$T/alice/alice.conf" alice 2>&1 >/dev/null | grep -qF "$want" ||
    die "--check-config does not warn"
lm_is_up a alice || die "alice went down on reload"
pass "a readable file with an inline key is warned about: $want"

# ---- a broken block: refused with the line, before anything is set up.
sed '0,/^MIG/s/^MIG.*/MIG!broken/' "$T/alice/alice.conf" > "$T/broken.conf"
n b "$LANMESHD" --check-config -c "$T/broken.conf" broken >/dev/null 2>"$T/broken.log" &&
    die "a broken inline key was accepted"
line=$(grep -n '^MIG!broken' "$T/broken.conf" | cut -d: -f1)
grep -qF "$T/broken.conf:$line: expected base64 (A-Z a-z 0-9 + / =) or -----END PRIVATE KEY----- inside the PEM block of Key" \
    "$T/broken.log" || die "broken block: $(cat "$T/broken.log")"
pass "a broken inline block: $(cut -c1-110 "$T/broken.log")..."

# ---- made with easy-rsa, when installed: easyrsa keeps the record (to revoke).
easyrsa=$(command -v easyrsa || echo /usr/share/easy-rsa/easyrsa)
if [ -x "$easyrsa" ]; then
    # A PKI as easy-rsa makes it, holding the network's CA (build-ca would make another).
    mkdir -p "$T/erca"
    (cd "$T/erca" && EASYRSA_PKI=$T/erca/pki "$easyrsa" init-pki >/dev/null 2>&1) || die "easyrsa init-pki"
    cp "$PKI/ca.crt" "$T/erca/pki/ca.crt"
    cp "$PKI/ca.key" "$T/erca/pki/private/ca.key"
    mkdir -p "$T/erca/pki/issued" "$T/erca/pki/certs_by_serial" "$T/erca/pki/revoked"
    : > "$T/erca/pki/index.txt"; : > "$T/erca/pki/index.txt.attr"; echo 01 > "$T/erca/pki/serial"
    mkdir -m 0755 "$T/bob"
    "$MAKE_CONF" --pki "$T/erca/pki" --server 192.0.2.1 --net bob --set "RuntimeDirectory = $T/run-bob" \
        -o "$T/bob/bob.conf" bob 2>"$T/make-bob.log" || die "make-client-conf --pki: $(cat "$T/make-bob.log")"
    [ -e "$T/erca/pki/issued/bob.crt" ] || die "easy-rsa has no record of bob"
    chgrp lanmesh "$T/bob/bob.conf" && chmod 0640 "$T/bob/bob.conf"
    ip netns exec "$P-b" "$LANMESHD" -c "$T/bob/bob.conf" bob >>"$T/bob.log" 2>&1 &
    DPID[bob]=$!; PIDS+=($!)
    lm_wait_up b bob 20
    lm_ping b 198.18.0.1 || die "no traffic from bob"
    pass "a client made from an easy-rsa PKI connects with its one file"
else
    log "skip: easy-rsa not installed"
fi

# ---- --qr
if command -v qrencode >/dev/null; then
    "$MAKE_CONF" --ca "$PKI/ca.crt" --ca-key "$PKI/ca.key" --server 192.0.2.1 --qr -o "$T/office.conf" carol \
        >"$T/qr.txt" 2>/dev/null || die "--qr failed"
    [ "$(wc -l < "$T/qr.txt")" -gt 40 ] || die "no QR code printed"
    pass "--qr prints the file as a QR code ($(wc -l < "$T/qr.txt") lines)"
else
    log "skip: qrencode not installed"
fi

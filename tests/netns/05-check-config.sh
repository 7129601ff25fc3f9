#!/usr/bin/env bash
# lanmeshd --check-config: good files pass, bad ones fail with file:line and
# exit 1; bad certificates are caught too.  lanmesh.conf(5) lints clean and
# documents every key the parser knows.
source "$(dirname "$0")/lib.sh"

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
"$LANMESHD" --check-config 2>/dev/null; [ $? -eq 2 ] || die "no network name should be a usage error (2)"

# The man page lints clean.
warn=$(groff -man -ww -z "$ROOT/man/lanmesh.conf.5" 2>&1)
[ -z "$warn" ] || die "groff warnings in lanmesh.conf.5: $warn"
pass "lanmesh.conf(5) lints clean (key coverage: unit test ConfigManPage)"

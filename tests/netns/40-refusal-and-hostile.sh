#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Admission: revoked, expired and other-CA certificates are refused with a
# one-line reason.  Hostile input: garbage on UDP 4500, raw ESP with unknown
# SPIs, random bytes and silence on the TLS port leave the server running,
# serving its clients, and counting every drop.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_cert server server
lm_pki_cert alice client
lm_pki_cert mallory client
lm_pki_revoke mallory
lm_pki_cert oldie client -startdate 20200101000000Z -enddate 20210101000000Z
lm_pki_other_ca_cert eve
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_public x 192.0.2.66
for c in alice mallory oldie eve; do lm_client_conf $c 192.0.2.1; done
lm_server_conf server subnet relay "HandshakeTimeout = 2"
lm_start srv server
lm_start a alice; lm_wait_up a alice

# The refused clients run in namespace x, one after the other.
refused() {  # refused NAME REASON-REGEX
    local before; before=$(lm_json srv server .counters.tls_refused)
    lm_start x "$1"
    lm_wait 10 grep -qE "refused 192.0.2.66:[0-9]+: .*$2" "$T/server.log" || die "$1 not refused for '$2'"
    # The client learns it on its first read after the handshake (TLS 1.3).
    lm_wait 10 grep -qE "connection failed: .*(refused|$2)" "$T/$1.log" || die "$1's own log does not say why"
    lm_stop "$1"
    [ "$(lm_json srv server .counters.tls_refused)" -gt "$before" ] || die "$1: refusal not counted"
    lm_is_up x "$1" 2>/dev/null && die "$1 came up"
    pass "$1 refused: $(grep -oE "refused 192.0.2.66:[0-9]+: .*$2.*" "$T/server.log" | head -1 | cut -d' ' -f3-)"
}
refused mallory 'revoked'
refused oldie 'expired'
refused eve 'unknown CA'

# Hostile traffic from x.
n x python3 - <<'PY'
import random, socket, time
# Seeded, so a failure can be replayed byte for byte.
rnd = random.Random(7)
srv = "192.0.2.1"
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(2000):
    kind = i % 4
    if kind == 0:   data = rnd.randbytes(rnd.randint(0, 40))          # runts
    elif kind == 1: data = b"\0\0\0\0" + rnd.randbytes(rnd.randint(0, 60))  # non-ESP marker
    else:           data = rnd.randbytes(rnd.randint(36, 1500))       # "ESP" with random SPI
    u.sendto(data, (srv, 4500))
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
for i in range(500):
    r.sendto(rnd.randbytes(rnd.randint(8, 400)), (srv, 0))
for i in range(30):
    t = socket.create_connection((srv, 4500), timeout=3)
    try:
        t.sendall(rnd.randbytes(rnd.randint(1, 3000)))
        t.recv(100)
    except OSError:
        pass
    t.close()
silent = socket.create_connection((srv, 4500), timeout=3)   # says nothing at all
time.sleep(3)
silent.close()
PY

kill -0 "${DPID[server]}" || die "the server died"
lm_ping a 198.18.0.1 || die "alice lost her tunnel"
s=$(lm_show srv server)
get() { echo "$s" | jq -r "$1"; }
log "drops: $(echo "$s" | jq -c '.drops | with_entries(select(.value > 0))')"
log "control: $(echo "$s" | jq -c '.counters | {tls_refused, tls_timeouts, protocol_errors}')"
[ "$(get .drops.udp_runt)" -ge 400 ] || die "UDP runts not counted"
[ "$(get .drops.udp_non_esp)" -ge 400 ] || die "non-ESP frames not counted"
[ "$(( $(get .drops.unknown_spi) + $(get .drops.raw_runt) ))" -ge 1400 ] || die "unknown SPIs not counted"
# Garbage is refused at once, or, when its first bytes are only the start of
# a record OpenSSL would read on (a lone byte with the high bit set, say:
# about 1 blob in 300 against openssl s_server), waited for until
# HandshakeTimeout.  Either way it is counted: 3 refused certificates, 30
# garbage connections, 1 silent one.
[ "$(( $(get .counters.tls_refused) + $(get .counters.tls_timeouts) ))" -ge 34 ] ||
    die "garbage TLS connections not counted: $(echo "$s" | jq -c '.counters | {tls_refused, tls_timeouts}')"
[ "$(get .counters.tls_refused)" -ge 3 ] || die "refused certificates not counted"
[ "$(get .counters.tls_timeouts)" -ge 1 ] || die "silent connection not timed out"
[ "$(get .drops.bad_icv)" -eq 0 ] || die "random SPIs should never reach an SA"
pass "hostile input: server alive, alice still connected, every drop counted"

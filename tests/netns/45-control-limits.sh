#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The control channel against hostile clients (tests/netns/hostile_ctl.py):
#   silent   1,100 silent TCP connections from one address do not keep a
#            real client out: pending handshakes are capped per source and
#            the oldest of that source evicted, counted;
#   frames   bad frames after a completed TLS handshake are counted by
#            reason, answered with a bye where TLS still works, and logged
#            once per connection;
#   client   the same for a client facing a server that breaks the protocol;
#   flood    a client flooding pings without reading its socket leaves the
#            server's memory bounded (back-pressure, then a cut, counted)
#            while another client keeps its keepalives;
#   fds      a server out of file descriptors evicts the oldest pending
#            handshake for a new connection instead of spinning on accept.
# LM_ONLY=silent|frames|client|flood|fds runs one part.
#
#            hub (192.0.2.0/24)
#     srv .1   alice .11 (and bob, a client of x)   x .66 (the hostile clients, a bad server)
source "$(dirname "$0")/lib.sh"
HOSTILE=$ROOT/tests/netns/hostile_ctl.py
part() { [ -z "${LM_ONLY:-}" ] || [ "$LM_ONLY" = "$1" ]; }

lm_pki_init
lm_pki_certs server alice flood bad bob
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_public x 192.0.2.66
# Silent connections would hold their places for 30 s without the limit.
lm_server_conf server subnet relay "HandshakeTimeout = 30"
lm_client_conf alice 192.0.2.1
lm_client_conf bob 192.0.2.66
lm_start srv server
lm_wait 10 test -S "$T/run-server/server.sock" || die "no control socket"
SRV=${DPID[server]}
link() { lm_ctl srv server -j link show; }
# admit_beside_silent COUNT FAILURE [SRC...]: COUNT silent connections from x
# (spread over the addresses SRC, if given), then alice starts and must be
# admitted within 10 s (dies with FAILURE if not at all within 40 s).  Sets
# SILENT (the silent connections' pid) and took (seconds).  Without the
# limits she would wait for the silent ones' HandshakeTimeout (30 s).
admit_beside_silent() {
    local count=$1 failure=$2 start; shift 2
    rm -f "$T/silent-ready"
    ip netns exec "$P-x" python3 "$HOSTILE" silent 192.0.2.1 4500 "$count" 60 "$T/silent-ready" "$@" >"$T/silent.log" 2>&1 &
    SILENT=$!
    PIDS+=($SILENT)
    lm_wait 15 test -e "$T/silent-ready" || die "the silent connections were not opened"
    sleep 1
    start=$(date +%s)
    lm_start a alice
    lm_wait 40 lm_is_up a alice || die "$failure"
    took=$(( $(date +%s) - start ))
    log "alice admitted after $took s"
    [ "$took" -le 10 ] || die "alice admitted only after $took s"
}

if part silent; then
    admit_beside_silent 1100 "alice not admitted beside 1,100 silent connections"
    h=$(link | jq -c .handshakes)
    log "handshakes: $h"
    [ "$(echo "$h" | jq .per_source_limit)" -ge 1 ] || die "no per-source limit shown"
    [ "$(echo "$h" | jq .evicted_per_source)" -ge 1000 ] || die "per-source evictions not counted: $h"
    [ "$(echo "$h" | jq .pending)" -le "$(echo "$h" | jq .per_source_limit)" ] || die "more pending than the limit: $h"
    grep -q "pending handshakes from 192.0.2.66" "$T/server.log" || die "no log line about the per-source limit"
    [ "$(grep -c "pending handshakes from 192.0.2.66" "$T/server.log")" -le 3 ] || die "the per-source limit is logged per connection"
    lm_ctl srv server link show | grep -q "evicted-per-source" || die "link show text lacks the evictions"
    kill "$SILENT"
    pass "1,100 silent connections: alice admitted at once, $(echo "$h" | jq .evicted_per_source) evicted"
fi

if part frames; then
    for kind in bad-version unknown-type bad-length bad-payload unexpected-type tls-error; do
        out=$(n x python3 "$HOSTILE" badframe 192.0.2.1 4500 "$PKI" bad "$kind" 2>&1)
        key=${kind//-/_}
        got=$(link | jq ".protocol_errors.$key")
        [ "$got" = 1 ] || die "$kind: protocol_errors.$key is $got, want 1"
        if [ "$kind" = tls-error ]; then
            [ "$out" = "no bye" ] || die "$kind: $out"
        else
            echo "$out" | grep -q "^bye: protocol error" || die "$kind: the server said no bye ($out)"
        fi
        pass "$kind counted; the client got: $out"
    done
    lines=$(grep -c "192.0.2.66.*protocol error" "$T/server.log")
    [ "$lines" = 6 ] || die "want one log line per bad connection, got $lines"
    lm_ctl srv server link show | grep -q "protocol-errors 6" || die "link show text lacks the protocol errors"
    kill -0 "$SRV" || die "the server died"
fi

if part client; then
    # The client side: a server that breaks the protocol after the handshake.
    for kind in bad-version tls-error; do
        ip netns exec "$P-x" python3 "$HOSTILE" badserver 192.0.2.66 4500 "$PKI" "$kind" >"$T/badserver.out" 2>&1 &
        BADSRV=$!
        PIDS+=($BADSRV)
        [ "$kind" = bad-version ] && lm_start a bob
        for _ in $(seq 50); do kill -0 "$BADSRV" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$BADSRV" 2>/dev/null && die "bob never reached the bad server"
        out=$(cat "$T/badserver.out")
        key=${kind//-/_}
        got=$(lm_ctl a bob -j link show | jq ".protocol_errors.$key")
        [ "$got" = 1 ] || die "client: $kind: protocol_errors.$key is $got, want 1"
        if [ "$kind" = tls-error ]; then
            [ "$out" = "no bye" ] || die "client: $kind: $out"
        else
            echo "$out" | grep -q "^bye: protocol error" || die "client: $kind: bob said no bye ($out)"
        fi
        grep -q "protocol error ($kind)" "$T/bob.log" || die "client: $kind not logged"
        pass "client: $kind from the server counted; the server got: $out"
    done
    lm_stop bob
fi

if part flood; then
    lm_is_up a alice 2>/dev/null || { lm_start a alice; lm_wait_up a alice; }
    rss() { awk '/^VmRSS/ {print $2}' "/proc/$SRV/status"; }
    base=$(rss)
    ip netns exec "$P-x" python3 "$HOSTILE" flood 192.0.2.1 4500 "$PKI" flood 16 >"$T/flood.out" 2>&1 &
    FLOOD=$!
    PIDS+=($FLOOD)
    max=$base
    # 16 s of flooding; the keepalive (10 s, pings every 2 s) runs meanwhile.
    while kill -0 "$FLOOD" 2>/dev/null; do
        r=$(rss) || die "the server died"
        [ "$r" -gt "$max" ] && max=$r
        # Stop at once rather than let the machine swap.
        [ "$r" -lt $((base + 100000)) ] || { kill "$FLOOD"; die "server RSS grew from $base to $r kB"; }
        sleep 0.5
    done
    log "server RSS: $base kB before, at most $max kB during the flood; flooder: $(cat "$T/flood.out")"
    lm_is_up a alice || die "alice lost her session during the flood"
    grep -q "alice disconnected" "$T/server.log" && die "alice was disconnected: $(grep "alice disconnected" "$T/server.log")"
    grep -q "keepalive timeout" "$T/alice.log" && die "alice timed out"
    lm_ping a 198.18.0.1 || die "alice's tunnel stopped"
    cuts=$(link | jq .output_full_cuts)
    [ "$cuts" -ge 1 ] || die "the flooder was never cut (output_full_cuts $cuts)"
    grep -q "flood disconnected: output queue full" "$T/server.log" || die "no log line for the cut"
    lm_ctl srv server link show | grep -q "output-full-cuts $cuts" || die "link show text lacks the cuts"
    pass "ping flood without reading: RSS bounded ($base -> $max kB), flooder cut $cuts times, alice kept pinging"
fi

if part fds; then
    lm_is_up a alice 2>/dev/null || { lm_start a alice; lm_wait_up a alice; }
    # The server again with room for about 40 more descriptors, spent by
    # silent connections from four addresses (30 each: under the per-source
    # limit).
    used=$(ls "/proc/$SRV/fd" | wc -l)
    lm_stop alice
    lm_stop server
    prlimit --nofile=$((used + 40)):$((used + 40)) ip netns exec "$P-srv" "$LANMESHD" -c "$T/server.conf" server \
        >>"$T/server.log" 2>&1 &
    SRV=$!
    DPID[server]=$SRV
    PIDS+=($SRV)
    lm_wait 10 test -S "$T/run-server/server.sock" || die "the server did not restart"
    srcs=()
    for i in 1 2 3 4; do n x ip addr add "192.0.2.$((70 + i))/24" dev wan; srcs+=("192.0.2.$((70 + i))"); done
    admit_beside_silent 120 "alice not admitted to a server out of file descriptors" "${srcs[@]}"
    kill "$SILENT"
    lm_wait 10 eval '[ "$(link | jq .handshakes.pending)" = 0 ]' || die "the silent connections were not closed: $(link | jq -c .handshakes)"
    h=$(link | jq -c .handshakes)
    [ "$(echo "$h" | jq .evicted_no_fds)" -ge 1 ] || die "evictions for lack of descriptors not counted: $h"
    grep -q "out of file descriptors" "$T/server.log" || die "running out of descriptors not logged"
    pass "out of descriptors: alice admitted after $took s; $(echo "$h" | jq .evicted_no_fds) pending handshakes gave way"
fi

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MetricsListen: the server serves Prometheus text on TCP, a client on a unix
# socket; curl scrapes both and the values agree with what `lanmesh -j`
# says; other paths and methods are refused; the listener stays bounded.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_server_conf server subnet relay "MetricsListen = 127.0.0.1:9586"
lm_client_conf alice 192.0.2.1 "MetricsListen = $T/run-alice/metrics.sock"
lm_start srv server
lm_start a alice; lm_wait_up a alice
lm_ping a 198.18.0.1 || die "alice -> server"

scrape() { n srv curl -sS --max-time 5 http://127.0.0.1:9586/metrics; }
# metric TEXT NAME{LABELS}: the value of one sample, or nothing.
metric() { printf '%s\n' "$1" | awk -v k="$2" 'index($0, k " ") == 1 { print $NF }'; }

m=$(scrape) || die "no answer on 127.0.0.1:9586/metrics"
printf '%s\n' "$m" >"$T/server.metrics"
# Well formed: every sample belongs to a family announced with HELP and TYPE.
printf '%s\n' "$m" | awk '
    /^# HELP / { help[$3] = 1; next }
    /^# TYPE / { if (!help[$3]) { print "TYPE before HELP: " $3; bad = 1 } type[$3] = $4; next }
    /^#/ || /^$/ { next }
    { name = $1; sub(/\{.*/, "", name)
      if (!type[name]) { print "sample without TYPE: " $0; bad = 1 }
      if (type[name] == "counter" && name !~ /_total$/) { print "counter without _total: " name; bad = 1 }
      if ($NF !~ /^-?[0-9.e+]+$/) { print "bad value: " $0; bad = 1 } }
    END { exit bad }' || die "metrics text is not well formed"
pass "server serves well-formed Prometheus text on 127.0.0.1:9586"

# The same numbers as lanmesh -j: alice's packets and bytes, as the server sees them.
lm_ctl srv server -j -s peer show alice >"$T/alice.json"
m=$(scrape)
for f in receive_packets:rx_packets receive_bytes:rx_bytes transmit_packets:tx_packets; do
    want=$(jq -r ".[0].${f#*:}" "$T/alice.json")
    got=$(metric "$m" "lanmesh_peer_${f%%:*}_total{peer=\"alice\"}")
    [ -n "$got" ] && [ "$want" -gt 0 ] || die "lanmesh_peer_${f%%:*}_total for alice: got '$got', lanmesh says $want"
    # A keepalive may pass between the two reads; the scrape is never older.
    [ "$got" -ge "$want" ] && [ "$got" -le $((want + 200)) ] ||
        die "lanmesh_peer_${f%%:*}_total{peer=alice} = $got, lanmesh -j says $want"
done
[ "$(metric "$m" 'lanmesh_peer_up{peer="alice"}')" = 1 ] || die "alice not up in the metrics"
[ "$(metric "$m" 'lanmesh_peer_path{peer="alice",path="direct"}')" = 1 ] || die "alice's path not in the metrics"
[ "$(metric "$m" 'lanmesh_admissions_total')" = "$(lm_json srv server .counters.admitted)" ] ||
    die "admissions differ from lanmesh's counters"
lm_ctl srv server -j -s link show >"$T/link.json"
for r in $(jq -r '.drops | keys[]' "$T/link.json"); do
    got=$(metric "$m" "lanmesh_dropped_packets_total{reason=\"$r\"}")
    [ -n "$got" ] || die "drop reason $r missing from the metrics"
done
workers=$(jq '.workers | length' "$T/link.json")
[ "$(printf '%s\n' "$m" | grep -c '^lanmesh_worker_dropped_packets_total{')" = "$workers" ] ||
    die "not one worker line per worker ($workers)"
# The control channel's round trip, from keepalive pings (Keepalive = 2 10 here).
lm_wait 8 eval '[ -n "$(metric "$(scrape)" "lanmesh_peer_rtt_seconds{peer=\"alice\"}")" ]' ||
    die "no lanmesh_peer_rtt_seconds for alice"
rtt=$(lm_ctl srv server -j peer show alice | jq -r '.[0].rtt_us')
[ "$rtt" -gt 0 ] && [ "$rtt" -lt 1000000 ] || die "alice's rtt_us is '$rtt'"
lm_ctl srv server peer show alice | grep -Eq '^  control: 192\.0\.2\.11:[0-9]+, rtt [0-9.]+ ms$' ||
    die "peer show does not give the rtt: $(lm_ctl srv server peer show alice)"
pass "per-peer packets and bytes, path, admissions, drop reasons and workers agree with lanmesh -j"

# A refused admission (TLS without a client certificate) shows up by reason.
n a timeout 5 openssl s_client -connect 192.0.2.1:4500 -tls1_3 </dev/null >/dev/null 2>&1
lm_wait 5 eval '[ "$(metric "$(scrape)" "lanmesh_tls_handshakes_total{result=\"refused\"}")" -ge 1 ]' ||
    die "the refused handshake is not counted"
refusals=$(scrape | awk '/^lanmesh_refusals_total\{reason=/ { n += $NF } END { print n + 0 }')
[ "$refusals" -ge 1 ] || die "no lanmesh_refusals_total sample by reason"
pass "a refused handshake is counted, by reason"

code=$(n srv curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:9586/)
[ "$code" = 404 ] || die "GET / answered $code, want 404"
code=$(n srv curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST http://127.0.0.1:9586/metrics)
[ "$code" = 405 ] || die "POST /metrics answered $code, want 405"
pass "other paths get 404, other methods 405"

# Idle connections are bounded and timed out; scraping works again after.
n srv python3 -c '
import socket, time
s = [socket.create_connection(("127.0.0.1", 9586)) for _ in range(20)]
time.sleep(0.3)
' || die "could not open idle connections"
lm_wait 5 scrape >/dev/null || die "metrics unreachable after idle connections"
refused=$(metric "$(scrape)" lanmesh_metrics_refused_total)
[ "${refused:-0}" -ge 12 ] || die "20 idle connections against a bound of 8: $refused refused, want at least 12"
pass "idle connections are bounded ($refused of 20 refused) and do not lock the listener"

# The client on a unix socket.
m=$(n a curl -sS --max-time 5 --unix-socket "$T/run-alice/metrics.sock" http://x/metrics) || die "no answer on the unix socket"
[ "$(metric "$m" 'lanmesh_peers')" = 1 ] || die "alice's metrics: lanmesh_peers is not 1"
[ "$(metric "$m" 'lanmesh_server_connect_attempts_total')" = "$(lm_json a alice .counters.connects)" ] ||
    die "alice's metrics: connection attempts differ from lanmesh's counters"
printf '%s\n' "$m" | grep -q '^lanmesh_info{network="alice",role="client",' || die "alice's lanmesh_info"
pass "client serves its metrics on a unix socket"

lm_stop alice
[ -e "$T/run-alice/metrics.sock" ] && die "the metrics socket is left behind"
pass "the metrics socket goes with the daemon"

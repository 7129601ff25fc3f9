#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench: lanmesh against the veth it runs on, OpenVPN 2.6 and wireguard-go,
# side by side in one run, plus the server's admission rate and memory per
# client.  A benchmark, not a test: nothing is asserted; every case that cannot
# run gets a row saying why.  See bench/README.md for what each column means.
#
# Knobs (environment):
#   BENCH_SECONDS    length of each iperf3 run (default 10)
#   BENCH_UDP_LEN    iperf3 UDP payload (default 1372: a 1400-byte IP datagram,
#                    the tunnels' MTU, so no row fragments)
#   BENCH_CP_N       client counts of the control-plane rows (default "1000 10000")
#   BENCH_PROFILE    1 (default) adds a perf profile of lanmesh and a syscall
#                    breakdown to the Markdown; 0 skips them
#   BENCH_ONLY       space-separated subset of: veth lanmesh defaults c2c openvpn wireguard cp churn registry
#   BENCH_CHURN_RATE admissions (and drops) a second of the churn rows (default 200)
#   BENCH_CHURN_BASELINE  another lanmeshd (an older build) measured in the churn rows too;
#                    BENCH_CHURN_BASELINE_NAME labels it
#   BENCH_REG_N      clients of the registry rows, over one and over two servers (default 1000)
#   BENCH_OUT        results directory (default bench/results)
#   BENCH_WORKERS    lanmesh's Workers on every node (default auto: one per CPU)
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/netns/lib.sh
source "$BENCH_DIR/../tests/netns/lib.sh"
source "$BENCH_DIR/lib.sh"
source "$BENCH_DIR/registry.sh"

S=${BENCH_SECONDS:-10}
UDP_LEN=${BENCH_UDP_LEN:-1372}
CP_N=${BENCH_CP_N:-"1000 10000"}
PROFILE=${BENCH_PROFILE:-1}
ONLY=${BENCH_ONLY:-"veth lanmesh defaults c2c openvpn wireguard cp churn registry"}
WORKERS=${BENCH_WORKERS:-auto}
[[ $WORKERS =~ ^(auto|[1-9][0-9]?)$ ]] || die "BENCH_WORKERS must be auto or 1..64, not '$WORKERS'"
OUT=${BENCH_OUT:-$BENCH_DIR/results}
[[ $S =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer, not '$S'"
[[ $UDP_LEN =~ ^[1-9][0-9]*$ ]] || die "BENCH_UDP_LEN must be a positive integer"
want() { [[ " $ONLY " == *" $1 "* ]]; }

[ "$(id -u)" = 0 ] || die "make bench needs root (network namespaces)"
for tool in iperf3 jq python3 ping; do command -v $tool >/dev/null || die "$tool is missing (make bench installs it)"; done
[ -x "$LANMESHD" ] || die "$LANMESHD is not built (make all)"
snapshot_binaries
# Each control-plane client is one socket on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
STARTED=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
STAMP=$(date +%Y-%m-%d-%H%M%S)
ROWS=$T/rows.jsonl CPROWS=$T/cp.jsonl CHURNROWS=$T/churn.jsonl REGROWS=$T/registry.jsonl NOTES=$T/notes
: > "$ROWS"; : > "$CPROWS"; : > "$CHURNROWS"; : > "$REGROWS"; mkdir -p "$NOTES"
trap bench_exit EXIT

log "bench: ${S} s per run, UDP payload $UDP_LEN bytes, lanmesh Workers = $WORKERS, cases: $ONLY"
if awk '{exit !($1 > 0.5)}' /proc/loadavg; then
    log "note: load average is $LOAD_START before the bench starts; other work on the machine will show in every figure"
fi

# ---- the little internet: one bridge ("hub"), every host on it -------------
lm_pki_init
lm_pki_cert server server
for c in alice carol dave; do lm_pki_cert $c client; done
lm_hub
lm_public srv 192.0.2.1          # the server side of every row
lm_public cli 192.0.2.11         # the client side of every row
# Client<->client: two NAT routers behind an "inet" router on the bridge, so
# that a packet between the NATs crosses a router, as on the internet (the
# low-TTL hole-punch opener relies on it).
lm_public inet 192.0.2.254
n inet sysctl -qw net.ipv4.ip_forward=1
n srv ip route add 203.0.113.0/24 via 192.0.2.254
lm_isp_nat nat1 203.0.113.1/26 203.0.113.62/26 198.51.100.1/26
lm_isp_nat nat2 203.0.113.65/26 203.0.113.126/26 198.51.100.65/26
lm_behind c1 nat1 198.51.100.2/26 198.51.100.1
lm_behind c2 nat2 198.51.100.66/26 198.51.100.65
lm_ns cp                         # control plane: loopback only

bg_start srv iperf-srv iperf3 -s; IPERF_SRV=$BG_PID
bg_start c2 iperf-c2 iperf3 -s; IPERF_C2=$BG_PID
lm_wait 5 eval "n srv ss -ltn | grep -q ':5201 '" || die "iperf3 server did not start"
lm_wait 5 eval "n c2 ss -ltn | grep -q ':5201 '" || die "iperf3 server on c2 did not start"

# ---- the ceiling: the veth path without a tunnel -----------------------------
if want veth; then
    idle=$(rtt_idle cli 192.0.2.1)
    for mode in tcp1 tcp4 udp; do
        run_row "veth-$mode" "veth, no tunnel" veth - - "$mode" cli 192.0.2.1 "" "$idle" \
            ""
    done
fi

# ---- lanmesh client <-> server -------------------------------------------------
if want lanmesh; then
    lm_conf_server lmsrv relay
    if lm_up_server srv lmsrv; then
        for encap in udp raw; do
            for cipher in aes-256-gcm chacha20-poly1305; do
                short=$([ $cipher = aes-256-gcm ] && echo aes || echo chacha)
                key=lanmesh-$encap-$short
                label="lanmesh $([ $encap = udp ] && echo 'ESP/UDP 4500' || echo 'raw ESP') $cipher"
                lm_client_conf alice 192.0.2.1 "Encapsulation = $encap" "Ciphers = $cipher" "Workers = $WORKERS"
                if ! lm_up_client cli alice; then
                    for mode in tcp1 tcp4 udp; do fail_row "$key-$mode" "$label" lanmesh "$encap" "$cipher" "$mode" "client did not come up: $(last_log alice)"; done
                    bg_stop "${DPID[alice]}"
                    continue
                fi
                got_encap=$(lm_json srv lmsrv '.peers[] | select(.name=="alice") | .encapsulation')
                got_cipher=$(lm_json srv lmsrv '.peers[] | select(.name=="alice") | .sa[0].cipher')
                note=""
                [ "$got_encap" = "$encap" ] || note="asked for $encap, server chose $got_encap; "
                [ "$got_cipher" = "$cipher" ] || note+="asked for $cipher, got $got_cipher; "
                idle=$(rtt_idle cli 198.18.0.1)
                for mode in tcp1 tcp4 udp; do
                    run_row "$key-$mode" "$label" lanmesh "$got_encap" "$got_cipher" "$mode" cli 198.18.0.1 \
                        "${DPID[lmsrv]} ${DPID[alice]}" "$idle" "${note%; }"
                done
                if [ "$PROFILE" = 1 ] && [ $encap = udp ] && [ $cipher = aes-256-gcm ]; then
                    profile_lanmesh cli 198.18.0.1 "${DPID[lmsrv]} ${DPID[alice]}"
                fi
                bg_stop "${DPID[alice]}"
            done
        done
        bg_stop "${DPID[lmsrv]}"
    else
        for encap in udp raw; do for short in aes chacha; do for mode in tcp1 tcp4 udp; do
            fail_row "lanmesh-$encap-$short-$mode" "lanmesh $encap $short" lanmesh "$encap" "$short" "$mode" "server did not start: $(last_log lmsrv)"
        done; done; done
    fi
fi

# ---- lanmesh as a user configures it, on a bare veth pair ----------------------
want defaults && defaults_case

# ---- lanmesh client <-> client, each behind its own NAT -----------------------
if want c2c; then
    c2c_direct
    c2c_relay
fi

# ---- OpenVPN 2.6, userspace (no DCO), TLS p2p, AES-256-GCM -------------------
if want openvpn; then
    if command -v openvpn >/dev/null && ovpn_up; then
        idle=$(rtt_idle cli 198.19.1.1)
        for mode in tcp1 tcp4 udp; do
            run_row "openvpn-$mode" "OpenVPN $(ovpn_version) UDP AES-256-GCM" openvpn udp aes-256-gcm "$mode" cli 198.19.1.1 \
                "$OVPN_PIDS" "$idle" ""
        done
    else
        for mode in tcp1 tcp4 udp; do fail_row "openvpn-$mode" "OpenVPN" openvpn udp aes-256-gcm "$mode" "did not come up: $(last_log ovpn-cli)"; done
    fi
    ovpn_down
fi

# ---- wireguard-go -------------------------------------------------------------
if want wireguard; then
    if command -v wireguard-go >/dev/null && command -v wg >/dev/null && wg_up; then
        idle=$(rtt_idle cli 198.19.2.1)
        for mode in tcp1 tcp4 udp; do
            run_row "wireguard-go-$mode" "wireguard-go $(wg_version)" wireguard-go udp chacha20-poly1305 "$mode" cli 198.19.2.1 \
                "$WG_PIDS" "$idle" ""
        done
    else
        for mode in tcp1 tcp4 udp; do fail_row "wireguard-go-$mode" "wireguard-go" wireguard-go udp chacha20-poly1305 "$mode" "did not come up: $(last_log wg-cli)"; done
    fi
    wg_down
fi

# ---- control plane: admissions per second, memory per client ------------------
if want cp; then
    maxn=0
    for nn in $CP_N; do [ "$nn" -gt "$maxn" ] && maxn=$nn; done
    CP_MAX=$maxn
    # The load generator: bench/cp_load.cc, compiled here once, since the
    # Python one (asyncio + ssl) cannot keep the server busy; the Python's
    # `load` if it does not compile.
    cp_gen_build
    if [ "$maxn" -gt 0 ] && python3 "$BENCH_DIR/cp_load.py" mint --ca-cert "$PKI/ca.crt" --ca-key "$PKI/ca.key" \
            --out "$T/cpcerts" -n "$maxn" > "$T/mint.log" 2>&1; then
        log "control plane: $(cat "$T/mint.log")"
        for nn in $CP_N; do cp_run "$nn"; done
    else
        for nn in $CP_N; do echo "{\"n\":$nn,\"status\":\"could not mint certificates: $(tail -1 "$T/mint.log" | tr -d '"\\')\"}" >> "$CPROWS"; done
    fi
fi

# ---- the data path while the control plane admits, drops and reloads ----------
want churn && churn_case

# ---- admissions with the leases in etcd: one server, then two ---------------
want registry && registry_case

bg_stop "$IPERF_SRV"
bg_stop "$IPERF_C2"
REPORTED=1
write_report

# SPDX-License-Identifier: MIT
# make bench, case "registry": admissions per second with the leases in etcd
# ([Registry], docs/DESIGN.md §11), one server and two sharing one etcd, and
# the etcd requests each admission costs.  Sourced by bench/run.sh after
# lib.sh (bg_start, cp_gen_build, last_log) and tests/netns/lib.sh (lm_etcd).
#
# Everything runs in the loopback namespace "cp": etcd 3.4 on 127.0.0.1:2379
# (one member, as the tests run it), server K listening on 127.0.0.K, the C++
# load generator opening N/K sessions to each, each with its own certificates
# (--first), at most 24 in their handshake at once (a server keeps 32 pending
# from one source address), and holding them until the row is read.  The etcd
# requests are etcd's own count (grpc_server_handled_total on its /metrics,
# every gRPC call the JSON gateway makes), before and after: they include
# the servers' background work during the row (lease keepalives, the
# registry's polls), which is what an admission costs an etcd in practice.

# etcd_requests: the sum of etcd's handled gRPC calls (KV, Lease, Watch).
etcd_requests() {
    n cp curl -sf -m 5 http://127.0.0.1:2379/metrics |
        awk '/^grpc_server_handled_total\{/ && /grpc_service="etcdserverpb\.(KV|Lease|Watch)"/ {s += $2} END {printf "%d\n", s}'
}

# registry_run SERVERS N: one row into $REGROWS.
registry_run() {
    local k=$1 nn=$2 i s name per deadline status=ok why="" r0 r1
    local pids=() gens=() results=()
    log "registry: $nn clients over $k server(s)"
    per=$((nn / k))
    deadline=$((30 + nn / 50))
    for i in $(seq "$k"); do
        name=reg$k-$i
        lm_conf_server "$name" relay "Pool = 198.18.0.0/16" "Listen = 127.0.0.$i" \
            "[Registry]" "Endpoint = http://127.0.0.1:2379" "Prefix = /bench/r$k-$nn/" "Name = $name" "TTL = 10"
        if ! lm_up_server cp "$name"; then
            status=failed why="$name did not start: $(last_log "$name")"
        fi
        pids+=("${DPID[$name]}")
    done
    if [ $status = ok ]; then
        r0=$(etcd_requests)
        for i in $(seq "$k"); do
            bg_start cp "reggen-$k-$i" "${CP_GEN[@]}" --host "127.0.0.$i" --port 4500 \
                --ca "$PKI/ca.crt" --certs "$T/cpcerts" -n "$per" --first $(((i - 1) * per + 1)) --concurrency 24 \
                --result "$T/reg-$k-$i.json" --release "$T/reg-$k.release" --deadline "$deadline" --hold 120
            gens+=("$BG_PID")
            results+=("$T/reg-$k-$i.json")
        done
        for s in "${results[@]}"; do
            lm_wait $((deadline + 30)) test -e "$s" || { status=failed why="no result from a load generator"; }
        done
        r1=$(etcd_requests)
    fi
    touch "$T/reg-$k.release"
    for i in "${gens[@]}"; do bg_stop "$i"; done
    for i in "${pids[@]}"; do bg_stop "$i"; done
    local gen_json='[]'
    [ $status = ok ] && gen_json=$(jq -s . "${results[@]}")
    jq -c -n --argjson servers "$k" --argjson n "$nn" --arg status "$status" --arg note "$why" \
        --argjson gens "$gen_json" --argjson r0 "${r0:-null}" --argjson r1 "${r1:-null}" \
        '{servers: $servers, n: $n, status: $status, note: $note,
          admitted: ([$gens[].admitted // 0] | add),
          failed: ([$gens[].failed // 0] | add),
          failure_reasons: ([$gens[].failure_reasons // {}] | add),
          seconds: ([$gens[].elapsed_s // 0] | max),
          latency_ms_p99: ([$gens[].latency_ms_p99 // empty] | max),
          etcd_requests: (if $r0 == null or $r1 == null then null else $r1 - $r0 end)}
         | .admits_per_s = (if .seconds != null and .seconds > 0 then .admitted / .seconds else null end)
         | .etcd_requests_per_admission = (if .etcd_requests != null and .admitted > 0
                                            then .etcd_requests / .admitted else null end)' >> "$REGROWS"
}

# registry_case: etcd in "cp", then a row for one server and one for two.
registry_case() {
    local nn=${BENCH_REG_N:-1000}
    cp_gen_build
    if [ "${CP_GEN_NAME#bench/cp_load.cc}" = "$CP_GEN_NAME" ]; then
        echo '{"servers":0,"n":0,"status":"skipped","note":"needs the C++ load generator (its --first)"}' >> "$REGROWS"
        return
    fi
    if [ ! -e "$T/cpcerts/bench$(printf %05d "$nn").crt" ] &&
        ! python3 "$BENCH_DIR/cp_load.py" mint --ca-cert "$PKI/ca.crt" --ca-key "$PKI/ca.key" \
            --out "$T/cpcerts" -n "$nn" > "$T/reg-mint.log" 2>&1; then
        jq -c -n --arg why "could not mint certificates: $(last_log reg-mint)" \
            '{servers: 0, n: 0, status: "failed", note: $why}' >> "$REGROWS"
        return
    fi
    if ! (lm_etcd_bin) > "$T/reg-etcd.log" 2>&1; then
        jq -c -n --arg why "no etcd: $(last_log reg-etcd)" '{servers: 0, n: 0, status: "failed", note: $why}' >> "$REGROWS"
        return
    fi
    lm_etcd cp 127.0.0.1   # dies (and the report says so) if it does not answer within 20 s
    registry_run 1 "$nn"
    registry_run 2 "$nn"
}

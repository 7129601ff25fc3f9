# SPDX-License-Identifier: MIT
# Helpers of bench/run.sh.  Sourced after tests/netns/lib.sh, whose
# namespaces, PKI, daemon starter and cleanup it builds on: every process
# started here is in PIDS (so lib.sh's cleanup ends it) until bg_stop takes it
# out again, and every namespace is in NSES.

CLK_TCK=$(getconf CLK_TCK)
HAVE_PERF=0
if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter -x, -o /dev/null true >/dev/null 2>&1; then
    HAVE_PERF=1
fi
PROFILE_SECONDS=${BENCH_PROFILE_SECONDS:-3}
HAVE_HW=0
if [ "$HAVE_PERF" = 1 ] && perf stat -e cycles -x, true 2>&1 | grep -q '^[0-9]'; then HAVE_HW=1; fi

# ---- processes -------------------------------------------------------------------

# bg_start NS NAME CMD...: runs CMD in namespace NS in the background, output
# to $T/NAME.log; its pid is left in BG_PID (ip netns exec execs CMD, so this
# is CMD's own pid).
bg_start() {
    local ns=$1 name=$2; shift 2
    ip netns exec "$P-$ns" "$@" >>"$T/$name.log" 2>&1 &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

# bg_stop PID: SIGTERM, up to 5 s, then SIGKILL; forgets the pid.
bg_stop() {
    local pid=$1 i keep=()
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    for i in "${PIDS[@]}"; do [ "$i" = "$pid" ] || keep+=("$i"); done
    PIDS=("${keep[@]}")
    return 0
}

# cpu_ticks PID...: utime + stime of the processes (all their threads), in
# clock ticks.  Fields 14 and 15 of /proc/PID/stat, counted after the ")" that
# ends the command name.
cpu_ticks() {
    local sum=0 pid v
    for pid in "$@"; do
        v=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}')
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

# sched_ns PID: "on-CPU-ns runqueue-wait-ns" of the process's main thread.
sched_ns() { awk '{print $1, $2}' "/proc/$1/schedstat" 2>/dev/null || echo "0 0"; }

vmrss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
vmhwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# last_log NAME: the last error or warning of $T/NAME.log (else its last
# line), fit for a table cell.
last_log() {
    [ -s "$T/$1.log" ] || { echo "no output"; return; }
    local line
    line=$(grep -iE 'error|warn|fail|abort|fatal|invalid|corrupt|denied|cannot' "$T/$1.log" | tail -n 1)
    [ -n "$line" ] || line=$(grep -v '^\s*$' "$T/$1.log" | tail -n 1)
    echo "$line" | tr -d '"\\' | cut -c1-200
}

# snapshot_binaries: copies lanmeshd and lanmesh into $T and measures those,
# so that a rebuild while the bench runs cannot change them under it.
snapshot_binaries() {
    mkdir -p "$T/bin"
    LANMESHD_BUILT=$(date -r "$LANMESHD" '+%F %T' 2>/dev/null)
    LANMESHD_SRC=$(readlink -f "$LANMESHD")
    cp "$LANMESHD_SRC" "$T/bin/lanmeshd" && cp "$(readlink -f "$LANMESH")" "$T/bin/lanmesh" ||
        die "cannot copy $LANMESHD and $LANMESH"
    LANMESHD=$T/bin/lanmeshd LANMESH=$T/bin/lanmesh
}

# ---- perf ----------------------------------------------------------------------

# perf_stat_start OUT EVENTS PID...: counts EVENTS in the processes until perf_stat_stop.
perf_stat_start() {
    local out=$1 events=$2; shift 2
    PERF_PID=
    [ "$HAVE_PERF" = 1 ] && [ $# -gt 0 ] || return 0
    perf stat -x, -o "$out" -e "$events" -p "$(echo "$*" | tr ' ' ,)" >/dev/null 2>&1 &
    PERF_PID=$!
    PIDS+=("$PERF_PID")
    sleep 0.2   # let it attach before the load starts
}

perf_stat_stop() {
    [ -n "${PERF_PID:-}" ] || return 0
    kill -INT "$PERF_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$PERF_PID" 2>/dev/null || break; sleep 0.1; done
    bg_stop "$PERF_PID"
    PERF_PID=
}

# perf_count FILE EVENT: a count from perf stat -x, output; empty if none.
perf_count() {
    awk -F, -v ev="$2" '$3 == ev && $1 ~ /^[0-9]+$/ {print $1}' "$1" 2>/dev/null | head -n 1
}

# perf_top DATA SORT LIMIT LINES: a flat perf report, trailing blank columns cut.
perf_top() {
    perf report -i "$1" --stdio --no-children --sort "$2" --percent-limit "$3" 2>/dev/null |
        grep -E '^ +[0-9]' | sed -E 's/( +-)+ *$//; s/ +$//' | head -n "$4"
}

# ---- rows ------------------------------------------------------------------------

# ping_times FILE: the round-trip times of a ping output as a JSON array.
ping_times() {
    grep -oE 'time=[0-9.]+' "$1" 2>/dev/null | cut -d= -f2 | jq -s -c . 2>/dev/null || echo '[]'
}

# rtt_idle NS DEST: median of 10 pings at 0.1 s with no load; "null" if none came back.
rtt_idle() {
    local f=$T/idle-$RANDOM.txt
    n "$1" ping -n -i 0.1 -c 10 -W 1 "$2" > "$f" 2>&1
    ping_times "$f" | jq 'if length == 0 then null else sort | .[length / 2 | floor] end'
}

# iperf_args MODE
iperf_args() {
    case $1 in
    tcp1) echo "-P 1" ;;
    tcp4) echo "-P 4" ;;
    udp) echo "-u -b 0 -l $UDP_LEN" ;;
    esac
}

# run_row KEY LABEL VPN TRANSPORT CIPHER MODE NS DEST "PIDS" IDLE_RTT NOTE
# One iperf3 run of BENCH_SECONDS from NS to DEST, with a ping every 0.1 s
# alongside, the CPU time of PIDS (the VPN's processes) and their system calls.
run_row() {
    local key=$1 label=$2 vpn=$3 transport=$4 cipher=$5 mode=$6 ns=$7 dest=$8 pids=$9 idle=${10} note=${11}
    local j=$T/iperf-$key.json pf=$T/ping-$key.txt sf=$T/perf-$key.txt
    local count=$((S * 10 - 10)); [ $count -ge 5 ] || count=5
    log "run: $label, $mode"
    local c0 c1 rc ping_pid alive=1 p
    # shellcheck disable=SC2086
    c0=$(cpu_ticks $pids)
    # shellcheck disable=SC2086
    perf_stat_start "$sf" raw_syscalls:sys_enter $pids
    ( sleep 0.5; exec ip netns exec "$P-$ns" ping -n -i 0.1 -c "$count" -W 1 -w $((S + 2)) "$dest" ) > "$pf" 2>&1 &
    ping_pid=$!
    PIDS+=("$ping_pid")
    # shellcheck disable=SC2046
    timeout $((S + 30)) ip netns exec "$P-$ns" iperf3 -c "$dest" -t "$S" $(iperf_args "$mode") -J \
        --connect-timeout 5000 > "$j" 2> "$T/iperf-$key.err"
    rc=$?
    perf_stat_stop
    for _ in $(seq 30); do kill -0 "$ping_pid" 2>/dev/null || break; sleep 0.1; done
    bg_stop "$ping_pid"
    # shellcheck disable=SC2086
    c1=$(cpu_ticks $pids)
    for p in $pids; do kill -0 "$p" 2>/dev/null || alive=0; done
    [ $alive = 1 ] || note="a VPN process exited during the run${note:+; $note}"
    local syscalls
    syscalls=$(perf_count "$sf" raw_syscalls:sys_enter)
    jq -e '.end.sum_received' "$j" >/dev/null 2>&1 || {
        local why
        why=$(jq -r '.error // empty' "$j" 2>/dev/null)
        [ -n "$why" ] || why="iperf3 exit $rc: $(tail -n 1 "$T/iperf-$key.err" 2>/dev/null)"
        echo '{}' > "$j"
        note="iperf3 failed: $why${note:+; $note}"
    }
    jq -c -n --arg key "$key" --arg lbl "$label" --arg vpn "$vpn" --arg transport "$transport" \
        --arg cipher "$cipher" --arg mode "$mode" --arg note "$note" --arg dest "$dest" \
        --argjson cpu_ticks $((c1 - c0)) --argjson clk_tck "$CLK_TCK" --arg pids "$pids" \
        --argjson syscalls "${syscalls:-null}" --argjson idle "${idle:-null}" \
        --argjson ping "$(ping_times "$pf")" --argjson ping_sent "$count" \
        --argjson udp_len "$UDP_LEN" --argjson seconds "$S" --slurpfile ip "$j" \
        '{key: $key, "label": $lbl, vpn: $vpn, transport: $transport, cipher: $cipher, mode: $mode,
          dest: $dest, note: $note, status: (if $ip[0].end.sum_received then "ok" else "failed" end),
          cpu_ticks: (if $pids == "" then null else $cpu_ticks end), clk_tck: $clk_tck,
          syscalls: $syscalls, rtt_idle_ms: $idle, ping_ms: $ping, ping_sent: $ping_sent,
          udp_len: $udp_len, seconds: $seconds,
          iperf: (($ip[0].end // {}) | del(.streams))}' >> "$ROWS"
}

# amend_note TEXT: appends TEXT to the note of the last row written.
amend_note() {
    local last
    last=$(tail -n 1 "$ROWS")
    sed -i '$ d' "$ROWS"
    jq -c --arg t "$1" '.note = ([.note, $t] | map(select(. != "")) | join("; "))' <<< "$last" >> "$ROWS"
}

# amend_ceiling NAME: the last row's "× veth" compares with the veth rows
# marked NAME (default: the hub's).
amend_ceiling() {
    local last
    last=$(tail -n 1 "$ROWS")
    sed -i '$ d' "$ROWS"
    jq -c --arg c "$1" '.ceiling = $c' <<< "$last" >> "$ROWS"
}

# fail_row KEY LABEL VPN TRANSPORT CIPHER MODE WHY [STATUS]
fail_row() {
    log "skip: $2, $6: $7"
    jq -c -n --arg key "$1" --arg lbl "$2" --arg vpn "$3" --arg transport "$4" --arg cipher "$5" \
        --arg mode "$6" --arg note "$7" --arg status "${8:-failed}" \
        '{key: $key, "label": $lbl, vpn: $vpn, transport: $transport, cipher: $cipher, mode: $mode,
          note: $note, status: $status}' >> "$ROWS"
}

# ---- lanmesh -------------------------------------------------------------------

# lm_conf_server NAME C2C [extra [Network] lines...]: $T/NAME.conf, certificate "server".
lm_conf_server() {
    local name=$1 c2c=$2; shift 2
    {
        echo "[Network]"
        echo "Role = server"
        echo "Topology = subnet"
        echo "ClientToClient = $c2c"
        echo "StateDirectory = $T/state-$name"
        echo "RuntimeDirectory = $T/run-$name"
        echo "Workers = ${WORKERS:-auto}"
        local l has_pool=0
        for l in "$@"; do echo "$l"; [[ $l == Pool\ * ]] && has_pool=1; done
        [ $has_pool = 1 ] || echo "Pool = 198.18.0.0/24"
        echo "[TLS]"
        echo "CA = $PKI/ca.crt"
        echo "Certificate = $PKI/server.crt"
        echo "Key = $PKI/server.key"
        echo "CRL = $PKI/crl.pem"
    } > "$T/$name.conf"
}

lm_shows() { lm_show "$1" "$2" >/dev/null 2>&1; }

# lm_up_server NS NAME: starts it and waits (10 s) for its control socket.
lm_up_server() {
    lm_start "$1" "$2"
    lm_wait 10 lm_shows "$1" "$2" && kill -0 "${DPID[$2]}" 2>/dev/null
}

# lm_up_client NS NAME: starts it and waits (15 s) until it is up and the
# server's overlay address answers.
lm_up_client() {
    lm_start "$1" "$2"
    lm_wait 15 lm_is_up "$1" "$2" || return 1
    lm_wait 10 lm_ping "$1" 198.18.0.1
}

# ---- a flat perf profile and a syscall breakdown of lanmesh under load --------

profile_lanmesh() {
    local ns=$1 dest=$2 pids=$3 s events="" bytes
    [ "$HAVE_PERF" = 1 ] || { echo "perf is not usable here" > "$NOTES/profile-lanmesh.txt"; return; }
    log "profile: lanmesh ESP/UDP AES-256-GCM, 1 TCP stream, ${PROFILE_SECONDS} s (perf record), ${PROFILE_SECONDS} s (syscall counts)"
    perf record -F 997 -o "$T/perf-lanmesh.data" -p "$(echo "$pids" | tr ' ' ,)" >/dev/null 2>&1 &
    local rec=$!
    PIDS+=("$rec")
    sleep 0.3
    n "$ns" timeout $((PROFILE_SECONDS + 20)) iperf3 -c "$dest" -t "$PROFILE_SECONDS" -J > "$T/iperf-profile.json" 2>/dev/null
    kill -INT "$rec" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$rec" 2>/dev/null || break; sleep 0.1; done
    bg_stop "$rec"
    perf_top "$T/perf-lanmesh.data" dso,symbol 1 25 > "$NOTES/profile-lanmesh.txt"
    perf_top "$T/perf-lanmesh.data" dso 0.5 12 > "$NOTES/profile-lanmesh-dso.txt"

    for s in read write readv writev recvmmsg sendmmsg recvmsg sendmsg recvfrom sendto \
             epoll_wait epoll_pwait poll ppoll futex clock_gettime; do
        events+="syscalls:sys_enter_$s,"
    done
    events+="raw_syscalls:sys_enter"
    # shellcheck disable=SC2086
    perf_stat_start "$T/perf-breakdown.txt" "$events" $pids
    n "$ns" timeout $((PROFILE_SECONDS + 20)) iperf3 -c "$dest" -t "$PROFILE_SECONDS" -J > "$T/iperf-breakdown.json" 2>/dev/null
    perf_stat_stop
    bytes=$(jq -r '.end.sum_received.bytes // 0' "$T/iperf-breakdown.json" 2>/dev/null)
    {
        echo "bytes $bytes"
        awk -F, '$1 ~ /^[0-9]+$/ && $1 > 0 {print $3, $1}' "$T/perf-breakdown.txt"
    } > "$NOTES/syscalls-lanmesh.txt"
}

# ---- lanmesh client <-> client ---------------------------------------------------

# A direct path: carol's status (`lanmesh show`) lists dave among its pairs
# (or peers) with path "direct" and an endpoint.
c2c_has_direct_path() {
    lm_show c1 carol | jq -e '[(.pairs[]?, .peers[]?) | select(.name == "dave" and .path == "direct"
        and (.endpoint // "-") != "-")] | length > 0' >/dev/null 2>&1
}

# srv_carried: packets the c2c server relayed (decrypted and re-encrypted)
# plus those it forwarded blind by SPI, so far.
srv_carried() {
    lm_show srv lmc2c 2>/dev/null | jq -r '[(.counters.relayed // 0), (.mesh.forwarded_packets // 0)] | @tsv' 2>/dev/null || printf '0\t0\n'
}

c2c_clients_up() {
    lm_client_conf carol 192.0.2.1 "Workers = ${WORKERS:-auto}"
    lm_client_conf dave 192.0.2.1 "Workers = ${WORKERS:-auto}"
    lm_start c1 carol
    lm_start c2 dave
    lm_wait 15 lm_is_up c1 carol || { C2C_WHY="carol did not come up: $(last_log carol)"; return 1; }
    lm_wait 15 lm_is_up c2 dave || { C2C_WHY="dave did not come up: $(last_log dave)"; return 1; }
    DAVE=$(lm_json c2 dave .address)
    lm_wait 10 lm_ping c1 "$DAVE" || { C2C_WHY="carol cannot reach dave at $DAVE"; return 1; }
}

c2c_down() {
    bg_stop "${DPID[carol]:-}"
    bg_stop "${DPID[dave]:-}"
    bg_stop "${DPID[lmc2c]:-}"
    DPID[carol]='' DPID[dave]='' DPID[lmc2c]=
}

c2c_direct() {
    local key=c2c-direct-tcp1 label="lanmesh client<->client, direct through two NATs"
    local na="n/a (mesh not implemented)"
    lm_conf_server lmc2c direct
    if ! "$LANMESHD" --check-config -c "$T/lmc2c.conf" lmc2c > "$T/check-direct.log" 2>&1; then
        fail_row $key "$label" lanmesh udp - tcp1 "$na: ClientToClient = direct rejected: $(last_log check-direct)" n/a
        return
    fi
    C2C_WHY=""
    if ! lm_up_server srv lmc2c; then
        fail_row $key "$label" lanmesh udp - tcp1 "$na: server with ClientToClient = direct did not start: $(last_log lmc2c)" n/a
        c2c_down
        return
    fi
    if ! c2c_clients_up; then
        fail_row $key "$label" lanmesh udp - tcp1 "$na: $C2C_WHY" n/a
        c2c_down
        return
    fi
    # Traffic between the two is what makes the server introduce them.
    n c1 ping -q -n -i 0.2 -c 25 -W 1 "$DAVE" >/dev/null 2>&1 &
    local pp=$!
    PIDS+=("$pp")
    if lm_wait 15 c2c_has_direct_path; then
        bg_stop "$pp"
        local idle ep r0 f0 r1 f1 path
        idle=$(rtt_idle c1 "$DAVE")
        ep=$(lm_json c1 carol '.pairs[]? | select(.name == "dave") | .endpoint')
        read -r r0 f0 < <(srv_carried)
        # run_row appends its row; the server's share is added to the note after.
        run_row $key "$label" lanmesh udp "$(lm_json c1 carol '.pairs[]? | select(.name == "dave") | .cipher')" tcp1 c1 "$DAVE" \
            "${DPID[lmc2c]} ${DPID[carol]} ${DPID[dave]}" "$idle" ""
        read -r r1 f1 < <(srv_carried)
        path=$(lm_json c1 carol '.pairs[]? | select(.name == "dave") | .path')
        amend_note "direct path carol -> dave via $ep (still $path after the run); the server relayed $((r1 - r0)) and forwarded $((f1 - f0)) packets during it; CPU includes the idle server"
    else
        bg_stop "$pp"
        local st
        st=$(lm_show c1 carol 2>/dev/null)
        if jq -e 'has("pairs")' >/dev/null 2>&1 <<< "$st"; then
            fail_row $key "$label" lanmesh udp - tcp1 "n/a (no direct path): after 15 s of pings carol's pair with dave is $(jq -c '[.pairs[]? | select(.name == "dave") | {path, endpoint, punch_rounds, probes_sent, punching}] | first // "missing"' <<< "$st" | tr -d '"'); mesh counters $(jq -c '.mesh // {}' <<< "$st" | tr -d '"')" n/a
        else
            fail_row $key "$label" lanmesh udp - tcp1 \
                "$na: the daemon accepts ClientToClient = direct, but carol's status has no pairs after 15 s of pings" n/a
        fi
    fi
    c2c_down
}

c2c_relay() {
    local key=c2c-relay-tcp1 label="lanmesh client<->client via the server's relay"
    lm_conf_server lmc2c relay
    C2C_WHY=""
    if ! lm_up_server srv lmc2c; then
        fail_row $key "$label" lanmesh udp - tcp1 "server did not start: $(last_log lmc2c)"
        c2c_down
        return
    fi
    if ! c2c_clients_up; then
        fail_row $key "$label" lanmesh udp - tcp1 "$C2C_WHY"
        c2c_down
        return
    fi
    local idle encap cipher r0 f0 r1 f1
    idle=$(rtt_idle c1 "$DAVE")
    encap=$(lm_json c1 carol '.peers[0].encapsulation')
    cipher=$(lm_json c1 carol '.peers[0].sa[0].cipher')
    read -r r0 f0 < <(srv_carried)
    run_row $key "$label" lanmesh "$encap" "$cipher" tcp1 c1 "$DAVE" \
        "${DPID[lmc2c]} ${DPID[carol]} ${DPID[dave]}" "$idle" ""
    read -r r1 f1 < <(srv_carried)
    amend_note "both clients behind NAT; the server relayed $((r1 - r0)) packets during the run"
    c2c_down
}

# ---- OpenVPN 2.6: TLS p2p mode over UDP, AES-256-GCM, userspace data path ------

ovpn_version() { openvpn --version 2>/dev/null | awk 'NR == 1 {print $2}'; }

ovpn_up() {
    local common=(--dev-type tun --proto udp --data-ciphers AES-256-GCM --disable-dco
                  --tun-mtu 1400 --ca "$PKI/ca.crt" --dh none --verb 3)
    bg_start srv ovpn-srv openvpn --dev ovpn-s --port 1194 --ifconfig 198.19.1.1 198.19.1.2 --tls-server \
        --cert "$PKI/server.crt" --key "$PKI/server.key" "${common[@]}"
    OVPN_PIDS=$BG_PID
    bg_start cli ovpn-cli openvpn --dev ovpn-c --remote 192.0.2.1 1194 --nobind --ifconfig 198.19.1.2 198.19.1.1 \
        --tls-client --cert "$PKI/alice.crt" --key "$PKI/alice.key" "${common[@]}"
    OVPN_PIDS+=" $BG_PID"
    lm_wait 30 grep -q "Initialization Sequence Completed" "$T/ovpn-srv.log" || return 1
    lm_wait 30 grep -q "Initialization Sequence Completed" "$T/ovpn-cli.log" || return 1
    lm_wait 10 lm_ping cli 198.19.1.1 || return 1
    grep -q "Data Channel: cipher 'AES-256-GCM'" "$T/ovpn-cli.log" || { echo "data channel cipher is not AES-256-GCM" >> "$T/ovpn-cli.log"; return 1; }
}

ovpn_down() {
    local p
    for p in ${OVPN_PIDS:-}; do bg_stop "$p"; done
    OVPN_PIDS=
}

# ---- wireguard-go, configured with wg ----------------------------------------------

wg_version() { wireguard-go --version 2>/dev/null | awk 'NR == 1 {print $2}'; }

wg_up() {
    WG_S=${P}ws WG_C=${P}wc
    ( umask 077; wg genkey > "$T/wg-s.key" && wg genkey > "$T/wg-c.key" ) || return 1
    local pub_s pub_c
    pub_s=$(wg pubkey < "$T/wg-s.key") pub_c=$(wg pubkey < "$T/wg-c.key")
    bg_start srv wg-srv wireguard-go -f "$WG_S"
    WG_PIDS=$BG_PID
    bg_start cli wg-cli wireguard-go -f "$WG_C"
    WG_PIDS+=" $BG_PID"
    lm_wait 10 test -S "/var/run/wireguard/$WG_S.sock" || return 1
    lm_wait 10 test -S "/var/run/wireguard/$WG_C.sock" || return 1
    n srv wg set "$WG_S" private-key "$T/wg-s.key" listen-port 51820 \
        peer "$pub_c" allowed-ips 198.19.2.2/32 endpoint 192.0.2.11:51820 || return 1
    n cli wg set "$WG_C" private-key "$T/wg-c.key" listen-port 51820 \
        peer "$pub_s" allowed-ips 198.19.2.1/32 endpoint 192.0.2.1:51820 || return 1
    n srv ip addr add 198.19.2.1/24 dev "$WG_S" && n srv ip link set "$WG_S" mtu 1400 up || return 1
    n cli ip addr add 198.19.2.2/24 dev "$WG_C" && n cli ip link set "$WG_C" mtu 1400 up || return 1
    lm_wait 10 lm_ping cli 198.19.2.1
}

wg_down() {
    local p
    for p in ${WG_PIDS:-}; do bg_stop "$p"; done
    WG_PIDS=
    # wireguard-go removes its socket on SIGTERM; not after SIGKILL.
    [ -n "${WG_S:-}" ] && rm -f "/var/run/wireguard/$WG_S.sock" "/var/run/wireguard/$WG_C.sock"
    return 0
}

# ---- control plane -----------------------------------------------------------------

# cp_run N: a fresh server in the loopback-only namespace cp, N clients from
# the load generator (CP_GEN, see run.sh) over 127.0.0.1, admission rate and
# memory per client.
cp_run() {
    local nn=$1 name=cp$1 spid gen rss0 rss1 hwm c0 c1 peers deadline t0 t1 teardown status=ok why=""
    local s0_run=0 s0_wait=0 s1_run=0 s1_wait=0
    local res=$T/cp-$nn.json rel=$T/cp-$nn.release go=$T/cp-$nn.go sf=$T/perf-cp-$nn.txt
    log "control plane: $nn clients"
    lm_conf_server "$name" relay "Pool = 198.18.0.0/16"
    if ! lm_up_server cp "$name"; then
        jq -c -n --argjson n "$nn" --arg why "server did not start: $(last_log "$name")" \
            '{n: $n, status: "failed", note: $why}' >> "$CPROWS"
        bg_stop "${DPID[$name]}"
        return
    fi
    spid=${DPID[$name]}
    sleep 0.5
    rss0=$(vmrss_kib "$spid")
    deadline=$((30 + nn / 50))
    bg_start cp "cpgen-$nn" "${CP_GEN[@]}" --host 127.0.0.1 --port 4500 \
        --ca "$PKI/ca.crt" --certs "$T/cpcerts" -n "$nn" --result "$res" --release "$rel" \
        --go-file "$go" --deadline "$deadline" --hold 120
    gen=$BG_PID
    # The generator first loads every client's certificate (not timed).
    if ! lm_wait $((30 + nn / 200)) test -e "$go"; then
        status=failed why="load generator did not start: $(last_log "cpgen-$nn")"
    else
        c0=$(cpu_ticks "$spid")
        read -r s0_run s0_wait < <(sched_ns "$spid")
        perf_stat_start "$sf" raw_syscalls:sys_enter,syscalls:sys_enter_fsync,syscalls:sys_enter_accept4,syscalls:sys_enter_rename "$spid"
        local rec=""
        if [ "$PROFILE" = 1 ] && [ "$HAVE_PERF" = 1 ] && [ "$nn" = "$CP_MAX" ]; then
            perf record -F 499 -o "$T/perf-cp.data" -p "$spid" >/dev/null 2>&1 &
            rec=$!
            PIDS+=("$rec")
        fi
        lm_wait $((deadline + 30)) test -e "$res" || { status=failed why="no result from the load generator: $(last_log "cpgen-$nn")"; }
        c1=$(cpu_ticks "$spid")
        read -r s1_run s1_wait < <(sched_ns "$spid")
        perf_stat_stop
        if [ -n "$rec" ]; then
            kill -INT "$rec" 2>/dev/null
            for _ in $(seq 100); do kill -0 "$rec" 2>/dev/null || break; sleep 0.1; done
            bg_stop "$rec"
            perf_top "$T/perf-cp.data" dso,symbol 1.5 20 > "$NOTES/profile-cp.txt"
        fi
        sleep 1
        rss1=$(vmrss_kib "$spid")
        hwm=$(vmhwm_kib "$spid")
        peers=$(lm_show cp "$name" 2>/dev/null | jq '.peers | length' 2>/dev/null)
    fi
    kill -0 "$spid" 2>/dev/null || { status=failed why="server exited: $(last_log "$name") $why"; }
    # Release the clients and time how long the server takes to let them go.
    touch "$rel"
    t0=$(date +%s.%N)
    for _ in $(seq 300); do kill -0 "$gen" 2>/dev/null || break; sleep 0.1; done
    bg_stop "$gen"
    local left="" until=$(($(date +%s) + 30 + nn / 100))
    while [ "$(date +%s)" -lt "$until" ]; do
        left=$(lm_show cp "$name" 2>/dev/null | jq '.peers | length' 2>/dev/null)
        [ "$left" = 0 ] && break
        sleep 0.2
    done
    t1=$(date +%s.%N)
    teardown=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
    [ "$left" = 0 ] || teardown=null
    bg_stop "$spid"
    local gen_json='{}'
    [ -s "$res" ] && gen_json=$(cat "$res")
    jq -c -n --argjson n "$nn" --arg status "$status" --arg note "$why" --argjson gen "$gen_json" \
        --arg gen_name "$CP_GEN_NAME" \
        --argjson rss0 "${rss0:-null}" --argjson rss1 "${rss1:-null}" --argjson hwm "${hwm:-null}" \
        --argjson cpu_ticks "$(( ${c1:-0} - ${c0:-0} ))" --argjson clk_tck "$CLK_TCK" \
        --argjson peers "${peers:-null}" --argjson teardown "$teardown" \
        --argjson run_ns $((s1_run - s0_run)) --argjson wait_ns $((s1_wait - s0_wait)) \
        --argjson syscalls "$(perf_count "$sf" raw_syscalls:sys_enter | grep . || echo null)" \
        --argjson fsyncs "$(perf_count "$sf" syscalls:sys_enter_fsync | grep . || echo null)" \
        --argjson accepts "$(perf_count "$sf" syscalls:sys_enter_accept4 | grep . || echo null)" \
        '{n: $n, status: $status, note: $note, generator: $gen, generator_name: $gen_name, rss_before_kib: $rss0,
          rss_after_kib: $rss1, hwm_kib: $hwm, server_cpu_ticks: $cpu_ticks, clk_tck: $clk_tck,
          peers_in_status: $peers, teardown_s: $teardown, server_syscalls: $syscalls,
          server_fsyncs: $fsyncs, server_accepts: $accepts,
          server_sched_run_s: ($run_ns / 1e9), server_runqueue_wait_s: ($wait_ns / 1e9)}' >> "$CPROWS"
}

# ---- speed with the defaults ------------------------------------------------------

# defaults_case: issue 11's "speed with the defaults".  Two hosts joined by
# one veth (no bridge: the setup of an independent harness that found
# lanmesh slower than the hub rows say), a server and a client configured
# with only what lanmesh.conf(5) asks a user to write: the role, a pool, the
# server's address and name, the TLS files, and Ciphers = aes-256-gcm.
# Everything else is the default: encapsulation (auto), MTU, workers,
# offloads.  The bench's own directories are set too (they decide nothing
# about speed).  Rows: the bare veth pair, then lanmesh over it.
defaults_case() {
    lm_ns ua
    lm_ns ub
    ip -n "$P-ua" link add eth0 type veth peer name eth0 netns "$P-ub" || { fail_row defaults-setup "defaults" lanmesh - - tcp1 "cannot make the veth pair"; return; }
    n ua ip addr add 198.51.100.249/30 dev eth0
    n ub ip addr add 198.51.100.250/30 dev eth0
    n ua ip link set eth0 up
    n ub ip link set eth0 up
    bg_start ua iperf-ua iperf3 -s
    local iperf_ua=$BG_PID
    lm_wait 5 eval "n ua ss -ltn | grep -q ':5201 '" || { fail_row defaults-setup "defaults" lanmesh - - tcp1 "iperf3 server did not start"; bg_stop "$iperf_ua"; return; }
    local idle mode
    idle=$(rtt_idle ub 198.51.100.249)
    for mode in tcp1 tcp4; do
        run_row "pair-veth-$mode" "veth pair, no tunnel" veth - - "$mode" ub 198.51.100.249 "" "$idle" ""
        amend_ceiling pair
    done
    {
        echo "[Network]"
        echo "Role = server"
        echo "Pool = 198.18.8.0/24"
        echo "StateDirectory = $T/state-usrv"
        echo "RuntimeDirectory = $T/run-usrv"
        echo "[TLS]"
        echo "CA = $PKI/ca.crt"
        echo "Certificate = $PKI/server.crt"
        echo "Key = $PKI/server.key"
    } > "$T/usrv.conf"
    {
        echo "[Network]"
        echo "Role = client"
        echo "Server = 198.51.100.249"
        echo "ServerName = server"
        echo "Ciphers = aes-256-gcm"
        [ -n "${BENCH_DEFAULTS_EXTRA:-}" ] && echo "$BENCH_DEFAULTS_EXTRA"
        echo "RuntimeDirectory = $T/run-ucli"
        echo "[TLS]"
        echo "CA = $PKI/ca.crt"
        echo "Certificate = $PKI/alice.crt"
        echo "Key = $PKI/alice.key"
    } > "$T/ucli.conf"
    if lm_up_server ua usrv && lm_start ub ucli && lm_wait 15 lm_is_up ub ucli && lm_wait 10 lm_ping ub 198.18.8.1; then
        local encap cipher
        encap=$(lm_json ua usrv '.peers[] | select(.name=="alice") | .encapsulation')
        cipher=$(lm_json ua usrv '.peers[] | select(.name=="alice") | .sa[0].cipher')
        idle=$(rtt_idle ub 198.18.8.1)
        for mode in tcp1 tcp4; do
            run_row "defaults-$mode" "lanmesh as configured by a user ($encap, $cipher)" lanmesh "$encap" "$cipher" \
                "$mode" ub 198.18.8.1 "${DPID[usrv]} ${DPID[ucli]}" "$idle" "only the keys a user writes; all else default"
            amend_ceiling pair
        done
    else
        for mode in tcp1 tcp4; do
            fail_row "defaults-$mode" "lanmesh as configured by a user" lanmesh - - "$mode" \
                "did not come up: $(last_log usrv) $(last_log ucli)"
        done
    fi
    bg_stop "${DPID[ucli]:-}"
    bg_stop "${DPID[usrv]:-}"
    bg_stop "$iperf_ua"
}

# ---- the data path while the control plane churns ------------------------------

# cp_gen_build: compiles bench/cp_load.cc once into $T/bin/cp-load and sets
# CP_GEN / CP_GEN_NAME; the Python generator if it does not compile.
cp_gen_build() {
    [ -n "${CP_GEN_NAME:-}" ] && return 0
    CP_GEN=("$T/bin/cp-load") CP_GEN_NAME="bench/cp_load.cc, C++ epoll + OpenSSL"
    if ! ${CXX:-g++} -O2 -std=c++20 -Wall -Wextra -o "$T/bin/cp-load" "$BENCH_DIR/cp_load.cc" \
            -lssl -lcrypto > "$T/cp-load-build.log" 2>&1; then
        log "control plane: cannot compile bench/cp_load.cc ($(last_log cp-load-build)); using bench/cp_load.py load"
        CP_GEN=(python3 "$BENCH_DIR/cp_load.py" load) CP_GEN_NAME="bench/cp_load.py, Python asyncio + ssl"
    fi
}

# churn_phase PHASE: one measurement through alice's tunnel (cli -> 198.18.0.1):
# a TCP iperf3 of BENCH_SECONDS and a ping every 20 ms alongside.  PHASE churn
# also runs the load generator in --churn mode against the same server
# (CHURN_RATE admissions and drops a second; at most 24 in their handshake at
# once, under the server's 32 pending handshakes per source address) and
# `lanmesh reload` on the
# server every second, from before the measurement until after it.
churn_phase() {
    local phase=$1 gen="" reloader=""
    local res=$T/churn-$phase.json pf=$T/churn-ping-$phase.txt j=$T/churn-iperf-$phase.json
    local count=$((S * 50)) reloads=$T/churn-reloads-$phase
    log "churn: $phase, $S s (${CHURN_BUILD:-this build})"
    rm -f "$res" "$pf" "$j"   # a baseline's run left its own
    : > "$reloads"
    if [ "$phase" = churn ]; then
        bg_start srv churn-gen "${CP_GEN[@]}" --host 192.0.2.1 --port 4500 --ca "$PKI/ca.crt" \
            --certs "$T/churncerts" -n "$CHURN_RATE" --churn "$CHURN_RATE" --duration $((S + 4)) \
            --concurrency 24 --timeout 10 --result "$res"
        gen=$BG_PID
        ( while kill -0 "$gen" 2>/dev/null; do
              if lm_ctl srv lmsrv reload >/dev/null 2>&1; then echo ok; else echo failed; fi
              sleep 1
          done ) >> "$reloads" &
        reloader=$!
        PIDS+=("$reloader")
        sleep 2   # the churn is under way before the clock starts
    fi
    local c0 c1 h0 h1
    held_now() { lm_show srv lmsrv 2>/dev/null | jq -c 'first(.. | objects | select(has("workers_held")) | .workers_held) // null'; }
    h0=$(held_now)
    c0=$(cpu_ticks "${DPID[lmsrv]}")
    ( exec ip netns exec "$P-cli" ping -n -i 0.02 -c "$count" -W 1 -w $((S + 3)) 198.18.0.1 ) > "$pf" 2>&1 &
    local ping_pid=$!
    PIDS+=("$ping_pid")
    timeout $((S + 30)) ip netns exec "$P-cli" iperf3 -c 198.18.0.1 -t "$S" -J --connect-timeout 5000 \
        > "$j" 2> "$T/churn-iperf-$phase.err" || true
    for _ in $(seq 60); do kill -0 "$ping_pid" 2>/dev/null || break; sleep 0.1; done
    bg_stop "$ping_pid"
    c1=$(cpu_ticks "${DPID[lmsrv]}")
    h1=$(held_now)
    if [ -n "$gen" ]; then
        lm_wait $((S + 30)) test -e "$res"
        bg_stop "$gen"
        bg_stop "$reloader"
    fi
    jq -e '.end.sum_received' "$j" >/dev/null 2>&1 || echo '{}' > "$j"
    local gen_json='null'
    [ -s "$res" ] && gen_json=$(cat "$res")
    jq -c -n --arg phase "$phase" --arg build "${CHURN_BUILD:-}" --argjson ping "$(ping_times "$pf")" --argjson sent "$count" \
        --argjson gen "$gen_json" --argjson reload_ok "$(grep -c '^ok' "$reloads")" \
        --argjson reload_failed "$(grep -c '^failed' "$reloads")" --slurpfile ip "$j" \
        --argjson cpu_ticks $((c1 - c0)) --argjson clk_tck "$CLK_TCK" --argjson seconds "$S" \
        --argjson h0 "${h0:-null}" --argjson h1 "${h1:-null}" \
        --argjson alive "$(kill -0 "${DPID[lmsrv]}" 2>/dev/null && kill -0 "${DPID[alice]}" 2>/dev/null && echo true || echo false)" \
        '{phase: $phase, build: $build, ping_ms: $ping, ping_sent: $sent, generator: $gen, reloads_ok: $reload_ok,
          reloads_failed: $reload_failed, server_cpu_ticks: $cpu_ticks, clk_tck: $clk_tck, seconds: $seconds,
          daemons_alive: $alive, iperf: (($ip[0].end // {}) | del(.streams)),
          workers_held: (if $h0 and $h1 then {pauses: ($h1.pauses - $h0.pauses),
              held_us: ($h1.held_us - $h0.held_us), longest_us_since_start: $h1.longest_us} else null end)}' >> "$CHURNROWS"
}

# churn_case: issue 11's measurement.  A server, alice on UDP 4500 with
# AES-256-GCM, and the two phases: quiet, then churn; with
# BENCH_CHURN_BASELINE (another lanmeshd, an older build say) the same again
# with that daemon, so that one table holds the before and the after.
churn_case() {
    CHURN_RATE=${BENCH_CHURN_RATE:-200}
    cp_gen_build
    if ! python3 "$BENCH_DIR/cp_load.py" mint --ca-cert "$PKI/ca.crt" --ca-key "$PKI/ca.key" \
            --out "$T/churncerts" -n "$CHURN_RATE" > "$T/churn-mint.log" 2>&1; then
        echo "{\"phase\":\"setup\",\"note\":\"could not mint certificates: $(last_log churn-mint | tr -d '"\\')\"}" >> "$CHURNROWS"
        return
    fi
    if [ -n "${BENCH_CHURN_BASELINE:-}" ]; then
        local own=$LANMESHD
        LANMESHD=$BENCH_CHURN_BASELINE CHURN_BUILD="baseline: ${BENCH_CHURN_BASELINE_NAME:-$BENCH_CHURN_BASELINE}"
        churn_daemons
        LANMESHD=$own
    fi
    CHURN_BUILD="this build"
    churn_daemons
}

churn_daemons() {
    lm_conf_server lmsrv relay "Pool = 198.18.0.0/16"
    lm_client_conf alice 192.0.2.1 "Encapsulation = udp" "Ciphers = aes-256-gcm" "Workers = $WORKERS"
    # The reloads re-read the key as the daemon's user, as lanmeshd@.service's notes ask.
    chown lanmesh "$PKI/server.key" 2>/dev/null
    if ! lm_up_server srv lmsrv || ! lm_up_client cli alice; then
        echo "{\"phase\":\"setup\",\"build\":\"$CHURN_BUILD\",\"note\":\"lanmesh did not come up: $(last_log lmsrv | tr -d '"\\') $(last_log alice | tr -d '"\\')\"}" >> "$CHURNROWS"
    else
        churn_phase quiet
        churn_phase churn
    fi
    bg_stop "${DPID[alice]:-}"
    bg_stop "${DPID[lmsrv]:-}"
}

# ---- report and exit -----------------------------------------------------------------

write_meta() {
    local commit dirty
    commit=$(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null && dirty=false || dirty=true
    jq -n --arg stamp "$STAMP" --arg kernel "$(uname -r)" --arg cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
        --argjson cores "$(nproc)" --arg commit "$commit" --argjson dirty "$dirty" \
        --arg openvpn "$(ovpn_version)" --arg wggo "$(wg_version)" \
        --arg iperf "$(iperf3 --version 2>/dev/null | awk 'NR == 1 {print $2}')" \
        --argjson seconds "$S" --argjson udp_len "$UDP_LEN" --argjson perf "$HAVE_PERF" --argjson hw "$HAVE_HW" \
        --argjson elapsed $(($(date +%s) - STARTED)) --argjson complete "${REPORTED:-0}" \
        --arg load0 "$LOAD_START" --arg load1 "$(cut -d' ' -f1-3 /proc/loadavg)" \
        --arg lanmeshd "${LANMESHD_SRC:-$LANMESHD}" --arg built "${LANMESHD_BUILT:-}" \
        '{date: $stamp, kernel: $kernel, cpu: $cpu, cores: $cores, lanmesh_commit: $commit,
          lanmesh_src_modified: $dirty, openvpn: $openvpn, wireguard_go: $wggo, iperf3: $iperf,
          seconds_per_run: $seconds, udp_payload: $udp_len, perf: ($perf == 1), perf_hw_counters: ($hw == 1),
          bench_wall_s: $elapsed, complete: ($complete == 1), loadavg_start: $load0,
          loadavg_end: $load1, lanmeshd: $lanmeshd, lanmeshd_built: $built}' > "$T/meta.json"
}

write_report() {
    write_meta
    mkdir -p "$OUT"
    python3 "$BENCH_DIR/report.py" --rows "$ROWS" --cp "$CPROWS" --churn "$CHURNROWS" --registry "$REGROWS" \
        --notes "$NOTES" --meta "$T/meta.json" \
        --out "$OUT" --stamp "$STAMP"
}

bench_exit() {
    local rc=$?
    if [ -z "${REPORTED:-}" ] && [ -s "${ROWS:-/nonexistent}" ]; then
        log "bench stopped early; writing the rows measured so far"
        write_report
    fi
    ( exit $rc )
    cleanup
}

# SPDX-License-Identifier: MIT
# Shared helpers for the network-namespace integration tests, in the spirit of
# WireGuard's netns.sh: every test builds its own little internet, runs real
# daemons on real TUN devices, and tears everything down on exit.
#
# Addresses (docs/DESIGN.md §6): the public segment is 192.0.2.0/24, NAT LANs are
# slices of 198.51.100.0/24, overlays come from 198.18.0.0/15 and
# 2001:db8::/32.  Nothing else is ever used.
set -u
set -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LANMESHD=${LANMESHD:-$ROOT/lanmeshd}
LANMESH=${LANMESH:-$ROOT/lanmesh}
P="lm$$"                       # namespace prefix, unique per test run
T=$(mktemp -d /tmp/lanmesh-test.XXXXXX)
# The daemons run as user lanmesh after setup and read their configuration
# and CRL again on reload: they must be able to reach them.
chmod 0755 "$T"
NSES=()
PIDS=()
declare -A DPID                # daemon name -> pid

log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
die() { log "FAIL: $*"; exit 1; }
pass() { log "ok: $*"; }

cleanup() {
    local rc=$?
    set +e
    # A test that passed also proves that none of its daemons blocked while
    # it held its workers (lm_held_blocking), the stopped ones included.
    if [ "$rc" -eq 0 ] && ! ( lm_held_blocking ); then rc=1; fi
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for ns in "${NSES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    lm_user_release
    if [ "$rc" -ne 0 ] && [ -z "${LM_QUIET:-}" ]; then
        for f in "$T"/*.log; do [ -e "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }; done
    fi
    [ -n "${LM_KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

n() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }

# lm_ns NAME: a namespace with loopback up.
lm_ns() {
    ip netns add "$P-$1" || die "netns add $1"
    NSES+=("$P-$1")
    n "$1" ip link set lo up
}

# lm_hub: the public segment, a bridge in its own namespace.
lm_hub() {
    lm_ns hub
    n hub ip link add br0 type bridge
    n hub ip link set br0 up
}

# lm_public NAME ADDR: host NAME on the public segment with ADDR/24.
lm_public() {
    local name=$1 addr=$2
    [ -e "/run/netns/$P-$name" ] || lm_ns "$name"
    ip link add "$P-$name-w" type veth peer name wan netns "$P-$name" || die "veth $name"
    ip link set "$P-$name-w" netns "$P-hub"
    n hub ip link set "$P-$name-w" master br0 up
    n "$name" ip addr add "$addr/24" dev wan
    n "$name" ip link set wan up
}

# lm_nat NAME WANADDR LANADDR/LEN [MASQ-FLAGS]: a NAT router; LAN is a bridge.
lm_nat() {
    local name=$1 wan=$2 lan=$3 flags=${4:-}
    lm_public "$name" "$wan"
    lm_nat_lan "$name" "$lan" "$flags"
}

# lm_nat_lan NAME LAN/LEN FLAGS: NAME's LAN bridge and its masquerade onto "wan".
lm_nat_lan() {
    local name=$1 lan=$2 flags=$3
    n "$name" ip link add lan type bridge
    n "$name" ip addr add "$lan" dev lan
    n "$name" ip link set lan up
    n "$name" sysctl -qw net.ipv4.ip_forward=1
    n "$name" nft -f - <<NFT || die "nft on $name"
table ip nat {
    chain post {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan" masquerade $flags
    }
}
NFT
}

# lm_behind NAME NAT ADDR/LEN GW: host NAME on NAT's LAN, default route via GW.
lm_behind() {
    local name=$1 nat=$2 addr=$3 gw=$4
    lm_ns "$name"
    ip link add "$P-$name-l" type veth peer name wan netns "$P-$name" || die "veth $name"
    ip link set "$P-$name-l" netns "$P-$nat"
    n "$nat" ip link set "$P-$name-l" master lan up
    n "$name" ip addr add "$addr" dev wan
    n "$name" ip link set wan up
    n "$name" ip route add default via "$gw"
}

# lm_link NS1 DEV1 ADDR1/LEN NS2 DEV2 ADDR2/LEN: a routed point-to-point link.
lm_link() {
    local a=$1 da=$2 aa=$3 b=$4 db=$5 ab=$6
    [ -e "/run/netns/$P-$a" ] || lm_ns "$a"
    [ -e "/run/netns/$P-$b" ] || lm_ns "$b"
    ip link add "$da" netns "$P-$a" type veth peer name "$db" netns "$P-$b" || die "veth $a-$b"
    n "$a" ip addr add "$aa" dev "$da"
    n "$b" ip addr add "$ab" dev "$db"
    n "$a" ip link set "$da" up
    n "$b" ip link set "$db" up
}

# lm_isp_nat NAT WAN/LEN ISPADDR/LEN LAN/LEN [MASQ-FLAGS]: a NAT router whose
# WAN is a routed link to the "inet" router (made by the caller), so that a
# packet between two NATs crosses at least one router (what the low-TTL
# hole-punch opener needs, as on the real internet).
lm_isp_nat() {
    local name=$1 wan=$2 isp=$3 lan=$4 flags=${5:-}
    lm_link inet "$name" "$isp" "$name" wan "$wan"
    n "$name" ip route add default via "${isp%/*}"
    lm_nat_lan "$name" "$lan" "$flags"
}

# lm_internet: the "inet" router and the server "srv" at 192.0.2.1 behind it;
# NATs hang off inet with lm_isp_nat.
lm_internet() {
    lm_ns inet
    n inet sysctl -qw net.ipv4.ip_forward=1
    lm_link inet srv 192.0.2.254/24 srv wan 192.0.2.1/24
    n srv ip route add default via 192.0.2.254
}

# ---- PKI: a CA with a CRL, made with the openssl command ---------------------
PKI=$T/pki
lm_pki_init() {
    mkdir -p "$PKI/db" "$PKI/other"
    : > "$PKI/db/index.txt"
    echo 1000 > "$PKI/db/serial"
    echo 1000 > "$PKI/db/crlnumber"
    cat > "$PKI/ca.cnf" <<CNF
[ca]
default_ca = lm
[lm]
dir = $PKI/db
database = \$dir/index.txt
serial = \$dir/serial
crlnumber = \$dir/crlnumber
new_certs_dir = \$dir
default_md = sha256
default_days = 30
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[client]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = clientAuth
[server]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = serverAuth
CNF
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=lanmesh test CA" -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null || die "CA"
    lm_pki_crl
}

# lm_pki_cert CN server|client [extra openssl ca args...]
lm_pki_cert() {
    local cn=$1 kind=$2; shift 2
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
        -keyout "$PKI/$cn.key" -out "$PKI/$cn.csr" 2>/dev/null || die "csr $cn"
    openssl ca -batch -config "$PKI/ca.cnf" -extensions "$kind" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" \
        -in "$PKI/$cn.csr" -out "$PKI/$cn.crt" "$@" >/dev/null 2>&1 || die "sign $cn"
}

# lm_pki_certs NAME...: "server" gets a server certificate, the others client ones.
lm_pki_certs() {
    local c
    for c in "$@"; do lm_pki_cert "$c" "$([ "$c" = server ] && echo server || echo client)"; done
}

lm_pki_revoke() {
    openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" \
        -revoke "$PKI/$1.crt" >/dev/null 2>&1 || die "revoke $1"
    lm_pki_crl
}

lm_pki_crl() {
    openssl ca -batch -config "$PKI/ca.cnf" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key" \
        -gencrl -out "$PKI/crl.pem" >/dev/null 2>&1 || die "crl"
}

# A client certificate for CN from a CA nobody trusts.
lm_pki_other_ca_cert() {
    local cn=$1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=rogue CA" -keyout "$PKI/other/ca.key" -out "$PKI/other/ca.crt" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
        -keyout "$PKI/$cn.key" -out "$PKI/$cn.csr" 2>/dev/null
    # A proper client certificate (extendedKeyUsage clientAuth): only its CA is wrong.
    printf 'basicConstraints = CA:FALSE\nkeyUsage = digitalSignature\nextendedKeyUsage = clientAuth\n' > "$PKI/other/client.ext"
    openssl x509 -req -in "$PKI/$cn.csr" -CA "$PKI/other/ca.crt" -CAkey "$PKI/other/ca.key" \
        -CAcreateserial -days 30 -extfile "$PKI/other/client.ext" -out "$PKI/$cn.crt" 2>/dev/null || die "rogue cert"
}

# ---- daemons -----------------------------------------------------------------

# lm_server_conf NAME TOPOLOGY C2C [extra lines...]: writes $T/NAME.conf
lm_server_conf() {
    local name=$1 topo=$2 c2c=$3; shift 3
    {
        echo "[Network]"
        echo "Role = server"
        echo "Topology = $topo"
        echo "Pool = 198.18.0.0/24"
        [ "$topo" = subnet ] && echo "Pool6 = 2001:db8:1::/64"
        echo "ClientToClient = $c2c"
        echo "StateDirectory = $T/state-$name"
        echo "RuntimeDirectory = $T/run-$name"
        echo "Keepalive = 2 10"
        for l in "$@"; do echo "$l"; done
        echo "[TLS]"
        echo "CA = $PKI/ca.crt"
        echo "Certificate = $PKI/$name.crt"
        echo "Key = $PKI/$name.key"
        echo "CRL = $PKI/crl.pem"
    } > "$T/$name.conf"
}

# lm_client_conf NAME SERVERADDR [extra lines...]
lm_client_conf() {
    local name=$1 server=$2; shift 2
    {
        echo "[Network]"
        echo "Role = client"
        echo "Server = $server"
        echo "ServerName = server"
        echo "RuntimeDirectory = $T/run-$name"
        for l in "$@"; do echo "$l"; done
        echo "[TLS]"
        echo "CA = $PKI/ca.crt"
        echo "Certificate = $PKI/$name.crt"
        echo "Key = $PKI/$name.key"
    } > "$T/$name.conf"
}

# lm_user: the system user the daemons drop to (lanmesh.conf(5) User), made
# for the tests if the machine has none, and removed by the last test run
# still using it, so that runs side by side (several developers on one
# machine) do not pull the account from under each other's daemons.  The
# runs using it are files named by shell PID in $LM_USER_REG; "made" says a
# test created the account.  An account the machine had is never removed.
LM_USER_REG=/run/lanmesh-tests
LM_USER_HELD=
lm_user_lock() {   # opens and locks the registry; sets LM_USER_FD
    local i
    for i in $(seq 20); do
        mkdir -p "$LM_USER_REG" || return 1
        exec {LM_USER_FD}>>"$LM_USER_REG/lock" || return 1
        flock "$LM_USER_FD"
        # The last user may have removed the registry while we waited.
        [ "$(stat -Lc %i "/proc/$$/fd/$LM_USER_FD")" = "$(stat -c %i "$LM_USER_REG/lock" 2>/dev/null)" ] && return 0
        exec {LM_USER_FD}>&-
    done
    return 1
}
lm_user_unlock() { exec {LM_USER_FD}>&-; }
lm_user() {
    [ -n "$LM_USER_HELD" ] && return 0
    lm_user_lock || die "cannot lock $LM_USER_REG"
    if ! getent passwd lanmesh >/dev/null; then
        useradd --system --no-create-home --shell /usr/sbin/nologin lanmesh || { lm_user_unlock; die "useradd lanmesh"; }
        : > "$LM_USER_REG/made"
    fi
    : > "$LM_USER_REG/$$"
    LM_USER_HELD=1
    lm_user_unlock
}
lm_user_release() {
    [ -n "$LM_USER_HELD" ] || return 0
    lm_user_lock || return 0
    rm -f "$LM_USER_REG/$$"
    local f others=0
    for f in "$LM_USER_REG"/[0-9]*; do
        [ -e "$f" ] || continue
        if kill -0 "${f##*/}" 2>/dev/null; then others=1; else rm -f "$f"; fi   # a run that died
    done
    if [ $others = 0 ]; then
        [ -e "$LM_USER_REG/made" ] && userdel lanmesh 2>/dev/null
        rm -rf "$LM_USER_REG"
    fi
    lm_user_unlock
    LM_USER_HELD=
}

# lm_start NS NAME: runs lanmeshd for $T/NAME.conf in namespace NS.
lm_start() {
    local ns=$1 name=$2
    lm_user
    # Not through n(): $! must be the daemon itself (ip netns exec execs it).
    ip netns exec "$P-$ns" "$LANMESHD" -c "$T/$name.conf" "$name" >>"$T/$name.log" 2>&1 &
    DPID[$name]=$!
    PIDS+=($!)
}

# lm_held_blocking [NAME]: fails when the daemon NAME (every daemon without
# NAME) made a call that can block (netlink, a file, the user database, a
# name lookup, systemd, a log write) while it held its data-plane workers
# (src/common/might_block.h).  The daemon logs the first of each kind, so
# its log says it, also after it stopped, and reading 200 logs takes no
# time; `lanmesh -s link show` has the counts.  lm_stop checks the daemon
# it stops, cleanup every daemon of a test that passed.
lm_held_blocking() {
    local logs=("$T"/${1:-*}.log) found
    found=$(grep -H -m3 'internal: a blocking call' "${logs[@]}" 2>/dev/null) || return 0
    die "blocking calls while the data-plane workers were held: $found"
}

# lm_stop NAME: SIGTERM and wait (bounded) for it to exit.
lm_stop() {
    local pid=${DPID[$1]}
    lm_held_blocking "$1"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && die "$1 did not stop on SIGTERM"
    wait "$pid" 2>/dev/null
    return 0
}

# lm_ctl NS NAME ARGS...: lanmesh(8) for daemon NAME in namespace NS.
lm_ctl() { local ns=$1 name=$2; shift 2; n "$ns" "$LANMESH" -R "$T/run-$name" -n "$name" "$@"; }

# lm_show NS NAME: the daemon's whole state as one JSON object, counters and
# internals included: the control request "status" (src/core/ctl_socket.h),
# a debugging dump that lanmesh(8) does not print.
lm_show() {
    n "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"status\n")
out = b""
while not out.endswith(b"\n"):
    d = s.recv(65536)
    if not d:
        sys.exit(1)
    out += d
sys.stdout.write(out.decode())' "$T/run-$2/$2.sock"
}

# lm_wait SECONDS CMD...: retries CMD every 0.2 s until it succeeds.
lm_wait() {
    local secs=$1; shift
    local tries=$((secs * 5))
    for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}

lm_is_up() { [ "$(lm_ctl "$1" "$2" -j link show | jq -r .state)" = up ]; }
lm_wait_up() { lm_wait "${3:-15}" lm_is_up "$1" "$2" || die "$2 did not come up"; }

# lm_json NS NAME JQ: one value from the state.
lm_json() { lm_show "$1" "$2" | jq -r "$3"; }

lm_ping() { local ns=$1; shift; n "$ns" ping -q -n -c 3 -i 0.2 -W 2 "$@" >/dev/null; }

# lm_frags NS: the IPv4 fragments NS has made so far (Ip: FragCreates).
lm_frags() {
    n "$1" awk '/^Ip: [A-Z]/ { for (i = 1; i <= NF; i++) if ($i == "FragCreates") c = i }
                /^Ip: [0-9]/ { print $c }' /proc/net/snmp
}

# lm_tcp_both_ways FROM NS ADDR HOW: 1 MB each way over one TCP connection
# from namespace FROM to a listener in NS on ADDR:5201 (at most 40 s); dies
# naming the direction that fell short, HOW (e.g. "through the tunnel")
# after it.
lm_tcp_both_ways() {
    local from=$1 ns=$2 addr=$3 how=$4 lpid got
    n "$ns" timeout 40 python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5201)); s.listen(1); s.settimeout(30)
c, _ = s.accept(); c.settimeout(30)
n = 0
while n < 1000000:
    d = c.recv(65536)
    if not d: break
    n += len(d)
c.sendall(b"y" * 1000000); c.shutdown(socket.SHUT_WR)
print(n)' "$addr" > "$T/tcp-got" &
    lpid=$!
    PIDS+=($lpid)
    got=$(n "$from" timeout 40 python3 -c '
import socket, sys, time
for _ in range(100):
    try:
        s = socket.create_connection((sys.argv[1], 5201), timeout=30); break
    except OSError: time.sleep(0.1)
s.sendall(b"x" * 1000000)
n = 0
while n < 1000000:
    d = s.recv(65536)
    if not d: break
    n += len(d)
print(n)' "$addr")
    wait $lpid
    [ "$got" = 1000000 ] || die "$ns $addr -> $from $how: got ${got:-nothing} of 1000000 bytes"
    [ "$(cat "$T/tcp-got")" = 1000000 ] || die "$from -> $ns $addr $how: got $(cat "$T/tcp-got") of 1000000 bytes"
}

# lm_etcd NS ADDR: an etcd 3.4 member serving clients on http://ADDR:2379,
# ADDR already on a device of NS; waits (20 s) until it answers.  etcd comes
# from Debian's etcd-server package, unpacked into a cache rather than
# installed: installing it would enable and start an etcd on the machine.
lm_etcd() {
    local ns=$1 addr=$2 etcd
    etcd=$(lm_etcd_bin) || exit 1
    ip netns exec "$P-$ns" "$etcd" --name "$ns" --data-dir "$T/etcd-$ns" \
        --listen-client-urls "http://$addr:2379" --advertise-client-urls "http://$addr:2379" \
        --listen-peer-urls "http://$addr:2380" --initial-advertise-peer-urls "http://$addr:2380" \
        --initial-cluster "$ns=http://$addr:2380" >"$T/etcd-$ns.log" 2>&1 &
    DPID[etcd-$ns]=$!
    PIDS+=($!)
    lm_wait 20 lm_etcd_call "$ns" "$addr" range '{"key":"AA=="}' ||
        die "etcd did not answer within 20 s: $(tail -n 5 "$T/etcd-$ns.log")"
}

# lm_etcd_bin: prints the path of the etcd binary (see lm_etcd).
lm_etcd_bin() {
    local cache=/var/cache/lanmesh-test/etcd-server etcd
    etcd=$(command -v etcd || true)
    if [ -z "$etcd" ]; then
        etcd=$cache/usr/bin/etcd
        if [ ! -x "$etcd" ]; then
            mkdir -p "$T/deb" "$cache"
            (cd "$T/deb" && { apt-get download etcd-server >/dev/null 2>&1 ||
                { apt-get update -qq && apt-get download etcd-server >/dev/null; }; }) ||
                die "cannot download Debian's etcd-server package"
            dpkg-deb -x "$T"/deb/etcd-server_*.deb "$cache" || die "cannot unpack etcd-server"
        fi
    fi
    [ -x "$etcd" ] || die "no etcd binary at $etcd"
    echo "$etcd"
}

# lm_etcd_member NS ADDR CLUSTER [etcd options...]: one member of a cluster
# (CLUSTER as etcd's --initial-cluster, members named by their NS), serving
# clients on http://ADDR:2379 unless the options say otherwise.  Does not
# wait: a member answers only once a quorum is up.
lm_etcd_member() {
    local ns=$1 addr=$2 cluster=$3 etcd; shift 3
    etcd=$(lm_etcd_bin) || exit 1
    ip netns exec "$P-$ns" "$etcd" --name "$ns" --data-dir "$T/etcd-$ns" \
        --listen-client-urls "http://$addr:2379" --advertise-client-urls "http://$addr:2379" \
        --listen-peer-urls "http://$addr:2380" --initial-advertise-peer-urls "http://$addr:2380" \
        --initial-cluster "$cluster" "$@" >>"$T/etcd-$ns.log" 2>&1 &
    DPID[etcd-$ns]=$!
    PIDS+=($!)
}

# lm_etcd_call NS ADDR METHOD JSON: one call to etcd's JSON gateway (/v3/kv/METHOD).
lm_etcd_call() { n "$1" curl -sf -m 2 -X POST "http://$2:2379/v3/kv/$3" -d "$4"; }

# lm_etcd_value NS ADDR KEY: KEY's value ("" if there is none).
lm_etcd_value() {
    local k
    k=$(printf %s "$3" | base64 -w0)
    lm_etcd_call "$1" "$2" range "{\"key\":\"$k\"}" | jq -r '.kvs[0]?.value // empty' | base64 -d
}

# lm_etcd_keys NS ADDR PREFIX/: the keys under PREFIX/ (which ends with a
# slash, so the range ends where "/" + 1, "0", begins), one per line.
lm_etcd_keys() {
    local k e
    k=$(printf %s "$3" | base64 -w0)
    e=$(printf %s "${3%/}0" | base64 -w0)
    lm_etcd_call "$1" "$2" range "{\"key\":\"$k\",\"range_end\":\"$e\"}" |
        jq -r '.kvs[]?.key' | while read -r b; do printf '%s\n' "$(printf %s "$b" | base64 -d)"; done
}

# ---- the registry tests' network (docs/DESIGN.md §11) -----------------------

# lm_registry_hub [CLIENT-NS...]: the public segment with etcd running in
# "reg" at 192.0.2.9, the namespaces of two servers, "sa" at 192.0.2.1 and
# "sb" at 192.0.2.2, and the client namespaces given at 192.0.2.11, .12, ...
# in the order given.
lm_registry_hub() {
    local ns i=11
    lm_hub
    lm_public reg 192.0.2.9
    lm_public sa 192.0.2.1
    lm_public sb 192.0.2.2
    for ns in "$@"; do lm_public "$ns" "192.0.2.$i"; i=$((i + 1)); done
    lm_etcd reg 192.0.2.9
}

# lm_registry_server NAME C2C [LINE...]: $T/NAME.conf for a subnet server
# with a [Registry] section under the tests' prefix, registered as NAME,
# and the LINEs (Endpoint, TTL, ...) after those.  NAME presents the
# certificate "server", the name every client expects, unless it was given
# one of its own (lm_pki_cert NAME server).
lm_registry_server() {
    local name=$1 c2c=$2; shift 2
    lm_server_conf "$name" subnet "$c2c" "[Registry]" "Prefix = /lanmesh/test/" "Name = $name" "$@"
    if [ ! -e "$PKI/$name.crt" ]; then
        cp "$PKI/server.crt" "$PKI/$name.crt"; cp "$PKI/server.key" "$PKI/$name.key"
    fi
}

# lm_registry_servers C2C: srva and srvb on the etcd of lm_registry_hub,
# their etcd lease 5 s.
lm_registry_servers() {
    local s
    for s in srva srvb; do lm_registry_server "$s" "$1" "Endpoint = http://192.0.2.9:2379" "TTL = 5"; done
}

# lm_registry_start: starts srva in "sa" and srvb in "sb"; fails unless
# both answer within 10 s.
lm_registry_start() {
    lm_start sa srva
    lm_start sb srvb
    lm_wait 10 lm_show sa srva || die "srva did not start"
    lm_wait 10 lm_show sb srvb || die "srvb did not start"
}

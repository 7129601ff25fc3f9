#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-systemd: lanmeshd@.service under a real systemd.  A Debian 12
# container (debootstrap --variant=minbase, cached in $LM_CACHE) boots with
# systemd as PID 1 under systemd-nspawn; inside it, the package is installed
# with dpkg, and a server (network "srv") and a client (network "cli", in its
# own network namespace "cli" through a unit drop-in) talk over a veth pair:
#   - installing enables and starts nothing;
#   - Type=notify: the client stays "activating" while its server is down and
#     turns active only with its tunnel up; the server once it listens;
#   - each daemon runs as lanmesh with exactly CAP_NET_ADMIN and CAP_NET_RAW
#     (CapEff and CapPrm of every thread), and loaded its TUN steering program;
#   - systemctl reload re-reads the configuration without a restart;
#   - a member of the group lanmesh can read (`lanmesh link show`) but not
#     change (`lanmesh route add` is refused); anyone else cannot even read;
#   - reinstalling (an upgrade) restarts running networks only;
#   - systemctl stop removes the device and the routes;
#   - the journal has the daemons' priorities: info lines are not at warning,
#     the client's connection failures are, no line carries a "<N>" prefix;
#   - purge stops a running network, removes /var/lib/lanmesh and enable
#     links, keeps the user and /etc/lanmesh.
# Underlay 192.0.2.0/24, overlay 198.18.0.0/24 and 2001:db8:1::/64 only.
# Usage: tests/package/check-systemd.sh build/package/lanmesh_VER_ARCH.deb
source "$(dirname "$0")/../netns/lib.sh"
deb=$(realpath "$1")

SUITE=bookworm
MIRROR=${LM_MIRROR:-http://deb.debian.org/debian}
INCLUDE=systemd,systemd-sysv,dbus,iproute2,libssl3,libnl-3-200,libnl-route-3-200,libmnl0,libcap2
LM_CACHE=${LM_CACHE:-/var/cache/lanmesh-test}
key=$(echo "$SUITE minbase $INCLUDE" | sha256sum | cut -c1-12)
TREE=$LM_CACHE/$SUITE-$key
MACHINE=lanmesh-test-$$
NSPAWN_PID=
LEADER=
passed=0 failed=0
ok() { pass "$*"; passed=$((passed + 1)); }
bad() { log "FAIL: $*"; failed=$((failed + 1)); }

# ---- the container ----------------------------------------------------------------
# c CMD...: runs CMD inside the booted container, as root, bounded.
c() { timeout 60 nsenter -t "$LEADER" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

stop_container() {
    [ -n "$NSPAWN_PID" ] || return 0
    if kill -0 "$NSPAWN_PID" 2>/dev/null; then
        [ -n "$LEADER" ] && timeout 20 nsenter -t "$LEADER" -a systemctl --no-block poweroff >/dev/null 2>&1
        for _ in $(seq 150); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
        # Still up: nspawn turns SIGTERM into the container's poweroff signal,
        # then SIGKILL takes the whole container with it.
        kill -TERM "$NSPAWN_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$NSPAWN_PID" 2>/dev/null
    fi
    wait "$NSPAWN_PID" 2>/dev/null
    NSPAWN_PID=
}
finish() {
    local rc=$?
    set +e
    if [ -n "$NSPAWN_PID" ] && [ -n "$LEADER" ] && [ "$rc" -ne 0 ]; then
        c journalctl -b --no-pager -u 'lanmeshd@*' > "$T/journal.log" 2>&1
    fi
    stop_container
    grep -F " $TREE" /proc/mounts >/dev/null && { log "FAIL: mounts left below $TREE"; rc=1; }
    echo "check-systemd: $passed passed, $failed failed ($SECONDS s)"
    if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]; then echo "check-systemd: PASS"; else echo "check-systemd: FAIL"; fi
    [ "$rc" -eq 0 ] && [ "$failed" -ne 0 ] && rc=1
    (exit $rc); cleanup
}
trap finish EXIT

[ "$(id -u)" = 0 ] || die "needs root"
command -v systemd-nspawn debootstrap >/dev/null || die "needs systemd-nspawn and debootstrap"
[ -c /dev/net/tun ] || die "no /dev/net/tun on this machine"

# The tree is made once per package list and then only read: the container
# runs on a tmpfs overlay (--volatile=overlay) and every change vanishes with it.
mkdir -p "$LM_CACHE"
exec {lockfd}>"$LM_CACHE/.lock"
timeout 1500 flock "$lockfd" || die "cache $LM_CACHE stays locked"
if [ ! -x "$TREE/usr/lib/systemd/systemd" ]; then
    log "debootstrap $SUITE ($INCLUDE) into $TREE; once, takes minutes"
    rm -rf "$TREE.new"
    timeout 1500 debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$TREE.new" "$MIRROR" \
        >"$T/debootstrap.log" 2>&1 || { tail -20 "$T/debootstrap.log"; rm -rf "$TREE.new"; die "debootstrap"; }
    mv "$TREE.new" "$TREE"
fi
flock -u "$lockfd"
log "container tree $TREE ($(du -sm "$TREE" | cut -f1) MiB)"

# What goes in: the package, the PKI, the two configurations.
S=$T/share
mkdir -p "$S"
cp "$deb" "$S/lanmesh.deb"
lm_pki_init
lm_pki_certs server alice
cat > "$S/srv.conf" <<CONF
[Network]
Role = server
Device = lm-srv
Topology = subnet
Pool = 198.18.0.0/24
Pool6 = 2001:db8:1::/64
Listen = 192.0.2.1
Route = 198.18.100.0/24
Workers = 2
Keepalive = 2 10
[TLS]
CA = /etc/lanmesh/srv/ca.crt
Certificate = /etc/lanmesh/srv/server.crt
Key = /etc/lanmesh/srv/server.key
CRL = /etc/lanmesh/srv/crl.pem
CONF
cat > "$S/cli.conf" <<CONF
[Network]
Role = client
Device = lm-cli
Server = 192.0.2.1
ServerName = server
Workers = 2
[TLS]
CA = /etc/lanmesh/cli/ca.crt
Certificate = /etc/lanmesh/cli/alice.crt
Key = /etc/lanmesh/cli/alice.key
CONF
cp "$PKI/ca.crt" "$PKI/crl.pem" "$PKI/server.crt" "$PKI/server.key" "$PKI/alice.crt" "$PKI/alice.key" "$S/"

# Host without systemd as PID 1 (a plain VM init, a CI runner): no machined to
# register with and no unit to put the container in.  --private-network gives
# the container its own network namespace and CAP_NET_ADMIN in it; bpf() is
# outside nspawn's default seccomp filter and CAP_BPF outside its capability
# set, and the daemon's TUN steering program needs both.
nspawn_opts=(--register=no)
[ -d /run/systemd/system ] || nspawn_opts+=(--keep-unit)
log "booting $MACHINE with systemd-nspawn (host PID 1: $(ps -p 1 -o comm=))"
systemd-nspawn -q -D "$TREE" --volatile=overlay --machine="$MACHINE" \
    "${nspawn_opts[@]}" --private-network --capability=CAP_BPF --system-call-filter=bpf \
    --bind-ro="$S:/mnt/lanmesh-test" --console=passive -b >"$T/nspawn.log" 2>&1 &
NSPAWN_PID=$!
for _ in $(seq 100); do
    LEADER=$(cat /proc/"$NSPAWN_PID"/task/*/children 2>/dev/null | awk '{ print $1 }')
    [ -n "$LEADER" ] && [ "$(cat /proc/"$LEADER"/comm 2>/dev/null)" = systemd ] && break
    LEADER=
    kill -0 "$NSPAWN_PID" 2>/dev/null || break
    sleep 0.2
done
[ -n "$LEADER" ] || { cat "$T/nspawn.log"; die "container did not start"; }
# The manager's bus exists a moment after PID 1 does.
for _ in $(seq 150); do
    state=$(c timeout 90 systemctl is-system-running --wait 2>&1)
    [[ $state == *"Failed to connect to bus"* ]] || break
    sleep 0.2
done
[ "$state" = running ] || { c systemctl --failed --no-pager; die "container: system is '$state'"; }
ok "container booted, systemd $(c systemctl --version | awk 'NR == 1 { print $2 }') is PID 1, system running"

# ---- install --------------------------------------------------------------------------
out=$(c dpkg -i /mnt/lanmesh-test/lanmesh.deb 2>&1) || { echo "$out"; die "dpkg -i"; }
ok "dpkg -i $(basename "$deb")"
f0=$failed
units=$(c systemctl list-units --all --no-legend 'lanmeshd@*')
[ -z "$units" ] && ! c pidof lanmeshd >/dev/null || bad "installing started something: $units"
[ "$(c systemctl is-enabled lanmeshd@srv.service 2>&1)" = disabled ] || bad "lanmeshd@srv is $(c systemctl is-enabled lanmeshd@srv.service 2>&1) after install"
[ "$failed" = "$f0" ] && ok "installing enabled and started nothing"
f0=$failed
c getent passwd lanmesh | grep -q ':/usr/sbin/nologin$' || bad "no system user lanmesh"
[ "$(c stat -c '%a %U %G' /run/lanmesh)" = "2750 lanmesh lanmesh" ] || bad "/run/lanmesh is $(c stat -c '%a %U %G' /run/lanmesh)"
[ "$failed" = "$f0" ] && ok "postinst made the user lanmesh and /run/lanmesh 2750 lanmesh:lanmesh"

# Setup inside: files, the underlay, the client's namespace.  Debian's udev
# makes /dev/net/tun 0666; nspawn makes it 0600.
c bash -e -c '
    chmod 0666 /dev/net/tun
    m=/mnt/lanmesh-test
    install -d -m 0755 /etc/lanmesh/srv /etc/lanmesh/cli
    install -m 0644 $m/srv.conf $m/cli.conf /etc/lanmesh/
    install -m 0644 $m/ca.crt $m/crl.pem $m/server.crt /etc/lanmesh/srv/
    install -m 0644 $m/ca.crt $m/alice.crt /etc/lanmesh/cli/
    install -m 0600 -o lanmesh -g lanmesh $m/server.key /etc/lanmesh/srv/
    install -m 0600 -o lanmesh -g lanmesh $m/alice.key /etc/lanmesh/cli/
    ip netns add cli
    ip link add u-srv type veth peer name u-cli netns cli
    ip addr add 192.0.2.1/24 dev u-srv
    ip link set u-srv up
    ip -n cli link set lo up
    ip -n cli addr add 192.0.2.2/24 dev u-cli
    ip -n cli link set u-cli up
    mkdir -p /etc/systemd/system/lanmeshd@cli.service.d
    printf "[Service]\nNetworkNamespacePath=/run/netns/cli\n" > /etc/systemd/system/lanmeshd@cli.service.d/netns.conf
    systemctl daemon-reload
    useradd -M -N -G lanmesh -s /bin/sh op
    useradd -M -N -s /bin/sh outsider
' || die "setup inside the container"
for n in srv cli; do
    out=$(c runuser -u lanmesh -- lanmeshd --check-config "$n" 2>&1) || die "check-config $n: $out"
done
ok "setup: configurations check as user lanmesh; client in netns cli via a drop-in"

# ---- Type=notify ------------------------------------------------------------------------------
prop() { c systemctl show -P "$2" "lanmeshd@$1.service"; }
c systemctl start --no-block lanmeshd@cli.service
sleep 4
st=$(prop cli ActiveState)
[ "$st" = activating ] && ok "client without its server: $st" || bad "client without its server is '$st', not activating"
c ip -n cli -4 addr show dev lm-cli 2>/dev/null | grep -q 198.18. && bad "client has an overlay address before it is up"

t0=$(date +%s.%N)
f0=$failed
c timeout 40 systemctl start lanmeshd@srv.service || bad "systemctl start lanmeshd@srv failed"
[ "$(prop srv ActiveState)" = active ] || bad "server is $(prop srv ActiveState)"
c ip -4 addr show dev lm-srv | grep -q 'inet 198.18.0.1/24' || bad "server active without 198.18.0.1/24 on lm-srv"
[ "$failed" = "$f0" ] && ok "server active ($(prop srv StatusText)) with its device lm-srv up"

for _ in $(seq 200); do [ "$(prop cli ActiveState)" = activating ] || break; sleep 0.2; done
st=$(prop cli ActiveState)
# The moment it is active, the tunnel must already be there.
if [ "$st" = active ]; then
    addr=$(c ip -n cli -4 -o addr show dev lm-cli | awk '{ print $4 }')
    link=$(c lanmesh -j -n cli link show)
    [[ $addr == 198.18.0.* ]] && grep -q '"state": *"up"' <<<"$link" &&
        ok "client active $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after its server, tunnel already up: lm-cli $addr ($(prop cli StatusText))" ||
        bad "client active without its tunnel: address '$addr', link $link"
else
    bad "client is '$st' after its server came up"
fi

# ---- user, capabilities, steering ---------------------------------------------------------------
for n in srv cli; do
    pid=$(prop "$n" MainPID)
    [ "$pid" -gt 0 ] 2>/dev/null || { bad "$n: no MainPID"; continue; }
    user=$(c stat -c %U "/proc/$pid")
    caps=$(c bash -c "grep -h -E '^Cap(Eff|Prm):' /proc/$pid/task/*/status | awk '{ print \$2 }' | sort -u | tr '\n' ' '")
    threads=$(c bash -c "ls /proc/$pid/task | wc -l")
    [ "$user" = lanmesh ] && [ "$caps" = "0000000000003000 " ] &&
        ok "$n: pid $pid runs as lanmesh, all $threads threads CapEff = CapPrm = 0x3000 (CAP_NET_ADMIN, CAP_NET_RAW)" ||
        bad "$n: pid $pid runs as '$user' with CapEff/CapPrm '$caps'"
    jr=$(c journalctl -b -o cat --no-pager -u "lanmeshd@$n.service")
    grep -q 'flows go to TUN queues by a hash' <<<"$jr" && ok "$n: TUN steering program loaded" ||
        bad "$n: no steering program: $(grep -i 'data plane' <<<"$jr")"
done

# ---- reload ----------------------------------------------------------------------------------
pid=$(prop srv MainPID)
if c timeout 30 systemctl reload lanmeshd@srv.service; then
    [ "$(prop srv MainPID)" = "$pid" ] && [ "$(prop srv ActiveState)" = active ] &&
        c journalctl -b -o cat --no-pager -u lanmeshd@srv.service | grep -q '^reloaded /etc/lanmesh/srv.conf' &&
        ok "systemctl reload: same pid $pid, \"$(c journalctl -b -o cat --no-pager -u lanmeshd@srv.service | grep '^reloaded ' | tail -1)\"" ||
        bad "systemctl reload: pid $(prop srv MainPID) (was $pid), state $(prop srv ActiveState)"
else
    bad "systemctl reload lanmeshd@srv failed"
fi

# ---- the group lanmesh ------------------------------------------------------------------------
out=$(c runuser -u op -- lanmesh -n srv link show 2>&1) && grep -q 'lm-srv' <<<"$out" &&
    ok "group member op: lanmesh link show works" || bad "group member op: lanmesh link show: $out"
out=$(c runuser -u op -- lanmesh -n srv route add 198.18.200.0/24 via alice 2>&1) &&
    bad "group member op changed a route: $out" ||
    { grep -q 'permission denied' <<<"$out" && ok "group member op: route add refused: $out" || bad "op: route add: $out"; }
out=$(c runuser -u outsider -- lanmesh -n srv link show 2>&1) && bad "non-member reads the daemon: $out" ||
    ok "non-member: link show refused: $out"

# ---- upgrade ------------------------------------------------------------------------------------
before="$(prop srv MainPID) $(prop cli MainPID)"
out=$(c dpkg -i /mnt/lanmesh-test/lanmesh.deb 2>&1) || bad "dpkg -i again: $out"
for _ in $(seq 150); do
    after="$(prop srv MainPID) $(prop cli MainPID)"
    [ "$(prop srv ActiveState)$(prop cli ActiveState)" = activeactive ] && [ "${after% *}" != "${before% *}" ] && [ "${after#* }" != "${before#* }" ] && break
    sleep 0.2
done
[ "$(prop srv ActiveState)$(prop cli ActiveState)" = activeactive ] && [ "${after% *}" != "${before% *}" ] && [ "${after#* }" != "${before#* }" ] &&
    ok "reinstall (upgrade) restarted both running networks: pids $before -> $after" ||
    bad "after reinstall: srv $(prop srv ActiveState) cli $(prop cli ActiveState), pids $before -> $after"
[ "$(c systemctl is-enabled lanmeshd@srv.service 2>&1)" = disabled ] || bad "reinstall enabled lanmeshd@srv"

# ---- stop ---------------------------------------------------------------------------------------
routes() { c ip "$@" route show table all proto 250 2>/dev/null; }
had=$(routes -n cli | tr '\n' ';')
[[ $had == *198.18.100.0/24* ]] || bad "client has no proto lanmesh route to the pushed 198.18.100.0/24: $had"
c timeout 30 systemctl stop lanmeshd@cli.service || bad "systemctl stop lanmeshd@cli"
c timeout 30 systemctl stop lanmeshd@srv.service || bad "systemctl stop lanmeshd@srv"
left=$(c ip -n cli -o link show dev lm-cli 2>/dev/null; c ip -o link show dev lm-srv 2>/dev/null; routes -n cli; routes; routes -6 -n cli; routes -6)
[ -z "$left" ] && ok "systemctl stop: devices lm-srv and lm-cli and their routes ($had) gone" || bad "left after stop: $left"
c pidof lanmeshd >/dev/null && bad "lanmeshd still runs after stop"

# ---- the journal's priorities ---------------------------------------------------------------------
warn=$(c journalctl -b -o cat --no-pager -p warning -u 'lanmeshd@*')
info=$(c journalctl -b -o cat --no-pager -p info -u 'lanmeshd@*')
sed 's/^/  warning: /' <<<"$warn"
misplaced=$(grep -E 'flows go to TUN queues|^reloaded |^control: ' <<<"$warn")
[ -z "$misplaced" ] && grep -q 'flows go to TUN queues' <<<"$info" ||
    bad "info lines at warning priority: $misplaced"
grep -q 'connection failed' <<<"$warn" || bad "the client's connection failures are not at warning priority"
prefixed=$(grep -E '^<[0-7]>' <<<"$info")
[ -z "$prefixed" ] || bad "lines with a literal priority prefix: $prefixed"
[ -z "$misplaced" ] && [ -z "$prefixed" ] && grep -q 'connection failed' <<<"$warn" &&
    ok "journal: $(wc -l <<<"$warn") lines at warning or above (the client losing its server), info lines at info, no <N> prefix left"

# ---- purge ---------------------------------------------------------------------------------------
# With the server enabled and running: prerm stops it, postrm removes its
# state and its enable link, and keeps the user and /etc/lanmesh.
f0=$failed
c test -d /var/lib/lanmesh/srv || bad "no state in /var/lib/lanmesh/srv before purge"
c systemctl enable lanmeshd@srv.service >/dev/null 2>&1 || bad "systemctl enable lanmeshd@srv"
c timeout 40 systemctl start lanmeshd@srv.service || bad "systemctl start lanmeshd@srv before purge"
out=$(c dpkg -P lanmesh 2>&1) || bad "dpkg -P: $out"
c pidof lanmeshd >/dev/null && bad "purge left lanmeshd running"
c ip -o link show dev lm-srv >/dev/null 2>&1 && bad "purge left the device lm-srv"
c test -e /var/lib/lanmesh && bad "purge left /var/lib/lanmesh"
links=$(c find /etc/systemd/system -path '*.wants/lanmeshd@*')
[ -z "$links" ] || bad "purge left enable links: $links"
c getent passwd lanmesh >/dev/null || bad "purge removed the user lanmesh"
c test -e /etc/lanmesh/srv/server.key || bad "purge removed the administrator's key"
c test -e /usr/sbin/lanmeshd && bad "purge left the daemon"
[ "$failed" = "$f0" ] && ok "purge of an enabled, running network: stopped, device, state and enable link gone; user lanmesh and /etc/lanmesh kept"

stop_container
ok "container powered off"
[ "$failed" -eq 0 ]

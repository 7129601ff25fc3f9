#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lanmesh(8) against running daemons: every `show` as JSON through a real
# parser on the server and a client; monitor events while a peer is cut by
# `peer del` and comes back, and at rekeys; a network behind a client added and removed at
# run time; `reload` with a new CRL cutting a revoked client while another
# keeps pinging, and with renewed certificates; changes refused to non-root callers; and the daemons
# running as user lanmesh with exactly CAP_NET_ADMIN and CAP_NET_RAW.
#
#            hub (192.0.2.0/24)
#     srv .1   alice .11   bob .12   carol .13
#                          lo: 198.19.5.1 (a network behind bob)
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob carol
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_public b 192.0.2.12
lm_public c 192.0.2.13
n b ip addr add 198.19.5.1/32 dev lo
# Rekeys every 10 s, so the monitors see some before the end.
lm_server_conf server subnet relay "RekeyAfterTime = 10" "RekeyGrace = 5"
for c in alice bob carol; do lm_client_conf $c 192.0.2.1; done

# Monitors run for the whole test; they are killed by cleanup.
monitor() {  # monitor NS NAME FILE ARGS...
    local ns=$1 name=$2 file=$3; shift 3
    ip netns exec "$P-$ns" "$LANMESH" -R "$T/run-$name" -n "$name" "$@" >"$file" 2>&1 &
    PIDS+=($!)
}
lm_start srv server
lm_wait 10 test -S "$T/run-server/server.sock" || die "no control socket"
monitor srv server "$T/mon-server.json" -j monitor
monitor srv server "$T/mon-server.txt" monitor peer refused
sleep 1   # let the monitors subscribe before anything happens
lm_start a alice; lm_wait_up a alice
lm_start b bob; lm_wait_up b bob
lm_start c carol; lm_wait_up c carol
monitor a alice "$T/mon-alice.txt" monitor
sleep 0.5

# ---- 1. Every show, as JSON, on the server and on a client -------------------
json_ok() {  # json_ok NS NAME ARGS...: exit 0 and a document python accepts
    local out
    out=$(lm_ctl "$@") || die "lanmesh -n $2 ${*:3} failed"
    echo "$out" | python3 -m json.tool >/dev/null || die "lanmesh -n $2 ${*:3}: not JSON: $out"
}
for who in srv:server a:alice; do
    ns=${who%%:*}; name=${who#*:}
    for cmd in "link show" "peer show" "sa show" "route show" "lease show"; do
        for opts in -j "-j -s" "-j -s -s" -p; do
            # shellcheck disable=SC2086
            json_ok $ns $name $opts $cmd
        done
        # shellcheck disable=SC2086
        lm_ctl $ns $name $cmd >/dev/null || die "$name: text $cmd failed"
        # shellcheck disable=SC2086
        lm_ctl $ns $name -s -s $cmd >/dev/null || die "$name: text -s -s $cmd failed"
    done
done
json_ok srv server -j peer show alice
json_ok srv server -j sa show peer alice
json_ok a alice -j sa show peer server
[ "$(lm_ctl srv server -j link show | jq -r '.role + " " + .state')" = "server up" ] || die "server link show"
[ "$(lm_ctl srv server -j peer show | jq -r '[.[].name] | sort | join(",")')" = alice,bob,carol ] || die "server peers"
[ "$(lm_ctl a alice -j peer show | jq -r '.[0].name + " " + .[0].path')" = "server direct" ] || die "alice's peer"
[ "$(lm_ctl srv server -j sa show peer alice | jq -r 'map(.direction) | unique | join(",")')" = in,out ] ||
    die "alice's SAs: $(lm_ctl srv server -j sa show peer alice)"
[ "$(lm_ctl srv server -j sa show | jq 'map(has("key")) | any')" = false ] || die "keys shown without DebugKeyFile"
[ "$(lm_ctl srv server -j lease show | jq -r 'map(select(.active)) | length')" = 3 ] || die "lease show"
[ "$(lm_ctl srv server -j -s link show | jq -r '.counters.admitted')" = 3 ] || die "-s counters"
[ "$(lm_ctl srv server -j link show | jq 'has("counters")')" = false ] || die "counters without -s"
pass "every show parses as JSON on the server and a client, and says what is running"

# Prefixes, help and usage errors with the real binary.
# Only the lines that do not move between two calls: times, counters and RTT
# do (a keepalive or a rekey between the calls made this test flaky).
steady() { grep -E '^(peer|  address|  endpoint):'; }
[ "$(lm_ctl srv server p s | steady)" = "$(lm_ctl srv server peer show | steady)" ] &&
    [ "$(lm_ctl srv server p s | steady | grep -c '^peer:')" = 3 ] || die "'p s' is not 'peer show'"
lm_ctl srv server l s 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q 'ambiguous (link, lease)' "$T/err" ||
    die "ambiguous 'l': exit $rc, $(cat "$T/err")"
lm_ctl srv server peer help | grep -q 'lanmesh peer del NAME' || die "peer help"
lm_ctl srv server peer show nobody 2>"$T/err"; [ $? -eq 1 ] && grep -q '^lanmesh: no peer "nobody"' "$T/err" ||
    die "unknown peer: $(cat "$T/err")"
n srv "$LANMESH" -R "$T/run-server" link show >/dev/null || die "-n is not optional with one network"
pass "prefixes, help and exit codes"

# ---- 2. peer del cuts a client; monitors see it go and come back -------------
lm_ctl srv server route add 198.19.5.0/24 via bob || die "route add"
lm_ctl srv server peer del alice || die "peer del alice"
lm_wait 5 grep -q '"peer":"alice","state":"down","reason":"deleted by the administrator"' "$T/mon-server.json" ||
    die "no peer down event: $(cat "$T/mon-server.json")"
lm_wait 15 eval "[ \$(grep -c '\"peer\":\"alice\",\"state\":\"up\"' '$T/mon-server.json') -ge 2 ]" ||
    die "alice did not come back: $(cat "$T/mon-server.json")"
lm_wait_up a alice
grep -q '^peer alice down reason "deleted by the administrator"$' "$T/mon-server.txt" ||
    die "text monitor: $(cat "$T/mon-server.txt")"
lm_wait 5 grep -q '^peer server up' "$T/mon-alice.txt" && grep -q '^peer server down' "$T/mon-alice.txt" ||
    die "alice's monitor: $(cat "$T/mon-alice.txt")"
while read -r line; do echo "$line" | jq -e .event >/dev/null || die "bad event line: $line"; done <"$T/mon-server.json"
pass "peer del: alice cut and back; events: $(jq -r 'select(.event=="peer") | "\(.peer) \(.state)"' "$T/mon-server.json" | paste -sd, -)"

# ---- 3. A network behind bob, at run time ------------------------------------
# Added just before alice was cut, so she came back with it pushed: her
# device was configured again, as user lanmesh, through netlink.
n a ip route show 198.19.5.0/24 | grep -q 'dev lm-alice' || die "alice did not get the new network's route"
lm_ping srv 198.19.5.1 || die "server cannot reach the network behind bob"
lm_ping a 198.19.5.1 || die "alice cannot reach the network behind bob"
[ "$(lm_ctl srv server -j route show | jq -r '.[] | select(.prefix=="198.19.5.0/24") | "\(.via) \(.origin)"')" = \
  "bob runtime" ] || die "route show"
lm_ctl srv server route add 198.18.0.128/25 via bob 2>"$T/err" && die "a route inside the pool was accepted"
grep -q 'overlaps the address pool' "$T/err" || die "overlap: $(cat "$T/err")"
lm_ctl srv server route del 198.19.5.0/24 || die "route del"
n srv ip route show 198.19.5.0/24 | grep -q . && die "kernel route left behind"
lm_ping srv 198.19.5.1 && die "the network is still reachable after route del"
lm_ctl srv server route del 198.19.5.0/24 2>/dev/null && die "deleting a missing route succeeded"
lm_wait 5 eval "! n a ip route show 198.19.5.0/24 | grep -q ." || die "alice kept the deleted route"
pass "route add/del at run time: reachable after add, gone after del, refused when overlapping the pool"

# Connected clients get route changes at once (route_update), with no
# reconnection, and bob is not sent a route to his own network.
c0=$(lm_json a alice .counters.connects)
lm_ctl srv server route add 198.19.5.0/24 via bob || die "route add (again)"
lm_wait 5 eval "n a ip route show 198.19.5.0/24 | grep -q 'dev lm-alice'" || die "the route was not pushed to alice"
lm_ping a 198.19.5.1 || die "alice cannot reach the network behind bob after the push"
n b ip route show 198.19.5.0/24 | grep -q 'dev lm-bob' && die "bob was sent a route to his own network"
lm_ctl srv server route del 198.19.5.0/24 || die "route del (again)"
lm_wait 5 eval "! n a ip route show 198.19.5.0/24 | grep -q ." || die "the deletion was not pushed to alice"
[ "$(lm_json a alice .counters.connects)" = "$c0" ] || die "alice reconnected to get the routes"
pass "route changes pushed to connected clients without reconnecting"

# ---- 4. Changes are for root only ---------------------------------------------
gid=$(getent group lanmesh | cut -d: -f3)
as_nobody() {  # as_nobody SETPRIV-GROUP-OPTION LANMESH-ARGS...
    local groups=$1; shift
    n srv setpriv --reuid=65534 --regid=65534 "$groups" "$LANMESH" -R "$T/run-server" -n server "$@"
}
out=$(as_nobody --clear-groups link show 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q 'Permission denied' || die "nobody outside the group: exit $rc, $out"
as_nobody --groups="$gid" -j link show | python3 -m json.tool >/dev/null || die "group lanmesh cannot show"
for change in "peer del alice" "route add 198.19.6.0/24 via bob" "reload"; do
    # shellcheck disable=SC2086
    out=$(as_nobody --groups="$gid" $change 2>&1); rc=$?
    [ $rc -eq 1 ] && echo "$out" | grep -q 'permission denied (changes need root)' ||
        die "non-root '$change': exit $rc, $out"
done
lm_is_up a alice || die "alice was cut by a refused request"
pass "group lanmesh may look, only root may change; others cannot connect"

# ---- 5. Least privilege --------------------------------------------------------
uid=$(id -u lanmesh)
[ "$(stat -c '%a %U:%G' "$T/run-server")" = "2750 lanmesh:lanmesh" ] || die "run dir: $(stat -c '%a %U:%G' "$T/run-server")"
[ "$(stat -c '%a %U:%G' "$T/run-server/server.sock")" = "660 root:lanmesh" ] || die "socket: $(stat -c '%a %U:%G' "$T/run-server/server.sock")"
[ "$(stat -c '%U' "$T/state-server" "$T/state-server/leases" | sort -u)" = lanmesh ] || die "state dir not handed over"
for d in server alice; do
    st=/proc/${DPID[$d]}/status
    grep -qE "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid$" "$st" || die "$d: $(grep ^Uid "$st")"
    grep -qE "^Gid:\s+$(id -g lanmesh)\s" "$st" || die "$d: $(grep ^Gid "$st")"
    for f in CapPrm CapEff CapBnd; do
        grep -qE "^$f:\s+0000000000003000$" "$st" || die "$d: $(grep "^$f" "$st")"
    done
    grep -qE "^CapInh:\s+0+$" "$st" && grep -qE "^CapAmb:\s+0+$" "$st" || die "$d: inheritable or ambient caps"
    grep -qE "^NoNewPrivs:\s+1$" "$st" || die "$d: no_new_privs not set"
done
pass "server and client run as uid $uid with CapEff = CapBnd = 0x3000 (cap_net_admin, cap_net_raw)"

# ---- 6. reload: a revoked client is cut, the others keep going ---------------
n a ping -n -i 0.1 -c 40 198.18.0.1 >"$T/ping.txt" 2>&1 &
pinger=$!
sleep 1
lm_pki_revoke carol
out=$(lm_ctl srv server reload) || die "reload failed: $out"
[ "$out" = "cut carol: certificate revoked" ] || die "reload said: $out"
lm_wait 5 grep -q '"event":"refused","peer":"carol",.*"reason":"certificate revoked"' "$T/mon-server.json" ||
    die "no refused event for carol"
grep -q '"peer":"carol","state":"down","reason":"certificate revoked"' "$T/mon-server.json" || die "no down event"
lm_ctl srv server -j peer show | jq -e 'map(.name) | index("carol") == null' >/dev/null || die "carol still listed"
lm_wait 10 grep -qE 'refused 192.0.2.13:[0-9]+: certificate revoked' "$T/server.log" ||
    die "carol's reconnection was not refused"
wait $pinger
grep -q ' 0% packet loss' "$T/ping.txt" || die "alice lost pings across the reload: $(tail -2 "$T/ping.txt")"
lm_ping b 198.18.0.1 || die "bob lost his tunnel"
pass "reload cut revoked carol at once ($(grep -c refused "$T/mon-server.txt") refusals seen) while alice pinged with no loss"

# SIGHUP does the same; a broken file changes nothing.
kill -HUP "${DPID[server]}"
lm_wait 5 grep -q 'info: reloaded' "$T/server.log" || die "SIGHUP did not reload"
cp "$T/server.conf" "$T/server.conf.good"
echo "Bogus = 1" >> "$T/server.conf"
out=$(lm_ctl srv server reload 2>&1) && die "a broken file was accepted"
echo "$out" | grep -qE "^lanmesh: .*server.conf:[0-9]+: " || die "no file:line in: $out"
mv "$T/server.conf.good" "$T/server.conf"
lm_ctl srv server -j reload | jq -e '.cut == [] and .restart_needed == []' >/dev/null || die "clean reload"
lm_is_up a alice && lm_ping a 198.18.0.1 || die "alice hurt by the reloads"
pass "SIGHUP reloads; a broken file is refused with file:line and changes nothing"

# ---- 6b. Renewed certificates: reload serves them to new sessions, no cut ------
served() { n a timeout 5 openssl s_client -connect 192.0.2.1:4500 -CAfile "$PKI/ca.crt" </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null; }
old=$(openssl x509 -in "$PKI/server.crt" -noout -serial)
[ "$(served)" = "$old" ] || die "the server does not serve its certificate: $(served)"
lm_pki_cert server server              # a new key and certificate, same paths
new=$(openssl x509 -in "$PKI/server.crt" -noout -serial)
# openssl writes keys 0600 root: the daemon, now user lanmesh, cannot read it.
out=$(lm_ctl srv server -j reload) || die "reload with an unreadable key failed: $out"
lm_wait 5 grep -q 'reload: cannot use the TLS files as they are now' "$T/server.log" || die "no warning about the key"
[ "$(served)" = "$old" ] || die "the old certificate should stay when the new key is unreadable"
chown lanmesh "$PKI/server.key"         # as the unit's notes ask of a key
out=$(lm_ctl srv server -j reload) || die "reload with a renewed certificate failed: $out"
echo "$out" | jq -e '.cut == []' >/dev/null || die "a renewal cut sessions: $out"
[ "$(served)" = "$new" ] || die "new sessions do not get the renewed certificate ($new): $(served)"
lm_ping a 198.18.0.1 && lm_ping b 198.18.0.1 || die "a renewal hurt established tunnels"
# A client's renewal: kept for its next connection, which then comes up.
lm_pki_cert alice client
chown lanmesh "$PKI/alice.key"
lm_ctl a alice reload >/dev/null || die "alice's reload failed"
lm_ping a 198.18.0.1 || die "alice's reload hurt her tunnel"
n0=$(grep -c 'admitted alice ' "$T/server.log")
lm_ctl srv server peer del alice >/dev/null || die "peer del alice"
lm_wait 30 eval '[ "$(grep -c "admitted alice " "$T/server.log")" -gt "$n0" ]' || die "alice was not admitted again"
lm_wait_up a alice 30
lm_ping a 198.18.0.1 || die "alice did not come back with her renewed certificate"
pass "renewed certificates: new sessions get them at reload (serial ${old#serial=} -> ${new#serial=}), nobody cut"

# ---- 7. Malformed requests get an error, never a crash ------------------------
n srv python3 - "$T/run-server/server.sock" <<'PY' || die "malformed requests"
import json, socket, sys
def ask(data):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sys.argv[1])
    s.sendall(data)
    out = b""
    while not out.endswith(b"\n"):
        d = s.recv(4096)
        if not d:
            break
        out += d
    return json.loads(out)
for bad in [b"\n", b"peer\n", b"peer frob\n", b"\xff\xfe\x00junk\n", b"-s -s -s\n", b"x " * 3000 + b"\n",
            b"route add 1.2.3.4/33 via bob\n", b"sa show bob\n", b"monitor nonsense\n"]:
    r = ask(bad)
    assert set(r) == {"error"}, (bad[:40], r)
assert ask(b"link show\n")["state"] == "up"
PY
kill -0 "${DPID[server]}" || die "the server died"
pass "malformed requests answered with {\"error\": ...}"

# ---- 8. Rekeys reach the monitors too ------------------------------------------
lm_wait 15 grep -q '"event":"rekey","peer":"bob","epoch":[1-9]' "$T/mon-server.json" || die "no rekey event"
lm_wait 15 grep -qE '^rekey server epoch [1-9][0-9]* initiator (local|remote)$' "$T/mon-alice.txt" ||
    die "no rekey on alice's monitor: $(cat "$T/mon-alice.txt")"
pass "rekey events: $(grep -c '"event":"rekey"' "$T/mon-server.json") on the server's monitor"

# ---- 9. A clean stop, as user lanmesh ------------------------------------------
lm_stop server
[ -e "$T/run-server/server.sock" ] && die "control socket left behind"
bad=$(sed -n '/shutting down/,$p' "$T/server.log" | grep -E 'warning|error')
[ -z "$bad" ] || die "trouble at shutdown: $bad"
pass "server stopped cleanly after dropping privileges"

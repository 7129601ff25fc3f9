#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Operating a running network (lanmesh(8), lanmeshd(8)):
#  1. the control socket belongs to User's primary group (User = nobody here);
#  2. a client's own NatKeepalive applies when shorter than the server's;
#  3. a client called "help" can be shown and deleted;
#  4. `route add` refuses an unknown peer unless -force;
#  5. idle callers of the group cannot lock root out of the control socket,
#     are timed out after a second, and one over the limit hears "daemon busy";
#  6. a second `lanmeshd NET`, or a daemon of another network on the same
#     device, refuses to start and leaves the first one alone;
#  and through all of it, a [Peer] Address is never leased to another client,
#  also not one fixed by a reload while another client holds it.
#
#            hub (192.0.2.0/24)
#     srv .1        help .12        nat .21 -- alice 198.51.100.2 (behind NAT)
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice help
lm_hub
lm_public srv 192.0.2.1
lm_public h 192.0.2.12
lm_nat nat 192.0.2.21 198.51.100.1/26
lm_behind a nat 198.51.100.2/26 198.51.100.1
lm_server_conf server subnet relay "NatKeepalive = 30" "User = nobody" "[Peer]" "Name = alice" \
    "[Peer]" "Name = branch" "Address = 198.18.0.3"
lm_client_conf alice 192.0.2.1 "NatKeepalive = 1"
lm_client_conf help 192.0.2.1
lm_start srv server
lm_wait 10 test -S "$T/run-server/server.sock" || die "no control socket"
lm_start a alice; lm_wait_up a alice
lm_start h help; lm_wait_up h help

# ---- 0. Fixed addresses --------------------------------------------------------------
# branch (never connected) has .3: alice gets .2, help the next free one.
A=$(lm_ctl a alice -j link show | jq -r .address); H=$(lm_ctl h help -j link show | jq -r .address)
[ "$A" = 198.18.0.2 ] && [ "$H" = 198.18.0.4 ] || die "alice $A, help $H: branch's fixed 198.18.0.3 was leased?"
pass "the fixed 198.18.0.3 of branch is not leased to the second client ($H)"

# ---- 1. Socket group -------------------------------------------------------------
group=$(stat -c %G "$T/run-server/server.sock")
want=$(id -gn nobody)
[ "$group" = "$want" ] || die "control socket group is $group, not $want (User = nobody's primary group)"
pass "control socket group is User's primary group ($want)"

# ---- 2. NatKeepalive: the client's 1 s beats the server's 30 s ------------------
[ "$(lm_json a alice .behind_nat)" = true ] || die "alice does not see the NAT"
[ "$(lm_ctl a alice -j link show | jq -r .nat_keepalive)" = 1 ] ||
    die "alice's link show: nat_keepalive $(lm_ctl a alice -j link show | jq -r .nat_keepalive), not 1"
S=$(lm_ctl srv server -j link show | jq -r .address)
lm_ping a "$S" || die "alice -> server"     # the server has answered: no more registrations
sleep 1
# One-byte UDP datagrams (RFC 3948 NAT keepalives) from alice's NAT, 4 s.
n srv timeout 4 tcpdump -lni wan "udp and src host 192.0.2.21" >"$T/natka.txt" 2>&1
k=$(grep -c 'nat-keep-alive' "$T/natka.txt")
[ "$k" -ge 2 ] && [ "$k" -le 8 ] ||
    die "server got $k NAT keepalives from alice in 4 s (her NatKeepalive = 1: one a second)"
pass "client's NatKeepalive 1 applies over the server's 30 ($k keepalives in 4 s)"

# ---- 3. A client called "help" ----------------------------------------------------
# First a reload fixes help's current address for carol: help keeps it while
# connected, and gets another when it comes back after the `peer del` below.
printf '[Peer]\nName = carol\nAddress = %s\n' "$H" >>"$T/server.conf"
lm_ctl srv server reload >/dev/null || die "reload with carol's fixed address"
out=$(lm_ctl srv server -j peer show help) || die "peer show help failed: $out"
[ "$(echo "$out" | jq -r '.[0].name')" = help ] || die "peer show help: $out"
out=$(lm_ctl srv server -j peer del help) || die "peer del help failed: $out"
[ "$(echo "$out" | jq -r .deleted)" = help ] || die "peer del help did not delete: $out"
lm_wait 10 grep -q 'help.*deleted by the administrator' "$T/server.log" || die "help was not cut"
pass "a client called help is shown and deleted by name"

# ---- 4. route add via an unknown peer ----------------------------------------------
out=$(lm_ctl srv server route add 198.19.7.0/24 via alcie 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q 'no peer "alcie" is configured or connected' ||
    die "route add via a typo: exit $rc, $out"
lm_ctl srv server -j route show | jq -e 'map(.prefix) | index("198.19.7.0/24") == null' >/dev/null ||
    die "the refused route is listed"
lm_ctl srv server route add 198.19.7.0/24 via alice || die "route add via a configured peer"
lm_wait_up h help 20
H2=$(lm_ctl h help -j link show | jq -r .address)
[ "$H2" = 198.18.0.5 ] || die "help came back with $H2, not the next free address (198.18.0.4 is carol's since the reload)"
lm_ctl srv server -j lease show | jq -e --arg h "$H" 'map(select(.address == $h)) | length == 0' >/dev/null ||
    die "carol's fixed $H is still leased: $(lm_ctl srv server -j lease show)"
pass "an address fixed by a reload left help's lease when help disconnected ($H -> $H2)"
lm_ctl srv server route add 198.19.8.0/24 via help || die "route add via a connected peer"
lm_ctl srv server route add 198.19.9.0/24 via later -force || die "route add -force"
for p in 198.19.7.0/24 198.19.8.0/24 198.19.9.0/24; do lm_ctl srv server route del $p || die "route del $p"; done
pass "route add: unknown peer refused, configured/connected accepted, -force overrides"

# ---- 5. Idle callers cannot lock root out -------------------------------------------
# A child as nobody (in the socket's group) opens idle connections until the
# daemon answers one with "daemon busy"; while it holds them, root's lanmesh
# must work and nobody's must say busy.  Then the idle ones must be cut
# within the request timeout (1 s, at most 3 s here; it was 5 s).
idle_test() {
    n srv python3 - "$T/run-server/server.sock" "$LANMESH" "$T/run-server" \
        "$(stat -c %g "$T/run-server/server.sock")" <<'PY'
import os, select, socket, subprocess, sys, time
path, lanmesh, rundir, group = sys.argv[1:5]
r1, w1 = os.pipe(); r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r1); os.close(w2)
    os.setgroups([int(group)]); os.setgid(65534); os.setuid(65534)
    # All at once (a connection waits at most 1 s for its request), then
    # see which ones the daemon answered.
    t0 = time.monotonic()
    conns = []
    for _ in range(80):
        s = socket.socket(socket.AF_UNIX); s.connect(path); conns.append(s)
    time.sleep(0.2)
    held, busy = [], False
    for s in conns:
        rd, _, _ = select.select([s], [], [], 0)
        if rd:
            busy = busy or b"daemon busy" in s.recv(200)
            s.close()
        else:
            held.append(s)
    os.write(w1, f"{len(held)} {int(busy)}\n".encode())
    os.read(r2, 10)
    still = 0
    for s in held:
        try:
            s.setblocking(False); d = s.recv(1)
            still += 0 if d == b"" else 1
        except BlockingIOError:
            still += 1
        except OSError:
            pass
    # How long until the daemon cut the first one?
    s = held[0]; s.setblocking(True); s.settimeout(10)
    try:
        s.recv(1)
    except OSError:
        pass
    cut = time.monotonic() - t0
    os.write(w1, f"{still} {cut:.2f}\n".encode())
    os._exit(0)
os.close(w1); os.close(r2)
def from_child():
    words = os.read(r1, 100).decode().split()
    if len(words) != 2:
        os.waitpid(pid, 0)
        sys.exit("the child as nobody failed")
    return words
held, busy = from_child()
root = subprocess.run([lanmesh, "-R", rundir, "-n", "server", "-j", "link", "show"], capture_output=True, text=True)
other = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--groups=" + group, lanmesh, "-R", rundir,
                        "-n", "server", "link", "show"], capture_output=True, text=True)
os.write(w2, b"go\n")
still, cut = from_child()
os.waitpid(pid, 0)
print(f"held={held} busy={busy} root_rc={root.returncode} root_err={root.stderr.strip()!r} "
      f"other_rc={other.returncode} other_err={other.stderr.strip()!r} still={still} cut={cut}")
PY
}
ok=
for try in 1 2 3; do
    res=$(idle_test) || die "idle test crashed: $res"
    log "try $try: $res"
    eval "$(echo "$res" | sed -n 's/^\(held=[0-9]*\) \(busy=[01]\) \(root_rc=[0-9]*\) .*\(other_rc=[0-9]*\) .*\(still=[0-9]*\) \(cut=[0-9.]*\)$/\1 \2 \3 \4 \5 \6/p')"
    [ "${busy:-0}" = 1 ] || die "the connection over the limit did not hear \"daemon busy\": $res"
    [ "${root_rc:-1}" = 0 ] || die "root's lanmesh failed while idle callers held the socket: $res"
    [ "${other_rc:-0}" = 1 ] && echo "$res" | grep -q "other_err='lanmesh: daemon busy, try again'" ||
        die "nobody's lanmesh over the limit: $res"
    # Conclusive only if the idle connections were all still open when
    # root got in (a stalled machine may have let them time out first).
    if [ "${still:-0}" = "${held:-x}" ]; then ok=1; break; fi
done
[ -n "$ok" ] || die "the idle connections were never all open at once when root asked"
awk "BEGIN { exit !($cut < 3) }" || die "an idle caller was cut only after $cut s"
pass "$held idle callers: root still gets in, the next caller hears 'daemon busy', idle ones cut after ${cut}s"

# ---- 6. A second daemon for the same network, or on the same device -----------------
q0=$(n srv ip -d link show lm-server | grep -o 'numqueues [0-9]*')
port0=$(n srv ss -Hlnu | grep -c .)
n srv timeout 20 "$LANMESHD" -c "$T/server.conf" server >"$T/second.log" 2>&1 & sp=$!
PIDS+=($sp)
wait $sp; rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || die "a second lanmeshd server started (exit $rc)"
grep -q 'lanmeshd for network server is already running' "$T/second.log" ||
    die "second daemon: no clear message: $(cat "$T/second.log")"
[ -S "$T/run-server/server.sock" ] || die "the second daemon removed the first one's control socket"
lm_ctl srv server -j link show >/dev/null || die "the first daemon no longer answers lanmesh"
[ "$(n srv ip -d link show lm-server | grep -o 'numqueues [0-9]*')" = "$q0" ] || die "the device's queues changed"
[ "$(n srv ss -Hlnu | grep -c .)" = "$port0" ] || die "the second daemon left a UDP socket"
# Another network name (its own lock and socket) on the same device.
sed -e "s|run-server|run-other|; s|state-server|state-other|" -e '/^\[Network\]/a Device = lm-server' \
    "$T/server.conf" >"$T/other.conf"
n srv timeout 20 "$LANMESHD" -c "$T/other.conf" other >"$T/other.log" 2>&1 & sp=$!
PIDS+=($sp)
wait $sp; rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || die "a daemon of another network started on lm-server (exit $rc)"
grep -q 'device lm-server is in use' "$T/other.log" || die "other network: no clear message: $(cat "$T/other.log")"
[ "$(n srv ip -d link show lm-server | grep -o 'numqueues [0-9]*')" = "$q0" ] || die "the device's queues changed"
lm_is_up a alice || die "alice lost her session"
lm_ctl srv server reload >/dev/null || die "reload no longer reaches the first daemon"
grep -q 'alice disconnected' "$T/server.log" && die "alice's session flapped"
pass "a second daemon (same network, or same device) refuses to start and changes nothing"

# A crashed daemon leaves a stale socket and lock file: the next start takes both.
kill -KILL "${DPID[alice]}"; wait "${DPID[alice]}" 2>/dev/null
[ -S "$T/run-alice/alice.sock" ] || die "no stale socket to test with"
lm_start a alice; lm_wait_up a alice 30
pass "after a crash the stale socket and lock are taken over"

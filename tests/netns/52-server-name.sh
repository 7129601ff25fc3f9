#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Server = a host name (issue 10, item 6): the client resolves it when it
# connects (here through the namespace's own /etc/hosts, which `ip netns
# exec` bind-mounts from /etc/netns/NS/hosts), tries its addresses in order
# and logs which one failed, and resolves it again when it reconnects, so a
# server that moved is found at its new address.  --check-config checks the
# name's syntax only.
source "$(dirname "$0")/lib.sh"

HOSTS_DIR=/etc/netns/$P-a
# Ours alone (the prefix is this run's), removed before lib.sh cleans up.
trap 'rc=$?; rm -rf "$HOSTS_DIR"; (exit $rc); cleanup' EXIT

lm_pki_init
lm_pki_certs server alice
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
mkdir -p "$HOSTS_DIR"
# 192.0.2.10 is on the segment but nobody has it: connecting there fails.
# The resolver sorts it first (RFC 6724 rule 9: the longer prefix shared
# with our 192.0.2.11).
printf '127.0.0.1 localhost\n192.0.2.10 vpn.example\n192.0.2.1 vpn.example\n' > "$HOSTS_DIR/hosts"
n a getent ahostsv4 vpn.example > "$T/getent.out" || die "vpn.example does not resolve in the namespace"
order=$(awk '$2 == "STREAM" { print $1 }' "$T/getent.out" | paste -sd ' ')
log "vpn.example resolves to: $order"
first=${order%% *}

lm_server_conf server subnet relay
lm_client_conf alice vpn.example
sed 's/^Server = .*/Server = nosuch.invalid:4443/' "$T/alice.conf" > "$T/nobody.conf"
out=$("$LANMESHD" --check-config -c "$T/nobody.conf" alice 2>&1) ||
    die "--check-config resolved the name (or refused a good one): $out"
bad=$(sed 's/^Server = .*/Server = vpn..example/' "$T/alice.conf")
echo "$bad" > "$T/bad.conf"
out=$("$LANMESHD" --check-config -c "$T/bad.conf" alice 2>&1) && die "--check-config passed Server = vpn..example"
echo "$out" | grep -q "bad Server 'vpn..example'" || die "unclear error for a bad name: $out"
pass "--check-config checks the syntax of a server name, not its resolution"

lm_start srv server
lm_start a alice
lm_wait_up a alice 25
lm_ping a 198.18.0.1 || die "alice -> server through the tunnel"
grep -q "server name vpn.example resolved to $(echo "$order" | sed 's/ /, /g')" "$T/alice.log" ||
    die "the log does not say what vpn.example resolved to"
[ "$first" = 192.0.2.10 ] || die "the resolver put $first first: this test needs the dead address first"
grep -q "connect 192.0.2.10:4500 (vpn.example): .*trying 192.0.2.1:4500 next" "$T/alice.log" ||
    die "the log does not say which address failed"
pass "alice tried 192.0.2.10 (no answer), then 192.0.2.1: $(grep -m1 'trying 192.0.2.1' "$T/alice.log" | cut -d' ' -f4-)"
grep -q "connected to 192.0.2.1:4500 (vpn.example)" "$T/alice.log" || die "alice did not say where she connected"
# No NAT on either side: raw ESP stays in alice's ladder.  The address the
# server reports is compared with the one the name resolved to, not with the
# name.
grep -q "the server is behind a NAT" "$T/alice.log" && die "alice took the server for one behind a NAT: $(grep -m1 'behind a NAT' "$T/alice.log")"
on_udp() { [ "$(lm_ctl a alice -j link show | jq -r '"\(.data_path) \(.data_path_state)"')" = "udp carrying" ]; }
lm_wait 10 on_udp || die "alice is on $(lm_ctl a alice -j link show | jq -c '{encapsulation, data_path, data_path_state}'), expected ESP in UDP carrying"
pass "alice found the server by name: $(grep -m1 'resolved to' "$T/alice.log" | cut -d' ' -f4-)"

# The server moves to 192.0.2.2 and its name with it; alice finds it there
# when she reconnects.
printf '127.0.0.1 localhost\n192.0.2.2 vpn.example\n' > "$HOSTS_DIR/hosts"
lm_stop server
n srv ip addr del 192.0.2.1/24 dev wan
n srv ip addr add 192.0.2.2/24 dev wan
lm_start srv server
lm_wait 40 eval 'grep -q "connected to 192.0.2.2:4500 (vpn.example)" "$T/alice.log"' ||
    die "alice did not find the server at its new address"
lm_wait_up a alice 10
lm_ping a 198.18.0.1 || die "alice -> server after it moved"
grep -q "server name vpn.example resolved to 192.0.2.2" "$T/alice.log" || die "no log line for the new answer"
pass "alice resolved vpn.example again on reconnecting and found the server at 192.0.2.2"

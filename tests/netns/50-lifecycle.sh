#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lifecycle: a restarted server gets its clients back with the same
# addresses (lease file); keepalives detect a dead peer on either side and
# the client reconnects with backoff; a persistent single-queue device is
# used as it is, whatever the number of workers.
source "$(dirname "$0")/lib.sh"

lm_pki_init
lm_pki_certs server alice bob carol
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_nat nat1 192.0.2.21 198.51.100.1/26
lm_behind b nat1 198.51.100.2/26 198.51.100.1
lm_server_conf server subnet relay
lm_client_conf alice 192.0.2.1
lm_client_conf bob 192.0.2.1
lm_start srv server
lm_start a alice; lm_wait_up a alice
lm_start b bob; lm_wait_up b bob
A=$(lm_json a alice .address); B=$(lm_json b bob .address); B6=$(lm_json b bob .address6)
log "alice $A, bob $B $B6"

# 1. Server restart: both come back by themselves, with the same addresses.
lm_stop server
lm_wait 10 grep -q 'disconnected: server said bye' "$T/alice.log" || die "alice did not notice the server leaving"
lm_start srv server
lm_wait_up a alice 40
lm_wait_up b bob 40
[ "$(lm_json a alice .address)" = "$A" ] || die "alice changed address"
[ "$(lm_json b bob .address)" = "$B" ] && [ "$(lm_json b bob .address6)" = "$B6" ] || die "bob changed address"
lm_ping a "$B" || die "alice -> bob after the restart"
pass "server restart: clients reconnected with the same addresses ($A, $B, $B6)"

# 2. A frozen client is detected by the server's keepalive (Keepalive = 2 10).
kill -STOP "${DPID[bob]}"
lm_wait 20 grep -q 'bob disconnected: keepalive timeout' "$T/server.log" || die "server did not time bob out"
kill -CONT "${DPID[bob]}"
lm_wait_up b bob 40
[ "$(lm_json b bob .address)" = "$B" ] || die "bob changed address after the timeout"
lm_ping b 198.18.0.1 || die "bob -> server after reconnecting"
pass "frozen client timed out by the server, reconnected with the same address"

# 3. A frozen server is detected by the client's keepalive.
kill -STOP "${DPID[server]}"
lm_wait 20 grep -q 'disconnected: keepalive timeout' "$T/alice.log" || { kill -CONT "${DPID[server]}"; die "alice did not time the server out"; }
kill -CONT "${DPID[server]}"
lm_wait_up a alice 40
lm_ping a 198.18.0.1 || die "alice -> server after the server thawed"
pass "frozen server timed out by the client, which came back with backoff"
grep -qE 'reconnecting in [0-9.]+ s' "$T/alice.log" || die "no backoff in alice's log"

# 4. A persistent device from `ip tuntap add` without multi_queue, with two
# workers: the client takes it as it is (one queue, read by the first
# worker), carries traffic, and leaves the device behind when it stops.
lm_public c 192.0.2.12
n c ip tuntap add dev lm-persist mode tun
lm_client_conf carol 192.0.2.1 "Device = lm-persist" "Workers = 2"
lm_start c carol; lm_wait_up c carol
grep -q 'lm-persist has a single queue' "$T/carol.log" || die "no warning about the single-queue device"
[ "$(lm_json c carol '.workers | length')" = 2 ] || die "carol: not two workers"
lm_ping c 198.18.0.1 || die "carol -> server over the single-queue device"
lm_stop carol
n c ip link show lm-persist >/dev/null 2>&1 || die "the persistent device went away with the daemon"
n c ip link del lm-persist
pass "persistent single-queue device used by two workers, and left in place"

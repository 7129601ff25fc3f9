#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The registry's etcd client and the shared leases (src/registry/) against a
# real etcd 3.4 in a namespace: keys, transactions, leases, an unreachable
# member skipped, and two servers admitting 48 nodes at once from one pool
# without handing out an address twice (tests/unit/test_registry.cc,
# EtcdLive.*: they skip without LM_ETCD, so here none may be skipped).
source "$(dirname "$0")/lib.sh"

# etcd from Debian's etcd-server package, unpacked into a cache rather than
# installed: installing it would enable and start an etcd on the machine.
ETCD_CACHE=/var/cache/lanmesh-test/etcd-server
ETCD=$(command -v etcd || true)
if [ -z "$ETCD" ]; then
    ETCD=$ETCD_CACHE/usr/bin/etcd
    if [ ! -x "$ETCD" ]; then
        mkdir -p "$T/deb" "$ETCD_CACHE"
        (cd "$T/deb" && apt-get download etcd-server >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get download etcd-server >/dev/null; }) ||
            die "cannot download Debian's etcd-server package"
        dpkg-deb -x "$T"/deb/etcd-server_*.deb "$ETCD_CACHE" || die "cannot unpack etcd-server"
    fi
fi
[ -x "$ETCD" ] || die "no etcd binary at $ETCD"
UNIT=${UNIT_TESTS:-$ROOT/build/release/unit-tests}
[ -x "$UNIT" ] || die "no $UNIT: build it with make unit-tests"

lm_ns reg
n reg ip addr add 192.0.2.9/32 dev lo
ip netns exec "$P-reg" "$ETCD" --name reg --data-dir "$T/etcd" \
    --listen-client-urls http://192.0.2.9:2379 --advertise-client-urls http://192.0.2.9:2379 \
    --listen-peer-urls http://192.0.2.9:2380 --initial-advertise-peer-urls http://192.0.2.9:2380 \
    --initial-cluster reg=http://192.0.2.9:2380 >"$T/etcd.log" 2>&1 &
PIDS+=($!)
etcd_up() { n reg curl -sf -m 1 -X POST http://192.0.2.9:2379/v3/kv/range -d '{"key":"AA=="}'; }
lm_wait 20 etcd_up || die "etcd did not answer within 20 s: $(tail -n 5 "$T/etcd.log")"
pass "etcd 3.4 up at 192.0.2.9:2379"

out=$(n reg env LM_ETCD=http://192.0.2.9:2379 "$UNIT" --gtest_filter='EtcdLive.*' 2>&1)
echo "$out" | grep -E '^\[ +(OK|FAILED|SKIPPED) +\]'
passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out")
grep -q SKIPPED <<<"$out" && die "an EtcdLive test was skipped with LM_ETCD set"
grep -q '^\[  FAILED  \]' <<<"$out" && die "EtcdLive tests failed"
[ "${passed:-0}" -ge 4 ] || die "expected at least 4 EtcdLive tests to pass, got ${passed:-0}"
pass "$passed EtcdLive tests passed against etcd"

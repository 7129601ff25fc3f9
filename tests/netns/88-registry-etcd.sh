#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The registry's etcd client and the shared leases (src/registry/) against a
# real etcd 3.4 in a namespace: keys, transactions, leases, an unreachable
# member skipped, and two servers admitting 48 nodes at once from one pool
# without handing out an address twice (tests/unit/test_registry.cc,
# EtcdLive.*: they skip without LM_ETCD, so here none may be skipped).
source "$(dirname "$0")/lib.sh"

UNIT=${UNIT_TESTS:-$ROOT/build/release/unit-tests}
[ -x "$UNIT" ] || die "no $UNIT: build it with make unit-tests"

lm_ns reg
n reg ip addr add 192.0.2.9/32 dev lo
lm_etcd reg 192.0.2.9
pass "etcd 3.4 up at 192.0.2.9:2379"

out=$(n reg env LM_ETCD=http://192.0.2.9:2379 "$UNIT" --gtest_filter='EtcdLive.*' 2>&1)
echo "$out" | grep -E '^\[ +(OK|FAILED|SKIPPED) +\]'
passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out")
grep -q SKIPPED <<<"$out" && die "an EtcdLive test was skipped with LM_ETCD set"
grep -q '^\[  FAILED  \]' <<<"$out" && die "EtcdLive tests failed"
[ "${passed:-0}" -ge 5 ] || die "expected at least 5 EtcdLive tests to pass, got ${passed:-0}"
pass "$passed EtcdLive tests passed against etcd"

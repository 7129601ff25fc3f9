#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 200 nodes admitted at once by two servers sharing their leases in etcd
# ([Registry], docs/DESIGN.md §11): every node comes up, and no address is
# handed out twice -- neither in etcd (addr/ and node/ agree, one holder per
# address) nor on the nodes themselves (every TUN device's IPv4 and IPv6
# address, read with ip addr).  Real daemons: 100 per server, spread over 8
# source addresses (25 each, inside a server's per-source limit of 32
# pending handshakes).  About 40 s.
source "$(dirname "$0")/lib.sh"

N=200
NSG=(ga gb gc gd ge gf gg gh)
names=()
for i in $(seq -f '%03g' 1 $N); do names+=("c$i"); done

lm_pki_init
lm_pki_certs server "${names[@]}"
lm_registry_hub "${NSG[@]}"
lm_registry_servers relay
lm_registry_start
pass "etcd, srva and srvb up; $N client certificates"

# Odd nodes on srva, even ones on srvb; node k in group k mod 8.
k=0
for c in "${names[@]}"; do
    lm_client_conf "$c" "192.0.2.$((k % 2 + 1))"
    k=$((k + 1))
done
t0=$SECONDS
k=0
for c in "${names[@]}"; do
    lm_start "${NSG[$((k % 8))]}" "$c"
    k=$((k + 1))
done
up() { [ "$(grep -l '^.*info: connected to ' "$T"/c[0-9][0-9][0-9].log 2>/dev/null | wc -l)" -eq $N ]; }
lm_wait 120 up || die "$(grep -L 'info: connected to ' "$T"/c[0-9][0-9][0-9].log | wc -l) of $N nodes not up after $((SECONDS - t0)) s; one of them: $(tail -n 3 "$(grep -L 'info: connected to ' "$T"/c[0-9][0-9][0-9].log | head -1)")"
pass "$N nodes admitted by two servers at once, all up after $((SECONDS - t0)) s"

# What the nodes hold: every lm-* device's addresses, in every group.
: > "$T/v4"; : > "$T/v6"
for g in "${NSG[@]}"; do
    n "$g" ip -o -4 addr show | awk '$2 ~ /^lm-c/ {sub("/.*", "", $4); print $2, $4}' >> "$T/v4"
    n "$g" ip -o -6 addr show scope global | awk '$2 ~ /^lm-c/ {sub("/.*", "", $4); print $2, $4}' >> "$T/v6"
done
[ "$(wc -l < "$T/v4")" -eq $N ] || die "$(wc -l < "$T/v4") IPv4 addresses on $N nodes' devices"
[ "$(wc -l < "$T/v6")" -eq $N ] || die "$(wc -l < "$T/v6") IPv6 addresses on $N nodes' devices"
dup4=$(awk '{print $2}' "$T/v4" | sort | uniq -d | head -3)
dup6=$(awk '{print $2}' "$T/v6" | sort | uniq -d | head -3)
[ -z "$dup4" ] || die "IPv4 addresses held by two nodes: $dup4 ($(grep -F -w "$(echo "$dup4" | head -1)" "$T/v4" | tr '\n' ' '))"
[ -z "$dup6" ] || die "IPv6 addresses held by two nodes: $dup6"
awk '{print $2}' "$T/v4" | grep -qvE '^198\.18\.0\.([2-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-4])$' &&
    die "an address outside the pool: $(awk '{print $2}' "$T/v4" | grep -vE '^198\.18\.0\.' | head -1)"
pass "ip addr: $N distinct IPv4 and $N distinct IPv6 addresses on the nodes"

# etcd: one holder per address, and addr/ and node/ agree with what each
# node's device carries.
lm_etcd_call reg 192.0.2.9 range "$(jq -nc --arg k "$(printf %s /lanmesh/test/ | base64 -w0)" \
    --arg e "$(printf %s /lanmesh/test0 | base64 -w0)" '{key: $k, range_end: $e}')" |
    jq -r '.kvs[] | [(.key | @base64d), (.value | @base64d)] | @tsv' > "$T/etcd"
grep -c '^/lanmesh/test/addr/' "$T/etcd" | grep -qx $N || die "$(grep -c '^/lanmesh/test/addr/' "$T/etcd") addr/ keys in etcd for $N nodes"
bad=0
while read -r dev addr; do
    name=${dev#lm-}
    holder=$(awk -F'\t' -v k="/lanmesh/test/addr/$addr" '$1 == k {print $2}' "$T/etcd")
    leased=$(awk -F'\t' -v k="/lanmesh/test/node/$name" '$1 == k {print $2}' "$T/etcd")
    if [ "$holder" != "$name" ] || [ "$leased" != "$addr" ]; then
        bad=$((bad + 1))
        [ $bad -le 3 ] && log "mismatch: $name has $addr; etcd addr/$addr -> '$holder', node/$name -> '$leased'"
    fi
done < "$T/v4"
[ $bad -eq 0 ] || die "$bad nodes whose address etcd records otherwise"
online=$(grep -c '^/lanmesh/test/online/c' "$T/etcd")
[ "$online" -eq $N ] || die "$online nodes online in etcd, want $N"
on_a=$(awk -F'\t' '$1 ~ /^\/lanmesh\/test\/online\/c/ && $2 == "srva"' "$T/etcd" | wc -l)
[ "$on_a" -eq $((N / 2)) ] || die "$on_a nodes online at srva, want $((N / 2))"
pass "etcd: $N addr/ keys, each held by the node whose device carries it; $on_a online at srva, $((online - on_a)) at srvb"

# The servers agree: each lists its 100, and a node reaches its server.
[ "$(lm_ctl sa srva -j peer show | jq length)" -eq $((N / 2)) ] || die "srva lists $(lm_ctl sa srva -j peer show | jq length) peers"
[ "$(lm_ctl sb srvb -j peer show | jq length)" -eq $((N / 2)) ] || die "srvb lists $(lm_ctl sb srvb -j peer show | jq length) peers"
n ga ping -q -c 2 -W 2 -I lm-c001 198.18.0.1 >/dev/null || die "c001 cannot reach its server"
pass "srva and srvb each hold $((N / 2)) sessions; c001 pings srva"

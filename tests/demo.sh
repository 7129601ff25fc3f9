#!/usr/bin/env bash
# make demo: lanmesh for real, in network namespaces.  A server on the
# public segment, alice next to it, bob behind a NAT; certificates from the
# openssl command; real TUN devices, real ESP.  Everything is removed at the end.
LM_QUIET=1
source "$(dirname "$0")/netns/lib.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Making a CA and certificates for server, alice and bob (openssl)"
lm_pki_init
lm_pki_cert server server
lm_pki_cert alice client
lm_pki_cert bob client
ls "$PKI"/*.crt | sed 's|.*/|  |'

say "Building a little internet: public segment 192.0.2.0/24, bob behind a NAT (198.51.100.0/26)"
lm_hub
lm_public srv 192.0.2.1
lm_public a 192.0.2.11
lm_nat nat1 192.0.2.21 198.51.100.1/26
lm_behind b nat1 198.51.100.2/26 198.51.100.1
lm_server_conf server subnet relay
lm_client_conf alice 192.0.2.1
lm_client_conf bob 192.0.2.1
echo "  server config:"; sed 's/^/    /' "$T/server.conf" | grep -v '^\s*$'

say "Starting lanmeshd: server, then alice and bob"
lm_start srv server
lm_start a alice; lm_wait_up a alice
lm_start b bob; lm_wait_up b bob
grep -h -E 'admitted|connected to' "$T"/*.log | sed 's/^/  /'

say "Tunnel devices"
for x in srv:lm-server a:lm-alice b:lm-bob; do
    ns=${x%%:*}; dev=${x#*:}
    printf '  %-10s %s\n' "$dev" "$(n $ns ip -br addr show dev $dev | awk '{$1=$2=""; print}')"
done

say "Pings across the tunnel"
for p in "a 198.18.0.1 alice->server" "b 198.18.0.1 bob->server" "a 198.18.0.3 alice->bob (relayed by the server)" "b 2001:db8:1::1000 bob->alice over IPv6"; do
    set -- $p
    ns=$1 dst=$2; shift 2
    printf '  %-40s ' "$*"
    n $ns ping -n -c 3 -i 0.2 -W 2 "$dst" | tail -1
done

say "What the server sees (lanmesh link show, lanmesh peer show)"
lm_ctl srv server link show | sed 's/^/  /'
echo
lm_ctl srv server peer show | sed 's/^/  /'
echo "  relayed between clients: $(lm_ctl srv server -j -s link show | jq -r .counters.relayed) packets"

say "Stopping; every device, address and route goes with the daemons"
for d in bob alice server; do lm_stop $d; done
echo "  done."

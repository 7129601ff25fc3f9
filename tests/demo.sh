#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: lanmesh for real, in network namespaces.  A server on the
# public internet, alice and bob each behind their own NAT; certificates from
# the openssl command; real TUN devices, real ESP.  The first packets between
# alice and bob go through the server, then the two punch a direct path
# through their NATs.  Everything is removed at the end.  The configuration
# files are examples/mesh/*.conf as a user writes them: only the paths (to
# the demo's certificates and directories) and the server's address change.
LM_QUIET=1
source "$(dirname "$0")/netns/lib.sh"

# Bold headings on a terminal only: no escape codes in a log file.
if [ -t 1 ]; then say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else say() { printf '\n== %s\n' "$*"; }
fi

# The one-screen summary at the end: what was shown, and whether it worked.
SUMMARY=()
shown() {   # shown OK|FAILED TEXT
    SUMMARY+=("$(printf '  %-7s %s' "$1" "$2")")
}

# demo_conf EXAMPLE NAME: examples/mesh/EXAMPLE.conf as $T/NAME.conf, with the
# demo's certificate paths, server address and private directories.
demo_conf() {
    sed -e "s|/etc/lanmesh/lab/|$PKI/|" -e "s|^Server = 203.0.113.1$|Server = 192.0.2.1|" \
        -e "/^Role = /a StateDirectory = $T/state-$2\nRuntimeDirectory = $T/run-$2" \
        "$(dirname "$0")/../examples/mesh/$1.conf" > "$T/$2.conf"
}

say "Making a CA and certificates for server, alice and bob (openssl)"
lm_pki_init
lm_pki_cert server server
lm_pki_cert alice client
lm_pki_cert bob client
ls "$PKI"/*.crt | sed 's|.*/|  |'

say "Building a little internet: the server at 192.0.2.1, alice and bob behind two NATs"
lm_internet
lm_isp_nat natA 203.0.113.1/26 203.0.113.62/26 198.51.100.1/26
lm_isp_nat natB 203.0.113.65/26 203.0.113.126/26 198.51.100.65/26
lm_behind a natA 198.51.100.2/26 198.51.100.1
lm_behind b natB 198.51.100.66/26 198.51.100.65
lm_pki_crl
demo_conf server server
demo_conf alice alice
demo_conf bob bob
echo "  server config (examples/mesh/server.conf):"; grep -v -e '^\s*$' -e '^#' "$T/server.conf" | sed 's/^/    /'

say "Starting lanmeshd: the server, then alice and bob"
lm_start srv server
lm_start a alice; lm_wait_up a alice
lm_start b bob; lm_wait_up b bob
grep -h -E 'admitted|connected to' "$T"/*.log | sed 's/^/  /'
shown OK "a server and two clients from examples/mesh, certificates from openssl"

say "Tunnel devices"
for x in srv:lm-server a:lm-alice b:lm-bob; do
    ns=${x%%:*}; dev=${x#*:}
    printf '  %-10s %s\n' "$dev" "$(n $ns ip -br addr show dev $dev | awk '{$1=$2=""; print}')"
done

say "Pings across the tunnel"
for p in "a 198.18.2.1 alice->server" "b 198.18.2.1 bob->server" \
         "a 198.18.2.3 alice->bob (first packets through the server)" "b 2001:db8:2::1000 bob->alice over IPv6"; do
    set -- $p
    ns=$1 dst=$2; shift 2
    printf '  %-58s ' "$*"
    if out=$(n $ns ping -n -c 3 -i 0.2 -W 2 "$dst"); then shown OK "ping $*"; else shown FAILED "ping $*"; fi
    echo "$out" | tail -1
done

say "alice and bob punch through their NATs (lanmesh peer show, on alice)"
if lm_wait 10 eval '[ "$(lm_json a alice ".pairs[0].path")" = direct ]'; then
    shown OK "alice and bob punched a direct path through two NATs"
else
    echo "  (no direct path yet)"; shown FAILED "alice and bob punched a direct path through two NATs"
fi
lm_ctl a alice peer show | sed 's/^/  /'
printf '  %-58s ' "alice->bob now"
if out=$(n a ping -n -c 3 -i 0.2 -W 2 198.18.2.3); then shown OK "ping alice->bob on the direct path"; else shown FAILED "ping alice->bob on the direct path"; fi
echo "$out" | tail -1

say "What the server sees (lanmesh link show, lanmesh peer show)"
lm_ctl srv server link show | sed 's/^/  /'
echo
lm_ctl srv server peer show | sed 's/^/  /'

say "Stopping; every device, address and route goes with the daemons"
for d in bob alice server; do lm_stop $d; done
if n srv ip link show lm-server >/dev/null 2>&1; then shown FAILED "stopping removed the devices"
else shown OK "stopping removed every device, address and route"; fi
echo "  done."

say "Summary: what the demo showed"
printf '%s\n' "${SUMMARY[@]}"
echo "  Configs: examples/mesh/*.conf; man lanmesh.conf(5), lanmesh(8); docs/admin-guide.md"
case "${SUMMARY[*]}" in *FAILED*) exit 1 ;; esac
exit 0

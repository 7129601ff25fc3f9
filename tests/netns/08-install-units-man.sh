#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The files that make lanmesh an installable system service, checked without
# namespaces or a running systemd:
#   - make install / make uninstall into a DESTDIR, for PREFIX=/usr and the
#     default /usr/local: everything lands where it should, and uninstall
#     leaves no file behind;
#   - the installed unit: paths substituted, `systemd-analyze verify` silent,
#     `systemd-analyze security` exposure still "OK";
#   - the sysusers.d and tmpfiles.d snippets applied to an empty root; the
#     rt_protos.d name matches the protocol number the daemon uses;
#   - lanmeshd(8), lanmesh(8), lanmesh.conf(5): no warning from groff or
#     mandoc, the usual sections, every option of `lanmeshd --help`;
#   - examples/: every *.conf passes `lanmeshd --check-config` with throwaway
#     certificates, clients name their server's certificate, and the PKI.md
#     recipes (easy-rsa and openssl) run as written and make files the daemon
#     accepts;
#   - examples and man pages use documentation addresses only.
source "$(dirname "$0")/lib.sh"

# Install with the same build the tests use, so nothing is rebuilt.
san=
case $(readlink "$ROOT/lanmeshd") in build/asan/*) san=SANITIZE=1 ;; esac
mk() { make --no-print-directory -C "$ROOT" $san "$@" >"$T/make.log" 2>&1 || { cat "$T/make.log"; die "make $*"; }; }

# The files install must write below DESTDIR, PREFIX being $1.
expected() {
    local p=${1#/}
    printf '%s\n' "$p/sbin/lanmeshd" "$p/bin/lanmesh" \
        "$p/lib/systemd/system/lanmeshd@.service" \
        "$p/lib/sysusers.d/lanmesh.conf" "$p/lib/tmpfiles.d/lanmesh.conf" \
        "etc/iproute2/rt_protos.d/lanmesh.conf" \
        "$p/share/man/man5/lanmesh.conf.5" "$p/share/man/man8/lanmeshd.8" "$p/share/man/man8/lanmesh.8" \
        "$p/share/doc/lanmesh/LICENSE" "$p/share/doc/lanmesh/NEWS" \
        "$p/share/bash-completion/completions/lanmesh" "$p/share/bash-completion/completions/lanmeshd"
    (cd "$ROOT/examples" && find . -type f | sed "s|^\./|$p/share/doc/lanmesh/examples/|")
}

# ---- make install / uninstall ------------------------------------------------
for prefix in /usr/local /usr; do
    D=$T/dest$(echo "$prefix" | tr / -)
    mkdir -p "$D"
    mk install DESTDIR="$D" PREFIX="$prefix"
    got=$(cd "$D" && find . ! -type d | sed 's|^\./||' | sort)
    want=$(expected "$prefix" | sort)
    [ "$got" = "$want" ] || die "PREFIX=$prefix installs: $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"
    [ -x "$D$prefix/sbin/lanmeshd" ] && [ -x "$D$prefix/bin/lanmesh" ] || die "binaries not executable"
    unit=$D$prefix/lib/systemd/system/lanmeshd@.service
    grep -qx "ExecStart=$prefix/sbin/lanmeshd %i" "$unit" || die "PREFIX=$prefix: ExecStart is $(grep ^ExecStart= "$unit")"
    grep -qx "ExecReload=+$prefix/bin/lanmesh -n %i reload" "$unit" || die "PREFIX=$prefix: ExecReload not through lanmesh"
    grep -n '@[A-Z]*@' "$unit" && die "placeholders left in the unit"
    pass "PREFIX=$prefix: install writes the $(echo "$want" | wc -l) expected files, unit points at $prefix"
    [ "$prefix" = /usr ] && break
    mk uninstall DESTDIR="$D" PREFIX="$prefix"
    left=$(cd "$D" && find . ! -type d -o -name '*lanmesh*')
    [ -z "$left" ] || die "PREFIX=$prefix: uninstall left $left"
    pass "PREFIX=$prefix: uninstall leaves no file behind"
done

# ---- the unit ------------------------------------------------------------------
# $D and $unit are the PREFIX=/usr install.  systemd-analyze checks that each
# Exec binary exists on this machine, where lanmesh need not be installed, so
# verify a copy whose Exec paths point into DESTDIR; every one of them must
# exist there.  MANPATH lets it find the man pages of Documentation= in
# DESTDIR too.  Any message at all fails the test.
mkdir -p "$T/verify"
sed -E "s#^(Exec[A-Za-z]*=[-+@:!]*)/#\1$D/#" "$unit" > "$T/verify/lanmeshd@.service"
grep -E '^Exec[A-Za-z]*=' "$T/verify/lanmeshd@.service" | sed -E 's/^[^=]*=[-+@:!]*//; s/ .*//' | while read -r bin; do
    [[ $bin == "$D"/* && -x $bin ]] || die "unit runs $bin, which make install did not put in DESTDIR"
done || exit 1
out=$(MANPATH="$D/usr/share/man" systemd-analyze verify "$T/verify/lanmeshd@.service" 2>&1) && [ -z "$out" ] ||
    die "systemd-analyze verify: ${out:-exit status $?}"
pass "systemd-analyze verify: no message"

for want in 'Type=notify' 'User=lanmesh' 'Group=lanmesh' 'NoNewPrivileges=yes' \
    'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_BPF' 'AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW CAP_BPF' \
    'DevicePolicy=closed' 'DeviceAllow=/dev/net/tun rw' 'ProtectSystem=strict' \
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK' 'StateDirectory=lanmesh/%i' \
    'RuntimeDirectory=lanmesh' 'RuntimeDirectoryMode=2750' 'RuntimeDirectoryPreserve=yes' \
    'ConfigurationDirectory=lanmesh' 'Restart=on-failure' 'UMask=0077'; do
    grep -qxF "$want" "$unit" || die "unit lacks $want"
done
exposure=$(systemd-analyze security --offline=true "$T/verify/lanmeshd@.service" 2>&1 |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
[ -n "$exposure" ] || die "systemd-analyze security gave no exposure level"
awk -v e="$exposure" 'BEGIN { exit !(e <= 3.0) }' || die "exposure $exposure, above 3.0"
pass "hardening in place, systemd-analyze security exposure $exposure"

# ---- sysusers.d, tmpfiles.d, rt_protos.d -------------------------------------
R=$T/sysroot
mkdir -p "$R/etc"
systemd-sysusers --root="$R" "$D/usr/lib/sysusers.d/lanmesh.conf" >/dev/null 2>&1 || die "systemd-sysusers"
uid=$(awk -F: '$1 == "lanmesh" { print $3 }' "$R/etc/passwd")
gid=$(awk -F: '$1 == "lanmesh" { print $3 }' "$R/etc/group")
[ -n "$uid" ] && [ -n "$gid" ] || die "sysusers made no user and group lanmesh"
grep -q '^lanmesh:.*:/usr/sbin/nologin$' "$R/etc/passwd" || die "user lanmesh can log in"
systemd-tmpfiles --create --root="$R" "$D/usr/lib/tmpfiles.d/lanmesh.conf" >/dev/null 2>&1 || die "systemd-tmpfiles"
got=$(stat -c '%a %u %g' "$R/run/lanmesh")
[ "$got" = "2750 $uid $gid" ] || die "/run/lanmesh is '$got', want '2750 $uid $gid'"
pass "sysusers makes lanmesh:lanmesh ($uid:$gid), tmpfiles makes /run/lanmesh 2750 lanmesh:lanmesh"

proto=$(grep -oE 'kRouteProto = [0-9]+' "$ROOT/src/net/netlink.h" | grep -oE '[0-9]+$')
got=$(grep -vE '^[[:space:]]*(#|$)' "$D/etc/iproute2/rt_protos.d/lanmesh.conf" | tr -s ' \t' ' ')
[ "$got" = "$proto lanmesh" ] || die "rt_protos.d says '$got', the daemon uses protocol $proto"
pass "rt_protos.d: $got"

# ---- man pages -------------------------------------------------------------------
for page in lanmesh.conf.5 lanmeshd.8 lanmesh.8; do
    f=$ROOT/man/$page
    out=$(groff -man -ww -z "$f" 2>&1) && [ -z "$out" ] || die "groff on $page: $out"
    out=$(mandoc -Tlint "$f" 2>&1) && [ -z "$out" ] || die "mandoc -Tlint on $page: $out"
    sections=$(sed -n 's/^\.SH "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$f")
    need=(NAME SYNOPSIS DESCRIPTION EXAMPLES FILES "SEE ALSO")
    case $page in lanmeshd.8) need+=(OPTIONS SIGNALS "EXIT STATUS" ENVIRONMENT SECURITY) ;;
                  lanmesh.8) need+=(OPTIONS COMMANDS "EXIT STATUS") ;; esac
    for s in "${need[@]}"; do grep -qxF "$s" <<<"$sections" || die "$page has no $s section"; done
done
pass "man pages: groff -ww and mandoc -Tlint silent, sections present"

text=$(mandoc -Tascii -O width=500 "$ROOT/man/lanmeshd.8" | col -b)
opts=$("$LANMESHD" --help | grep -oE '(^|[ ,])--?[a-z][a-z-]*' | tr -d ' ,' | sort -u)
[ -n "$opts" ] || die "no options in lanmeshd --help"
for o in $opts; do grep -qF -- "$o" <<<"$text" || die "lanmeshd(8) does not document $o"; done
pass "lanmeshd(8) documents every option of lanmeshd --help:" $opts

# ---- examples -----------------------------------------------------------------------
# Each example names its files as /etc/lanmesh/NET/...; a copy under $T gets
# certificates made for exactly those names: the CN is the file name, server
# or client by the config's Role.
lm_user   # --check-config checks that User (default lanmesh) exists
lm_pki_init
declare -A server_cn
key() { sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" "$2" | head -1; }
check_example() {  # check_example FILE
    local f=$1 rel=${1#"$ROOT"/examples/} role cert net cn copy
    role=$(key Role "$f")
    cert=$(key Certificate "$f")
    [[ $cert == /etc/lanmesh/*/*.crt ]] || die "$rel: Certificate '$cert' is not /etc/lanmesh/NET/NAME.crt"
    net=$(basename "$(dirname "$cert")")
    cn=$(basename "$cert" .crt)
    [ -e "$PKI/$cn.crt" ] || lm_pki_cert "$cn" "$role"
    copy=$T/examples/$rel
    mkdir -p "$(dirname "$copy")"
    sed "s|/etc/lanmesh/|$T/etc/lanmesh/|" "$f" > "$copy"
    mkdir -p "$T/etc/lanmesh/$net"
    cp "$PKI/ca.crt" "$T$(key CA "$f")"
    cp "$PKI/$cn.crt" "$T$cert"
    cp "$PKI/$cn.key" "$T$(key Key "$f")"
    [ -n "$(key CRL "$f")" ] && cp "$PKI/crl.pem" "$T$(key CRL "$f")"
    out=$("$LANMESHD" --check-config -c "$copy" "$net" 2>&1) || die "$rel: $out"
    [[ $out == *"configuration OK ($role)"* ]] || die "$rel: $out"
    if [ "$role" = server ]; then
        server_cn[$net]=$cn
    else
        [ "$(key ServerName "$f")" = "${server_cn[$net]:-}" ] ||
            die "$rel: ServerName '$(key ServerName "$f")', but the server of $net has certificate '${server_cn[$net]:-}'"
    fi
    pass "$rel: network $net, $role $cn: $out"
}
mapfile -t confs < <(cd "$ROOT/examples" && find . -name '*.conf' | sed 's|^\./||' | sort)
[ ${#confs[@]} -ge 5 ] || die "examples: only ${#confs[@]} configs"
for c in "${confs[@]}"; do grep -q '^Role = server' "$ROOT/examples/$c" && check_example "$ROOT/examples/$c"; done
for c in "${confs[@]}"; do grep -q '^Role = server' "$ROOT/examples/$c" || check_example "$ROOT/examples/$c"; done

# PKI.md: run the shell blocks of each recipe as written, in a fresh HOME
# (the package is installed by `make deps`, so its apt-get line is skipped),
# then check the example configs with the files they made.
recipe() {  # recipe "SECTION TITLE": the ```sh blocks of that section
    awk -v want="$1" '/^## / { sec = substr($0, 4) } /^```/ { inb = !inb && /^```sh/; next }
        inb && sec == want' "$ROOT/examples/PKI.md" | grep -v '^apt-get '
}
for how in easy-rsa openssl; do
    H=$T/home-$how
    mkdir -p "$H"
    script=$(recipe "With $how")
    [ -n "$script" ] || die "PKI.md has no recipe 'With $how'"
    (cd "$H" && HOME=$H bash -e -c "$script") >"$T/pki-$how.log" 2>&1 || { tail -20 "$T/pki-$how.log"; die "PKI.md recipe with $how failed"; }
    d=$H/office-ca
    if [ $how = easy-rsa ]; then
        files=("$d/pki/ca.crt" "$d/pki/crl.pem" "$d/pki/issued/server.crt" "$d/pki/private/server.key"
               "$d/pki/issued/alice.crt" "$d/pki/private/alice.key")
    else
        files=("$d/ca.crt" "$d/crl.pem" "$d/server.crt" "$d/server.key" "$d/alice.crt" "$d/alice.key")
    fi
    rm -rf "$T/etc/lanmesh/office"
    mkdir -p "$T/etc/lanmesh/office"
    cp "${files[@]}" "$T/etc/lanmesh/office/" || die "PKI.md with $how: files missing"
    grep -q 'Revoked Certificates' <(openssl crl -in "$T/etc/lanmesh/office/crl.pem" -noout -text) ||
        die "PKI.md with $how: the CRL revokes nothing"
    for c in server client; do
        out=$("$LANMESHD" --check-config -c "$T/examples/$c.conf" office 2>&1) || die "PKI.md with $how, $c.conf: $out"
    done
    pass "PKI.md with $how runs as written; server.conf and client.conf accept its files"
done

# ---- documentation addresses only ------------------------------------------------
python3 - "$ROOT"/examples/*.conf "$ROOT"/examples/*/*.conf "$ROOT"/examples/*.md "$ROOT"/man/* <<'PY' || die "non-documentation addresses"
import ipaddress, re, sys
ok = [ipaddress.ip_network(n) for n in
      ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15", "2001:db8::/32")]
# A full tunnel's routes (the default route and OpenVPN's def1 halves) name
# everything, no one's address.
everything = {ipaddress.ip_network(n) for n in
              ("0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "::/0", "::/1", "8000::/1")}
bad = []
for path in sys.argv[1:]:
    text = open(path).read()
    for m in re.finditer(r"(?<![\w.:])(\d{1,3}(?:\.\d{1,3}){3}|2001:db8[0-9a-f:]*|[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7})(?:/\d+)?(?![\w.:])", text):
        try:
            a = ipaddress.ip_network(m.group(0), strict=False)
        except ValueError:
            continue
        if a not in everything and not any(a.version == n.version and a.subnet_of(n) for n in ok):
            bad.append(f"{path}: {m.group(0)}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
pass "examples and man pages use documentation addresses only"

# ---- and the PREFIX=/usr install goes away too ---------------------------------------
mk uninstall DESTDIR="$D" PREFIX=/usr
left=$(cd "$D" && find . ! -type d -o -name '*lanmesh*')
[ -z "$left" ] || die "PREFIX=/usr: uninstall left $left"
pass "PREFIX=/usr: uninstall leaves no file behind"

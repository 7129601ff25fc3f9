#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-package: the Debian package that `make package` built, checked
# without a running system:
#   - lintian: no error and no warning (overrides, each explained, live in
#     debian/lanmesh.lintian-overrides);
#   - the control fields, the library dependencies, and the files: everything
#     `make install` writes, below /usr, the unit in bookworm's /lib;
#   - the programs print the clean version from NEWS (no git revision);
#   - the maintainer scripts create the user and /run/lanmesh and never
#     enable or start a unit;
#   - dpkg installs it into an empty root (--root, scripts run outside it with
#     DPKG_ROOT): user lanmesh, /run/lanmesh 2750; remove keeps the leases,
#     purge removes them and keeps the user and the administrator's /etc/lanmesh.
# Usage: tests/package/check-package.sh build/package/lanmesh_VER_ARCH.deb
set -u -o pipefail
deb=$(realpath "$1")
T=$(mktemp -d /tmp/lanmesh-pkg.XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
ok() { printf 'ok: %s\n' "$*"; passed=$((passed + 1)); }
bad() { printf 'FAIL: %s\n' "$*"; failed=$((failed + 1)); }
check() {  # check DESCRIPTION COMMAND...: ok if the command succeeds
    local what=$1; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

news=$(sed -n '1s/^lanmesh \([0-9][0-9.]*\).*/\1/p' "$(dirname "$0")/../../NEWS")
echo "check-package: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB), NEWS says $news"

# ---- lintian --------------------------------------------------------------------
out=$(timeout 300 lintian --fail-on error,warning "$deb" 2>&1); rc=$?
[ -n "$out" ] && sed 's/^/  lintian: /' <<<"$out"
if [ $rc -eq 0 ] && ! grep -qE '^[EW]: ' <<<"$out"; then
    ok "lintian: no error, no warning ($(grep -cE '^[IP]: ' <<<"$out") info tags)"
else
    bad "lintian (exit $rc)"
fi

# ---- control fields ---------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
check "Version $(field Version) is NEWS's $news, Debian revision 1" [ "$(field Version)" = "$news-1" ]
check "Architecture $(field Architecture)" [ "$(field Architecture)" = "$(dpkg --print-architecture)" ]
dep=$(field Depends)
for lib in libssl3 libnl-3-200 libnl-route-3-200 libcap2 libstdc++6 'systemd | systemd-standalone-sysusers'; do
    grep -qF "$lib" <<<"$dep" || bad "Depends lacks $lib: $dep"
done
ok "Depends: $dep"

# ---- files ------------------------------------------------------------------------------
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./||; s|/$||' | sort > "$T/files"
want=(usr/sbin/lanmeshd usr/bin/lanmesh lib/systemd/system/lanmeshd@.service
      usr/lib/sysusers.d/lanmesh.conf usr/lib/tmpfiles.d/lanmesh.conf
      etc/iproute2/rt_protos.d/lanmesh.conf
      usr/share/man/man5/lanmesh.conf.5.gz usr/share/man/man8/lanmeshd.8.gz usr/share/man/man8/lanmesh.8.gz
      usr/share/bash-completion/completions/lanmesh usr/share/bash-completion/completions/lanmeshd
      usr/share/doc/lanmesh/copyright usr/share/doc/lanmesh/changelog.Debian.gz)
(cd "$(dirname "$0")/../../examples" && find . -type f) | sed 's|^\./|usr/share/doc/lanmesh/examples/|' |
    while read -r f; do grep -qxE "$f(\.gz)?" "$T/files" || echo "$f"; done > "$T/missing-examples"
missing=$(for f in "${want[@]}"; do grep -qxF "$f" "$T/files" || echo "$f"; done; cat "$T/missing-examples")
check "files: all $(( ${#want[@]} )) programs, unit, snippets, man pages, completions and the examples${missing:+ -- missing: $missing}" [ -z "$missing" ]
stray=$(grep -vE '^(usr/(s?bin|lib/(sysusers|tmpfiles)\.d|share/(man|doc|bash-completion|lintian))|lib/systemd/system|etc/iproute2)(/|$)|^(usr|usr/lib|usr/share|lib|lib/systemd|etc)$' "$T/files")
check "no file outside the expected directories${stray:+: $stray}" [ -z "$stray" ]
check "conffile: /etc/iproute2/rt_protos.d/lanmesh.conf" \
    bash -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xOf - ./conffiles | grep -qx /etc/iproute2/rt_protos.d/lanmesh.conf"

# ---- the programs and the unit -------------------------------------------------------------
X=$T/x
dpkg-deb -x "$deb" "$X"
for prog in usr/sbin/lanmeshd usr/bin/lanmesh; do
    v=$("$X/$prog" --version 2>&1 | head -1)
    check "$prog --version: '$v'" bash -c "grep -qE '(^| )$news( |,|$)' <<<'$v' && ! grep -q '+g' <<<'$v'"
done
unit=$X/lib/systemd/system/lanmeshd@.service
check "unit runs /usr/sbin/lanmeshd, reloads with /usr/bin/lanmesh" \
    bash -c "grep -qx 'ExecStart=/usr/sbin/lanmeshd %i' '$unit' && grep -qx 'ExecReload=+/usr/bin/lanmesh -n %i reload' '$unit'"

# ---- maintainer scripts -------------------------------------------------------------------
C=$T/control
dpkg-deb -e "$deb" "$C"
check "postinst runs systemd-sysusers lanmesh.conf" grep -qE 'systemd-sysusers .*lanmesh\.conf' "$C/postinst"
check "postinst runs systemd-tmpfiles --create lanmesh.conf" grep -qE 'systemd-tmpfiles .*--create lanmesh\.conf' "$C/postinst"
enables=$(cat "$C"/p* | grep -v '^[[:space:]]*#' | grep -E 'deb-systemd-helper[^|;]* enable|deb-systemd-invoke[^|;]* start|systemctl[^|;]* (enable|start|restart) ' )
check "no maintainer script enables or starts a unit${enables:+: $enables}" [ -z "$enables" ]

# ---- install, remove and purge in an empty root ---------------------------------------------------
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/etc/lanmesh"
: > "$R/var/lib/dpkg/status"
dp() { timeout 120 dpkg --root="$R" --force-script-chrootless --force-depends --force-not-root --log=/dev/null "$@" >>"$T/dpkg.log" 2>&1; }
if dp -i "$deb"; then
    ok "dpkg --root -i: installed"
else
    bad "dpkg --root -i"; cat "$T/dpkg.log"
fi
check "installed: user lanmesh, no login shell" grep -q '^lanmesh:[^:]*:[0-9]*:[0-9]*:[^:]*:[^:]*:/usr/sbin/nologin$' "$R/etc/passwd"
check "installed: group lanmesh" grep -q '^lanmesh:' "$R/etc/group"
uid=$(awk -F: '$1 == "lanmesh" { print $3 }' "$R/etc/passwd")
gid=$(awk -F: '$1 == "lanmesh" { print $3 }' "$R/etc/group")
got=$(stat -c '%a %u %g' "$R/run/lanmesh" 2>&1)
check "installed: /run/lanmesh is '$got' (2750 lanmesh lanmesh)" [ "$got" = "2750 $uid $gid" ]
check "installed: no unit enabled" bash -c "! find '$R/etc/systemd' -name 'lanmeshd*' 2>/dev/null | grep -q ."

# What a running server leaves behind, and what the administrator wrote.
mkdir -p "$R/var/lib/lanmesh/office"
echo lease > "$R/var/lib/lanmesh/office/leases"
echo '[Network]' > "$R/etc/lanmesh/office.conf"
dp -r lanmesh || { bad "dpkg --root -r"; cat "$T/dpkg.log"; }
check "removed: programs gone" bash -c "[ ! -e '$R/usr/sbin/lanmeshd' ] && [ ! -e '$R/usr/bin/lanmesh' ]"
check "removed: leases and configuration kept" bash -c "[ -e '$R/var/lib/lanmesh/office/leases' ] && [ -e '$R/etc/lanmesh/office.conf' ]"
dp -P lanmesh || { bad "dpkg --root -P"; cat "$T/dpkg.log"; }
check "purged: /var/lib/lanmesh gone" [ ! -e "$R/var/lib/lanmesh" ]
check "purged: conffile rt_protos.d/lanmesh.conf gone" [ ! -e "$R/etc/iproute2/rt_protos.d/lanmesh.conf" ]
check "purged: user lanmesh and /etc/lanmesh/office.conf kept" \
    bash -c "grep -q '^lanmesh:' '$R/etc/passwd' && [ -e '$R/etc/lanmesh/office.conf' ]"

echo "check-package: $passed passed, $failed failed ($SECONDS s for the checks)"
[ "$failed" -eq 0 ] && echo "check-package: PASS" || echo "check-package: FAIL"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bash completion (src/completion/lanmesh.bash): the words of lanmesh(8)'s
# grammar, peer names from the daemon's JSON, network names from the runtime
# directory.  The daemon is a stub printing what `lanmesh -j peer show`
# prints, so this runs without namespaces.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/lanmesh-compl.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat >"$T/lanmesh" <<'STUB'
#!/bin/sh
printf "%s\n" "$*" >>"${0%/*}/calls"
echo '[{"name":"alice","state":"up","path":"direct"},{"name":"help","state":"up"},{"name":"bob","state":"down"}]'
STUB
chmod +x "$T/lanmesh"
mkdir -p "$T/run" && : >"$T/run/office.sock" && : >"$T/run/lab.sock"

# shellcheck source=/dev/null
source "$ROOT/src/completion/lanmesh.bash"
complete -p lanmesh | grep -q _lanmesh || fail "no completion registered for lanmesh"
complete -p lanmeshd | grep -q _lanmeshd || fail "no completion registered for lanmeshd"

# complete WORDS...: the last word is the one being completed.
complete_line() {
    local fn=$1; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    "$fn"
    printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
expect() {
    local want=$1; shift
    local got; got=$(complete_line _lanmesh "$T/lanmesh" "$@")
    [ "$got" = "$want" ] || fail "lanmesh $*<TAB>: got '$got', want '$want'"
}

expect "lease link" l
expect "del delete help list show" peer ""
expect "alice bob help" peer del ""
expect "alice" -R "$T/run" -n office peer show al
grep -q -- "-n office -R $T/run -j peer show" "$T/calls" || fail "peer names not asked of the chosen network: $(cat "$T/calls")"
expect "peer" sa show ""
expect "bob" sa show peer b
expect "via" route add 198.18.5.0/24 ""
expect "alice bob help" route add 198.18.5.0/24 via ""
expect "" peer help ""
expect "path peer" monitor p
expect "--version" --v
expect "lab office" -R "$T/run" -n ""
echo "ok: lanmesh completes objects, commands, peer names and networks"

got=$(complete_line _lanmeshd lanmeshd --c)
[ "$got" = "--check-config --config" ] || fail "lanmeshd --c<TAB>: got '$got'"
echo "ok: lanmeshd completes its options"

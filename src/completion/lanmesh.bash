# SPDX-License-Identifier: MIT
# bash completion for lanmesh(8) and lanmeshd(8).
# Installed as .../bash-completion/completions/lanmesh and .../lanmeshd.
#
# Words follow the grammar of lanmesh(8); peer names come from the running
# daemon (`lanmesh -j peer show`), network names from the control sockets in
# the runtime directory and the files in /etc/lanmesh.

_lanmesh_networks() {
    local rundir=${1:-/run/lanmesh} f
    for f in "$rundir"/*.sock /etc/lanmesh/*.conf; do
        [ -e "$f" ] || continue
        f=${f##*/}
        printf '%s\n' "${f%.*}"
    done | sort -u
}

# Names of the peers the daemon knows, connected or configured.
_lanmesh_peers() {
    local -a args=()
    [ -n "$1" ] && args+=(-n "$1")
    [ -n "$2" ] && args+=(-R "$2")
    "${_lanmesh_cmd:-lanmesh}" "${args[@]}" -j peer show 2>/dev/null |
        grep -o '"name":"[^"\\]*"' | sed 's/^"name":"//; s/"$//' | sort -u
}

_lanmesh() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local net="" rundir="" i=1 w
    local -a rest=()
    _lanmesh_cmd=${COMP_WORDS[0]}
    # Options first, as the grammar has them; remember -n and -R.
    while [ "$i" -lt "$COMP_CWORD" ]; do
        w=${COMP_WORDS[i]}
        case $w in
            -n|-net*|--net*) net=${COMP_WORDS[i+1]}; i=$((i + 2)); continue ;;
            -R|-R*|--R*|-r*|--r*) rundir=${COMP_WORDS[i+1]}; i=$((i + 2)); continue ;;
            --) i=$((i + 1)); break ;;
            -*) i=$((i + 1)); continue ;;
        esac
        break
    done
    case $prev in
        -n|-network|--network) COMPREPLY=($(compgen -W "$(_lanmesh_networks "$rundir")" -- "$cur")); return ;;
        -R|-Rundir|-rundir|--rundir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    esac
    rest=("${COMP_WORDS[@]:i:COMP_CWORD-i}")
    local words=""
    case ${#rest[@]} in
        0)
            if [[ $cur == -* ]]; then
                words="-json -pretty -statistics -brief -network -Rundir -help -Version --version"
            else
                words="link peer sa route lease monitor reload help"
            fi ;;
        *)
            case ${rest[0]} in
                link|lease) [ ${#rest[@]} -eq 1 ] && words="show help" ;;
                reload) ;;
                monitor) words="all peer path rekey refused server help" ;;
                peer)
                    case ${#rest[@]} in
                        1) words="show list del delete help" ;;
                        2) [[ ${rest[1]} != help ]] && words=$(_lanmesh_peers "$net" "$rundir") ;;
                    esac ;;
                sa)
                    case ${#rest[@]} in
                        1) words="show list help" ;;
                        2) words="peer" ;;
                        3) [ "${rest[2]}" = peer ] && words=$(_lanmesh_peers "$net" "$rundir") ;;
                    esac ;;
                route)
                    case ${#rest[@]} in
                        1) words="show list add del delete help" ;;
                        3) [ "${rest[1]}" = add ] && words="via" ;;
                        4) [ "${rest[3]}" = via ] && words=$(_lanmesh_peers "$net" "$rundir") ;;
                    esac ;;
            esac ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

_lanmeshd() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        -c|--config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--config --check-config --help --version" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$(_lanmesh_networks)" -- "$cur"))
    fi
}

complete -F _lanmesh lanmesh
complete -F _lanmeshd lanmeshd

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Includes point one way, down the layers of docs/DESIGN.md §2 ("Layers"):
# a file in src/AREA/ may include headers of its own area and of areas in a
# lower layer, never of the same layer's other areas or of a higher one.
# Prints every violation as FILE: includes HEADER (LAYER > LAYER) and fails
# if there is one that is not in the list of known exceptions below.
#   tests/include-graph.sh
set -u
cd "$(dirname "$0")/.."

# Lowest first; areas on one line are one layer and must not include each other.
layers=(
  "common"
  "crypto"
  "esp"
  "config"
  "net"
  "data"
  "control"
  "core"
  "mesh registry"
  "server client"
  "cli completion"
)
# Known exceptions, "FILE HEADER", each with its reason.  Keep this empty.
allowed=(
)

declare -A rank
for i in "${!layers[@]}"; do
  for a in ${layers[$i]}; do rank[$a]=$i; done
done

bad=0
for f in src/*/*.cc src/*/*.h; do
  area=${f#src/}; area=${area%%/*}
  [ -n "${rank[$area]+x}" ] || { echo "$f: area '$area' has no layer in tests/include-graph.sh"; bad=1; continue; }
  while read -r h; do
    to=${h%%/*}
    [ "$to" = "$area" ] && continue
    [ -n "${rank[$to]+x}" ] || continue          # not one of ours
    if [ "${rank[$to]}" -lt "${rank[$area]}" ]; then continue; fi
    entry="$f $h"
    ok=0
    for a in "${allowed[@]}"; do [ "$a" = "$entry" ] && ok=1; done
    [ $ok = 1 ] && continue
    echo "$f: includes $h ($to is not below $area)"
    bad=1
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done
if [ $bad = 0 ]; then echo "include graph: every include points down the layers"; fi
exit $bad

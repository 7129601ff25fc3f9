#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make fuzz: runs each libFuzzer target of BUILD (build/fuzz) for FUZZ_SECONDS
# on its seed corpus, keeping what it learns in FUZZ_WORK/TARGET (outside the
# tree's tracked files), and says per target how much CPU time it ran and
# whether it found anything.  FUZZ_TARGETS="a b" runs only those.  Fails if
# any target found something.  See tests/fuzz/README.md.
set -u
cd "$(dirname "$0")/../.."
build=${1:-build/fuzz}
seconds=${FUZZ_SECONDS:-60}
work=${FUZZ_WORK:-build/fuzz-work}
targets=${FUZZ_TARGETS:-$(for f in tests/fuzz/*.cc; do
    n=$(basename "$f" .cc); [ "$n" = corpus_main ] || echo "$n"; done)}

found=0 summary=()
for t in $targets; do
    bin=$build/$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing (make FUZZ=1 fuzz-targets)"
        found=$((found + 1)); summary+=("$t: not built"); continue
    fi
    mkdir -p "$work/$t" "$work/artifacts/$t"
    log=$work/$t.log
    dict=(); [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    stamp=$work/$t.start; touch "$stamp"
    echo "fuzz: $t for ${seconds}s (log $log)"
    TIMEFORMAT='%U %S'
    { time "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
          -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" "${dict[@]}" \
          "$work/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; } 2>"$log.time"
    rc=$?
    cpu=$(awk '{printf "%.1f", $1 + $2}' "$log.time")
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    entries=$(ls "$work/$t" | wc -l)
    new_artifacts=$(find "$work/artifacts/$t" -type f -newer "$stamp" -printf '%f\n')
    if [ "$rc" -ne 0 ] || [ -n "$new_artifacts" ]; then
        found=$((found + 1))
        line="$t: ${cpu}s CPU, ${runs:-?} runs, FOUND something (exit $rc)"
        for a in $new_artifacts; do line+=$'\n'"    $work/artifacts/$t/$a  (reproduce: $bin $work/artifacts/$t/$a)"; done
        grep -m 3 -E 'ERROR|runtime error|invariant broken' "$log" | sed 's/^/    /'
    else
        line="$t: ${cpu}s CPU, ${runs:-?} runs, $entries corpus entries, nothing found"
    fi
    echo "  $line"
    summary+=("$line")
done
echo "fuzz summary:"
for s in "${summary[@]}"; do echo "  $s"; done
[ "$found" -eq 0 ]

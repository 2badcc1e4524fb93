#!/usr/bin/env bash
# Times `portc diff` on synthetic programs and prints a Markdown table of wall time, peak memory
# and output size, as scripts/bench.sh does for check and build. docs/performance.md shows its
# output. For each size it compares three pairs of programs made by portc-synth:
#   same     the program against itself (nothing differs: the cost of reading and comparing)
#   edited   the program against a copy with 2 % of its flows edited (1 % change protocol, 1 %
#            gain a condition): a large change to a real policy
#   unlike   seed 1 against seed 2: two unrelated programs, where nearly everything differs
#
#   scripts/bench-diff.sh                     # 10k and 100k flows, median of 3 runs
#   PORTC_BENCH_SIZES="1000 10000" PORTC_BENCH_RUNS=5 scripts/bench-diff.sh
#
# Needs GNU time at /usr/bin/time (Debian: apt-get install time) for the peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${PORTC_BENCH_SIZES:-"10000 100000"}
RUNS=${PORTC_BENCH_RUNS:-3}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
WORK=${PORTC_BENCH_DIR:-$TARGET_DIR/bench}

if ! /usr/bin/time -f %M true >/dev/null 2>&1; then
    echo "error: scripts/bench-diff.sh needs GNU time at /usr/bin/time for peak memory (Debian: apt-get install time)" >&2
    exit 2
fi

cargo build --release --quiet --bin portc --example portc-synth
PORTC=$TARGET_DIR/release/portc
SYNTH=$TARGET_DIR/release/examples/portc-synth
mkdir -p "$WORK"

# Runs a command RUNS times; prints "median_wall_seconds median_cpu_seconds peak_rss_mb", where
# CPU is user plus system time, which other jobs on a busy machine inflate less than wall time.
# `portc diff` exits 1 when the programs differ, which is success here; 2 is a failure.
measure() {
    local times=() cpus=() rss=0 start end kb user sys status
    for _ in $(seq "$RUNS"); do
        start=$(date +%s%N)
        status=0
        /usr/bin/time -f "%U %S %M" -o "$WORK/rss" "$@" >"$WORK/diff-out" 2>/dev/null || status=$?
        end=$(date +%s%N)
        if ((status > 1)); then
            echo "error: failed ($status): $*" >&2
            exit 1
        fi
        times+=($((end - start)))
        read -r user sys kb < <(tail -n 1 "$WORK/rss")
        cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')")
        ((kb > rss)) && rss=$kb
    done
    local median cpu
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    awk -v ns="$median" -v cpu="$cpu" -v kb="$rss" 'BEGIN { printf "%.3f %.2f %.0f\n", ns / 1e9, cpu, kb / 1024 }'
}

echo "portc $("$PORTC" --version | awk '{print $2}'), release build; wall and CPU (user + system) time: medians of $RUNS runs; peak RSS: largest of them"
echo
echo "| flows | pair | command | wall s | CPU s | peak RSS MB | differences | output MB |"
echo "|---:|---|---|---:|---:|---:|---:|---:|"

for flows in $SIZES; do
    a=$WORK/diff-$flows-a.ports
    "$SYNTH" --flows "$flows" --seed 1 >"$a"
    "$SYNTH" --flows "$flows" --seed 2 >"$WORK/diff-$flows-unlike.ports"
    # Every 100th flow statement changes protocol, every 100th from the 50th gains a condition.
    awk '/ -> .* : /{ n++; if (n % 100 == 0) sub(/ : tcp /, " : udp "); else if (n % 100 == 50 && / when /) sub(/ when /, " when switch_30 \\&\\& ") } { print }' \
        "$a" >"$WORK/diff-$flows-edited.ports"
    read -r wall cpu rss < <(measure "$PORTC" check "$a")
    echo "| $flows | | \`check\` (one side, for scale) | $wall | $cpu | $rss | | |"
    for pair in same edited unlike; do
        b=$a
        [ "$pair" = same ] || b=$WORK/diff-$flows-$pair.ports
        for format in human json; do
            read -r wall cpu rss < <(measure "$PORTC" diff "$a" "$b" --format "$format")
            mb=$(awk -v b="$(stat -c %s "$WORK/diff-out")" 'BEGIN { printf "%.1f", b / 1048576 }')
            count=""
            if [ "$format" = json ]; then
                count=$(awk '/"summary"/ { s = 1 } s && /"(removed|added|changed)"/ { gsub(/[^0-9]/, ""); n += $0 } s && /}/ { print n; exit }' "$WORK/diff-out")
            fi
            echo "| $flows | $pair | \`diff --format $format\` | $wall | $cpu | $rss | $count | $mb |"
        done
    done
done

#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, under libFuzzer.
#
#   scripts/fuzz.sh SECONDS [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); runs on the stable toolchain through
# RUSTC_BOOTSTRAP=1. Inputs that add coverage are kept in fuzz/corpus/TARGET/ (commit them; CI
# replays them); the repository's .ports files are read-only seeds. A crash, a hang (over 1 s on
# an input of at most 4 KiB; over 5 s on one of at most 64 KiB for rulesets) or running out of memory is minimised into
# tests/fuzz/regressions/TARGET/, which `cargo test --test fuzz_replay` replays from then on.
# Statistics of each run are in fuzz/logs/TARGET.log.
set -euo pipefail

seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
# Optimised, with debug assertions and overflow checks (cargo-fuzz's default). Safe Rust: the
# sanitizers find nothing that a panic would not, and halve the speed.
fuzz=(cargo fuzz)
flags=(--sanitizer none)

if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <("${fuzz[@]}" list); fi
"${fuzz[@]}" build "${flags[@]}"

found=0
mkdir -p fuzz/logs
for target in "${targets[@]}"; do
    corpus=fuzz/corpus/$target
    artifacts=fuzz/artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    seeds=()
    extra=()
    # The structured target reads its input as choices, not text; text seeds mean nothing to it,
    # and libFuzzer's slow growth of input lengths would keep its programs a few statements long.
    max_len=4096
    timeout=1
    if [ "$target" = structured ]; then
        extra+=(-len_control=0)
    elif [ "$target" = rulesets ]; then
        # Rulesets: `nft -j` documents of real rulesets are tens of kilobytes, 16 times the
        # other targets' inputs, and each is verified twice: a hang is over 5 s.
        max_len=65536
        timeout=5
        for dir in tests/verify tests/ui/rulesets "tests/fuzz/regressions/$target"; do
            [ -d "$dir" ] && seeds+=("$dir")
        done
    else
        for dir in stdlib examples tests/ui tests/parser "tests/fuzz/regressions/$target"; do
            [ -d "$dir" ] && seeds+=("$dir")
        done
    fi
    echo "== $target: $seconds s"
    status=0
    "${fuzz[@]}" run "${flags[@]}" "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -max_len="$max_len" -timeout="$timeout" -rss_limit_mb=2048 \
        -dict=fuzz/ports.dict -print_final_stats=1 -artifact_prefix="$artifacts/" "${extra[@]}" \
        >"fuzz/logs/$target.log" 2>&1 || status=$?
    grep -E '^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb' \
        "fuzz/logs/$target.log" | tail -6 || true
    if [ "$status" -ne 0 ] && ! compgen -G "$artifacts/*" >/dev/null; then
        echo "   libFuzzer failed without a finding: see fuzz/logs/$target.log" >&2
        exit 2
    fi
    if [ "$status" -ne 0 ]; then
        found=1
        mkdir -p "tests/fuzz/regressions/$target"
        for artifact in "$artifacts"/*; do
            [ -f "$artifact" ] || continue
            name=$(basename "$artifact")
            echo "   finding: $artifact; minimising"
            "${fuzz[@]}" tmin "${flags[@]}" "$target" "$artifact" -- -runs=2000 >>"fuzz/logs/$target.log" 2>&1 || true
            minimal=$(ls -t "$artifacts"/minimized-from-* 2>/dev/null | head -1 || true)
            cp "${minimal:-$artifact}" "tests/fuzz/regressions/$target/${name#*-}"
            echo "   regression input: tests/fuzz/regressions/$target/${name#*-}"
        done
    fi
    # Keep the corpus small enough to commit and replay: a smallest set of inputs that still
    # covers every edge (not every hit count, which would keep ten times as many).
    "${fuzz[@]}" cmin "${flags[@]}" "$target" "$corpus" -- -set_cover_merge=1 -use_counters=0 -max_len="$max_len" \
        >>"fuzz/logs/$target.log" 2>&1 || true
done
exit "$found"

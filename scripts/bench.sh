#!/usr/bin/env bash
# Builds portc in release, generates synthetic programs with portc-synth and prints a Markdown
# table of wall time and peak memory for `portc check` and `portc build` to every target, with the
# growth factor from each size to the next. docs/performance.md shows its output and explains it.
#
#   scripts/bench.sh                           # 1k, 10k, 100k and 1M flows, median of 3 runs
#   PORTC_BENCH_SIZES="1000 10000" PORTC_BENCH_RUNS=5 scripts/bench.sh
#   PORTC_BENCH_SIZES=100000 PORTC_BENCH_TARGETS="nftables iptables firewalld" scripts/bench.sh
#
# A per-host target (nftables, iptables, firewalld) gets two rows: one role (`--role`), and every
# host role at once (`--out-dir`), which compiles the program once and lowers it per role.
#
# Needs GNU time at /usr/bin/time (Debian: apt-get install time) for the peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${PORTC_BENCH_SIZES:-"1000 10000 100000 1000000"}
RUNS=${PORTC_BENCH_RUNS:-3}
SEED=${PORTC_BENCH_SEED:-1}
# The targets to build; one that this portc does not have gets a loud "skipped" row.
TARGETS=${PORTC_BENCH_TARGETS:-"nftables networkpolicy calico aws cilium markdown json"}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
WORK=${PORTC_BENCH_DIR:-$TARGET_DIR/bench}
SITE=examples/rancher-custom-site.ports

if ! /usr/bin/time -f %M true >/dev/null 2>&1; then
    echo "error: scripts/bench.sh needs GNU time at /usr/bin/time for peak memory (Debian: apt-get install time)" >&2
    exit 2
fi

cargo build --release --quiet --bin portc --example portc-synth
PORTC=$TARGET_DIR/release/portc
SYNTH=$TARGET_DIR/release/examples/portc-synth
mkdir -p "$WORK"

# Runs a command RUNS times; prints "median_seconds peak_rss_mb" (the RSS is the largest of the runs).
measure() {
    local times=() rss=0 start end kb
    for _ in $(seq "$RUNS"); do
        start=$(date +%s%N)
        /usr/bin/time -f %M -o "$WORK/rss" "$@" >/dev/null 2>&1 || {
            echo "error: failed: $*" >&2
            "$@" >/dev/null
            exit 1
        }
        end=$(date +%s%N)
        times+=($((end - start)))
        kb=$(tail -n 1 "$WORK/rss")
        ((kb > rss)) && rss=$kb
    done
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    awk -v ns="$median" -v kb="$rss" 'BEGIN { printf "%.3f %.0f\n", ns / 1e9, kb / 1024 }'
}

# "×10.2" from the previous size's figure, or "" for the first size.
growth() {
    [ -z "$1" ] && return 0
    awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "×%.1f", b / a }'
}

has_target() {
    local help
    help=$("$PORTC" build --help)
    grep -qw -- "$1" <<<"$help"
}

# Command line arguments for `portc build` of a target on FILE (nftables: the first role; the
# Kubernetes and cloud targets leave out what they cannot express).
target_args() {
    local target=$1 file=$2
    case "$target" in
        nftables | iptables) echo "--target $target --role $(awk '$1 == "role" { print $2; exit }' "$file")" ;;
        # The programs' roles have IPv6 addresses, whose ICMPv6 firewalld cannot restrict (E0305).
        firewalld) echo "--target $target --allow-lossy --role $(awk '$1 == "role" { print $2; exit }' "$file")" ;;
        networkpolicy | calico | aws | cilium) echo "--target $target --allow-lossy" ;;
        *) echo "--target $target" ;;
    esac
}

echo "portc $("$PORTC" --version | awk '{print $2}'), release build; wall time: median of $RUNS runs; peak RSS: largest of them"
echo
echo "| flows | roles | input MB | command | wall s | growth | peak RSS MB | growth | output |"
echo "|---:|---:|---:|---|---:|---:|---:|---:|---|"

read -r wall rss < <(measure "$PORTC" check "$SITE")
echo "| site | | | \`check $SITE\` | $wall | | $rss | | |"

declare -A prev_wall prev_rss
for flows in $SIZES; do
    file=$WORK/synth-$flows.ports
    "$SYNTH" --flows "$flows" --seed "$SEED" >"$file"
    roles=$(grep -c '^role ' "$file")
    mb=$(awk -v b="$(stat -c %s "$file")" 'BEGIN { printf "%.1f", b / 1048576 }')
    for command in check $TARGETS; do
        out=$WORK/out-$flows.$command
        if [ "$command" = check ]; then
            label="check"
            read -r wall rss < <(measure "$PORTC" check "$file")
            output=""
        elif ! has_target "$command"; then
            echo "| $flows | $roles | $mb | \`build --target $command\` | **skipped: target not available** | | | | |"
            continue
        else
            # shellcheck disable=SC2046 # target_args is meant to split into arguments
            set -- $(target_args "$command" "$file")
            label="build $*"
            # iptables and firewalld write several files per host: into a directory.
            case "$command" in iptables | firewalld) rm -rf "$out" && mkdir -p "$out" && out="$out/" ;; esac
            read -r wall rss < <(measure "$PORTC" build "$file" "$@" -o "$out")
            output=$(du -sb "$out" | awk '{ printf "%.1f MB", $1 / 1048576 }')
            if [ "$command" = nftables ]; then
                # Rules grow with the role's peers (one per peer and address family), never with flows.
                output="$output, $(grep -c ' accept comment ' "$out") rules, $(grep -c '^    set in_' "$out") peers"
            fi
        fi
        echo "| $flows | $roles | $mb | \`$label\` | $wall | $(growth "${prev_wall[$command]:-}" "$wall") | $rss | $(growth "${prev_rss[$command]:-}" "$rss") | $output |"
        prev_wall[$command]=$wall
        prev_rss[$command]=$rss
        case "$command" in
            nftables | iptables | firewalld)
                # Every host role at once: one compile, then one lowering per role.
                set -- $(target_args "$command" "$file" | sed 's/ --role .*//')
                dir=$WORK/every-$flows.$command
                rm -rf "$dir"
                read -r wall rss < <(measure "$PORTC" build "$file" "$@" --out-dir "$dir")
                hosts=$(find "$dir" -mindepth 1 -maxdepth 1 -printf '%f\n' | sed 's/\..*//' | sort -u | wc -l)
                output=$(du -sb "$dir" | awk -v h="$hosts" -v f="$(find "$dir" -type f | wc -l)" '{ printf "%.1f MB, %d hosts, %d files", $1 / 1048576, h, f }')
                every=every-$command
                echo "| $flows | $roles | $mb | \`build $* --out-dir\` | $wall | $(growth "${prev_wall[$every]:-}" "$wall") | $rss | $(growth "${prev_rss[$every]:-}" "$rss") | $output |"
                prev_wall[$every]=$wall
                prev_rss[$every]=$rss
                ;;
        esac
    done
done

#!/usr/bin/env bash
# Runs Podium's benchmarks by hand (never in CI): builds the release binaries (apiserver,
# scheduler, podium-bench) once, installs Debian's etcd-server for the comparison if it is
# missing, and runs `podium-bench all`, or the one benchmark named first.
# Results (markdown, ready for BENCHMARKS.md) go to stdout; progress goes to stderr.
#
#   bash bench/run.sh                      # everything, with the default sizes
#   bash bench/run.sh --count 20000        # extra flags go to `podium-bench all`
#   bash bench/run.sh --no-scheduler       # everything but the scheduler's workloads
#   bash bench/run.sh scheduler --nodes 500 --pods 2000   # one benchmark, its own flags
#   bash bench/run.sh > results.md         # keep the results, watch the progress
#   bash bench/run.sh cluster [--no-cold]  # quick start and node failure (bench/cluster.sh)
#
# Everything runs on 127.0.0.1; the servers' data directories live under target/bench-work
# (on the same disk as the build, not tmpfs) and are removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[run.sh] $*" >&2; }

# The quick-start and node-failure benchmark drives deploy/up.sh, which builds for itself.
if [[ ${1:-} == cluster ]]; then
    shift
    exec bash bench/cluster.sh "$@"
fi

log "building release binaries"
cargo build --release --locked -p podium-bench -p podium-apiserver -p podium-scheduler -p podium-agent >&2
cargo build --release --locked --manifest-path pause/Cargo.toml >&2

# `all` unless the first argument names one benchmark.
case "${1:-}" in
    creates|list|watch|rest|scheduler|startup|traces|all) benchmark=$1; shift ;;
    *) benchmark=all ;;
esac

# Only `creates` (and so `all`) runs etcd.
if [[ ($benchmark == all || $benchmark == creates) && ! -x /usr/bin/etcd ]]; then
    log "installing etcd-server (Debian) for the comparison"
    if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
    "${sudo[@]}" apt-get update >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends etcd-server >&2
fi

# CPU in use by anything else right now (the build has finished): a busy machine skews every
# number. Each result table also shows what other processes used during that run.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
before=$(busy_ticks); sleep 3; after=$(busy_ticks)
busy=$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.2f", (b - a) / 300 }')
if awk -v c="$busy" 'BEGIN { exit !(c > 0.2) }'; then
    log "warning: other processes are using $busy cores; the numbers will be skewed"
fi

work_dir="$PWD/target/bench-work"
mkdir -p "$work_dir"

echo "## Benchmark run $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/ {print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)"
echo "- data directories on: $(df -T "$work_dir" | awk 'NR==2 {print $2 " (" $1 ")"}')"
echo "- etcd: $(/usr/bin/etcd --version 2>/dev/null | head -1)"
echo "- CPU used by other processes at start: $busy cores"
echo

# The benchmark stops its servers on SIGINT/SIGTERM; pass ours on.
PODIUM_BENCH_WORK_DIR="$work_dir" "${CARGO_TARGET_DIR:-target}/release/podium-bench" "$benchmark" "$@" &
bench=$!
trap 'kill -TERM "$bench" 2>/dev/null || true' INT TERM
status=0
wait "$bench" || status=$?
# A trapped signal interrupts `wait`; wait again for the benchmark to finish cleaning up.
if kill -0 "$bench" 2>/dev/null; then wait "$bench" || status=$?; fi
rmdir "$work_dir" 2>/dev/null || true
exit "$status"

#!/usr/bin/env bash
# Concurrency control (issue 13): managed write transactions with client
# time inside them, a hot counter and auto-commit writes, from the native
# load generator and from the official Python driver (bench/cc_driver.py),
# against one release server, or two in the same run when a second
# setting is given, or a second binary (CAUSEWAY_BIN_B: another build, to
# compare builds with the same settings). Usage:
#   [CAUSEWAY_BIN_B=path] bench/cc.sh [seconds per workload] [KEY=VALUE for the second server]
# CAUSEWAY_CC_ARGS adds flags to the native run (say `--think-ms none` for
# the counters and auto-commit only).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
set_b=${2:-}
cargo build --release --workspace --bins
dir=$(mktemp -d -p "${CAUSEWAY_BENCH_DIR:-$PWD/target}" bench-cc.XXXXXX)
pids=()
stop_all() {
    if [ ${#pids[@]} -gt 0 ]; then kill "${pids[@]}" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    pids=()
}
trap 'stop_all; rm -rf "$dir"' EXIT
bin_b=${CAUSEWAY_BIN_B:-}
start() { # NAME BOLT_PORT HTTP_PORT BINARY [--set KEY=VALUE]
    local name=$1 bolt=$2 http=$3 bin=$4
    shift 4
    "$bin" serve --data-dir "$dir/$name" --bolt-listen "127.0.0.1:$bolt" \
        --http-listen "127.0.0.1:$http" --auth neo4j/bench-password --log-level warn "$@" &
    pids+=($!)
    for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$bolt") 2>/dev/null && break; sleep 0.1; done
}
start a 17687 17474 ./target/release/causeway
b_args=()
if [ -n "$set_b" ] || [ -n "$bin_b" ]; then
    start b 17688 17475 "${bin_b:-./target/release/causeway}" ${set_b:+--set "$set_b"}
    b_args=(--addr-b 127.0.0.1:17688)
fi
echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d); A: defaults; B: ${set_b:-no setting}${bin_b:+, binary $bin_b}"
# shellcheck disable=SC2086 # CAUSEWAY_CC_ARGS is a list of flags
./target/release/causeway-bench cc --addr 127.0.0.1:17687 "${b_args[@]}" --user neo4j \
    --password bench-password --dir "$dir" --seconds "$secs" ${CAUSEWAY_CC_ARGS:-}
stop_all
if [ -n "$bin_b" ]; then
    exit 0 # the Python half starts servers of this build only
fi
if [ -x .venv/neo4j6/bin/python ]; then
    py_b=()
    [ -n "$set_b" ] && py_b=(--set-b "$set_b")
    CAUSEWAY_BIN=$PWD/target/release/causeway .venv/neo4j6/bin/python bench/cc_driver.py \
        --seconds "$secs" "${py_b[@]}"
fi

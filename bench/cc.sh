#!/usr/bin/env bash
# Concurrency control (issue 13): managed write transactions with client
# time inside them, a hot counter and auto-commit writes, from the native
# load generator and from the official Python driver (bench/cc_driver.py),
# against one release server, or two in the same run when a second
# setting is given. Usage:
#   bench/cc.sh [seconds per workload] [KEY=VALUE for the second server]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
set_b=${2:-}
cargo build --release -p causeway-server -p causeway-bench
dir=$(mktemp -d -p "${CAUSEWAY_BENCH_DIR:-$PWD/target}" bench-cc.XXXXXX)
pids=()
stop_all() {
    if [ ${#pids[@]} -gt 0 ]; then kill "${pids[@]}" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    pids=()
}
trap 'stop_all; rm -rf "$dir"' EXIT
start() { # NAME BOLT_PORT HTTP_PORT [--set KEY=VALUE]
    local name=$1 bolt=$2 http=$3
    shift 3
    ./target/release/causeway serve --data-dir "$dir/$name" --bolt-listen "127.0.0.1:$bolt" \
        --http-listen "127.0.0.1:$http" --auth neo4j/bench-password --log-level warn "$@" &
    pids+=($!)
    for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$bolt") 2>/dev/null && break; sleep 0.1; done
}
start a 17687 17474
b_args=()
if [ -n "$set_b" ]; then
    start b 17688 17475 --set "$set_b"
    b_args=(--addr-b 127.0.0.1:17688)
fi
echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d); A: defaults; B: ${set_b:-none}"
./target/release/causeway-bench cc --addr 127.0.0.1:17687 "${b_args[@]}" --user neo4j \
    --password bench-password --dir "$dir" --seconds "$secs"
stop_all
if [ -x .venv/neo4j6/bin/python ]; then
    py_b=()
    [ -n "$set_b" ] && py_b=(--set-b "$set_b")
    CAUSEWAY_BIN=$PWD/target/release/causeway .venv/neo4j6/bin/python bench/cc_driver.py \
        --seconds "$secs" "${py_b[@]}"
fi

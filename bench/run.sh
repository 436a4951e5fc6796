#!/usr/bin/env bash
# Starts a release server on a scratch data directory (on the real disk, not
# tmpfs: fsync cost is the point), runs every benchmark against it, and
# prints the Markdown report. Usage: bench/run.sh [seconds per workload]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
cargo build --release --workspace --bins
dir=$(mktemp -d -p "${CAUSEWAY_BENCH_DIR:-$PWD/target}" bench.XXXXXX)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
./target/release/causeway serve --data-dir "$dir/data" --bolt-listen 127.0.0.1:17687 \
    --http-listen 127.0.0.1:17474 --auth neo4j/bench-password --log-level warn &
pid=$!
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/17687) 2>/dev/null && break; sleep 0.1; done
echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d)"
./target/release/causeway-bench all --addr 127.0.0.1:17687 --user neo4j --password bench-password \
    --dir "$dir" --seconds "$secs"

#!/usr/bin/env bash
# Three core members on this machine (scratch data on the real disk), then:
# durable write throughput and latency against the leader, the same through
# a follower (server-side routing), and follower apply lag under load. Usage: bench/cluster.sh [seconds per workload]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
cargo build --release --workspace --bins
dir=$(mktemp -d -p "${CAUSEWAY_BENCH_DIR:-$PWD/target}" bench-cluster.XXXXXX)
./target/release/causeway cluster --data-dir "$dir/data" --bolt-port 17687 --http-port 17474 \
    --cluster-port 16000 --auth neo4j/bench-password --log-level warn > "$dir/cluster.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
leader=""
for _ in $(seq 200); do
    for i in 0 1 2; do
        st=$(curl -s -m 1 "http://127.0.0.1:$((17474 + i))/causeway/status" || true)
        if [[ "$st" == *'"writable":true'* ]]; then leader=$i; fi
    done
    [ -n "$leader" ] && break
    sleep 0.1
done
[ -n "$leader" ] || { echo "no leader"; cat "$dir/cluster.log"; exit 1; }
follower=$(( (leader + 1) % 3 ))
echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d); 3 cores on this machine, leader core-$((leader + 1))"
./target/release/causeway-bench writes --addr "127.0.0.1:$((17687 + leader))" --user neo4j \
    --password bench-password --dir "$dir" --seconds "$secs"
echo
echo "the same, sent to follower core-$((follower + 1)), which routes every write to the leader:"
./target/release/causeway-bench writes --addr "127.0.0.1:$((17687 + follower))" --user neo4j \
    --password bench-password --dir "$dir" --seconds "$secs"
./target/release/causeway-bench lag --addr "127.0.0.1:$((17687 + leader))" \
    --follower "127.0.0.1:$((17687 + follower))" --user neo4j --password bench-password \
    --dir "$dir" --seconds "$secs" | tail -n +3

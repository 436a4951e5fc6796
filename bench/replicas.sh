#!/usr/bin/env bash
# Read scaling with read replicas, and replica apply lag.
#
# For 0, 1 and 2 replicas: `causeway cluster --cores 3 --replicas N`, the
# read data set loaded through the leader, then indexed point reads from 64
# clients spread over every member except the leader (in read mode, so
# each answers itself). All members share this machine's cores, so reads
# per second cannot grow with members here; what is reported is reads per
# CPU-second that the members spent (from /proc), which is what more
# machines would multiply. Then, with one replica: the replica's apply lag
# under 64-client writes. Usage: bench/replicas.sh [seconds per workload]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
cargo build --release --workspace --bins
bench=./target/release/causeway-bench
auth=(--user neo4j --password bench-password)

status() { curl -s -m 1 "http://127.0.0.1:$((18474 + $1))/causeway/status" || true; }
cpu_ticks() {  # user + system ticks of every member of cluster $1
    local total=0
    for p in $(pgrep -P "$1"); do
        read -r -a f < "/proc/$p/stat" || continue
        total=$((total + f[13] + f[14]))
    done
    echo "$total"
}

echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d); 3 cores + N replicas on this machine"
echo
echo "| replicas | readers | point reads/s | p50 ms | p99 ms | CPU-s used | reads per CPU-s |"
echo "|---|---|---|---|---|---|---|"
lag=""
for n in 0 1 2; do
    dir=$(mktemp -d -p "${CAUSEWAY_BENCH_DIR:-$PWD/target}" bench-replicas.XXXXXX)
    ./target/release/causeway cluster --replicas "$n" --data-dir "$dir/data" --bolt-port 18687 \
        --http-port 18474 --cluster-port 18000 --auth neo4j/bench-password --log-level warn \
        > "$dir/cluster.log" 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
    members=$((3 + n))
    leader=""
    for _ in $(seq 300); do
        joined=0
        for i in $(seq 0 $((members - 1))); do
            st=$(status "$i")
            [[ "$st" == *'"writable":true'* ]] && leader=$i
            [[ "$st" == *'"cluster_id":"'* ]] && joined=$((joined + 1))
        done
        [ -n "$leader" ] && [ "$joined" -eq "$members" ] && break
        sleep 0.1
    done
    [ -n "$leader" ] || { echo "no leader"; cat "$dir/cluster.log"; exit 1; }
    readers=()
    for i in $(seq 0 $((members - 1))); do
        [ "$i" -ne "$leader" ] && readers+=("127.0.0.1:$((18687 + i))")
    done
    addr="127.0.0.1:$((18687 + leader))"
    # Load the data set, then wait until every member has applied it.
    $bench point-reads --addr "$addr" "${auth[@]}" --dir "$dir" --seconds 1 > /dev/null
    target=$(status "$leader" | sed -E 's/.*"last_log":([0-9]+).*/\1/')
    for i in $(seq 0 $((members - 1))); do
        until [ "$(status "$i" | sed -E 's/.*"applied":([0-9]+).*/\1/')" -ge "$target" ] 2>/dev/null; do
            sleep 0.1
        done
    done
    before=$(cpu_ticks "$pid")
    line=$($bench point-reads --addr "$addr" --readers "$(IFS=,; echo "${readers[*]}")" "${auth[@]}" \
        --dir "$dir" --seconds "$secs" | grep "indexed point read")
    after=$(cpu_ticks "$pid")
    cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }')
    rate=$(echo "$line" | awk -F'|' '{ print $3 }' | awk '{ print $1 }')
    p50=$(echo "$line" | awk -F'|' '{ print $4 }' | tr -d ' ')
    p99=$(echo "$line" | awk -F'|' '{ print $5 }' | tr -d ' ')
    per=$(awk -v r="$rate" -v s="$secs" -v c="$cpu" 'BEGIN { printf "%.0f", r * s / c }')
    echo "| $n | ${#readers[@]} | $rate | $p50 | $p99 | $cpu | $per |"
    if [ "$n" -eq 1 ]; then
        lag=$($bench lag --addr "$addr" --follower "127.0.0.1:$((18687 + 3))" "${auth[@]}" \
            --dir "$dir" --seconds "$secs" | grep "apply lag" | sed 's/follower apply lag/replica apply lag/')
    fi
    kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
    rm -rf "$dir"
    trap - EXIT
done
echo
echo "replica apply lag under 64-client writes (probe acknowledged by the leader → visible on replica-1):"
echo "| measure | rate | p50 ms | p99 ms | p99.9 ms | errors |"
echo "|---|---|---|---|---|---|"
echo "$lag"

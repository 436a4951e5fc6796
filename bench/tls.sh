#!/usr/bin/env bash
# The cost of TLS: starts a release server with tls_mode = optional and a
# self-signed certificate made here, then runs point reads, tiny writes and
# connection set-up over plaintext and over TLS against it, alternating, in
# one run (causeway-bench tls). Usage: bench/tls.sh [seconds per workload]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
command -v openssl >/dev/null || (apt-get update -qq && apt-get install -y -qq openssl)
cargo build --release --workspace --bins
dir=$(mktemp -d -p "${CAUSEWAY_BENCH_DIR:-$PWD/target}" bench-tls.XXXXXX)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
./target/release/causeway serve --data-dir "$dir/data" --bolt-listen 127.0.0.1:17687 \
    --http-listen 127.0.0.1:17474 --auth neo4j/bench-password --log-level warn \
    --set tls_mode=optional --set "tls_certificate=$dir/cert.pem" \
    --set "tls_private_key=$dir/key.pem" &
pid=$!
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/17687) 2>/dev/null && break; sleep 0.1; done
echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d)"
./target/release/causeway-bench tls --addr 127.0.0.1:17687 --user neo4j --password bench-password \
    --dir "$dir" --seconds "$secs"
# The same comparison through the official Python driver's managed
# transactions, as applications run them (needs .venv/neo4j6, which
# scripts/test.sh makes).
if [ -x .venv/neo4j6/bin/python ]; then
    kill $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    CAUSEWAY_BIN=$PWD/target/release/causeway .venv/neo4j6/bin/python bench/tls_driver.py \
        --seconds "$secs"
fi

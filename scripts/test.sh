#!/usr/bin/env bash
# The whole test suite: formatting, lints, Rust tests, the official drivers
# against real server processes, the fault suite, the container image and
# cluster on a Docker Engine, and the openCypher TCK. `.ci/run` runs
# exactly this. It installs what it needs, so a bare machine works.
#
#   scripts/test.sh            everything
#   CAUSEWAY_SKIP_LINT=1 ...   skip fmt and clippy (local iteration)
#   CAUSEWAY_LONG=1 ...        the long runs: 100,000 simulation seeds, many
#                              fault-suite rounds with longer faults, and
#                              5 minutes of fuzzing per target
#   CAUSEWAY_FUZZ=1 ...        bounded fuzzing (10 s per target) in the
#                              default run too
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SHARED=${CAUSEWAY_SHARED:-$ROOT/../shared}

# Each step says when it started and how far into the run, so a slow step
# shows in the CI log.
step() { printf '\n=== %s (%s, %d s in) ===\n' "$*" "$(date +%T)" "$SECONDS"; }

step "toolchain and system packages"
if ! command -v python3 >/dev/null || ! python3 -m venv --help >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip
fi
cargo --version
python3 --version

# The Python venvs install while Rust builds: pip mostly waits on the
# network and unpacking, so this takes their minutes off the wall clock.
# Their log is shown, and the run stopped, if any of them fails.
mkdir -p target
(
    set -e
    for v in neo4j6 neo4j5 apps bench; do
        venv=.venv/$v
        req=tests/drivers/requirements-$v.txt
        [ "$v" = bench ] && req=bench/requirements.txt
        if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements.txt"; then
            rm -rf "$venv"
            python3 -m venv "$venv"
            "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
            cp "$req" "$venv/requirements.txt"
        fi
    done
) > target/venvs.log 2>&1 &
venvs_pid=$!

if [ -z "${CAUSEWAY_SKIP_LINT:-}" ]; then
    step "cargo fmt --check"
    cargo fmt --all -- --check
    step "cargo clippy -D warnings"
    cargo clippy --workspace --all-targets -- -D warnings
fi

step "build (release)"
# Every build in this run (the test step's, the benches', the image's)
# selects the same packages and, with resolver 1 (Cargo.toml), the same
# features, so dependencies compile once.
cargo build --release --workspace --bins

step "cargo test"
cargo test --release --workspace 2>&1 | tee target/cargo-test.log
# A crate whose tests all pass prints "test result: ok"; count for the summary.
rust_passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' target/cargo-test.log | awk '{s+=$4} END {print s+0}')

step "deterministic simulation"
# Built above with the rest: .cargo/config.toml sets tokio_unstable, which
# seeds tokio's own random choices so that a seed replays exactly.
# 2,000 seeds (about 3 minutes on two cores) keep the default suite well
# under 40 minutes now that the library suites have grown (3,000 took about
# 6 minutes of a 42-minute run); the long run takes 100,000.
if [ -n "${CAUSEWAY_LONG:-}" ]; then sim_seeds=100000; else sim_seeds=2000; fi
target/release/causeway-sim --check-replay 100
target/release/causeway-sim --seeds "$sim_seeds"

# Fuzzing needs cargo-fuzz installed and a second, instrumented build of
# the server and its dependencies: minutes of a cold machine for seconds of
# fuzzing. The default run replays the committed corpus instead (the
# fuzz_corpus test above); fuzzing itself runs with CAUSEWAY_LONG or
# CAUSEWAY_FUZZ.
if [ -n "${CAUSEWAY_LONG:-}" ]; then
    step "fuzzing (5 minutes per target)"
    FUZZ_SECONDS=300 scripts/fuzz.sh
elif [ -n "${CAUSEWAY_FUZZ:-}" ]; then
    step "fuzzing (bounded)"
    FUZZ_SECONDS=10 scripts/fuzz.sh
fi

step "Python driver venvs (installed in the background since the start)"
if ! wait "$venvs_pid"; then
    cat target/venvs.log
    echo "installing the Python venvs failed"
    exit 1
fi
cat target/venvs.log

export CAUSEWAY_BIN=$ROOT/target/release/causeway
step "neo4j Python driver 6.x and py2neo"
.venv/neo4j6/bin/python -m pytest -q tests/drivers --ignore=tests/drivers/test_apps.py
# The 5.x line is what most libraries pin. It runs the suites where the
# driver's own code decides the outcome (protocol versions, routing and
# retries, temporal values, TLS schemes, auth errors) and the library that
# needs it; the server-side suites (bad input, durability, cluster, HTTP,
# health) do not depend on the driver and run once, above.
step "neo4j Python driver 5.28"
.venv/neo4j5/bin/python -m pytest -q tests/drivers/test_neo4j_driver.py \
    tests/drivers/test_routing.py tests/drivers/test_exactly_once.py \
    tests/drivers/test_replica.py tests/drivers/test_temporal.py tests/drivers/test_tls.py \
    tests/drivers/test_security.py tests/drivers/test_llamaindex.py
step "applications pinning their own driver: neomodel, the Neo4j MCP servers"
.venv/apps/bin/python -m pytest -q tests/drivers/test_apps.py

step "fault suite (members in network namespaces, real faults)"
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
    command -v iptables >/dev/null || (apt-get update -qq && apt-get install -y -qq iptables)
    # Wall-clock jumps need libfaketime; without it that nemesis moves nothing.
    ls /usr/lib/*/faketime/libfaketimeMT.so.1 >/dev/null 2>&1 \
        || (apt-get update -qq && apt-get install -y -qq faketime) || true
    if [ -n "${CAUSEWAY_LONG:-}" ]; then
        fault_args=(--rounds 5 --fault-seconds 15 --threads 2)
    else
        fault_args=(--rounds 1 --fault-seconds 3)
    fi
    .venv/neo4j6/bin/python tests/faults/run.py "${fault_args[@]}" --json target/faults.json
else
    echo "skipped: the fault suite needs root and iproute2 (network namespaces)"
fi

step "containers (the image; deploy/compose.yaml and deploy/kubernetes on real containers)"
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    command -v docker-compose >/dev/null \
        || (apt-get update -qq && apt-get install -y -qq docker-compose)
    command -v kubectl >/dev/null \
        || (apt-get update -qq && apt-get install -y -qq kubectl) \
        || { echo "kubectl (for kustomize) is needed to render deploy/kubernetes"; exit 1; }
    command -v curl >/dev/null || (apt-get update -qq && apt-get install -y -qq curl)
    # scripts/tls-certs.sh makes the TLS runs' certificates.
    command -v openssl >/dev/null || (apt-get update -qq && apt-get install -y -qq openssl)
    scripts/compose-v2.sh
    scripts/image.sh
    # deploy/compose.yaml under both Compose tools; they share the scenarios,
    # and the v1 half runs with deploy/compose.tls.yaml added.
    .venv/neo4j6/bin/python tests/containers/run.py --compose "docker compose" \
        --scenarios kill,image,full-stop --json target/containers-compose-v2.json
    .venv/neo4j6/bin/python tests/containers/run.py --compose docker-compose --tls \
        --scenarios disconnect,rolling --json target/containers-compose-v1.json
    .venv/neo4j6/bin/python tests/containers/kubernetes.py --json target/kubernetes.json
else
    echo "skipped: no Docker Engine answers here"
fi

step "Engine against FalkorDB on one small generated graph (bench/engine.py --small)"
# Fails if any of Causeway's answers differs from the generated data's;
# the full-size comparison is bench/engine.sh.
.venv/bench/bin/python bench/engine.py --small --json target/engine-small.json > target/engine-small.md
cat target/engine-small.md

step "openCypher TCK"
./target/release/tck "$SHARED/tck/features"

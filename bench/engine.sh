#!/usr/bin/env bash
# Causeway against FalkorDB on the same generated graph (issue 14):
# builds the release server and load generator, makes .venv/bench from
# bench/requirements.txt if it is missing or differs, and runs
# bench/engine.py, which prints the Markdown report. Usage:
#   bench/engine.sh [--small | --scale N] [more bench/engine.py flags]
# Scratch data goes under target/ (CAUSEWAY_BENCH_DIR to choose another
# directory on a real disk: fsync cost is part of what is measured).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins >&2
venv=.venv/bench
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! cmp -s bench/requirements.txt "$venv/requirements.txt"; then
    "$venv/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt >&2
    cp bench/requirements.txt "$venv/requirements.txt"
fi
exec "$venv/bin/python" bench/engine.py "$@"

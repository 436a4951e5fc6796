#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time on its corpus, as CI does.
#
#   scripts/fuzz.sh                 each target for FUZZ_SECONDS (default 20)
#   FUZZ_SECONDS=600 scripts/fuzz.sh   a longer hunt
#
# New interesting inputs go to target/fuzz-corpus/<target> (the committed
# corpus in fuzz/corpus/<target> is only read). A crash stops the run and
# leaves the input in fuzz/artifacts/<target>/: add it to
# fuzz/corpus/<target>/ so the corpus tests replay it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
secs=${FUZZ_SECONDS:-20}

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --quiet
fi
# libFuzzer's instrumentation needs a nightly compiler; without one, stable
# accepts the flags when told it may (the environment provides nightly).
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    toolchain=()
    export RUSTC_BOOTSTRAP=1
fi

cd fuzz
export CARGO_TARGET_DIR=$ROOT/target/fuzz
for t in $(cargo "${toolchain[@]}" fuzz list); do
    mkdir -p "$ROOT/target/fuzz-corpus/$t" "corpus/$t"
    echo "--- fuzzing $t for ${secs}s"
    log=$ROOT/target/fuzz-$t.log
    status=0
    cargo "${toolchain[@]}" fuzz run "$t" "$ROOT/target/fuzz-corpus/$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    grep -E '^(stat::number_of_executed_units|==[0-9]+==|SUMMARY|Test unit written)' "$log" || true
    if [ "$status" != 0 ]; then
        tail -40 "$log" >&2
        echo "fuzz target $t failed; the input is under fuzz/artifacts/$t/" >&2
        exit 1
    fi
done

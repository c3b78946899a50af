#!/usr/bin/env bash
# Bounded coverage-guided fuzzing of every decoder that reads bytes from outside (fuzz/, cargo
# fuzz on the nightly toolchain): builds all targets once, then runs each for FUZZ_SECONDS
# (default 20) on its corpus, FUZZ_JOBS (default 2) at a time. Fails on any crash, panic,
# timeout or memory blow-up, and prints where the input that caused it was saved.
#
#   bash tests/fuzz.sh                      # all targets, 20 s each
#   FUZZ_SECONDS=60 bash tests/fuzz.sh units pki_csr   # some targets, longer
#   FUZZ_BUILD=dev bash tests/fuzz.sh       # unoptimised, no sanitizer: a cold build in about
#                                           # 3 minutes instead of 11 on 2 cores (tests/run.sh)
#
# The corpora kept in the repository (fuzz/corpus/<target>/) are read, never written: new
# inputs found go to fuzz/target/corpus/<target>/ (ignored, kept between local runs). A failing
# input is saved under fuzz/artifacts/<target>/; reproduce it with
# `cargo +nightly fuzz run --fuzz-dir fuzz <target> <input>`, fix the decoder, and turn the input
# into a unit test next to the decoder's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${FUZZ_SECONDS:-20}
# release: optimised, with AddressSanitizer (cargo fuzz's default); dev: unoptimised, debug
# assertions and overflow checks, no sanitizer (the code fuzzed is safe Rust; what it finds
# are panics, overflows and blow-ups, which both builds catch).
build=${FUZZ_BUILD:-release}
jobs=${FUZZ_JOBS:-2}
rss_mb=${FUZZ_RSS_MB:-2048}

# Target and its -max_len: a little above the largest input the decoder accepts or a real
# peer sends, so that the fuzzer spends its time on inputs that matter.
declare -A max_len=(
    [routeros_words]=4096
    [routeros_reply]=4096
    [fleet_to_agent]=16384
    [fleet_to_controller]=16384
    [units]=128
    [enroll_token]=512
    [pki_pem]=8192
    [pki_cert_der]=4096
    [pki_csr]=4096
    [master_key_file]=4200
    [agent_config]=8192
    [controller_config]=12288
)

started=$(date +%s)
echo "== toolchain"
if ! cargo +nightly --version; then
    echo "the nightly toolchain is needed (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
cargo +nightly fuzz --version

# cargo fuzz's own default, made explicit so that a CARGO_TARGET_DIR set for the main
# workspace does not mix instrumented and plain builds (FUZZ_TARGET_DIR to put it elsewhere).
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$root/fuzz/target}
case $build in
    release) build_args=(); bin_dir=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release ;;
    dev) build_args=(--dev --sanitizer none); bin_dir=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/debug ;;
    *) echo "FUZZ_BUILD is release or dev, not $build" >&2; exit 1 ;;
esac

all=$(cargo +nightly fuzz list --fuzz-dir fuzz)
for t in $all; do
    [[ -n "${max_len[$t]:-}" ]] || {
        echo "fuzz target $t has no -max_len in tests/fuzz.sh" >&2
        exit 1
    }
done
if (($# > 0)); then
    targets=("$@")
else
    read -r -a targets <<<"$(echo $all)"
fi

echo "== build (all targets)"
build_start=$(date +%s)
cargo +nightly fuzz build --fuzz-dir fuzz "${build_args[@]}"
echo "built ($build) in $(($(date +%s) - build_start)) s"

logs=$CARGO_TARGET_DIR/fuzz-logs
rm -rf "$logs"
mkdir -p "$logs"

run_one() {
    local t=$1 log=$logs/$1.log
    local scratch=$CARGO_TARGET_DIR/corpus/$t artifacts=$root/fuzz/artifacts/$t/
    mkdir -p "$scratch" "$artifacts" "fuzz/corpus/$t"
    local status=0
    # The binary built above, run as `cargo fuzz run` would (same ASAN_OPTIONS and artifact
    # place) but without a second build: the scratch corpus first, since libFuzzer writes new
    # inputs into the first directory only.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0} "$bin_dir/$t" \
        -artifact_prefix="$artifacts" -max_total_time="$seconds" -rss_limit_mb="$rss_mb" \
        -malloc_limit_mb="$rss_mb" -max_len="${max_len[$t]}" -timeout=10 -print_final_stats=1 \
        "$scratch" "fuzz/corpus/$t" >"$log" 2>&1 || status=$?
    local execs cov
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    if ((status == 0)); then
        echo "ok   $t: ${execs:-?} runs in ${seconds} s, ${cov:-cov: ?}"
        touch "$logs/$t.ok"
    else
        echo "FAIL $t (exit $status), log in $log:"
        grep -m 2 -A 3 -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer)|Error: ' "$log" |
            sed 's/^/    /' || true
        tail -n 12 "$log" | sed 's/^/    /'
        grep -h 'Test unit written to' "$log" | sed 's/^.*Test unit written to /    input saved at /' || true
        echo "    reproduce: cargo +nightly fuzz run --fuzz-dir fuzz $t <that input>"
    fi
}

echo "== run ${#targets[@]} targets, ${seconds} s each, ${jobs} at a time"
for t in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= jobs)); do
        wait -n || true
    done
    run_one "$t" &
done
wait

failed=()
for t in "${targets[@]}"; do
    [[ -e "$logs/$t.ok" ]] || failed+=("$t")
done
echo "== fuzzing took $(($(date +%s) - started)) s in all"
if ((${#failed[@]} > 0)); then
    echo "fuzz targets failed: ${failed[*]} (inputs under fuzz/artifacts/<target>/)" >&2
    exit 1
fi
echo "${#targets[@]} passed, 0 failed"

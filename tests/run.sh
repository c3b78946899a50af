#!/usr/bin/env bash
# Runs every check and test of the workspace: formatting, clippy, unit, property, integration
# and conformance tests (the last need Python librouteros: the venv is created when missing),
# then the OpenAPI fuzzer against a demo fleet (schemathesis, same venv) and a bounded run of
# the coverage-guided fuzz targets (cargo fuzz, nightly; FUZZ_SECONDS a target).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! .venv/bin/python -c 'import librouteros, schemathesis' 2>/dev/null; then
    echo "== creating .venv with the pinned librouteros and schemathesis"
    bash tests/python/setup_venv.sh
fi
if ! command -v chromedriver >/dev/null 2>&1; then
    echo "== installing chromium + chromedriver for the browser tests"
    bash tests/browser/setup_chromium.sh
fi
export HOTSPOT_PYTHON="$PWD/.venv/bin/python"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== doc tests"
cargo test --workspace --locked --doc --quiet
echo "== the agent's container image (dist profile; read back by tests/tests/agent_image.rs)"
bash deploy/build-agent-image.sh target/hotspot-agent-image.tar
echo "== tests"
cargo nextest run --workspace --locked --no-fail-fast
echo "== API contract fuzzer (schemathesis against a demo fleet)"
bash tests/api-fuzz/run.sh
echo "== coverage-guided fuzz targets (cargo fuzz, ${FUZZ_SECONDS:-15} s each, dev build)"
FUZZ_SECONDS=${FUZZ_SECONDS:-15} FUZZ_BUILD=${FUZZ_BUILD:-dev} bash tests/fuzz.sh

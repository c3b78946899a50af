#!/usr/bin/env bash
# Creates <workspace>/.venv with the pinned Python tools of the tests: librouteros for the
# conformance tests (tests/tests/sim_librouteros.rs runs tests/python/conformance.py with it)
# and schemathesis for the API fuzzer (tests/api-fuzz/run.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
if [ ! -x "$root/.venv/bin/python" ]; then
    "$python" -m venv "$root/.venv"
fi
"$root/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
"$root/.venv/bin/python" -c 'import librouteros, schemathesis' && echo "venv ready: $root/.venv"

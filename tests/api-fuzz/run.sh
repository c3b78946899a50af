#!/usr/bin/env bash
# The API contract, checked by a property-based OpenAPI fuzzer (schemathesis, pinned in
# tests/python/requirements.txt): a demo fleet is started on free loopback ports with a fresh
# data dir, then schemathesis runs every check and phase (examples, coverage, fuzzing,
# stateful) from the served /api/openapi.json, once with a staff member's token and once with
# a super admin's, with the fixed seed and budget of schemathesis.toml. Any failure fails.
# Logout and session revocation are left out: they would end the token the run is using.
#
#   bash tests/api-fuzz/run.sh            # needs .venv (tests/python/setup_venv.sh)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/tests/api-fuzz"
st="$root/.venv/bin/schemathesis"
python="$root/.venv/bin/python"
[ -x "$st" ] || { echo "schemathesis is missing: run tests/python/setup_venv.sh" >&2; exit 1; }

cargo build --quiet --locked -p hotspot-tests --bin hotspot-demo
demo="$root/target/debug/hotspot-demo"

work="$(mktemp -d)"
demo_pid=""
cleanup() {
    if [ -n "$demo_pid" ]; then kill "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Two free ports: TCP for HTTP, UDP for the fleet's QUIC.
read -r http_port fleet_port < <("$python" - <<'PY'
import socket
t = socket.socket(); t.bind(("127.0.0.1", 0))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
print(t.getsockname()[1], u.getsockname()[1])
PY
)
base="http://127.0.0.1:$http_port"
admin_password="Fuzz-admin-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
"$demo" --data-dir "$work/demo" --http "127.0.0.1:$http_port" --fleet "127.0.0.1:$fleet_port" \
    --site-pages off --admin-password "$admin_password" >"$work/demo.log" 2>&1 &
demo_pid=$!
for _ in $(seq 1 300); do
    grep -q '^Open the dashboard' "$work/demo.log" && break
    kill -0 "$demo_pid" 2>/dev/null || { cat "$work/demo.log" >&2; exit 1; }
    sleep 0.2
done
grep -q '^Open the dashboard' "$work/demo.log" || { echo "the demo did not come up" >&2; cat "$work/demo.log" >&2; exit 1; }

login() { # username password -> token
    curl -sf "$base/api/auth/login" -H 'content-type: application/json' \
        -d "{\"username\":\"$1\",\"password\":\"$2\"}" \
        | "$python" -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
staff_password="$(sed -n 's/.*"username":"staff","password":"\([^"]*\)".*/\1/p' "$work/demo.log" | head -n 1)"
[ -n "$staff_password" ] || { echo "no staff password in the demo's output" >&2; exit 1; }

status=0
# Staff first: the admin's run changes accounts (passwords, roles, disabled) as it goes.
for who in staff admin; do
    if [ "$who" = admin ]; then token="$(login admin "$admin_password")"; else token="$(login staff "$staff_password")"; fi
    echo "== schemathesis as $who"
    # From the work dir, so its cache stays out of the repository.
    (cd "$work" && "$st" --config-file "$here/schemathesis.toml" run "$base/api/openapi.json" \
        --checks all --exclude-path-regex 'logout|revoke|sessions' \
        -H "Authorization: Bearer $token" --no-color) || status=1
done
if [ "$status" -ne 0 ]; then
    echo "== the demo's log (last 40 lines)"; tail -n 40 "$work/demo.log"
fi
exit "$status"

#!/usr/bin/env bash
# Builds the agent's container image tarball (docker save layout, no daemon needed):
#   bash deploy/build-agent-image.sh [OUT]   (default target/hotspot-agent-image.tar)
# The binary comes from the `dist` profile (size-tuned release) for this machine's target;
# see deploy/README.md for arm64 and armv7 (untested here: no cross toolchain on these hosts).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/hotspot-agent-image.tar}
target=${TARGET:-}
arch=${ARCH:-amd64}
variant=${VARIANT:-}
if [[ -n "$target" ]]; then
    cargo build --locked --profile dist -p hotspot-agent --target "$target"
    binary=target/$target/dist/hotspot-agent
else
    cargo build --locked --profile dist -p hotspot-agent
    binary=target/dist/hotspot-agent
fi
python3 deploy/agent_image.py --binary "$binary" --out "$out" --arch "$arch" \
    ${variant:+--variant "$variant"} ${NO_LIBS:+--no-libs}

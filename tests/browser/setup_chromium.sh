#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the dashboard's browser tests
# (tests/tests/web_browser.rs drives /usr/bin/chromium through /usr/bin/chromedriver).
# Does nothing when both are already there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "chromium ready: $(chromium --version 2>/dev/null | head -1)"
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo="sudo"
    else
        echo "chromium and chromium-driver are missing and this user cannot install them:" >&2
        echo "  apt-get install chromium chromium-driver   (as root)" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
echo "chromium ready: $(chromium --version 2>/dev/null | head -1)"

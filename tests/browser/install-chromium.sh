#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver for the browser tests (tests/test_review.py). No browser download
# works here, so the tests drive this one through Selenium. Idempotent. Needs root or password-less sudo.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "install-chromium: chromium and chromedriver already installed, nothing to do"
    exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if ! sudo -n true 2>/dev/null; then
        echo "install-chromium: needs root: run it as root or with sudo" >&2
        exit 1
    fi
    as_root=(sudo -n)
fi
if ! apt-cache show chromium-driver >/dev/null 2>&1; then
    echo "install-chromium: apt-get update (no package list knows chromium-driver yet)"
    "${as_root[@]}" apt-get update -q
fi
echo "install-chromium: apt-get install chromium chromium-driver"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver
echo "install-chromium: done: $(chromium --version)"

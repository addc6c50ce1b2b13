#!/usr/bin/env bash
# What the browser tests need on a fresh Debian machine: Debian's chromium at /usr/bin/chromium
# (Playwright drives it; Playwright's own browser download is never used). Python packages
# (playwright, gradio) come from the project's dev dependencies, not from here.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium
/usr/bin/chromium --version

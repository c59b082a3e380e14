#!/usr/bin/env bash
# Installs what the browser tests of `gitml ui` drive: Debian's Chromium (Playwright for
# Python comes from pip with the `test` extra; its driver ships in the wheel, so
# `playwright install` is never needed).
set -euo pipefail
CHROMIUM=${GITML_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium
fi
echo "browser ready: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"

#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium, or says on stderr that there is none and
# exits 1. It installs nothing: tests must not change the machine they run on; .ci/run
# installs Debian's `chromium` package before the tests on CI.
set -euo pipefail
for candidate in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$candidate" >/dev/null 2>&1; then
        command -v "$candidate"
        exit 0
    fi
done
echo "no Chromium found (looked for chromium, chromium-browser, google-chrome, google-chrome-stable on PATH)" >&2
exit 1

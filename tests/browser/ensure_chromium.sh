#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium, installing Debian's `chromium` package
# when it is missing (the report's browser test needs it; CI machines start without it).
set -euo pipefail
for candidate in chromium chromium-browser google-chrome; do
    if command -v "$candidate" >/dev/null 2>&1; then
        command -v "$candidate"
        exit 0
    fi
done
if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2
    command -v chromium
    exit 0
fi
echo "no Chromium and no apt-get to install it" >&2
exit 1

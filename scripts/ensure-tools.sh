#!/usr/bin/env bash
# Command-line tools the end-to-end tests use as a user would (the seed's curl command), and
# Debian's Chromium for the dashboard's browser tests (Playwright drives /usr/bin/chromium; it
# never downloads a browser of its own).
set -euo pipefail
missing=()
command -v curl >/dev/null || missing+=(curl)
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-liberation)  # fonts: readable screenshots
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]} from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

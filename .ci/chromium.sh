#!/usr/bin/env bash
# Make a headless Chromium available for the report's screenshot test, and print its path.
#
#   CHROMIUM="$(.ci/chromium.sh)"
#
# - `chromium` (the Debian package) already on PATH: print its path.
# - Otherwise, as root, install it with apt-get (no other source); not root: say how, exit 1.
# Everything but the final path goes to stderr.
set -euo pipefail

say() { echo "chromium.sh: $*" >&2; }

found() { command -v chromium || command -v chromium-browser || true; }

if [[ -n "$(found)" ]]; then
    found
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    say "chromium is not installed; run as root, or: sudo apt-get install -y chromium"
    exit 1
fi
say "installing chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends chromium >&2 || { apt-get update >&2 && apt-get install -y --no-install-recommends chromium >&2; }
found

#!/usr/bin/env bash
# Install the Debian packages named as arguments when they are missing.
# As root: apt-get installs them. Otherwise: print the exact command to run and carry on
# (sheetgen still works without the optional ones; `sheetgen doctor` says what is missing).
set -euo pipefail

missing=()
for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "sheetgen: system packages missing (${missing[*]}) and apt-get is not available;" \
         "install their equivalents with your package manager." >&2
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "sheetgen: missing system packages; run as root:" >&2
    echo "    apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 0
fi
echo "sheetgen: installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

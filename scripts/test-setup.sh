#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages, if missing: Debian's Chromium for the
# browser test. Idempotent; uses apt-get directly as root, else through sudo.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  echo "test-setup: everything present"
  exit 0
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
echo "test-setup: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq "${need[@]}" >/dev/null
echo "test-setup: done"

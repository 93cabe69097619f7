#!/usr/bin/env bash
# ensure-nats.sh: make sure `nats-server` (Debian package) is installed.
#
# Tests and the demo start their own nats-server processes (on free ports, with temp store
# dirs); this script only installs the binary. Idempotent: does nothing when it is present.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APT_SAY_PREFIX=ensure-nats
# shellcheck source=lib/apt.sh
source "$repo/scripts/lib/apt.sh"

if command -v nats-server >/dev/null 2>&1; then
  exit 0
fi
ensure_apt_packages nats-server
command -v nats-server >/dev/null 2>&1 || {
  apt_say "nats-server is installed but not on PATH ($PATH); Debian puts it in /usr/sbin"
  exit 1
}
apt_say "$(nats-server --version)"

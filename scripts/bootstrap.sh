#!/usr/bin/env bash
# bootstrap.sh: install everything the tests and the demo need on a fresh Debian 12 machine.
#
#   - Debian packages (one `apt-get update` + one `apt-get install`, skipped when all present):
#     nats-server, docker.io, busybox-static, e2fsprogs and mount (mkfs.ext4, debugfs and losetup
#     for the workspaces' filesystems), debootstrap (sandbox images), protobuf-compiler,
#     protobuf-compiler-grpc, libprotobuf-dev (the well-known types protoc imports), python3-grpcio,
#     python3-grpc-tools (the Python wire-compat client), runsc (gVisor: the sandbox tier of tools
#     with `runtime: runsc`), prometheus (promtool and the server the metrics tests scrape with),
#     chromium (the browser the web console's tests drive through playwright-core);
#   - pnpm at the version pinned by package.json's `packageManager`, then
#     `pnpm install --frozen-lockfile`;
#   - a Docker engine (scripts/ensure-docker.sh: the one at $DOCKER_HOST or the default socket,
#     else a private dockerd, which it gives the runsc runtime) and the local sandbox images
#     (scripts/build-images.sh).
#
# Idempotent: a second run changes nothing and takes a few seconds. Needs root (or
# passwordless sudo) only when something is missing. Node.js >= 20.19 must already be there.
# Afterwards .reins/docker-host holds the DOCKER_HOST to use.
#
# `scripts/bootstrap.sh --check` installs nothing: it runs scripts/doctor.sh, which lists what is
# missing and the Debian package or script that provides each.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
if [[ "${1:-}" == --check ]]; then
  exec scripts/doctor.sh
fi
APT_SAY_PREFIX=bootstrap
# shellcheck source=lib/apt.sh
source "$repo/scripts/lib/apt.sh"
say() { echo "bootstrap: $*" >&2; }

# Debian keeps daemons in /usr/sbin, which a non-login root shell may not have on PATH.
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin:/sbin" ;; esac

# --- Node.js -------------------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1; then
  say "Node.js >= 20.19 is required and was not found (Debian 12's nodejs package is 18: too old)."
  say "install Node 20 or newer (e.g. from nodejs.org or NodeSource) and run this again."
  exit 1
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  say "Node.js $(node --version) is too old: Reins needs >= 20.19."
  exit 1
fi

# --- Debian packages -----------------------------------------------------------------------
ensure_apt_packages \
  nats-server \
  docker.io \
  busybox-static \
  e2fsprogs \
  mount \
  debootstrap \
  protobuf-compiler \
  protobuf-compiler-grpc \
  libprotobuf-dev \
  python3-grpcio \
  python3-grpc-tools \
  runsc \
  prometheus \
  chromium

# --- pnpm and the workspace's dependencies --------------------------------------------------
pnpm_version="$(node -p 'require("./package.json").packageManager.replace(/^pnpm@/, "").split("+")[0]')"
if [[ "$(pnpm --version 2>/dev/null || true)" != "$pnpm_version" ]]; then
  say "installing pnpm $pnpm_version (npm i -g)"
  if ! npm install --global --no-fund --no-audit --loglevel=error "pnpm@$pnpm_version" >&2; then
    say "could not install pnpm globally (no permission?): run as root, or install pnpm $pnpm_version yourself."
    exit 1
  fi
  hash -r
fi
say "pnpm install --frozen-lockfile"
CI="${CI:-true}" pnpm install --frozen-lockfile >&2

# --- Docker engine and sandbox images ------------------------------------------------------
if [[ -x scripts/ensure-docker.sh ]]; then
  docker_env="$(scripts/ensure-docker.sh | tail -n 1)"
  # The last line is `export DOCKER_HOST=<url>` (see scripts/ensure-docker.sh).
  eval "$docker_env"
fi
if [[ -x scripts/build-images.sh ]]; then
  scripts/build-images.sh >&2
fi
say "ready"

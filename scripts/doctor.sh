#!/usr/bin/env bash
# doctor.sh: check every external thing Reins relies on, and name what provides each missing one.
#
# Checks binaries, include directories, Python modules, the Docker engine, its runtimes and the
# sandbox images, the things the tests and the demo use but no package.json can install. For
# each one missing it prints one line: what is missing, why it is needed, and the Debian package
# or script that provides it. scripts/bootstrap.sh installs all of them; scripts/test.sh runs
# this right after the bootstrap and stops with the list when anything is missing.
#
# Usage: scripts/doctor.sh [--quiet]     (also: scripts/bootstrap.sh --check)
#   --quiet  print only what is missing (or one line when nothing is)
# Exit status: 0 when everything is present, 1 otherwise.
# Environment: DOCKER_HOST (default: the value in .reins/docker-host), NATS_SERVER_BIN.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quiet=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    -h | --help)
      sed -n '2,12p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *)
      echo "doctor: unknown argument $arg (try --help)" >&2
      exit 2
      ;;
  esac
done
if [[ -z "${DOCKER_HOST:-}" && -s "$repo/.reins/docker-host" ]]; then
  DOCKER_HOST="$(cat "$repo/.reins/docker-host")"
  export DOCKER_HOST
fi
# Debian keeps daemons in /usr/sbin, which a non-login root shell may not have on PATH.
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin:/sbin" ;; esac

missing=()
# check <what> <provided by> <command...>: runs the command quietly; a failure records a line.
check() {
  local what="$1" provider="$2"
  shift 2
  if "$@" >/dev/null 2>&1; then
    ((quiet)) || echo "doctor: ok       $what"
    return 0
  fi
  missing+=("$what: install $provider")
  return 1
}
# have: every named command is on PATH.
have() { local c; for c in "$@"; do command -v "$c" || return 1; done; }

# --- toolchain -----------------------------------------------------------------------------
node_recent() {
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'
}
pnpm_pinned() {
  local want
  want="$(node -p 'require("./package.json").packageManager.replace(/^pnpm@/, "").split("+")[0]')" || return 1
  [[ "$(pnpm --version)" == "$want" ]]
}
cd "$repo" || exit 1
check "node >= 20.19" "Node.js 20.19 or newer (Debian 12's nodejs is 18: too old)" node_recent
check "pnpm at the version package.json pins" "it with scripts/bootstrap.sh (npm i -g pnpm@<version>)" pnpm_pinned
check "the workspace's npm dependencies (node_modules)" "them with scripts/bootstrap.sh (pnpm install --frozen-lockfile)" \
  test -x node_modules/.bin/turbo

# --- NATS ----------------------------------------------------------------------------------
nats_server() { "${NATS_SERVER_BIN:-nats-server}" --version; }
check "nats-server (the session log's JetStream)" "Debian package nats-server" nats_server

# --- Protocol Buffers for the Python clients -------------------------------------------------
well_known_types() {
  local dir status
  dir="$(mktemp -d)" || return 1
  printf 'syntax = "proto3";\nimport "google/protobuf/duration.proto";\nmessage Probe { google.protobuf.Duration d = 1; }\n' \
    >"$dir/probe.proto"
  protoc -I"$dir" --python_out="$dir" "$dir/probe.proto"
  status=$?
  rm -rf "$dir"
  return "$status"
}
if check "protoc (Python stubs from proto/)" "Debian package protobuf-compiler" have protoc; then
  check "the well-known types protoc imports (google/protobuf/*.proto)" "Debian package libprotobuf-dev" \
    well_known_types
fi
check "grpc_python_plugin (/usr/bin/grpc_python_plugin)" "Debian package protobuf-compiler-grpc" \
  test -x /usr/bin/grpc_python_plugin
check "Python module grpc for /usr/bin/python3" "Debian package python3-grpcio" /usr/bin/python3 -c 'import grpc'
check "Python module google.protobuf for /usr/bin/python3" "Debian package python3-protobuf" \
  /usr/bin/python3 -c 'import google.protobuf'

# --- sandbox images' ingredients ------------------------------------------------------------
busybox_static() { /bin/busybox --list && ! ldd /bin/busybox; }
check "a static busybox (/bin/busybox, the tiny sandbox image)" "Debian package busybox-static" busybox_static
check "debootstrap (the full sandbox image)" "Debian package debootstrap" have debootstrap

# --- workspaces: each a sized ext4 image on a loop device ------------------------------------
check "mkfs.ext4 and debugfs (workspace filesystems)" "Debian package e2fsprogs" have mkfs.ext4 debugfs
check "losetup (workspace loop devices)" "Debian package mount" have losetup

# --- observability and the web console's browser ---------------------------------------------
check "prometheus and promtool (the metrics tests' scraper and checker)" "Debian package prometheus" \
  have prometheus promtool
check "chromium (/usr/bin/chromium, the web console's test browser)" "Debian package chromium" \
  test -x /usr/bin/chromium

# --- Docker ----------------------------------------------------------------------------------
engine_answers() { timeout 10 docker version --format '{{.Server.Version}}'; }
runtime_registered() { timeout 10 docker info --format '{{json .Runtimes}}' | grep -q "\"$1\""; }
image_present() { timeout 10 docker image inspect "$1"; }
check "docker CLI" "Debian package docker.io" have docker
check "dockerd" "Debian package docker.io" have dockerd
have_runsc=0
check "runsc (gVisor, the runtime of tools with runtime: runsc)" "Debian package runsc" runsc --version && have_runsc=1
if check "a Docker engine that answers${DOCKER_HOST:+ at $DOCKER_HOST}" "one with scripts/ensure-docker.sh (starts a private dockerd)" \
  engine_answers; then
  check "the runc runtime in the engine" "Debian package runc (a dependency of docker.io)" runtime_registered runc
  if ((have_runsc)); then
    check "the runsc runtime in the engine" \
      "it with scripts/ensure-docker.sh (adds it to the private dockerd's daemon.json, reloads by SIGHUP)" \
      runtime_registered runsc
  fi
  for image in reins/sandbox-tiny reins/sandbox; do
    check "sandbox image $image" "it with scripts/build-images.sh" image_present "$image"
  done
fi

if ((${#missing[@]} > 0)); then
  echo "doctor: missing (${#missing[@]}):" >&2
  printf 'doctor:   - %s\n' "${missing[@]}" >&2
  echo "doctor: scripts/bootstrap.sh installs all of these." >&2
  exit 1
fi
echo "doctor: everything Reins needs is here"

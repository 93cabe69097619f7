#!/usr/bin/env bash
# build-images.sh: build the sandbox images locally from Debian packages (no registry needed).
#
#   reins/sandbox-tiny  busybox-static + applet symlinks, /tmp, /workspace, user sandbox (1000).
#                       Built in about a second; what the tests use.
#   reins/sandbox       Debian bookworm minbase (bash, coreutils) + python3 via debootstrap from
#                       the Debian mirror configured in /etc/apt (about 40 s); for real use.
#
# Both run as uid/gid 1000 ("sandbox") with /workspace owned by it, so a session volume
# mounted there starts writable for the tool. Each image carries the label
# reins.image.recipe=<hash of its build recipe>; an image whose label matches is not rebuilt.
#
# Usage: scripts/build-images.sh [--tiny-only] [--force]
#   --tiny-only  build only reins/sandbox-tiny (what tests need)
#   --force      rebuild even if the recipe label matches
# Environment: DOCKER_HOST (default: the value in .reins/docker-host, written by
# scripts/ensure-docker.sh), REINS_DEBIAN_MIRROR (override the mirror URL).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tiny_only=0
force=0
for arg in "$@"; do
  case "$arg" in
    --tiny-only) tiny_only=1 ;;
    --force) force=1 ;;
    -h | --help)
      sed -n '2,19p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *)
      echo "build-images: unknown argument $arg (try --help)" >&2
      exit 2
      ;;
  esac
done
if [[ -z "${DOCKER_HOST:-}" && -s "$repo/.reins/docker-host" ]]; then
  DOCKER_HOST="$(cat "$repo/.reins/docker-host")"
  export DOCKER_HOST
fi

say() { echo "build-images: $*" >&2; }
sandbox_path=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin

# Files every sandbox image shares: the unprivileged user and the writable mount points.
add_user_and_dirs() {
  local root="$1"
  mkdir -p "$root/etc" "$root/tmp" "$root/workspace"
  chmod 1777 "$root/tmp"
  if [[ -f "$root/etc/passwd" ]] && ! grep -q '^sandbox:' "$root/etc/passwd"; then
    echo 'sandbox:x:1000:1000:sandbox:/workspace:/bin/sh' >>"$root/etc/passwd"
    echo 'sandbox:x:1000:' >>"$root/etc/group"
  elif [[ ! -f "$root/etc/passwd" ]]; then
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nsandbox:x:1000:1000:sandbox:/workspace:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\nsandbox:x:1000:\n' >"$root/etc/group"
  fi
  chown 1000:1000 "$root/workspace"
  chmod 0755 "$root/workspace"
}

build_tiny() {
  local root="$1"
  mkdir -p "$root/bin"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [[ "$applet" == busybox ]] || ln -sf busybox "$root/bin/$applet"
  done
  # Tools written for bash mostly run under ash; `bash -c` must at least start.
  printf '#!/bin/sh\nexec /bin/sh "$@"\n' >"$root/bin/bash"
  chmod 0755 "$root/bin/bash"
  ln -s bin "$root/sbin"
  mkdir -p "$root/usr"
  ln -s ../bin "$root/usr/bin"
  ln -s ../bin "$root/usr/sbin"
  add_user_and_dirs "$root"
}

debian_mirror() {
  if [[ -n "${REINS_DEBIAN_MIRROR:-}" ]]; then
    echo "$REINS_DEBIAN_MIRROR"
    return
  fi
  local uri
  # deb822 sources: the URIs line of the stanza that serves plain bookworm (not -security).
  uri="$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ {print u; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
    uri="$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

build_sandbox() {
  local root="$1"
  local mirror
  mirror="$(debian_mirror)"
  say "debootstrap bookworm (minbase + python3) from $mirror"
  debootstrap --variant=minbase --include=python3 bookworm "$root" "$mirror" >&2
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
  add_user_and_dirs "$root"
}

# image_build NAME FUNCTION: builds unless the image's recipe label already matches.
image_build() {
  local name="$1" fn="$2" extra="$3"
  local recipe
  recipe="$( (declare -f "$fn" add_user_and_dirs; echo "$extra") | sha256sum | cut -c1-16)"
  local have
  have="$(docker image inspect --format '{{index .Config.Labels "reins.image.recipe"}}' "$name" 2>/dev/null || true)"
  if [[ "$have" == "$recipe" && "$force" == 0 ]]; then
    say "$name is up to date (recipe $recipe)"
    return
  fi
  local work
  work="$(mktemp -d /tmp/reins-image-XXXXXX)"
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  local started=$SECONDS
  "$fn" "$work/root"
  tar --numeric-owner -C "$work/root" -c . | docker import \
    --change "LABEL reins.image.recipe=$recipe" \
    --change "USER 1000:1000" \
    --change "WORKDIR /workspace" \
    --change "ENV PATH=$sandbox_path" \
    --change 'CMD ["/bin/sh"]' \
    - "$name" >/dev/null
  say "built $name (recipe $recipe) in $((SECONDS - started)) s"
}

mkdir -p /tmp
image_build reins/sandbox-tiny build_tiny "$(/bin/busybox | head -1)"
if [[ "$tiny_only" == 0 ]]; then
  if [[ "$(id -u)" != 0 ]]; then
    say "debootstrap needs root to build reins/sandbox; run as root or use --tiny-only"
    exit 1
  fi
  image_build reins/sandbox build_sandbox "bookworm minbase python3"
fi

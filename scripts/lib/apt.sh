# shellcheck shell=bash
# Shared helpers for the setup scripts: install Debian packages only when missing.
#
#   source scripts/lib/apt.sh
#   ensure_apt_packages nats-server docker.io
#
# One `apt-get update` and one `apt-get install` for everything missing; nothing at all
# (not even a lock on the dpkg database) when every package is already installed.

apt_say() { echo "${APT_SAY_PREFIX:-setup}: $*" >&2; }

apt_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

# Runs a command as root: directly when we are root, through passwordless sudo otherwise.
as_root() {
  if [[ "$(id -u)" == 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 126
  fi
}

ensure_apt_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    apt_installed "$pkg" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    apt_say "missing packages: ${missing[*]}; this script installs them with apt-get (Debian 12), which is not here."
    apt_say "install them with your package manager and run it again."
    return 1
  fi
  if [[ "$(id -u)" != 0 ]] && ! { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; then
    apt_say "missing packages: ${missing[*]}"
    apt_say "installing them needs root: run this script as root (or with passwordless sudo), or run"
    apt_say "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    return 1
  fi
  apt_say "installing ${missing[*]} (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

#!/usr/bin/env bash
# ensure-docker.sh: make sure a Docker engine answers, starting a private one if needed.
#
# Order of preference:
#   1. $DOCKER_HOST, if set and `docker version` answers there;
#   2. the default socket (/var/run/docker.sock), if it answers;
#   3. a private dockerd owned by Reins (started earlier by this script, or now):
#        socket     unix:///run/reins-docker.sock
#        data root  /var/lib/reins-docker      exec root  /run/reins-docker
#        pidfile    /run/reins-docker.pid      log        /var/log/reins-dockerd.log
#      started with --bridge=none --iptables=false --ip6tables=false (containers use
#      NetworkMode none; nothing here touches the host network or needs the internet),
#      storage driver overlay2, falling back to vfs.
#
# Output contract (scripts/test.sh, scripts/demo.sh and people rely on it):
#   - the LAST line on stdout is `export DOCKER_HOST=<url>`, so `eval "$(scripts/ensure-docker.sh | tail -1)"`
#     works;
#   - the same URL is written to <repo>/.reins/docker-host (one line, no newline games);
#   - <repo>/.reins/docker-started-by-us exists only when this script started the private
#     dockerd; scripts/stop-docker.sh stops only that one.
# Progress messages go to stderr. Safe to run twice, and concurrently (flock).
#
# Environment: REINS_DOCKER_ROOT (default /var/lib/reins-docker), REINS_DOCKER_SOCK
# (default /run/reins-docker.sock), REINS_DOCKER_EXEC_ROOT (/run/reins-docker),
# REINS_DOCKER_PIDFILE (/run/reins-docker.pid), REINS_DOCKER_LOG (/var/log/reins-dockerd.log),
# REINS_STATE_DIR (<repo>/.reins), REINS_DOCKER_WAIT_S (default 60). scripts/stop-docker.sh
# reads the same REINS_STATE_DIR and REINS_DOCKER_PIDFILE.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${REINS_STATE_DIR:-$repo/.reins}"
data_root="${REINS_DOCKER_ROOT:-/var/lib/reins-docker}"
sock="${REINS_DOCKER_SOCK:-/run/reins-docker.sock}"
exec_root="${REINS_DOCKER_EXEC_ROOT:-/run/reins-docker}"
pidfile="${REINS_DOCKER_PIDFILE:-/run/reins-docker.pid}"
logfile="${REINS_DOCKER_LOG:-/var/log/reins-dockerd.log}"
wait_s="${REINS_DOCKER_WAIT_S:-60}"

say() { echo "ensure-docker: $*" >&2; }
answers() { DOCKER_HOST="$1" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

mkdir -p "$state"

publish() {
  printf '%s\n' "$1" >"$state/docker-host"
  say "Docker engine at $1 (also in $state/docker-host)"
  echo "export DOCKER_HOST=$1"
}

if [[ -n "${DOCKER_HOST:-}" ]] && answers "$DOCKER_HOST"; then
  publish "$DOCKER_HOST"
  exit 0
fi
if [[ -S /var/run/docker.sock ]] && answers unix:///var/run/docker.sock; then
  publish unix:///var/run/docker.sock
  exit 0
fi

# Everything below may start a daemon: serialise concurrent callers.
exec 9>"$state/ensure-docker.lock"
flock 9

private="unix://$sock"
if [[ -S "$sock" ]] && answers "$private"; then
  publish "$private"
  exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
  say "no Docker engine answers and starting a private dockerd needs root."
  say "run this script as root, or start Docker yourself and set DOCKER_HOST."
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  say "dockerd not found: installing docker.io from the configured Debian mirror"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
fi

# A stale pidfile from a dead daemon would make dockerd refuse to start.
if [[ -f "$pidfile" ]]; then
  old="$(cat "$pidfile" 2>/dev/null || true)"
  if [[ -n "$old" ]] && kill -0 "$old" 2>/dev/null; then
    say "dockerd pid $old holds $pidfile but does not answer on $sock yet; waiting"
  else
    rm -f "$pidfile"
  fi
fi

start_dockerd() {
  local driver="$1"
  mkdir -p "$data_root" "$exec_root"
  say "starting private dockerd (storage driver $driver, log $logfile)"
  setsid dockerd \
    --host "$private" \
    --data-root "$data_root" \
    --exec-root "$exec_root" \
    --pidfile "$pidfile" \
    --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
    --storage-driver "$driver" \
    --userland-proxy=false \
    --log-level warn \
    </dev/null >>"$logfile" 2>&1 9>&- &
  local pid=$!
  local deadline=$((SECONDS + wait_s))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "dockerd ($driver) exited; last log lines:"
      tail -n 5 "$logfile" >&2 || true
      return 1
    fi
    if [[ -S "$sock" ]] && answers "$private"; then
      touch "$state/docker-started-by-us"
      return 0
    fi
    sleep 0.2
  done
  say "dockerd ($driver) did not answer within ${wait_s}s; stopping it"
  kill "$pid" 2>/dev/null || true
  return 1
}

if [[ ! -f "$pidfile" ]]; then
  start_dockerd overlay2 || start_dockerd vfs || {
    say "could not start dockerd; see $logfile"
    exit 1
  }
else
  deadline=$((SECONDS + wait_s))
  until answers "$private"; do
    ((SECONDS < deadline)) || { say "dockerd from $pidfile never answered"; exit 1; }
    sleep 0.2
  done
fi
publish "$private"

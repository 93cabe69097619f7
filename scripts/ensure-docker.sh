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
#      storage driver overlay2, falling back to vfs, and --config-file $REINS_DOCKER_CONFIG.
#
# The gVisor runtime: when Debian's runsc is installed, the private engine gets it as runtime
# `runsc` (runtimeArgs --network=none --ignore-cgroups: the ptrace platform, sandboxes without
# a network stack, no cgroup setup of runsc's own), written to the engine's config file. A new
# engine starts with it; an engine already running that lacks it gets it by SIGHUP, which makes
# dockerd reload its `runtimes` without stopping a container (never a restart: other callers
# share that engine). An engine Reins does not own is only checked, never changed.
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
# REINS_DOCKER_CONFIG (/etc/docker/daemon.json: what a dockerd started without --config-file
# reads, so an engine started by an older version of this script reloads the same file),
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
config="${REINS_DOCKER_CONFIG:-/etc/docker/daemon.json}"
runsc_args='["--network=none","--ignore-cgroups"]'

say() { echo "ensure-docker: $*" >&2; }
answers() { DOCKER_HOST="$1" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

mkdir -p "$state"

publish() {
  printf '%s\n' "$1" >"$state/docker-host"
  say "Docker engine at $1 (also in $state/docker-host)"
  echo "export DOCKER_HOST=$1"
}

has_runtime() {
  DOCKER_HOST="$1" timeout 10 docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q "\"$2\""
}

# An engine we do not own is left as it is: say what it lacks, doctor.sh reports it too.
note_runsc() {
  if command -v runsc >/dev/null 2>&1 && ! has_runtime "$1" runsc; then
    say "the engine at $1 has no runsc runtime: tools with runtime: runsc will be refused there;"
    say "register it in that engine's daemon.json (\"runtimes\": {\"runsc\": {\"path\": \"$(command -v runsc)\", \"runtimeArgs\": $runsc_args}})"
  fi
}

# Adds (or replaces) runtimes.runsc in a dockerd config file, keeping every other setting.
write_runsc_config() {
  local file="$1" bin="$2"
  mkdir -p "$(dirname "$file")"
  RUNSC_BIN="$bin" RUNSC_ARGS="$runsc_args" node -e '
    const fs = require("node:fs");
    const file = process.argv[1];
    let config = {};
    try {
      config = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
      if (err.code !== "ENOENT") throw new Error(`${file}: ${err.message}`);
    }
    config.runtimes = { ...config.runtimes, runsc: { path: process.env.RUNSC_BIN, runtimeArgs: JSON.parse(process.env.RUNSC_ARGS) } };
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(config, null, 2)}\n`);
    fs.renameSync(`${file}.tmp`, file);
  ' "$file"
}

# The config file a running dockerd reads: its --config-file, else dockerd's default.
config_of() {
  local arg next=0 found=/etc/docker/daemon.json
  while IFS= read -r -d '' arg; do
    if ((next)); then found="$arg"; next=0; continue; fi
    case "$arg" in
      --config-file) next=1 ;;
      --config-file=*) found="${arg#--config-file=}" ;;
    esac
  done <"/proc/$1/cmdline"
  printf '%s\n' "$found"
}

# The private engine, running: give it runsc by SIGHUP when it lacks it. Never fatal (the engine
# serves runc either way); doctor.sh names what is missing.
ensure_runsc_live() {
  local bin pid file deadline
  bin="$(command -v runsc || true)"
  if [[ -z "$bin" ]]; then
    say "runsc not installed (Debian package runsc, scripts/bootstrap.sh): no gVisor runtime"
    return 0
  fi
  has_runtime "$private" runsc && return 0
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  if [[ -z "$pid" || "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]]; then
    say "cannot find the private dockerd's pid in $pidfile: runsc not registered"
    return 0
  fi
  file="$(config_of "$pid")"
  say "registering runtime runsc ($bin) in $file; reloading dockerd pid $pid (SIGHUP, no restart)"
  write_runsc_config "$file" "$bin" || { say "could not write $file: runsc not registered"; return 0; }
  kill -HUP "$pid"
  deadline=$((SECONDS + 10))
  until has_runtime "$private" runsc; do
    if ((SECONDS >= deadline)); then
      say "dockerd did not take runtime runsc from $file; see $logfile"
      return 0
    fi
    sleep 0.2
  done
}

private="unix://$sock"
if [[ -n "${DOCKER_HOST:-}" ]] && answers "$DOCKER_HOST"; then
  if [[ "$DOCKER_HOST" == "$private" ]]; then
    exec 9>"$state/ensure-docker.lock"
    flock 9
    ensure_runsc_live
  else
    note_runsc "$DOCKER_HOST"
  fi
  publish "$DOCKER_HOST"
  exit 0
fi
if [[ -S /var/run/docker.sock ]] && answers unix:///var/run/docker.sock; then
  note_runsc unix:///var/run/docker.sock
  publish unix:///var/run/docker.sock
  exit 0
fi

# Everything below may start a daemon: serialise concurrent callers.
exec 9>"$state/ensure-docker.lock"
flock 9

if [[ -S "$sock" ]] && answers "$private"; then
  ensure_runsc_live
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
  say "starting private dockerd (storage driver $driver, config $config, log $logfile)"
  setsid dockerd \
    --host "$private" \
    --config-file "$config" \
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
  if runsc_bin="$(command -v runsc)"; then
    write_runsc_config "$config" "$runsc_bin"
  else
    say "runsc not installed (Debian package runsc, scripts/bootstrap.sh): the engine starts without gVisor"
    # dockerd refuses a --config-file that does not exist.
    [[ -e "$config" ]] || { mkdir -p "$(dirname "$config")" && printf '{}\n' >"$config"; }
  fi
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
  ensure_runsc_live
fi
publish "$private"

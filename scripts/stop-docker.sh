#!/usr/bin/env bash
# stop-docker.sh: stop the private dockerd, but only if scripts/ensure-docker.sh started it
# (marker <repo>/.reins/docker-started-by-us). An engine someone else runs is never touched.
# Waits for the daemon (and its containerd) to exit; SIGKILL after REINS_DOCKER_STOP_S (default 30).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${REINS_STATE_DIR:-$repo/.reins}"
pidfile="${REINS_DOCKER_PIDFILE:-/run/reins-docker.pid}"
grace="${REINS_DOCKER_STOP_S:-30}"

say() { echo "stop-docker: $*" >&2; }

if [[ ! -f "$state/docker-started-by-us" ]]; then
  say "no dockerd started by ensure-docker.sh; nothing to stop"
  exit 0
fi
pid="$(cat "$pidfile" 2>/dev/null || true)"
if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
  say "private dockerd is not running"
  rm -f "$state/docker-started-by-us" "$state/docker-host"
  exit 0
fi
# The pidfile could outlive its daemon and the pid be reused: check it is dockerd.
if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]]; then
  say "pid $pid from $pidfile is not dockerd; leaving it alone"
  rm -f "$state/docker-started-by-us"
  exit 0
fi

say "stopping private dockerd (pid $pid)"
kill -TERM "$pid"
deadline=$((SECONDS + grace))
while kill -0 "$pid" 2>/dev/null; do
  if ((SECONDS >= deadline)); then
    say "dockerd did not stop within ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    break
  fi
  sleep 0.2
done
rm -f "$state/docker-started-by-us" "$state/docker-host"
say "stopped"

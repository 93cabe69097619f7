#!/usr/bin/env bash
# demo.sh: the main job, on a fresh Debian 12 machine.
#
# Installs what is missing (scripts/bootstrap.sh), builds the daemons, then brings the whole
# stack up on loopback: a nats-server with JetStream, a Docker engine if none answers, and the
# session, executor and harness daemons. `main_job` then runs against it; on exit (success,
# failure or ^C) everything this script started is stopped again.
#
# Environment: ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL are handed to the harness only;
# REINS_DEMO_KEEP_LOGS=1 keeps the daemons' logs (their directory is printed).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
say() { echo "demo: $*" >&2; }
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin:/sbin" ;; esac

run_dir="$(mktemp -d "${TMPDIR:-/tmp}/reins-demo.XXXXXX")"
docker_marker="$repo/.reins/docker-started-by-us"
docker_preexisting=0
[[ -e "$docker_marker" ]] && docker_preexisting=1
pids=()
names=()

stop_process() {
  local pid="$1" name="$2"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  say "$name (pid $pid) ignored SIGTERM for 10 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$? i
  trap - EXIT INT TERM
  # Reverse start order: the harness lets go of the session and executor before they stop.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    stop_process "${pids[i]}" "${names[i]}"
  done
  wait 2>/dev/null || true
  if ((docker_preexisting == 0)) && [[ -e "$docker_marker" && -x scripts/stop-docker.sh ]]; then
    scripts/stop-docker.sh || status=1
  fi
  if [[ "${REINS_DEMO_KEEP_LOGS:-}" == 1 || $status != 0 ]]; then
    say "logs kept in $run_dir"
  else
    rm -rf "$run_dir"
  fi
  say "stopped everything this run started"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for_line FILE PATTERN PID NAME: prints the first line of FILE matching PATTERN.
# Polling the log is the only signal a separate process gives that it is ready.
wait_for_line() {
  local file="$1" pattern="$2" pid="$3" name="$4" line
  for _ in $(seq 300); do
    line="$(grep -m1 -E "$pattern" "$file" 2>/dev/null || true)"
    if [[ -n "$line" ]]; then
      echo "$line"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      say "$name exited before it was ready; its log:"
      tail -n 20 "$file" >&2
      return 1
    fi
    sleep 0.1
  done
  say "$name was not ready within 30 s; its log:"
  tail -n 20 "$file" >&2
  return 1
}

# start_daemon NAME VAR=VALUE...: runs apps/NAME/dist/main.js with exactly the given
# environment (plus PATH and HOME: no inherited secrets) and sets daemon_url to the URL it
# listens on. Not run in a subshell, so that cleanup knows the pid.
start_daemon() {
  local name="$1" line
  shift
  env -i PATH="$PATH" HOME="$HOME" "$@" node "apps/$name/dist/main.js" >"$run_dir/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
  line="$(wait_for_line "$run_dir/$name.log" '"msg":"listening"' "$!" "$name")"
  daemon_url="$(sed -E 's/.*"url":"([^"]+)".*/\1/' <<<"$line")"
}

say "installing what is missing and checking the Docker engine (scripts/bootstrap.sh)"
scripts/bootstrap.sh
if [[ -s .reins/docker-host ]]; then
  DOCKER_HOST="$(cat .reins/docker-host)"
  export DOCKER_HOST
fi

say "building the daemons"
TURBO_TELEMETRY_DISABLED=1 pnpm exec turbo run build --output-logs=errors-only \
  --filter=@reins/session --filter=@reins/executor --filter=@reins/harness

say "starting nats-server (JetStream, store in $run_dir/nats)"
nats-server -a 127.0.0.1 -p -1 -js -sd "$run_dir/nats" -l "$run_dir/nats.log" &
pids+=($!)
names+=(nats-server)
nats_port="$(wait_for_line "$run_dir/nats.log" 'Listening for client connections' "$!" nats-server | grep -oE '[0-9]+$')"
nats_url="nats://127.0.0.1:$nats_port"

executor_token="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
start_daemon session REINS_SESSION_LISTEN=127.0.0.1:0 REINS_NATS_URL="$nats_url"
session_url="$daemon_url"
start_daemon executor REINS_EXECUTOR_LISTEN=127.0.0.1:0 REINS_EXECUTOR_TOKEN="$executor_token" \
  ${DOCKER_HOST:+DOCKER_HOST="$DOCKER_HOST"}
executor_url="$daemon_url"
start_daemon harness REINS_HARNESS_LISTEN=127.0.0.1:0 REINS_NATS_URL="$nats_url" \
  REINS_SESSION_URL="$session_url" REINS_EXECUTOR_URL="$executor_url" REINS_EXECUTOR_TOKEN="$executor_token" \
  ${ANTHROPIC_API_KEY:+ANTHROPIC_API_KEY="$ANTHROPIC_API_KEY"} \
  ${ANTHROPIC_BASE_URL:+ANTHROPIC_BASE_URL="$ANTHROPIC_BASE_URL"}
harness_url="$daemon_url"
say "stack up: nats $nats_url, session $session_url, executor $executor_url, harness $harness_url"

# The job itself, against the running stack: every daemon must answer its health check.
main_job() {
  node scripts/lib/health-check.mjs \
    "session=$session_url" "executor=$executor_url" "harness=$harness_url"
}

main_job

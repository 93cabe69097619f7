#!/usr/bin/env bash
# demo.sh: the main job, on a fresh Debian 12 machine.
#
# Installs what is missing (scripts/bootstrap.sh: system packages, dependencies, a Docker
# engine if none answers, the sandbox images), builds everything, brings the stack up with
# `reins up --detach` (nats-server with JetStream, the executor, session and harness daemons,
# and the bundled scripted model when no ANTHROPIC_API_KEY is set), runs a task that needs
# tools in real containers with `reins run`, prints the transcript, and stops everything it
# started again (`reins down`) on success, failure or ^C.
#
# With ANTHROPIC_API_KEY (and optionally ANTHROPIC_BASE_URL) the task runs on Claude.
# REINS_DEMO_TASK replaces the task; REINS_DEMO_KEEP=1 leaves the stack running.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
say() { echo "demo: $*" >&2; }
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin:/sbin" ;; esac
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

task="${REINS_DEMO_TASK:-Write a Python script that prints the first 10 primes, run it, and report the output.}"
# A state directory of its own: the demo never touches a stack started by `reins up` elsewhere.
state_dir="$(mktemp -d "${TMPDIR:-/tmp}/reins-demo.XXXXXX")"
export REINS_STATE_DIR="$state_dir"
reins() { node "$repo/apps/cli/dist/main.js" "$@"; }

stack_up=0
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if ((stack_up)) && [[ "${REINS_DEMO_KEEP:-}" != 1 ]]; then
    # The state directory is the demo's own, so every session in it is the demo's: delete
    # them with their workspace volumes, which would otherwise outlive the stack.
    local ids
    ids="$(reins sessions --json --limit 1000 2>/dev/null | sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p')" || true
    if [[ -n "$ids" ]]; then
      # shellcheck disable=SC2086 # one argument per id
      reins delete $ids >/dev/null || status=1
    fi
    say "stopping the stack"
    reins down || status=1
  fi
  if [[ "${REINS_DEMO_KEEP:-}" == 1 || $status != 0 ]]; then
    say "state and logs kept in $state_dir"
  else
    rm -rf "$state_dir"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "installing what is missing and checking the Docker engine (scripts/bootstrap.sh)"
scripts/bootstrap.sh
if [[ -s .reins/docker-host ]]; then
  DOCKER_HOST="$(cat .reins/docker-host)"
  export DOCKER_HOST
fi

say "building"
pnpm exec turbo run build --output-logs=errors-only

stack_up=1
reins up --detach --free-ports

say "task: $task"
reins run "$task"
echo
reins sessions --limit 1

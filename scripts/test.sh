#!/usr/bin/env bash
# test.sh: the whole test suite, exactly as CI runs it (.ci/run), on a fresh Debian 12 machine.
#
#   1. scripts/bootstrap.sh: system packages, pnpm, dependencies, a Docker engine, sandbox images;
#      then scripts/doctor.sh, which stops the run with a list of anything still missing;
#   2. contracts: generated code is current (`buf generate` leaves no diff) and no breaking change
#      (`buf breaking`, see breaking_baseline below);
#   3. `turbo run lint` (biome with warnings as errors, buf lint), `build`, `typecheck`;
#   4. `turbo run test`: every package's vitest suite, one package at a time (see below);
#   5. leak checks: no process from this run and (when this run started the Docker engine) no
#      container may outlive the tests.
#
# Every step runs even when an earlier one failed (except tests, which need a build), so one run
# shows every problem. Exits non-zero on any failure. The last line is always
#   tests: <passed> passed, <failed> failed
# Whatever this run started (a private dockerd) is stopped on exit, including on failure or ^C.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 NO_UPDATE_NOTIFIER=1

# Processes started by this run inherit this marker, which lets the leak check find stragglers
# without confusing them with anything else running on the machine.
run_id="reins-test-$$-$RANDOM$RANDOM"
export REINS_TEST_RUN="$run_id"
report_dir="$(mktemp -d "${TMPDIR:-/tmp}/reins-test-reports.XXXXXX")"
export REINS_TEST_REPORT_DIR="$report_dir"

# scripts/ensure-docker.sh leaves this marker when it starts a private dockerd; if it is absent
# now and present later, this run started the engine and must stop it.
docker_marker="$repo/.reins/docker-started-by-us"
docker_preexisting=0
[[ -e "$docker_marker" ]] && docker_preexisting=1

summary_line="tests: 0 passed, 0 failed"
cleanup() {
  local status=$?
  if ((docker_preexisting == 0)) && [[ -e "$docker_marker" && -x scripts/stop-docker.sh ]]; then
    scripts/stop-docker.sh || status=1
  fi
  rm -rf "$report_dir"
  echo "$summary_line"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

failures=()
step() {
  local name="$1"
  shift
  local started=$SECONDS
  echo
  echo "==> $name"
  if "$@"; then
    echo "==> ok: $name ($((SECONDS - started)) s)"
    return 0
  fi
  echo "==> FAILED: $name ($((SECONDS - started)) s)"
  failures+=("$name")
  return 1
}

# The bootstrap may start the private Docker engine, which outlives the tests on purpose (cleanup
# stops it): it must not carry the marker, or the leak check would report the engine itself.
if ! step "bootstrap" env -u REINS_TEST_RUN scripts/bootstrap.sh; then
  echo "bootstrap failed: nothing else can run" >&2
  exit 1
fi
# Whatever the bootstrap could not install (no root, no Node 20, a package the archive lacks) is
# named here with what provides it, instead of surfacing later as a test's obscure failure.
if ! step "prerequisites (scripts/doctor.sh)" scripts/doctor.sh --quiet; then
  echo "missing prerequisites: nothing else can run" >&2
  exit 1
fi
if [[ -s .reins/docker-host ]]; then
  DOCKER_HOST="$(cat .reins/docker-host)"
  export DOCKER_HOST
fi

# --- contracts ------------------------------------------------------------------------------
generated_code_is_current() {
  pnpm exec buf generate || return 1
  local diff
  diff="$(git status --porcelain --untracked-files=all -- packages/proto/src/gen)"
  if [[ -n "$diff" ]]; then
    echo "buf generate changed the committed code; run \`pnpm exec buf generate\` and commit:" >&2
    echo "$diff" >&2
    return 1
  fi
}

# What to compare the contracts against:
#   - on a branch other than main: the commit where it left main (merge-base), so the check
#     covers exactly what the branch changes, whatever has landed on main since;
#   - on main itself, which is what CI checks out: HEAD~1 (plus any uncommitted edits), i.e. did
#     the newest commit break the wire or source contract; comparing main with itself would
#     always pass;
#   - no parent (the first commit) or a shallow clone without history: nothing to compare with,
#     so the check is skipped and says so.
breaking_baseline() {
  local branch base
  branch="$(git symbolic-ref --short -q HEAD || true)"
  if [[ "$branch" != main ]]; then
    for base in refs/heads/main refs/remotes/origin/main; do
      if git rev-parse -q --verify "$base" >/dev/null; then
        git merge-base HEAD "$base" && return 0
      fi
    done
  fi
  git rev-parse -q --verify 'HEAD~1^{commit}'
}

no_breaking_changes() {
  local base
  if ! base="$(breaking_baseline)"; then
    echo "no earlier commit to compare the contracts with (first commit or shallow clone): skipped"
    return 0
  fi
  echo "comparing proto/ with commit ${base:0:12}"
  pnpm exec buf breaking --against ".git#ref=$base"
}

step "generated code is current (buf generate)" generated_code_is_current
step "no breaking contract changes (buf breaking)" no_breaking_changes

# --- lint, build, typecheck ---------------------------------------------------------------
step "lint (biome ci --error-on-warnings, buf lint)" pnpm exec turbo run lint
build_ok=0
step "build" pnpm exec turbo run build && build_ok=1
# After the build, every package's dependencies have fresh .d.ts files: checking against them
# (no "@reins/source" condition) instead of re-checking their sources in every dependent
# package gives the same verdict for about 40% less CPU. Each package's own sources, tests
# included, are still checked by its own typecheck task.
if ((build_ok)); then
  step "typecheck" pnpm exec turbo run typecheck --continue=always -- --customConditions null
else
  step "typecheck" pnpm exec turbo run typecheck --continue=always
fi

# --- tests --------------------------------------------------------------------------------
# Packages run one at a time by default (REINS_TEST_CONCURRENCY overrides it); inside a package
# vitest still runs files in parallel. Measured on a 2-core machine from a fresh clone: 580 s
# one at a time, 361 s two at a time, but at two a timing-sensitive fault test (a NATS
# cluster electing a new leader after its leader is killed) failed on a loaded machine.
# `--only`: lint, build and typecheck ran above; a lint failure must not hide test results.
test_concurrency="${REINS_TEST_CONCURRENCY:-1}"
if ((build_ok)); then
  step "tests (turbo run test)" pnpm exec turbo run test --only --concurrency="$test_concurrency" --continue=always
else
  echo "build failed: tests not run" >&2
  failures+=("tests (not run: build failed)")
fi

# --- leaks --------------------------------------------------------------------------------
descends_from_us() {
  local pid="$1"
  while [[ -n "$pid" && "$pid" != 0 && "$pid" != 1 ]]; do
    [[ "$pid" == "$$" ]] && return 0
    pid="$(awk '{ sub(/^.*\) /, ""); print $2 }' "/proc/$pid/stat" 2>/dev/null)"
  done
  return 1
}

no_leaked_processes() {
  local pid cmd leaked=()
  for pid in $(grep -lsz "^REINS_TEST_RUN=$run_id\$" /proc/[0-9]*/environ | cut -d/ -f3); do
    # This shell and its own helpers (subshells, grep) carry the marker too; a leaked process
    # has been re-parented away from it.
    descends_from_us "$pid" && continue
    # Gone by now (grep and cut themselves, a process that just exited) or a zombie: not a leak.
    cmd="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || continue
    [[ -n "$cmd" ]] || continue
    leaked+=("$pid $cmd")
  done
  if ((${#leaked[@]} > 0)); then
    echo "processes started by the tests are still running:" >&2
    printf '  %s\n' "${leaked[@]}" >&2
    return 1
  fi
}

no_leaked_containers() {
  # Only an engine this run started is ours alone; a shared one may hold anyone's containers.
  if ((docker_preexisting == 1)) || [[ ! -e "$docker_marker" ]]; then
    echo "Docker engine not started by this run: container leak check skipped"
    return 0
  fi
  local left
  left="$(docker ps --all --format '{{.ID}} {{.Image}} {{.Status}} {{.Names}}')" || return 1
  if [[ -n "$left" ]]; then
    echo "containers left behind by the tests:" >&2
    echo "$left" >&2
    return 1
  fi
}

step "no leaked processes" no_leaked_processes
step "no leaked containers" no_leaked_containers

summary="$(node scripts/lib/test-summary.mjs "$report_dir" "$repo")"
summary_line="$(tail -n 1 <<<"$summary")"
sed '$d' <<<"$summary"

echo
if ((${#failures[@]} > 0)); then
  echo "FAILED steps:"
  printf '  - %s\n' "${failures[@]}"
  exit 1
fi
echo "all steps passed"

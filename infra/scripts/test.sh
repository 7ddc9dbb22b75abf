#!/usr/bin/env bash
# `make test`: installs what is missing, starts the infrastructure (test profile, its own ports
# and state directory so it can run beside `make dev`), runs format check, lint, type check and
# every test suite, stops the infrastructure (also on failure or Ctrl-C) and exits non-zero if
# anything failed.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bootstrap.sh
source "$here/bootstrap.sh"
# shellcheck source=infra.sh
source "$here/infra.sh"

export PARLEY_PROFILE=test
: "${KAFKA_PORT:=19092}" "${KAFKA_CONTROLLER_PORT:=19093}" "${REGISTRY_PORT:=18081}" \
  "${REGISTRY_MANAGEMENT_PORT:=19081}" "${MONGO_PORT:=37017}"
export KAFKA_PORT KAFKA_CONTROLLER_PORT REGISTRY_PORT REGISTRY_MANAGEMENT_PORT MONGO_PORT
reports="$repo/.parley/test/reports"
started=$SECONDS

ensure_node
ensure_pnpm
install_dependencies
rm -rf "$reports" && mkdir -p "$reports"

failed=()
declare -A bg_pids=()
cleanup() {
  [ -n "${infra_pid:-}" ] && kill "$infra_pid" 2>/dev/null
  local entry
  for entry in "${bg_pids[@]}"; do kill "${entry%%:*}" 2>/dev/null; done
  step "stopping the infrastructure"
  infra_stop
  S3_PORT="$s3_port" "$repo/infra/native/s3proxy/s3proxy.sh" stop 2>/dev/null || true
  # Last, so that the end of a CI log says what failed and why.
  if [ "${#failed[@]}" -gt 0 ]; then
    printf '\033[31mFAILED:\033[0m %s\n' "${failed[@]}" >&2
    node "$here/test-summary.mjs" "$reports" --why >&2 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The servers take ~40 s to start; the static checks run meanwhile.
step "starting the infrastructure in the background (log: .parley/test/infra-start.log)"
mkdir -p "$repo/.parley/test"
ensure_java
( infra_start ) >"$repo/.parley/test/infra-start.log" 2>&1 &
infra_pid=$!
# The S3-compatible server the media service's S3 adapter is tested against (ADR 0013).
: "${s3_port:=19000}"
( S3_PORT="$s3_port" "$repo/infra/native/s3proxy/s3proxy.sh" start ) >"$repo/.parley/test/s3proxy-start.log" 2>&1 &
s3_pid=$!

stage() {
  local name="$1"
  shift
  step "$name"
  local t0=$SECONDS
  if (cd "$repo" && "$@"); then
    note "$name passed in $((SECONDS - t0))s"
  else
    note "$name FAILED after $((SECONDS - t0))s"
    failed+=("$name")
  fi
}

# A stage run in the background, beside the next ones (the machine has two cores and most stages
# use one): its output goes to a log, printed when `join_stage` collects it.
bg_stage() {
  local name="$1"
  shift
  local log="$repo/.parley/test/stage-${#bg_pids[@]}.log"
  note "$name: started in the background"
  (
    cd "$repo" || exit 1
    t0=$SECONDS
    if "$@" >"$log" 2>&1; then echo "passed in $((SECONDS - t0))s" >>"$log"; else
      echo "FAILED after $((SECONDS - t0))s" >>"$log"
      exit 1
    fi
  ) &
  bg_pids["$name"]="$!:$log"
}
join_stage() {
  local name="$1" pid log
  pid="${bg_pids[$name]%%:*}"
  log="${bg_pids[$name]#*:}"
  step "$name"
  if wait "$pid"; then
    sed 's/^/    /' "$log" >&2
    note "$name $(tail -n 1 "$log")"
  else
    cat "$log" >&2
    note "$name $(tail -n 1 "$log")"
    failed+=("$name")
  fi
}

bg_stage "format check (prettier)" pnpm exec prettier --check --log-level warn .
stage "type check and build (tsc -b)" pnpm exec tsc -b
join_stage "format check (prettier)"
stage "layout (file size, no bench code in src/)" node infra/scripts/check-layout.mjs
stage "service Dockerfiles match their template" bash infra/docker/gen-dockerfiles.sh --check
stage "alert rules (promtool check and test, runbook links)" bash infra/prometheus/check-rules.sh
# Lint (one busy core for about three minutes) runs beside the unit tests.
bg_stage "lint (eslint, type-aware)" pnpm exec eslint --max-warnings=0 .
stage "unit tests" pnpm exec vitest run --project unit --reporter=default --reporter=json --outputFile.json="$reports/unit.json"
join_stage "lint (eslint, type-aware)"

step "waiting for the infrastructure"
if wait "$infra_pid"; then
  infra_pid=""
  sed 's/^/    /' "$repo/.parley/test/infra-start.log" | grep -E 'ready|Docker|native' >&2
  infra_env "$(infra_mode)"
  note "KAFKA_BROKERS=$KAFKA_BROKERS SCHEMA_REGISTRY_URL=$SCHEMA_REGISTRY_URL MONGO_URL=$MONGO_URL"
  if wait "$s3_pid"; then
    eval "$(S3_PORT="$s3_port" "$repo/infra/native/s3proxy/s3proxy.sh" env)"
  else
    cat "$repo/.parley/test/s3proxy-start.log" >&2
    failed+=("s3proxy start")
  fi
  stage "integration tests (real Kafka, schema registry, MongoDB-wire)" pnpm exec vitest run --project int --reporter=default --reporter=json --outputFile.json="$reports/int.json"
  stage "end-to-end tests" pnpm exec vitest run --project e2e --passWithNoTests --reporter=default --reporter=json --outputFile.json="$reports/e2e.json"
else
  infra_pid=""
  cat "$repo/.parley/test/infra-start.log" >&2
  failed+=("infrastructure start")
fi

step "summary ($((SECONDS - started))s)"
node "$here/test-summary.mjs" "$reports"
# The trap prints what failed and why, after stopping the infrastructure.
[ "${#failed[@]}" -gt 0 ] && exit 1
printf '\033[32mall checks passed\033[0m\n' >&2

# Sourced by dev.sh and test.sh: starts and stops the three servers with Docker compose when a
# Docker engine answers, with the native scripts (infra/native/infra.sh) otherwise.
# shellcheck shell=bash

infra_mode() { if docker_engine_answers; then echo docker; else echo native; fi; }

infra_start() {
  local mode
  mode="$(infra_mode)"
  if [ "$mode" = docker ]; then
    note "a Docker engine answers: using docker-compose.yml"
    (cd "$repo" && docker compose up -d --wait kafka schema-registry mongo) >&2 || fail "docker compose could not start kafka, schema-registry and mongo"
  else
    note "no Docker engine: using the native servers (infra/native/infra.sh, profile $PARLEY_PROFILE)"
    ensure_java
    "$repo/infra/native/infra.sh" start || return 1
  fi
  infra_env "$mode"
}

# Exports KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGO_URL for the servers of the given mode.
infra_env() {
  export PARLEY_INFRA_MODE="$1"
  if [ "$1" = docker ]; then
    export KAFKA_BROKERS="127.0.0.1:9092" SCHEMA_REGISTRY_URL="http://127.0.0.1:8081" \
      MONGO_URL="mongodb://127.0.0.1:27017/?directConnection=true&retryWrites=false"
  else
    eval "$("$repo/infra/native/infra.sh" env)"
  fi
}

infra_stop() {
  if [ "${PARLEY_INFRA_MODE:-native}" = docker ]; then
    (cd "$repo" && docker compose stop kafka schema-registry mongo) >&2 || true
  else
    "$repo/infra/native/infra.sh" stop || true
  fi
}

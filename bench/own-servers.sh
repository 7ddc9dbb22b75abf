# shellcheck shell=bash
# Sourced by the benchmarks that need Kafka, the registry and MongoDB: `use_servers <profile>
# <kafka> <controller> <registry> <registry management> <mongo>` keeps the servers that
# KAFKA_BROKERS, SCHEMA_REGISTRY_URL and MONGO_URL name when all three are set; otherwise it
# starts servers of its own profile and ports in this checkout's .parley/ and stops them when the
# script exits. The profile, state directory and ports are set here, never inherited: a shell set
# up for other servers (a shared environment file) must not make infra.sh stop those.
use_servers() {
  if [[ -n "${KAFKA_BROKERS:-}" && -n "${SCHEMA_REGISTRY_URL:-}" && -n "${MONGO_URL:-}" ]]; then
    echo "[bench] using the servers the environment names ($KAFKA_BROKERS)"
    return
  fi
  export PARLEY_PROFILE="$1" PARLEY_STATE_DIR="$repo/.parley/$1" KAFKA_PORT="$2" \
    KAFKA_CONTROLLER_PORT="$3" REGISTRY_PORT="$4" REGISTRY_MANAGEMENT_PORT="$5" MONGO_PORT="$6"
  trap '"$repo/infra/native/infra.sh" stop' EXIT
  "$repo/infra/native/infra.sh" start
  eval "$("$repo/infra/native/infra.sh" env)"
}

#!/usr/bin/env bash
# Parley's real dependencies without Docker: Apache Kafka (KRaft), a Confluent-API schema
# registry (Apicurio Registry) and a MongoDB-wire server (mongo-java-server), on 127.0.0.1.
#
#   infra/native/infra.sh install|start|stop|restart|status|env [kafka|registry|mongo ...]
#
# Downloads and builds are cached under $PARLEY_CACHE (default ~/.cache/parley), run state
# (pid files, logs, data) under $PARLEY_STATE_DIR (default <repo>/.parley/<profile>).
# Servers are stopped by the PIDs recorded here, never by name. `start` always begins from a
# clean slate: it stops what this state directory recorded, wipes stale data and checks ports.
# See docs/adr/0001-local-infrastructure.md for the choices and their known gaps.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

: "${PARLEY_PROFILE:=dev}"
: "${PARLEY_CACHE:=$HOME/.cache/parley}"
: "${PARLEY_STATE_DIR:=$repo/.parley/$PARLEY_PROFILE}"
: "${KAFKA_VERSION:=4.1.1}"
: "${APICURIO_VERSION:=3.3.3}"
: "${MONGO_JAVA_SERVER_VERSION:=1.47.0}"
: "${KAFKA_PORT:=9092}"
: "${KAFKA_CONTROLLER_PORT:=9093}"
: "${REGISTRY_PORT:=8081}"
: "${REGISTRY_MANAGEMENT_PORT:=9081}"
: "${MONGO_PORT:=27017}"
# MongoDB-wire storage: memory (lost on restart) or disk (an H2 MVStore file under the state
# directory, committed before each reply). `make dev` (profile dev) keeps its data on disk; the
# test profile stays in memory unless a test that restarts MongoDB asks for disk (ADR 0016).
: "${MONGO_STORAGE:=$([ "$PARLEY_PROFILE" = dev ] && echo disk || echo memory)}"
: "${INFRA_START_TIMEOUT:=90}"
: "${INFRA_STOP_TIMEOUT:=20}"

kafka_home="$PARLEY_CACHE/kafka-$KAFKA_VERSION-$(cat "$here/kafka/pom.xml" "$here/kafka/KafkaReady.java" | sha256sum | cut -c1-12)"
apicurio_home="$PARLEY_CACHE/apicurio-registry-$APICURIO_VERSION"
# Every source file counts: a change to any of them builds the server again.
mongo_src_hash="$(cat "$here/mongo/pom.xml" "$here"/mongo/src/main/java/dev/parley/infra/*.java | sha256sum | cut -c1-12)"
mongo_home="$PARLEY_CACHE/mongo-wire-$MONGO_JAVA_SERVER_VERSION-$mongo_src_hash"

log() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools

need_java_tools() {
  if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    log "installing a JDK and Maven with apt-get (java or mvn is missing)"
    apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null ||
      die "could not install openjdk-17-jdk-headless and maven; install a JDK 17+ and Maven 3.8+ and retry"
  fi
}

java_major() { "$1" -version 2>&1 | sed -nE '1s/.*version "([0-9]+).*/\1/p'; }

# Apicurio Registry 3.x is compiled for Java 21. Use $REGISTRY_JAVA_HOME, then the default
# java, then any JDK 21+ under /usr/lib/jvm.
registry_java() {
  local candidate
  for candidate in "${REGISTRY_JAVA_HOME:+$REGISTRY_JAVA_HOME/bin/java}" "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    if [ "$(java_major "$candidate")" -ge 21 ] 2>/dev/null; then echo "$candidate"; return 0; fi
  done
  return 1
}

# Maven's output goes to a log that is shown only when the build fails.
mvn_quiet() {
  local out
  out="$(mktemp)"
  if mvn -B -ntp -Dstyle.color=never "$@" >"$out" 2>&1; then rm -f "$out"; return 0; fi
  grep -E 'ERROR|BUILD' "$out" | head -n 20 >&2
  rm -f "$out"
  return 1
}

# ---------------------------------------------------------------- install

install_kafka() {
  [ -f "$kafka_home/.complete" ] && return 0
  need_java_tools
  log "installing Apache Kafka $KAFKA_VERSION from Maven Central into $kafka_home (first run only)"
  local tmp="$kafka_home.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  mvn_quiet -f "$here/kafka/pom.xml" package -Dkafka.version="$KAFKA_VERSION" -Dlibs.dir="$tmp/libs" ||
    die "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (is Maven Central reachable?)"
  # The readiness probe is compiled once so that each poll costs one JVM start, not a compile.
  mkdir -p "$tmp/probe"
  javac -d "$tmp/probe" -cp "$tmp/libs/*" "$here/kafka/KafkaReady.java" || die "could not compile the Kafka readiness probe"
  touch "$tmp/.complete"
  rm -rf "$kafka_home" && mv "$tmp" "$kafka_home"
}

install_registry() {
  [ -f "$apicurio_home/.complete" ] && return 0
  need_java_tools
  log "installing Apicurio Registry $APICURIO_VERSION from Maven Central into $apicurio_home (first run only, ~160 MB)"
  local tmp="$apicurio_home.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  mvn_quiet org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" -DoutputDirectory="$tmp" ||
    die "Maven could not fetch io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all"
  tar -xzf "$tmp/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" -C "$tmp"
  rm -f "$tmp/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
  [ -f "$tmp/quarkus-run.jar" ] || die "the Apicurio archive has no quarkus-run.jar; its layout changed"
  touch "$tmp/.complete"
  rm -rf "$apicurio_home" && mv "$tmp" "$apicurio_home"
}

install_mongo() {
  [ -f "$mongo_home/.complete" ] && return 0
  need_java_tools
  log "building the MongoDB-wire server (mongo-java-server $MONGO_JAVA_SERVER_VERSION) into $mongo_home (first run only)"
  local tmp="$mongo_home.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  mvn_quiet -f "$here/mongo/pom.xml" package -Dmongo-java-server.version="$MONGO_JAVA_SERVER_VERSION" -Dlibs.dir="$tmp/libs" ||
    die "Maven could not build infra/native/mongo (mongo-java-server $MONGO_JAVA_SERVER_VERSION)"
  touch "$tmp/.complete"
  rm -rf "$mongo_home" && mv "$tmp" "$mongo_home"
}

# ---------------------------------------------------------------- process bookkeeping

pid_file() { echo "$PARLEY_STATE_DIR/run/$1.pid"; }
log_file() { echo "$PARLEY_STATE_DIR/logs/$1.log"; }

# The pid in the file is ours only if that process still carries our state directory marker;
# a recycled pid belonging to something else is never signalled.
recorded_pid() {
  local file pid
  file="$(pid_file "$1")"
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-Dparley.infra=$PARLEY_STATE_DIR/$1" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_port_free() {
  local name="$1" port="$2" var="$3"
  port_open "$port" || return 0
  local holder=""
  command -v ss >/dev/null && holder="$(ss -ltnpH "sport = :$port" 2>/dev/null | sed -nE 's/.*users:\(\("([^"]+)",pid=([0-9]+).*/\1 (pid \2)/p' | head -n1)"
  die "$name cannot start: 127.0.0.1:$port is already in use${holder:+ by $holder}. Stop that process or choose another port, e.g. $var=$((port + 10000))"
}

stop_one() {
  local name="$1" pid waited=0
  if pid="$(recorded_pid "$name")"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$waited" -ge $((INFRA_STOP_TIMEOUT * 10)) ]; then
        log "$name did not stop within ${INFRA_STOP_TIMEOUT}s; killing pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
        # Wait for it to be gone: a JVM killed mid-shutdown still holds its ports and its data
        # directory's lock for a moment, and the next start must not race it (issue 26).
        local gone=0
        while kill -0 "$pid" 2>/dev/null && [ "$gone" -lt 300 ]; do sleep 0.1; gone=$((gone + 1)); done
        break
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
  fi
  rm -f "$(pid_file "$name")"
}

# Launch in its own session so Ctrl-C in a terminal does not reach it before we stop it in order.
launch() {
  local name="$1"
  shift
  mkdir -p "$PARLEY_STATE_DIR/run" "$PARLEY_STATE_DIR/logs"
  : >"$(log_file "$name")"
  setsid "$@" >>"$(log_file "$name")" 2>&1 </dev/null &
  echo $! >"$(pid_file "$name")"
}

wait_ready() {
  local name="$1" check="$2" deadline=$((SECONDS + INFRA_START_TIMEOUT)) last=""
  local pid
  pid="$(cat "$(pid_file "$name")")"
  while [ "$SECONDS" -lt "$deadline" ]; do
    # kill -0 on the pid just launched (the marker check of recorded_pid could race with exec).
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$(log_file "$name")" >&2 || true
      die "$name exited during start-up; its log is $(log_file "$name") (last lines above)"
    fi
    if last="$($check 2>&1)"; then
      log "$name ready ($last) in $((SECONDS - started_at))s"
      return 0
    fi
    sleep 1
  done
  tail -n 30 "$(log_file "$name")" >&2 || true
  stop_one "$name"
  die "$name was not ready within ${INFRA_START_TIMEOUT}s (last check: $last); its log is $(log_file "$name")"
}

# ---------------------------------------------------------------- health checks

# Two steps, so that a failure says which: the port (a KRaft broker opens its client listener only
# once the controller has unfenced it), then a real admin round trip. The probe's timeouts
# (KAFKA_PROBE_TIMEOUT_S, 10 s) are wall-clock inside a fresh JVM: on a saturated machine a few
# seconds do not even cover its class loading, and a fixed 5 s probe failed every poll (issue 26).
health_kafka() {
  local port="${1:-$KAFKA_PORT}"
  port_open "$port" || { echo "kafka not listening on 127.0.0.1:$port (starting, or not yet unfenced: see the broker's log)"; return 1; }
  java -XX:TieredStopAtLevel=1 -Xshare:auto -cp "$kafka_home/probe:$kafka_home/libs/*" \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=error -Dparley.probe.timeout.s="${KAFKA_PROBE_TIMEOUT_S:-10}" \
    KafkaReady "127.0.0.1:$port"
}

# The broker's own start-up phases at INFO in its log (registration, RECOVERY, unfencing, the
# waits of BrokerServer), the rest at WARN: a broker that does not come back says where it stopped.
kafka_log_opts=(-Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.showDateTime=true
  -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS
  -Dorg.slf4j.simpleLogger.log.kafka.server.BrokerServer=info
  -Dorg.slf4j.simpleLogger.log.kafka.server.BrokerLifecycleManager=info
  -Dorg.slf4j.simpleLogger.log.kafka.server.ControllerServer=info)

health_registry() {
  local body
  body="$(curl -fsS --max-time 3 "http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7/subjects")" || return 1
  case "$body" in
    "[]") echo "Confluent API answers, no subjects" ;;
    \[*) echo "Confluent API answers, $(($(tr -cd ',' <<<"$body" | wc -c) + 1)) subjects" ;;
    *) return 1 ;;
  esac
}

health_mongo() {
  port_open "$MONGO_PORT" && echo "wire port $MONGO_PORT open"
}

# ---------------------------------------------------------------- start

start_kafka() {
  install_kafka
  stop_one kafka
  ensure_port_free kafka "$KAFKA_PORT" KAFKA_PORT
  ensure_port_free "kafka controller" "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT
  local dir="$PARLEY_STATE_DIR/kafka"
  local cp="$kafka_home/libs/*"
  # KAFKA_KEEP_DATA=1 restarts on the data of the previous run (a broker restart that keeps its
  # log, as in production); otherwise every start formats a new, empty cluster.
  if [ "${KAFKA_KEEP_DATA:-0}" = 1 ] && [ -f "$dir/data/meta.properties" ]; then
    log "keeping the previous run's Kafka data in $dir/data"
  else
    rm -rf "$dir" && mkdir -p "$dir/data"
  fi
  KAFKA_DATA_DIR="$dir/data" KAFKA_PORT="$KAFKA_PORT" KAFKA_CONTROLLER_PORT="$KAFKA_CONTROLLER_PORT" \
    envsubst_lite <"$here/kafka/server.properties.template" >"$dir/server.properties"
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster_id
    cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    java -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" --ignore-formatted \
      >"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; die "formatting the KRaft storage failed"; }
  fi
  started_at=$SECONDS
  log "starting kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  # shellcheck disable=SC2086 # KAFKA_JVM_OPTS is a list of options
  launch kafka java -Xms256m -Xmx${KAFKA_HEAP:-512m} -XX:+UseG1GC ${KAFKA_JVM_OPTS:-} -Dparley.infra="$PARLEY_STATE_DIR/kafka" \
    "${kafka_log_opts[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties"
  wait_ready kafka health_kafka
}

start_registry() {
  install_registry
  local java_bin
  java_bin="$(registry_java)" ||
    die "Apicurio Registry $APICURIO_VERSION needs Java 21 or newer and none was found; install one (e.g. a Temurin 21+ JDK) and set REGISTRY_JAVA_HOME"
  stop_one registry
  ensure_port_free registry "$REGISTRY_PORT" REGISTRY_PORT
  ensure_port_free "registry management" "$REGISTRY_MANAGEMENT_PORT" REGISTRY_MANAGEMENT_PORT
  started_at=$SECONDS
  log "starting Apicurio Registry $APICURIO_VERSION (Confluent API at /apis/ccompat/v7) on 127.0.0.1:$REGISTRY_PORT"
  launch registry "$java_bin" -Xms64m -Xmx${REGISTRY_HEAP:-384m} -Dparley.infra="$PARLEY_STATE_DIR/registry" \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MANAGEMENT_PORT" \
    -Dquarkus.http.access-log.enabled=false -Dquarkus.log.level=WARN \
    -jar "$apicurio_home/quarkus-run.jar"
  wait_ready registry health_registry
}

start_mongo() {
  install_mongo
  stop_one mongo
  ensure_port_free mongo "$MONGO_PORT" MONGO_PORT
  local storage_args=() where="in memory"
  case "$MONGO_STORAGE" in
    memory) ;;
    disk)
      # Like Kafka's log: a start begins empty unless MONGO_KEEP_DATA=1 (by default whatever
      # KAFKA_KEEP_DATA says, so the read models never outlive the log they were built from).
      local dir="$PARLEY_STATE_DIR/mongo"
      if [ "${MONGO_KEEP_DATA:-${KAFKA_KEEP_DATA:-0}}" = 1 ] && [ -f "$dir/data.mv.db" ]; then
        log "keeping the previous run's MongoDB data in $dir/data.mv.db"
      else
        rm -rf "$dir" && mkdir -p "$dir"
      fi
      storage_args=("$dir/data.mv.db") where="on disk in $dir"
      ;;
    *) die "MONGO_STORAGE must be memory or disk, not '$MONGO_STORAGE'" ;;
  esac
  started_at=$SECONDS
  log "starting the MongoDB-wire server (mongo-java-server $MONGO_JAVA_SERVER_VERSION, $where) on 127.0.0.1:$MONGO_PORT"
  # C1 only (-XX:TieredStopAtLevel=1): on two cores C2's compilations cost about a third of the
  # server's CPU in a benchmark's minutes (docs/benchmarks.md, 2026-12-07: 0.86 against 1.27 ms per send);
  # MONGO_JVM_OPTS comes after it, so MONGO_JVM_OPTS=-XX:TieredStopAtLevel=4 restores C2.
  # shellcheck disable=SC2086 # MONGO_JVM_OPTS is a list of options
  launch mongo java -Xms64m -Xmx${MONGO_HEAP:-1g} -XX:TieredStopAtLevel=1 ${MONGO_JVM_OPTS:-} -Dparley.infra="$PARLEY_STATE_DIR/mongo" \
    -Dparley.mongo.oplog="${MONGO_OPLOG:-false}" -Dparley.mongo.dataSize="${MONGO_DATA_SIZE:-false}" \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$mongo_home/libs/*" dev.parley.infra.MongoWireServer 127.0.0.1 "$MONGO_PORT" \
    "${storage_args[@]}"
  wait_ready mongo health_mongo
}

# ${VAR} substitution for the templates above without depending on gettext's envsubst.
envsubst_lite() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    while [[ "$line" =~ \$\{([A-Z_][A-Z0-9_]*)\} ]]; do
      local var="${BASH_REMATCH[1]}"
      line="${line//\$\{$var\}/${!var}}"
    done
    printf '%s\n' "$line"
  done
}

# ---------------------------------------------------------------- status and env

status() {
  local name pid
  for name in "$@"; do
    if pid="$(recorded_pid "$name")"; then
      local rss
      rss="$(awk '/VmRSS/ {print int($2/1024) " MB"}' "/proc/$pid/status" 2>/dev/null || echo "?")"
      if out="$("health_$name" 2>&1)"; then
        printf '%-9s running  pid %-7s rss %-8s %s\n' "$name" "$pid" "$rss" "$out"
      else
        printf '%-9s running  pid %-7s rss %-8s NOT READY: %s\n' "$name" "$pid" "$rss" "$out"
      fi
    else
      printf '%-9s stopped\n' "$name"
    fi
  done
}

print_env() {
  cat <<EOF
export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export SCHEMA_REGISTRY_URL=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7
export MONGO_URL='mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true&retryWrites=false'
export PARLEY_KAFKA_VERSION=$KAFKA_VERSION PARLEY_REGISTRY_SERVER="Apicurio Registry $APICURIO_VERSION" PARLEY_MONGO_SERVER="mongo-java-server $MONGO_JAVA_SERVER_VERSION"
EOF
}

# The opt-in SCRAM-over-TLS broker (start kafka-secure, env-secure).
# shellcheck source=kafka/secure.sh
source "$here/kafka/secure.sh"
# The opt-in three-node cluster (start kafka-cluster, env-cluster; kafka-node-1..3 one at a time).
# shellcheck source=kafka/cluster.sh
source "$here/kafka/cluster.sh"

# ---------------------------------------------------------------- main

cmd="${1:-}"
shift || true
servers=("$@")
[ "${#servers[@]}" -gt 0 ] || servers=(kafka registry mongo)
for s in "${servers[@]}"; do
  case "$s" in kafka | registry | mongo | kafka-secure | kafka-cluster | kafka-node-[123]) ;; *) die "unknown server '$s' (use kafka, registry, mongo, kafka-secure, kafka-cluster or kafka-node-1..3)" ;; esac
done

case "$cmd" in
  install) for s in "${servers[@]}"; do "install_$s"; done ;;
  start | restart) for s in "${servers[@]}"; do "start_$s"; done ;;
  stop)
    # Reverse order: clients of Kafka first would be ours to stop, the broker last.
    for ((i = ${#servers[@]} - 1; i >= 0; i--)); do
      if [ "${servers[$i]}" = kafka-cluster ]; then
        for n in 3 2 1; do stop_one "kafka-node-$n"; done
      else stop_one "${servers[$i]}"; fi
    done ;;
  status)
    for s in "${servers[@]}"; do
      if [ "$s" = kafka-cluster ]; then status kafka-node-1 kafka-node-2 kafka-node-3; else status "$s"; fi
    done ;;
  env) print_env ;;
  env-cluster) print_cluster_env ;;
  env-secure) print_secure_env ;;
  *) die "usage: infra/native/infra.sh install|start|stop|restart|status|env|env-secure|env-cluster [kafka|registry|mongo|kafka-secure|kafka-cluster|kafka-node-1..3 ...]" ;;
esac

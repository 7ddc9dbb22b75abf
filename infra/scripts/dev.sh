#!/usr/bin/env bash
# `make dev`: installs what is missing, builds, starts the infrastructure (Docker compose when a
# Docker engine answers, the native servers otherwise), starts the six services, waits until
# each is ready, prints where everything listens, and on Ctrl-C stops every process it started.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bootstrap.sh
source "$here/bootstrap.sh"
# shellcheck source=infra.sh
source "$here/infra.sh"

export PARLEY_PROFILE=dev
# PARLEY_DEV_STATE and PARLEY_DEV_PORT_OFFSET let a second stack run beside this one (the
# first-hour test does): every port below, the native servers' included, moves by the offset.
state="${PARLEY_DEV_STATE:-$repo/.parley/dev}"
export PARLEY_STATE_DIR="$state"
: "${PARLEY_DEV_PORT_OFFSET:=0}"
off=$PARLEY_DEV_PORT_OFFSET
export KAFKA_PORT=$((9092 + off)) KAFKA_CONTROLLER_PORT=$((9093 + off)) \
  REGISTRY_PORT=$((8081 + off)) REGISTRY_MANAGEMENT_PORT=$((9081 + off)) MONGO_PORT=$((27017 + off))
services=(ingress router sender media consent projection campaigns)
declare -A port=()
for entry in ingress:8080 router:8082 sender:8083 media:8084 consent:8085 projection:8086 campaigns:8087; do
  port[${entry%%:*}]=$((${entry##*:} + off))
done
declare -A pid=()
: "${DEV_READY_TIMEOUT:=60}"

ensure_node
ensure_pnpm
install_dependencies
build_workspace
mkdir -p "$state/logs"

# Per-checkout secrets (ops token, simulator app secret and access token), kept out of the
# repo and out of the logs.
secret() {
  local file="$state/$1"
  if [ ! -s "$file" ]; then
    (umask 077 && node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("base64url"))' >"$file")
  fi
  echo "$file"
}
token_file="$(secret ops-token)"
sim_app_secret_file="$(secret sim-app-secret)"
sim_access_token_file="$(secret sim-access-token)"
# ingress verifies webhooks with the simulator's app secret; the verify token is its own.
wa_verify_token_file="$(secret wa-verify-token)"
webhook_port=$((8088 + off))
send_api_port=$((8090 + off))
: "${SIM_PORT:=$((4010 + off))}"

# The HTTP send API's key (docs/send-api.md): ingress is given only its SHA-256.
send_api_key_file="$(secret send-api-key)"
send_api_keys_file="$state/send-api-keys.json"
node -e '
  const { createHash } = require("node:crypto");
  const key = require("node:fs").readFileSync(process.argv[1], "utf8");
  const keySha256 = createHash("sha256").update(key, "utf8").digest("hex");
  const keys = [{ id: "dev", keySha256, scopes: ["messages:send", "messages:read"], requester: "dev" }];
  process.stdout.write(JSON.stringify(keys));
' "$send_api_key_file" >"$send_api_keys_file"

# The projection's query API (docs/projection-api.md): a key for you (scopes read and pii) and a
# service key ingress asks it with for the send API's GET (ADR 0011); the projection gets hashes.
query_api_port=$((8091 + off))
query_api_key_file="$(secret query-api-key)"
ingress_query_key_file="$(secret ingress-query-api-key)"
query_api_keys_file="$state/query-api-keys.json"
node -e '
  const { createHash } = require("node:crypto");
  const { readFileSync } = require("node:fs");
  const sha = (file) => createHash("sha256").update(readFileSync(file, "utf8"), "utf8").digest("hex");
  const keys = [
    { id: "dev", keySha256: sha(process.argv[1]), scopes: ["read", "pii"] },
    { id: "ingress", keySha256: sha(process.argv[2]), scopes: ["read", "pii"] },
  ];
  process.stdout.write(JSON.stringify(keys));
' "$query_api_key_file" "$ingress_query_key_file" >"$query_api_keys_file"

# The media API (docs/media-api.md): a key for you (read, write, delete, erase); media gets its
# hash. Media's key-encryption key (ADR 0013) is a per-checkout secret, objects live in
# $state/media.
media_api_port=$((8093 + off))
media_api_key_file="$(secret media-api-key)"
# The sender's own key (scope send): it turns a Parley upload into a Graph media id (ADR 0013).
sender_media_key_file="$(secret sender-media-api-key)"
media_api_keys_file="$state/media-api-keys.json"
node -e '
  const { createHash } = require("node:crypto");
  const sha = (file) => createHash("sha256").update(require("node:fs").readFileSync(file, "utf8"), "utf8").digest("hex");
  process.stdout.write(JSON.stringify([
    { id: "dev", keySha256: sha(process.argv[1]), scopes: ["read", "write", "delete", "erase"] },
    { id: "sender", keySha256: sha(process.argv[2]), scopes: ["send"] },
  ]));
' "$media_api_key_file" "$sender_media_key_file" >"$media_api_keys_file"
media_keys_file="$state/media-keys"
if [ ! -s "$media_keys_file" ]; then
  (umask 077 && node -e 'process.stdout.write("dev-1:" + require("node:crypto").randomBytes(32).toString("base64"))' >"$media_keys_file")
fi

# The consent API (docs/consent-api.md): a key for you with every scope (the service gets its
# hash), and a master key that wraps the per-contact data keys (ADR 0012).
consent_api_port=$((8092 + off))
consent_api_key_file="$(secret consent-api-key)"
consent_api_keys_file="$state/consent-api-keys.json"
node -e '
  const { createHash } = require("node:crypto");
  const key = require("node:fs").readFileSync(process.argv[1], "utf8");
  const keySha256 = createHash("sha256").update(key, "utf8").digest("hex");
  const keys = [{ id: "dev", keySha256, scopes: ["read", "evidence", "write", "export", "erase"] }];
  process.stdout.write(JSON.stringify(keys));
' "$consent_api_key_file" >"$consent_api_keys_file"
consent_master_keys_file="$state/consent-master-keys.json"
if [ ! -s "$consent_master_keys_file" ]; then
  (umask 077 && node -e 'process.stdout.write(JSON.stringify([{ id: "dev-1", key: require("node:crypto").randomBytes(32).toString("base64") }]))' >"$consent_master_keys_file")
fi

# The campaigns API (ADR 0015, docs/campaigns-api.md): a key for you with every scope.
campaigns_api_port=$((8094 + off))
campaigns_api_key_file="$(secret campaigns-api-key)"
campaigns_api_keys_file="$state/campaigns-api-keys.json"
node -e '
  const { createHash } = require("node:crypto");
  const key = require("node:fs").readFileSync(process.argv[1], "utf8");
  const keySha256 = createHash("sha256").update(key, "utf8").digest("hex");
  process.stdout.write(JSON.stringify([{ id: "dev", keySha256, scopes: ["read", "write", "control"] }]));
' "$campaigns_api_key_file" >"$campaigns_api_keys_file"

# The business numbers router and sender serve (README, "Business numbers"): the simulator's
# default number, its token read from the per-checkout secret file.
numbers_file="$state/numbers.json"
cat >"$numbers_file" <<JSON
{
  "numbers": [
    {
      "phoneNumberId": "106540352242922",
      "wabaId": "102290129340398",
      "aliases": ["default", "orders"],
      "displayPhoneNumber": "+1 555 078 3881",
      "mps": 80,
      "accessTokenFile": "$sim_access_token_file"
    }
  ]
}
JSON

stopping=0
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap '' INT TERM
  step "stopping Parley"
  local s
  for s in "${services[@]}"; do
    [ -n "${pid[$s]:-}" ] && kill -TERM "${pid[$s]}" 2>/dev/null
  done
  local deadline=$((SECONDS + 35))
  for s in "${services[@]}"; do
    [ -n "${pid[$s]:-}" ] || continue
    while kill -0 "${pid[$s]}" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    if kill -0 "${pid[$s]}" 2>/dev/null; then
      note "$s did not stop in time; killing pid ${pid[$s]}"
      kill -KILL "${pid[$s]}" 2>/dev/null
    fi
    wait "${pid[$s]}" 2>/dev/null
    note "$s stopped"
  done
  if [ -n "${sim_pid:-}" ] && kill -0 "$sim_pid" 2>/dev/null; then
    kill -TERM "$sim_pid" 2>/dev/null
    wait "$sim_pid" 2>/dev/null
    note "cloud-api-sim stopped"
  fi
  rm -f "$state/services.pids"
  [ -n "${prometheus_port:-}" ] && prometheus_stop "$state" && note "prometheus stopped"
  infra_stop
  note "all processes stopped"
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT
# A closed terminal or pipe must not kill this script halfway through its clean-up.
trap '' PIPE

# Services a previous run left behind (killed terminal, crash) are stopped by their recorded pids.
if [ -f "$state/services.pids" ]; then
  while read -r name old; do
    if [ -r "/proc/$old/cmdline" ] && tr '\0' ' ' <"/proc/$old/cmdline" | grep -qE "services/$name/dist/main.js|cloud-api-sim/dist/cli.js"; then
      note "stopping $name left over from a previous run (pid $old)"
      kill -TERM "$old" 2>/dev/null
    fi
  done <"$state/services.pids"
  sleep 1
  rm -f "$state/services.pids"
fi

step "starting the infrastructure"
infra_start || fail "the infrastructure did not start (see above)"

step "creating topics and registering schemas from the catalog (parley-kafka provision)"
node "$repo/packages/kafka/dist/cli.js" provision >"$state/logs/provision.log" 2>&1 ||
  { cat "$state/logs/provision.log" >&2; fail "provisioning topics failed (output above)"; }
tail -n 1 "$state/logs/provision.log" | sed 's/^/    /' >&2

# The Cloud API simulator stands in for Meta (docs/cloud-api-simulator.md). Its webhooks go to
# ingress's webhook endpoint, signed with the app secret ingress verifies. It starts first, so the
# router's template sync finds Graph at once; its simulated users say hello once the services
# are ready, as Meta only ever calls a running ingress.
step "starting the Cloud API simulator"
(exec 3<>"/dev/tcp/127.0.0.1/$SIM_PORT") 2>/dev/null && fail "port $SIM_PORT for the Cloud API simulator is in use; set SIM_PORT"
PARLEY_SIM_APP_SECRET="$(cat "$sim_app_secret_file")" PARLEY_SIM_ACCESS_TOKEN="$(cat "$sim_access_token_file")" \
  PARLEY_SIM_CONTROL_TOKEN="$(cat "$token_file")" \
  setsid node "$repo/packages/cloud-api-sim/dist/cli.js" --port "$SIM_PORT" \
  --webhook-url "http://127.0.0.1:$webhook_port/webhooks/whatsapp" \
  >"$state/logs/cloud-api-sim.log" 2>&1 </dev/null &
sim_pid=$!
echo "cloud-api-sim $sim_pid" >>"$state/services.pids"
sim_deadline=$((SECONDS + DEV_READY_TIMEOUT))
until curl -fsS -o /dev/null -H "x-sim-control-token: $(cat "$token_file")" "http://127.0.0.1:$SIM_PORT/_sim/health" 2>/dev/null; do
  kill -0 "$sim_pid" 2>/dev/null || fail "the Cloud API simulator exited (log: $state/logs/cloud-api-sim.log)"
  [ "$SECONDS" -lt "$sim_deadline" ] || fail "the Cloud API simulator did not answer within ${DEV_READY_TIMEOUT}s"
  sleep 0.3
done
note "cloud-api-sim ready"

step "starting the services"
for p in "$webhook_port" "$send_api_port" "$query_api_port" "$media_api_port"; do
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && fail "port $p for ingress's webhook endpoint, the send API or the query API is in use; stop whatever holds it and retry"
done
for s in "${services[@]}"; do
  port_in_use=0
  (exec 3<>"/dev/tcp/127.0.0.1/${port[$s]}") 2>/dev/null && port_in_use=1
  [ "$port_in_use" = 0 ] || fail "port ${port[$s]} for $s is in use; stop whatever holds it and retry"
  # Node gets the images' V8 heap sizing (docs/architecture.md, "The service chassis").
  # Each service logs JSON to its own file; `tail -f .parley/dev/logs/<service>.log` follows one.
  # Its own session keeps the terminal's Ctrl-C away from it: this script sends the one SIGTERM,
  # so a graceful drain is not cut short by a second signal.
  own=()
  [ "$s" = ingress ] && own=(WEBHOOK_PORT="$webhook_port" WA_APP_SECRET_FILE="$sim_app_secret_file" WA_VERIFY_TOKEN_FILE="$wa_verify_token_file"
    SEND_API_PORT="$send_api_port" SEND_API_KEYS_FILE="$send_api_keys_file"
    PROJECTION_API_URL="http://127.0.0.1:$query_api_port" PROJECTION_API_KEY_FILE="$ingress_query_key_file")
  [ "$s" = projection ] && own=(PROJECTION_API_PORT="$query_api_port" PROJECTION_API_KEYS_FILE="$query_api_keys_file"
    PARLEY_RATE_CARD_FILE="$repo/packages/pricing/rate-card.example.json")
  [ "$s" = consent ] && own=(CONSENT_API_PORT="$consent_api_port" CONSENT_API_KEYS_FILE="$consent_api_keys_file"
    CONSENT_MASTER_KEYS_FILE="$consent_master_keys_file")
  # router (template catalog) and sender (messages) call Graph: here, the simulator.
  case "$s" in router | sender) own=(PARLEY_NUMBERS_FILE="$numbers_file" WA_GRAPH_BASE_URL="http://127.0.0.1:$SIM_PORT") ;; esac
  [ "$s" = sender ] && own+=(MEDIA_API_URL="http://127.0.0.1:$media_api_port" MEDIA_API_KEY_FILE="$sender_media_key_file")
  [ "$s" = media ] && own=(PARLEY_NUMBERS_FILE="$numbers_file" WA_GRAPH_BASE_URL="http://127.0.0.1:$SIM_PORT"
    MEDIA_KEYS_FILE="$media_keys_file" MEDIA_STORE_DIR="$state/media"
    MEDIA_API_PORT="$media_api_port" MEDIA_API_KEYS_FILE="$media_api_keys_file")
  [ "$s" = campaigns ] && own=(PARLEY_NUMBERS_FILE="$numbers_file" CAMPAIGNS_API_PORT="$campaigns_api_port"
    CAMPAIGNS_API_KEYS_FILE="$campaigns_api_keys_file" CAMPAIGNS_AUDIENCE_DIR="$state/campaigns"
    PARLEY_RATE_CARD_FILE="$repo/packages/pricing/rate-card.example.json")
  # A stable consumer-group instance id per service (static membership): a service killed and
  # started again within KAFKA_SESSION_TIMEOUT_MS takes its partitions back without a rebalance.
  HTTP_PORT="${port[$s]}" OPS_TOKEN_FILE="$token_file" LOG_LEVEL="${LOG_LEVEL:-info}" \
    KAFKA_GROUP_INSTANCE_ID="${KAFKA_GROUP_INSTANCE_ID:-dev}-$s" \
    env "${own[@]}" setsid node --initial-old-space-size=64 --max-semi-space-size=8 "$repo/services/$s/dist/main.js" >"$state/logs/$s.log" 2>&1 </dev/null &
  pid[$s]=$!
  echo "$s ${pid[$s]}" >>"$state/services.pids"
done

ready_deadline=$((SECONDS + DEV_READY_TIMEOUT))
for s in "${services[@]}"; do
  until curl -fs -o /dev/null -H "Authorization: Bearer $(cat "$token_file")" "http://127.0.0.1:${port[$s]}/readyz"; do
    if ! kill -0 "${pid[$s]}" 2>/dev/null; then
      tail -n 20 "$state/logs/$s.log" >&2
      fail "$s exited during start-up (log: $state/logs/$s.log, last lines above)"
    fi
    if [ "$SECONDS" -ge "$ready_deadline" ]; then
      curl -sS -H "Authorization: Bearer $(cat "$token_file")" "http://127.0.0.1:${port[$s]}/readyz" >&2
      fail "$s was not ready within ${DEV_READY_TIMEOUT}s (log: $state/logs/$s.log)"
    fi
    sleep 0.5
  done
  note "$s ready"
done

# Prometheus scrapes every service with the alert rules loaded (infra/prometheus/prometheus.sh).
# shellcheck source=../prometheus/prometheus.sh
source "$repo/infra/prometheus/prometheus.sh"
: "${PROMETHEUS_PORT:=$((9090 + off))}"
step "starting Prometheus"
targets=()
for s in "${services[@]}"; do targets+=("$s=127.0.0.1:${port[$s]}"); done
prometheus_port=$PROMETHEUS_PORT
# Without it (no apt-get, port taken) the stack still runs; the reason is printed.
if (ensure_prometheus) && prometheus_start "$state" "$prometheus_port" "$token_file" "${targets[@]}"; then
  note "prometheus ready"
else
  note "Prometheus did not start (log: $state/prometheus/prometheus.log); Parley runs without it"
  prometheus_url_note="not running"
fi

# Three simulated users say hello (each opens its 24 h window with the business number).
for i in 0 1 2; do
  wa_id="1650555$((1000 + i))"
  curl -fsS -o /dev/null -X POST -H "x-sim-control-token: $(cat "$token_file")" -H 'content-type: application/json' \
    "http://127.0.0.1:$SIM_PORT/_sim/users" -d "{\"waId\":\"$wa_id\",\"name\":\"Simulated User $((i + 1))\"}" &&
    curl -fsS -o /dev/null -X POST -H "x-sim-control-token: $(cat "$token_file")" -H 'content-type: application/json' \
      "http://127.0.0.1:$SIM_PORT/_sim/users/$wa_id/messages" -d '{"content":{"type":"text","body":"Hello from the simulator"}}' ||
    note "simulated user $((i + 1)) could not say hello (log: $state/logs/cloud-api-sim.log)"
done

# What bin/parley and the README's commands read to find this stack.
cat >"$state/env" <<ENV
export KAFKA_BROKERS='$KAFKA_BROKERS'
export SCHEMA_REGISTRY_URL='$SCHEMA_REGISTRY_URL'
export MONGO_URL='$MONGO_URL'
export PARLEY_SEND_API_URL='http://127.0.0.1:$send_api_port'
export PARLEY_QUERY_API_URL='http://127.0.0.1:$query_api_port'
export PARLEY_MEDIA_API_URL='http://127.0.0.1:$media_api_port'
export PARLEY_SIM_URL='http://127.0.0.1:$SIM_PORT'
export PARLEY_DEV_STATE='$state'
export PARLEY_PROMETHEUS_URL='http://127.0.0.1:$prometheus_port'
ENV

rel="${state#"$repo"/}"
step "Parley is running"
printf '    %-11s %-24s %s\n' service "ops endpoints" log
for s in "${services[@]}"; do
  printf '    %-11s %-24s %s\n' "$s" "http://127.0.0.1:${port[$s]}" "$rel/logs/$s.log"
done
printf '\n'
printf '    %-11s %s\n' "send API" "http://127.0.0.1:$send_api_port/v1/messages (ingress; key in $rel/send-api-key)" \
  webhook "http://127.0.0.1:$webhook_port/webhooks/whatsapp (ingress; verify token in $rel/wa-verify-token)" \
  "query API" "http://127.0.0.1:$query_api_port/v1/requests (projection; key in $rel/query-api-key)" \
  "media API" "http://127.0.0.1:$media_api_port/v1/media (media; key in $rel/media-api-key)" \
  "consent API" "http://127.0.0.1:$consent_api_port/v1/contacts/{contactId}/consent (consent; key in $rel/consent-api-key)" \
  "campaigns API" "http://127.0.0.1:$campaigns_api_port/v1/campaigns (campaigns; key in $rel/campaigns-api-key)" \
  cloud-api "http://127.0.0.1:$SIM_PORT (simulator; control API /_sim with the ops token; log $rel/logs/cloud-api-sim.log)" \
  kafka "$KAFKA_BROKERS" registry "$SCHEMA_REGISTRY_URL" mongodb "$MONGO_URL" \
  prometheus "${prometheus_url_note:-http://127.0.0.1:$prometheus_port (scrapes every service, alert rules loaded: /alerts)}; log $rel/prometheus/prometheus.log"
printf '\n    Send your first message (README, "Your first message"):\n'
printf '      curl -s http://127.0.0.1:%s/v1/messages -H "Authorization: Bearer $(cat %s/send-api-key)" \\\n' "$send_api_port" "$rel"
printf '        -H "Idempotency-Key: hello-1" -H "Content-Type: application/json" \\\n'
printf '        -d %s\n' "'{\"recipient\":{\"phone\":\"+16505551000\"},\"sender\":{\"kind\":\"alias\",\"alias\":\"default\"},\"category\":\"service\",\"content\":{\"type\":\"text\",\"text\":{\"body\":\"Hi!\"}}}'"
printf '      bin/parley tail --request <the requestId it printed>\n'
printf '\n    The ops endpoints (/healthz, /readyz, /metrics) need the dev token:\n'
printf '      curl -H "Authorization: Bearer $(cat %s/ops-token)" http://127.0.0.1:%s/metrics\n\n' "$rel" "${port[router]}"
printf '\033[32mready:\033[0m all %d services are ready (%ss). Press Ctrl-C to stop everything.\n' "${#services[@]}" "$SECONDS"

# Watch the services; one that dies takes the stack down loudly rather than leaving it half up.
while true; do
  for s in "${services[@]}"; do
    if ! kill -0 "${pid[$s]}" 2>/dev/null; then
      wait "${pid[$s]}"
      code=$?
      tail -n 20 "$state/logs/$s.log" >&2
      pid[$s]=""
      printf '\033[31merror:\033[0m %s exited with code %s (log: %s/logs/%s.log, last lines above)\n' "$s" "$code" "$state" "$s" >&2
      exit 1
    fi
  done
  sleep 1
done

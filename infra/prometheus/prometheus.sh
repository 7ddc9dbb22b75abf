# Prometheus without Docker (sourced by infra/scripts/dev.sh; run directly for a one-off):
# Debian's prometheus binary scraping Parley's services with the alert rules of
# infra/prometheus/rules/ loaded. Its configuration, data and pid live in <state>/prometheus/.
#
#   prometheus_start <state dir> <port> <ops token file> <service>=<host:port>...
#   prometheus_stop <state dir>
#
# The services' /metrics need the ops token (Authorization: Bearer), which Prometheus reads from
# the token file at each scrape. Requires ensure_prometheus (infra/scripts/bootstrap.sh) first.
# shellcheck shell=bash

prometheus_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Writes <state>/prometheus/prometheus.yml for the given targets.
prometheus_config() {
  local dir="$1/prometheus" port="$2" token_file="$3"
  shift 3
  mkdir -p "$dir"
  {
    printf '# Written by infra/prometheus/prometheus.sh; rewritten at each start.\n'
    printf 'global:\n  scrape_interval: 5s\n  evaluation_interval: 15s\n'
    printf 'rule_files:\n  - %s/infra/prometheus/rules/parley.rules.yml\n' "$prometheus_repo"
    printf 'scrape_configs:\n'
    printf '  - job_name: parley\n    metrics_path: /metrics\n'
    printf '    authorization:\n      type: Bearer\n      credentials_file: %s\n' "$token_file"
    printf '    static_configs:\n'
    local target
    for target in "$@"; do
      printf '      - targets: ["%s"]\n        labels: { service: %s }\n' "${target#*=}" "${target%%=*}"
    done
    printf '  - job_name: prometheus\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n' "$port"
  } >"$dir/prometheus.yml"
}

prometheus_stop() {
  local dir="$1/prometheus" old
  [ -f "$dir/pid" ] || return 0
  old="$(cat "$dir/pid")"
  if [ -r "/proc/$old/cmdline" ] && tr '\0' ' ' <"/proc/$old/cmdline" | grep -q -- "--config.file=$dir/prometheus.yml"; then
    kill -TERM "$old" 2>/dev/null
    local deadline=$((SECONDS + 15))
    while kill -0 "$old" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    kill -0 "$old" 2>/dev/null && kill -KILL "$old" 2>/dev/null
  fi
  rm -f "$dir/pid"
}

# Starts Prometheus (stopping one this state directory left running) and waits until it is ready.
prometheus_start() {
  local state="$1" port="$2" token_file="$3"
  shift 3
  local dir="$state/prometheus"
  prometheus_stop "$state"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    printf 'port %s for Prometheus is in use; set PROMETHEUS_PORT\n' "$port" >&2
    return 1
  fi
  prometheus_config "$state" "$port" "$token_file" "$@"
  promtool check config "$dir/prometheus.yml" >"$dir/check.log" 2>&1 || {
    cat "$dir/check.log" >&2
    return 1
  }
  mkdir -p "$dir/data"
  setsid prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$port" \
    >"$dir/prometheus.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  local deadline=$((SECONDS + 30))
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null; do
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      tail -n 20 "$dir/prometheus.log" >&2
      return 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || {
      printf 'Prometheus was not ready within 30 s (log: %s/prometheus.log)\n' "$dir" >&2
      return 1
    }
    sleep 0.3
  done
}

# Run directly: infra/prometheus/prometheus.sh start|stop <state> [<port> <token file> <service>=<host:port>...]
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -uo pipefail
  case "${1:-}" in
  start) shift && prometheus_start "$@" ;;
  stop) shift && prometheus_stop "$@" ;;
  *)
    echo "usage: $0 start <state dir> <port> <ops token file> <service>=<host:port>... | stop <state dir>" >&2
    exit 2
    ;;
  esac
fi

#!/usr/bin/env bash
# Writes services/<name>/Dockerfile from infra/docker/service.Dockerfile, filling in the
# SERVICE and PORT build-arg defaults, so that `docker build -f services/<name>/Dockerfile .`
# needs no --build-arg. With --check, changes nothing and exits 1 if any file is stale.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
template="$root/infra/docker/service.Dockerfile"
check=false
[[ "${1:-}" == "--check" ]] && check=true

# service:port, the HTTP ports used throughout docker-compose.yml and docs/docker.md
services=(ingress:8080 router:8082 sender:8083 media:8084 consent:8085 projection:8086 campaigns:8087)

render() {
  local name="$1" port="$2"
  printf '# GENERATED from infra/docker/service.Dockerfile by infra/docker/gen-dockerfiles.sh; do not edit.\n'
  printf '# Build from the repository root: docker build -f services/%s/Dockerfile -t parley/%s .\n' "$name" "$name"
  # Only the global ARG lines (before the first FROM) get defaults.
  awk -v svc="$name" -v port="$port" '
    /^FROM / { seen_from = 1 }
    !seen_from && $0 == "ARG SERVICE" { print "ARG SERVICE=" svc; next }
    !seen_from && $0 == "ARG PORT" { print "ARG PORT=" port; next }
    { print }
  ' "$template"
}

stale=0
for entry in "${services[@]}"; do
  name="${entry%%:*}" port="${entry##*:}"
  target="$root/services/$name/Dockerfile"
  if $check; then
    if ! render "$name" "$port" | cmp -s - "$target"; then
      echo "stale: services/$name/Dockerfile (run infra/docker/gen-dockerfiles.sh)" >&2
      stale=1
    fi
  else
    mkdir -p "$(dirname "$target")"
    render "$name" "$port" > "$target"
    echo "wrote services/$name/Dockerfile"
  fi
done
exit "$stale"

# Sourced by dev.sh and test.sh: makes a fresh machine ready to build Parley.
# Installs only what is missing; everything downloaded is cached under $PARLEY_CACHE.
# shellcheck shell=bash

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${PARLEY_CACHE:=$HOME/.cache/parley}"
export PARLEY_CACHE

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
fail() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

ensure_node() {
  command -v node >/dev/null || fail "Node.js is not installed. Install Node 20.19+ (or the current LTS) and retry."
  local v major minor
  v="$(node -p 'process.versions.node')"
  major="${v%%.*}"; minor="$(cut -d. -f2 <<<"$v")"
  if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
    fail "Node $v is too old; Parley needs Node 20.19+ (or the current LTS)."
  fi
}

# pnpm at exactly the version pinned in package.json's packageManager, installed from the npm
# registry into the cache (corepack's signature checks fail offline, so it is not used).
ensure_pnpm() {
  local want
  want="$(node -p "require('$repo/package.json').packageManager.split('@')[1]")"
  local dir="$PARLEY_CACHE/tools/pnpm-$want"
  if [ ! -x "$dir/node_modules/.bin/pnpm" ]; then
    step "installing pnpm $want into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "pnpm@$want" >&2 ||
      fail "could not install pnpm $want from the npm registry"
  fi
  export PATH="$dir/node_modules/.bin:$PATH"
}

ensure_java() {
  if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    step "installing a JDK and Maven (apt-get)"
    apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null ||
      fail "install a JDK 17+ and Maven 3.8+ (needed to run Kafka, the registry and the MongoDB-wire server without Docker)"
  fi
}

install_dependencies() {
  step "installing workspace dependencies (pnpm install)"
  local flags=(--prefer-offline)
  [ -n "${CI:-}" ] && flags+=(--frozen-lockfile)
  local out
  out="$(mktemp)"
  if ! (cd "$repo" && pnpm install "${flags[@]}" --reporter=append-only) >"$out" 2>&1; then
    tail -n 40 "$out" >&2
    rm -f "$out"
    fail "pnpm install failed (output above)"
  fi
  grep -E '^(Done|Already up to date|dependencies:|devDependencies:)' "$out" | sed 's/^/    /' >&2 || true
  rm -f "$out"
}

build_workspace() {
  step "building (tsc -b)"
  (cd "$repo" && pnpm exec tsc -b) || fail "the TypeScript build failed (errors above)"
}

docker_engine_answers() {
  [ "${PARLEY_INFRA:-auto}" = native ] && return 1
  command -v docker >/dev/null && timeout 5 docker info >/dev/null 2>&1
}

# Prometheus and promtool (Debian's package): `make dev` runs Prometheus, `make test` checks and
# unit-tests the alert rules with promtool (infra/prometheus/).
ensure_prometheus() {
  if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    step "installing Prometheus and promtool (apt-get install prometheus)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } ||
      fail "install Prometheus 2.x with promtool (Debian/Ubuntu: apt-get install prometheus)"
  fi
}

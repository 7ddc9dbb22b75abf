#!/usr/bin/env bash
# An S3-compatible server for the media service's S3 adapter tests and for running media on
# object storage without Docker: s3proxy (org.gaul:s3proxy, Apache-2.0) from Maven Central, on
# 127.0.0.1 with its filesystem backend.
#
#   infra/native/s3proxy/s3proxy.sh install|start|stop|status|env
#
# Cached under $PARLEY_CACHE like the other native servers; run state (pid, log, data) under
# $PARLEY_STATE_DIR/s3proxy. Stopped by the PID recorded here, never by name. `start` begins
# from a clean data directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"

: "${PARLEY_PROFILE:=dev}"
: "${PARLEY_CACHE:=$HOME/.cache/parley}"
: "${PARLEY_STATE_DIR:=$repo/.parley/$PARLEY_PROFILE}"
: "${S3PROXY_VERSION:=2.6.0}"
: "${S3_PORT:=49000}"
: "${S3_ACCESS_KEY_ID:=parley}"
: "${S3_SECRET_ACCESS_KEY:=parley-local-secret}"
: "${INFRA_START_TIMEOUT:=90}"

home="$PARLEY_CACHE/s3proxy-$S3PROXY_VERSION"
jar="$home/s3proxy.jar"
state="$PARLEY_STATE_DIR/s3proxy"
pidfile="$state/s3proxy.pid"

log() { printf '[s3proxy] %s\n' "$*" >&2; }
die() { printf '[s3proxy] error: %s\n' "$*" >&2; exit 1; }

install() {
  [ -f "$jar" ] && return 0
  if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    log "installing a JDK and Maven with apt-get (java or mvn is missing)"
    apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null ||
      die "could not install openjdk-17-jdk-headless and maven"
  fi
  log "installing s3proxy $S3PROXY_VERSION from Maven Central into $home (first run only, ~40 MB)"
  local tmp="$home.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  mvn -B -ntp -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
    -Dartifact="org.gaul:s3proxy:$S3PROXY_VERSION:jar:jar-with-dependencies" -DoutputDirectory="$tmp" >/dev/null ||
    die "Maven could not fetch org.gaul:s3proxy:$S3PROXY_VERSION:jar:jar-with-dependencies"
  mv "$tmp/s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar" "$tmp/s3proxy.jar"
  rm -rf "$home" && mv "$tmp" "$home"
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

stop() {
  if running; then
    local pid
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

ready() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/" | grep -qE '^(200|403)$'; }

start() {
  install
  stop
  rm -rf "$state/data" && mkdir -p "$state/data"
  cat >"$state/s3proxy.conf" <<CONF
s3proxy.endpoint=http://127.0.0.1:$S3_PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ACCESS_KEY_ID
s3proxy.credential=$S3_SECRET_ACCESS_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$state/data
CONF
  if (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null; then die "port $S3_PORT is taken"; fi
  nohup java -Xmx128m -jar "$jar" --properties "$state/s3proxy.conf" >"$state/s3proxy.log" 2>&1 &
  echo $! >"$pidfile"
  local deadline=$((SECONDS + INFRA_START_TIMEOUT))
  until ready; do
    running || { tail -n 20 "$state/s3proxy.log" >&2; die "s3proxy exited"; }
    [ "$SECONDS" -lt "$deadline" ] || die "s3proxy not ready after ${INFRA_START_TIMEOUT}s"
    sleep 0.5
  done
  log "s3proxy ready on 127.0.0.1:$S3_PORT"
}

env_lines() {
  echo "export S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
  echo "export S3_ACCESS_KEY_ID=$S3_ACCESS_KEY_ID"
  echo "export S3_SECRET_ACCESS_KEY=$S3_SECRET_ACCESS_KEY"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) if running; then echo "s3proxy running (pid $(cat "$pidfile"))"; else echo "s3proxy stopped"; exit 1; fi ;;
  env) env_lines ;;
  *) die "usage: $0 install|start|stop|status|env" ;;
esac

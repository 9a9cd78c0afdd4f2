#!/usr/bin/env bash
# Builds the infrastructure images msx runs (Postgres, NATS) on a machine that
# cannot pull from a registry, from Debian's packages, and prints the
# settings that point msx at them:
#
#   eval "$(bash scripts/local-images.sh)"     # all kinds
#   eval "$(bash scripts/local-images.sh postgres)"
#   bash scripts/local-images.sh --yaml >> msx.yaml   # the images: block instead
#
# It runs from any folder (a workspace's, typically).
# Each kind is two functions: image_KIND prints the tag (which carries a
# hash of the recipe, so that a changed recipe builds a new image) and
# build_KIND builds it. An image that exists is not built again: a second
# run takes well under a second. Building needs root (debootstrap), the
# Docker engine, and access to a Debian mirror (MIRROR, default
# deb.debian.org); Postgres takes about three minutes, once. NATS needs only
# Go and the module proxy (about a minute, once).
#
# Everything downloaded is checked: debootstrap verifies the mirror's
# Release file against Debian's archive keyring (the debian-archive-keyring
# package, KEYRING) and every package against it, and the build fails
# unless it says it did; nats-server's module is checked against a pinned
# hash (NATS_SUM) and its dependencies against its go.sum.
#
# Only the export lines (or the images: block) go to stdout; progress goes to
# stderr.
set -euo pipefail

KINDS=(postgres nats)
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/msx/debootstrap
KEYRING=${KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

log() { echo "local-images: $*" >&2; }

# Folders to remove however the script ends.
CLEANUP=()
trap 'rm -rf "${CLEANUP[@]}"' EXIT
die() { log "$*"; exit 1; }

# recipe_hash prints a short hash of the named functions' bodies: the tag
# changes whenever the recipe does.
recipe_hash() { declare -f "$@" | sha256sum | cut -c1-10; }

# engine talks to the Docker Engine API through the docker CLI when there
# is one, through curl on the socket otherwise.
SOCK=${DOCKER_HOST:-unix:///var/run/docker.sock}
SOCK=${SOCK#unix://}
has_image() {
  if command -v docker >/dev/null 2>&1; then
    docker image inspect "$1" >/dev/null 2>&1
  else
    curl -sf --unix-socket "$SOCK" "http://localhost/images/$1/json" >/dev/null
  fi
}

# import_rootfs TAG DIR CHANGE...: imports a root file system as an image,
# with Dockerfile-like changes (ENV, ENTRYPOINT, USER, LABEL, EXPOSE).
import_rootfs() {
  local tag=$1 dir=$2; shift 2
  # mktemp -d makes the folder 0700, and it becomes the image's /: Docker
  # ignores the mode of /, Podman keeps it (and then no other user than
  # root can read a library).
  chmod 755 "$dir"
  if command -v docker >/dev/null 2>&1; then
    local args=()
    for c in "$@"; do args+=(--change "$c"); done
    tar -C "$dir" --numeric-owner -c . | docker import "${args[@]}" - "$tag" >/dev/null
  else
    local q="repo=${tag%:*}&tag=${tag##*:}&fromSrc=-"
    for c in "$@"; do q+="&changes=$(printf %s "$c" | jq -sRr @uri)"; done
    tar -C "$dir" --numeric-owner -c . | curl -sf --unix-socket "$SOCK" -X POST \
      -H 'Content-Type: application/x-tar' --data-binary @- "http://localhost/images/create?$q" >/dev/null
  fi
}

need_debootstrap() {
  [ "$(id -u)" = 0 ] || die "building an image needs root (debootstrap): run it with sudo, or pull the image on a connected machine"
  # apt verifies what it installs; gpgv and the keyring are what let
  # debootstrap verify the archive in turn.
  if ! command -v debootstrap >/dev/null 2>&1 || ! command -v gpgv >/dev/null 2>&1 || [ ! -s "$KEYRING" ]; then
    log "installing debootstrap, gpgv and debian-archive-keyring"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap gpgv debian-archive-keyring >&2
  fi
  [ -s "$KEYRING" ] || die "no Debian archive keyring at $KEYRING: install debian-archive-keyring, or set KEYRING"
  mkdir -p "$CACHE"
}

# verified_debootstrap runs debootstrap with signature checks forced on
# against KEYRING, and fails unless it reports a valid Release signature:
# a mirror reached over plain http is trusted for nothing but bytes that
# Debian's keys signed (the Release file, then each package's hash in it).
verified_debootstrap() {
  local out
  out=$(mktemp /tmp/msx-debootstrap-log.XXXXXX)
  CLEANUP+=("$out")
  debootstrap --force-check-gpg --keyring="$KEYRING" "$@" 2>&1 | tee "$out" >&2
  grep -q '^I: Valid Release signature' "$out" ||
    die "debootstrap did not report a valid Release signature from $KEYRING: refusing an unverified root file system"
}

# ---- postgres -------------------------------------------------------------
# Debian's PostgreSQL with an entrypoint that honours the official image's
# contract: POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD_FILE (or
# POSTGRES_PASSWORD), PGDATA; a new cluster on an empty volume; pg_isready.
PG_MAJOR=15

image_postgres() { echo "msx-local/postgres:$PG_MAJOR-$(recipe_hash build_postgres postgres_rootfs postgres_entrypoint verified_debootstrap import_rootfs)"; }

postgres_entrypoint() {
  cat <<'SH'
#!/bin/sh
# The official postgres image's contract, in POSIX sh.
set -eu
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
fi
run() { # run as postgres: root drops to it, anyone else already is
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups "$@"; else "$@"; fi
}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    [ -r "$POSTGRES_PASSWORD_FILE" ] || { echo "entrypoint: cannot read POSTGRES_PASSWORD_FILE $POSTGRES_PASSWORD_FILE" >&2; exit 1; }
    pw=$(cat "$POSTGRES_PASSWORD_FILE")
  else
    pw=${POSTGRES_PASSWORD:-}
  fi
  [ -n "$pw" ] || { echo "entrypoint: set POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD)" >&2; exit 1; }
  pwfile=$(mktemp)
  chown postgres "$pwfile"
  printf '%s\n' "$pw" > "$pwfile"
  unset pw
  echo "entrypoint: initialising a new cluster in $PGDATA" >&2
  run initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  # The temporary server listens on the socket only, so that nothing (and
  # no pg_isready -h 127.0.0.1) takes it for the real one.
  run pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    # From stdin: psql interpolates :"db" (quoted as an identifier) there,
    # not in -c.
    echo 'CREATE DATABASE :"db";' | run psql -v ON_ERROR_STOP=1 -q --username="$POSTGRES_USER" \
      --dbname=postgres --set=db="$POSTGRES_DB" >/dev/null
  fi
  run pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "entrypoint: ready for start up" >&2
fi
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" = postgres ]; then
  if [ "$(id -u)" = 0 ]; then exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"; fi
fi
exec "$@"
SH
}

# postgres_rootfs makes Debian's root file system with PostgreSQL in dir,
# cached as a tarball: a change to the entrypoint alone re-imports it in
# seconds instead of running debootstrap again.
postgres_rootfs() {
  local dir=$1
  local tarball
  tarball="$CACHE/postgres-rootfs-$SUITE-$PG_MAJOR-$(recipe_hash postgres_rootfs).tar"
  if [ -s "$tarball" ]; then
    tar -C "$dir" --numeric-owner -xf "$tarball"
    return
  fi
  log "running debootstrap for Debian $SUITE's postgresql-$PG_MAJOR (about three minutes, once)"
  verified_debootstrap --variant=minbase --cache-dir="$CACHE" \
    --include=postgresql-$PG_MAJOR,ca-certificates "$SUITE" "$dir" "$MIRROR"
  # The package's post-install made a cluster of its own; the entrypoint
  # makes one on the volume instead. Caches and documentation go too.
  rm -rf "$dir/var/lib/postgresql/$PG_MAJOR" "$dir/etc/postgresql/$PG_MAJOR" \
    "$dir/var/cache/apt/archives/"*.deb "$dir/var/lib/apt/lists/"* "$dir/usr/share/doc" \
    "$dir/usr/share/man" "$dir/usr/share/info" "$dir/usr/share/locale"
  tar -C "$dir" --numeric-owner -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
}

build_postgres() {
  local tag=$1
  need_debootstrap
  local root
  root=$(mktemp -d /tmp/msx-postgres-rootfs.XXXXXX)
  CLEANUP+=("$root")
  log "building $tag"
  postgres_rootfs "$root"
  postgres_entrypoint > "$root/usr/local/bin/docker-entrypoint.sh"
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  import_rootfs "$tag" "$root" \
    "ENV PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" \
    "ENV LANG=C.UTF-8" \
    "ENV PGDATA=/var/lib/postgresql/data" \
    "ENTRYPOINT [\"/usr/local/bin/docker-entrypoint.sh\"]" \
    "CMD [\"postgres\"]" \
    "EXPOSE 5432" \
    "LABEL dev.msx.local-image=postgres"
  rm -rf "$root"
  log "built $tag"
}

# ---- nats -----------------------------------------------------------------
# nats-server compiled from github.com/nats-io/nats-server/v2 through the Go
# module proxy, alone in a FROM scratch image like the official one: its
# entrypoint is the server, so msx's arguments work with either image.
# NATS_SUM is the module's hash (go.sum's h1:, as sum.golang.org lists it)
# for NATS_VERSION: another version needs its own.
NATS_VERSION=${NATS_VERSION:-v2.15.2}
if [ "$NATS_VERSION" = v2.15.2 ]; then
  NATS_SUM=${NATS_SUM:-h1:yLsgt2kslgymvxvjFq1WGWck5hkat2YYfbXvQ145tzU=}
fi

image_nats() { echo "msx-local/nats:${NATS_VERSION#v}-$(recipe_hash build_nats nats_module_checked import_rootfs)"; }

# nats_module_checked downloads nats-server's module and compares its hash
# with NATS_SUM; go install then checks every dependency against the
# module's own go.sum.
nats_module_checked() {
  local dir=$1 sum
  [ -n "${NATS_SUM:-}" ] || die "set NATS_SUM to the h1: hash of github.com/nats-io/nats-server/v2@$NATS_VERSION (from sum.golang.org) to build it"
  sum=$(cd "$dir" && GOINSECURE= GONOSUMDB= GONOSUMCHECK= GOFLAGS= \
    go mod download -json "github.com/nats-io/nats-server/v2@$NATS_VERSION" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p')
  [ "$sum" = "$NATS_SUM" ] ||
    die "github.com/nats-io/nats-server/v2@$NATS_VERSION has hash '$sum', want $NATS_SUM: refusing it"
}

build_nats() {
  local tag=$1
  command -v go >/dev/null 2>&1 || die "building the NATS image needs Go: see https://go.dev/doc/install"
  local root gobin
  root=$(mktemp -d /tmp/msx-nats-rootfs.XXXXXX)
  gobin=$(mktemp -d /tmp/msx-nats-bin.XXXXXX)
  CLEANUP+=("$root" "$gobin")
  log "building $tag (compiling nats-server $NATS_VERSION)"
  nats_module_checked "$gobin"
  # Outside any module, so that go install reads the server's own go.mod
  # and go.sum.
  (cd "$gobin" && CGO_ENABLED=0 GOBIN="$gobin" GOFLAGS=-trimpath GOINSECURE= GONOSUMDB= GONOSUMCHECK= \
    go install -ldflags='-s -w' "github.com/nats-io/nats-server/v2@$NATS_VERSION") >&2
  mkdir -p "$root/tmp" "$root/data"
  chmod 1777 "$root/tmp"
  install -m 755 "$gobin/nats-server" "$root/nats-server"
  import_rootfs "$tag" "$root" \
    "ENTRYPOINT [\"/nats-server\"]" \
    "EXPOSE 4222 8222" \
    "LABEL dev.msx.local-image=nats"
  log "built $tag"
}

# ---- main -----------------------------------------------------------------
main() {
  local yaml=false
  if [ "${1:-}" = --yaml ]; then yaml=true; shift; fi
  local kinds=("$@")
  [ ${#kinds[@]} -gt 0 ] || kinds=("${KINDS[@]}")
  # One build at a time on this machine: a second caller waits, then
  # finds the image.
  exec 9>"/tmp/msx-local-images.lock"
  flock 9
  if $yaml; then echo "images:"; fi
  for kind in "${kinds[@]}"; do
    declare -F "build_$kind" >/dev/null || die "unknown kind $kind; known: ${KINDS[*]}"
    local tag
    tag=$("image_$kind")
    if has_image "$tag"; then
      log "$tag is there"
    else
      "build_$kind" "$tag"
    fi
    if $yaml; then
      echo "  $kind: $tag"
    else
      echo "export MSX_IMAGES_$(echo "$kind" | tr '[:lower:]' '[:upper:]')=$tag"
    fi
  done
}

main "$@"

#!/usr/bin/env bash
# Builds the NATS server image msx runs for projects with events, on a
# machine that cannot pull from a registry: nats-server compiled from
# github.com/nats-io/nats-server/v2 through the Go module proxy, alone in a
# FROM scratch image. Prints the setting that points msx at it:
#
#   eval "$(bash scripts/local-images-nats.sh)"
#
# The same two functions as scripts/local-images.sh's kinds (image_nats
# prints the tag, which carries a hash of the recipe; build_nats builds
# it), so that it can become one more kind of that script. An image that
# exists is not built again: a second run takes well under a second. The
# first build compiles nats-server (about a minute on two cores).
#
# Only the export line goes to stdout; progress goes to stderr.
set -euo pipefail

NATS_VERSION=${NATS_VERSION:-v2.15.2}

log() { echo "local-images: $*" >&2; }
die() { log "$*"; exit 1; }
CLEANUP=()
trap 'rm -rf "${CLEANUP[@]}"' EXIT

recipe_hash() { declare -f "$@" | sha256sum | cut -c1-10; }

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
# with Dockerfile-like changes.
import_rootfs() {
  local tag=$1 dir=$2; shift 2
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

# ---- nats -----------------------------------------------------------------
# nats-server alone, static, like the official image: its entrypoint is the
# server, so msx's arguments (-js, -sd, -m) work with either image.
image_nats() { echo "msx-local/nats:${NATS_VERSION#v}-$(recipe_hash build_nats)"; }

build_nats() {
  local tag=$1
  command -v go >/dev/null 2>&1 || die "building the NATS image needs Go: see https://go.dev/doc/install"
  local root gobin
  root=$(mktemp -d /tmp/msx-nats-rootfs.XXXXXX)
  gobin=$(mktemp -d /tmp/msx-nats-bin.XXXXXX)
  CLEANUP+=("$root" "$gobin")
  log "building $tag (compiling nats-server $NATS_VERSION)"
  # Outside any module, so that go install reads the server's own go.mod.
  (cd "$gobin" && CGO_ENABLED=0 GOBIN="$gobin" GOFLAGS=-trimpath \
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

main() {
  exec 9>"/tmp/msx-local-images.lock"
  flock 9
  local tag
  tag=$(image_nats)
  if has_image "$tag"; then
    log "$tag is there"
  else
    build_nats "$tag"
  fi
  echo "export MSX_IMAGES_NATS=$tag"
}

main "$@"

#!/usr/bin/env bash
# Builds, once, what scripts/e2e-k8s.sh and the suite's server-side dry run need to run a real
# single-node Kubernetes on this machine with no registry and no download site: Kubernetes itself
# from the k8s.io/kubernetes module (its staging modules at their published versions), kube-router
# for NetworkPolicies, CoreDNS for service names, the pause image, and etcd, the CNI plugins and
# ipset from Debian. Everything lands in a cache outside the repository, keyed by version, and what
# is already there is skipped: a warm machine runs this in a second.
#
#   nice bash scripts/k8s-build.sh            # 20-40 minutes the first time (see docs/performance.md)
#   bash scripts/k8s-build.sh --print-dir     # prints the cache directory and exits
#
# Nothing of Kubernetes' source is kept in the repository: the module is copied to a scratch
# directory under the cache, which can be removed after the build (MSX_K8S_KEEP_SRC=1 keeps it).
set -euo pipefail

K8S_VERSION=${MSX_K8S_VERSION:-v1.34.3}
STAGING_VERSION=v0.${K8S_VERSION#v1.}
KUBE_ROUTER_VERSION=${MSX_KUBE_ROUTER_VERSION:-v2.1.0}
COREDNS_VERSION=${MSX_COREDNS_VERSION:-v1.15.0}
CACHE=${MSX_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/msx-k8s/$K8S_VERSION}
BIN=$CACHE/bin

if [[ ${1:-} == --print-dir ]]; then
	echo "$CACHE"
	exit 0
fi

mkdir -p "$BIN" "$CACHE/deb" "$CACHE/images"
log() { printf '%s k8s-build: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
t0=$SECONDS

# pack_image ROOTDIR TAG ENTRYPOINT OUT writes ROOTDIR as a one-layer image tarball in the form
# `docker save` writes, which `ctr images import` reads: no registry and no Docker needed.
pack_image() {
	local root=$1 tag=$2 entry=$3 out=$4 d diff cfg
	d=$(mktemp -d)
	tar -C "$root" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$d/layer.tar" .
	diff=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
	mkdir "$d/$diff" && mv "$d/layer.tar" "$d/$diff/layer.tar"
	printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["%s"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$entry" "$diff" >"$d/config.json"
	cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1)
	mv "$d/config.json" "$d/$cfg.json"
	printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfg" "$tag" "$diff" >"$d/manifest.json"
	tar -C "$d" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$out.tmp" . && mv "$out.tmp" "$out"
	rm -rf "$d"
}

# --- Kubernetes -------------------------------------------------------------------------------
kube_bins=(kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet kube-proxy)
missing=()
for b in "${kube_bins[@]}"; do [[ -x $BIN/$b ]] || missing+=("$b"); done
if ((${#missing[@]})) || [[ ! -f $CACHE/images/pause.tar ]]; then
	src=$CACHE/src/kubernetes
	if [[ ! -f $src/.msx-ready ]]; then
		log "downloading k8s.io/kubernetes@$K8S_VERSION from the module proxy"
		dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
			sed -n -E 's/^\s*"Dir": "(.*)",?$/\1/p')
		[[ -d $dir ]] || { log "go mod download gave no directory"; exit 1; }
		rm -rf "$src" && mkdir -p "$(dirname "$src")"
		cp -r "$dir" "$src"
		cd "$src"
		chmod -R u+w . && rm -f go.work go.work.sum && rm -rf vendor
		# The module's go.mod points its 29 staging modules at ./staging/src, which the module
		# zip leaves out; every one of them is published at the matching v0 version.
		sed -i -E "s#^(\s+k8s\.io/[a-z0-9-]+) v0\.0\.0\$#\1 $STAGING_VERSION#" go.mod
		sed -i -E '/=> \.\/staging\/src\//d' go.mod
		log "go mod tidy (staging modules at $STAGING_VERSION)"
		go mod tidy
		touch .msx-ready
	fi
	cd "$src"
	minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
	ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
	ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
	ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
	# The API server and kubectl first: they are all the suite's dry run needs.
	for group in "kube-apiserver kubectl" "kube-controller-manager kube-scheduler kubelet kube-proxy"; do
		pkgs=()
		for b in $group; do [[ -x $BIN/$b ]] || pkgs+=("./cmd/$b"); done
		((${#pkgs[@]})) || continue
		log "building ${pkgs[*]}"
		s=$SECONDS
		mkdir -p "$CACHE/tmpbin"
		CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$CACHE/tmpbin/" "${pkgs[@]}"
		for p in "${pkgs[@]}"; do mv "$CACHE/tmpbin/${p#./cmd/}" "$BIN/"; done
		log "built ${pkgs[*]} in $((SECONDS - s)) s"
	done
	if [[ ! -f $CACHE/images/pause.tar ]]; then
		log "building the pause image from build/pause/linux/pause.c"
		work=$(mktemp -d)
		mkdir -p "$work/root"
		gcc -Os -static -o "$work/root/pause" build/pause/linux/pause.c
		strip "$work/root/pause"
		pack_image "$work/root" local/pause:1 /pause "$CACHE/images/pause.tar"
		rm -rf "$work"
	fi
fi

# --- kube-router and CoreDNS from the module proxy ---------------------------------------------
gobuild_module() { # name module version package
	local name=$1 mod=$2 ver=$3 pkg=$4
	[[ -x $BIN/$name ]] && return 0
	log "building $name $ver"
	local s=$SECONDS
	if ! GOBIN=$CACHE/tmpbin CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "$pkg@$ver"; then
		# go install refuses modules whose go.mod has replace directives: build in a copy.
		local dir
		dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "$mod@$ver" |
			sed -n -E 's/^\s*"Dir": "(.*)",?$/\1/p')
		rm -rf "$CACHE/src/$name" && cp -r "$dir" "$CACHE/src/$name" && chmod -R u+w "$CACHE/src/$name"
		(cd "$CACHE/src/$name" && rm -rf vendor && go mod tidy &&
			CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$CACHE/tmpbin/$(basename "$pkg")" "./${pkg#"$mod"}")
	fi
	mv "$CACHE/tmpbin/$(basename "$pkg")" "$BIN/$name"
	log "built $name in $((SECONDS - s)) s"
}
mkdir -p "$CACHE/tmpbin" "$CACHE/src"
gobuild_module kube-router github.com/cloudnativelabs/kube-router/v2 "$KUBE_ROUTER_VERSION" \
	github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
# CoreDNS with only the plugins the node uses (the kubernetes plugin for service names): its own
# main, as CoreDNS documents for a custom build, compiles a fraction of the full set's
# dependencies (every cloud provider's SDK).
if [[ ! -x $BIN/coredns ]]; then
	log "building coredns $COREDNS_VERSION (plugins: bind, errors, cache, kubernetes)"
	s=$SECONDS
	d=$CACHE/src/coredns
	rm -rf "$d" && mkdir -p "$d"
	cat >"$d/main.go" <<'GO'
// Command coredns is CoreDNS with the plugins a single test node needs.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	"github.com/coredns/coredns/coremain"
)

func init() { dnsserver.Directives = []string{"bind", "errors", "cache", "kubernetes"} }

func main() { coremain.Run() }
GO
	(cd "$d" && go mod init msx.local/coredns >/dev/null 2>&1 &&
		go mod edit -require "github.com/coredns/coredns@$COREDNS_VERSION" && go mod tidy &&
		CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$CACHE/tmpbin/coredns" .)
	mv "$CACHE/tmpbin/coredns" "$BIN/coredns"
	log "built coredns in $((SECONDS - s)) s"
fi

# --- Debian packages, unpacked (installing etcd-server would start a daemon) --------------------
for pkg in etcd-server etcd-client containernetworking-plugins ipset libipset13; do
	ls "$CACHE/deb/$pkg"_*.deb >/dev/null 2>&1 && continue
	log "apt-get download $pkg"
	(cd "$CACHE/deb" && apt-get download "$pkg")
done
if [[ ! -x $CACHE/root/usr/bin/etcd ]] || [[ ! -x $CACHE/root/usr/sbin/ipset ]]; then
	for deb in "$CACHE"/deb/*.deb; do dpkg -x "$deb" "$CACHE/root"; done
fi
rm -rf "$CACHE/tmpbin"
[[ ${MSX_K8S_KEEP_SRC:-} == 1 ]] || rm -rf "$CACHE/src"
log "ready in $((SECONDS - t0)) s: $CACHE"

#!/usr/bin/env bash
# The getting-started path on Podman's Docker-compatible API instead of
# Docker: a rootful `podman system service` on a socket of its own, and msx
# pointed at it with DOCKER_HOST.
#
#   bash scripts/e2e-podman.sh              # as root, with Debian's podman installed
#   bash scripts/e2e-podman.sh --if-installed   # exits 0 with one line when podman is not
#
# Podman runs with a private configuration in one temporary folder: its
# storage (--root, --runroot), its containers.conf and storage.conf
# (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF), its temporary state, its
# network definitions and its events file, and in a mount namespace with a
# /run of its own, so that it never reads or writes Docker's state or a
# Podman set up on this machine. It shares the network namespace: the
# gateway's port is on this machine's 127.0.0.1. The settings are those
# a nested Linux container needs:
#   - runc with cgroup_manager "cgroupfs" (there is no systemd here), and no
#     default ulimits: Podman's rootful default raises RLIMIT_NOFILE above
#     the hard limit this process has, which runc cannot set ("error setting
#     rlimit type 7: operation not permitted"). Debian's crun 1.8.1 cannot
#     run at all under this kernel's hybrid cgroups ("cgroups in hybrid mode
#     not supported, drop all controllers from cgroupv2"), with or without
#     cgroups = "disabled", which runc refuses.
#   - storage "overlay" through fuse-overlayfs, as Docker runs here. With
#     "vfs", Podman keeps a layer's "./" entry mode: the local images, made
#     with docker import from a mktemp -d folder, have a / of mode 0700 and
#     Postgres's user cannot load its libraries.
#   - events written to a file (no journald), and networks from a subnet
#     pool of their own.
# Where Docker runs too, its FORWARD policy is DROP and bridged traffic
# goes through iptables (br_netfilter): netavark 1.4 accepts what leaves a
# network to the outside but adds nothing for traffic inside an internal
# network, so the services could not reach their databases (msx puts each
# on an internal network). For the time it runs, the script accepts
# traffic that stays inside one of Podman's bridges, one rule at the top of
# FORWARD, removed at the end (docs/troubleshooting.md, Podman).
# Health checks need nothing here: Podman runs them only through systemd
# timers, which this machine lacks, and msx runs them itself through
# Podman's API (engine/podman.go).
# The local infrastructure images (scripts/local-images.sh) are copied in
# from Docker with docker save | podman load: nothing is pulled.
#
# Then, with the msx built from this tree: init, a service with Postgres
# and a subscriber of its events, up -d, requests through the gateway on
# 127.0.0.1, ps, logs, logs -f, db, events, trace, export compose --images
# msx, a hot swap in an attached up, down --volumes, and nothing labelled
# by msx left in Podman. However the script ends, every container, network
# and volume of the private store is removed, the service and what it
# started are stopped by their PIDs, the FORWARD rule goes, netavark's
# chains too when they were not there before, and so does the folder.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "e2e-podman: $*" >&2; }
die() { say "$*"; exit 1; }

if ! command -v podman >/dev/null 2>&1; then
	[[ ${1:-} == --if-installed ]] && { say "podman is not installed: skipped (apt-get install podman runc fuse-overlayfs)"; exit 0; }
	die "podman is not installed: apt-get install podman runc fuse-overlayfs"
fi
[[ $(id -u) == 0 ]] || die "run as root: this script runs a rootful Podman"
for b in runc fuse-overlayfs curl iptables python3 docker; do
	command -v "$b" >/dev/null 2>&1 || die "$b is missing: apt-get install podman runc fuse-overlayfs curl iptables python3 (and Docker, whose images it copies)"
done

T0=$SECONDS
TMP=$(mktemp -d /tmp/msx-podman.XXXXXX)
SOCK=$TMP/podman.sock
SERVICE_PID=
FORWARD_RULE=()
UP_PID=
FOLLOW_PID=
mkdir -p "$TMP/root" "$TMP/runroot" "$TMP/tmp" "$TMP/networks" "$TMP/conf" "$TMP/work" "$TMP/bin"
cat >"$TMP/conf/containers.conf" <<EOF
[containers]
default_ulimits = []
pids_limit = 0
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$TMP/tmp"
volume_path = "$TMP/root/volumes"
[network]
network_config_dir = "$TMP/networks"
default_subnet = "10.213.0.0/24"
default_subnet_pools = [{"base" = "10.213.0.0/16", "size" = 24}]
EOF
cat >"$TMP/conf/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$TMP/runroot"
graphroot = "$TMP/root"
[storage.options.overlay]
mount_program = "$(command -v fuse-overlayfs)"
EOF
export CONTAINERS_CONF=$TMP/conf/containers.conf CONTAINERS_STORAGE_CONF=$TMP/conf/storage.conf
# After the start, podman talks to the service only, in its namespace.
pm() { podman --remote --url "unix://$SOCK" "$@"; }

stop_pid() { # stop_pid PID: SIGINT, then SIGKILL after 30 s
	local pid=$1
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
	kill -INT "$pid" 2>/dev/null || true
	for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# netavark_chains counts netavark's iptables chains; drop_netavark_chains
# removes the jumps to them from the built-in chains, then the chains.
netavark_chains() { iptables-save 2>/dev/null | grep -c '^:NETAVARK' || true; }
drop_netavark_chains() {
	local t rule chain
	for t in filter nat; do
		iptables -t "$t" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j NETAVARK' | while read -r rule; do
			eval "iptables -t $t ${rule/-A/-D}"
		done
		for chain in $(iptables -t "$t" -S 2>/dev/null | sed -n 's/^-N \(NETAVARK[^ ]*\)$/\1/p'); do
			iptables -t "$t" -F "$chain"
		done
		for chain in $(iptables -t "$t" -S 2>/dev/null | sed -n 's/^-N \(NETAVARK[^ ]*\)$/\1/p'); do
			iptables -t "$t" -X "$chain"
		done
	done
}
NETAVARK_CHAINS=$(netavark_chains)

cleanup() {
	local rc=$?
	set +e
	stop_pid "$FOLLOW_PID"
	stop_pid "$UP_PID"
	if [[ -S $SOCK ]]; then
		# Everything in this store is the script's own.
		pm rm --all --force --time 0 >/dev/null 2>&1
		pm network prune --force >/dev/null 2>&1
		pm volume prune --force >/dev/null 2>&1
	fi
	if [[ -n $SERVICE_PID ]]; then
		kill -TERM "$SERVICE_PID" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$SERVICE_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVICE_PID" 2>/dev/null
		wait "$SERVICE_PID" 2>/dev/null
	fi
	# What still runs from the private folder: conmon stays 300 s after an
	# exec (msx db --shell) ends, and a container that would not stop. The
	# namespace, its mounts with it, goes with the last of them.
	local pid
	for pid in $(grep -l -F "$TMP/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
		[[ $pid != "$$" ]] && kill -KILL "$pid" 2>/dev/null
	done
	if ((${#FORWARD_RULE[@]})); then iptables -D FORWARD "${FORWARD_RULE[@]}"; fi
	# netavark leaves its chains, empty, when the last network goes: gone
	# too when they were not there before.
	if [[ $NETAVARK_CHAINS == 0 ]]; then drop_netavark_chains; fi
	rm -rf "$TMP"
	if ((rc != 0)); then say "FAILED after $((SECONDS - T0)) s"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "building msx"
go build -o "$TMP/bin/msx" .
MSX=$TMP/bin/msx

say "starting podman system service on $SOCK ($(podman --version))"
# In a mount namespace of its own, with a private /run: rootful Podman keeps
# state there that no setting moves (netavark's IPAM database and
# aardvark-dns's files in /run/containers/networks, network namespaces in
# /run/netns, runc's state), and its layers are mounted there too; all of it
# goes when the last process in the namespace ends. The iptables lock is
# the machine's, shared with Docker. unshare and sh exec: $! is podman's PID.
mkdir "$TMP/hostrun"
# shellcheck disable=SC2016 # expanded by that sh
unshare --mount --propagation private -- sh -c '
	mount --bind /run "$0/hostrun" && mount -t tmpfs -o mode=755 msx-podman-run /run || exit 1
	if [ -e "$0/hostrun/xtables.lock" ]; then
		touch /run/xtables.lock && mount --bind "$0/hostrun/xtables.lock" /run/xtables.lock || exit 1
	fi
	exec "$@"' "$TMP" \
	podman --root "$TMP/root" --runroot "$TMP/runroot" system service --time=0 "unix://$SOCK" >"$TMP/service.log" 2>&1 &
SERVICE_PID=$!
for _ in $(seq 100); do
	curl -sf --unix-socket "$SOCK" http://podman/_ping >/dev/null 2>&1 && break
	kill -0 "$SERVICE_PID" 2>/dev/null || { cat "$TMP/service.log" >&2; die "podman system service exited"; }
	sleep 0.1
done
curl -sf --unix-socket "$SOCK" http://podman/_ping >/dev/null || die "podman system service did not answer on $SOCK within 10 s"

if iptables -S FORWARD 2>/dev/null | grep -qx -- '-P FORWARD DROP'; then
	FORWARD_RULE=(-i 'podman+' -o 'podman+' -m physdev --physdev-is-bridged -m comment --comment "msx e2e-podman $$" -j ACCEPT)
	iptables -I FORWARD 1 "${FORWARD_RULE[@]}"
fi

say "copying the local images from Docker into Podman"
eval "$(bash scripts/local-images.sh)"
for img in "$MSX_IMAGES_POSTGRES" "$MSX_IMAGES_NATS"; do
	docker save "$img" | pm load --quiet >/dev/null
done

export DOCKER_HOST=unix://$SOCK
unset DOCKER_CONTEXT
export NO_COLOR=1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export MSX_GATEWAY_PORT=$PORT
GW=http://127.0.0.1:$PORT
PROJECT=pm$$
cd "$TMP/work"

step() { say "$* ($((SECONDS - T0)) s)"; }
# has REGEX CMD...: CMD succeeds and its output matches REGEX. The output is
# read whole first: grep -q in a pipe could end it early, and pipefail
# would take its SIGPIPE for a failure.
has() {
	local out
	out=$("${@:2}") || return 1
	grep -Eq -- "$1" <<<"$out"
}

step "init, a service with Postgres and a subscriber with SQLite"
"$MSX" init "$PROJECT" --module "example.com/$PROJECT" >/dev/null
cd "$PROJECT"
"$MSX" new service orders --db postgres >/dev/null
"$MSX" new service checkout --db sqlite --depends-on orders --subscribes orders.item.created >/dev/null
has 'Podman Engine' "$MSX" doctor || { "$MSX" doctor >&2; die "msx doctor does not name Podman"; }

step "up -d"
"$MSX" up -d

step "requests through the gateway"
has '"version":"0.1.0"' curl -fsS "$GW/api/orders/healthz" || die "orders does not answer through the gateway"
curl -fsS -H 'Content-Type: application/json' -d '{"name":"apple"}' "$GW/api/orders/items" >/dev/null ||
	die "orders did not take an item through the gateway"
has apple curl -fsS "$GW/api/orders/items" || die "orders does not list the item it took"
has apple curl -fsS "$GW/api/checkout/upstream" || die "checkout does not reach orders"

step "ps"
ps=$("$MSX" ps)
echo "$ps" >&2
for s in gateway orders checkout orders-db; do
	grep -Eq "^$s[[:space:]]+running[[:space:]]+yes" <<<"$ps" || die "msx ps does not show $s running and ready"
done

step "logs, and logs -f"
has . "$MSX" logs orders --tail 5 || die "msx logs orders printed nothing"
"$MSX" logs -f orders >"$TMP/follow.log" 2>&1 &
FOLLOW_PID=$!
sleep 2
curl -sS -o /dev/null "$GW/api/orders/items/424242"
for _ in $(seq 100); do grep -q 'path=/items/424242' "$TMP/follow.log" && break; sleep 0.1; done
grep -q 'path=/items/424242' "$TMP/follow.log" || { cat "$TMP/follow.log" >&2; die "msx logs -f did not show a new request"; }
stop_pid "$FOLLOW_PID"
FOLLOW_PID=

step "db"
has '^postgres://' "$MSX" db orders || die "msx db orders printed no URL"
has '^ +1$' "$MSX" db orders --shell <<<'SELECT count(*) AS items FROM items;' ||
	die "msx db orders --shell did not count the item"

step "events"
for _ in $(seq 100); do has apple "$MSX" events orders.item.created && break; sleep 0.2; done
has apple "$MSX" events orders.item.created || die "msx events did not list the item's event"

step "trace"
for _ in $(seq 100); do has orders "$MSX" trace --last 5 && break; sleep 0.2; done
has orders "$MSX" trace --last 5 || die "msx trace lists no request through orders"

step "export compose --images msx"
"$MSX" export compose --images msx --out "$TMP/compose" >/dev/null
grep -q "localhost/msx-$PROJECT/orders\|msx-$PROJECT/orders" "$TMP/compose/compose.yaml" ||
	die "the exported compose.yaml names no image of orders"

step "a hot swap in an attached up"
cid=$(pm inspect --format '{{.Id}}' "$PROJECT-orders")
"$MSX" up --no-tui >"$TMP/up.log" 2>&1 &
UP_PID=$!
for _ in $(seq 3000); do grep -q 'Ctrl-C to stop' "$TMP/up.log" && break; sleep 0.1; done
grep -q 'Ctrl-C to stop' "$TMP/up.log" || { cat "$TMP/up.log" >&2; die "the attached up did not become ready"; }
sed -i 's/"0.1.0"/"0.2.0"/' services/orders/version.go
for _ in $(seq 1800); do has '"version":"0.2.0"' curl -fsS "$GW/api/orders/healthz" 2>/dev/null && break; sleep 0.1; done
has '"version":"0.2.0"' curl -fsS "$GW/api/orders/healthz" || { cat "$TMP/up.log" >&2; die "the edit was not swapped in"; }
# The line follows the swap: the new version may answer first.
for _ in $(seq 100); do grep -Eq '^orders +\| msx: swapped in' "$TMP/up.log" && break; sleep 0.1; done
grep -Eq '^orders +\| msx: swapped in' "$TMP/up.log" || { cat "$TMP/up.log" >&2; die "the attached up did not say it swapped orders"; }
[[ $(pm inspect --format '{{.Id}}' "$PROJECT-orders") == "$cid" ]] || die "the swap recreated the container"
stop_pid "$UP_PID"
UP_PID=

step "down --volumes"
"$MSX" down --volumes
left=$(pm ps --all --quiet --filter "label=dev.msx.project=$PROJECT"; pm network ls --quiet --filter "label=dev.msx.project=$PROJECT"; pm volume ls --quiet --filter "label=dev.msx.project=$PROJECT")
[[ -z $left ]] || die "left in Podman after msx down --volumes: $left"

say "PASS: the getting-started path on Podman $(podman --version | awk '{print $3}') in $((SECONDS - T0)) s"

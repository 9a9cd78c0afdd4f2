#!/usr/bin/env bash
# The Kubernetes export, run on a real single-node Kubernetes built on this machine from packages
# only (scripts/k8s-build.sh; /work/shared notes: v1.34.3 from the k8s.io/kubernetes module, etcd,
# containerd and the CNI plugins from Debian, kube-router for NetworkPolicies, CoreDNS).
#
#   nice bash scripts/k8s-build.sh && bash scripts/e2e-k8s.sh     # as root
#   bash scripts/e2e-k8s.sh --if-cached      # skips (exit 0, one line) when nothing is built
#
# The whole node lives in a network namespace of its own: etcd, the API server on 127.0.0.1,
# controller-manager, scheduler, a second containerd (own config, root, state and socket),
# kubelet, kube-proxy, kube-router and CoreDNS all run inside it, so nothing touches the host's
# interfaces, iptables or Docker. Then: a workspace with Postgres, SQLite, a subscriber with the
# broker, the collector and a protected route with its API key is built by msx up, its images
# are saved in docker save form and imported into the node's containerd, msx export k8s is
# applied with kubectl apply -k, every pod must become Ready, a request through the gateway
# writes, reads back and reaches the subscriber, orders must fail to open a connection to
# payments' database while payments opens one (NetworkPolicy enforced), and the --mesh linkerd
# export passes kubectl apply --dry-run=server. Requests go only to addresses inside the
# namespace. Everything is torn down by PID at the end, however the script ends, and checked:
# no daemon, pod, mount, network namespace or cgroup is left.
#
# MSX_E2E_K8S_KEEP=1 leaves the cluster running at the end (for a look around) until a file it
# names is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

[[ $(id -u) == 0 ]] || { echo "e2e-k8s: run as root (network namespace, mounts, cgroups)" >&2; exit 1; }
CACHE=$(bash scripts/k8s-build.sh --print-dir)
for b in bin/kube-apiserver bin/kubectl bin/kube-controller-manager bin/kube-scheduler bin/kubelet \
	bin/kube-proxy bin/kube-router bin/coredns images/pause.tar root/usr/bin/etcd root/usr/sbin/ipset; do
	[[ -e $CACHE/$b ]] && continue
	echo "e2e-k8s: $CACHE/$b is missing; nice bash scripts/k8s-build.sh builds it once (20-40 min)" >&2
	# --if-cached (the suite's way): a machine without the cache skips, saying so.
	[[ ${1:-} == --if-cached ]] && exit 0
	exit 1
done

T0=$SECONDS
ID=msxk8s$$
NS=$ID                       # the network namespace
CG=$ID                       # the kubelet's cgroup root, in every hierarchy
WORK=$(mktemp -d "/tmp/$ID.XXXX")
NODE=msx-node
NODE_IP=10.210.0.2
POD_CIDR=10.244.0.0/24
SVC_CIDR=10.96.0.0/16
PROJECT=k8s$$
WS_PARENT=$WORK/ws
WS=$WS_PARENT/$PROJECT
API_KEY=key-e2e-k8s-$(openssl rand -hex 12)
export PATH=$CACHE/bin:$CACHE/root/usr/sbin:$CACHE/root/usr/bin:$PATH
export LD_LIBRARY_PATH=$CACHE/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
declare -A PID=()           # daemon -> PID, in start order (ORDER)
ORDER=()
CNI_BEFORE=$(ls /run/netns 2>/dev/null | grep '^cni-' || true)
MSX=$WORK/msx
IMAGES=()                    # the images msx up built, removed at the end

log() { printf '%s e2e-k8s [%3ds]: %s\n' "$(date -u +%H:%M:%S)" $((SECONDS - T0)) "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
in_ns() { nsenter --net=/run/netns/$NS "$@"; }
kc() { in_ns kubectl --kubeconfig "$WORK/pki/admin.kubeconfig" "$@"; }
# start NAME CMD...: a daemon inside the namespace, its output in WORK/logs/NAME.log.
start() {
	local name=$1; shift
	nsenter --net=/run/netns/$NS "$@" >"$WORK/logs/$name.log" 2>&1 &
	PID[$name]=$!
	ORDER+=("$name")
}
# wait_for WHAT SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
	local what=$1 limit=$2; shift 2
	local deadline=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || fail "$what not within $limit s"
		sleep 0.5
	done
	log "$what"
}
# show_logs NAME: the last lines of a daemon's log, on failure.
show_logs() { for n in "$@"; do [[ -f $WORK/logs/$n.log ]] && { echo "--- $n" >&2; tail -n 25 "$WORK/logs/$n.log" >&2; }; done; return 0; }

# --- teardown, however the script ends -----------------------------------------------------
teardown() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if ((rc != 0)) && [[ -d $WORK/logs ]]; then show_logs kube-apiserver kubelet containerd kube-router; fi
	if [[ ${MSX_E2E_K8S_KEEP:-} == 1 && -n ${PID[kube-apiserver]:-} ]]; then
		touch "$WORK/keep"
		log "cluster kept: nsenter --net=/run/netns/$NS kubectl --kubeconfig $WORK/pki/admin.kubeconfig get pods -A; rm $WORK/keep tears it down"
		while [[ -e $WORK/keep ]]; do sleep 1; done
	fi
	log "tearing down"
	if [[ -n ${PID[kube-apiserver]:-} ]] && kill -0 "${PID[kube-apiserver]}" 2>/dev/null; then
		if ((rc != 0)); then
			kc get nodes,pods -A -o wide >&2
			kc -n "$PROJECT" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 30 >&2
		fi
		kc delete namespace "$PROJECT" --wait=true --timeout=90s >/dev/null 2>&1
		kc delete pv -l msx-e2e=$ID --wait=false >/dev/null 2>&1
	fi
	# Whatever the kubelet did not remove: every task and container of the node's containerd.
	if [[ -n ${PID[containerd]:-} ]]; then
		local ctr="ctr -a $WORK/containerd.sock -n k8s.io"
		for c in $($ctr tasks ls -q 2>/dev/null); do $ctr tasks kill -s SIGKILL "$c" >/dev/null 2>&1; done
		sleep 1
		for c in $($ctr tasks ls -q 2>/dev/null); do $ctr tasks delete -f "$c" >/dev/null 2>&1; done
		for c in $($ctr containers ls -q 2>/dev/null); do $ctr containers delete "$c" >/dev/null 2>&1; done
	fi
	# Daemons by PID, the last started first.
	local i name p
	for ((i = ${#ORDER[@]} - 1; i >= 0; i--)); do
		name=${ORDER[i]} p=${PID[$name]}
		kill -TERM "$p" 2>/dev/null || continue
		for _ in $(seq 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# Shims of this containerd (found by its socket, which only they name), then anything else
	# still running with this run's directory in its command line.
	for p in $(grep -lsa -- "$WORK" /proc/[0-9]*/cmdline | cut -d/ -f3); do
		[[ $p == "$$" ]] || kill -KILL "$p" 2>/dev/null
	done
	# Mounts: the kubelet's volumes, containerd's snapshots and sandboxes, deepest first.
	findmnt -rn -o TARGET | grep -F "$WORK" | sort -r | while read -r m; do umount -l "$m"; done
	for n in $(ls /run/netns 2>/dev/null | grep '^cni-'); do
		grep -qx "$n" <<<"$CNI_BEFORE" || { umount "/run/netns/$n" 2>/dev/null; rm -f "/run/netns/$n"; }
	done
	ip netns del "$NS" 2>/dev/null
	# cgroups the kubelet and runc made under its root, deepest first.
	for h in /sys/fs/cgroup/*/; do
		[[ -d $h$CG ]] && find "$h$CG" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	if [[ -x $MSX && -d $WS ]]; then (cd "$WS" && "$MSX" down --volumes >/dev/null 2>&1); fi
	((${#IMAGES[@]})) && docker rmi -f "${IMAGES[@]}" >/dev/null 2>&1
	rm -rf "$WORK"
	# Nothing left?
	local left=()
	grep -lsa -- "$WORK" /proc/[0-9]*/cmdline >/dev/null 2>&1 && left+=("processes")
	findmnt -rn -o TARGET | grep -qF "$WORK" && left+=("mounts")
	[[ -e /run/netns/$NS ]] && left+=("network namespace $NS")
	for h in /sys/fs/cgroup/*/; do [[ -d $h$CG ]] && left+=("cgroup $h$CG"); done
	for n in $(ls /run/netns 2>/dev/null | grep '^cni-'); do grep -qx "$n" <<<"$CNI_BEFORE" || left+=("netns $n"); done
	[[ -n $(docker ps -aq --filter "label=dev.msx.project=$PROJECT") ]] && left+=("containers of $PROJECT")
	[[ -n $(docker volume ls -q --filter "label=dev.msx.project=$PROJECT") ]] && left+=("volumes of $PROJECT")
	[[ -n $(docker network ls -q --filter "label=dev.msx.project=$PROJECT") ]] && left+=("networks of $PROJECT")
	if ((${#left[@]})); then
		log "LEFT BEHIND: ${left[*]}"
		rc=1
	else
		log "nothing left behind"
	fi
	((rc == 0)) && log "PASS in $((SECONDS - T0)) s" || log "FAIL (exit $rc)"
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORK"/{logs,pki,etcd,cni,kubelet,pv,containerd,images}

# --- the workspace, its images, its exports ------------------------------------------------
log "building msx and a workspace"
go build -o "$MSX" .
eval "$(bash scripts/local-images.sh 2>/dev/null)"
mkdir -p "$WS_PARENT"
(
	cd "$WS_PARENT"
	"$MSX" init "$PROJECT" --module "example.com/$PROJECT" >/dev/null 2>&1
	cd "$WS"
	"$MSX" new service orders --db sqlite >/dev/null 2>&1
	"$MSX" new service payments --db postgres --depends-on orders --subscribes orders.item.created >/dev/null 2>&1
	sed -i 's#^    route: /api/orders/$#    route: /api/orders/\n    protected: true#' msx.yaml
	grep -q 'protected: true' msx.yaml || { echo "msx.yaml has no orders route to protect" >&2; exit 1; }
	mkdir -p .msx/secrets && chmod 700 .msx/secrets
	printf 'e2e:%s\n' "$API_KEY" >.msx/secrets/gateway-api-keys && chmod 600 .msx/secrets/gateway-api-keys
)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log "msx up -d (builds the images), then msx down"
(cd "$WS" && MSX_GATEWAY_PORT=$port "$MSX" up -d --no-tui >"$WORK/logs/msx-up.log" 2>&1) || { tail -20 "$WORK/logs/msx-up.log" >&2; fail "msx up -d"; }
(cd "$WS" && "$MSX" down >/dev/null)
mapfile -t IMAGES < <(docker images --format '{{.Repository}}:{{.Tag}}' "msx-$PROJECT/*")
((${#IMAGES[@]} >= 4)) || fail "msx up built ${IMAGES[*]:-no image}, want the gateway, orders, payments and the collector"
(cd "$WS" && "$MSX" export k8s --out k8s >/dev/null 2>&1 && "$MSX" export k8s --mesh linkerd --out k8s-linkerd >/dev/null 2>&1) || fail "msx export k8s"
pg_image=$MSX_IMAGES_POSTGRES
nats_image=$MSX_IMAGES_NATS
log "docker save of ${#IMAGES[@]} images and the infrastructure's"
docker save -o "$WORK/images/msx.tar" "${IMAGES[@]}" "$pg_image" "$nats_image"

# An overlay of the export for this machine: the images msx built (no registry: tagged, so
# pulled only if not present, and they are), and the local Postgres image's own user, which is
# not the official image's 999 the export names.
pg_uid=$(docker run --rm --entrypoint id "$pg_image" -u postgres)
pg_gid=$(docker run --rm --entrypoint id "$pg_image" -g postgres)
mkdir -p "$WS/k8s/overlays/e2e"
{
	echo "apiVersion: kustomize.config.k8s.io/v1beta1"
	echo "kind: Kustomization"
	echo "resources: [../local]"
	echo "images:"
	for ref in "${IMAGES[@]}"; do
		repo=${ref%:*}
		echo "  - {name: $PROJECT/${repo##*/}, newName: $repo, newTag: \"${ref##*:}\"}"
	done
	# The infrastructure images: msx export names the images msx.yaml or MSX_IMAGES_* give;
	# should they be the official ones, these are the local builds of them.
	echo "  - {name: postgres, newName: ${pg_image%:*}, newTag: \"${pg_image##*:}\"}"
	echo "  - {name: nats, newName: ${nats_image%:*}, newTag: \"${nats_image##*:}\"}"
	echo "patches:"
	echo "  - target: {kind: StatefulSet, name: payments-db}"
	echo "    patch: |-"
	for f in runAsUser runAsGroup fsGroup; do
		v=$pg_uid; [[ $f == runAsUser ]] || v=$pg_gid
		echo "      - {op: replace, path: /spec/template/spec/securityContext/$f, value: $v}"
	done
} >"$WS/k8s/overlays/e2e/kustomization.yaml"

# --- certificates ----------------------------------------------------------------------------
log "certificates (openssl)"
cd "$WORK/pki"
# P-256 keys: RSA key generation costs seconds a key on a loaded machine.
EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${EC[@]}" -keyout ca.key -out ca.crt -days 2 -subj /CN=msx-e2e-ca 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out sa.key && openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
# cert NAME SUBJECT [SANS]: a key and a certificate signed by the CA.
cert() {
	openssl req "${EC[@]}" -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
	local ext=()
	if [[ -n ${3:-} ]]; then printf 'subjectAltName=%s\n' "$3" >"$1.ext"; ext=(-extfile "$1.ext"); fi
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out "$1.crt" "${ext[@]}" 2>/dev/null
}
cert apiserver /CN=kube-apiserver "IP:127.0.0.1,IP:$NODE_IP,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert admin "/O=system:masters/CN=admin"
cert apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert controller-manager /CN=system:kube-controller-manager
cert scheduler /CN=system:kube-scheduler
cert kubelet "/O=system:nodes/CN=system:node:$NODE"
cert proxy /CN=system:kube-proxy
for u in admin controller-manager scheduler kubelet proxy; do
	k="kubectl --kubeconfig $u.kubeconfig config"
	$k set-cluster e2e --server=https://127.0.0.1:6443 --certificate-authority=ca.crt --embed-certs >/dev/null
	$k set-credentials "$u" --client-certificate="$u.crt" --client-key="$u.key" --embed-certs >/dev/null
	$k set-context e2e --cluster=e2e --user="$u" >/dev/null
	$k use-context e2e >/dev/null
done
cd "$REPO"

# --- the network namespace -------------------------------------------------------------------
log "network namespace $NS"
ip netns add "$NS"
in_ns ip link set lo up
# The node's address, on a veth pair whose both ends stay in the namespace (this kernel has no
# dummy interfaces): the host's interfaces are never touched.
in_ns ip link add node0 type veth peer name node1
in_ns ip addr add "$NODE_IP/24" dev node0
in_ns ip link set node1 up
in_ns ip link set node0 up
in_ns ip route add default via 10.210.0.1 dev node0
in_ns sysctl -qw net.ipv4.ip_forward=1
in_ns sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || log "no bridge-nf-call-iptables in the namespace"

# --- control plane ---------------------------------------------------------------------------
start etcd etcd --name default --data-dir "$WORK/etcd" \
	--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
	--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster default=http://127.0.0.1:2380
P=$WORK/pki
start kube-apiserver kube-apiserver --etcd-servers=http://127.0.0.1:2379 \
	--bind-address=127.0.0.1 --advertise-address=$NODE_IP --secure-port=6443 \
	--tls-cert-file=$P/apiserver.crt --tls-private-key-file=$P/apiserver.key --client-ca-file=$P/ca.crt \
	--authorization-mode=Node,RBAC --service-cluster-ip-range=$SVC_CIDR \
	--service-account-issuer=https://kubernetes.default.svc.cluster.local \
	--service-account-key-file=$P/sa.pub --service-account-signing-key-file=$P/sa.key \
	--kubelet-client-certificate=$P/apiserver-kubelet.crt --kubelet-client-key=$P/apiserver-kubelet.key \
	--kubelet-preferred-address-types=InternalIP,Hostname
wait_for "API server ready" 120 kc get --raw /readyz
T_API=$((SECONDS - T0))
start kube-controller-manager kube-controller-manager --kubeconfig=$P/controller-manager.kubeconfig \
	--controllers='*,-nodeipam' --leader-elect=false --use-service-account-credentials=true \
	--service-account-private-key-file=$P/sa.key --root-ca-file=$P/ca.crt --bind-address=127.0.0.1
start kube-scheduler kube-scheduler --kubeconfig=$P/scheduler.kubeconfig --leader-elect=false --bind-address=127.0.0.1

# --- the node --------------------------------------------------------------------------------
cat >"$WORK/cni/10-bridge.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "e2e", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
cat >"$WORK/containerd.toml" <<EOF
version = 2
root = "$WORK/containerd/root"
state = "$WORK/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.opt"]
[grpc]
  address = "$WORK/containerd.sock"
[ttrpc]
  address = "$WORK/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "local/pause:1"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CACHE/root/usr/lib/cni"
    conf_dir = "$WORK/cni"
EOF
start containerd containerd --config "$WORK/containerd.toml"
CTR="ctr -a $WORK/containerd.sock -n k8s.io"
wait_for "containerd up" 30 $CTR version
log "importing the images into the node's containerd"
$CTR images import "$CACHE/images/pause.tar" >/dev/null 2>&1
$CTR images import "$WORK/images/msx.tar" >/dev/null 2>&1
rm -f "$WORK/images/msx.tar"

for h in /sys/fs/cgroup/*/; do
	[[ -L ${h%/} || $h == */unified/ ]] && continue
	mkdir -p "$h$CG"
	if [[ -f ${h}cpuset.cpus ]]; then
		cat "${h}cpuset.cpus" >"$h$CG/cpuset.cpus"
		cat "${h}cpuset.mems" >"$h$CG/cpuset.mems"
	fi
done
echo "nameserver $NODE_IP" >"$WORK/resolv.conf"
cat >"$WORK/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: /$CG
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$WORK/containerd.sock
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$NODE_IP]
resolvConf: $WORK/resolv.conf
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
podLogsDir: $WORK/pod-logs
# Images are imported, never pulled back: no eviction or image garbage collection on a
# machine whose disk is shared with other work.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
start kubelet kubelet --config="$WORK/kubelet.yaml" --kubeconfig=$P/kubelet.kubeconfig \
	--root-dir="$WORK/kubelet" --hostname-override=$NODE --node-ip=$NODE_IP
start kube-proxy kube-proxy --kubeconfig=$P/proxy.kubeconfig --hostname-override=$NODE \
	--cluster-cidr=10.244.0.0/16 --proxy-mode=iptables --conntrack-max-per-core=0 \
	--conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 \
	--metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256
cat >"$WORK/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $P/admin.kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
EOF
start coredns coredns -conf "$WORK/Corefile"
node_ready() { kc get node $NODE -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True; }
wait_for "node Ready" 180 node_ready
T_NODE=$((SECONDS - T0))
# kube-router finds its node by name when it starts: after the kubelet registered it.
start kube-router kube-router --kubeconfig=$P/admin.kubeconfig --hostname-override=$NODE \
	--run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false

# --- the export, applied ---------------------------------------------------------------------
kc create namespace "$PROJECT" >/dev/null
# The secrets, as the export's README says (from the workspace root).
grep -E "^kubectl -n $PROJECT create secret generic " "$WS/k8s/README.md" | while read -r line; do
	(cd "$WS" && in_ns kubectl --kubeconfig "$P/admin.kubeconfig" ${line#kubectl } >/dev/null)
done
# Volumes: no provisioner here, so one hostPath PersistentVolume per claim, bound to it in
# advance and owned by the user of the pod that mounts it.
kc kustomize "$WS/k8s/overlays/e2e" >"$WORK/rendered.yaml"
kc create --dry-run=client -o json -f "$WORK/rendered.yaml" | jq -s '{items: .}' >"$WORK/rendered.json"
jq -r '.items as $all
	| ($all[] | select(.kind == "Deployment") | . as $d | .spec.template.spec.volumes[]?
		| select(.persistentVolumeClaim) | "\(.persistentVolumeClaim.claimName) \($d.spec.template.spec.securityContext.runAsUser):\($d.spec.template.spec.securityContext.fsGroup)"),
	  ($all[] | select(.kind == "StatefulSet") | . as $s | .spec.volumeClaimTemplates[]?
		| "\(.metadata.name)-\($s.metadata.name)-0 \($s.spec.template.spec.securityContext.runAsUser):\($s.spec.template.spec.securityContext.fsGroup)")' \
	"$WORK/rendered.json" | while read -r claim owner; do
	mkdir -p "$WORK/pv/$claim"
	chown "$owner" "$WORK/pv/$claim" && chmod 0700 "$WORK/pv/$claim"
	kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: $ID-$claim, labels: {msx-e2e: $ID}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  claimRef: {namespace: $PROJECT, name: $claim}
  hostPath: {path: $WORK/pv/$claim, type: Directory}
EOF
done
log "kubectl apply -k (the export, with this machine's images)"
kc apply -k "$WS/k8s/overlays/e2e" >"$WORK/logs/apply.log" 2>&1 || { cat "$WORK/logs/apply.log" >&2; fail "kubectl apply -k"; }
want=$(jq '[.items[] | select(.kind == "Deployment" or .kind == "StatefulSet") | .spec.replicas // 1] | add' "$WORK/rendered.json")
pods_ready() {
	local n
	n=$(kc -n "$PROJECT" get pods -o json |
		jq '[.items[] | select(.status.conditions[]? | select(.type == "Ready" and .status == "True"))] | length')
	[[ $n == "$want" ]]
}
wait_for "all $want pods Ready" 300 pods_ready
T_PODS=$((SECONDS - T0))
kc -n "$PROJECT" get pods -o wide >&2

# --- requests through the gateway, from inside the namespace ---------------------------------
gw=$(kc -n "$PROJECT" get svc gateway -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}')
# The gateway answers only the host names it is told (ALLOWED_HOSTS, msx.yaml's
# gateway.allowed_hosts), localhost by default: these requests name it, as a port-forward's would.
req() { in_ns curl -sS -m 10 -H 'Host: localhost' -H "X-Api-Key: $API_KEY" -H 'Content-Type: application/json' "$@"; }
code() { in_ns curl -s -o /dev/null -w '%{http_code}' -m 10 -H 'Host: localhost' "$@"; }
c=$(code "http://$gw/api/orders/items")
[[ $c == 401 ]] || fail "GET /api/orders/items without the API key through the gateway at $gw: $c, want 401"
# The first calls may meet a path still being set up (kube-proxy's and kube-router's rules
# follow the pods by a few seconds): retried for a minute, as a client would.
for ((i = 0; ; i++)); do
	item=$(req -X POST -d '{"name":"from-k8s"}' "http://$gw/api/orders/items" 2>&1) || true
	id=$(jq -r '.id // empty' <<<"$item" 2>/dev/null) || true
	[[ -n $id ]] && break
	((i < 60)) || fail "POST /api/orders/items through the gateway: $item"
	sleep 1
done
req "http://$gw/api/orders/items/$id" | grep -q from-k8s || fail "GET /api/orders/items/$id does not read it back"
log "POST and GET /api/orders/items through the gateway (SQLite, protected, with the API key)"
# payments may still be settling (its stream, its broker connection): retried likewise.
for ((i = 0; ; i++)); do
	pitem=$(req -X POST -d '{"name":"paid"}' "http://$gw/api/payments/items" 2>&1) || true
	pid=$(jq -r '.id // empty' <<<"$pitem" 2>/dev/null) || true
	[[ -n $pid ]] && break
	((i < 60)) || fail "POST /api/payments/items through the gateway: $pitem"
	sleep 1
done
req "http://$gw/api/payments/items/$pid" | grep -q paid || fail "payments (Postgres) does not read back: $pitem"
# payments calls orders by its service name: an answer from orders (whatever its status) shows
# the name resolved (CoreDNS) and the ClusterIP routed (kube-proxy) through the policies.
up=$(req "http://$gw/api/payments/upstream")
grep -q '"orders"' <<<"$up" && ! grep -qiE 'no such host|connection refused|timeout|deadline' <<<"$up" ||
	fail "payments does not reach orders by its service name: $up"
log "POST and GET /api/payments/items (Postgres), payments -> orders by service name (CoreDNS, kube-proxy)"
# The subscriber: payments handles orders.item.created into its inbox table. Under an export
# the admin listener serves no /inbox (no admin token is mounted), so the table is read in the
# database's own pod, over its local socket (trust there, as the official image does).
inbox_has() {
	kc -n "$PROJECT" exec payments-db-0 -- psql -U payments -d payments -tAc \
		"SELECT type FROM inbox WHERE source = 'orders'" 2>/dev/null | grep -q '^item.created$'
}
wait_for "the event of orders' item reached payments' inbox (outbox, NATS, consumer)" 60 inbox_has

# --- NetworkPolicy: only payments reaches its database ----------------------------------------
db_ip=$(kc -n "$PROJECT" get pod payments-db-0 -o jsonpath='{.status.podIP}')
# pid_of NAME: the PID of a pod's main container, for entering its network namespace.
pid_of() {
	local c
	for c in $($CTR containers ls -q); do
		if $CTR containers info "$c" | jq -e --arg n "$1" --arg ns "$PROJECT" \
			'.Labels["io.kubernetes.container.name"] == $n and .Labels["io.kubernetes.pod.namespace"] == $ns' >/dev/null; then
			$CTR tasks ls | awk -v c="$c" '$1 == c && $3 == "RUNNING" {print $2}'
			return
		fi
	done
}
connects() { nsenter --net=/proc/"$1"/ns/net timeout 5 bash -c "exec 3<>/dev/tcp/$db_ip/5432" 2>/dev/null; }
ppid=$(pid_of payments) opid=$(pid_of orders)
[[ -n $ppid && -n $opid ]] || fail "no running container of payments ($ppid) or orders ($opid)"
connects "$ppid" || fail "payments cannot open a connection to its database $db_ip:5432"
if connects "$opid"; then fail "orders opens a connection to payments' database: NetworkPolicy not enforced"; fi
log "NetworkPolicy: payments connects to payments-db:5432, orders is refused"

# --- the mesh variant, admitted by the API server --------------------------------------------
kc apply -k "$WS/k8s-linkerd/overlays/local" --dry-run=server >"$WORK/logs/linkerd.log" 2>&1 ||
	{ cat "$WORK/logs/linkerd.log" >&2; fail "kubectl apply --dry-run=server of the --mesh linkerd export"; }
log "--mesh linkerd export: kubectl apply -k --dry-run=server admits $(grep -c 'server dry run' "$WORK/logs/linkerd.log") objects"
log "timings: API server ready ${T_API}s, node Ready ${T_NODE}s, pods Ready ${T_PODS}s after start"

#!/usr/bin/env bash
# The Vagrant cluster's smoke test, for a machine with Vagrant and VirtualBox or libvirt (the CI
# machine cannot run VMs; e2e/tests/provision.rs checks the provisioning there instead):
# `vagrant up`, wait for worker-1 and worker-2 to be Ready, run an HTTP server pod on worker-2
# and a client pod on worker-1, fetch the server by its pod IP across the VMs, report, and
# `vagrant destroy -f` unless --keep (or PODIUM_VAGRANT_KEEP=1). Other arguments go to
# `vagrant up` (e.g. --provider libvirt). Needs kubectl and the release build (see the
# Vagrantfile).
set -euo pipefail
cd "$(dirname "$0")/../.."
log() { echo "[smoke] $*" >&2; }
die() {
  echo "[smoke] FAILED: $*" >&2
  exit 1
}

keep=${PODIUM_VAGRANT_KEEP:-0}
up_args=()
for arg; do
  case $arg in
    --keep) keep=1 ;;
    *) up_args+=("$arg") ;;
  esac
done
for tool in vagrant kubectl; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
for bin in target/release/{apiserver,scheduler,controller-manager,agent} pause/target/release/pause; do
  [[ -x $bin ]] || die "$bin is missing: cargo build --release --workspace && cargo build --release --manifest-path pause/Cargo.toml"
done

finish() {
  local status=$?
  if ((status != 0)); then
    log "diagnostics"
    k get nodes -o wide >&2 || true
    k get pods -o wide >&2 || true
    for worker in worker-1 worker-2; do
      vagrant ssh "$worker" -c 'ip route; sudo iptables -S FORWARD; sudo journalctl -u podium-agent -n 20 --no-pager' >&2 || true
    done
  fi
  if [[ $keep == 1 ]]; then
    log "keeping the VMs (vagrant destroy -f removes them)"
  else
    log "destroying the VMs"
    vagrant destroy -f >&2 || true
  fi
  exit "$status"
}
trap finish EXIT

kubeconfig=.vagrant/kubeconfig
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }

started=$SECONDS
log "vagrant up ${up_args[*]}"
vagrant up "${up_args[@]}" >&2
[[ -f $kubeconfig ]] || die "vagrant up wrote no $kubeconfig"

for ((i = 0; ; i++)); do
  ready=$(k get nodes --no-headers 2>/dev/null | awk '$1 ~ /^worker-[12]$/ && $2 == "Ready"' | wc -l || true)
  ((ready == 2)) && break
  ((i < 150)) || die "worker-1 and worker-2 not Ready after 5 minutes ($ready Ready)"
  ((i % 10 == 0)) && log "waiting for worker-1 and worker-2 to be Ready ($ready of 2)"
  sleep 2
done
log "worker-1 and worker-2 are Ready"

pod() { # NAME NODE COMMAND
  cat <<POD
apiVersion: v1
kind: Pod
metadata:
  name: $1
  labels: {app: podium-smoke}
spec:
  nodeSelector: {kubernetes.io/hostname: $2}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: podium/busybox:vm
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "$3"]
---
POD
}
k delete pod -l app=podium-smoke --ignore-not-found --wait >&2
{
  pod smoke-server worker-2 "mkdir -p /www && echo podium-smoke-ok > /www/index.html && exec httpd -f -p 8080 -h /www"
  pod smoke-client worker-1 "exec sleep 3600"
} | k apply -f - >&2

for ((i = 0; ; i++)); do
  phases=$(k get pod smoke-server smoke-client -o 'jsonpath={.items[*].status.phase}' 2>/dev/null || true)
  [[ $phases == "Running Running" ]] && break
  ((i < 90)) || die "the pods are not Running after 3 minutes ($phases)"
  sleep 2
done
server_ip=$(k get pod smoke-server -o 'jsonpath={.status.podIP}')
client_ip=$(k get pod smoke-client -o 'jsonpath={.status.podIP}')
log "server on worker-2 at $server_ip, client on worker-1 at $client_ip"

for ((i = 0; ; i++)); do
  answer=$(k exec smoke-client -- wget -qO- -T 3 "http://$server_ip:8080/index.html" 2>/dev/null || true)
  [[ $answer == podium-smoke-ok ]] && break
  ((i < 30)) || die "the client on worker-1 got no answer from $server_ip:8080 on worker-2 in a minute"
  sleep 2
done

cidrs=$(k get nodes -o 'jsonpath={range .items[*]}{.metadata.name}={.spec.podCIDR} {end}')
log "PASSED in $((SECONDS - started)) s: worker-1 pod $client_ip fetched worker-2 pod $server_ip:8080 across the VMs (podCIDRs: $cidrs)"

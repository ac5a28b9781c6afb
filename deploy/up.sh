#!/usr/bin/env bash
# Builds Podium's image and brings up the local cluster of docker-compose.yml (apiserver,
# scheduler, controller-manager, agents node-1..3), then waits for three Ready nodes and
# writes ./kubeconfig:  kubectl --kubeconfig kubeconfig get nodes
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[up] $*" >&2; }
port=${PODIUM_PORT:-6443}
compose() { docker-compose -p podium -f docker-compose.yml "$@"; }

bash deploy/build-images.sh
docker network inspect podium >/dev/null 2>&1 ||
  docker network create --label io.podium.network=pods podium >/dev/null
mkdir -p /var/lib/podium/node-1 /var/lib/podium/node-2 /var/lib/podium/node-3
log "starting the cluster"
compose up -d >&2
cat > kubeconfig <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: podium
  cluster:
    server: http://127.0.0.1:$port
users:
- name: podium
  user: {}
contexts:
- name: podium
  context:
    cluster: podium
    user: podium
current-context: podium
KUBECONFIG
for _ in $(seq 1 120); do
  ready=$(kubectl --kubeconfig kubeconfig get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l || true)
  if [[ $ready -ge 3 ]]; then
    log "three nodes Ready; the apiserver is at http://127.0.0.1:$port"
    log "try: kubectl --kubeconfig $PWD/kubeconfig get nodes"
    exit 0
  fi
  log "waiting for the nodes ($ready of 3 Ready)"
  sleep 1
done
compose logs --tail 30 >&2
echo "the nodes did not become Ready in 2 minutes" >&2
exit 1

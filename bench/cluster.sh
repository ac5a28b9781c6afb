#!/usr/bin/env bash
# The quick-start and node-failure benchmark (by hand, never in CI; `bash bench/run.sh
# cluster` runs it). It times, on the docker-compose cluster of deploy/up.sh:
#   - cold start: deploy/up.sh with an empty build directory (target/bench-cold: every crate
#     compiled in release, the image built) until three nodes are Ready; skipped with
#     --no-cold;
#   - warm start: deploy/down.sh, then deploy/up.sh with everything built (in that same
#     directory, or in target/ with --no-cold), until three Ready;
#   - node failure: node-2's agent stopped (docker-compose stop); the time until the
#     controller-manager marks node-2 Ready=Unknown, measured from the stop and from the
#     node's last Lease renewal, against the node monitor grace period;
#   - eviction: a pod on node-2 tolerating the unreachable taint for T seconds; the time
#     from the taint's timeAdded until the pod is being deleted, against T.
# Flags: --grace S (the controller-manager's node monitor grace period; default 40, as in
# Kubernetes), --toleration T (default 20), --no-cold. Results (markdown) go to stdout,
# progress to stderr. The cluster is taken down at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

grace=40
toleration=20
cold=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --grace) grace=$2; shift 2 ;;
    --toleration) toleration=$2; shift 2 ;;
    --no-cold) cold=0; shift ;;
    *) echo "unknown flag $1 (--grace S, --toleration T, --no-cold)" >&2; exit 2 ;;
  esac
done

log() { echo "[cluster] $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
k() { kubectl --kubeconfig kubeconfig "$@"; }
compose() { docker-compose -p podium -f docker-compose.yml "$@"; }
up() { PODIUM_NODE_GRACE=$grace bash deploy/up.sh >&2; }
# Polls `k args` every 0.2 s until its output matches the pattern; prints the time it did.
wait_for() {
  local pattern=$1; shift
  until [[ $(k "$@" 2>/dev/null || true) =~ $pattern ]]; do sleep 0.2; done
  now
}
rfc3339() { date -d "$1" +%s.%N; }
trap 'bash deploy/down.sh >/dev/null 2>&1 || true' EXIT

bash deploy/down.sh >&2 || true
if [[ $cold == 1 ]]; then
  log "cold start: a fresh build directory (target/bench-cold) and no image"
  docker rmi -f podium/podium:dev >/dev/null 2>&1 || true
  rm -rf target/bench-cold
  export CARGO_TARGET_DIR=target/bench-cold
  t0=$(now)
  up
  cold_seconds=$(since "$t0" "$(now)")
  bash deploy/down.sh >&2
fi
log "warm start"
t0=$(now)
up
warm_seconds=$(since "$t0" "$(now)")

log "node failure: a pod on node-2 tolerating unreachable for ${toleration}s"
k apply -f - >&2 <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: bench-evictee
spec:
  nodeSelector: {kubernetes.io/hostname: node-2}
  terminationGracePeriodSeconds: 1
  tolerations:
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: $toleration}
  containers:
  - name: app
    image: podium/podium:dev
    command: [/bin/sh, -c, 'sleep 3600']
YAML
wait_for Running get pod bench-evictee -o 'jsonpath={.status.phase}' >/dev/null
log "stopping node-2's agent"
stopped=$(now)
compose stop node-2 >&2
renewed=$(rfc3339 "$(k get lease -n kube-node-lease node-2 -o 'jsonpath={.spec.renewTime}')")
unknown=$(wait_for '^Unknown$' get node node-2 -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')
log "node-2 is Unknown"
tainted=$(rfc3339 "$(k get node node-2 -o 'jsonpath={.spec.taints[?(@.key=="node.kubernetes.io/unreachable")].timeAdded}' | awk '{print $1}')")
evicted=$(wait_for '.+' get pod bench-evictee -o 'jsonpath={.metadata.deletionTimestamp}')
log "the pod is being evicted"
compose start node-2 >&2

detect_stop=$(since "$stopped" "$unknown")
detect_renew=$(since "$renewed" "$unknown")
evict=$(since "$tainted" "$evicted")
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t ? "met" : "missed") }'; }
cat <<MD
| measure | value | target | |
|---|---|---|---|
| cold start (empty build dir → 3 Ready) | ${cold_seconds:-not run} s | none | |
| warm start (built → 3 Ready) | $warm_seconds s | ≤ 30 s | $(verdict "$warm_seconds" 30) |
| node-2 stopped → Ready=Unknown | $detect_stop s | ≤ grace + 5 = $((grace + 5)) s | $(verdict "$detect_stop" $((grace + 5))) |
| last Lease renewal → Ready=Unknown | $detect_renew s | ≤ grace + 5 = $((grace + 5)) s | $(verdict "$detect_renew" $((grace + 5))) |
| unreachable taint added → pod evicted | $evict s (timeAdded has 1 s resolution) | ≤ tolerationSeconds + 5 = $((toleration + 5)) s | $(verdict "$evict" $((toleration + 5))) |
MD

#!/usr/bin/env bash
# Provisions one machine of the Vagrant cluster (the Vagrantfile at the repository root runs it
# as root in each VM from the /vagrant synced folder):
#
#   provision.sh control NODE_NAME NODE_IP   apiserver, scheduler and controller-manager
#   provision.sh worker  NODE_NAME NODE_IP   an agent with host-gw pod networking, Docker
#                                            (Debian's docker.io) and the test image
#
# It copies this build's release binaries to /usr/local/bin (build them on the host first; the
# VMs run Debian 12 like the build host), renders podium.service.in into one systemd unit per
# component, writes /etc/default/podium-<component> unless it exists (local settings survive
# provisioning again), and starts the units.
#
# Environment:
#   PODIUM_CONTROL_IP       the control-plane VM's address (default 192.168.56.10)
#   PODIUM_CLUSTER_CIDR     the range nodes get their podCIDRs from (default 10.244.0.0/16)
#   PODIUM_BIN_DIR          a directory holding all five binaries (default: target/release and
#                           pause/target/release of this checkout)
#   PODIUM_PROVISION_ROOT   staging: install under this directory instead of /; dry unless
#                           PODIUM_PROVISION_DRY=0
#   PODIUM_PROVISION_DRY=1  write files only: no apt-get, docker, systemctl or waiting
# e2e/tests/provision.rs runs it in staging mode.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { echo "[provision] $*" >&2; }
die() {
  echo "[provision] error: $*" >&2
  exit 1
}
usage="usage: provision.sh control|worker NODE_NAME NODE_IP"

[[ $# -eq 3 ]] || die "$usage"
role=$1 node_name=$2 node_ip=$3
case $role in
  control) components=(apiserver scheduler controller-manager) binaries=(apiserver scheduler controller-manager) ;;
  worker) components=(agent) binaries=(agent pause) ;;
  *) die "unknown role '$role'; $usage" ;;
esac
[[ -n $node_name && -n $node_ip ]] || die "$usage"

control_ip=${PODIUM_CONTROL_IP:-192.168.56.10}
cluster_cidr=${PODIUM_CLUSTER_CIDR:-10.244.0.0/16}
apiserver_url=http://$control_ip:6443
root=${PODIUM_PROVISION_ROOT:-}
root=${root%/}
# Staging is dry unless told otherwise (e2e/tests/provision.rs runs a full pass against stand-ins).
default_dry=0
[[ -z $root ]] || default_dry=1
dry=${PODIUM_PROVISION_DRY:-$default_dry}
bin_dir=/usr/local/bin
test_image=podium/busybox:vm

# Where each binary comes from: PODIUM_BIN_DIR, or this checkout's release builds.
source_of() {
  if [[ -n ${PODIUM_BIN_DIR:-} ]]; then
    echo "$PODIUM_BIN_DIR/$1"
  elif [[ $1 == pause ]]; then
    echo "$repo/pause/target/release/pause"
  else
    echo "$repo/target/release/$1"
  fi
}

# The command line of each component's unit.
exec_start() {
  case $1 in
    apiserver) echo "$bin_dir/apiserver --listen 0.0.0.0:6443 --data-dir /var/lib/podium/apiserver" ;;
    scheduler) echo "$bin_dir/scheduler --apiserver $apiserver_url --leader-elect" ;;
    controller-manager) echo "$bin_dir/controller-manager --apiserver $apiserver_url --leader-elect --cluster-cidr $cluster_cidr" ;;
    agent)
      echo "$bin_dir/agent --apiserver $apiserver_url --node-name $node_name --node-ip $node_ip --host-gw" \
        "--pod-network podium --root-dir /var/lib/podium/agent --pause-binary $bin_dir/pause"
      ;;
  esac
}

description() {
  case $1 in
    apiserver) echo "the object store and the Kubernetes API" ;;
    scheduler) echo "binds pending pods to nodes" ;;
    controller-manager) echo "node lifecycle, eviction, pod GC and pod CIDRs" ;;
    agent) echo "runs the pods bound to $node_name on Docker" ;;
  esac
}

# Renders podium.service.in for one component (quoted replacements are taken literally).
render_unit() {
  local component=$1 after="" text
  [[ $component == agent ]] && after=" docker.service"
  text=$(<"$here/podium.service.in")
  text=${text//@COMPONENT@/"$component"}
  text=${text//@DESCRIPTION@/"$(description "$component")"}
  text=${text//@AFTER@/"$after"}
  text=${text//@EXEC_START@/"$(exec_start "$component")"}
  printf '%s\n' "$text" >"$root/etc/systemd/system/podium-$component.service"
}

write_env_file() {
  local component=$1 file=$root/etc/default/podium-$1
  if [[ -e $file ]]; then
    log "keeping $file"
    return
  fi
  cat >"$file" <<ENV
# Environment of podium-$component.service, read at each start and kept when provisioning runs
# again. Every flag has a PODIUM_* variable (\`$component --help\`): set here the ones the unit's
# command line does not pass, then \`systemctl restart podium-$component\`.
RUST_LOG=info
ENV
}

# The pods' image: no registry, so Debian's static busybox becomes podium/busybox:vm.
import_test_image() {
  if docker image inspect "$test_image" >/dev/null 2>&1; then
    log "$test_image is present"
    return
  fi
  local rootfs
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in sh sleep echo cat ls mkdir wget httpd nc ping ip hostname ps env true false; do
    ln -s busybox "$rootfs/bin/$applet"
  done
  tar -C "$rootfs" -c bin tmp | docker import -c 'ENV PATH=/bin' - "$test_image" >/dev/null
  rm -rf "$rootfs"
  log "imported $test_image"
}

# Polls URL until it answers (curl) or LIMIT seconds pass.
wait_for() {
  local what=$1 url=$2 limit=$3 i
  for ((i = 0; i < limit; i++)); do
    curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
    ((i % 10 == 0)) && log "waiting for $what at $url"
    sleep 1
  done
  return 1
}

missing=()
for bin in "${binaries[@]}"; do
  [[ -x $(source_of "$bin") ]] || missing+=("$(source_of "$bin")")
done
if ((${#missing[@]})); then
  die "missing ${missing[*]}: build on the host first:
    cargo build --release --workspace
    cargo build --release --manifest-path pause/Cargo.toml
  then copy them into the VMs and provision again: vagrant reload --provision"
fi

log "$node_name ($node_ip): $role${root:+, staged under $root}"
if [[ $dry != 1 ]]; then
  packages=(curl)
  [[ $role == worker ]] && packages+=(docker.io busybox-static)
  log "installing ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${packages[@]}" >/dev/null
fi

mkdir -p "$root$bin_dir" "$root/etc/systemd/system" "$root/etc/default"
for bin in "${binaries[@]}"; do
  # Beside it, then renamed over it: a running binary cannot be written.
  install -m 0755 "$(source_of "$bin")" "$root$bin_dir/.$bin.new"
  mv -f "$root$bin_dir/.$bin.new" "$root$bin_dir/$bin"
done
log "installed ${binaries[*]} in $root$bin_dir"
case $role in
  control) mkdir -p "$root/var/lib/podium/apiserver" ;;
  worker) mkdir -p "$root/var/lib/podium/agent" ;;
esac
for component in "${components[@]}"; do
  render_unit "$component"
  write_env_file "$component"
done
log "wrote units: ${components[*]/#/podium-}"

if [[ $dry == 1 ]]; then
  log "dry run: not starting anything"
  exit 0
fi

if [[ $role == worker ]]; then
  systemctl enable --now docker.service
  import_test_image
  # The agent cannot register before the control plane answers (with libvirt, VMs come up in
  # parallel).
  wait_for "the apiserver" "$apiserver_url/readyz" 600 || die "no apiserver at $apiserver_url after 10 minutes"
fi
systemctl daemon-reload
for component in "${components[@]}"; do
  systemctl --quiet enable "podium-$component.service"
  # restart, not start: provisioning again brings in new binaries.
  systemctl restart "podium-$component.service"
  log "started podium-$component"
done

case $role in
  control) check=("the apiserver" "http://127.0.0.1:6443/readyz" podium-apiserver) ;;
  worker) check=("the agent" "http://127.0.0.1:10250/healthz" podium-agent) ;;
esac
if ! wait_for "${check[0]}" "${check[1]}" 60; then
  journalctl -u "${check[2]}" -n 30 --no-pager >&2 || true
  die "${check[0]} did not answer at ${check[1]} within a minute"
fi
log "$node_name is up: ${check[0]} answers at ${check[1]}"

#!/usr/bin/env bash
# Removes the local cluster: its pods' containers, the compose services and network, the
# pods' network, and (unless --keep-data) the apiserver's volume and the agents' directories.
set -euo pipefail
cd "$(dirname "$0")/.."
keep=false
[[ ${1:-} == --keep-data ]] && keep=true
if $keep; then
  docker-compose -p podium -f docker-compose.yml down >&2
else
  docker-compose -p podium -f docker-compose.yml down -v >&2
fi
# The pods' containers go once the agents have stopped: a running agent would start again
# what is removed under it.
for node in node-1 node-2 node-3; do
  ids=$(docker ps -aq --filter "label=io.podium.node=$node")
  [[ -z $ids ]] || docker rm -f $ids >/dev/null
done
$keep || rm -rf /var/lib/podium/node-1 /var/lib/podium/node-2 /var/lib/podium/node-3
docker network rm podium >/dev/null 2>&1 || true

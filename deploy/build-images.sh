#!/usr/bin/env bash
# Builds the image every compose service runs, `podium/podium:dev`, FROM scratch with no
# registry: the component binaries, the shared libraries they link (read from ldd), the pause
# program, and Debian's static busybox (the agent's `mount` for Memory emptyDirs, and health
# checks). PODIUM_PROFILE=debug reuses target/debug instead of building in release.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PODIUM_PROFILE:-release}
# Cargo's build directory (CARGO_TARGET_DIR, as cargo reads it).
target=${CARGO_TARGET_DIR:-target}
log() { echo "[build-images] $*" >&2; }

if [[ $profile == release ]]; then
  log "building the release binaries"
  cargo build --release --locked -p podium-apiserver -p podium-scheduler -p podium-controllers -p podium-agent >&2
fi
log "building pause"
cargo build --release --locked --manifest-path pause/Cargo.toml >&2
[[ -x /bin/busybox ]] || { echo "busybox-static is needed (apt-get install busybox-static)" >&2; exit 1; }

context=target/compose
rm -rf "$context"
mkdir -p "$context/rootfs/bin" "$context/rootfs/tmp" "$context/rootfs/etc"
for bin in apiserver scheduler controller-manager agent; do
  src="$target/$profile/$bin"
  [[ -x $src ]] || { echo "$src is missing: build it first" >&2; exit 1; }
  cp "$src" "$context/rootfs/$bin"
  # The shared libraries and the loader, at the same paths.
  for lib in $(ldd "$src" | awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }'); do
    mkdir -p "$context/rootfs$(dirname "$lib")"
    cp -L "$lib" "$context/rootfs$lib"
  done
done
cp "${CARGO_TARGET_DIR:-pause/target}/release/pause" "$context/rootfs/pause"
cp /bin/busybox "$context/rootfs/bin/busybox"
for applet in sh mount umount wget cat; do ln -sf busybox "$context/rootfs/bin/$applet"; done
echo "root:x:0:0:root:/:/bin/sh" > "$context/rootfs/etc/passwd"
cat > "$context/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENV PATH=/bin
DOCKERFILE
log "building podium/podium:dev"
docker build -q -t podium/podium:dev "$context" >&2

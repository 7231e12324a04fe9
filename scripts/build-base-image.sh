#!/usr/bin/env bash
# Builds the Node 20 base image with no registry: a Debian bookworm root made by debootstrap from the Debian
# mirror (or a local one: DEBIAN_MIRROR=...), plus the build host's own Node 20 binary (same glibc, bookworm),
# imported into podman under the name the Dockerfile's FROM uses. This is how an air-gapped site makes base
# images: from packages it already mirrors, never from a pulled image.
#   usage: scripts/build-base-image.sh [--force]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/podman-env.sh"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
node_bin=${NODE_BIN:-$(command -v node)}

if [ "${1:-}" != "--force" ] && podman image exists "$SIGSTACK_BASE_IMAGE"; then
  echo "base image $SIGSTACK_BASE_IMAGE exists (use --force to rebuild)"; exit 0
fi
major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$major" = 20 ] || { echo "need a Node 20 binary (NODE_BIN=...), $node_bin is Node $major" >&2; exit 1; }
for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install $tool (or bash scripts/ensure-apt.sh)" >&2; exit 1; }
done

root=$(mktemp -d /var/tmp/sigstack-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
t0=$(date +%s)
echo "debootstrap --variant=minbase bookworm from $mirror ..."
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
rm -f "$root.log"
install -m 0755 "$node_bin" "$root/usr/local/bin/node"
# a smaller image: no apt caches, docs or man pages are needed to run node
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
chroot "$root" /usr/local/bin/node -e 'process.exit(0)' || { echo "node does not run in the new root" >&2; exit 1; }
tar -C "$root" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' - "$SIGSTACK_BASE_IMAGE" >/dev/null
echo "built $SIGSTACK_BASE_IMAGE in $(( $(date +%s) - t0 )) s: $(podman image inspect --format '{{.Size}}' "$SIGSTACK_BASE_IMAGE") bytes"

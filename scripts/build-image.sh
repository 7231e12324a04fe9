#!/usr/bin/env bash
# Builds the sigstack image with no network access: base image (scripts/build-base-image.sh, once), production
# dependencies staged from ./node_modules (scripts/stage-image.sh), then `podman build` of the Dockerfile.
# --format docker keeps the HEALTHCHECK (the OCI image format has no field for it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/podman-env.sh"
cd "$here/.."
# one build at a time on this host (parallel test runs share the staging folder and the image tag)
mkdir -p .build && printf "*\n" > .build/.gitignore # build output, never committed
exec 9>.build/lock
flock 9
bash "$here/build-base-image.sh"
bash "$here/stage-image.sh"
podman build --quiet --format docker --network none --build-arg "BASE_IMAGE=$SIGSTACK_BASE_IMAGE" -t "$SIGSTACK_IMAGE" -f Dockerfile . >/dev/null
echo "built $SIGSTACK_IMAGE: $(podman image inspect --format '{{.Size}}' "$SIGSTACK_IMAGE") bytes"

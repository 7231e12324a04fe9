#!/usr/bin/env bash
# `npm run stack:down [-- --volumes]`: stops and removes the compose stack's containers; --volumes also deletes
# the named volumes (the CA keys and the log: only for throwaway stacks).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/podman-env.sh"
cd "$here/.."
project=${SIGSTACK_PROJECT:-sigstack}
podman-compose -p "$project" -f docker-compose.yml down >/dev/null 2>&1 || true
if [ "${1:-}" = "--volumes" ]; then
  for v in log-data ca-data; do podman volume rm -f "${project}_$v" >/dev/null 2>&1 || true; done
fi
echo "sigstack stack $project stopped"

#!/usr/bin/env bash
# `npm run stack:up [-- --dev]`: builds the images if needed (offline), starts the compose stack with podman-compose,
# waits until both services are ready and prints their URLs. --dev turns on the dev OIDC issuer in the CA.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/podman-env.sh"
cd "$here/.."
[ "${1:-}" = "--dev" ] && export SIGSTACK_DEV_OIDC=true
t0=$(date +%s%N)
podman image exists "$SIGSTACK_IMAGE" || bash "$here/build-image.sh"
project=${SIGSTACK_PROJECT:-sigstack}
export SIGSTACK_CA_PORT=${SIGSTACK_CA_PORT:-5555} SIGSTACK_LOG_PORT=${SIGSTACK_LOG_PORT:-3000}
export SIGSTACK_CA_PUBLIC_URL=${SIGSTACK_CA_PUBLIC_URL:-http://127.0.0.1:$SIGSTACK_CA_PORT}
export SIGSTACK_LOG_PUBLIC_URL=${SIGSTACK_LOG_PUBLIC_URL:-http://127.0.0.1:$SIGSTACK_LOG_PORT}
podman-compose -p "$project" -f docker-compose.yml up -d >/dev/null
ca=$SIGSTACK_CA_PUBLIC_URL
log=$SIGSTACK_LOG_PUBLIC_URL
for i in $(seq 1 240); do
  if node -e 'Promise.all(process.argv.slice(1).map((u)=>fetch(u+"/readyz").then((r)=>{if(r.status!==200)throw 0}))).then(()=>process.exit(0),()=>process.exit(1))' "$ca" "$log"; then
    printf 'sigstack is up and ready in %d ms\n  CA  (Fulcio v2)           %s\n  log (Rekor v1, CT)        %s\n  trusted_root.json         %s/sigstack/v1/trusted_root.json\n' \
      "$(( ($(date +%s%N) - t0) / 1000000 ))" "$ca" "$log" "$ca"
    [ "${SIGSTACK_DEV_OIDC:-false}" = true ] && echo "  dev OIDC issuer (DEV ONLY) $ca/dev-oidc"
    exit 0
  fi
  sleep 0.5
done
echo "the stack did not become ready in 120 s; see: podman-compose -p $project logs" >&2
exit 1

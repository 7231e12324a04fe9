#!/usr/bin/env bash
# Stages the production dependencies for the image without network access: a copy of the host's node_modules
# (installed by `npm ci` on a bookworm host, so native modules such as better-sqlite3 match the image's glibc)
# pruned to production dependencies with `npm prune --omit=dev --offline`. The Dockerfile copies .build/prod.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/better-sqlite3 ] || { echo "run npm ci first: the image takes its dependencies from ./node_modules" >&2; exit 1; }
stage=.build/prod
if [ -d "$stage/node_modules" ] && [ "$stage/package-lock.json" -nt package-lock.json ] && [ "$stage/package-lock.json" -nt node_modules ]; then
  exit 0 # already staged from this lock file
fi
rm -rf "$stage"
mkdir -p "$stage"
printf "*\n" > .build/.gitignore # build output, never committed
cp package.json package-lock.json "$stage/"
cp -a node_modules "$stage/node_modules"
(cd "$stage" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null)
touch "$stage/package-lock.json"
echo "staged production dependencies: $(du -sh "$stage/node_modules" | cut -f1)"

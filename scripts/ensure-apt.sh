#!/usr/bin/env bash
# Installs the Debian packages listed in .ci/apt-packages.txt that are missing (registry, podman, softhsm2 ...),
# so `npm test` works on a fresh machine and in CI. Does nothing when all are present.
set -euo pipefail
cd "$(dirname "$0")/.."
list=.ci/apt-packages.txt
[ -s "$list" ] || exit 0
missing=()
while read -r pkg; do
  pkg=${pkg%%#*}; pkg=${pkg//[[:space:]]/}
  [ -n "$pkg" ] || continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done < "$list"
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages the tests need: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "not root: run  sudo apt-get install ${missing[*]}  first" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

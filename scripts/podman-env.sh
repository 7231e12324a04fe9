# Sourced by the container scripts: points podman at the project's containers.conf, never at /etc.
# Override with your own CONTAINERS_CONF if your podman needs no special settings.
: "${CONTAINERS_CONF:=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf}"
export CONTAINERS_CONF
# The image names the Dockerfile and docker-compose.yml use.
: "${SIGSTACK_BASE_IMAGE:=localhost/sigstack-node:20-bookworm}"
: "${SIGSTACK_IMAGE:=localhost/sigstack:latest}"
export SIGSTACK_BASE_IMAGE SIGSTACK_IMAGE

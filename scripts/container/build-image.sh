#!/bin/sh
# make image: build localhost/cerbero-bite:latest with podman, without any registry.
#   1. the base, Debian bookworm from Debian's own packages (mmdebstrap), imported once;
#   2. bite's wheel and the wheels of its locked runtime dependencies, on this host;
#   3. podman build --format docker (the Docker format keeps the HEALTHCHECK).
# Needs podman, runc and mmdebstrap (root may install them: image-check.sh does).
set -eu
cd "$(dirname "$0")/../.."
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/scripts/container/containers.conf}"
base=localhost/cerbero-bite-base:bookworm
image=localhost/cerbero-bite:latest
if ! podman image exists "$base"; then
    echo "image: building the base $base with mmdebstrap"
    mmdebstrap --quiet --variant=apt \
        --include=python3,python3-venv,ca-certificates,cron,curl,tini,passwd \
        bookworm - | podman import --quiet - "$base" >/dev/null
fi
rm -rf build/wheels
mkdir -p build/wheels
.tools/bin/uv export --frozen --no-dev --no-hashes --no-emit-project \
    --format requirements-txt --output-file build/wheels/requirements.txt --quiet
.tools/bin/python -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    --no-deps --dest build/wheels -r build/wheels/requirements.txt
.tools/bin/uv build --wheel --out-dir build/wheels --quiet
podman build --quiet --format docker --tag "$image" --file Containerfile . >/dev/null
echo "image: $image ($(podman image inspect --format '{{.Size}}' "$image") bytes)"

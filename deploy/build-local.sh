#!/usr/bin/env bash
# Build deploy/Dockerfile on a machine that can't pull from a registry: the base image is made from Debian's
# packages (mmdebstrap, then podman import) and passed as BASE; podman builds with runc.
#
#   deploy/build-local.sh              a Piper-only image (EXTRAS=), tagged localhost/phone-agent:cpu
#   EXTRAS=voice deploy/build-local.sh with cloned voices (needs PyTorch's CPU index, or TORCH_INDEX_URL)
#   EXTRAS=voice TORCH_INDEX_URL=https://pypi.org/simple FIND_LINKS=/opt/wheels deploy/build-local.sh
#                                      the same where a folder holds the CPU torch wheel
#
# Prints the build's seconds and the image's size; `make image` then runs it and places a call inside it.
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS=${EXTRAS-}
TAG=${TAG:-localhost/phone-agent:cpu${EXTRAS:+-${EXTRAS//,/-}}}
SUITE=${SUITE:-bookworm}
WORK=${WORK:-build/image}
BASE_TAG=localhost/phone-agent-base:$SUITE
LLAMA_WHEELS=${LLAMA_WHEELS:-$HOME/.cache/phone-agent/llama-cpp-python-0.3.36-avx2}

missing=()
for tool in podman mmdebstrap runc; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing ${missing[*]} with apt-get" >&2
        apt-get update -qq && apt-get install -y -qq podman mmdebstrap runc uidmap fuse-overlayfs >/dev/null
    else
        echo "error: needs ${missing[*]} (sudo apt-get install -y podman mmdebstrap runc uidmap fuse-overlayfs)" >&2
        exit 1
    fi
fi

mkdir -p "$WORK"
# podman's defaults set rlimits, which a container inside an unprivileged sandbox may not: our own
# containers.conf drops them without touching the system-wide one.
printf '[containers]\ndefault_ulimits = []\n' > "$WORK/containers.conf"
export CONTAINERS_CONF=$PWD/$WORK/containers.conf
# crun refuses cgroups in hybrid mode; runc works there and everywhere else. The docker format keeps the
# HEALTHCHECK (OCI images have none).
RUNTIME=(--runtime runc)

if ! podman image exists "$BASE_TAG"; then
    echo "making the base $BASE_TAG from Debian $SUITE (mmdebstrap)" >&2
    mmdebstrap --quiet --variant=minbase --include=python3,ca-certificates "$SUITE" "$WORK/rootfs.tar"
    podman import --quiet "$WORK/rootfs.tar" "$BASE_TAG" >/dev/null
    rm -f "$WORK/rootfs.tar"
fi

build_args=(--build-arg "BASE=$BASE_TAG" --build-arg "EXTRAS=$EXTRAS")
[ -n "${TORCH_INDEX_URL:-}" ] && build_args+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
# A machine whose HTTPS goes through an inspecting proxy trusts it in its CA bundle: the build sees the
# bundle for pip (mounted for the build only, never copied into the image).
bundle=${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}
if [ -n "$bundle" ] && [ -f "$bundle" ]; then
    build_args+=(-v "$bundle:$bundle:ro" --build-arg "PIP_CERT=$bundle")
fi
# Folders of wheels the build may install from (mounted for the build only): the llama.cpp wheel `make setup`
# built, when there is one (so the build doesn't compile it), and any in FIND_LINKS (e.g. a CPU torch wheel).
links=()
ls "$LLAMA_WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1 && links+=("$LLAMA_WHEELS")
for dir in ${FIND_LINKS:-}; do links+=("$dir"); done
if ((${#links[@]})); then
    inside=()
    for i in "${!links[@]}"; do
        build_args+=(-v "${links[$i]}:/wheels/$i:ro")
        inside+=("/wheels/$i")
    done
    build_args+=(--build-arg "PIP_FIND_LINKS=${inside[*]}")
fi

start=$(date +%s.%N)
podman build "${RUNTIME[@]}" --layers --format docker -f deploy/Dockerfile -t "$TAG" "${build_args[@]}" .
end=$(date +%s.%N)
size=$(podman image inspect --format '{{.Size}}' "$TAG")
printf 'built %s in %.0f s, %.0f MB\n' "$TAG" "$(echo "$end - $start" | bc)" "$(echo "$size / 1000000" | bc)"

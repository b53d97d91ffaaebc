#!/usr/bin/env bash
# The operator's image from the repository's Dockerfile, built and run without a container
# daemon or a registry: a Debian base made from Debian's packages (mmdebstrap), the Dockerfile
# built with buildah, the image run with podman, all on an image store of our own.
#
#   tools/image/image.sh build            build $IMAGE (what `make image` runs)
#   tools/image/image.sh podman ARGS...   podman on the same image store, e.g. `podman images`
#
# Environment:
#   IMAGE        the tag to build (localhost/aurora-upgrade-operator:dev)
#   IMAGE_STORE  image storage and podman's state (.local/image-store); delete it to start over
#   IMAGE_BASE   a base image to pull instead of the local Debian one (e.g. python:3.11-slim)
#   XDG_CACHE_HOME  the base's root filesystem tarball is cached under aurora-upgrade/image-base/
#
# Exit status 3, with a line "image: cannot run containers on this machine: ...", means the tools
# are missing and cannot be installed here (no apt-get, or not root).
set -euo pipefail
# Failures inside $(...) stop the script too.
shopt -s inherit_errexit

repo=$(cd "$(dirname "$0")/../.." && pwd)
IMAGE=${IMAGE:-localhost/aurora-upgrade-operator:dev}
IMAGE_STORE=${IMAGE_STORE:-$repo/.local/image-store}
IMAGE_BASE=${IMAGE_BASE:-}
base_cache=${XDG_CACHE_HOME:-$HOME/.cache}/aurora-upgrade/image-base
# passwd: the Dockerfile's groupadd/useradd (the apt variant has only Essential packages and apt).
base_packages=python3,python3-venv,ca-certificates,passwd
host_ca=/etc/ssl/certs/ca-certificates.crt

log() { printf '[image] %s\n' "$*" >&2; }
cannot() {
    printf 'image: cannot run containers on this machine: %s\n' "$*" >&2
    exit 3
}

ensure_tools() {
    local missing=() tool
    for tool in mmdebstrap buildah podman runc newuidmap; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return
    command -v apt-get >/dev/null || cannot "${missing[*]} missing and no apt-get to install them"
    [ "$(id -u)" -eq 0 ] || cannot "${missing[*]} missing and installing them needs root"
    log "installing mmdebstrap buildah podman runc uidmap (missing: ${missing[*]})"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap buildah podman runc uidmap >/dev/null
}

# podman and buildah read only these files, never the machine's own configuration or store.
write_config() {
    mkdir -p "$IMAGE_STORE"
    cat >"$IMAGE_STORE/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$IMAGE_STORE/storage"
runroot = "$IMAGE_STORE/run"
EOF
    # runc: crun refuses cgroups in hybrid mode. Explicit rlimits: podman's defaults are refused
    # by the sandbox. Host network: a bridge would add iptables rules on the machine, and the
    # container reaches loopback servers (a local kube-apiserver) as the operator reaches them.
    cat >"$IMAGE_STORE/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "host"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$IMAGE_STORE/tmp"
EOF
    export CONTAINERS_STORAGE_CONF="$IMAGE_STORE/storage.conf" CONTAINERS_CONF="$IMAGE_STORE/containers.conf"
}

# The Debian archive's entries of the machine's apt sources, for the machine's own release,
# as one-line sources.list entries.
debian_sources() {
    local codename=$1
    # shellcheck disable=SC2016  # $(...) are apt's format fields, not the shell's
    apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' \
        'Identifier: Packages' 'Target-Of: deb' 'Origin: Debian' |
        awk -v c="$codename" '$2 == c || $2 == c "-updates" || $2 == c "-security"' | sort -u |
        awk '{ key = $1 " " $2; if (!(key in comps)) order[n++] = key; comps[key] = comps[key] " " $3 }
             END { for (i = 0; i < n; i++) print "deb " order[i] comps[order[i]] }'
}

# A Debian image with python3, from the machine's apt sources; the tarball is cached by what it
# holds (release, packages, sources, architecture), so later builds only import it.
local_base() {
    local codename sources key tarball tag started
    # shellcheck disable=SC1091
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] || cannot "no VERSION_CODENAME in /etc/os-release to pick a Debian release"
    sources=$(debian_sources "$codename")
    if [ -z "$sources" ]; then
        apt-get update -qq
        sources=$(debian_sources "$codename")
    fi
    [ -n "$sources" ] || cannot "no Debian archive for $codename in the machine's apt sources"
    key=$(printf 'v1\n%s\n%s\n%s\n%s\n' "$codename" "$base_packages" "$(dpkg --print-architecture)" "$sources" |
        sha256sum | cut -c1-16)
    tarball=$base_cache/debian-$codename-python3-$key.tar
    tag=localhost/aurora-upgrade-base:$codename-$key
    mkdir -p "$base_cache"
    (
        flock 9
        if [ ! -s "$tarball" ]; then
            log "building the base root filesystem ($codename: $base_packages) into $tarball"
            started=$SECONDS
            # .list: one-line entries (mmdebstrap pastes the file in as apt reads it by its name).
            printf '%s\n' "$sources" >"${tarball%.tar}.list"
            # mmdebstrap picks the output format from the name's extension.
            mmdebstrap --quiet --variant=apt --include="$base_packages" \
                "$codename" "${tarball%.tar}.partial.tar" "${tarball%.tar}.list"
            mv "${tarball%.tar}.partial.tar" "$tarball"
            log "base root filesystem built in $((SECONDS - started))s"
        fi
    ) 9>"$base_cache/.lock"
    if ! podman image exists "$tag"; then
        podman import --quiet --change 'CMD ["/bin/bash"]' "$tarball" "$tag" >/dev/null
    fi
    printf '%s\n' "$tag"
}

build() {
    local base started pull=--pull=never mounts=()
    ensure_tools
    write_config
    started=$SECONDS
    if [ -n "$IMAGE_BASE" ]; then
        base=$IMAGE_BASE
        pull=--pull=missing
    else
        base=$(local_base)
    fi
    # pip in the build reaches PyPI through this machine's trust store, which the base lacks;
    # mounted for the RUN steps only, it is not part of any layer.
    [ -f "$host_ca" ] && mounts=(--volume "$host_ca:$host_ca:ro")
    log "building $IMAGE from the Dockerfile with BASE=$base"
    # --layers: unchanged steps come from the store (a rebuild of unchanged sources takes seconds).
    buildah bud --quiet --isolation chroot "$pull" --layers "${mounts[@]}" \
        --build-arg "BASE=$base" --tag "$IMAGE" --file "$repo/Dockerfile" "$repo" >/dev/null
    log "built $IMAGE in $((SECONDS - started))s: $(podman image inspect --format '{{.Size}}' "$IMAGE" |
        awk '{ printf "%.0f MB", $1 / 1e6 }')"
}

case ${1:-} in
build) build ;;
podman)
    shift
    write_config
    exec podman "$@"
    ;;
*)
    echo "usage: $0 build | podman ARGS..." >&2
    exit 2
    ;;
esac

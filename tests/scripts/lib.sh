# Shared by the README commands: cached venvs and the collection tree.
# Source it; it sets REPO, CACHE, TOOLS (the tools venv) and COLLECTIONS, and defines functions only: the scripts
# that run set their own shell options (so sourcing it into an interactive shell changes nothing there).

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${OSIMAGES_CACHE:-$HOME/.cache/osimages-glance}
PYTHON=${PYTHON:-python3.11}
TOOLS=$CACHE/tools-venv
COLLECTIONS=$CACHE/collections
export OSIMAGES_CACHE=$CACHE PYTHON

say() { printf '\n=== %s\n' "$*" >&2; }

quiet_pip() {
    # The machine's pip configuration lists local mirrors that may be absent; hide that noise.
    "$@" 2> >(grep -v "is neither a file nor a directory" >&2)
}

ensure_python() {
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "error: $PYTHON is needed (set PYTHON to another Python 3.11 interpreter)" >&2
        exit 1
    fi
    if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
        say "installing python3-venv"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
}

# Debian packages the tests and the demo need; installed only when missing.
# ensure_debs [--no-install-recommends] PACKAGE...
ensure_debs() {
    local missing=() options=()
    if [ "${1:-}" = --no-install-recommends ]; then
        options=("$1")
        shift
    fi
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        apt-get update -qq || echo "warning: apt-get update failed; installing from the package lists at hand" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${options[@]}" "${missing[@]}" >/dev/null
    fi
}

# A venv at $1 holding requirements file $2, rebuilt when the file changes.
ensure_venv() {
    local venv=$1 requirements=$2 stamp=$1/.osimages-requirements
    if [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then
        return
    fi
    say "installing $(basename "$requirements") into $venv"
    rm -rf "$venv"
    # Explicit: a stage runs with errexit off, and a half-installed venv must never get its stamp.
    "$PYTHON" -m venv "$venv" || return 1
    quiet_pip "$venv/bin/pip" install -q -r "$requirements" || return 1
    cp "$requirements" "$stamp"
}

ensure_tools() {
    ensure_python && ensure_venv "$TOOLS" "$REPO/tests/requirements.txt" && export PATH=$TOOLS/bin:$PATH
}

# ansible needs the collection at .../ansible_collections/osimages/glance: link the checkout there.
link_collection() {
    mkdir -p "$COLLECTIONS/ansible_collections/osimages"
    ln -sfn "$REPO" "$COLLECTIONS/ansible_collections/osimages/glance"
    export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS
}

# What the image modules and roles run on this host: qemu-img, qemu, mmdebstrap, mkfs.ext4, cloud-localds,
# and for diskimage-builder sudo and debootstrap.
IMAGE_TOOL_DEBS=(qemu-utils qemu-system-x86 mmdebstrap e2fsprogs cloud-image-utils sudo debootstrap gnupg)
# What the test command needs besides: PostgreSQL for the test cloud, the fixture image's tools
# (tests/scripts/make-fixture-image) and the docs site's renderer. Installed up front, in one apt-get run, because
# parallel apt-get runs fail on dpkg's lock.
FIXTURE_IMAGE_DEBS=(busybox-static syslinux syslinux-common mtools dosfstools cpio fdisk)
TEST_DEBS=(postgresql "${FIXTURE_IMAGE_DEBS[@]}" chromium graphviz)
# virt-customize (libguestfs) boots its appliance with the host's kernel: a container has none, so one is installed.
# Without recommends, which would add a second kernel and file system tools the tests do not use.
GUESTFS_DEBS=(guestfs-tools linux-image-cloud-amd64)

start_cloud() {
    local line
    line=$("$REPO/tests/cloud/localcloud" up) || return 1
    export "${line?}"   # OS_CLIENT_CONFIG_FILE=...
    eval "$("$REPO/tests/cloud/localcloud" env)"
}

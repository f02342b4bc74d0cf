# Shared by the kernel lane's scripts: the cache, the kernel series, messages.

# Kernel packages and virtme-ng's venv; shared by every clone of the project.
XDP_CACHE=${XDP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xdp-tutorial}
KERNEL_CACHE=$XDP_CACHE/kernels
VENV=$XDP_CACHE/venv
mkdir -p "$KERNEL_CACHE"

die() { echo "Error: $*" >&2; exit 1; }

# The Debian suite whose kernel is of this series.
suite_of() {
    case $1 in
    5.10) echo bullseye ;;
    6.1) echo bookworm ;;
    6.12) echo trixie ;;
    *) echo "Error: no kernel series '$1': choose 5.10, 6.1 or 6.12" >&2; return 2 ;;
    esac
}

# The unpacked kernel image of a series, if it is in the cache.
cached_vmlinuz() {
    local found
    found=$(ls "$KERNEL_CACHE/$1"/boot/vmlinuz-* 2>/dev/null | head -n 1)
    [ -n "$found" ] && echo "$found"
}

# What the lane needs on the host, from Debian: QEMU; udev, which creates
# the guest's /dev/virtio-ports/* (virtme-ng's command I/O); busybox and
# kmod for virtme-ng's initramfs; python3-venv for the venv.
LANE_DEB_PACKAGES="qemu-system-x86 udev busybox-static kmod python3-venv"
VIRTME_NG_VERSION=1.42

# Installs what is missing: the Debian packages, then virtme-ng in a venv.
ensure_tools() {
    local missing="" pkg
    for pkg in $LANE_DEB_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        [ "$(id -u)" -eq 0 ] || die "missing Debian packages:$missing; installing them needs root"
        echo "kernel lane: installing$missing" >&2
        apt-get -q update >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2
    fi
    if [ ! -x "$VENV/bin/vng" ]; then
        echo "kernel lane: installing virtme-ng $VIRTME_NG_VERSION in $VENV" >&2
        python3 -m venv "$VENV" >&2
        "$VENV/bin/pip" install -q "virtme-ng==$VIRTME_NG_VERSION" >&2
    fi
    export PATH="$VENV/bin:$PATH"
}

# Lines of a kernel log (file $1) that show a kernel warning, bug or oops.
splats() {
    grep -E 'WARNING:|BUG:|Oops|Call Trace|kernel BUG|general protection fault' "$1"
}

#!/bin/sh
# Makes a minimal busybox root filesystem in DIR for the examples: /bin/busybox (a static
# binary: Debian's busybox-static) plus one symlink per applet, and the mount points the default
# spec uses.   Usage: make-rootfs.sh DIR [BUSYBOX]
set -eu
dir=${1:?usage: make-rootfs.sh DIR [BUSYBOX]}
busybox=${2:-/bin/busybox}
if ! "$busybox" --list >/dev/null 2>&1; then
    echo "make-rootfs.sh: $busybox is not a busybox binary (apt-get install busybox-static)" >&2
    exit 1
fi
mkdir -p "$dir/bin" "$dir/proc" "$dir/dev" "$dir/sys" "$dir/tmp" "$dir/etc" "$dir/root"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
    # The list names busybox itself: do not replace the binary with a link to itself.
    [ "$applet" = busybox ] && continue
    ln -sf busybox "$dir/bin/$applet"
done
echo "root:x:0:0:root:/root:/bin/sh" > "$dir/etc/passwd"
echo "root:x:0:" > "$dir/etc/group"

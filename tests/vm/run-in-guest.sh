#!/usr/bin/env bash
# run-in-guest.sh — runs a command as root inside a throw-away QEMU guest whose only cgroup
# hierarchy is cgroup v2 (Debian's kernel booted with cgroup_no_v1=all, cgroup2 at
# /sys/fs/cgroup, every controller enabled in the root's cgroup.subtree_control). The
# development machines and CI are hybrid (v1 controllers + an empty cgroup2 tree): this is how
# the project tests its cgroup-v2 code for real.
#
# Usage: tests/vm/run-in-guest.sh [-f PATH]... [-e VAR=VALUE]... COMMAND [ARGS...]
#   -f PATH       also put PATH (a file or a directory) in the guest, at the same absolute path;
#                 ELF files bring their shared libraries and loader (from ldd). COMMAND comes too.
#   -e VAR=VALUE  set an environment variable for COMMAND.
# COMMAND's stdout and stderr come back on ours (once the guest has stopped); its stdin is
# /dev/null. Exit status: COMMAND's; 124 when the guest ran out of time; 125 when it never
# reported one (the guest's console is printed then).
#
# What it needs, installed with apt-get when missing (as root): qemu-system-x86 and
# busybox-static; python3 (present) turns the kernel into an uncompressed vmlinux, which boots
# in a few seconds under TCG instead of ~15 (the xz decompressor is slow when emulated).
# The kernel is Debian's linux-image-amd64, fetched with `apt-get download` (not installed)
# into the cache once; an installed /boot/vmlinuz-*-amd64 is used instead when there is one.
#
# Environment: RCONTAINER_VM_CACHE (default /var/tmp/rcontainer-guest-cache), RCONTAINER_VM_MEM
# (2G), RCONTAINER_VM_SMP (2), RCONTAINER_VM_TIMEOUT (seconds, 1200), RCONTAINER_VM_VERBOSE=1
# (print the guest's console as it boots).
set -euo pipefail

CACHE=${RCONTAINER_VM_CACHE:-/var/tmp/rcontainer-guest-cache}
MEM=${RCONTAINER_VM_MEM:-2G}
SMP=${RCONTAINER_VM_SMP:-2}
TIMEOUT=${RCONTAINER_VM_TIMEOUT:-1200}

say() { echo "run-in-guest: $*" >&2; }
fail() {
	say "$*"
	exit 125
}

FILES=()
ENVS=()
while getopts "f:e:" opt; do
	case $opt in
	f) FILES+=("$OPTARG") ;;
	e) ENVS+=("$OPTARG") ;;
	*) fail "usage: $0 [-f PATH]... [-e VAR=VALUE]... COMMAND [ARGS...]" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || fail "usage: $0 [-f PATH]... [-e VAR=VALUE]... COMMAND [ARGS...]"
[ "$(id -u)" = 0 ] || fail "run as root (apt-get, and the cache under /var/tmp)"
COMMAND=$(command -v "$1") || fail "no such command: $1"
COMMAND=$(realpath "$COMMAND")
shift

# ------------------------------------------------------------------ what the host needs
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
BUSYBOX=$(dpkg-query -L busybox-static | grep -m1 '/bin/busybox$')

# ------------------------------------------------------------------ the kernel (cached)
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
KDIR=$CACHE/kernel
if [ ! -s "$KDIR/vmlinuz" ]; then
	rm -rf "$KDIR" "$CACHE/download"
	mkdir -p "$KDIR" "$CACHE/download"
	installed=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -1 || true)
	if [ -n "$installed" ] && [ -r "$installed" ]; then
		say "using the installed kernel $installed"
		cp "$installed" "$KDIR/vmlinuz"
	else
		say "fetching Debian's kernel package (apt-get download) into $CACHE"
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
		if [ -z "$pkg" ]; then
			apt-get update -qq >&2
			pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
		fi
		[ -n "$pkg" ] || fail "cannot find the package behind linux-image-amd64"
		# (apt's sandbox user cannot write here: it downloads as root, and says so)
		(cd "$CACHE/download" && apt-get download -qq "$pkg" 2>&1 | grep -v 'unsandboxed' >&2 || true)
		ls "$CACHE"/download/*.deb >/dev/null 2>&1 || fail "apt-get download $pkg failed"
		dpkg-deb -x "$CACHE"/download/*.deb "$CACHE/download/x"
		cp "$(ls "$CACHE"/download/x/boot/vmlinuz-* | head -1)" "$KDIR/vmlinuz"
	fi
	rm -rf "$CACHE/download"
	# An uncompressed vmlinux boots through its PVH entry: no emulated xz decompression.
	python3 - "$KDIR/vmlinuz" "$KDIR/vmlinux" <<'PY' || say "no uncompressed vmlinux (booting the bzImage: slower)"
import lzma, sys
data = open(sys.argv[1], "rb").read()
start = data.find(b"\xfd7zXZ\x00")
if start < 0:
    sys.exit(1)
elf = lzma.LZMADecompressor().decompress(data[start:])
if elf[:4] != b"\x7fELF":
    sys.exit(1)
open(sys.argv[2], "wb").write(elf)
PY
fi
flock -u 9
KERNEL=$KDIR/vmlinuz
[ -s "$KDIR/vmlinux" ] && KERNEL=$KDIR/vmlinux

# ------------------------------------------------------------------ the guest's initramfs
WORK=$(mktemp -d /tmp/rcontainer-guest.XXXXXX)
QEMU_PID=
cleanup() {
	[ -z "$QEMU_PID" ] || kill "$QEMU_PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,newroot,guest}
cp "$BUSYBOX" "$ROOT/bin/busybox"
for applet in $("$BUSYBOX" --list); do
	[ -e "$ROOT/bin/$applet" ] || ln -s busybox "$ROOT/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$ROOT/etc/group"
echo guest >"$ROOT/etc/hostname"

# A file into the guest at its own path; an ELF with its libraries and loader.
put() {
	local path=$1 lib
	mkdir -p "$ROOT$(dirname "$path")"
	cp -a "$path" "$ROOT$path"
	if [ -f "$path" ] && [ "$(head -c 4 "$path" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
		for lib in $(ldd "$path" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
			if [ ! -e "$ROOT$lib" ]; then
				mkdir -p "$ROOT$(dirname "$lib")"
				cp -L "$lib" "$ROOT$lib"
			fi
		done
	fi
}
put "$COMMAND"
for f in "${FILES[@]}"; do put "$(realpath "$f")"; done

# Stage 1 (the initramfs): pivot_root(2) is refused on the initial rootfs, so copy everything
# into a tmpfs and switch_root there. Stage 2: mounts, cgroup2 with every controller, the
# command with its output on serial ports 1 and 2 and its exit status on port 3.
cat >"$ROOT/init" <<'EOF'
#!/bin/sh
export PATH=/bin
mount -t tmpfs -o mode=0755 guestroot /newroot
for f in /*; do
	case $f in /newroot|/proc|/sys|/dev) ;; *) cp -a "$f" /newroot/ ;; esac
done
mkdir -p /newroot/proc /newroot/sys /newroot/dev
exec switch_root /newroot /init2
EOF
{
	echo '#!/bin/sh'
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root'
	cat <<'EOF'
report() { echo "$1" >/dev/ttyS3; sync; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue /sys/fs/cgroup
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
chmod 1777 /tmp
ln -s /proc/self/fd /dev/fd
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || { echo "guest: no cgroup2" >/dev/ttyS2; report 125; }
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
	echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || { echo "guest: cannot enable $c" >/dev/ttyS2; report 125; }
done
mount --make-rshared /
hostname guest
ip link set lo up
stty -F /dev/ttyS1 raw -echo 2>/dev/null
stty -F /dev/ttyS2 raw -echo 2>/dev/null
EOF
	for kv in "${ENVS[@]}"; do printf 'export %q\n' "$kv"; done
	printf '%q' "$COMMAND"
	for a in "$@"; do printf ' %q' "$a"; done
	echo ' </dev/null >/dev/ttyS1 2>/dev/ttyS2'
	echo 'report $?'
} >"$ROOT/init2"
chmod 755 "$ROOT/init" "$ROOT/init2"
(cd "$ROOT" && find . -mindepth 1 | "$BUSYBOX" cpio -o -H newc 2>/dev/null) >"$WORK/initrd"

# ------------------------------------------------------------------ boot
: >"$WORK/out"
: >"$WORK/err"
: >"$WORK/status"
: >"$WORK/console"
if [ "${RCONTAINER_VM_VERBOSE:-0}" = 1 ]; then
	tail -F "$WORK/console" 2>/dev/null | sed 's/^/[guest] /' >&2 &
fi
set +e
timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m "$MEM" -smp "$SMP" \
	-nodefaults -no-user-config -display none -no-reboot \
	-kernel "$KERNEL" -initrd "$WORK/initrd" \
	-append "console=ttyS0 panic=-1 quiet cgroup_no_v1=all 8250.nr_uarts=4" \
	-serial "file:$WORK/console" -serial "file:$WORK/out" -serial "file:$WORK/err" -serial "file:$WORK/status" \
	</dev/null 2>"$WORK/qemu.err" &
QEMU_PID=$!
wait "$QEMU_PID"
qemu_status=$?
QEMU_PID=
set -e
cat "$WORK/out"
cat "$WORK/err" >&2
status=$(tr -dc '0-9' <"$WORK/status")
if [ -z "$status" ]; then
	if [ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ]; then
		say "the guest did not finish within ${TIMEOUT}s"
		status=124
	else
		say "the guest never reported an exit status (qemu exited with $qemu_status)"
		status=125
	fi
	cat "$WORK/qemu.err" >&2
	say "its console (last 60 lines):"
	tail -n 60 "$WORK/console" >&2
fi
exit "$status"

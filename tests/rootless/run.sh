#!/usr/bin/env bash
# tests/rootless/run.sh — rcontainer run by an ordinary user (issue 17): the command, ad hoc and
# with a bundle, on this host's cgroup layout (v1/hybrid: no cgroup an ordinary user may write).
#
# Usage (as root): tests/rootless/run.sh RCONTAINER_BINARY
#
# As root it makes a user of its own (rcontainer-rl, removed again unless it existed), a temp dir
# with a copy of the binary and a busybox root filesystem, and, for the subordinate-id checks,
# installs Debian's uidmap (newuidmap/newgidmap) and gives the user an /etc/subuid and
# /etc/subgid range (removed again). Then, as that user (setpriv, no capabilities), it checks:
#   ad hoc run: PID 1, uid 0 inside mapped to the user's uid outside, hostname, exit statuses,
#     network none (only lo) and host (the host's interfaces, the host's /sys read-only),
#     no_new_privs, seccomp, the container's root cannot write or read root's files;
#   a limit is refused with a message that says why (no cgroup the user may write);
#   the state root: $XDG_RUNTIME_DIR/rcontainer, 0700, a state root another user could write
#     is refused;
#   a bundle: spec --rootless, create/state/start/state/exec/kill/state/delete, list;
#     a config without a user namespace is refused, naming `spec --rootless`;
#   the escape attacks of tests/tests/escape_*.rs that apply (mount targets through symlinks,
#     /proc/self/exe, a cwd through a runtime fd, /dev/null a symlink, mknod);
#   with newuidmap and subordinate ranges: uid 1000 in the container is the range's id outside;
#     without them, -u 1000 is refused, saying it is not mapped.
# Prints TAP-like lines and "N passed, M failed"; exits non-zero if anything failed.
set -uo pipefail

RC_SRC=$(realpath "${1:?usage: tests/rootless/run.sh RCONTAINER_BINARY}")
REPO_DIR=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "tests/rootless/run.sh: run as root (it makes the user it runs as)" >&2; exit 1; }

USERNAME=rcontainer-rl
made_user=0
W=$(mktemp -d /tmp/rcontainer-rootless.XXXXXX)
chmod 755 "$W"

cleanup() {
	# Containers the user left (a failed check): killed and deleted as the user, by id.
	if [ -n "${UID_RL:-}" ] && [ -x "$W/rcontainer" ]; then
		for id in $(as_user "$W/rcontainer" list -q 2>/dev/null); do
			as_user "$W/rcontainer" delete --force "$id" >/dev/null 2>&1
		done
	fi
	# Rootless podman's pause process (the user's namespace holder), by its pid file.
	if [ -f "$W/xdg/libpod/tmp/pause.pid" ]; then
		kill -9 "$(cat "$W/xdg/libpod/tmp/pause.pid")" 2>/dev/null
	fi
	sed -i "/^$USERNAME:/d" /etc/subuid /etc/subgid
	if [ "$made_user" = 0 ] && [ -n "${saved_subids:-}" ]; then
		set -- $saved_subids
		echo "$1" >>/etc/subuid
		echo "${2:-$1}" >>/etc/subgid
	fi
	rm -rf "$W"
	if [ "$made_user" = 1 ]; then
		userdel "$USERNAME" >/dev/null 2>&1
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! id "$USERNAME" >/dev/null 2>&1; then
	useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$USERNAME" || exit 1
	made_user=1
fi
UID_RL=$(id -u "$USERNAME")
# The first checks are for a user without subordinate ids (Debian's useradd gives new users a
# range): the user's lines are set aside and put back at the end.
saved_subids=$(grep -h "^$USERNAME:" /etc/subuid /etc/subgid 2>/dev/null | head -2 | tr '\n' ' ')
touch /etc/subuid /etc/subgid
sed -i "/^$USERNAME:/d" /etc/subuid /etc/subgid
GID_RL=$(id -g "$USERNAME")

# as_user CMD...: runs CMD as the user: no supplementary groups, no capabilities, a clean
# environment with the user's own runtime dir.
mkdir -p "$W/xdg" "$W/home" && chown "$UID_RL:$GID_RL" "$W/xdg" "$W/home" && chmod 700 "$W/xdg"
AS_USER=(setpriv --reuid="$UID_RL" --regid="$GID_RL" --clear-groups --inh-caps=-all
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$W/home" XDG_RUNTIME_DIR="$W/xdg")
as_user() { "${AS_USER[@]}" "$@"; }

# The binary, where the user can run it (the checkout may not be readable to others).
install -m 755 "$RC_SRC" "$W/rcontainer"
RC="$W/rcontainer"

# A busybox root filesystem of the user's, with two files of root's in it.
bb=$(command -v busybox) || { echo "tests/rootless/run.sh: needs busybox-static" >&2; exit 1; }
R="$W/rootfs"
mkdir -p "$R/bin" "$R/proc" "$R/dev" "$R/sys" "$R/tmp" "$R/etc" "$R/data"
cp "$bb" "$R/bin/busybox"
for c in $("$bb" --list); do [ "$c" = busybox ] || ln -sf busybox "$R/bin/$c"; done
echo "root:x:0:0:root:/:/bin/sh" >"$R/etc/passwd"
echo "root:x:0:" >"$R/etc/group"
chown -R "$UID_RL:$GID_RL" "$R"
echo "root's" >"$R/etc/rootonly" && chown root:root "$R/etc/rootonly" && chmod 644 "$R/etc/rootonly"
echo "secret" >"$R/etc/secret" && chown root:root "$R/etc/secret" && chmod 600 "$R/etc/secret"

. "$REPO_DIR/tests/lib.sh"
# check DESC WANT PATTERN CMD...: runs CMD as the user (bounded); passes when it exits with WANT
# ("nonzero" for any failure) and its output (stdout and stderr) matches the extended regex
# PATTERN (empty: anything).
check() {
	local desc=$1 want=$2 pat=$3 out status=0
	shift 3
	out=$(timeout -k 5 60 "${AS_USER[@]}" "$@" 2>&1 </dev/null) || status=$?
	if { [ "$want" = nonzero ] && [ "$status" != 0 ]; } || [ "$status" = "$want" ]; then
		if [ -z "$pat" ] || { [ "$pat" = '^$' ] && [ -z "$out" ]; } || printf '%s' "$out" | grep -Eq -- "$pat"; then
			ok "$desc"
			return
		fi
	fi
	bad "$desc (status $status, wanted $want and /$pat/)" "$out"
}

echo "# as uid $UID_RL gid $GID_RL, state root $W/xdg/rcontainer"

# ------------------------------------------------------------------ ad hoc
check "run: the shell is PID 1 and root inside" 0 '^1 0$' "$RC" run -- sh -c 'echo $$ $(id -u)'
check "run: uid 0 inside is the user's uid outside (uid_map)" 0 "^ +0 +$UID_RL +1\$" "$RC" run -- cat /proc/self/uid_map
check "run: gid 0 inside is the user's gid outside (gid_map), setgroups denied" 0 "^ +0 +$GID_RL +1 deny\$" \
	"$RC" run -- sh -c 'echo "$(cat /proc/self/gid_map) $(cat /proc/self/setgroups)"'
check "run: ps shows the command as PID 1 (the README's first command)" 0 '^ *1 ps$' \
	"$RC" run --hostname demo -- sh -c 'hostname; exec ps -o pid,comm'
check "run: --hostname" 0 '^demo$' "$RC" run --hostname demo -- hostname
check "run: the exit status comes back" 7 '' "$RC" run -- sh -c 'exit 7'
check "run --rootfs: a busybox root of the user's" 0 '^ok$' "$RC" run --rootfs "$R" -- sh -c 'test -x /bin/busybox && echo ok'
check "net none: only lo" 0 '^lo$' "$RC" run -- sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "'
host_ifs=$(tail -n +3 /proc/net/dev | wc -l)
check "net host: the host's $host_ifs interfaces" 0 "^$host_ifs\$" "$RC" run --net host -- sh -c 'tail -n +3 /proc/net/dev | wc -l'
check "net host: the host's /sys, read-only" nonzero 'Read-only file system' "$RC" run --net host -- sh -c 'ls /sys/class/net >/dev/null && touch /sys/x'
check "net none: a sysfs of its own, read-only" nonzero 'Read-only file system' "$RC" run -- sh -c 'test -d /sys/class && touch /sys/x'
check "no_new_privs and seccomp (Docker's profile) in force" 0 'NoNewPrivs:.1.*Seccomp:.2' \
	"$RC" run -- sh -c 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status | tr "\n\t" "  "'
check "the container's root cannot write a host file of root's" nonzero 'Permission denied' \
	"$RC" run --rootfs "$R" -- sh -c 'echo pwned >> /etc/rootonly'
check "the container's root cannot read a 0600 host file of root's" nonzero 'Permission denied' \
	"$RC" run --rootfs "$R" -- cat /etc/secret
check "root's file unchanged" 0 "^root's\$" cat "$R/etc/rootonly"
check "a container cannot signal the user's processes outside it" nonzero '' "$RC" run -- kill -0 $$
check "-u 1000 without subordinate ids: refused, not mapped" 125 'not mapped' "$RC" run -u 1000 -- true

# ------------------------------------------------------------------ limits and the state root
check "a memory limit is refused, saying why" 125 'without a cgroup this user may write.*delegated' "$RC" run --memory 64m -- true
check "a pids limit is refused, saying why" 125 'delegated' "$RC" run --pids 10 -- true
check "the default state root is \$XDG_RUNTIME_DIR/rcontainer, the user's, 0700" 0 "^700 $UID_RL\$" stat -c '%a %u' "$W/xdg/rcontainer"
mkdir -m 1777 "$W/shared-root"
check "a state root other users can write is refused" 125 'refusing .*shared-root' "$RC" --root "$W/shared-root" run -- true
check "nothing was created in it" 0 '^$' ls -A "$W/shared-root"

# ------------------------------------------------------------------ a bundle
B="$W/bundle"
mkdir -p "$B" && ln -s "$R" "$B/rootfs" && chown -h "$UID_RL:$GID_RL" "$B" "$B/rootfs"
check "spec --rootless writes a config" 0 '' sh -c "cd $B && $RC spec --rootless"
check "... with a user namespace mapping the user's uid" 0 "\"hostID\": $UID_RL" cat "$B/config.json"
sed -i 's/"sh"$/"sleep", "60"/; s/"terminal": true/"terminal": false/' "$B/config.json"
# (create's container keeps the stdio it is given: a file, not this check's pipe)
check "create" 0 '' sh -c "$RC create --bundle $B rl1 </dev/null >$W/xdg/rl1.out 2>&1 || { cat $W/xdg/rl1.out; exit 1; }"
check "state: created" 0 '"status": "created"' "$RC" state rl1
check "start" 0 '' "$RC" start rl1
check "state: running" 0 '"status": "running"' "$RC" state rl1
check "list shows it" 0 '^rl1 ' "$RC" list
check "exec: in the container's pid namespace (its init is PID 1)" 0 '^ +1 sleep' "$RC" exec rl1 ps -o pid,comm
check "exec: the exit status comes back" 5 '' "$RC" exec rl1 sh -c 'exit 5'
check "exec: root inside, the user's uid outside" 0 "^ +0 +$UID_RL +1\$" "$RC" exec rl1 cat /proc/self/uid_map
check "kill" 0 '' "$RC" kill rl1 KILL
check "state: stopped" 0 '"status": "stopped"' sh -c "sleep 0.3; $RC state rl1"
check "delete" 0 '' "$RC" delete rl1
check "list is empty, no state left" 0 '^$' sh -c "$RC list -q; ls -A $W/xdg/rcontainer"
check "run --bundle" 3 '' sh -c "sed 's/\"sleep\", \"60\"/\"sh\", \"-c\", \"exit 3\"/' $B/config.json > $B/c2.json && mv $B/c2.json $B/config.json && $RC run --bundle $B rl2"
rm -f "$B/config.json"
check "a config without a user namespace: refused, naming spec --rootless" nonzero 'spec --rootless' sh -c "cd $B && $RC spec && $RC create --bundle $B rl3"
check "... and nothing left of it" 0 '^$' sh -c "$RC list -q"

# ------------------------------------------------------------------ the escape defences, rootless
# The attacks of tests/tests/escape_*.rs, on a rootless container: what the user's container could
# reach is the user's own files, so the targets here are the user's.
E="$W/escape"
mkdir -p "$E/target" "$E/vol" && ln -s "$E/target" "$E/vol/abs" && ln -s "../../../../../../../../$E/target" "$E/vol/rel"
mkdir -p "$E/b" && ln -s "$R" "$E/b/rootfs"
chown -R -h "$UID_RL:$GID_RL" "$E"
as_user sh -c "cd $E/b && $RC spec --rootless"
python3 - "$E/b/config.json" "$E/vol" <<'PY'
import json, sys
path, vol = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["sh", "-c", "touch /data/abs/sub/pwned /data/rel/sub/pwned; stat -f -c %T /data/abs/sub"]
c["mounts"] += [
    {"destination": "/data", "type": "bind", "source": vol, "options": ["rbind", "rw"]},
    {"destination": "/data/abs/sub", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
    {"destination": "/data/rel/sub", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
]
json.dump(c, open(path, "w"))
PY
check "CVE-2021-30465: mounts through a volume's symlinks land inside the container" 0 '^tmpfs$' "$RC" run --bundle "$E/b" esc1
check "... and nothing reached the symlinks' target on the host" 0 '^$' ls -A "$E/target"
check "CVE-2019-5736: /proc/self/exe runs the exec stub (127), not the runtime" 127 '' "$RC" run -- /proc/self/exe --version
check "CVE-2024-21626: a cwd through a runtime fd is refused" nonzero 'cwd /proc/self/fd/4' "$RC" run -w /proc/self/fd/4 -- true
check "the default root hides /etc/shadow (the null device in its place)" 0 '^0$' "$RC" run -- sh -c 'cat /etc/shadow | wc -c' 
check "no host device can be made (no mknod in a user namespace)" nonzero 'Operation not permitted' "$RC" run -- mknod /tmp/kmsg c 1 11
mkdir -p "$R/dev" && ln -sfn /etc/evil "$R/dev/null" && chown -h "$UID_RL:$GID_RL" "$R/dev/null"
check "an image whose /dev/null is a symlink: the container gets the device there" 0 '^c' "$RC" run --rootfs "$R" -- sh -c 'ls -l /dev/null | cut -c1'
check "... and nothing was made where the symlink points" 0 '^$' sh -c "ls -A $R/etc | grep -x evil; true"
rm -f "$R/dev/null"

# ------------------------------------------------------------------ subordinate ids (newuidmap)
if ! command -v newuidmap >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends uidmap >/dev/null
fi
echo "$USERNAME:300000:65536" >>/etc/subuid
echo "$USERNAME:300000:65536" >>/etc/subgid
if command -v newuidmap >/dev/null; then
	check "subordinate ids: uid 1000 inside is 300999 outside" 0 '^1000 300999$' \
		"$RC" run --rootfs "$R" -u 1000:1000 -- sh -c 'echo $(id -u) $(cat /proc/self/uid_map | awk "\$1==1 {print \$2+999}")'
	check "subordinate ids: a file made by uid 1000 belongs to 300999 on the host" 0 '^300999:300999$' \
		sh -c "$RC run --rootfs $R -u 0 -- sh -c 'chmod 777 /data' && $RC run --rootfs $R -u 1000:1000 -- touch /data/by1000 && stat -c %u:%g $R/data/by1000"
	check "subordinate ids: setgroups is allowed" 0 '^allow$' "$RC" run -- cat /proc/self/setgroups
	rm -f "$R/data/by1000"
else
	bad "subordinate ids: newuidmap could not be installed (Debian package uidmap)"
fi

# ------------------------------------------------------------------ rootless podman
# Rootless podman runs its OCI runtime as uid 0 of the user's own namespace: the runtime has no
# rights on the host's /run, cgroups or mknod there (rootless.rs: in_user_namespace). Each check
# runs with runc too, in the same run: a check that fails with runc is the harness's fault.
if command -v podman >/dev/null; then
	# (podman names the image after the layout's path, which must be lowercase)
	LAYOUT=/tmp/rcontainer-rl-layout-$$
	rm -rf "$LAYOUT"
	"$REPO_DIR/tests/images/make-image.sh" "$LAYOUT" >/dev/null 2>&1 && chmod -R a+rX "$LAYOUT"
	PM="podman --runtime"
	check "podman: load the busybox image into the user's storage" 0 '' podman pull -q "oci:$LAYOUT:latest"
	rm -rf "$LAYOUT"
	img=$(as_user podman images -q 2>/dev/null | head -1)
	for rt in runc "$RC"; do
		name=$(basename "$rt")
		check "podman ($name): run, PID 1, root inside mapped to the user" 0 "^1 0 +0 +$UID_RL +1" \
			$PM "$rt" run --rm --network none "$img" sh -c 'echo $$ $(id -u) $(head -1 /proc/self/uid_map)'
		check "podman ($name): run -d" 0 '' $PM "$rt" run -d --name "pm-$name" --network none "$img" sleep 100
		check "podman ($name): exec sees PID 1" 0 '^ +1 sleep' $PM "$rt" exec "pm-$name" ps -o pid,comm
		check "podman ($name): exec's exit status" 3 '' $PM "$rt" exec "pm-$name" sh -c 'exit 3'
		check "podman ($name): kill and rm" 0 '' sh -c "$PM $rt kill pm-$name >/dev/null && $PM $rt rm -f pm-$name >/dev/null"
		check "podman ($name): --network host" 0 '^[1-9]' $PM "$rt" run --rm --network host "$img" sh -c 'ls /sys/class/net | wc -l'
	done
else
	echo "ok - podman checks # SKIP podman is not installed (tests/clients/setup.sh installs it)"
fi

# ------------------------------------------------------------------ the C ABI, Python and Node
# Each as built by scripts/test.sh's earlier stages (the static library of `cargo build`, the
# Python suite's venv, the Node suite's addon), copied where the user can read them. With
# RCONTAINER_ROOTLESS_REQUIRE_BINDINGS=1 (scripts/test.sh) a missing build is a failure, else a skip.
# Without subordinate ids again (what the binding tests expect: only the user's own id mapped).
sed -i "/^$USERNAME:/d" /etc/subuid /etc/subgid
missing() {
	if [ "${RCONTAINER_ROOTLESS_REQUIRE_BINDINGS:-0}" = 1 ]; then bad "$1: not built ($2)"; else echo "ok - $1 # SKIP not built ($2)"; fi
}
lib="$REPO_DIR/target/debug/libcontainer_core.a"
if [ -f "$lib" ] && command -v cc >/dev/null; then
	if cc -std=c11 -O1 -I"$REPO_DIR/include" -o "$W/ps_pid1" "$REPO_DIR/examples/c/ps_pid1.c" "$lib" $(cat "$REPO_DIR/capi/native-static-libs.txt") 2>"$W/cc.err"; then
		check "C: examples/c/ps_pid1 as the user (PID 1, default state root)" 0 '^ +1 ps$' "$W/ps_pid1" "$R"
	else
		bad "C: examples/c/ps_pid1 compiles" "$(cat "$W/cc.err")"
	fi
else
	missing "C: examples/c/ps_pid1" "$lib"
fi

venv_py="$REPO_DIR/bindings-python/.venv/bin/python"
site=$("$venv_py" -c 'import os, rcontainer; print(os.path.dirname(os.path.dirname(rcontainer.__file__)))' 2>/dev/null)
if [ -n "$site" ]; then
	mkdir -p "$W/py/site"
	for m in rcontainer _pytest pytest pluggy iniconfig packaging py.py exceptiongroup tomli; do
		[ -e "$site/$m" ] && cp -a "$site/$m" "$W/py/site/"
	done
	cp "$REPO_DIR/bindings-python/tests/test_rootless.py" "$W/py/"
	chmod -R a+rX "$W/py"
	# The venv's interpreter may live where only root reads (pyenv under /root): the system's
	# (the module is abi3, pytest pure Python).
	py=$(command -v /usr/bin/python3 || readlink -f "$venv_py")
	check "Python: tests/test_rootless.py as the user" 0 ' passed' \
		env PYTHONPATH="$W/py/site" PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest -q -p no:cacheprovider --rootdir "$W/py" "$W/py/test_rootless.py"
else
	missing "Python: tests/test_rootless.py" "no rcontainer in $venv_py"
fi

addon=$(ls "$REPO_DIR"/bindings-node/*.node 2>/dev/null | head -1)
if [ -n "$addon" ] && command -v node >/dev/null; then
	mkdir -p "$W/node/pkg"
	cp "$REPO_DIR"/bindings-node/{package.json,index.js,binding.js} "$addon" "$W/node/pkg/"
	cp "$REPO_DIR/bindings-node/test/rootless/rootless.test.js" "$W/node/"
	chmod -R a+rX "$W/node"
	check "Node: test/rootless/rootless.test.js as the user" 0 '# fail 0' \
		env RCONTAINER_NODE_PACKAGE="$W/node/pkg" node --test "$W/node/rootless.test.js"
else
	missing "Node: test/rootless/rootless.test.js" "no addon in $REPO_DIR/bindings-node"
fi

echo "# $pass passed, $fail failed"
if [ "$fail" -gt 0 ]; then
	printf '#   failed: %s\n' "${FAILED[@]}"
	exit 1
fi

#!/usr/bin/env bash
# tests/clients/setup.sh — sourced by tests/clients/run.sh and bench/clients.sh: Docker
# (dockerd with containerd), containerd's ctr and podman, from Debian's packages, ready to use
# RC_BIN (which the sourcing script sets) as a runtime named "rcontainer".
#
# Installs what is missing (apt-get, with a policy-rc.d so no init script starts a daemon on the
# host); starts containerd and dockerd by hand (no systemd) with their own sockets, state and
# data under a temp dir $W, in a network namespace of their own (Docker's bridges live there);
# imports a busybox image made from busybox-static into all three; and sets a trap that stops
# what it started (by pid) and removes what it made (containers, mounts, cgroups under
# rcontainer-clients*, the network namespace, $W).
#
# Defines: W, RC (the runtime binary as the clients call it), DOCKER, CTR, PODMAN, IMG (ctr's
# name of the image), PIMG (podman's), busybox:rcontainer-clients (docker's), CGPARENT,
# the docker network rcontainer-clients-net, and $W/hooks (an OCI hook dir whose prestart fails).
# With RCONTAINER_CLIENTS_TRACE=FILE, RC is a wrapper that appends "STATUS ARGS..." to FILE for
# every call the clients make (for surveys; it adds a shell between client and runtime).

missing=()
for pair in dockerd:docker.io containerd:containerd ctr:containerd podman:podman conmon:conmon runc:runc ip:iproute2 python3:python3; do
	command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
	echo "== installing ${missing[*]}"
	# The packages' init scripts must not start a dockerd/containerd of their own on the host:
	# a policy-rc.d saying no for the install, unless the machine already has one.
	policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
	[ -z "$policy" ] || rm -f "$policy"
fi
DOCKER=/usr/bin/docker # Debian's client, of the daemon's version
BUSYBOX=$(dpkg-query -L busybox-static | grep -m1 '/bin/busybox$')

W=$(mktemp -d /tmp/rcontainer-clients.XXXXXX)
NETNS=rcontainer-clients-$$
CGPARENT=/rcontainer-clients-$$
# ctr's namespace, and so the runc shim's state root /run/containerd/runc/$CTRNS: per run, so
# what a killed run left there cannot collide with this one.
CTRNS=rcontainer-clients-$$
PIDS=()

cleanup() {
	set +e
	if [ -S "$W/docker.sock" ]; then
		ids=$(DOCKER_HOST=unix://$W/docker.sock $DOCKER ps -aq 2>/dev/null)
		[ -z "$ids" ] || DOCKER_HOST=unix://$W/docker.sock $DOCKER rm -f $ids >/dev/null 2>&1
	fi
	[ -x "${PODMAN:-}" ] && "$PODMAN" rm -af >/dev/null 2>&1
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null
	done
	ip netns del "$NETNS" 2>/dev/null
	for id in $(ls "/run/containerd/runc/$CTRNS" 2>/dev/null); do
		"$RC_BIN" --root "/run/containerd/runc/$CTRNS" delete --force "$id" >/dev/null 2>&1
		runc --root "/run/containerd/runc/$CTRNS" delete --force "$id" >/dev/null 2>&1
	done
	rmdir "/run/containerd/runc/$CTRNS" 2>/dev/null
	grep " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	find /sys/fs/cgroup -depth -type d -path "*${CGPARENT}*" -exec rmdir {} \; 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ the daemons
ip netns add "$NETNS"
ip -n "$NETNS" link set lo up
cat >"$W/containerd.toml" <<EOF
version = 2
root = "$W/containerd/root"
state = "$W/containerd/state"
[grpc]
  address = "$W/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_cgroup = true
EOF
cp "$RC_BIN" "$W/rcontainer"
RC=$W/rcontainer
if [ -n "${RCONTAINER_CLIENTS_TRACE:-}" ]; then
	mv "$W/rcontainer" "$W/rcontainer.bin"
	cat >"$W/rcontainer" <<EOF
#!/bin/sh
"$W/rcontainer.bin" "\$@"
s=\$?
echo "\$s \$*" >>"$RCONTAINER_CLIENTS_TRACE"
exit \$s
EOF
	chmod +x "$W/rcontainer"
fi
# Both daemons in the network namespace (nsenter, not ip netns exec: that one remounts /sys, and
# with it the cgroup hierarchies, away).
cat >"$W/daemons.sh" <<EOF
#!/bin/sh
containerd --config "$W/containerd.toml" >"$W/containerd.log" 2>&1 &
echo \$! >"$W/containerd.pid"
for i in \$(seq 100); do [ -S "$W/containerd.sock" ] && break; sleep 0.1; done
exec dockerd --iptables=false --bridge=none --containerd="$W/containerd.sock" -H "unix://$W/docker.sock" \\
	--data-root "$W/docker" --exec-root "$W/docker-exec" --pidfile "$W/docker.pid" --cgroup-parent="$CGPARENT" \\
	--storage-driver vfs --add-runtime rcontainer="$RC" >"$W/dockerd.log" 2>&1
EOF
chmod +x "$W/daemons.sh"
nsenter --net="/run/netns/$NETNS" "$W/daemons.sh" &
PIDS+=($!)
for _ in $(seq 300); do [ -S "$W/docker.sock" ] && [ -s "$W/containerd.pid" ] && break; sleep 0.1; done
PIDS+=("$(cat "$W/containerd.pid" 2>/dev/null)")
export DOCKER_HOST=unix://$W/docker.sock
if ! $DOCKER info >/dev/null 2>&1; then
	echo "tests/clients/setup.sh: dockerd did not come up" >&2
	tail -n 20 "$W/dockerd.log" "$W/containerd.log" >&2
	exit 1
fi
CTR="ctr --address $W/containerd.sock -n $CTRNS"
# No default ulimits: podman's (nofile=1048576) need CAP_SYS_RESOURCE, which CI's root may lack.
printf '[containers]\ndefault_ulimits = []\n' >"$W/containers.conf"
# A wrapper file, not a shell function: timeout and pty.py exec it.
PODMAN=$W/podman.sh
cat >"$PODMAN" <<EOF
#!/bin/sh
CONTAINERS_CONF="$W/containers.conf" exec podman --root "$W/podman/storage" --runroot "$W/podman/run" --tmpdir "$W/podman/tmp" \\
	--cgroup-manager cgroupfs --events-backend file --storage-driver vfs "\$@"
EOF
chmod +x "$PODMAN"

# ------------------------------------------------------------------ the image
mkdir -p "$W/bb"/{bin,etc,tmp,proc,sys,dev,root}
cp "$BUSYBOX" "$W/bb/bin/busybox"
for a in $("$BUSYBOX" --list); do [ -e "$W/bb/bin/$a" ] || ln -s busybox "$W/bb/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$W/bb/etc/passwd"
echo 'root:x:0:' >"$W/bb/etc/group"
tar -C "$W/bb" -cf "$W/bb.tar" .
$DOCKER import -c 'CMD ["/bin/sh"]' "$W/bb.tar" busybox:rcontainer-clients >/dev/null
$DOCKER save busybox:rcontainer-clients -o "$W/bb-image.tar"
$CTR images import "$W/bb-image.tar" >/dev/null
IMG=docker.io/library/busybox:rcontainer-clients
"$PODMAN" load -i "$W/bb-image.tar" >/dev/null
PIMG=localhost/busybox:rcontainer-clients # podman names an unqualified image so
$DOCKER network create rcontainer-clients-net >/dev/null
mkdir -p "$W/hooks"
cat >"$W/hooks/fail.json" <<'EOF'
{ "version": "1.0.0", "hook": { "path": "/bin/false" }, "when": { "always": true }, "stages": ["prestart"] }
EOF

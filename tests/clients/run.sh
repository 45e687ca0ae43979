#!/usr/bin/env bash
# tests/clients/run.sh — rcontainer as the OCI runtime of real clients: Docker (dockerd with
# containerd), containerd's ctr, and podman, from Debian's packages. Every check runs against
# runc too, in the same run: a check that fails with runc is the harness's fault, not ours.
#
# Usage (as root): tests/clients/run.sh RCONTAINER_BINARY
#
# What it does: installs docker.io, containerd, podman, conmon (apt-get, when missing); starts
# containerd and dockerd by hand (no systemd), with their own sockets, state and data under a
# temp dir, in a network namespace of their own (Docker's bridges live there, not on the host);
# imports a busybox image made from busybox-static; registers the binary as a runtime; checks
#   docker: run (exit status), run -it in a pty (PID 1, tty, a window resize), --memory seen in the
#           container's /sys/fs/cgroup, exec and exec -it,
#           a healthcheck going healthy, a user-defined bridge network (eth0 and its address,
#           set up by Docker's prestart hook), stop, kill, rm;
#   ctr:    run, run -t, task exec;
#   podman: run, run -it, exec, exec -it, a failing OCI hook (--hooks-dir) failing the run;
# then stops what it started (by pid) and removes what it made (cgroups under
# rcontainer-clients*, mounts, the temp dir, the network namespace).
# Prints TAP-like lines and "N passed, M failed"; exits non-zero if anything failed.
set -uo pipefail

RC_BIN=$(realpath "${1:?usage: tests/clients/run.sh RCONTAINER_BINARY}")
HERE=$(cd "$(dirname "$0")" && pwd)
PTY="python3 $HERE/pty.py"
[ "$(id -u)" = 0 ] || { echo "tests/clients/run.sh: run as root" >&2; exit 1; }

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
PIDS=()
pass=0
fail=0
FAILED=()

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
	grep " $W" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	find /sys/fs/cgroup -depth -type d -path "*${CGPARENT}*" -exec rmdir {} \; 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() {
	fail=$((fail + 1))
	FAILED+=("$1")
	echo "not ok - $1"
	[ -z "${2:-}" ] || printf '#   %s\n' "$(printf '%s' "$2" | head -c 2000 | tr '\n' '|')"
}
# check DESC EXPECTED-STATUS NEEDLE CMD...: runs CMD; passes when it exits with EXPECTED-STATUS
# ("nonzero" for any failure) and its output contains NEEDLE (empty: anything).
check() {
	local desc=$1 want=$2 needle=$3 out status
	shift 3
	out=$(timeout 120 "$@" 2>&1)
	status=$?
	if { [ "$want" = nonzero ] && [ "$status" != 0 ]; } || [ "$status" = "$want" ]; then
		case "$out" in *"$needle"*) ok "$desc"; return ;; esac
	fi
	bad "$desc (status $status, wanted $want and \"$needle\")" "$out"
}

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
	echo "tests/clients/run.sh: dockerd did not come up" >&2
	tail -n 20 "$W/dockerd.log" "$W/containerd.log" >&2
	exit 1
fi
CTR="ctr --address $W/containerd.sock -n rcontainer-clients"
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

# ------------------------------------------------------------------ the checks
for rt in runc rcontainer; do
	bin=$RC
	[ "$rt" = runc ] && bin=$(command -v runc)
	echo "# --- $rt"
	d="$DOCKER run --rm --runtime $rt"
	check "[$rt] docker run" 0 hello $d busybox:rcontainer-clients echo hello
	check "[$rt] docker run: the exit status" 3 "" $d busybox:rcontainer-clients sh -c 'exit 3'
	check "[$rt] docker run -it: sh is PID 1 on /dev/pts/0" 0 "/dev/pts/0" \
		$PTY 30 100 -- $d -it busybox:rcontainer-clients sh -c 'ps -o pid,comm | grep -q "^ *1 sh" && tty'
	check "[$rt] docker run -it: a window resize reaches the container" 4 "41 133" \
		$PTY 30 100 --resize-after READY 41 133 -- $d -it busybox:rcontainer-clients \
		sh -c 'trap "stty size; exit 4" WINCH; echo READY; while :; do sleep 0.05; done'
	check "[$rt] docker run --memory: the container reads its own limit in /sys/fs/cgroup (host cgroupns)" 0 67108864 \
		$d --memory 64m busybox:rcontainer-clients cat /sys/fs/cgroup/memory/memory.limit_in_bytes
	name=rct-clients-$rt
	$DOCKER run -d --name "$name" --runtime "$rt" --health-cmd true --health-interval 1s busybox:rcontainer-clients sleep 300 >/dev/null
	check "[$rt] docker exec" 0 exec-ok $DOCKER exec "$name" sh -c 'echo exec-ok; ps -o pid,comm | grep -q "^ *1 sleep"'
	check "[$rt] docker exec: the exit status" 5 "" $DOCKER exec "$name" sh -c 'exit 5'
	check "[$rt] docker exec -it" 0 "/dev/pts/" $PTY 24 80 -- $DOCKER exec -it "$name" sh -c tty
	health=
	for _ in $(seq 100); do
		health=$($DOCKER inspect -f '{{.State.Health.Status}}' "$name" 2>&1)
		[ "$health" = healthy ] && break
		sleep 0.1
	done
	[ "$health" = healthy ] && ok "[$rt] docker healthcheck goes healthy" || bad "[$rt] docker healthcheck goes healthy" "$health"
	check "[$rt] docker stop" 0 "$name" $DOCKER stop -t 1 "$name"
	check "[$rt] docker rm" 0 "$name" $DOCKER rm "$name"
	$DOCKER run -d --name "$name" --runtime "$rt" busybox:rcontainer-clients sleep 300 >/dev/null
	check "[$rt] docker kill" 0 "$name" $DOCKER kill "$name"
	check "[$rt] docker rm -f" 0 "$name" $DOCKER rm -f "$name"
	check "[$rt] docker run on a user-defined bridge network: eth0 and an address" 0 "inet 1" \
		$d --network rcontainer-clients-net busybox:rcontainer-clients sh -c 'ip -4 addr show eth0'

	c="$CTR run --rm --runc-binary $bin --cgroup $CGPARENT/ctr-$rt"
	check "[$rt] ctr run" 0 ctr-ok $c $IMG ctr-$rt sh -c 'echo ctr-ok'
	check "[$rt] ctr run -t" 0 "/dev/pts/0" $PTY 24 80 -- $c -t $IMG ctr-t-$rt sh -c tty
	$CTR run -d --runc-binary "$bin" --cgroup "$CGPARENT/ctrd-$rt" $IMG ctrd-$rt sleep 300 >/dev/null
	check "[$rt] ctr task exec" 0 ctr-exec-ok $CTR task exec --exec-id e1 ctrd-$rt sh -c 'echo ctr-exec-ok'
	$CTR task kill -s SIGKILL ctrd-$rt >/dev/null 2>&1
	for _ in $(seq 50); do $CTR task ls 2>/dev/null | grep -q "ctrd-$rt.*RUNNING" || break; sleep 0.1; done
	$CTR task rm ctrd-$rt >/dev/null 2>&1
	$CTR containers rm ctrd-$rt >/dev/null 2>&1

	p="$PODMAN --runtime $bin"
	check "[$rt] podman run" 0 podman-ok $p run --rm --network none --cgroup-parent "$CGPARENT" $PIMG sh -c 'echo podman-ok'
	check "[$rt] podman run -it" 0 "/dev/pts/0" $PTY 24 80 -- $p run -it --rm --network none --cgroup-parent "$CGPARENT" $PIMG sh -c tty
	$p run -d --name "p-$rt" --network none --cgroup-parent "$CGPARENT" $PIMG sleep 300 >/dev/null
	check "[$rt] podman exec" 0 podman-exec-ok $p exec "p-$rt" sh -c 'echo podman-exec-ok'
	check "[$rt] podman exec -it" 0 "/dev/pts/" $PTY 24 80 -- $p exec -it "p-$rt" sh -c tty
	$p rm -f -t 0 "p-$rt" >/dev/null 2>&1
	check "[$rt] podman: a failing prestart hook fails the run" nonzero "hook" \
		$p --hooks-dir "$W/hooks" run --rm --network none --cgroup-parent "$CGPARENT" $PIMG true
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

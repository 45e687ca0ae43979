#!/usr/bin/env bash
# tests/clients/run.sh — rcontainer as the OCI runtime of real clients: Docker (dockerd with
# containerd), containerd's ctr, and podman, from Debian's packages. Every check runs against
# runc too, in the same run: a check that fails with runc is the harness's fault, not ours.
#
# Usage (as root): tests/clients/run.sh RCONTAINER_BINARY
#
# What it does: sets the clients up (tests/clients/setup.sh: installs them when missing, starts
# containerd and dockerd by hand in a network namespace of their own, imports a busybox image,
# registers the binary as a runtime), then checks
#   docker: run (exit status), run -it in a pty (PID 1, tty, a window resize), --memory seen in the
#           container's /sys/fs/cgroup, --tmpfs's mode, exec and exec -it,
#           a healthcheck going healthy, a user-defined bridge network (eth0 and its address,
#           set up by Docker's prestart hook), stop, kill, rm;
#   ctr:    run, run -t, task exec (and its exit status), the runtime's own state of a container ctr made (the shim's
#           BinaryName option, what containerd's CRI plugin passes for a RuntimeClass handler);
#   podman: run, run -it, exec (and its exit status), exec -it, a failing OCI hook (--hooks-dir) failing the run;
# then stops what it started (by pid) and removes what it made (cgroups under
# rcontainer-clients*, mounts, the temp dir, the network namespace).
# Prints TAP-like lines and "N passed, M failed"; exits non-zero if anything failed.
set -uo pipefail

RC_BIN=$(realpath "${1:?usage: tests/clients/run.sh RCONTAINER_BINARY}")
HERE=$(cd "$(dirname "$0")" && pwd)
PTY="python3 $HERE/pty.py"
[ "$(id -u)" = 0 ] || { echo "tests/clients/run.sh: run as root" >&2; exit 1; }

. "$HERE/setup.sh"

# Every client command is bounded, and killed when it outlives its TERM (ctr forwards TERM to
# the task and goes on waiting): a hang is a failed check, never a stalled suite.
T="timeout -k 10 120"

. "$HERE/../lib.sh"
# check DESC EXPECTED-STATUS NEEDLE CMD...: runs CMD; passes when it exits with EXPECTED-STATUS
# ("nonzero" for any failure) and its output contains NEEDLE (empty: anything).
check() {
	local desc=$1 want=$2 needle=$3 out status
	shift 3
	out=$($T "$@" 2>&1)
	status=$?
	if { [ "$want" = nonzero ] && [ "$status" != 0 ]; } || [ "$status" = "$want" ]; then
		case "$out" in *"$needle"*) ok "$desc"; return ;; esac
	fi
	bad "$desc (status $status, wanted $want and \"$needle\")" "$out"
}


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
	check "[$rt] docker run --tmpfs /tmp: the tmpfs keeps the image's /tmp mode (755 here)" 0 755 \
		$d --user 1000:1000 --tmpfs /tmp busybox:rcontainer-clients stat -c %a /tmp
	name=rct-clients-$rt
	$T $DOCKER run -d --name "$name" --runtime "$rt" --health-cmd true --health-interval 1s busybox:rcontainer-clients sleep 300 >/dev/null
	check "[$rt] docker exec" 0 exec-ok $DOCKER exec "$name" sh -c 'echo exec-ok; ps -o pid,comm | grep -q "^ *1 sleep"'
	check "[$rt] docker exec: the exit status" 5 "" $DOCKER exec "$name" sh -c 'exit 5'
	check "[$rt] docker exec -it" 0 "/dev/pts/" $PTY 24 80 -- $DOCKER exec -it "$name" sh -c tty
	health=
	for _ in $(seq 100); do
		health=$($T $DOCKER inspect -f '{{.State.Health.Status}}' "$name" 2>&1)
		[ "$health" = healthy ] && break
		sleep 0.1
	done
	[ "$health" = healthy ] && ok "[$rt] docker healthcheck goes healthy" || bad "[$rt] docker healthcheck goes healthy" "$health"
	check "[$rt] docker stop" 0 "$name" $DOCKER stop -t 1 "$name"
	check "[$rt] docker rm" 0 "$name" $DOCKER rm "$name"
	$T $DOCKER run -d --name "$name" --runtime "$rt" busybox:rcontainer-clients sleep 300 >/dev/null
	check "[$rt] docker kill" 0 "$name" $DOCKER kill "$name"
	check "[$rt] docker rm -f" 0 "$name" $DOCKER rm -f "$name"
	check "[$rt] docker run on a user-defined bridge network: eth0 and an address" 0 "inet 1" \
		$d --network rcontainer-clients-net busybox:rcontainer-clients sh -c 'ip -4 addr show eth0'

	c="$CTR run --rm --runc-binary $bin --cgroup $CGPARENT/ctr-$rt"
	check "[$rt] ctr run" 0 ctr-ok $c $IMG ctr-$rt sh -c 'echo ctr-ok'
	check "[$rt] ctr run -t" 0 "/dev/pts/0" $PTY 24 80 -- $c -t $IMG ctr-t-$rt sh -c tty
	$T $CTR run -d --runc-binary "$bin" --cgroup "$CGPARENT/ctrd-$rt" $IMG ctrd-$rt sleep 300 >/dev/null
	check "[$rt] ctr task exec" 0 ctr-exec-ok $CTR task exec --exec-id e1 ctrd-$rt sh -c 'echo ctr-exec-ok'
	check "[$rt] ctr task exec: the exit status" 6 "" $CTR task exec --exec-id e2 ctrd-$rt sh -c 'exit 6'
	# --runc-binary is the runc v2 shim's BinaryName option: what containerd's CRI plugin passes
	# for a Kubernetes RuntimeClass handler (see setup.sh's config). The state is the runtime's.
	check "[$rt] ctr run --runc-binary (the shim option a RuntimeClass handler sets): $rt made the container" 0 '"status": "running"' \
		"$bin" --root "/run/containerd/runc/$CTRNS" state ctrd-$rt
	$T $CTR task kill -s SIGKILL ctrd-$rt >/dev/null 2>&1
	for _ in $(seq 50); do $T $CTR task ls 2>/dev/null | grep -q "ctrd-$rt.*RUNNING" || break; sleep 0.1; done
	$T $CTR task rm ctrd-$rt >/dev/null 2>&1
	$T $CTR containers rm ctrd-$rt >/dev/null 2>&1

	p="$PODMAN --runtime $bin"
	check "[$rt] podman run" 0 podman-ok $p run --rm --network none --cgroup-parent "$CGPARENT" $PIMG sh -c 'echo podman-ok'
	check "[$rt] podman run -it" 0 "/dev/pts/0" $PTY 24 80 -- $p run -it --rm --network none --cgroup-parent "$CGPARENT" $PIMG sh -c tty
	$T $p run -d --name "p-$rt" --network none --cgroup-parent "$CGPARENT" $PIMG sleep 300 >/dev/null
	check "[$rt] podman exec" 0 podman-exec-ok $p exec "p-$rt" sh -c 'echo podman-exec-ok'
	check "[$rt] podman exec: the exit status" 7 "" $p exec "p-$rt" sh -c 'exit 7'
	check "[$rt] podman exec -it" 0 "/dev/pts/" $PTY 24 80 -- $p exec -it "p-$rt" sh -c tty
	$T $p rm -f -t 0 "p-$rt" >/dev/null 2>&1
	check "[$rt] podman: a failing prestart hook fails the run" nonzero "hook" \
		$p --hooks-dir "$W/hooks" run --rm --network none --cgroup-parent "$CGPARENT" $PIMG true
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

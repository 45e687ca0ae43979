#!/bin/sh
# container-tests.sh — runs INSIDE the cgroup-v2-only guest (see run-cgroup-tests.sh): real
# containers through the rcontainer command, checking the v2 paths end to end: CLONE_INTO_CGROUP
# placement, the cgroup namespace and cgroup2 mount inside, limits in the v2 files, OOM from
# memory.events, pids.max, cgroup.freeze for pause, live update, removal on delete, and the
# device controller (an eBPF program) holding against a host device made inside.
# Usage: container-tests.sh RCONTAINER_BINARY. Prints TAP-like lines and "N passed, M failed".
R="$1"
root=/tmp/rc-v2-state
mkdir -p "$root"
pass=0; fail=0
ok() { pass=$((pass+1)); echo "ok - $1"; }
bad() { fail=$((fail+1)); echo "not ok - $1"; [ -n "$2" ] && echo "#   $2"; }
check() { desc="$1"; shift; if "$@"; then ok "$desc"; else bad "$desc"; fi; }
rc() { "$R" --root "$root" "$@"; }

out=$(rc run --hostname v2box -- sh -c 'hostname; cat /proc/self/cgroup; ls /sys/fs/cgroup/cgroup.controllers >/dev/null && echo cg2mounted' 2>&1)
case "$out" in *v2box*) ok "hostname inside";; *) bad "hostname inside" "$out";; esac
case "$out" in *"0::/"*) ok "cgroup namespace: the container sees its cgroup as /";; *) bad "cgroup namespace" "$out";; esac
case "$out" in *cg2mounted*) ok "cgroup2 mounted at /sys/fs/cgroup inside";; *) bad "cgroup2 mount inside" "$out";; esac

err=$(rc run --memory 32M --memory-swap 32M -- sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived' 2>&1 >/dev/null)
status=$?
check "memory hog over 32M exits 137 (got $status)" [ "$status" = 137 ]
case "$err" in *OOM*) ok "OOM reported on stderr";; *) bad "OOM reported on stderr" "$err";; esac

rc run -d --memory 64M --pids 20 --cpus 0.5 v2c -- sh -c 'while :; do :; done' || bad "run -d"
pid=$(rc state v2c | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')
cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
dir="/sys/fs/cgroup$cg"
check "init is born in its own cgroup ($cg)" [ -d "$dir" ]
check "memory.max is 64M" [ "$(cat "$dir/memory.max")" = 67108864 ]
check "pids.max is 20" [ "$(cat "$dir/pids.max")" = 20 ]
check "cpu.max is 50000 100000" [ "$(cat "$dir/cpu.max")" = "50000 100000" ]
rc update --memory 128M --pids-limit 40 v2c
check "update: memory.max 128M" [ "$(cat "$dir/memory.max")" = 134217728 ]
check "update: pids.max 40" [ "$(cat "$dir/pids.max")" = 40 ]
ex=$(rc exec v2c sh -c 'cat /proc/self/cgroup; cat /sys/fs/cgroup/pids.current' 2>&1)
case "$ex" in *"0::/"*) ok "exec: the process is in the container's cgroup namespace";; *) bad "exec: cgroup namespace" "$ex";; esac
case "$ex" in *"
2"*|*"
3"*) ok "exec: counted in the container's pids cgroup";; *) bad "exec: pids cgroup" "$ex";; esac
rc pause v2c
check "pause: cgroup.freeze is 1" [ "$(cat "$dir/cgroup.freeze")" = 1 ]
case "$(rc state v2c)" in *'"paused"'*) ok "state says paused";; *) bad "state says paused";; esac
rc resume v2c
case "$(rc state v2c)" in *'"running"'*) ok "resume: running again";; *) bad "resume";; esac
ev=$(rc events --stats v2c)
case "$ev" in *'"pids":{"current":1'*|*'"current":1,'*) ok "events --stats: pids current 1";; *) bad "events --stats" "$ev";; esac
rc kill --all v2c KILL
sleep 0.3
rc delete v2c
check "delete removed $dir" [ ! -d "$dir" ]
check "no state left" [ -z "$(ls "$root")" ] || true

# The escape defences on this kernel too (the guest's is older than the host's).
# The device controller: v2 has no devices.allow, only an eBPF program; without it a container
# with CAP_MKNOD (Docker's default set) opens any device it makes: here the kernel log.
out=$(rc run -- sh -c 'mknod /dev/k c 1 11 && echo mknod-ok; echo rcontainer-v2-devtest > /dev/k && echo KMSG-WRITTEN; head -c 1 /dev/null && echo null-ok' 2>&1)
case "$out" in
*KMSG-WRITTEN*) bad "device program: /dev/kmsg made in the container must not open" "$out" ;;
*mknod-ok*"Operation not permitted"*null-ok*) ok "device program: a host device made in the container does not open; /dev/null does" ;;
*) bad "device program" "$out" ;;
esac
if dmesg | grep -q rcontainer-v2-devtest; then bad "device program: the container wrote to the kernel log"; else ok "device program: nothing reached the kernel log"; fi
rc run -d devc -- sleep 100 >/dev/null || bad "run -d devc"
echo '{"devices":[{"allow":true,"type":"c","major":1,"minor":11,"access":"rwm"}],"pids":{"limit":50}}' >/tmp/devres.json
rc update -r /tmp/devres.json devc || bad "update with devices"
out=$(rc exec devc sh -c 'mknod /dev/k2 c 1 11; echo x > /dev/k2 && echo KMSG-WRITTEN; head -c 1 /dev/null && echo null-ok' 2>&1)
case "$out" in
*KMSG-WRITTEN*) bad "update keeps the create-time device rules (as runc)" "$out" ;;
*null-ok*) ok "update keeps the create-time device rules (as runc)" ;;
*) bad "update keeps the create-time device rules" "$out" ;;
esac
rc delete -f devc
out=$(rc run -- /proc/self/exe --version 2>&1); status=$?
case "$out" in *rcontainer*) bad "/proc/self/exe does not run the runtime" "$out";; *) check "/proc/self/exe runs the exec stub, which exits 127 (got $status)" [ "$status" = 127 ];; esac
out=$(rc run -w /proc/self/fd/4 -- sh -c 'ls ../../../../../..' 2>&1); status=$?
case "$out" in *"cwd /proc/self/fd/4"*) ok "cwd through a runtime fd refused";; *) bad "cwd through a runtime fd refused (got $status)" "$out";; esac

# Rootless on v2 (issue 17): uid 1000, no capabilities, in a subtree delegated to it as systemd's
# Delegate=yes would (a directory chowned to the user, controllers enabled in it, the caller in a
# leaf below it). Limits apply as for root, in a cgroup the user makes.
# (util-linux's setpriv, put in the guest at its host path; busybox's lacks --reuid)
if [ -x /usr/bin/setpriv ]; then
	d=/sys/fs/cgroup/rcontainer-rl
	mkdir -p "$d/leaf" /tmp/rl-home
	echo "+memory +pids" >/sys/fs/cgroup/cgroup.subtree_control
	echo "+memory +pids" >"$d/cgroup.subtree_control"
	chown -R 1000:1000 "$d" /tmp/rl-home
	chmod 700 /tmp/rl-home
	as_rl() {
		sh -c 'echo $$ > "$0/leaf/cgroup.procs" && exec /usr/bin/setpriv --reuid 1000 --regid 1000 --clear-groups --inh-caps=-all env HOME=/tmp/rl-home XDG_RUNTIME_DIR=/tmp/rl-home "$@"' "$d" "$@"
	}
	out=$(as_rl "$R" run -- sh -c 'echo $$ $(id -u); cat /proc/self/uid_map' 2>&1)
	case "$out" in "1 0"*"1000"*) ok "rootless: PID 1, root inside, uid 1000 outside";; *) bad "rootless: run" "$out";; esac
	out=$(as_rl "$R" run --cgroup /rcontainer-rl/c1 --memory 32M --pids 10 -- sh -c 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max' 2>&1)
	case "$out" in *33554432*10*) ok "rootless: memory and pids limits in a delegated subtree";; *) bad "rootless: limits in a delegated subtree" "$out";; esac
	check "rootless: the cgroup was the user's and is gone after the run" [ ! -d "$d/c1" ]
	as_rl "$R" run --cgroup /rcontainer-rl/c2 --memory 32M --memory-swap 32M -- sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived' >/dev/null 2>&1
	status=$?
	check "rootless: a memory hog over 32M exits 137 (got $status)" [ "$status" = 137 ]
	out=$(as_rl "$R" run --cgroup /rcontainer-rl/c3 --pids 5 -- sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait' 2>&1)
	case "$out" in *"an't fork"*|*"Resource temporarily unavailable"*) ok "rootless: pids limit holds";; *) bad "rootless: pids limit" "$out";; esac
	out=$(as_rl "$R" run --cgroup /elsewhere --memory 32M -- true 2>&1); status=$?
	case "$out" in *"without a cgroup this user may write"*) check "rootless: a cgroup outside the delegation is refused, saying why (got $status)" [ "$status" = 125 ];; *) bad "rootless: a cgroup outside the delegation" "$out";; esac
	check "rootless: nothing left in the delegated subtree" [ -z "$(find "$d" -mindepth 1 -type d ! -name leaf)" ]
	rmdir "$d/leaf" "$d" 2>/dev/null
else
	bad "rootless: setpriv is missing from the guest"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

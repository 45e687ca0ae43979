#!/usr/bin/env bash
# tests/crash/run.sh — the command killed at every step: for each verb (create, start, run,
# kill, delete), every system call the command makes is, in turn, the one where it gets SIGKILL
# (strace's syscall fault injection: inject=NAME:signal=KILL:when=K, the K-th call of NAME being
# that step). After each kill, recovery as an operator would do it, then the checks:
#   - `list` exits 0; `state ID` exits 0 or says the container does not exist;
#   - a killed `start` did not kill the container: its init still lives (created or running),
#     and a second `start` finishes or fails with a clear error, within 10 s;
#   - `delete --force ID` exits 0, and then nothing is left: no state directory (nor any entry
#     but containers in the state root), no cgroup directory of the container in any hierarchy,
#     no process of the container, no new mount on the host;
#   - the id works again: create + delete --force with it succeed.
#
# Usage (as root): tests/crash/run.sh RCONTAINER_BINARY [VERB...]   (default: every verb)
# Needs strace (installed when missing) and busybox-static. Prints one line per verb: the
# number of injection points, and every point where a check failed; exits 1 if any did.
set -uo pipefail

RC=$(realpath "${1:?usage: tests/crash/run.sh RCONTAINER_BINARY [VERB...]}")
shift
VERBS=("$@")
[ ${#VERBS[@]} -gt 0 ] || VERBS=(create start run kill delete)
[ "$(id -u)" = 0 ] || { echo "tests/crash/run.sh: run as root" >&2; exit 1; }
need=()
command -v strace >/dev/null || need+=(strace)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
BUSYBOX=$(dpkg-query -L busybox-static | grep -m1 '/bin/busybox$')

W=$(mktemp -d /tmp/rcontainer-crash.XXXXXX)
ROOT=$W/state
# Every container's cgroup goes under one parent named for this run (under our own cgroup).
CGNAME=rcontainer-crash-$$
MARK=rcontainer-crash-mark-$$
cleanup() {
	set +e
	for id in $(ls "$ROOT" 2>/dev/null); do "$RC" --root "$ROOT" delete --force "$id" >/dev/null 2>&1; done
	find /sys/fs/cgroup -depth -type d -name "$CGNAME*" -exec rmdir {} \; 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$W/bundle/rootfs/bin" "$ROOT"
cp "$BUSYBOX" "$W/bundle/rootfs/bin/busybox"
for a in sh sleep true; do ln -s busybox "$W/bundle/rootfs/bin/$a"; done
# The container's command carries a marker, so that its processes can be found by cmdline.
(cd "$W" && "$RC" spec) || exit 1
bundle_for() { # bundle_for ARGS-JSON
	python3 - "$W/config.json" "$W/bundle/config.json" "$1" "$CGNAME" <<'EOF'
import json, sys
orig, path, args, cg = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
c = json.load(open(orig))
c["process"]["terminal"] = False
c["process"]["args"] = args
c["linux"]["cgroupsPath"] = cg + "/ctr"
c["linux"].setdefault("resources", {})["pids"] = {"limit": 32}
json.dump(c, open(path, "w"))
EOF
}
rc() { "$RC" --root "$ROOT" "$@"; }
mounts() { wc -l </proc/self/mountinfo; }
# Where the container's cgroup directories go: $CGNAME under our own cgroup, in every hierarchy
# (the parent named for the run is made by create too, and must go with delete).
mapfile -t CG_CANDIDATES < <(python3 - "$CGNAME" <<'EOF'
import os, sys
name = sys.argv[1]
own = {}
for line in open("/proc/self/cgroup"):
    _, ctrls, path = line.rstrip("\n").split(":", 2)
    for c in (ctrls.split(",") if ctrls else [""]):
        own[c.replace("name=", "")] = path
for d in sorted(os.listdir("/sys/fs/cgroup")) + [""]:
    base = os.path.join("/sys/fs/cgroup", d)
    if not os.path.isdir(base) or os.path.islink(base):
        continue
    key = "" if d in ("", "unified") else d.split(",")[0]
    if key in own:
        print(os.path.join(base, own[key].lstrip("/"), name))
EOF
)
cgroups_left() { for d in "${CG_CANDIDATES[@]}"; do [ -d "$d" ] && echo "$d"; done; }
# Processes whose command line carries the marker (the pattern "mar[k]" does not match the grep's
# own command line).
procs_left() { grep -la "rcontainer-crash-mar[k]-$$" /proc/[0-9]*/cmdline 2>/dev/null; }

# prepare VERB ID: brings the container to where VERB starts from.
prepare() {
	case $1 in
	create | run) ;;
	start) rc create --bundle "$W/bundle" "$2" </dev/null >/dev/null 2>&1 ;;
	kill | delete) rc create --bundle "$W/bundle" "$2" </dev/null >/dev/null 2>&1 && rc start "$2" ;;
	esac
}
# the command line of VERB on ID
verb_args() {
	case $1 in
	create) echo "create --bundle $W/bundle $2" ;;
	run) echo "run --bundle $W/bundle $2" ;;
	start) echo "start $2" ;;
	kill) echo "kill $2 KILL" ;;
	delete) echo "delete --force $2" ;;
	esac
}

total_fail=0
for verb in "${VERBS[@]}"; do
	case $verb in
	run) bundle_for "[\"sh\", \"-c\", \"true $MARK\"]" ;;
	*) bundle_for "[\"sh\", \"-c\", \"sleep 1000\", \"$MARK\"]" ;;
	esac
	# The syscalls of one undisturbed call, in order (the main thread's: what strace follows).
	id=crash-$verb
	prepare "$verb" "$id"
	# shellcheck disable=SC2046
	strace -qq -o "$W/trace" "$RC" --root "$ROOT" $(verb_args "$verb" "$id") </dev/null >/dev/null 2>&1
	rc delete --force "$id" >/dev/null 2>&1
	mapfile -t calls < <(sed -n 's/^\([a-z0-9_]*\)(.*/\1/p' "$W/trace")
	declare -A seen=()
	points=0
	failures=()
	base_mounts=$(mounts)
	for name in "${calls[@]}"; do
		seen[$name]=$((${seen[$name]:-0} + 1))
		k=${seen[$name]}
		points=$((points + 1))
		at="$verb: $name #$k (step $points)"
		prepare "$verb" "$id"
		init_pid=$(rc state "$id" 2>/dev/null | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
		# shellcheck disable=SC2046
		timeout 20 strace -qq -o /dev/null -e inject="$name":signal=KILL:when="$k" \
			"$RC" --root "$ROOT" $(verb_args "$verb" "$id") </dev/null >/dev/null 2>&1
		problems=()
		rc list >/dev/null 2>&1 || problems+=("list failed: $(rc list 2>&1 | tail -1)")
		st=$(rc state "$id" 2>&1)
		case $? in 0) ;; *) case $st in *"does not exist"*) ;; *) problems+=("state: $st") ;; esac ;; esac
		if [ "$verb" = start ] && [ -n "$init_pid" ] && [ "$init_pid" != 0 ]; then
			case $st in
			*'"status": "created"'* | *'"status": "running"'*) ;;
			*) problems+=("the killed start took the init with it: $st") ;;
			esac
			out=$(timeout 10 "$RC" --root "$ROOT" start "$id" 2>&1)
			s=$?
			[ $s = 124 ] && problems+=("a second start hung")
			[ $s != 0 ] && [ $s != 124 ] && case $out in *running* | *created*) ;; *) problems+=("second start: $out") ;; esac
		fi
		out=$(rc delete --force "$id" 2>&1) || problems+=("delete --force: $out")
		[ -z "$(ls -A "$ROOT")" ] || problems+=("state root holds: $(ls -A "$ROOT" | tr '\n' ' ')")
		for _ in $(seq 50); do [ -z "$(procs_left)" ] && break; sleep 0.02; done
		[ -z "$(procs_left)" ] || problems+=("processes left: $(procs_left | tr '\n' ' ')")
		[ -z "$(cgroups_left)" ] || problems+=("cgroups left: $(cgroups_left | tr '\n' ' ')")
		[ "$(mounts)" = "$base_mounts" ] || problems+=("host mounts changed: $base_mounts -> $(mounts)")
		if rc create --bundle "$W/bundle" "$id" </dev/null >/dev/null 2>&1; then
			rc delete --force "$id" >/dev/null 2>&1 || problems+=("the id's second delete failed")
		else
			problems+=("the id cannot be used again: $(rc create --bundle "$W/bundle" "$id" 2>&1 </dev/null | tail -1)")
		fi
		# Leave nothing for the next point whatever happened.
		rc delete --force "$id" >/dev/null 2>&1
		for d in $(cgroups_left); do find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; done
		if [ ${#problems[@]} -gt 0 ]; then
			failures+=("$at: ${problems[*]}")
		fi
	done
	unset seen
	echo "$verb: $points injection points, ${#failures[@]} failed"
	for f in "${failures[@]}"; do echo "  not ok - $f"; done
	total_fail=$((total_fail + ${#failures[@]}))
done
[ "$total_fail" = 0 ]

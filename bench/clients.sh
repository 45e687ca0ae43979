#!/usr/bin/env bash
# bench/clients.sh — what a user of Docker, ctr and podman waits for, with runc and with
# rcontainer as the runtime, side by side in one run.
#
# Usage (as root): bench/clients.sh [RCONTAINER_BINARY] [N]
#   RCONTAINER_BINARY  default: the static PIE from cli/build-static.sh (built when missing)
#   N                  runs per row and runtime (default 20), interleaved runc/rcontainer so
#                      the machine's drift hits both alike
#
# Sets the clients up as the tests do (tests/clients/setup.sh: daemons started by hand in a
# network namespace of their own, a busybox image), then times, per runtime:
#   docker run --rm busybox true        (dockerd → containerd → shim → runtime create/start/delete)
#   docker exec CONTAINER true          (shim → runtime exec)
#   ctr run --rm IMAGE ID true
#   podman run --rm --network none IMAGE true
# and prints the median and minimum of each and rcontainer's median over runc's.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/clients.sh: run as root" >&2; exit 1; }
RC_BIN=${1:-}
N=${2:-20}
if [ -z "$RC_BIN" ]; then
	RC_BIN=$(cli/build-static.sh)
fi
RC_BIN=$(realpath "$RC_BIN")
HERE=$(pwd)/tests/clients
set +e
. "$HERE/setup.sh"
set -e

# time_ms CMD...: runs CMD (output discarded), prints its wall time in ms; fails if CMD does.
time_ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 || { echo "bench/clients.sh: failed: $*" >&2; return 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}

declare -A samples
for rt in runc rcontainer; do
	bin=$RC
	[ "$rt" = runc ] && bin=$(command -v runc)
	$DOCKER run -d --name "bench-$rt" --runtime "$rt" busybox:rcontainer-clients sleep 3600 >/dev/null
	# warm-up: one of each
	$DOCKER run --rm --runtime "$rt" busybox:rcontainer-clients true >/dev/null
	$DOCKER exec "bench-$rt" true
done
for i in $(seq "$N"); do
	for rt in runc rcontainer; do
		bin=$RC
		[ "$rt" = runc ] && bin=$(command -v runc)
		samples[docker_run_$rt]+="$(time_ms $DOCKER run --rm --runtime "$rt" busybox:rcontainer-clients true) "
		samples[docker_exec_$rt]+="$(time_ms $DOCKER exec "bench-$rt" true) "
		samples[ctr_run_$rt]+="$(time_ms $CTR run --rm --runc-binary "$bin" --cgroup "$CGPARENT/bench-$rt-$i" $IMG "bench-ctr-$rt-$i" true) "
		samples[podman_run_$rt]+="$(time_ms "$PODMAN" --runtime "$bin" run --rm --network none --cgroup-parent "$CGPARENT" $PIMG true) "
	done
done

python3 - "$N" <<EOF
import statistics, sys
rows = [("docker run --rm busybox true", "docker_run"), ("docker exec CONTAINER true", "docker_exec"),
        ("ctr run --rm IMAGE true", "ctr_run"), ("podman run --rm IMAGE true", "podman_run")]
s = {
$(for k in "${!samples[@]}"; do echo "    '$k': [$(echo ${samples[$k]} | tr ' ' ',')],"; done)
}
print(f"per operation, wall ms, {sys.argv[1]} runs each, interleaved       runc median (min)   rcontainer median (min)   rcontainer / runc")
for label, key in rows:
    r = [x / 1000 for x in s[key + "_runc"]]
    c = [x / 1000 for x in s[key + "_rcontainer"]]
    mr, mc = statistics.median(r), statistics.median(c)
    print(f"  {label:<58} {mr:8.1f} ({min(r):6.1f})   {mc:8.1f} ({min(c):6.1f})          {mc / mr:5.2f}x")
EOF

#!/usr/bin/env bash
# bench/run.sh — rcontainer against crun, runc, bubblewrap and the syscall floor.
#
# Usage (as root, from anywhere):   bench/run.sh
#
# What it does:
#   1. Installs what is missing with apt-get (Debian 12): crun runc hyperfine bubblewrap
#      busybox-static gcc libc6-dev libseccomp-dev pkg-config jq python3 util-linux. A Rust toolchain (cargo ≥ 1.80, e.g.
#      from rustup) must already be installed.
#   2. Builds rcontainer (the command as a static PIE with cli/build-static.sh; the
#      rcontainer-bench crate's `inproc` with cargo build --release) and the C helpers in bench/: floor.c (the syscall floor), par.c (N at once),
#      hybrid-shim.c (crun on a hybrid cgroup host, see below).
#   3. Builds a busybox bundle in a temp dir: rootfs = /bin/busybox (busybox-static) + applet
#      symlinks; config.json = `rcontainer spec` edited with jq: /bin/true, pid/network/ipc/uts/
#      mount/cgroup namespaces, linux.resources memory limit (64 MiB) and pids limit (64).
#   4. Measures, side by side in one hyperfine run per round (hyperfine cannot interleave single
#      runs, so the run is repeated ROUNDS times with the command order rotated and the rounds
#      merged), after warmup:
#        - sequential `run` (create+start+wait+delete) of /bin/true, per container:
#          floor, rcontainer run --bundle, crun run, runc run, bwrap (pid/net/ipc/uts/cgroup
#          namespaces + /bin/true in the busybox rootfs; bwrap has no cgroup limits); plus
#          rcontainer and crun with a minimal config (only /proc and /dev mounted: about the
#          floor's work), to tell the config's cost from the runtime's;
#        - 50 started at once, total wall time (same rows; one hyperfine run);
#        - in-process loops of 200 × create+start+wait+delete, each timed: the rcontainer-core
#          library (bench/src/bin/inproc.rs) and the floor's loop mode (floor -n), from a small
#          parent and from a parent holding 1 GiB of touched memory; plus the floor with a
#          fork-style clone3 from the 1 GiB parent (what copying the page tables costs); and
#          Python's rcontainer.run over the same bundle when the package is installed
#          (bindings-python/.venv, or BENCH_PYTHON); the library rows also print the median of
#          each phase (create, start, wait, delete) as a NOTE.
#   5. Prints one table: median, min, ratio to the floor, ratio to crun. Raw JSON and the table
#      are kept in bench/out/ (git-ignored).
#
# hyperfine runs the commands without a shell (-N). Every row, the floor's too, goes through
# bench/par.c (`par 1 ...` sequential, `par 50 ...` concurrent), which substitutes a unique
# container id rcontainer-bench-<runtime>-<par's pid>-<i>. Every runtime gets its own --root
# under the temp dir.
# The floor's cgroups (and runc's, named by the id) live under the caller's own cgroup; crun puts
# its cgroups at the hierarchy roots, named by the id (rcontainer-bench-crun-*). After each phase
# the script checks that no container state, rcontainer-bench-* cgroup or mount is left over,
# removes any it finds and reports them.
#
# crun 1.8 refuses a hybrid cgroup host ("cgroups in hybrid mode not supported, drop all
# controllers from cgroupv2"): on such a host crun runs through hybrid-shim, a private mount
# namespace where /sys/fs/cgroup/unified/cgroup.controllers is covered by an empty file; the
# script prints a note saying so (the crun rows then include one unshare+mount+exec).
#
# A/B against another build (e.g. the previous commit's, for a change's cost): RC_BASELINE=<its
# static rcontainer> adds the rows "rcontainer run (baseline)" and "rcontainer run, minimal config
# (baseline)", and INPROC_BASELINE=<its inproc> the row "rcontainer library (baseline)", measured
# in the same rotated rounds as the others.
#
# Knobs (environment): ROUNDS=3 RUNS=60 (per command per round) WARMUP=5 CONC=50 CONC_RUNS=10
#   INPROC_COUNT=200 (per row, over INPROC_ROUNDS=4 rotated rounds) BIG_MIB=1024 SKIP_INSTALL=1 (no apt-get) KEEP_TMP=1 (keep the temp dir)
#
# Ratios, not absolute times, are the result: the machines are shared and noisy.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
RUNS=${RUNS:-60}
WARMUP=${WARMUP:-5}
CONC=${CONC:-50}
CONC_RUNS=${CONC_RUNS:-10}
INPROC_COUNT=${INPROC_COUNT:-200}
INPROC_ROUNDS=${INPROC_ROUNDS:-4}
BIG_MIB=${BIG_MIB:-1024}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
OUT=$BENCH_DIR/out

say() { printf '\n== %s\n' "$*"; }
note() { printf 'NOTE: %s\n' "$*"; NOTES+=("$*"); }
NOTES=()

if [ "$(id -u)" != 0 ]; then
	echo "bench/run.sh: must run as root (containers with cgroups and all namespaces)" >&2
	exit 1
fi

# ---------------------------------------------------------------- 1. dependencies
install_missing() {
	local missing=() cmd pkg
	for pair in crun:crun runc:runc hyperfine:hyperfine bwrap:bubblewrap gcc:gcc jq:jq python3:python3 unshare:util-linux pkg-config:pkg-config; do
		cmd=${pair%%:*}
		pkg=${pair#*:}
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
	done
	dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || missing+=(busybox-static)
	dpkg-query -W -f='${Status}' libc6-dev 2>/dev/null | grep -q 'install ok installed' || missing+=(libc6-dev)
	dpkg-query -W -f='${Status}' libseccomp-dev 2>/dev/null | grep -q 'install ok installed' || missing+=(libseccomp-dev)
	if [ ${#missing[@]} -gt 0 ]; then
		if [ -n "${SKIP_INSTALL:-}" ] || ! command -v apt-get >/dev/null; then
			echo "bench/run.sh: missing packages: ${missing[*]} (and SKIP_INSTALL is set or there is no apt-get)" >&2
			exit 1
		fi
		say "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
	fi
	if ! command -v cargo >/dev/null; then
		[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
	fi
	command -v cargo >/dev/null || {
		echo "bench/run.sh: cargo not found: install Rust ≥ 1.80 (https://rustup.rs)" >&2
		exit 1
	}
}
install_missing

# ---------------------------------------------------------------- 2. build
say "building rcontainer (release) and the C helpers"
(cd "$REPO" && cargo build --release -q -p rcontainer-bench)
TARGET_DIR=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps 2>/dev/null | jq -r .target_directory)
# The command as shipped: a static PIE (cli/build-static.sh says why).
RC=$("$REPO/cli/build-static.sh")
INPROC=$TARGET_DIR/release/inproc

WORK=$(mktemp -d /tmp/rcontainer-bench.XXXXXX)
for c in floor par hybrid-shim; do
	gcc -O2 -Wall -o "$WORK/$c" "$BENCH_DIR/$c.c"
done

# Containers that might be left over: runtime name, its command, its root.
RUNTIMES=(rcontainer crun runc)
declare -A RT_CMD=([rcontainer]="$RC" [crun]=crun [runc]=runc)
declare -A RT_ROOT=([rcontainer]="$WORK/root-rcontainer" [crun]="$WORK/root-crun" [runc]="$WORK/root-runc")
for r in "${RUNTIMES[@]}"; do mkdir -p "${RT_ROOT[$r]}"; done
mkdir -p "$WORK/root-inproc"
LEAKS=0

check_leftovers() { # $1: phase name
	local phase=$1 found=0 r id
	for r in "${RUNTIMES[@]}" inproc; do
		local root=${RT_ROOT[$r]:-$WORK/root-inproc}
		for id in $(ls -A "$root" 2>/dev/null); do
			[ -d "$root/$id" ] || continue
			echo "LEFTOVER after $phase: $r container $id in $root" >&2
			found=1
			case $r in
			crun) "$WORK/hybrid-shim" "$EMPTY" crun --root "$root" delete -f "$id" >&2 || true ;;
			inproc) "$RC" --root "$root" delete -f "$id" >&2 || true ;;
			*) ${RT_CMD[$r]} --root "$root" delete -f "$id" >&2 || true ;;
			esac
		done
	done
	local cg
	while IFS= read -r cg; do
		[ -n "$cg" ] || continue
		echo "LEFTOVER after $phase: cgroup $cg" >&2
		found=1
		rmdir "$cg" 2>/dev/null || echo "  (could not remove $cg)" >&2
	done < <(find /sys/fs/cgroup -depth -type d -name '*rcontainer-bench-*' 2>/dev/null)
	if grep -E "rcontainer-bench|$WORK" /proc/self/mountinfo >&2; then
		echo "LEFTOVER after $phase: the mounts above" >&2
		found=1
	fi
	if [ $found = 0 ]; then
		echo "leftovers after $phase: none (no container state, rcontainer-bench-* cgroup or mount)"
	else
		LEAKS=$((LEAKS + 1))
	fi
}

cleanup() {
	local rc=$?
	check_leftovers "exit" || true
	if grep -q "$WORK" /proc/self/mountinfo; then
		echo "bench/run.sh: mounts remain under $WORK: not removing it" >&2
	elif [ -z "${KEEP_TMP:-}" ]; then
		rm -rf "$WORK"
	else
		echo "kept $WORK"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 3. bundle
say "building the busybox bundle in $WORK/bundle"
BUNDLE=$WORK/bundle
ROOTFS=$BUNDLE/rootfs
BUSYBOX=$(dpkg-query -L busybox-static 2>/dev/null | grep -m1 '/bin/busybox$' || echo /bin/busybox)
mkdir -p "$ROOTFS"/{bin,dev,proc,sys,tmp,etc}
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
for a in $("$ROOTFS/bin/busybox" --list); do
	[ -e "$ROOTFS/bin/$a" ] || ln -s busybox "$ROOTFS/bin/$a"
done
"$RC" spec --bundle "$BUNDLE"
jq '.process.args = ["/bin/true"]
  | .linux.namespaces = [{type:"pid"},{type:"network"},{type:"ipc"},{type:"uts"},{type:"mount"},{type:"cgroup"}]
  | .linux.resources.memory = {limit: 67108864}
  | .linux.resources.pids = {limit: 64}' "$BUNDLE/config.json" >"$BUNDLE/config.json.new"
mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"
# The same container doing about the floor's work (rows "…, minimal config"): /proc and a tmpfs
# /dev are the only mounts (the runtimes create their device nodes in /dev: without the tmpfs
# they would write them into the shared rootfs, and race there), no masked or read-only paths, a
# writable root. Separates what the runc-default config costs from what the runtime itself costs.
MINB=$WORK/minbundle
mkdir -p "$MINB"
jq --arg root "$ROOTFS" '.root = {path: $root, readonly: false}
  | .mounts = [.mounts[] | select(.destination == "/proc" or .destination == "/dev")]
  | .linux.maskedPaths = [] | .linux.readonlyPaths = []' "$BUNDLE/config.json" >"$MINB/config.json"

EMPTY=$(mktemp "$WORK/empty.XXXXXX")
CRUN=crun
if [ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ] && [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
	CRUN="$WORK/hybrid-shim $EMPTY crun"
	note "hybrid cgroup host: crun $(crun --version | head -1 | awk '{print $3}') refuses it, so crun runs in a private mount namespace with an empty file bind-mounted over /sys/fs/cgroup/unified/cgroup.controllers (bench/hybrid-shim.c; adds one unshare+mount+exec to the crun rows)"
fi
note "floor, rcontainer, crun and runc all get the memory (64 MiB) and pids (64) limits (rcontainer only if this build has its cgroup support); bwrap has no cgroup at all"

# ---------------------------------------------------------------- 4. measure
rm -f "$OUT"/*.json "$OUT"/table.txt
mkdir -p "$OUT"

# name|command. hyperfine runs them without a shell (-N); every row goes through `par 1` (fork +
# exec + wait, the same small cost for every row), which gives each container a unique id
# PREFIX-<par's pid>-0 in place of @ID@ (the floor names its cgroup after its own pid).
BWRAP_ARGS="--unshare-pid --unshare-net --unshare-ipc --unshare-uts --unshare-cgroup --bind $ROOTFS / --proc /proc --dev /dev"
ROWS=(
	"floor|floor $WORK/floor $ROOTFS"
	"rcontainer run|rcontainer-bench-rc $RC --root ${RT_ROOT[rcontainer]} run --bundle $BUNDLE @ID@"
	"crun run|rcontainer-bench-crun $CRUN --root ${RT_ROOT[crun]} run --bundle $BUNDLE @ID@"
	"runc run|rcontainer-bench-runc runc --root ${RT_ROOT[runc]} run --bundle $BUNDLE @ID@"
	"rcontainer run, minimal config|rcontainer-bench-rcm $RC --root ${RT_ROOT[rcontainer]} run --bundle $MINB @ID@"
	"crun run, minimal config|rcontainer-bench-crunm $CRUN --root ${RT_ROOT[crun]} run --bundle $MINB @ID@"
	"bwrap|bwrap bwrap $BWRAP_ARGS /bin/true"
)
if [ -n "${RC_BASELINE:-}" ]; then
	ROWS+=("rcontainer run (baseline)|rcontainer-bench-rcb $RC_BASELINE --root ${RT_ROOT[rcontainer]} run --bundle $BUNDLE @ID@")
	ROWS+=("rcontainer run, minimal config (baseline)|rcontainer-bench-rcbm $RC_BASELINE --root ${RT_ROOT[rcontainer]} run --bundle $MINB @ID@")
	note "baseline rows: $RC_BASELINE ($("$RC_BASELINE" --version))"
fi
SEQ=()
CONCS=()
for e in "${ROWS[@]}"; do
	SEQ+=("${e%%|*}|$WORK/par 1 ${e#*|}")
	CONCS+=("${e%%|*}|$WORK/par $CONC ${e#*|}")
done

# Each command once first: one that fails is reported and left out, not allowed to abort the run.
preflight() { # $1: group; rest: name|command entries. Sets OK_CMDS.
	local group=$1 e name cmd
	shift
	OK_CMDS=()
	for e in "$@"; do
		name=${e%%|*}
		cmd=${e#*|}
		if err=$($cmd 2>&1 >/dev/null); then
			OK_CMDS+=("$e")
		else
			note "$group: '$name' FAILED and is left out: $(echo "$err" | tail -3 | tr '\n' ' ')"
		fi
	done
}

hyperfine_args() { # $1: group; $2: rotation; rest: entries
	local group=$1 rot=$2 n i e
	shift 2
	local entries=("$@")
	n=${#entries[@]}
	HF=()
	for ((i = 0; i < n; i++)); do
		e=${entries[$(((i + rot) % n))]}
		HF+=(--command-name "$group:${e%%|*}" "${e#*|}")
	done
}

say "sequential: $ROUNDS round(s) × $RUNS runs per command (+$WARMUP warmup), order rotated each round"
preflight seq "${SEQ[@]}"
SEQ_OK=("${OK_CMDS[@]}")
for ((r = 0; r < ROUNDS; r++)); do
	hyperfine_args seq "$r" "${SEQ_OK[@]}"
	echo "-- round $((r + 1))/$ROUNDS"
	hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$OUT/seq-$r.json" "${HF[@]}" |
		grep -E '^(Benchmark|  Time)' || true
done
check_leftovers sequential

say "concurrent: $CONC started at once, $CONC_RUNS runs per command (+1 warmup)"
preflight conc "${CONCS[@]}"
hyperfine_args conc 0 "${OK_CMDS[@]}"
hyperfine -N --style basic --warmup 1 --runs "$CONC_RUNS" --export-json "$OUT/conc.json" "${HF[@]}" |
	grep -E '^(Benchmark|  Time)' || true
check_leftovers concurrent

say "in-process loops: $INPROC_COUNT × create+start+wait+delete, from a small parent and from one holding $BIG_MIB MiB"
avail_mib=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
BIG=1
if [ "$avail_mib" -le $((BIG_MIB * 2)) ]; then
	BIG=
	note "only $avail_mib MiB available: the $BIG_MIB MiB parent rows are skipped"
fi
# The rows run in INPROC_ROUNDS rounds of INPROC_COUNT/INPROC_ROUNDS containers each, the order
# rotated every round, and table.py merges the rounds per row: interleaved, as the hyperfine rows
# are, so that a noisy minute does not land on one row only. The fork-style floor row runs once,
# after all rounds: right after its 200 page-table copies of 1 GiB, the next row came out slower.
PER_ROUND=$(((INPROC_COUNT + INPROC_ROUNDS - 1) / INPROC_ROUNDS))
floor_loop() { # $1: row name; $2: json file; $3: count; rest: floor options
	local name=$1 json=$2 count=$3
	shift 3
	"$WORK/floor" "$ROOTFS" -n "$count" "$@" -N "$name" -j "$OUT/$json" >/dev/null 2>&1 || note "in-process row '$name' FAILED"
}
PHASES=()
rc_loop() { # $1: row name; $2: json file; $3: bundle; rest: inproc options. Keeps the phase line.
	local name=$1 json=$2 bundle=$3 line
	shift 3
	if line=$("$INPROC" --bundle "$bundle" --root "$WORK/root-inproc" --count "$PER_ROUND" "$@" --name "$name" \
		--json "$OUT/$json" 2>&1); then
		PHASES+=("$(echo "$line" | tail -1)")
	else
		note "in-process row '$name' FAILED: $(echo "$line" | tail -3 | tr '\n' ' ')"
	fi
}
PY=${BENCH_PYTHON:-$REPO/bindings-python/.venv/bin/python}
HAVE_PY=
if [ -x "$PY" ] && "$PY" -c 'import rcontainer' 2>/dev/null; then
	HAVE_PY=1
else
	note "the Python row is skipped: no rcontainer package for $PY (bindings-python/test.sh builds one; or set BENCH_PYTHON)"
fi
inproc_row() { # $1: row index; $2: round
	local r=$2
	case $1 in
	0) floor_loop "inproc:floor" "inproc-1-$r.json" "$PER_ROUND" ;;
	1) [ -z "$BIG" ] || floor_loop "inproc:floor, $BIG_MIB MiB parent" "inproc-2-$r.json" "$PER_ROUND" -M "$BIG_MIB" ;;
	2) rc_loop "inproc:rcontainer library" "inproc-4-$r.json" "$BUNDLE" ;;
	3) [ -z "$BIG" ] || rc_loop "inproc:rcontainer library, $BIG_MIB MiB parent" "inproc-5-$r.json" "$BUNDLE" --touch-mib "$BIG_MIB" ;;
	4) [ -z "$HAVE_PY" ] || "$PY" "$BENCH_DIR/py_inproc.py" "$BUNDLE" "$WORK/root-inproc" "$PER_ROUND" "$OUT/inproc-6-$r.json" >/dev/null ||
		note "in-process row 'Python rcontainer.run' FAILED" ;;
	5) rc_loop "inproc:rcontainer library, minimal config" "inproc-7-$r.json" "$MINB" ;;
	6) [ -z "${INPROC_BASELINE:-}" ] || INPROC=$INPROC_BASELINE rc_loop "inproc:rcontainer library (baseline)" "inproc-8-$r.json" "$BUNDLE" ;;
	esac
}
for ((r = 0; r < INPROC_ROUNDS; r++)); do
	echo "-- round $((r + 1))/$INPROC_ROUNDS"
	for ((i = 0; i < 7; i++)); do
		inproc_row $(((i + r) % 7)) "$r"
		sleep 1
	done
done
for p in "${PHASES[@]}"; do echo "$p"; done
# The phase medians of each rcontainer row, from its last round.
for row in "rcontainer library:" "rcontainer library, $BIG_MIB MiB parent:" "rcontainer library, minimal config:"; do
	for ((k = ${#PHASES[@]} - 1; k >= 0; k--)); do
		if [[ ${PHASES[$k]} == "inproc inproc:$row"* ]]; then
			note "${PHASES[$k]}"
			break
		fi
	done
done
sleep 2
[ -z "$BIG" ] || floor_loop "inproc:floor with fork-style clone3, $BIG_MIB MiB parent" inproc-3.json "$INPROC_COUNT" -F -M "$BIG_MIB"
check_leftovers in-process

say "memory: peak of the container's cgroup for /bin/true, and the smallest memory limit it runs under"
MEMB=$WORK/membundle
mkdir -p "$MEMB"
mem_config() { # $1: limit in bytes
	jq --arg root "$ROOTFS" ".linux.resources.memory = {limit: $1} | .root.path = \$root" "$BUNDLE/config.json" >"$MEMB/config.json"
}
mem_runs() { # $1: runtime name; $2: limit in bytes. Succeeds when /bin/true ran and exited 0.
	local id="rcontainer-bench-mem-$1-$2"
	mem_config "$2"
	case $1 in
	rcontainer) "$RC" --root "${RT_ROOT[rcontainer]}" run --bundle "$MEMB" "$id" >/dev/null 2>&1 ;;
	crun) $CRUN --root "${RT_ROOT[crun]}" run --bundle "$MEMB" "$id" >/dev/null 2>&1 ;;
	runc) runc --root "${RT_ROOT[runc]}" run --bundle "$MEMB" "$id" >/dev/null 2>&1 ;;
	esac
}
# rcontainer's peak: keep the stopped container, read its cgroup's max usage, delete it.
mem_config 67108864
if "$RC" --root "${RT_ROOT[rcontainer]}" run --keep --bundle "$MEMB" rcontainer-bench-peak >/dev/null 2>&1; then
	peak=$("$RC" --root "${RT_ROOT[rcontainer]}" events --stats rcontainer-bench-peak | jq '.data.memory.usage.max')
	note "rcontainer: peak memory of the container's cgroup for /bin/true: $((peak / 1024)) KiB"
else
	note "rcontainer: the peak-memory run FAILED"
fi
"$RC" --root "${RT_ROOT[rcontainer]}" delete --force rcontainer-bench-peak >/dev/null 2>&1 || true
for rt in rcontainer crun runc; do
	lo=64 hi=65536 # KiB: binary search for the smallest limit under which /bin/true runs
	if ! mem_runs "$rt" $((hi * 1024)); then
		note "$rt: /bin/true did not run even under $hi KiB"
		continue
	fi
	while [ $((hi - lo)) -gt 16 ]; do
		mid=$(((lo + hi) / 2))
		if mem_runs "$rt" $((mid * 1024)); then hi=$mid; else lo=$mid; fi
	done
	note "$rt: smallest memory limit under which /bin/true runs: about $hi KiB (searched to 16 KiB)"
done
check_leftovers memory

# ---------------------------------------------------------------- 5. table
say "results (host: $(uname -r), $(nproc) CPUs; rcontainer $("$RC" --version | awk '{print $2}'), $(crun --version | head -1), $(runc --version | head -1), $(bwrap --version))"
{
	python3 "$BENCH_DIR/table.py" "$OUT"
	echo
	for n in "${NOTES[@]}"; do echo "NOTE: $n"; done
	[ "$LEAKS" = 0 ] || echo "WARNING: leftovers were found after $LEAKS phase(s), see above"
} | tee "$OUT/table.txt"

#!/usr/bin/env bash
# bench/rootless.sh — the start cost of a rootless container (issue 17), side by side in one run:
# rcontainer as an ordinary user, rcontainer as root (same command), bubblewrap --unshare-all as
# the same user, and runc --rootless and crun where they run here.
#
# Usage (as root):   bench/rootless.sh [RCONTAINER_BINARY]   (default: cli/build-static.sh's)
#
# It makes a user of its own (rcontainer-bench-rl, removed again), a temp dir with a busybox root
# and, per runtime, a bundle whose config.json is that runtime's own `spec --rootless` running
# /bin/true (runc and crun map only the caller's uid, so the user gets no /etc/subuid range here).
# hyperfine (-N, no shell) measures each command RUNS times; rows that cannot run on this host (crun on a
# hybrid cgroup layout) say why instead. Prints median and min per row
# and the ratio to rcontainer as root. Installs hyperfine, bubblewrap, runc and crun if missing.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "bench/rootless.sh: run as root (it makes the user it measures as)" >&2; exit 1; }
cd "$(dirname "$0")/.."
RUNS=${RUNS:-60}

need=()
for p in hyperfine bubblewrap runc crun busybox-static jq; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
RC_SRC=${1:-$(cli/build-static.sh)}

USERNAME=rcontainer-bench-rl
made_user=0
W=$(mktemp -d /tmp/rcontainer-bench-rootless.XXXXXX)
chmod 755 "$W"
cleanup() {
	rm -rf "$W"
	sed -i "/^$USERNAME:/d" /etc/subuid /etc/subgid 2>/dev/null || true
	[ "$made_user" = 0 ] || userdel "$USERNAME" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ! id "$USERNAME" >/dev/null 2>&1; then
	useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$USERNAME"
	made_user=1
fi
sed -i "/^$USERNAME:/d" /etc/subuid /etc/subgid 2>/dev/null || true
U=$(id -u "$USERNAME")
G=$(id -g "$USERNAME")
mkdir -p "$W/xdg" "$W/home" && chown "$U:$G" "$W/xdg" "$W/home" && chmod 700 "$W/xdg"
as_user() {
	setpriv --reuid="$U" --regid="$G" --clear-groups env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$W/home" XDG_RUNTIME_DIR="$W/xdg" "$@"
}

install -m 755 "$RC_SRC" "$W/rcontainer"
RC="$W/rcontainer"
R="$W/rootfs"
mkdir -p "$R/bin" "$R/proc" "$R/dev" "$R/sys" "$R/tmp" "$R/etc"
cp "$(command -v busybox)" "$R/bin/busybox"
for c in sh true; do ln -s busybox "$R/bin/$c"; done
chown -R "$U:$G" "$R"

# One bundle per runtime: its own rootless config, running /bin/true, without a terminal.
bundle() { # NAME SPEC-COMMAND...
	local b="$W/$1"
	mkdir -p "$b" && chown "$U:$G" "$b"
	as_user sh -c "cd $b && $2"
	jq --arg root "$R" '.process.args = ["/bin/true"] | .process.terminal = false | .root.path = $root' "$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"
	chown "$U:$G" "$b/config.json"
}
bundle rc "$RC spec --rootless"
bundle runc "runc spec --rootless"
bundle crun "crun spec --rootless"

rows=()
add() { rows+=("--command-name" "$1" "$2"); }
add "rcontainer run, root" "$RC --root $W/root-state run --rootfs $R -- /bin/true"
add "rcontainer run, rootless" "setpriv --reuid=$U --regid=$G --clear-groups env XDG_RUNTIME_DIR=$W/xdg $RC run --rootfs $R -- /bin/true"
add "bwrap --unshare-all, same user" "setpriv --reuid=$U --regid=$G --clear-groups bwrap --unshare-all --bind $R / --proc /proc --dev /dev /bin/true"
add "setpriv alone (the rows' own cost)" "setpriv --reuid=$U --regid=$G --clear-groups /bin/true"
add "rcontainer run --bundle, rootless" "setpriv --reuid=$U --regid=$G --clear-groups env XDG_RUNTIME_DIR=$W/xdg $RC run --bundle $W/rc b1"
if as_user runc --root "$W/xdg/runc" run -b "$W/runc" probe >/dev/null 2>&1; then
	add "runc --rootless run --bundle" "setpriv --reuid=$U --regid=$G --clear-groups env XDG_RUNTIME_DIR=$W/xdg runc --root $W/xdg/runc run -b $W/runc b1"
else
	echo "NOTE: runc --rootless does not run here: $(as_user runc --root "$W/xdg/runc" run -b "$W/runc" probe 2>&1 | tail -1)"
fi
if as_user crun --root "$W/xdg/crun" run -b "$W/crun" probe >/dev/null 2>&1; then
	add "crun run --bundle, rootless" "setpriv --reuid=$U --regid=$G --clear-groups env XDG_RUNTIME_DIR=$W/xdg crun --root $W/xdg/crun run -b $W/crun b1"
else
	echo "NOTE: crun rootless does not run here: $(as_user crun --root "$W/xdg/crun" run -b "$W/crun" probe 2>&1 | tail -1)"
fi
# Rootless podman with runc and with rcontainer as its runtime is checked in tests/rootless/run.sh;
# its rows are not measured here: in this script's fresh user each podman run took 15-20 s (with
# runc as much as with rcontainer; not understood yet), while ~0.25 s for an established user.

table() { # JSON...: prints the rows with the ratio to rcontainer as root (from $W/out.json)
	python3 - "$W/out.json" "$@" <<'PY'
import json, sys
base = next(r for r in json.load(open(sys.argv[1]))["results"] if r["command"] == "rcontainer run, root")["median"]
for f in sys.argv[2:]:
    for r in json.load(open(f))["results"]:
        print(f"{r['command']:40} {r['median']*1e3:8.2f}ms {r['min']*1e3:8.2f}ms {r['median']/base:9.2f}x")
PY
}
hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$W/out.json" "${rows[@]}" >/dev/null
printf '%-40s %10s %10s %10s\n' "" median min "/ root run"
table "$W/out.json"

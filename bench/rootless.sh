#!/usr/bin/env bash
# bench/rootless.sh — the start cost of a rootless container (issue 17), side by side in one run:
# rcontainer as an ordinary user, rcontainer as root (same command), bubblewrap --unshare-all as
# the same user, and runc --rootless, crun and podman rootless where they run here.
#
# Usage (as root):   bench/rootless.sh [RCONTAINER_BINARY]   (default: cli/build-static.sh's)
#
# It makes a user of its own (rcontainer-bench-rl, removed again), a temp dir with a busybox root
# and, per runtime, a bundle whose config.json is that runtime's own `spec --rootless` running
# /bin/true (runc and crun map only the caller's uid, so the user gets no /etc/subuid range here).
# hyperfine (-N, no shell) measures each command (RUNS times; podman's rows PODMAN_RUNS times, in
# a second run); rows that cannot run on this host (crun on a
# hybrid cgroup layout, podman without an image) say why instead. Prints median and min per row
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
	[ ! -f "$W/xdg/libpod/tmp/pause.pid" ] || kill -9 "$(cat "$W/xdg/libpod/tmp/pause.pid")" 2>/dev/null || true
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
podman_rows=()
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
if command -v podman >/dev/null; then
	# Rootless podman (Debian's defaults to crun, which refuses a hybrid host): with runc and with
	# rcontainer as its runtime, from the offline busybox image in the user's own storage.
	echo "$USERNAME:400000:65536" >>/etc/subuid
	echo "$USERNAME:400000:65536" >>/etc/subgid
	layout=/tmp/rcontainer-bench-rl-layout-$$
	tests/images/make-image.sh "$layout" >/dev/null 2>&1 && chmod -R a+rX "$layout"
	as_user podman pull -q "oci:$layout:latest" >/dev/null 2>&1 || echo "NOTE: podman could not load the image"
	rm -rf "$layout"
	img=$(as_user podman images -q 2>/dev/null | head -1)
	if [ -n "$img" ]; then
		P="setpriv --reuid=$U --regid=$G --clear-groups env HOME=$W/home XDG_RUNTIME_DIR=$W/xdg podman"
		podman_rows=(--command-name "podman rootless, runc" "$P --runtime runc run --rm --network none $img true"
			--command-name "podman rootless, rcontainer" "$P --runtime $RC run --rm --network none $img true")
	fi
fi

hyperfine -N --warmup 5 --runs "$RUNS" --export-json "$W/out.json" "${rows[@]}" >/dev/null
echo '{"results": []}' >"$W/podman.json"
if [ ${#podman_rows[@]} -gt 0 ]; then
	# podman's rows are ~30x slower: fewer runs (PODMAN_RUNS).
	hyperfine -N --warmup 2 --runs "${PODMAN_RUNS:-10}" --export-json "$W/podman.json" "${podman_rows[@]}" >/dev/null
fi
python3 - "$W/out.json" "$W/podman.json" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"] + json.load(open(sys.argv[2]))["results"]
base = next(r for r in res if r["command"] == "rcontainer run, root")["median"]
print(f"{'':40} {'median':>9} {'min':>9} {'/ root run':>10}")
for r in res:
    print(f"{r['command']:40} {r['median']*1e3:7.2f}ms {r['min']*1e3:7.2f}ms {r['median']/base:9.2f}x")
PY

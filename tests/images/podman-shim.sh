#!/usr/bin/env bash
# tests/images/podman-shim.sh — podman behind rcontainer's image command line, to check the
# harness: `tests/images/run.sh tests/images/podman-shim.sh` runs every check against podman (a
# check that podman fails is the harness's fault or a difference this shim cannot hide: the
# ExposedPorts note, S/containers, which podman does not make). Not part of the suite.
#
#   --store S pull [--plain-http] [--creds U:P] REF    podman pull (prints the manifest's digest)
#   --store S import OCI_DIR|ARCHIVE.tar [NAME]        podman pull oci:DIR / podman load, then tag
#   --store S images [-q] | rmi REF | prune | delete ID
#   --store S run [--keep] [--rm] [--name ID] [-e K=V] [-u U] [-w D] [--entrypoint E] [--read-only] [-it] IMAGE [CMD...]
# Each store is its own podman root (overlay, runc, cgroupfs, no network) under S.
set -euo pipefail

{ [ "${1:-}" = --store ] && [ $# -ge 3 ]; } || { echo "usage: podman-shim.sh --store S VERB ARGS..." >&2; exit 2; }
S=$2 verb=$3
shift 3
mkdir -p "$S"
printf '[containers]\ndefault_ulimits = []\n' >"$S/containers.conf"
export CONTAINERS_CONF=$S/containers.conf
P=(podman --root "$S/root" --runroot "$S/run" --tmpdir "$S/tmp" --cgroup-manager cgroupfs
	--events-backend file --storage-driver overlay)
command -v runc >/dev/null && P+=(--runtime "$(command -v runc)")

case "$verb" in
pull)
	args=()
	while [ $# -gt 1 ]; do
		case "$1" in
		--plain-http) args+=(--tls-verify=false) ;;
		--creds) args+=(--creds "$2"); shift ;;
		*) args+=("$1") ;;
		esac
		shift
	done
	"${P[@]}" pull -q "${args[@]}" "$1" >/dev/null
	echo "Digest: $("${P[@]}" image inspect --format '{{.Digest}}' "$1")"
	;;
import)
	src=$1 name=${2:-}
	if [ -d "$src" ]; then
		# podman pull oci:DIR names the image after DIR, and refuses one with capitals (mktemp's)
		exec skopeo --insecure-policy copy -q "oci:$src:latest" \
			"containers-storage:[overlay@$S/root+$S/run]localhost/${name:-imported}:latest"
	fi
	id=$("${P[@]}" load -q -i "$src" | sed -n 's/^Loaded image[^:]*: //p' | head -1)
	[ -z "$name" ] || "${P[@]}" tag "$id" "$name"
	;;
images) exec "${P[@]}" images "$@" ;;
rmi) exec "${P[@]}" rmi "$@" ;;
prune) exec "${P[@]}" image prune -f ;;
delete) exec "${P[@]}" rm "$@" ;;
run)
	args=(--network none) rm=--rm
	while [ $# -gt 0 ]; do
		case "$1" in
		--keep) rm= ;;
		--rm) ;;
		--name | -e | -u | -w | --entrypoint) args+=("$1" "$2"); shift ;;
		-*) args+=("$1") ;;
		*) break ;;
		esac
		shift
	done
	exec "${P[@]}" run ${rm:+"$rm"} "${args[@]}" "$@"
	;;
*) echo "podman-shim.sh: no verb $verb" >&2; exit 2 ;;
esac

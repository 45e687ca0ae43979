#!/usr/bin/env bash
# tests/images/push.sh — copies an image of an OCI layout (make-image.sh's) with skopeo (installed
# when missing) to a plain-http registry on this machine, or to a `docker save` archive.
#
# Usage:
#   tests/images/push.sh OCI_DIR HOST:PORT/NAME:TAG [REF]
#       skopeo copy oci:OCI_DIR:REF docker://HOST:PORT/NAME:TAG (REF: the layout's ref name,
#       "latest" by default; an image index such as make-image.sh's "multi" is copied with
#       --all, every platform's image). Credentials for a registry with auth: PUSH_CREDS=USER:PASSWORD.
#       Blobs and manifests are copied as they are (no recompression), so the registry serves the
#       layout's digests.
#   tests/images/push.sh --archive OCI_DIR FILE.tar NAME:TAG [REF]
#       skopeo copy oci:OCI_DIR:REF docker-archive:FILE.tar:NAME:TAG: what `docker save` writes
#       (manifest.json, the config, layers as uncompressed tars; a new file each time; an image with
#       a zstd layer goes through a gzip copy first, which docker-archive needs).
set -euo pipefail

usage() {
	echo "usage: tests/images/push.sh OCI_DIR HOST:PORT/NAME:TAG [REF] | --archive OCI_DIR FILE.tar NAME:TAG [REF]" >&2
	exit 2
}
command -v skopeo >/dev/null || {
	apt-get update -qq >/dev/null 2>&1 || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends skopeo >/dev/null 2>&1
} || { echo "push.sh: skopeo is not installed and could not be" >&2; exit 1; }

# Images are ours and unsigned: no policy file of the machine's applies (--insecure-policy);
# no registries.conf of the machine's either (a fully qualified 127.0.0.1:PORT reference).
SKOPEO=(skopeo --insecure-policy)

if [ "${1:-}" = --archive ]; then
	[ $# -ge 4 ] || usage
	oci=$2 file=$3 name=$4 ref=${5:-latest}
	rm -f "$file"
	# docker-archive takes no zstd layer: through a gzip copy of the image first, when it has one.
	if grep -q 'tar+zstd' "$oci"/blobs/sha256/* 2>/dev/null; then
		tmp=$(mktemp -d /tmp/rcontainer-push.XXXXXX)
		trap 'rm -rf "$tmp"' EXIT
		"${SKOPEO[@]}" copy -q --dest-compress-format gzip "oci:$oci:$ref" "oci:$tmp/gz:$ref"
		oci=$tmp/gz
	fi
	"${SKOPEO[@]}" copy -q "oci:$oci:$ref" "docker-archive:$file:$name"
	exit 0
fi

[ $# -ge 2 ] || usage
oci=$1 dest=$2 ref=${3:-latest}
args=(copy -q --dest-tls-verify=false --preserve-digests)
# An image index: all of it (skopeo otherwise copies this platform's image alone).
if python3 - "$oci" "$ref" <<'EOF'; then args+=(--all); fi
import json, sys
idx = json.load(open(sys.argv[1] + "/index.json"))
m = [m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]]
sys.exit(0 if m and m[0]["mediaType"].endswith("image.index.v1+json") else 1)
EOF
[ -z "${PUSH_CREDS:-}" ] || args+=(--dest-creds "$PUSH_CREDS")
exec "${SKOPEO[@]}" "${args[@]}" "oci:$oci:$ref" "docker://$dest"

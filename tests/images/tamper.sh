#!/usr/bin/env bash
# tests/images/tamper.sh — the "wrong digest" attack: overwrites, in a registry's filesystem
# storage, the bytes of a blob it already holds, so that the registry serves under DIGEST content
# whose sha256 is something else. The length stays the same (the registry's Content-Length and the
# manifest's size still match: only a client that hashes what it received notices).
#
# Usage: tests/images/tamper.sh REGISTRY_DIR DIGEST [--header | --garbage]
#   REGISTRY_DIR  registry.sh's DIR (or the storage root itself)
#   DIGEST        sha256:HEX (or HEX) of a blob pushed there
#   --header      (default for a gzip blob) changes the gzip header's MTIME field: the blob is
#                 still a valid gzip stream of exactly the same tar; nothing but the digest check
#                 can refuse it, and a client that unpacks while it downloads has unpacked the
#                 whole layer by then (so "nothing half-written stays" is tested too)
#   --garbage     (the default for other blobs) overwrites 64 bytes in the middle: the stream is
#                 corrupt as well (a decompressor may notice first)
# Prints the blob's path and its new sha256. The registry needs no restart (it reads blobs from
# disk per request and caches only their descriptors: digest and size).
set -euo pipefail

usage() { echo "usage: tests/images/tamper.sh REGISTRY_DIR DIGEST [--header | --garbage]" >&2; exit 2; }
[ $# -ge 2 ] || usage
dir=$1 hex=${2#sha256:} mode=${3:-}
case "$hex" in *[!0-9a-f]* | "") usage ;; esac
[ ${#hex} = 64 ] || usage
root=$dir
[ -d "$dir/storage/docker" ] && root=$dir/storage
data=$root/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data
[ -f "$data" ] || { echo "tamper.sh: no blob $hex in $root" >&2; exit 1; }
size=$(stat -c %s "$data")
[ "$size" -ge 128 ] || { echo "tamper.sh: blob $hex is too small ($size bytes) to tamper with in place" >&2; exit 1; }

magic=$(od -An -tx1 -N2 "$data" | tr -d ' \n')
if [ -z "$mode" ]; then
	[ "$magic" = 1f8b ] && mode=--header || mode=--garbage
fi
case "$mode" in
--header)
	[ "$magic" = 1f8b ] || { echo "tamper.sh: --header needs a gzip blob" >&2; exit 1; }
	# gzip header: ID1 ID2 CM FLG MTIME(4 bytes, little-endian) XFL OS. A new MTIME.
	printf '\x5a\x5a\x5a\x5a' | dd of="$data" bs=1 seek=4 conv=notrunc status=none
	;;
--garbage)
	printf 'TAMPERED-BY-tests/images/tamper.sh-TAMPERED-BY-tests/images/tamp' |
		dd of="$data" bs=1 seek=$((size / 2)) conv=notrunc status=none
	;;
*) usage ;;
esac

new=$(sha256sum "$data" | cut -d' ' -f1)
[ "$new" != "$hex" ] || { echo "tamper.sh: the blob's digest did not change" >&2; exit 1; }
[ "$(stat -c %s "$data")" = "$size" ] || { echo "tamper.sh: the blob's length changed" >&2; exit 1; }
echo "$data sha256:$new"

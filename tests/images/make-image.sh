#!/usr/bin/env bash
# tests/images/make-image.sh — builds, offline and byte for byte the same on every run, an OCI
# image layout directory (oci-layout, index.json, blobs/sha256/...) holding a busybox image made
# from Debian's busybox-static.
#
# Usage: tests/images/make-image.sh OUTDIR [--extra] [--no-check]
#
# OUTDIR must not exist or be empty. Its index.json names each image by the annotation
# org.opencontainers.image.ref.name (what skopeo's oci:OUTDIR:NAME and umoci's OUTDIR:NAME use):
#   latest          busybox. One gzip layer ("layer 1"): /bin/busybox and a symlink to it for every
#                   applet (busybox --list-full), /etc/passwd (root, nobody, app uid 1000),
#                   /etc/group, /tmp (1777), /root (700), /bin/su-test (a small script, mode 4755,
#                   to check that setuid bits survive), empty /proc /sys /dev /home.
#                   Config: Cmd ["sh"], Env PATH=..., WorkingDir "/", this machine's architecture.
# With --extra, also:
#   busybox-extra   layer 1 (the same blob: shared) + layer 2 (zstd when the zstd command is there,
#                   else gzip): /extra/hello.txt and a whiteout /etc/.wh.group deleting /etc/group.
#                   Config: Entrypoint ["/bin/sh","-c"], Cmd ["echo from-extra; cat /extra/hello.txt"],
#                   Env PATH=..., FOO=bar, WorkingDir /extra, User app, StopSignal SIGINT,
#                   ExposedPorts {"80/tcp":{}}.
#   multi           an image index (a "manifest list") of two images for two platforms, the other
#                   platform's first: each is layer 1 + a small layer with /platform.txt naming the
#                   platform, Cmd ["cat","/platform.txt"]. A client that resolves the list to this
#                   platform prints this machine's "linux/ARCH"; one that takes the first entry prints
#                   the other's. (Push it with skopeo copy --all, as push.sh does for it.)
#
# Prints the digests it made, one "NAME sha256:..." a line (the manifest's, or the index's for
# multi), then "layer1 sha256:..." and, with --extra, "layer2 sha256:..." (compressed blobs), then
# "platform linux/ARCH[/VARIANT]" (this machine's, what multi's Cmd prints).
# Then (unless --no-check) checks the layout with umoci (installed when missing; the check is skipped if it cannot be)
# or else skopeo: each image is unpacked by umoci, which must find busybox and, for busybox-extra,
# apply the whiteout.
#
# Deterministic: tar --sort=name with mtime 0, uid/gid 0, no atime/ctime, pax headers without
# the pid; gzip -n; zstd single-threaded; JSON with sorted keys; a fixed "created" date. Two
# runs give the same digests (tests/images/run.sh checks it).
set -euo pipefail

usage() { echo "usage: tests/images/make-image.sh OUTDIR [--extra] [--no-check]" >&2; exit 2; }
[ $# -ge 1 ] || usage
OUT=$1
EXTRA=0 CHECK=1
shift
for a in "$@"; do
	case "$a" in
	--extra) EXTRA=1 ;;
	--no-check) CHECK=0 ;;
	*) usage ;;
	esac
done

export LC_ALL=C TZ=UTC
umask 022

apt_install() {
	apt-get update -qq >/dev/null 2>&1 || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

installed busybox-static || apt_install busybox-static || {
	echo "make-image.sh: busybox-static is not installed and could not be" >&2
	exit 1
}
BUSYBOX=$(dpkg-query -L busybox-static | grep -m1 '/bin/busybox$')
command -v python3 >/dev/null || { echo "make-image.sh: python3 is needed" >&2; exit 1; }
if [ "$EXTRA" = 1 ] && ! command -v zstd >/dev/null; then
	apt_install zstd || echo "make-image.sh: no zstd: layer 2 is gzip" >&2
fi

if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT")" ]; then
	echo "make-image.sh: $OUT exists and is not empty" >&2
	exit 1
fi
mkdir -p "$OUT/blobs/sha256"
OUT=$(cd "$OUT" && pwd)

W=$(mktemp -d /tmp/rcontainer-make-image.XXXXXX)
trap 'rm -rf "$W"' EXIT

# This machine's platform, in OCI's words.
case "$(dpkg --print-architecture 2>/dev/null || uname -m)" in
amd64 | x86_64) ARCH=amd64 VARIANT= ;;
arm64 | aarch64) ARCH=arm64 VARIANT=v8 ;;
armhf) ARCH=arm VARIANT=v7 ;;
armel) ARCH=arm VARIANT=v5 ;;
i386 | i686) ARCH=386 VARIANT= ;;
ppc64el | ppc64le) ARCH=ppc64le VARIANT= ;;
s390x) ARCH=s390x VARIANT= ;;
riscv64) ARCH=riscv64 VARIANT= ;;
mips64el) ARCH=mips64le VARIANT= ;;
*) ARCH=$(dpkg --print-architecture) VARIANT= ;;
esac
# The "other" platform of the multi image, whichever this one is not.
if [ "$ARCH" = arm64 ]; then OTHER_ARCH=amd64 OTHER_VARIANT=; else OTHER_ARCH=arm64 OTHER_VARIANT=v8; fi

# mktar DIR OUT.tar: a reproducible tar of DIR's contents (entries "bin", "bin/sh", ..., no "./").
mktar() {
	local dir=$1 out=$2
	(
		cd "$dir"
		find . -mindepth 1 -printf '%P\0' | sort -z |
			tar --null --no-recursion -T - -cf "$out" \
				--mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
				--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime
	)
}

# put FILE: moves FILE into the blobs; sets DIGEST (sha256:HEX) and SIZE.
put() {
	local hex
	hex=$(sha256sum "$1" | cut -d' ' -f1)
	SIZE=$(stat -c %s "$1")
	DIGEST=sha256:$hex
	mv -f "$1" "$OUT/blobs/sha256/$hex"
	chmod 644 "$OUT/blobs/sha256/$hex"
}
# layer DIR gzip|zstd: makes a layer blob of DIR; sets DIGEST, SIZE, DIFF_ID, MEDIA.
layer() {
	local dir=$1 comp=$2
	mktar "$dir" "$W/layer.tar"
	DIFF_ID=sha256:$(sha256sum "$W/layer.tar" | cut -d' ' -f1)
	if [ "$comp" = zstd ]; then
		zstd -q -T1 -19 --no-progress -c "$W/layer.tar" >"$W/layer.tar.c"
		MEDIA=application/vnd.oci.image.layer.v1.tar+zstd
	else
		gzip -n -9 -c "$W/layer.tar" >"$W/layer.tar.c"
		MEDIA=application/vnd.oci.image.layer.v1.tar+gzip
	fi
	rm -f "$W/layer.tar"
	put "$W/layer.tar.c"
}
# json FILE PYTHON-EXPRESSION: writes the expression's value as canonical JSON (sorted keys, no
# spaces); the expression reads the environment as E.
json() {
	python3 -c '
import json, os, sys
E = os.environ
v = eval(sys.argv[2])
with open(sys.argv[1], "w") as f:
    f.write(json.dumps(v, sort_keys=True, separators=(",", ":")))
' "$1" "$2"
}

PATHV=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CREATED=2024-01-01T00:00:00Z
export ARCH VARIANT OTHER_ARCH OTHER_VARIANT PATHV CREATED

# ------------------------------------------------------------------ layer 1
R=$W/root1
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,home/app}
cp "$BUSYBOX" "$R/bin/busybox"
chmod 755 "$R/bin/busybox"
"$BUSYBOX" --list-full | while read -r p; do
	[ "$p" = bin/busybox ] && continue
	mkdir -p "$R/$(dirname "$p")"
	[ -e "$R/$p" ] || [ -L "$R/$p" ] || ln -s /bin/busybox "$R/$p"
done
cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$R/etc/group" <<'EOF'
root:x:0:
app:x:1000:
nogroup:x:65534:
EOF
printf '#!/bin/sh\n# a setuid file, to check that the bit survives pull, unpack and the overlay\nid\n' >"$R/bin/su-test"
chmod 644 "$R/etc/passwd" "$R/etc/group"
find "$R" -type d -exec chmod 755 {} +
chmod 1777 "$R/tmp"
chmod 700 "$R/root"
chmod 4755 "$R/bin/su-test"
layer "$R" gzip
L1_DIGEST=$DIGEST L1_SIZE=$SIZE L1_DIFF=$DIFF_ID L1_MEDIA=$MEDIA
export L1_DIGEST L1_SIZE L1_DIFF L1_MEDIA

# image NAME-OF-CONFIG-EXPR LAYERS-EXPR: writes the config and the manifest; sets MDIGEST, MSIZE.
# CONFIG-EXPR is the "config" object; LAYERS is a Python list of (digest, size, media, diff_id).
image() {
	local cfg=$1 layers=$2 arch=${3:-$ARCH} variant=${4:-$VARIANT}
	export CFG_EXPR=$cfg LAYERS_EXPR=$layers IARCH=$arch IVARIANT=$variant
	json "$W/config.json" '(lambda L: dict(
	    created=E["CREATED"], architecture=E["IARCH"], os="linux",
	    **({"variant": E["IVARIANT"]} if E["IVARIANT"] else {}),
	    config=eval(E["CFG_EXPR"]),
	    rootfs={"type": "layers", "diff_ids": [l[3] for l in L]},
	    history=[{"created": E["CREATED"], "created_by": "tests/images/make-image.sh layer %d" % (i + 1)} for i in range(len(L))],
	))(eval(E["LAYERS_EXPR"]))'
	put "$W/config.json"
	export CDIGEST=$DIGEST CSIZE=$SIZE
	json "$W/manifest.json" '(lambda L: dict(
	    schemaVersion=2, mediaType="application/vnd.oci.image.manifest.v1+json",
	    config={"mediaType": "application/vnd.oci.image.config.v1+json", "digest": E["CDIGEST"], "size": int(E["CSIZE"])},
	    layers=[{"mediaType": l[2], "digest": l[0], "size": int(l[1])} for l in L],
	))(eval(E["LAYERS_EXPR"]))'
	put "$W/manifest.json"
	MDIGEST=$DIGEST MSIZE=$SIZE
}
L1='(E["L1_DIGEST"], E["L1_SIZE"], E["L1_MEDIA"], E["L1_DIFF"])'

image '{"Cmd": ["sh"], "Env": ["PATH=" + E["PATHV"]], "WorkingDir": "/"}' "[$L1]"
export BB_DIGEST=$MDIGEST BB_SIZE=$MSIZE
# shellcheck disable=SC2089 # Python source, read by json(), never split by the shell
ENTRIES='[dict(mediaType="application/vnd.oci.image.manifest.v1+json", digest=E["BB_DIGEST"], size=int(E["BB_SIZE"]),
    platform=dict(architecture=E["ARCH"], os="linux", **({"variant": E["VARIANT"]} if E["VARIANT"] else {})),
    annotations={"org.opencontainers.image.ref.name": "latest"})]'
echo "latest $BB_DIGEST"

if [ "$EXTRA" = 1 ]; then
	# -------------------------------------------------------------- layer 2
	R2=$W/root2
	mkdir -p "$R2/extra" "$R2/etc"
	echo "hello from layer 2" >"$R2/extra/hello.txt"
	: >"$R2/etc/.wh.group"
	chmod 755 "$R2/extra" "$R2/etc"
	chmod 644 "$R2/extra/hello.txt" "$R2/etc/.wh.group"
	if command -v zstd >/dev/null; then layer "$R2" zstd; else layer "$R2" gzip; fi
	export L2_DIGEST=$DIGEST L2_SIZE=$SIZE L2_DIFF=$DIFF_ID L2_MEDIA=$MEDIA
	image '{"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo from-extra; cat /extra/hello.txt"],
	    "Env": ["PATH=" + E["PATHV"], "FOO=bar"], "WorkingDir": "/extra", "User": "app",
	    "StopSignal": "SIGINT", "ExposedPorts": {"80/tcp": {}}}' \
		"[$L1, (E['L2_DIGEST'], E['L2_SIZE'], E['L2_MEDIA'], E['L2_DIFF'])]"
	export EX_DIGEST=$MDIGEST EX_SIZE=$MSIZE
	echo "busybox-extra $EX_DIGEST"

	# -------------------------------------------------------------- multi: an index of two platforms
	# platform_image ARCH VARIANT: layer 1 + /platform.txt; sets MDIGEST, MSIZE.
	platform_image() {
		local RP=$W/root-$1
		mkdir -p "$RP"
		echo "linux/$1${2:+/$2}" >"$RP/platform.txt"
		chmod 644 "$RP/platform.txt"
		layer "$RP" gzip
		export LP_DIGEST=$DIGEST LP_SIZE=$SIZE LP_DIFF=$DIFF_ID LP_MEDIA=$MEDIA
		image '{"Cmd": ["cat", "/platform.txt"], "Env": ["PATH=" + E["PATHV"]], "WorkingDir": "/"}' \
			"[$L1, (E['LP_DIGEST'], E['LP_SIZE'], E['LP_MEDIA'], E['LP_DIFF'])]" "$1" "$2"
	}
	platform_image "$OTHER_ARCH" "$OTHER_VARIANT"
	export MO_DIGEST=$MDIGEST MO_SIZE=$MSIZE
	platform_image "$ARCH" "$VARIANT"
	export MN_DIGEST=$MDIGEST MN_SIZE=$MSIZE MN_LAYER=$LP_DIGEST
	json "$W/index.json" 'dict(schemaVersion=2, mediaType="application/vnd.oci.image.index.v1+json", manifests=[
	    dict(mediaType="application/vnd.oci.image.manifest.v1+json", digest=E[p + "_DIGEST"], size=int(E[p + "_SIZE"]),
	         platform=dict(architecture=a, os="linux", **({"variant": v} if v else {})))
	    for p, a, v in (("MO", E["OTHER_ARCH"], E["OTHER_VARIANT"]), ("MN", E["ARCH"], E["VARIANT"]))])'
	put "$W/index.json"
	export MI_DIGEST=$DIGEST MI_SIZE=$SIZE
	echo "multi $MI_DIGEST"

	ENTRIES="$ENTRIES + [
	    dict(mediaType='application/vnd.oci.image.manifest.v1+json', digest=E['EX_DIGEST'], size=int(E['EX_SIZE']),
	         platform=dict(architecture=E['ARCH'], os='linux', **({'variant': E['VARIANT']} if E['VARIANT'] else {})),
	         annotations={'org.opencontainers.image.ref.name': 'busybox-extra'}),
	    dict(mediaType='application/vnd.oci.image.index.v1+json', digest=E['MI_DIGEST'], size=int(E['MI_SIZE']),
	         annotations={'org.opencontainers.image.ref.name': 'multi'})]"
fi

echo "layer1 $L1_DIGEST"
[ "$EXTRA" = 0 ] || echo "layer2 $L2_DIGEST"
echo "platform linux/$ARCH${VARIANT:+/$VARIANT}"

# shellcheck disable=SC2090
export ENTRIES
json "$OUT/index.json" 'dict(schemaVersion=2, mediaType="application/vnd.oci.image.index.v1+json", manifests=eval(E["ENTRIES"]))'
printf '{"imageLayoutVersion":"1.0.0"}' >"$OUT/oci-layout"
chmod 644 "$OUT/index.json" "$OUT/oci-layout"

# ------------------------------------------------------------------ cross-check
[ "$CHECK" = 1 ] || exit 0
# umoci unpacks each image (umoci 0.4 reads no zstd: busybox-extra goes through skopeo's gzip
# copy first); skopeo inspects each, and must resolve multi to this platform's image.
fail() { echo "make-image.sh: cross-check: $*" >&2; exit 1; }
command -v umoci >/dev/null || apt_install umoci || true
command -v skopeo >/dev/null || apt_install skopeo || true
refs=(latest)
[ "$EXTRA" = 0 ] || refs+=(busybox-extra)
checked=()
if command -v umoci >/dev/null; then
	for ref in "${refs[@]}"; do
		umoci stat --image "$OUT:$ref" >/dev/null || fail "umoci stat $ref failed"
		src=$OUT:$ref
		if [ "$ref" = busybox-extra ] && [ "$L2_MEDIA" != "$L1_MEDIA" ]; then
			command -v skopeo >/dev/null || { checked+=("umoci stat $ref"); continue; }
			skopeo --insecure-policy copy -q --dest-compress-format gzip "oci:$OUT:$ref" "oci:$W/gz:$ref" >/dev/null ||
				fail "skopeo could not copy $ref (zstd) to gzip"
			src=$W/gz:$ref
		fi
		b=$W/bundle-$ref
		umoci unpack --image "$src" "$b" >/dev/null || fail "umoci unpack $ref failed"
		{ [ -x "$b/rootfs/bin/busybox" ] && [ -L "$b/rootfs/bin/sh" ]; } || fail "$ref: no busybox in umoci's unpack"
		[ "$(stat -c %a "$b/rootfs/bin/su-test")" = 4755 ] || fail "$ref: setuid bit lost in umoci's unpack"
		if [ "$ref" = busybox-extra ]; then
			{ [ ! -e "$b/rootfs/etc/group" ] && [ -e "$b/rootfs/etc/passwd" ] && [ -f "$b/rootfs/extra/hello.txt" ]; } ||
				fail "busybox-extra: umoci's unpack does not show layer 2 or its whiteout"
		else
			[ -e "$b/rootfs/etc/group" ] || fail "$ref: no /etc/group in umoci's unpack"
		fi
		rm -rf "$b"
		checked+=("umoci unpack $ref")
	done
fi
if command -v skopeo >/dev/null; then
	for ref in "${refs[@]}"; do
		skopeo inspect "oci:$OUT:$ref" >/dev/null || fail "skopeo inspect $ref failed"
	done
	if [ "$EXTRA" = 1 ]; then
		got=$(skopeo inspect --format '{{.Architecture}} {{.Layers}}' "oci:$OUT:multi") || fail "skopeo inspect multi failed"
		[ "$got" = "$ARCH [$L1_DIGEST $MN_LAYER]" ] || fail "skopeo resolves multi to \"$got\", not \"$ARCH [$L1_DIGEST $MN_LAYER]\""
		refs+=(multi)
	fi
	checked+=("skopeo inspect ${refs[*]}")
fi
if [ ${#checked[@]} -eq 0 ]; then
	echo "make-image.sh: neither umoci nor skopeo: the layout is not cross-checked" >&2
else
	echo "make-image.sh: valid ($(IFS=,; echo "${checked[*]}"))" >&2
fi

#!/usr/bin/env bash
# tests/images/run.sh — container images end to end, offline: a busybox image built here from
# Debian's busybox-static (make-image.sh), served by Debian's docker-registry on 127.0.0.1
# (registry.sh, started and stopped by this script), pushed with skopeo (push.sh), then pulled,
# imported, listed, run, removed and garbage-collected by the command.
#
# Usage (as root): tests/images/run.sh RCONTAINER_BINARY
#
# Checks, each command under `timeout`, every store a temp dir (--store), every command run from
# an empty directory (no config.json a runc-style `run ID` could pick up):
#   the harness: make-image.sh is reproducible (two runs, the same bytes) and valid (umoci/skopeo);
#     the registries answer; skopeo (the reference client) refuses the tampered blob;
#   pull: --plain-http from the registry prints the manifest's digest; an image index (manifest
#     list) whose first entry is another platform's resolves to this platform's image; basic auth
#     and token auth (a token server of our own) refuse anonymous pulls and accept credentials;
#     a nonexistent repository fails and names it;
#   import: an OCI layout directory and `docker save` archives (one with a whiteout);
#   images (the table's columns, -q), run: PID 1, the image's Cmd, Entrypoint+Cmd, Env,
#     WorkingDir, User (a name from the image's /etc/passwd), -e / --entrypoint / -u / -w
#     overriding as docker does, the whiteout, copy-on-write (nothing a container writes, changes
#     or deletes is seen by the next), --read-only, setuid bits and /tmp's mode kept, the exit
#     status, -it on a pty, --keep then delete (the container's dirs and mounts gone), a
#     nonexistent image;
#   the store: a layer shared by two images is unpacked once (pulled, and imported from a layout
#     and an archive); rmi of one + prune keeps it; rmi of both + prune leaves no layer;
#     concurrent pulls of one image (listed once) and of two images sharing a layer, concurrent
#     runs; a tampered blob (the registry serves bytes whose sha256 is not the digest: a valid gzip
#     with another header, then garbage) fails the pull, says "digest", and leaves no layer.
# Then timings (never a failure): pull, `run IMAGE true` (median of 5), podman's side by side
# when it is installed, and the store's size for two images sharing a layer.
# Stops what it started (by pid), unmounts and removes its temp dir, on failure too.
# Prints "ok"/"not ok" lines (with RCONTAINER_IMAGES_VERBOSE=1, each passing command's output
# too; a failing one's always) and "N passed, M failed"; exits non-zero if anything failed.
# RCONTAINER_IMAGES_TIMEOUT: the bound of each command, in seconds (60).
# shellcheck disable=SC2016 # the $ in the containers' shell commands is theirs to expand
set -euo pipefail

RC_BIN=$(realpath "${1:?usage: tests/images/run.sh RCONTAINER_BINARY}")
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "tests/images/run.sh: run as root" >&2; exit 1; }
# The helpers install what they use (busybox-static, zstd, umoci, skopeo, docker-registry,
# apache2-utils); this script itself needs these.
missing=()
for pair in python3:python3 curl:curl openssl:openssl; do
	command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "# installing ${missing[*]}"
	apt-get update -qq >/dev/null 2>&1 || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		{ echo "tests/images/run.sh: could not install ${missing[*]}" >&2; exit 1; }
fi

T=$(mktemp -d /tmp/rcontainer-images.XXXXXX)
REGS=() # registry dirs to stop
BG=()   # pids of background commands (timeout's), BGF their output files
BGF=()
CHILD=  # the check running now (timeout's pid)
NAMES=() # containers kept by --keep: store:id
PODMAN_ARGS=()

cleanup() {
	set +e
	for p in ${CHILD:-} "${BG[@]}"; do kill "$p" 2>/dev/null; done
	for p in ${CHILD:-} "${BG[@]}"; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	for n in "${NAMES[@]}"; do
		timeout 30 "$RC_BIN" --store "${n%%:*}" delete --force "${n#*:}" >/dev/null 2>&1
	done
	[ ${#PODMAN_ARGS[@]} -eq 0 ] || timeout 60 podman "${PODMAN_ARGS[@]}" rm -af >/dev/null 2>&1
	for r in "${REGS[@]}"; do "$HERE/registry.sh" stop "$r"; done
	# What an interrupted podman (the timings, or podman-shim.sh) left: its conmon and runc's state
	# of a container whose bundle is under $T. Processes named by pid: those whose command line
	# names $T, a directory of this run's own.
	for f in /proc/[0-9]*/cmdline; do
		p=${f#/proc/}
		p=${p%/cmdline}
		[ "$p" != $$ ] && tr '\0' ' ' 2>/dev/null <"$f" | grep -qF "$T/" && kill "$p" 2>/dev/null
	done
	if command -v runc >/dev/null; then
		grep -lF "$T/" /run/runc/*/state.json 2>/dev/null | while read -r f; do
			runc delete --force "$(basename "$(dirname "$f")")" >/dev/null 2>&1
		done
	fi
	# Mounts under $T (container roots, podman's overlays): deepest first.
	awk -v t="$T" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TMO=${RCONTAINER_IMAGES_TIMEOUT:-60}

. "$HERE/../lib.sh"
# check DESC WANT PATTERNS CMD...: runs CMD (bounded); passes when it exits with WANT ("nonzero"
# for any failure, "any" for any status) and its output (stdout and stderr) matches PATTERNS.
check() {
	local desc=$1 want=$2 pats=$3 out status=0
	shift 3
	# In the background and waited for: a TERM or INT to this script ends the wait at once, and
	# the trap stops the command (timeout passes the signal on to it).
	timeout -k 5 "$TMO" "$@" >"$T/check.out" 2>&1 </dev/null &
	CHILD=$!
	wait "$CHILD" || status=$?
	CHILD=
	out=$(cat "$T/check.out")
	LAST_OUT=$out LAST_USAGE=0
	# A command-line error of the command (clap's: an unknown flag or verb) is never the failure
	# a check wants: the verb was not tried.
	if printf '%s\n' "$out" | grep -Eq "$USAGE_ERROR"; then
		LAST_USAGE=1
		bad "$desc (not run: a command-line error or no such program, status $status)" "$out"
		return 0
	fi
	# Nor is a hang (timeout's 124, or 137 after its KILL).
	if [ "$status" = 124 ] || [ "$status" = 137 ]; then
		LAST_USAGE=1
		bad "$desc (timed out after ${TMO}s)" "$out"
		return 0
	fi
	if [ "$want" = any ] || { [ "$want" = nonzero ] && [ "$status" != 0 ]; } || [ "$status" = "$want" ]; then
		if matches "$out" "$pats"; then
			ok "$desc"
			[ -z "${RCONTAINER_IMAGES_VERBOSE:-}" ] || printf '%s\n' "$out" | head -c 2000 | sed 's/^/#   | /'
			return 0
		fi
	fi
	bad "$desc (status $status, wanted $want and: $(printf '%s' "$pats" | tr '\n' ' '))" "$out"
	return 0
}
USAGE_ERROR="^error: (unexpected argument|unrecognized subcommand|invalid value|unexpected value|the following required arguments)|^Usage: rcontainer|^timeout: failed to run command|^PermissionError: |^FileNotFoundError: "
LAST_USAGE=0
# after DESC DETAIL CMD...: an assert about what the check before it left (no half-written layer,
# no container dir): a failure too when that check's command did not even run.
after() {
	local desc=$1 detail=$2
	shift 2
	if [ "$LAST_USAGE" = 1 ]; then bad "$desc (the command before it did not run)"; else assert "$desc" "$detail" "$@"; fi
}
# matches OUTPUT PATTERNS: each line of PATTERNS is an extended regex that some line of OUTPUT
# must match; "!RE": no line may match; "~RE": case-insensitive.
matches() {
	local out=$1 p
	while IFS= read -r p; do
		[ -n "$p" ] || continue
		case "$p" in
		!*) if printf '%s\n' "$out" | grep -Eq -- "${p#!}"; then return 1; fi ;;
		~*) printf '%s\n' "$out" | grep -Eiq -- "${p#\~}" || return 1 ;;
		*) printf '%s\n' "$out" | grep -Eq -- "$p" || return 1 ;;
		esac
	done <<<"$2"
	return 0
}
# assert DESC DETAIL CMD...: passes when CMD (a test, run here, unbounded: keep it local) succeeds.
assert() {
	local desc=$1 detail=$2
	shift 2
	if "$@"; then ok "$desc"; else bad "$desc" "$detail"; fi
}
# bail MESSAGE: the harness itself failed; nothing after can run.
bail() {
	bad "$1" "${2:-}"
	echo "$pass passed, $fail failed"
	exit 1
}

# The store's view: distinct unpacked copies of busybox (a layer 1 file of ~2 MB; copies
# hard-linked together count once), files bigger than 64 KiB (a blob or a part of one; a
# database's *.db or *.sqlite* aside), mounts under a directory.
busyboxes() { find "$1" -type f -name busybox -size +1000k -printf '%D:%i\n' 2>/dev/null | sort -u | wc -l; }
big_files() { find "$1" -type f -size +64k ! -name '*.db' ! -name '*.sqlite*' 2>/dev/null | head -5; }
mounts_under() { awk -v t="$1" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo; }
containers_left() { find "$1/containers" -mindepth 1 -maxdepth 1 2>/dev/null | head -5; }
is_empty() { [ -z "$1" ]; }
eq() { [ "$1" = "$2" ]; }

# store DIR: the command on that store. Every call is from an empty directory.
mkdir -p "$T/cwd"
cd "$T/cwd"
store() { S=$T/$1; mkdir -p "$S"; RC=("$RC_BIN" --store "$S"); }

# ------------------------------------------------------------------ the harness: images, registries
echo "# --- the images and the registries"
t0=$SECONDS
out=$("$HERE/make-image.sh" "$T/oci" --extra 2>&1) || bail "make-image.sh --extra" "$out"
ok "make-image.sh --extra: $(printf '%s\n' "$out" | grep 'make-image.sh: ' | tail -1)"
digest() { printf '%s\n' "$out" | awk -v k="$1" '$1 == k { print $2 }'; }
BB_DIGEST=$(digest latest) EX_DIGEST=$(digest busybox-extra) MULTI_DIGEST=$(digest multi)
L1=$(digest layer1) L2=$(digest layer2) PLATFORM=$(digest platform)
out1=$("$HERE/make-image.sh" "$T/oci1" --no-check 2>&1) || bail "make-image.sh" "$out1"
out2=$("$HERE/make-image.sh" "$T/oci2" --extra --no-check 2>&1) || bail "make-image.sh --extra (again)" "$out2"
assert "make-image.sh is reproducible: a second run writes the same bytes" "$(diff -r "$T/oci" "$T/oci2" 2>&1)" \
	diff -r "$T/oci" "$T/oci2"
assert "make-image.sh without --extra: the same busybox image and layer" "$out1" \
	eq "$(printf '%s\n' "$out1" | grep -E '^(latest|layer1) ' | tr '\n' ' ')" "latest $BB_DIGEST layer1 $L1 "
rm -rf "$T/oci2"
echo "# make-image.sh: $((SECONDS - t0))s for three layouts"

t0=$SECONDS
startreg() { # startreg NAME [--basic|--token USER:PASSWORD]: sets ADDR
	local d=$T/reg-$1
	shift
	REGS+=("$d")
	ADDR=$("$HERE/registry.sh" start "$d" "$@" 2>&1) || bail "registry.sh start $d $*" "$ADDR"
}
startreg main
REG=$ADDR
t_reg=$((SECONDS - t0))
check "the registry answers /v2/" 0 "" curl -sf "http://$REG/v2/"
t0=$SECONDS
for p in busybox:latest busybox-extra:busybox-extra multi:multi; do
	out=$("$HERE/push.sh" "$T/oci" "$REG/${p%%:*}:latest" "${p#*:}" 2>&1) || bail "push.sh ${p%%:*}" "$out"
done
t_push=$((SECONDS - t0))
check "the registry serves busybox:latest under make-image.sh's digest" 0 "$BB_DIGEST" \
	curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/busybox/manifests/latest"
check "the registry serves multi (an image index) under make-image.sh's digest" 0 "$MULTI_DIGEST" \
	curl -sfI -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/multi/manifests/latest"
check "the registry serves layer 2 (zstd)" 0 "" curl -sfI "http://$REG/v2/busybox-extra/blobs/$L2"
echo "# registry start ${t_reg}s, three pushes ${t_push}s"
BB=$REG/busybox:latest EX=$REG/busybox-extra:latest MULTI=$REG/multi:latest

"$HERE/push.sh" --archive "$T/oci" "$T/busybox.tar" busybox:latest >/dev/null 2>&1 || bail "push.sh --archive busybox"
"$HERE/push.sh" --archive "$T/oci" "$T/busybox-extra.tar" busybox-extra:latest busybox-extra >/dev/null 2>&1 ||
	bail "push.sh --archive busybox-extra"

# A registry serving layer 1 as a valid gzip of the same tar with another header (only the
# digest shows it), and one serving garbage in its middle.
startreg evil
EVIL=$ADDR
"$HERE/push.sh" "$T/oci" "$EVIL/busybox:latest" >/dev/null 2>&1 || bail "push.sh to the evil registry"
out=$("$HERE/tamper.sh" "$T/reg-evil" "$L1" --header 2>&1) || bail "tamper.sh --header" "$out"
startreg evil2
EVIL2=$ADDR
"$HERE/push.sh" "$T/oci" "$EVIL2/busybox:latest" >/dev/null 2>&1 || bail "push.sh to the second evil registry"
out=$("$HERE/tamper.sh" "$T/reg-evil2" "$L1" --garbage 2>&1) || bail "tamper.sh --garbage" "$out"
check "the harness: skopeo (the reference) refuses the tampered blob" nonzero "~digest" \
	skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$EVIL/busybox:latest" "oci:$T/skopeo-evil:x"
rm -rf "$T/skopeo-evil"

# Registries with credentials.
USERPASS=rcuser:rc-s3cret
startreg basic --basic "$USERPASS"
BASIC=$ADDR
PUSH_CREDS=$USERPASS "$HERE/push.sh" "$T/oci" "$BASIC/busybox:latest" >/dev/null 2>&1 || bail "push.sh to the basic-auth registry"
startreg token --token "$USERPASS"
TOKEN=$ADDR
PUSH_CREDS=$USERPASS "$HERE/push.sh" "$T/oci" "$TOKEN/busybox:latest" >/dev/null 2>&1 || bail "push.sh to the token-auth registry"

# ------------------------------------------------------------------ pull, images, run
echo "# --- the command: pull, images, run"
store store
check "pull --plain-http busybox: prints the manifest's digest" 0 "$BB_DIGEST" "${RC[@]}" pull --plain-http "$BB"
check "pull --plain-http busybox-extra (a zstd layer over the shared one)" 0 "$EX_DIGEST" "${RC[@]}" pull --plain-http "$EX"
check "pull --plain-http multi (an image index, the other platform first)" 0 "sha256:[0-9a-f]{64}" "${RC[@]}" pull --plain-http "$MULTI"
check "run multi: this platform's image was chosen" 0 "^$PLATFORM\$" "${RC[@]}" run "$MULTI"
assert "a layer shared by two pulled images is unpacked once" "$(busyboxes "$S") copies of busybox under $S" \
	eq "$(busyboxes "$S")" 1
check "images: the table's columns and both images" 0 "^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE
^$REG/busybox +latest
^$REG/busybox-extra +latest" "${RC[@]}" images
check "images -q" 0 "^(sha256:)?[0-9a-f]{12,64}\$" "${RC[@]}" images -q
after "images -q: ids only, three lines (one per image)" "$LAST_OUT" \
	eq "$(printf '%s\n' "$LAST_OUT" | grep -cvE '^(sha256:)?[0-9a-f]{12,64}$')|$(printf '%s\n' "$LAST_OUT" | grep -c .)" "0|3"

check "run IMAGE sh -c 'echo \$\$; ps': PID 1 is the command" 0 '^1$
^ *1 +[^ ]+ +[^ ]+ +sh -c' "${RC[@]}" run "$BB" sh -c 'echo $$; ps'
check "run IMAGE (its Cmd, sh, on an empty stdin)" 0 "" "${RC[@]}" run "$BB"
check "run busybox-extra: its Entrypoint and Cmd" 0 "^from-extra$
^hello from layer 2$" "${RC[@]}" run "$EX"
check "run busybox-extra: User app (from the image's /etc/passwd)" 0 "^1000$
^app$" "${RC[@]}" run "$EX" 'id -u; id -un'
check "run busybox-extra: WorkingDir /extra" 0 "^/extra$" "${RC[@]}" run "$EX" pwd
check "run busybox-extra: Env FOO=bar and PATH" 0 "^bar /usr/local/sbin:" "${RC[@]}" run "$EX" 'echo $FOO $PATH'
check "run -e FOO=x overrides the image's Env, -e NEW=1 adds" 0 "^x 1$" "${RC[@]}" run -e FOO=x -e NEW=1 "$EX" 'echo $FOO $NEW'
check "run --entrypoint /bin/echo IMAGE hi" 0 "^hi$
!from-extra" "${RC[@]}" run --entrypoint /bin/echo "$EX" hi
check "run --entrypoint drops the image's Cmd (as docker)" 0 "!from-extra" "${RC[@]}" run --entrypoint /bin/echo "$EX"
check "run -u 0 overrides User" 0 "^0$" "${RC[@]}" run -u 0 "$EX" 'id -u'
check "run -u nobody: a name from the image's /etc/passwd" 0 "^65534$" "${RC[@]}" run -u nobody "$EX" 'id -u'
check "run -u 1234:1234: numeric ids need no passwd entry" 0 "^1234 1234$" "${RC[@]}" run -u 1234:1234 "$EX" 'echo $(id -u) $(id -g)'
check "run -w /tmp overrides WorkingDir" 0 "^/tmp$" "${RC[@]}" run -w /tmp "$EX" pwd
check "whiteout: /etc/group is gone in busybox-extra, /etc/passwd stays, no .wh. file shows" 0 "^gone$
^passwd-present$
!\\.wh\\." "${RC[@]}" run "$EX" 'test -e /etc/group && echo present || echo gone; test -e /etc/passwd && echo passwd-present; ls -a /etc'
check "no whiteout in busybox: /etc/group is there" 0 "^present$" "${RC[@]}" run "$BB" sh -c 'test -e /etc/group && echo present'
check "ExposedPorts: ignored with a note naming it" 0 "~80/tcp|exposedports|expose" "${RC[@]}" run "$EX" true
check "copy-on-write: a container writes, changes and deletes image files" 0 "^cow$" \
	"${RC[@]}" run "$BB" sh -c 'echo cow >/cow-file && echo hacked >/etc/passwd && rm /bin/su-test && mkdir /tmp/d && cat /cow-file'
check "copy-on-write: the next container sees none of it" 0 "^root:x:0:0
^su-test-present$
!cow|hacked|leaked" "${RC[@]}" run "$BB" sh -c 'cat /etc/passwd; test -e /cow-file && echo leaked; test -e /tmp/d && echo leaked; test -e /bin/su-test && echo su-test-present'
check "run --read-only: touch /x fails" nonzero "" "${RC[@]}" run --read-only "$BB" touch /x
check "run --read-only: reading works" 0 "^root:" "${RC[@]}" run --read-only "$BB" cat /etc/passwd
check "the setuid bit and owner of /bin/su-test survive (4755 0 0), /tmp is 1777, /root 700" 0 "^4755 0 0$
^1777$
^700$" "${RC[@]}" run "$BB" sh -c 'stat -c "%a %u %g" /bin/su-test; stat -c %a /tmp; stat -c %a /root'
check "the command's exit status passes through (7)" 7 "" "${RC[@]}" run "$BB" sh -c 'exit 7'
check "run -it: sh on a pty" 0 "/dev/pts/" python3 "$HERE/../clients/pty.py" 24 80 -- "${RC[@]}" run -it "$BB" sh -c 'tty'
name=rcimg-$$
NAMES+=("$S:$name")
check "run --name ID --keep" 0 "" "${RC[@]}" run --name "$name" --keep "$BB" sh -c 'echo kept >/kept'
assert "--keep: the container's dir stays in the store (S/containers/ID)" "$(ls -la "$S/containers" 2>&1)" test -d "$S/containers/$name"
check "run --name of a container that exists (a kept one, same id): refused" nonzero "already" "${RC[@]}" run --name "$name" "$BB" true
assert "... and the kept container's dir is still there" "$(ls -la "$S/containers" 2>&1)" test -d "$S/containers/$name"
bname=rcimg-bundle-$$
"${RC[@]}" run -d "$bname" -- sleep 30 >/dev/null 2>&1
check "run --name of an ad hoc container's id: refused" nonzero "already exists" "${RC[@]}" run --name "$bname" "$BB" true
after "... and no copy-on-write root of that id left in the store" "$(ls -la "$S/containers" 2>&1)" test ! -e "$S/containers/$bname"
"${RC[@]}" delete --force "$bname" >/dev/null 2>&1
check "delete ID (a kept container)" 0 "" "${RC[@]}" delete "$name"
after "after delete: S/containers is empty" "$(containers_left "$S")" is_empty "$(containers_left "$S")"
after "after delete: no mount left under the store" "$(mounts_under "$S")" is_empty "$(mounts_under "$S")"
check "run of a nonexistent image fails and names it" nonzero "nonexistent" "${RC[@]}" run "$REG/nonexistent"
check "run --plain-http of a nonexistent repository: the registry's answer, named" nonzero "nonexistent
~manifest unknown|not found|no such" "${RC[@]}" run --plain-http "$REG/nonexistent"
check "pull of a nonexistent repository fails and names it" nonzero "nonexistent" "${RC[@]}" pull --plain-http "$REG/nonexistent:latest"
check "pull of a nonexistent tag fails" nonzero "" "${RC[@]}" pull --plain-http "$REG/busybox:no-such-tag"

# ------------------------------------------------------------------ import
echo "# --- the command: import"
store import
check "import an OCI layout directory" 0 "" "${RC[@]}" import "$T/oci1" imported-oci
check "run the imported OCI image" 0 "^from-oci$" "${RC[@]}" run imported-oci echo from-oci
check "import a docker save archive" 0 "" "${RC[@]}" import "$T/busybox.tar" imported-archive
check "run the imported archive's image" 0 "^from-archive$" "${RC[@]}" run imported-archive echo from-archive
check "import a docker save archive of two layers (a whiteout)" 0 "" "${RC[@]}" import "$T/busybox-extra.tar" imported-extra
check "run it: Entrypoint, Cmd, the whiteout" 0 "^from-extra$
^gone$" "${RC[@]}" run imported-extra 'echo from-extra; test -e /etc/group || echo gone'
check "images lists the imported images" 0 "imported-oci
imported-archive
imported-extra" "${RC[@]}" images
assert "layer 1 from a layout (gzip) and from archives (tar) is unpacked once" "$(busyboxes "$S") copies of busybox" \
	eq "$(busyboxes "$S")" 1
check "import of a directory that is no image fails" nonzero "" "${RC[@]}" import "$T/cwd" not-an-image

# ------------------------------------------------------------------ rmi, prune
echo "# --- the command: rmi and prune"
store gc
check "pull busybox" 0 "" "${RC[@]}" pull --plain-http "$BB"
check "pull busybox-extra" 0 "" "${RC[@]}" pull --plain-http "$EX"
files0=$(find "$S" -type f | wc -l) du0=$(du -sb "$S" | cut -f1)
du_two=$(du -sh "$S" | cut -f1)
check "rmi busybox" 0 "" "${RC[@]}" rmi "$BB"
check "images: busybox is gone, busybox-extra stays" 0 "!$REG/busybox +
$REG/busybox-extra +latest" "${RC[@]}" images
check "prune" 0 "" "${RC[@]}" prune
files1=$(find "$S" -type f | wc -l) du1=$(du -sb "$S" | cut -f1)
echo "# store: two images ${files0} files ${du0} bytes; after rmi of one + prune ${files1} files ${du1} bytes"
assert "rmi of one image + prune keeps the layer the other shares" "$(busyboxes "$S") copies of busybox" eq "$(busyboxes "$S")" 1
check "the other image still runs" 0 "^from-extra$" "${RC[@]}" run "$EX"
# A running container in a state root prune is not told of (its creator, run -d, is gone): its
# copy-on-write root must survive prune (the store reads its state dir from the root's directory).
other_root=$T/other-root
pname=rcimg-other-$$
check "run -d in another state root" 0 "" "${RC[@]}" --root "$other_root" run -d --name "$pname" "$EX" 'echo alive >/tmp/alive; sleep 60'
check "prune, told only of the default state root" 0 "" "${RC[@]}" prune
assert "... keeps the running container's root (S/containers/ID)" "$(ls -la "$S/containers" 2>&1)" test -d "$S/containers/$pname"
check "... and the container still reads its own writes" 0 "^alive$" "${RC[@]}" --root "$other_root" exec "$pname" cat /tmp/alive
check "delete it" 0 "" "${RC[@]}" --root "$other_root" delete --force "$pname"
after "... and its root is gone" "$(ls -la "$S/containers" 2>&1)" test ! -e "$S/containers/$pname"
check "rmi busybox-extra" 0 "" "${RC[@]}" rmi "$EX"
check "prune" 0 "" "${RC[@]}" prune
files2=$(find "$S" -type f | wc -l) du2=$(du -sb "$S" | cut -f1)
echo "# store: after rmi of both + prune ${files2} files ${du2} bytes"
after "rmi of both + prune: no layer left (no busybox, no file over 64 KiB)" "$(big_files "$S")" \
	eq "$(busyboxes "$S") $(big_files "$S")" "0 "
check "images -q: nothing" 0 "![0-9a-f]" "${RC[@]}" images -q
check "rmi of an image that is not there fails" nonzero "" "${RC[@]}" rmi "$BB"

# ------------------------------------------------------------------ tampered blobs
echo "# --- the command: a registry serving a blob that does not match its digest"
store evil
check "pull of a layer whose bytes do not match its digest (a valid gzip) fails and says digest" nonzero "~digest" \
	"${RC[@]}" pull --plain-http "$EVIL/busybox:latest"
after "nothing of the tampered layer stays (no busybox, no file over 64 KiB)" "$(find "$S" 2>&1 | head -20)" \
	eq "$(busyboxes "$S") $(big_files "$S")" "0 "
check "images: nothing" 0 "![0-9a-f]{12}" "${RC[@]}" images -q
store evil2
check "pull of a layer with garbage in its middle fails" nonzero "" "${RC[@]}" pull --plain-http "$EVIL2/busybox:latest"
after "nothing of the corrupt layer stays" "$(find "$S" 2>&1 | head -20)" eq "$(busyboxes "$S") $(big_files "$S")" "0 "
check "a later pull of the good image into the same store works" 0 "$BB_DIGEST" "${RC[@]}" pull --plain-http "$BB"

# ------------------------------------------------------------------ concurrency
echo "# --- the command: concurrent pulls and runs"
# bgrun OUTFILE CMD...: in the background, bounded; bgwait writes its status to OUTFILE.status.
bgrun() {
	local f=$1
	shift
	timeout -k 5 "$TMO" "$@" >"$f" 2>&1 </dev/null &
	BG+=($!)
	BGF+=("$f")
}
bgwait() {
	local i s
	for i in "${!BG[@]}"; do
		s=0
		wait "${BG[$i]}" || s=$?
		echo "$s" >"${BGF[$i]}.status"
	done
	BG=() BGF=()
}
statuses() { local f; for f in "$@"; do cat "$f.status" 2>/dev/null || echo none; done | tr '\n' ' '; }
store conc
bgrun "$T/c1" "${RC[@]}" pull --plain-http "$BB"
bgrun "$T/c2" "${RC[@]}" pull --plain-http "$BB"
bgwait
assert "two concurrent pulls of one image into one store both succeed" "$(cat "$T/c1" "$T/c2")" \
	eq "$(statuses "$T/c1" "$T/c2")" "0 0 "
check "images lists it once" 0 "^$REG/busybox +latest" "${RC[@]}" images
assert "images lists it once (one line)" "$LAST_OUT" eq "$(printf '%s\n' "$LAST_OUT" | grep -cE "^$REG/busybox +latest")" 1
assert "its layer is unpacked once" "$(busyboxes "$S") copies" eq "$(busyboxes "$S")" 1
store conc2
bgrun "$T/c3" "${RC[@]}" pull --plain-http "$BB"
bgrun "$T/c4" "${RC[@]}" pull --plain-http "$EX"
bgwait
assert "concurrent pulls of two images sharing a layer both succeed" "$(cat "$T/c3" "$T/c4")" \
	eq "$(statuses "$T/c3" "$T/c4")" "0 0 "
assert "the shared layer is unpacked once" "$(busyboxes "$S") copies" eq "$(busyboxes "$S")" 1
for i in 1 2 3 4; do bgrun "$T/r$i" "${RC[@]}" run "$BB" sh -c "echo run-$i"; done
bgwait
assert "four concurrent runs of one image succeed" "$(cat "$T"/r?)" \
	eq "$(statuses "$T/r1" "$T/r2" "$T/r3" "$T/r4")|$(cat "$T"/r? | grep -c '^run-')" "0 0 0 0 |4"
LAST_USAGE=0
cat "$T"/r? | grep -Eq "$USAGE_ERROR" && LAST_USAGE=1
after "after the runs: S/containers is empty, no mount under the store" "$(containers_left "$S") $(mounts_under "$S")" \
	is_empty "$(containers_left "$S")$(mounts_under "$S")"

# ------------------------------------------------------------------ auth
echo "# --- the command: registries with credentials"
# How the command takes credentials: the first of these its pull --help names.
help=$(timeout 10 "$RC_BIN" pull --help 2>&1 || true)
if printf '%s' "$help" | grep -q -- '--creds'; then CREDS=(--creds "$USERPASS")
elif printf '%s' "$help" | grep -q -- '--username'; then CREDS=(--username "${USERPASS%%:*}" --password "${USERPASS#*:}")
elif printf '%s' "$help" | grep -qE -- '--auth-?file'; then
	flag=$(printf '%s' "$help" | grep -oE -- '--auth-?file' | head -1)
	python3 -c 'import base64, json, sys; print(json.dumps({"auths": {h: {"auth": base64.b64encode(sys.argv[1].encode()).decode()} for h in sys.argv[2:]}}))' \
		"$USERPASS" "$BASIC" "$TOKEN" >"$T/auth.json"
	CREDS=("$flag" "$T/auth.json")
else CREDS=(--creds "$USERPASS"); fi
echo "# credentials passed as: ${CREDS[0]}"
: >"$T/reg-token/token.log" # what skopeo's pushes asked for: gone
for kind in basic token; do
	[ "$kind" = basic ] && addr=$BASIC || addr=$TOKEN
	store "auth-$kind"
	check "$kind auth: an anonymous pull fails" nonzero "" "${RC[@]}" pull --plain-http "$addr/busybox:latest"
	check "$kind auth: a pull with credentials works" 0 "$BB_DIGEST" "${RC[@]}" pull --plain-http "${CREDS[@]}" "$addr/busybox:latest"
	check "$kind auth: the pulled image runs" 0 "^authed$" "${RC[@]}" run "$addr/busybox:latest" echo authed
done
check "token auth: the command got its token from the token server as the user" 0 "user=${USERPASS%%:*} .* -> 200" cat "$T/reg-token/token.log"

# ------------------------------------------------------------------ timings (never a failure)
echo "# --- timings (informational: never a failure)"
ms() { echo $(($(date +%s%N) / 1000000)); }
# median: of the numbers on stdin, or "failed" if a line is not a number.
median() { sort -n | awk '!/^[0-9]+$/ { bad = 1 } { a[NR] = $1 } END { if (bad || !NR) print "failed"; else print a[int((NR + 1) / 2)] " ms" }'; }
# times5 CMD...: the command's wall time, five times, one line each ("fail" for a failure).
times5() {
	local t
	for _ in 1 2 3 4 5; do
		t=$(ms)
		if timeout "$TMO" "$@" >/dev/null 2>>"$T/timing.err"; then echo $(($(ms) - t)); else echo fail; fi
	done
}
timings() {
	set +e
	local t rm
	store timing
	t=$(ms)
	if timeout "$TMO" "${RC[@]}" pull --plain-http "$BB" >/dev/null 2>&1; then
		echo "# rcontainer pull (local registry, fresh store): $(($(ms) - t)) ms"
	else
		echo "# rcontainer pull: failed"
	fi
	rm=--rm
	timeout "$TMO" "${RC[@]}" run --rm "$BB" true >/dev/null 2>&1 || rm=
	echo "# rcontainer run ${rm:+$rm }IMAGE true (median of 5): $(times5 "${RC[@]}" run ${rm:+"$rm"} "$BB" true | median)"
	echo "# rcontainer store with busybox + busybox-extra (sharing layer 1): du -sh $du_two"
	if command -v podman >/dev/null; then
		mkdir -p "$T/podman"
		printf '[containers]\ndefault_ulimits = []\n' >"$T/podman/containers.conf"
		export CONTAINERS_CONF=$T/podman/containers.conf
		PODMAN_ARGS=(--root "$T/podman/root" --runroot "$T/podman/run" --tmpdir "$T/podman/tmp"
			--cgroup-manager cgroupfs --events-backend file --storage-driver overlay)
		# Debian's crun refuses a hybrid cgroup hierarchy: runc when it is there.
		command -v runc >/dev/null && PODMAN_ARGS+=(--runtime "$(command -v runc)")
		t=$(ms)
		if timeout "$TMO" podman "${PODMAN_ARGS[@]}" pull -q --tls-verify=false "$BB" >/dev/null 2>"$T/podman/err"; then
			echo "# podman pull --tls-verify=false (same image, fresh storage): $(($(ms) - t)) ms"
			echo "# podman${PODMAN_ARGS[13]:+ (runtime ${PODMAN_ARGS[13]##*/})} run --rm --network none IMAGE true (median of 5):" \
				"$(times5 podman "${PODMAN_ARGS[@]}" run --rm --network none "$BB" true | median)"
			if timeout "$TMO" podman "${PODMAN_ARGS[@]}" pull -q --tls-verify=false "$EX" >/dev/null 2>>"$T/podman/err"; then
				echo "# podman storage with busybox + busybox-extra: du -sh $(du -sh "$T/podman/root" | cut -f1)"
			fi
		else
			echo "# podman pull failed: $(tail -c 300 "$T/podman/err" | tr '\n' ' ')"
		fi
	else
		echo "# podman: not installed"
	fi
	return 0
}
timings || true

echo
if [ "$fail" -gt 0 ]; then
	echo "# failed:"
	printf '#   %s\n' "${FAILED[@]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

#!/usr/bin/env bash
# tests/readme/run.sh — runs the README's command walkthrough as a reader would paste it, so the
# README cannot drift from the command: every block preceded by the line
# "<!-- tests/readme/run.sh runs the next block -->", in a temp directory, with `set -e` and the
# given binary first on the PATH as `rcontainer`. The container id `mybox` is replaced by a unique
# one (the walkthrough uses the default state root, which the machine may share).
#
# Usage (as root): tests/readme/run.sh RCONTAINER_BINARY
set -euo pipefail
RC=$(realpath "${1:?usage: tests/readme/run.sh RCONTAINER_BINARY}")
README=$(cd "$(dirname "$0")/../.." && pwd)/README.md
[ "$(id -u)" = 0 ] || { echo "tests/readme/run.sh: run as root" >&2; exit 1; }
command -v busybox >/dev/null && file -L "$(command -v busybox)" 2>/dev/null | grep -q dynamically && {
	echo "tests/readme/run.sh: the busybox on the PATH is dynamically linked; the walkthrough needs busybox-static" >&2
	exit 1
}
W=$(mktemp -d /tmp/rcontainer-readme.XXXXXX)
ID=readme-$$
mkdir "$W/bin"
ln -s "$RC" "$W/bin/rcontainer"
cleanup() {
	"$RC" delete --force "$ID" >/dev/null 2>&1 || true
	umount -R "$W/store" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

python3 - "$README" "$W" <<'PY'
import re, sys
readme, work = sys.argv[1], sys.argv[2]
text = open(readme).read()
blocks = re.findall(r"<!-- tests/readme/run.sh runs the next block( in the repository)? -->\n```sh\n(.*?)```", text, re.S)
if not blocks:
    sys.exit("tests/readme/run.sh: no marked block in README.md")
for i, (where, b) in enumerate(blocks):
    open(f"{work}/block{i}.sh", "w").write(b)
    open(f"{work}/block{i}.where", "w").write("repo" if where else "work")
PY
n=0
for block in "$W"/block*.sh; do
	sed -i "s/\bmybox\b/$ID/g" "$block"
	echo "== README block $n"
	# A block "in the repository" runs from the repository's top directory (it uses its scripts);
	# /tmp/busybox-oci is replaced by a path in the temp dir, and images go to a store there.
	dir=$W
	[ "$(cat "${block%.sh}.where")" = repo ] && dir=$(dirname "$README")
	sed -i "s|/tmp/busybox-oci|$W/busybox-oci|g" "$block"
	(cd "$dir" && PATH="$W/bin:$PATH" RCONTAINER_STORE="$W/store" bash -euxo pipefail "$block") 2>&1 | sed 's/^/   /'
	n=$((n + 1))
done
echo "README: $n block(s) ran"

#!/usr/bin/env bash
# bench/bindings.sh — the Python and Node packages next to what their users would otherwise
# write: subprocess.run / asyncio.create_subprocess_exec and child_process.spawn of
# `unshare -fp --mount-proc sh -c 'echo hi'` (new pid and mount namespaces, no limits, the host's
# root), against rcontainer's run with capture (the default container: the embedded root,
# Docker's defaults, pid/mount/net/ipc/uts/cgroup namespaces). Per container: 200 sequential
# (interleaved in rounds), 50 at once; and the peak memory of capturing `yes` for 2 s.
#
# Usage (as root): bench/bindings.sh [SEQUENTIAL=200] [CONCURRENT=50]
# Needs the packages built: bindings-python/test.sh and bindings-node/test.sh (or their builds).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "bench/bindings.sh: run as root" >&2; exit 1; }
py="$here/../bindings-python/.venv/bin/python"
[ -x "$py" ] || { echo "bench/bindings.sh: build the Python package first (bindings-python/test.sh)" >&2; exit 1; }
root=$(mktemp -d /run/rcontainer-bench-bindings.XXXXXX)
chmod 711 "$root"
trap 'rm -rf "$root"' EXIT
"$py" "$here/bindings_py.py" "$root" "${1:-200}" "${2:-50}"
node "$here/bindings_node.js" "$root" "${1:-200}" "${2:-50}"

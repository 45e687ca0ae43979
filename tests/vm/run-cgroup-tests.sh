#!/bin/bash
# run-cgroup-tests.sh — build rcontainer-core's test binary and run its cgroup tests as root
# inside a cgroup-v2-only QEMU guest (one boot for the whole suite), so the v2 driver is
# verified on a real v2 kernel even on the hybrid development machines.
#
# Usage: tests/vm/run-cgroup-tests.sh [TEST-FILTER] [-- extra libtest args]
#   TEST-FILTER defaults to "cgroups" (every test in core/src/cgroups).
# Environment: passed on to tests/vm/run-in-guest.sh (RCONTAINER_VM_MEM, RCONTAINER_VM_SMP,
#   RCONTAINER_VM_TIMEOUT, RCONTAINER_VM_CACHE, RCONTAINER_VM_VERBOSE).
# Exit status: the tests' (0 = all passed), 124 guest timeout, 125 harness failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
VM=$REPO/tests/vm/run-in-guest.sh
FILTER=${1:-cgroups}
shift $(( $# > 0 ? 1 : 0 ))
[ "${1:-}" = "--" ] && shift

# The test executable of rcontainer-core's lib (the one whose target kind is "lib").
BIN=$(cargo test -p rcontainer-core --lib --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "rcontainer_core" and m["profile"]["test"]:
        print(m["executable"])')
[ -n "$BIN" ] || { echo "run-cgroup-tests: could not build the rcontainer-core test binary" >&2; cargo test -p rcontainer-core --lib --no-run >&2; exit 125; }

# The rcontainer command, for the end-to-end container checks in the same boot.
cargo build -q -p rcontainer-cli
CLI=$REPO/target/debug/rcontainer
GUEST_SCRIPT=$REPO/tests/vm/container-tests.sh

echo "run-cgroup-tests: $BIN $FILTER, then $GUEST_SCRIPT (cgroup v2 guest)" >&2
# One boot: a small driver runs the driver tests (one thread: they measure cpu time and the guest
# has few vcpus), then real containers through the command.
driver=$(mktemp /tmp/rcontainer-vm-driver.XXXXXX)
trap 'rm -f "$driver"' EXIT
cat > "$driver" <<DRIVER
#!/bin/sh
"$BIN" "$FILTER" --test-threads=1 $* || exit \$?
exec "$GUEST_SCRIPT" "$CLI"
DRIVER
chmod +x "$driver"
# setpriv (util-linux) runs the rootless checks as an ordinary user.
"$VM" -e RUST_BACKTRACE=1 -f "$BIN" -f "$CLI" -f "$GUEST_SCRIPT" -f "$(command -v setpriv)" "$driver"

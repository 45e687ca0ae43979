#!/usr/bin/env bash
# Runs every test of the project, as root, on a fresh Debian 12 machine or this one:
# installs what is missing (busybox-static for test root filesystems, libseccomp-dev to build,
# valgrind and pkg-config for the C ABI tests, strace for the kill-at-every-step suite), builds
# the workspace,
# runs the Rust unit and end-to-end tests (real containers), Docker, containerd's ctr and podman
# with rcontainer as their runtime (tests/clients/run.sh installs them), the cgroup v2 tests in a
# throw-away QEMU guest, and the Python and Node packages' suites (each installs what it needs).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh: the tests create real namespaces, mounts and cgroups: run as root" >&2
  exit 1
fi

need=()
for pkg in busybox-static gcc g++ libseccomp-dev pkg-config valgrind strace; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "== format and lints (rustfmt.toml; clippy with warnings as errors)"
cargo fmt --check
cargo clippy --workspace --all-targets -q -- -D warnings

echo "== build"
cargo build --workspace --all-targets

echo "== smoke: the README's first command"
out=$(target/debug/rcontainer run --hostname demo -- sh -c 'hostname; exec ps -o pid,comm')
echo "$out"
echo "$out" | grep -qx demo
echo "$out" | grep -Eq '^ *1 ps$'

echo "== unit and end-to-end tests"
cargo test --workspace --no-fail-fast

echo "== the command as shipped, a static PIE (cli/build-static.sh): its command-line tests again"
static_bin=$(cli/build-static.sh)
RCONTAINER_BIN="$static_bin" cargo test -p rcontainer-tests --no-fail-fast \
  --test lifecycle_cli --test cgroups --test namespaces --test process \
  --test escape_fd_leak --test escape_runtime_binary --test escape_mount_targets --test escape_terminal --test security \
  --test terminal --test exec --test hooks

echo "== the README's walkthrough, pasted as a reader would (tests/readme/run.sh)"
tests/readme/run.sh "$static_bin"

echo "== the static command killed at every system call of create, start, run, kill and delete, then recovered (tests/crash/run.sh)"
tests/crash/run.sh "$static_bin"

echo "== real clients on the static command, each check against runc too: docker, ctr, podman (tests/clients/run.sh)"
tests/clients/run.sh "$static_bin"

echo "== cgroup v2 tests in a v2-only guest (QEMU)"
tests/vm/run-cgroup-tests.sh

echo "== Python package (venv, pip install, pytest)"
bindings-python/test.sh

echo "== Node package (npm ci, build, node --test, npm pack)"
bindings-node/test.sh

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

# The suites: each bounded in time (a hang fails its suite instead of the whole run; all of
# them within RCONTAINER_TEST_BUDGET seconds of the start, under CI's 90 minutes) and each run
# even when an earlier one failed, so one run reports every failure; the summary at the end.
budget=${RCONTAINER_TEST_BUDGET:-4800}
failed=()
stage() {
  local desc=$1 limit=$2 status=0
  shift 2
  [ $((budget - SECONDS)) -lt "$limit" ] && limit=$((budget - SECONDS))
  if [ "$limit" -le 0 ]; then
    echo "== $desc: not run, the time budget (${budget}s) is spent"
    failed+=("$desc (not run)")
    return
  fi
  echo "== $desc"
  local t0=$SECONDS
  timeout -k 60 "$limit" "$@" || status=$?
  [ "$status" = 124 ] && echo "== $desc: timed out after ${limit}s"
  echo "== $desc: $([ "$status" = 0 ] && echo passed || echo "FAILED (status $status)") in $((SECONDS - t0))s"
  [ "$status" = 0 ] || failed+=("$desc")
}

stage "unit and end-to-end tests" 1500 cargo test --workspace --no-fail-fast

echo "== the command as shipped, a static PIE (cli/build-static.sh)"
static_bin=$(cli/build-static.sh)
stage "the static command's command-line tests" 900 env RCONTAINER_BIN="$static_bin" cargo test -p rcontainer-tests --no-fail-fast \
  --test lifecycle_cli --test cgroups --test namespaces --test process \
  --test escape_fd_leak --test escape_runtime_binary --test escape_mount_targets --test escape_terminal --test security \
  --test terminal --test exec --test hooks

stage "the README's walkthrough, pasted as a reader would (tests/readme/run.sh)" 300 tests/readme/run.sh "$static_bin"

stage "the static command killed at every system call of create, start, run, kill and delete, then recovered (tests/crash/run.sh)" 900 \
  tests/crash/run.sh "$static_bin"

stage "real clients on the static command, each check against runc too: docker, ctr, podman (tests/clients/run.sh)" 1200 \
  tests/clients/run.sh "$static_bin"

stage "images on the static command: a local registry (none, basic and token auth, a tampered blob), import, run on a copy-on-write root, rmi and prune (tests/images/run.sh)" 900 \
  tests/images/run.sh "$static_bin"

stage "cgroup v2 tests in a v2-only guest (QEMU)" 900 tests/vm/run-cgroup-tests.sh

stage "Python package (venv, pip install, pytest)" 900 bindings-python/test.sh

stage "Node package (npm ci, build, node --test, npm pack)" 900 bindings-node/test.sh

# After the packages' stages: it runs their rootless tests on what they built.
stage "rootless: the static command, a C example, Python and Node as an ordinary user (tests/rootless/run.sh)" 400 \
  env RCONTAINER_ROOTLESS_REQUIRE_BINDINGS=1 tests/rootless/run.sh "$static_bin"

if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED: ${#failed[@]} suite(s):"
  printf '   %s\n' "${failed[@]}"
  exit 1
fi
echo "== every suite passed (${SECONDS}s)"

#!/usr/bin/env bash
# Builds and installs the Python package (`pip install ./bindings-python`) into a venv of its own,
# then runs its pytest suite over real containers. As root, on a fresh Debian 12 machine or this one:
# installs what the machine lacks (python3-venv, a C linker, libseccomp-dev), creates bindings-python/.venv,
# installs maturin and pytest from PyPI. Extra arguments go to pytest (e.g. -k asyncio -x).
# Environment: PYTHON (interpreter for the venv, default python3), RCONTAINER_PY_VENV (venv dir).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if [ "$(id -u)" != 0 ]; then
  echo "bindings-python/test.sh: the tests create real namespaces and mounts: run as root" >&2
  exit 1
fi
if ! command -v cargo >/dev/null; then
  echo "bindings-python/test.sh: needs a Rust toolchain (cargo), e.g. from https://rustup.rs" >&2
  exit 1
fi

python="${PYTHON:-python3}"
need=()
command -v "$python" >/dev/null || need+=(python3)
command -v "$python" >/dev/null && { "$python" -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv); }
command -v cc >/dev/null || need+=(gcc)
# The core links libseccomp (found with pkg-config).
dpkg -s libseccomp-dev >/dev/null 2>&1 || need+=(libseccomp-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

venv="${RCONTAINER_PY_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  echo "== venv $venv"
  "$python" -m venv "$venv"
fi
export VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH"  # the maturin build backend runs `maturin`
echo "== pip install maturin pytest mypy (the stubs are checked with it)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.5,<2" "pytest>=7" "mypy>=1.8"

echo "== pip install ./bindings-python (release build of the native module)"
rm -f python/rcontainer/_native*.so  # left by `maturin develop`; the wheel carries its own
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps --no-build-isolation "$here"

echo "== pytest (real containers)"
cd "$here/tests/.."
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider tests "$@"

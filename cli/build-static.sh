#!/usr/bin/env bash
# Builds the `rcontainer` command as a static PIE (glibc and libseccomp linked in, as runc ships
# static) and prints its path: target/<host triple>/release/rcontainer.
#
# Why: the command is started once per container operation, and a dynamic Rust binary spends
# about 0.5 ms of every start in the dynamic loader (13,000 relocations, libseccomp.so and
# libgcc_s.so mapped and bound); static, `rcontainer run` of /bin/true takes ~10% less (bench/).
# It also runs on a machine without libseccomp2. Still a PIE, so ASLR is unchanged.
#
# Needs: cargo, gcc, and the static libraries of libc6-dev and libseccomp-dev (Debian 12 has
# both; this script installs libseccomp-dev when it is missing and it runs as root).
# The bench (bench/run.sh) and the tests (scripts/test.sh runs the command-line tests again
# with RCONTAINER_BIN pointing here) use this build.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s libseccomp-dev >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libseccomp-dev >/dev/null
fi
libdir=$(pkg-config --variable=libdir libseccomp 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)
if [ ! -f "$libdir/libseccomp.a" ]; then
	echo "cli/build-static.sh: $libdir/libseccomp.a is missing (install libseccomp-dev)" >&2
	exit 1
fi
host=$(rustc -vV | sed -n 's/^host: //p')

# An explicit --target keeps RUSTFLAGS away from build scripts and proc macros (which must stay
# dynamic); crt-static then applies to the command alone.
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH="$libdir" RUSTFLAGS="-C target-feature=+crt-static" \
	cargo build --release -q -p rcontainer-cli --target "$host" >&2

bin=target/$host/release/rcontainer
# A static PIE: no program interpreter, no shared library needed, position-independent (DYN).
if readelf -lW "$bin" | grep -q INTERP || readelf -dW "$bin" | grep -q NEEDED || ! readelf -hW "$bin" | grep -q 'DYN'; then
	echo "cli/build-static.sh: $bin is not a static PIE" >&2
	exit 1
fi
echo "$PWD/$bin"

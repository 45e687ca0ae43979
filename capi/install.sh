#!/bin/sh
# Installs libcontainer_core (shared and static), include/container_core.h and a pkg-config file,
# after which:   gcc app.c $(pkg-config --cflags --libs container_core)
#
# Usage (make-like VAR=value arguments, or the same variables from the environment):
#   capi/install.sh [PREFIX=/usr/local] [DESTDIR=] [LIBDIR=$PREFIX/lib] [INCLUDEDIR=$PREFIX/include]
#                   [PROFILE=release] [LIB_SRC=DIR] [LDCONFIG=1]
#   PROFILE   cargo profile to build (release or debug); the build runs first.
#   LIB_SRC   take libcontainer_core.so/.a from DIR (e.g. target/debug) and do not build.
#   DESTDIR   staging root for packagers: files go to $DESTDIR$PREFIX, the .pc file names $PREFIX.
#   LDCONFIG  0 to skip running ldconfig (it runs only as root and without DESTDIR).
# Installed: $LIBDIR/libcontainer_core.so.X.Y.Z, the links .so.X (the SONAME) and .so,
#            $LIBDIR/libcontainer_core.a, $INCLUDEDIR/container_core.h,
#            $LIBDIR/pkgconfig/container_core.pc
set -eu

for arg in "$@"; do
    case "$arg" in
        PREFIX=*|DESTDIR=*|LIBDIR=*|INCLUDEDIR=*|PROFILE=*|LIB_SRC=*|LDCONFIG=*) export "${arg?}" ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument: $arg (see --help)" >&2; exit 2 ;;
    esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
LIBDIR=${LIBDIR:-$PREFIX/lib}
INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
PROFILE=${PROFILE:-release}
LDCONFIG=${LDCONFIG:-1}
header="$repo/include/container_core.h"

if [ -n "${LIB_SRC:-}" ]; then
    src=$LIB_SRC
else
    case "$PROFILE" in
        debug|dev) flag=""; dir=debug ;;
        release) flag="--release"; dir=release ;;
        *) flag="--profile $PROFILE"; dir=$PROFILE ;;
    esac
    # shellcheck disable=SC2086
    (cd "$repo" && cargo build $flag -p rcontainer-capi)
    src="${CARGO_TARGET_DIR:-$repo/target}/$dir"
fi
for f in "$src/libcontainer_core.so" "$src/libcontainer_core.a" "$header"; do
    [ -f "$f" ] || { echo "install.sh: missing $f" >&2; exit 1; }
done

static_libs=$(cat "$repo/capi/native-static-libs.txt")
# Outside the dynamic linker's default directories, programs linked with the .pc file's Libs
# find the library through an rpath (as `pkg-config --libs` users expect), not LD_LIBRARY_PATH.
rpath="-Wl,-rpath,\${libdir} "
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
for d in /lib /lib64 /usr/lib /usr/lib64 /usr/local/lib ${multiarch:+/lib/$multiarch /usr/lib/$multiarch}; do
    [ "$LIBDIR" = "$d" ] && rpath=""
done
macro() { sed -n "s/^#define $1 \([0-9][0-9]*\)\$/\1/p" "$header"; }
major=$(macro RCONTAINER_VERSION_MAJOR)
version="$major.$(macro RCONTAINER_VERSION_MINOR).$(macro RCONTAINER_VERSION_PATCH)"
[ -n "$major" ] || { echo "install.sh: no version macros in $header" >&2; exit 1; }

lib="$DESTDIR$LIBDIR"
inc="$DESTDIR$INCLUDEDIR"
mkdir -p "$lib/pkgconfig" "$inc"
install -m 0755 "$src/libcontainer_core.so" "$lib/libcontainer_core.so.$version"
ln -sfn "libcontainer_core.so.$version" "$lib/libcontainer_core.so.$major"
ln -sfn "libcontainer_core.so.$major" "$lib/libcontainer_core.so"
install -m 0644 "$src/libcontainer_core.a" "$lib/libcontainer_core.a"
# The archive holds every object of Rust's std and of the dependencies (a linker keeps only what a
# program uses: a C program linked statically against it is about 4 MB); its debug info goes.
if command -v strip >/dev/null 2>&1; then strip --strip-debug "$lib/libcontainer_core.a"; fi
install -m 0644 "$header" "$inc/container_core.h"
cat > "$lib/pkgconfig/container_core.pc" <<PC
prefix=$PREFIX
libdir=$LIBDIR
includedir=$INCLUDEDIR

Name: container_core
Description: rcontainer's C ABI: Linux containers (namespaces and cgroups) as a library
Version: $version
Libs: ${rpath}-L\${libdir} -lcontainer_core
Libs.private: $static_libs
Cflags: -I\${includedir}
PC
chmod 0644 "$lib/pkgconfig/container_core.pc"

if [ "$LDCONFIG" != 0 ] && [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then
    ldconfig || true
fi
echo "installed libcontainer_core $version into $lib, container_core.h into $inc"
echo "pkg-config file: $lib/pkgconfig/container_core.pc (add $LIBDIR/pkgconfig to PKG_CONFIG_PATH if needed)"

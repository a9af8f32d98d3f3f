#!/bin/bash
# Downloads the Debian packages of the build dependencies that a GPU machine
# may lack (Check, zlib's headers, OpenBLAS and its runtime, pkg-config) and
# unpacks them into DIR with dpkg -x, for tests/gpu/device_check.sh, which
# finds them at $DZ_DEPS_ROOT or shared/debs-root. Run it on a Debian 12
# (amd64) machine with apt; it needs no root (apt-get download, dpkg -x).
#
# Usage: tests/gpu/fetch_debs.sh DIR
#
# The packages, from what the pkg-config files need:
#   check.pc      check (libcheck_pic.a, check.h), Requires: libsubunit
#   libsubunit.pc libsubunit-dev, libsubunit0
#   zlib.pc       zlib1g-dev, zlib1g (the libz.so.1 the -dev symlink points at)
#   openblas.pc   libopenblas-pthread-dev (the file, cblas.h), libopenblas0-pthread
#                 (libopenblas.so.0), which needs libgfortran5 and libquadmath0
#   (pkg-config itself, for meson to read them: pkgconf, pkgconf-bin, libpkgconf3)
# (libopenblas-dev and libopenblas0 are metapackages choosing the pthread
# variant; they hold nothing to unpack.)
#
# The unpacked tree is made relocatable, as the GPU machine sees it at another
# path: every "/usr" path in a .pc file is rewritten relative to ${pcfiledir}.
# Documentation, the static libraries no build links (all but Check's) and
# OpenBLAS's BLAS/LAPACK compatibility libraries are removed, to keep the tree
# small enough to carry (about 40 MB). The script ends by checking, with DIR's
# pkg-config limited to DIR, that each .pc file resolves inside DIR, and by
# building and running a program that calls zlib, OpenBLAS and Check from DIR.
set -eu

PACKAGES='check libsubunit-dev libsubunit0 zlib1g-dev zlib1g libopenblas-pthread-dev libopenblas0-pthread
libgfortran5 libquadmath0 pkgconf pkgconf-bin libpkgconf3'

[ $# -eq 1 ] || { sed -n 's/^# \{0,1\}//; 8p' "$0" >&2; exit 2; }
mkdir -p "$1"
root=$(cd "$1" && pwd)
debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT

echo "fetch_debs.sh: downloading" $PACKAGES
(cd "$debs" && apt-get download $PACKAGES)
for deb in "$debs"/*.deb; do
    dpkg -x "$deb" "$root"
    echo "  unpacked $(basename "$deb")"
done

rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/lintian"
find "$root" -name '*.a' ! -name 'libcheck*.a' -delete
rm -rf "$root"/usr/lib/*/openblas-pthread/lib{blas,lapack}.so* "$root"/usr/lib/*/openblas-pthread/cmake \
    "$root"/usr/lib/*/openblas-pthread/pkgconfig/{blas,lapack}-openblas.pc

# Relocatable .pc files: /usr/... becomes ${pcfiledir}/<up to DIR>/usr/...
find "$root" -name '*.pc' -type f | while read -r pc; do
    rel=${pc#"$root"/}
    up=$(dirname "$rel" | sed 's|[^/][^/]*|..|g')
    sed -E -i "s#(^|[=[:space:]]|-I|-L)/usr(/|\$|[[:space:]])#\1\${pcfiledir}/$up/usr\2#g" "$pc"
done

# The checks, with DIR's pkg-config seeing DIR's files only: every path it
# gives is in DIR.
pc_dirs=$(find "$root" -type d -name pkgconfig | paste -sd: -)
lib_dirs=$(find "$root" -name '*.so*' -printf '%h\n' | sort -u | paste -sd: -)
pkg_config() { PKG_CONFIG_LIBDIR=$pc_dirs LD_LIBRARY_PATH=$lib_dirs "$root/usr/bin/pkg-config" "$@"; }
echo "  pkg-config: $root/usr/bin/pkg-config $(pkg_config --version)"
for name in check libsubunit zlib openblas; do
    flags=$(pkg_config --cflags --libs "$name")
    for f in $flags; do
        case $f in
        -I* | -L*)
            dir=$(cd "${f#-?}" && pwd) || { echo "fetch_debs.sh: $name: $f does not exist" >&2; exit 1; }
            case $dir in "$root"/*) ;; *) echo "fetch_debs.sh: $name: $f is outside $root" >&2; exit 1 ;; esac ;;
        esac
    done
    echo "  $name: $(pkg_config --modversion "$name") ok"
done
cat >"$debs/probe.c" <<'EOF'
#include <cblas.h>
#include <check.h>
#include <zlib.h>
int main(void)
{
    float a = 2, b = 3;
    Suite *s = suite_create("probe");
    suite_add_tcase(s, tcase_create("probe"));
    srunner_free(srunner_create(s));
    return !(cblas_sdot(1, &a, 1, &b, 1) == 6 && zlibVersion()[0] == '1');
}
EOF
cc -o "$debs/probe" "$debs/probe.c" $(pkg_config --cflags --libs check zlib openblas)
LD_LIBRARY_PATH=$lib_dirs "$debs/probe"
echo "  a program built and linked against them runs; it loads:"
LD_LIBRARY_PATH=$lib_dirs ldd "$debs/probe" | grep -E 'openblas|gfortran|quadmath|libz|subunit' | sed 's/^\s*/    /'
echo "fetch_debs.sh: $root holds $(du -sh "$root" | cut -f1); pass it as DZ_DEPS_ROOT or put it at shared/debs-root"

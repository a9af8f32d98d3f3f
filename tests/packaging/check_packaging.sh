#!/bin/bash
# dezero-c as other projects use it, end to end in a temporary directory:
#  1. installed into a prefix: the headers, the versioned shared library
#     (soname libdezero.so.0), the static one, dezero.pc and the license; a
#     program built with pkg-config (shared and static) and run;
#  2. the CMake package: find_package(dezero) and dezero::dezero, and a
#     version it does not satisfy refused;
#  3. a Meson subproject through a wrap (git, from a copy of this tree):
#     dependency('dezero') works, and the subproject builds no tests,
#     examples or benchmarks;
#  4. the API reference (ninja docs), when doxygen is installed.
# Each program checks where the library looks for the CUDA module.
#
# Usage: check_packaging.sh SOURCE_ROOT. Builds with $DZ_PACKAGING_JOBS jobs
# (default: the number of CPUs). Exits 77 (skipped) when meson, ninja, a C
# compiler, pkg-config, git or readelf is missing, or after the other checks when
# cmake is missing.
set -euo pipefail

src=$(cd "${1:?usage: check_packaging.sh SOURCE_ROOT}" && pwd)
jobs=${DZ_PACKAGING_JOBS:-$(nproc)}
cc=${CC:-cc}

for tool in meson ninja "$cc" pkg-config git readelf; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP: $tool not found"
        exit 77
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The library's own lookup must be what is checked, not a build's override.
unset DZ_CUDA_MODULE PKG_CONFIG_PATH
# The builds here need no GPU module, tests, examples or benchmarks.
lean=(-Dcuda=disabled -Dtests=false -Dexamples=false -Dbenchmarks=false)

fail() {
    echo "FAIL: $*"
    exit 1
}

step() {
    echo
    echo "== $*"
}

# LOG COMMAND...: runs the command with its output in LOG, shown if it fails.
logged() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 || { cat "$log"; return 1; }
}

expect_file() {
    [ -e "$1" ] || fail "$1 is missing"
}

step "install into $tmp/prefix"
logged "$tmp/setup.log" meson setup "$tmp/build-inst" "$src" --prefix="$tmp/prefix" "${lean[@]}" || fail "meson setup"
logged "$tmp/build.log" ninja -C "$tmp/build-inst" -j "$jobs" || fail "the build"
meson install -C "$tmp/build-inst" --quiet --no-rebuild || fail "meson install"
pc=$(find "$tmp/prefix" -name dezero.pc)
[ -n "$pc" ] || fail "no dezero.pc installed"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir dezero)
echo "libdir: $libdir"
expect_file "$tmp/prefix/include/dezero/dezero.h"
expect_file "$libdir/libdezero.a"
expect_file "$tmp/prefix/share/doc/dezero-c/LICENSE"
version=$(pkg-config --modversion dezero)
expect_file "$libdir/libdezero.so.$version"
[ "$(readlink "$libdir/libdezero.so.0")" = "libdezero.so.$version" ] || fail "libdezero.so.0 is not a link to libdezero.so.$version"
[ "$(readlink "$libdir/libdezero.so")" = "libdezero.so.0" ] || fail "libdezero.so is not a link to libdezero.so.0"
readelf -d "$libdir/libdezero.so.$version" | grep -q 'SONAME.*\[libdezero\.so\.0\]' || fail "the soname is not libdezero.so.0"

step "a program built with pkg-config"
cp "$src/tests/packaging/app.c" "$tmp/app.c"
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
"$cc" -std=c11 -Wall -Wextra -Werror "$tmp/app.c" -o "$tmp/app_shared" $(pkg-config --cflags --libs dezero)
readelf -d "$tmp/app_shared" | grep -q 'NEEDED.*\[libdezero\.so\.0\]' || fail "the program does not need libdezero.so.0"
LD_LIBRARY_PATH=$libdir "$tmp/app_shared" "$libdir" || fail "the program built with pkg-config"
# The static library with the private dependencies pkg-config --static lists.
# shellcheck disable=SC2046
"$cc" -std=c11 "$tmp/app.c" -o "$tmp/app_static" $(pkg-config --cflags dezero) "$libdir/libdezero.a" \
    $(pkg-config --static --libs dezero | sed 's/-ldezero\b//')
if readelf -d "$tmp/app_static" | grep -q 'NEEDED.*libdezero'; then fail "the static program needs libdezero.so"; fi
"$tmp/app_static" || fail "the program linked with libdezero.a"

cmake_missing=""
step "the CMake package"
if command -v cmake >/dev/null; then
    expect_file "$libdir/cmake/dezero/dezeroConfig.cmake"
    expect_file "$libdir/cmake/dezero/dezeroConfigVersion.cmake"
    cp -r "$src/tests/packaging/cmake_user" "$tmp/cmake_user"
    cp "$tmp/app.c" "$tmp/cmake_user/app.c"
    logged "$tmp/cmake.log" cmake -S "$tmp/cmake_user" -B "$tmp/cmake_build" -DCMAKE_PREFIX_PATH="$tmp/prefix" ||
        fail "find_package(dezero 0.1)"
    logged "$tmp/cmake_build.log" cmake --build "$tmp/cmake_build" -j "$jobs" || fail "the CMake build"
    readelf -d "$tmp/cmake_build/app" | grep -q 'NEEDED.*\[libdezero\.so\.0\]' || fail "the CMake program does not need libdezero.so.0"
    "$tmp/cmake_build/app" "$libdir" || fail "the program built with CMake"
    if cmake -S "$tmp/cmake_user" -B "$tmp/cmake_build_v1" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
        -DDEZERO_VERSION=1.0 >"$tmp/cmake_v1.log" 2>&1; then
        fail "find_package(dezero 1.0) accepted version $version"
    fi
    grep -q "requested version \"1.0\"" "$tmp/cmake_v1.log" || { cat "$tmp/cmake_v1.log"; fail "find_package(dezero 1.0) failed for another reason"; }
else
    cmake_missing="cmake not found: the CMake package was not checked"
    echo "$cmake_missing"
fi

step "a Meson subproject through a wrap"
# The wrap clones a git repository made from this tree's files (committed or
# not, without what git ignores, such as build directories).
mkdir "$tmp/dezero-git"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        xargs -0 cp --parents -t "$tmp/dezero-git")
else
    tar -C "$src" --exclude='./build*' -cf - . | tar -C "$tmp/dezero-git" -xf -
fi
git -C "$tmp/dezero-git" init -q
git -C "$tmp/dezero-git" add -A
git -C "$tmp/dezero-git" -c user.name=check -c user.email=check@localhost commit -q -m snapshot
parent=$tmp/subproject_user
cp -r "$src/tests/packaging/subproject_user" "$parent"
cp "$tmp/app.c" "$parent/app.c"
mkdir -p "$parent/subprojects"
cat >"$parent/subprojects/dezero.wrap" <<EOF
[wrap-git]
url = $tmp/dezero-git
revision = head

[provide]
dependency_names = dezero
EOF
# Only the wrap may provide it (not an installed dezero.pc); no GPU module.
PKG_CONFIG_PATH="" logged "$tmp/sub.log" meson setup "$tmp/build-sub" "$parent" --force-fallback-for=dezero \
    -Ddezero:cuda=disabled || fail "meson setup of the parent project"
meson introspect --targets "$tmp/build-sub" >"$tmp/targets.json"
for t in test_array fashion_mnist_mlp bench_mlp; do
    if grep -q "\"name\": \"$t\"" "$tmp/targets.json"; then fail "the subproject defines $t"; fi
done
grep -q '"name": "dezero"' "$tmp/targets.json" || fail "the subproject defines no library target"
logged "$tmp/sub_build.log" ninja -C "$tmp/build-sub" -j "$jobs" || fail "the parent project's build"
"$tmp/build-sub/app" "$tmp/build-sub/subprojects/dezero" || fail "the program built with the subproject"

step "the API reference"
if command -v doxygen >/dev/null; then
    logged "$tmp/docs.log" ninja -C "$tmp/build-inst" docs || fail "ninja docs"
    expect_file "$tmp/build-inst/docs/html/index.html"
    expect_file "$tmp/build-inst/docs/html/variable_8h.html"
    grep -q "dz_variable_backward" "$tmp/build-inst/docs/html/variable_8h.html" || fail "variable.h's page lacks dz_variable_backward"
else
    echo "doxygen not found: the API reference was not built"
fi

echo
if [ -n "$cmake_missing" ]; then
    echo "SKIP: $cmake_missing (the rest passed)"
    exit 77
fi
echo "packaging: all checks passed"

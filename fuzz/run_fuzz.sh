#!/usr/bin/env bash
# Fuzzes the npz reader: builds fuzz/fuzz_npz with clang, libFuzzer, ASan and
# UBSan in build-fuzz/ (a build directory of its own) and runs it for a
# bounded time, seeded with tests/fixtures/npz. Crash inputs land in
# build-fuzz/ as crash-*; new corpus entries in build-fuzz/corpus.
#   fuzz/run_fuzz.sh [seconds] [extra libFuzzer flags...]   (default 60 s)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build-fuzz"
seconds=${1:-60}
shift || true
if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" "$top" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all -Dbuildtype=debugoptimized -Dcuda=disabled \
    -Dtests=false -Dexamples=false -Dbenchmarks=false
fi
ninja -C "$build" fuzz/fuzz_npz
mkdir -p "$build/corpus"
cp "$top"/tests/fixtures/npz/*.np[yz] "$build/corpus/"
exec "$build/fuzz/fuzz_npz" -max_total_time="$seconds" -dict="$top/fuzz/npz.dict" \
  -artifact_prefix="$build/" -print_final_stats=1 "$@" "$build/corpus"

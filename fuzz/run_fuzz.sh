#!/usr/bin/env bash
# Fuzzes the parsers of outside data: the npz reader (fuzz_npz), the
# Fashion-MNIST IDX/gz reader (fuzz_idx), the text corpus and vocabulary
# (fuzz_text) and GetItem index specs (fuzz_getitem). Builds them with clang,
# libFuzzer, ASan and UBSan in build-fuzz/ (a build directory of its own) and
# runs each for an equal share of a bounded time, seeded with fuzz/seeds/<name>
# (and tests/fixtures/npz). Crash inputs land in build-fuzz/ as
# <target>-crash-*; replay one with build-fuzz/fuzz/<target> FILE. New corpus
# entries go to build-fuzz/corpus-<name>.
#   fuzz/run_fuzz.sh [seconds in all] [target...]   (default 60 s, every target)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build-fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(fuzz_npz fuzz_idx fuzz_text fuzz_getitem)
fi
if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" "$top" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all -Dbuildtype=debugoptimized -Dcuda=disabled \
    -Dtests=false -Dexamples=false -Dbenchmarks=false
fi
ninja -C "$build" "${targets[@]/#/fuzz/}"
# The idx and text targets write files: on a tmpfs they run many times faster.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm
fi
share=$(( seconds / ${#targets[@]} > 0 ? seconds / ${#targets[@]} : 1 ))
for target in "${targets[@]}"; do
  name=${target#fuzz_}
  corpus="$build/corpus-$name"
  mkdir -p "$corpus"
  extra=()
  if [ "$name" = npz ]; then
    cp "$top"/tests/fixtures/npz/*.np[yz] "$corpus/"
    extra=(-dict="$top/fuzz/npz.dict")
  else
    cp "$top/fuzz/seeds/$name"/* "$corpus/"
  fi
  echo "== $target for ${share} s"
  "$build/fuzz/$target" -max_total_time="$share" "${extra[@]}" -artifact_prefix="$build/$target-" \
    -print_final_stats=1 "$corpus"
done

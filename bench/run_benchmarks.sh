#!/bin/sh
# Builds the benchmarks and runs each C program with its PyTorch twin in the
# same run, then prints a Markdown table of both figures and the speed-up.
#
# Usage: bench/run_benchmarks.sh [BUILD_DIR]   (default: build; configured
# here with meson when it does not exist yet)
#
# Adding a benchmark: write bench/bench_X.c and bench/bench_X.py, each printing
# one line "<key> <value>" (lower is better), list bench_X in bench/meson.build,
# and add one line "X|description|unit" to BENCHMARKS below.
set -eu

BENCHMARKS='
overhead|per-op overhead: 2,000-op elementwise chain on 4 x f32, forward + backward|µs/op
'

PYTHON=/usr/bin/python3
src_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-build}

if [ ! -d "$build_dir" ]; then
    meson setup "$build_dir" "$src_dir" >/dev/null
fi
meson compile -C "$build_dir" >/dev/null

if "$PYTHON" -c 'import torch' 2>/dev/null; then
    have_torch=yes
else
    have_torch=no
fi

# The value from a benchmark's one-line output.
value_of() {
    awk 'NF == 2 { v = $2 } END { if (v == "") exit 1; print v }'
}

echo '| benchmark | dezero-c | PyTorch | speed-up |'
echo '|---|---|---|---|'
echo "$BENCHMARKS" | while IFS='|' read -r name description unit; do
    [ -n "$name" ] || continue
    c_value=$("$build_dir/bench/bench_$name" | value_of)
    if [ "$have_torch" = yes ]; then
        torch_value=$("$PYTHON" "$src_dir/bench/bench_$name.py" | value_of)
        speedup=$(awk -v c="$c_value" -v t="$torch_value" 'BEGIN { printf "%.1fx", t / c }')
        echo "| $description | $c_value $unit | $torch_value $unit | $speedup |"
    else
        echo "| $description | $c_value $unit | n/a | n/a |"
    fi
done

if [ "$have_torch" = no ]; then
    echo
    echo "PyTorch is unavailable ($PYTHON cannot import torch): only the dezero-c figures were measured."
fi

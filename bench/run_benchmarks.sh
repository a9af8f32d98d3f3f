#!/bin/sh
# Builds the benchmarks and runs each C program and its PyTorch twin in the
# same run, then prints a Markdown table of both figures and the speed-up.
#
# Usage: bench/run_benchmarks.sh [BUILD_DIR]   (default: build; configured
# here with meson when it does not exist yet)
#
# Each bench/bench_X.c prints lines "<key> <value>" (lower is better) and its
# twin bench/bench_X.py prints "<torch key> <value>" (the npz twin uses NumPy). A row of METRICS below
# names the program, the C key, the PyTorch key ('-' for a C-only figure), a
# description and the unit;
# to add a benchmark, list bench_X in bench/meson.build and add its rows.
set -eu

METRICS='
overhead|overhead_c_us_per_op|overhead_torch_us_per_op|per-op overhead: 2,000-op elementwise chain on 4 x f32, forward + backward|µs/op
linear|linear_fwd_bwd_ms|torch_linear_fwd_bwd_ms|Linear forward + backward, x (256, 1024), W (1024, 1024) f32|ms
linear|linear_three_sgemm_ms|-|the same work as three raw cblas_sgemm calls (no PyTorch figure)|ms
mlp|mlp_step_us|torch_mlp_step_us|2-10-3 MLP training step (linear, sigmoid, linear, softmax CE, SGD), batch 30|µs
getitem|getitem_forward_ms|getitem_forward_torch_ms|GetItem: gather 65,536 rows of 128 from (100000, 128) f32, forward|ms
getitem|getitem_forward_backward_ms|getitem_forward_backward_torch_ms|GetItem: the same, forward + backward|ms
embedding|embedding_forward_ms|torch_embedding_forward_ms|Embedding (100000, 128) f32, 65,536 indices: forward|ms
embedding|embedding_dense_fwd_bwd_ms|torch_embedding_dense_fwd_bwd_ms|Embedding: dense forward + backward|ms
embedding|embedding_sparse_fwd_bwd_ms|torch_embedding_sparse_fwd_bwd_ms|Embedding: sparse forward + backward|ms
optim|adam_step_ms|torch_adam_step_ms|Adam step, 10M f32 parameters|ms
optim|sparse_adam_step_ms_1m|torch_sparse_adam_step_ms_1m|SparseAdam step, (1,000,000, 64) table, 4,096 rows touched|ms
optim|sparse_adam_step_ms_100k|torch_sparse_adam_step_ms_100k|SparseAdam step, (100,000, 64) table, 4,096 rows touched|ms
npz|npz_save_stored_ms|numpy_save_stored_ms|save_weights of a 100 MB model, stored, vs np.savez (ours fsyncs)|ms
npz|npz_load_stored_ms|numpy_load_stored_ms|load_weights of the same file vs np.load|ms
npz|npz_save_compressed_ms|numpy_save_compressed_ms|save_weights compressed vs np.savez_compressed|ms
npz|npz_load_compressed_ms|numpy_load_compressed_ms|load_weights of the compressed file vs np.load|ms
'

PYTHON=/usr/bin/python3
src_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-build}
out_dir=$(mktemp -d)
trap 'rm -rf "$out_dir"' EXIT

if [ ! -d "$build_dir" ]; then
    meson setup "$build_dir" "$src_dir" >/dev/null
fi
meson compile -C "$build_dir" >/dev/null

if "$PYTHON" -c 'import torch' 2>/dev/null; then
    have_torch=yes
else
    have_torch=no
fi

# Runs each program (and its twin) once, in the order METRICS first names it.
programs=$(echo "$METRICS" | awk -F'|' 'NF > 1 && !seen[$1]++ { print $1 }')
for name in $programs; do
    "$build_dir/bench/bench_$name" > "$out_dir/$name.c"
    if [ "$have_torch" = yes ]; then
        "$PYTHON" "$src_dir/bench/bench_$name.py" > "$out_dir/$name.torch"
    fi
done

# The value printed for `key` in `file`.
value_of() {
    awk -v k="$1" '$1 == k { v = $2 } END { if (v == "") exit 1; print v }' "$2"
}

echo '| benchmark | dezero-c | PyTorch (NumPy for npz) | speed-up |'
echo '|---|---|---|---|'
echo "$METRICS" | while IFS='|' read -r name c_key torch_key description unit; do
    [ -n "$name" ] || continue
    c_value=$(value_of "$c_key" "$out_dir/$name.c")
    if [ "$torch_key" = - ]; then
        echo "| $description | $c_value $unit | | |"
    elif [ "$have_torch" = yes ]; then
        torch_value=$(value_of "$torch_key" "$out_dir/$name.torch")
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

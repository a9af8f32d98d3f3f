#!/bin/bash
# Runs bench/bench_gpu (dezero-c on the GPU) against its twin bench/bench_gpu.py
# (PyTorch on CUDA) and prints a Markdown table of the results.
#
# Usage: bench/run_gpu_benchmarks.sh BUILD_DIR [--rounds N] [--quick] [--budget S] [--timeout S]
#   BUILD_DIR    a meson build directory where bench/bench_gpu is built
#   --rounds N   rounds (default 5)
#   --quick      tiny sizes, for testing this script on the emulated device
#   --budget S   start no round that would end after S seconds (default: none)
#   --timeout S  kill a single process after S seconds (default 300)
#
# Protocol. A round is two fresh processes, one after the other: the C
# program, then its twin. Each times its own work (startup, the torch import
# and making the inputs excluded; every timed call ends by waiting for the
# GPU) and prints "<key> <value>" lines. Per round, ratio = twin / C for times
# and C / twin for GB/s, so a ratio above 1 means dezero-c is faster. The
# table shows each side's median over the rounds and the median ratio with
# its min-max. The twin's python is $PYTHON (default: python3, or
# /usr/bin/python3 when only that one imports torch). The C program exits
# with 77 without a device: the script then prints why and exits with 77.
set -u

usage() {
    sed -n 's/^# \{0,1\}//; 5,10p' "$0" >&2
    exit 2
}

rounds=5
quick=
budget=0
timeout_s=300
build_dir=
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) [ $# -ge 2 ] || usage; rounds=$2; shift 2 ;;
    --quick) quick=--quick; shift ;;
    --budget) [ $# -ge 2 ] || usage; budget=$2; shift 2 ;;
    --timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
    -*) usage ;;
    *) [ -z "$build_dir" ] || usage; build_dir=$1; shift ;;
    esac
done
[ -n "$build_dir" ] || usage
for n in "$rounds" "$budget" "$timeout_s"; do
    case $n in '' | *[!0-9]*) usage ;; esac
done
[ "$rounds" -gt 0 ] && [ "$timeout_s" -gt 0 ] || usage

src_dir=$(cd "$(dirname "$0")/.." && pwd)
program=$build_dir/bench/bench_gpu
if [ ! -x "$program" ]; then
    echo "run_gpu_benchmarks.sh: no $program: configure with -Dbenchmarks=true and run ninja -C $build_dir" >&2
    exit 2
fi
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import torch' 2>/dev/null && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    PYTHON=/usr/bin/python3
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$work/results"
: >"$work/failures"

# run SIDE ROUND COMMAND...: runs one process under the timeout and appends
# "SIDE ROUND KEY VALUE" lines to $work/results; returns its exit status. A
# failure other than 77 (skipped) is noted in $work/failures.
run() {
    local side=$1 round=$2 status=0
    shift 2
    timeout -k 10 "$timeout_s" "$@" >"$work/out" 2>"$work/err" || status=$?
    if [ $status -ne 0 ] && [ $status -ne 77 ]; then
        echo "- $side, round $round: exit status $status$([ $status -eq 124 ] && echo " (timed out after $timeout_s s)"):" \
            "$(tail -n 3 "$work/err" | tr '\n' ' ')" >>"$work/failures"
    fi
    awk -v p="$side $round" 'NF == 2 && $1 !~ /:$/ { print p, $1, $2 }' "$work/out" >>"$work/results"
    return $status
}

start=$(date +%s)
c_device='' twin_device='' twin_skip=''
round=1
while [ $round -le "$rounds" ]; do
    now=$(date +%s)
    if [ "$budget" -gt 0 ] && [ $round -gt 1 ] &&
        [ $((now - start + (now - start) / (round - 1))) -gt "$budget" ]; then
        echo "run_gpu_benchmarks.sh: stopping after $((round - 1)) rounds (budget $budget s)" >&2
        break
    fi
    echo "run_gpu_benchmarks.sh: round $round of $rounds" >&2
    status=0
    run c $round "$program" $quick || status=$?
    if [ $status -eq 77 ]; then
        echo "run_gpu_benchmarks.sh: bench_gpu skipped: $(sed -n 's/^SKIP: //p' "$work/out")"
        exit 77
    fi
    [ -n "$c_device" ] || c_device=$(sed -n 's/^bench_gpu: device //p' "$work/err")
    status=0
    run twin $round "$PYTHON" "$src_dir/bench/bench_gpu.py" $quick || status=$?
    [ $status -eq 77 ] && twin_skip=$(sed -n 's/^SKIP: //p' "$work/out")
    [ -n "$twin_device" ] || twin_device=$(sed -n 's/^bench_gpu.py: device //p' "$work/err")
    round=$((round + 1))
done
elapsed=$(($(date +%s) - start))

# The table. A row: C key | twin key | lower or higher is better | label | unit.
"$PYTHON" - "$work/results" "${HBM_PEAK_GBPS:-4800}" <<'EOF'
import statistics
import sys

ROWS = [
    ("gpu_embedding_forward_ms", "gpu_embedding_forward_ms", "lower",
     "Embedding (1,000,000, 256) f32, 1,048,576 int64 indices: forward", "ms"),
    ("gpu_embedding_forward_gbps", "gpu_embedding_forward_gbps", "higher",
     "the same forward: bytes moved / time", "GB/s"),
    ("gpu_embedding_dense_bwd_ms", "gpu_embedding_dense_bwd_ms", "lower",
     "Embedding: forward + dense backward (PyTorch default)", "ms"),
    ("gpu_embedding_dense_bwd_ms", "gpu_embedding_dense_bwd_det_ms", "lower",
     "Embedding: forward + dense backward (PyTorch use_deterministic_algorithms)", "ms"),
    ("gpu_embedding_sparse_bwd_ms", "gpu_embedding_sparse_bwd_ms", "lower",
     "Embedding: forward + sparse backward", "ms"),
    ("gpu_linear_fwd_bwd_ms", "gpu_linear_fwd_bwd_ms", "lower",
     "Linear x (8192, 4096), W (4096, 4096), b: forward + backward, f32 (no TF32)", "ms"),
    ("gpu_linear_fwd_bwd_ms", "gpu_three_gemms_ms", "lower",
     "the same Linear vs three raw torch.mm (cuBLAS) calls", "ms"),
    ("gpu_chain_2000_ms", "gpu_chain_2000_ms", "lower",
     "Elementwise chain, 2,000 ops on 64 f32: forward + backward", "ms"),
    ("gpu_fashion_mlp_epoch_s", "gpu_fashion_mlp_epoch_s", "lower",
     "MLP 784-256-10 ReLU, Adam, batch 100: one epoch of 60,000 images on the GPU", "s"),
    ("gpu_fashion_mlp_epoch_loss", "gpu_fashion_mlp_epoch_loss", None,
     "the same epoch: mean loss (a check; random labels give about 2.30)", ""),
]

results, peak_gbps = sys.argv[1], float(sys.argv[2])
value = {}  # (side, key) -> {round: value}
with open(results) as f:
    for line in f:
        side, rnd, key, v = line.split()
        value.setdefault((side, key), {})[int(rnd)] = float(v)


def num(x):
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 1 else f"{x:.3g}"


def median(side, key):
    v = value.get((side, key))
    return statistics.median(v.values()) if v else None


def cell(x, unit):
    return "n/a" if x is None else f"{num(x)} {unit}".strip()


print("| benchmark | dezero-c | PyTorch | ratio median (min–max) |")
print("|---|---|---|---|")
for c_key, twin_key, better, label, unit in ROWS:
    c, twin = value.get(("c", c_key), {}), value.get(("twin", twin_key), {})
    if not c and not twin:
        continue
    ratios = [c[r] / twin[r] if better == "higher" else twin[r] / c[r]
              for r in sorted(c) if r in twin and c[r] > 0 and twin[r] > 0]
    if better is None:
        spread = "—"
    elif ratios:
        spread = f"{num(statistics.median(ratios))} ({num(min(ratios))}–{num(max(ratios))})"
    else:
        spread = "n/a"
    twin_cell = cell(median("twin", twin_key), unit)
    if twin_key != c_key:
        twin_cell = f"{twin_key}: {twin_cell}"
    print(f"| {label} | {cell(median('c', c_key), unit)} | {twin_cell} | {spread} |")

c, twin = median("c", "gpu_embedding_forward_gbps"), median("twin", "gpu_embedding_forward_gbps")
if c is not None or twin is not None:
    share = lambda x: "n/a" if x is None else f"{100 * x / peak_gbps:.1f} %"
    print(f"\nEmbedding forward bandwidth against the H200's {peak_gbps / 1000:g} TB/s HBM peak: "
          f"dezero-c {share(c)}, PyTorch {share(twin)}.")
EOF

echo
echo "$(date -u +%F); dezero-c on ${c_device:-n/a}; PyTorch: ${twin_device:-${twin_skip:-n/a}};" \
    "rounds: $((round - 1))${quick:+ (--quick: tiny sizes, the labels above name the full ones)};" \
    "run time $((elapsed / 60)) min $((elapsed % 60)) s. Each round runs fresh processes of both sides;" \
    "the per-round ratio is PyTorch / dezero-c for times and dezero-c / PyTorch for GB/s (above 1: dezero-c is faster)."
if [ -s "$work/failures" ]; then
    echo
    echo "Failed runs (their rows show n/a or fewer rounds):"
    cat "$work/failures"
    exit 1
fi
exit 0

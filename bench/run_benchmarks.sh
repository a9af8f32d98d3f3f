#!/bin/sh
# Runs each benchmark program (bench/bench_X.c) against its twin
# (bench/bench_X.py: PyTorch, or NumPy where the reference is NumPy code) and
# prints a Markdown table of the results.
#
# Usage: bench/run_benchmarks.sh [--rounds N] [--only NAME[,NAME...]] [--quick] [--baseline DIR] [BUILD_DIR]
#   --rounds N   rounds per benchmark and thread setting (default 5)
#   --only NAMES programs to run, without the bench_ prefix (default: all)
#   --quick      fewer sizes and shorter budgets, for testing this script
#   --baseline DIR  compare with the C programs of another build (e.g. of an
#                earlier commit) instead of the twins: before / after, same run
#   BUILD_DIR    meson build directory (default: build; configured if missing)
#
# Protocol. For each program, at 1 thread and then at each side's default
# thread count, N rounds run; a round is three fresh processes, one after the
# other: the C program, its twin, and the twin again with glibc's malloc
# asking for transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1).
# Each process times its own work (startup and the torch import excluded) and
# prints "<key> <value>" lines; C program and twin print the same keys. Per
# round, ratio = twin / C for times (C / twin where higher is better), so a
# ratio above 1 means dezero-c is faster. The table shows each side's median
# over the rounds and the median ratio with its min-max.
#
# At 1 thread, both sides get --threads 1 (dz_set_num_threads /
# torch.set_num_threads) and OPENBLAS_NUM_THREADS = OMP_NUM_THREADS =
# DZ_NUM_THREADS = 1; at the defaults, none of these is set. The C programs
# also get OPENBLAS_THREAD_TIMEOUT=4: dezero-c keeps OpenBLAS at one thread,
# but bench_linear's raw sgemm baseline uses OpenBLAS's threads, which would
# otherwise spin for about 0.1 s after each call and take the cores from the
# library's threads in the Linear step that follows.
#
# With --baseline, the baseline build's program takes the twin's place in
# every round (no hugetlb run) and the ratio is baseline / this build.
#
# A row of ROWS names the program, the key, what the key is compared against
# ("twin", or another key of the same C run), whether lower or higher is
# better, the label and the unit. Rows whose key no run printed (sizes that
# --quick skips) are left out. To add a benchmark, list bench_X in
# bench/meson.build, write bench_X.c and bench_X.py, and add its rows.
set -eu

ROWS='
overhead|overhead_us_per_op_4|twin|lower|Elementwise chain, forward + backward: 4 f32 (2,000 ops)|µs/op
overhead|overhead_us_per_op_1024|twin|lower|Elementwise chain: 1,024 f32 (2,000 ops)|µs/op
overhead|overhead_us_per_op_65536|twin|lower|Elementwise chain: 65,536 f32 (chain shortened to 512 ops)|µs/op
overhead|overhead_us_per_op_1048576|twin|lower|Elementwise chain: 1,048,576 f32 (chain shortened to 64 ops)|µs/op
mlp|mlp_step_us_h10_b30|twin|lower|MLP 2-10-3 training step (sigmoid, softmax CE, SGD), batch 30|µs
mlp|mlp_step_us_h100_b30|twin|lower|MLP 2-100-3 training step, batch 30|µs
mlp|mlp_step_us_h1000_b30|twin|lower|MLP 2-1000-3 training step, batch 30|µs
mlp|mlp_step_us_h4000_b30|twin|lower|MLP 2-4000-3 training step, batch 30|µs
mlp|mlp_step_us_h10_b1024|twin|lower|MLP 2-10-3 training step, batch 1,024|µs
mlp|mlp_step_us_h100_b1024|twin|lower|MLP 2-100-3 training step, batch 1,024|µs
mlp|mlp_step_us_h1000_b1024|twin|lower|MLP 2-1000-3 training step, batch 1,024|µs
mlp|mlp_step_us_h4000_b1024|twin|lower|MLP 2-4000-3 training step, batch 1,024|µs
linear|linear_ms_256x1024x1024|twin|lower|Linear forward + backward, x requires grad: (batch, in, out) = (256, 1024, 1024)|ms
linear|linear_ms_256x1024x1024|linear_sgemm_ms_256x1024x1024|lower|the same Linear vs three raw cblas_sgemm calls (ratio sgemm / Linear)|ms
linear|linear_ms_1024x2048x2048|twin|lower|Linear forward + backward: (1024, 2048, 2048)|ms
linear|linear_ms_1024x2048x2048|linear_sgemm_ms_1024x2048x2048|lower|the same Linear vs three raw cblas_sgemm calls (ratio sgemm / Linear)|ms
linear|linear_ms_65536x256x256|twin|lower|Linear forward + backward: (65536, 256, 256)|ms
linear|linear_ms_65536x256x256|linear_sgemm_ms_65536x256x256|lower|the same Linear vs three raw cblas_sgemm calls (ratio sgemm / Linear)|ms
fashion_mnist|fashion_epoch_s|twin|lower|Fashion-MNIST 784-256-10 ReLU MLP, Adam, batch 100: one epoch (60,000 images)|s
fashion_mnist|fashion_peak_rss_mib|twin|lower|the same epoch: peak RSS of the process (PyTorch: with the interpreter and torch)|MiB
cbow|cbow_words_per_s|twin|higher|word2vec CBOW, negative sampling, vs the NumPy code of DLfS2 ch. 4 (higher is better)|words/s
getitem|getitem_forward_ms|twin|lower|GetItem: 65,536 rows of 128 from (100000, 128) f32, forward|ms
getitem|getitem_fwd_bwd_ms|twin|lower|GetItem: the same, forward + backward|ms
embedding|embedding_forward_ms|twin|lower|Embedding (100000, 128) f32, 65,536 indices: forward|ms
embedding|embedding_dense_fwd_bwd_ms|twin|lower|Embedding: dense forward + backward|ms
embedding|embedding_sparse_fwd_bwd_ms|twin|lower|Embedding: sparse forward + backward|ms
optim|adam_step_ms_10m|twin|lower|Adam step, 10M f32 parameters|ms
optim|sparse_adam_step_ms_1m_rows|twin|lower|SparseAdam step, (1,000,000, 64) table, 4,096 rows touched|ms
optim|sparse_adam_step_ms_100k_rows|twin|lower|SparseAdam step, (100,000, 64) table, 4,096 rows touched|ms
conv|conv_ms_100x1x32x28|twin|lower|conv2d 3x3 forward + backward, x requires grad: (batch, in, out, side) = (100, 1, 32, 28)|ms
conv|conv_ms_10x32x64x26|twin|lower|conv2d 3x3 forward + backward: (10, 32, 64, 26)|ms
conv|conv_ms_100x32x64x26|twin|lower|conv2d 3x3 forward + backward: (100, 32, 64, 26)|ms
conv|conv_ms_100x64x128x13|twin|lower|conv2d 3x3 forward + backward: (100, 64, 128, 13)|ms
conv|cnn_step_ms_b100|twin|lower|Fashion-MNIST CNN training step (2 conv pad 1 + relu + pool, linear, Adam), batch 100|ms
npz|npz_save_stored_ms_100mb|twin|lower|save_weights, 100 MB stored, vs np.savez (ours fsyncs)|ms
npz|npz_load_stored_ms_100mb|twin|lower|load_weights of that file vs np.load|ms
npz|npz_save_compressed_ms_25mb|twin|lower|save_weights, 25 MB compressed, vs np.savez_compressed|ms
npz|npz_load_compressed_ms_25mb|twin|lower|load_weights of that file vs np.load|ms
'
# Twins written with NumPy only (the others need torch too).
NUMPY_TWINS=' cbow npz '
PYTHON=/usr/bin/python3

usage() {
    sed -n 's/^# \{0,1\}//; 6,10p' "$0" >&2
    exit 2
}

rounds=5
only=
quick=
baseline=
build_dir=build
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) [ $# -ge 2 ] || usage; rounds=$2; shift 2 ;;
    --only) [ $# -ge 2 ] || usage; only=$(echo "$2" | tr ',' ' '); shift 2 ;;
    --quick) quick=--quick; shift ;;
    --baseline) [ $# -ge 2 ] || usage; baseline=$(cd "$2" && pwd); shift 2 ;;
    -*) usage ;;
    *) build_dir=$1; shift ;;
    esac
done
case $rounds in '' | *[!0-9]* | 0) usage ;; esac

all_programs=$(echo "$ROWS" | awk -F'|' 'NF > 1 && !seen[$1]++ { print $1 }')
programs=${only:-$all_programs}
for name in $programs; do
    case " $(echo $all_programs) " in
    *" $name "*) ;;
    *) echo "run_benchmarks.sh: no benchmark '$name' (one of: $(echo $all_programs))" >&2; exit 2 ;;
    esac
done

src_dir=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ ! -d "$build_dir" ]; then
    meson setup "$build_dir" "$src_dir" >/dev/null
fi
meson compile -C "$build_dir" >/dev/null

if "$PYTHON" -c 'import numpy, torch' 2>/dev/null; then
    versions=$("$PYTHON" -c 'import numpy, torch; print(torch.__version__, numpy.__version__, torch.get_num_threads())')
else
    versions=
    echo "run_benchmarks.sh: $PYTHON cannot import torch and numpy; only the dezero-c figures are measured" >&2
fi

# run SETTING SIDE ROUND NAME COMMAND...: runs one process and appends
# "SETTING SIDE ROUND KEY VALUE" lines to $work/results; a failure is noted
# in $work/failures with the end of its error output.
run() {
    run_label="$1 $2 $3" run_name=$4
    shift 4
    if "$@" >"$work/out" 2>"$work/err"; then :; else
        echo "- $run_name (threads, side, round: $run_label): exit status $?: $(tail -n 3 "$work/err" | tr '\n' ' ')" \
            >>"$work/failures"
    fi
    awk -v p="$run_label" 'NF == 2 { print p, $1, $2 }' "$work/out" >>"$work/results"
}

: >"$work/results"
start=$(date +%s)
for name in $programs; do
    case "$NUMPY_TWINS" in *" $name "*) twin_runs=yes ;; *) twin_runs=${versions:+yes} ;; esac
    for setting in 1 default; do
        if [ $setting = 1 ]; then
            threads='--threads 1'
            set -- env OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 DZ_NUM_THREADS=1
        else
            threads=
            set -- env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS -u DZ_NUM_THREADS
        fi
        round=1
        while [ $round -le "$rounds" ]; do
            echo "run_benchmarks.sh: $name, threads $setting, round $round of $rounds" >&2
            run $setting c $round $name "$@" OPENBLAS_THREAD_TIMEOUT=4 "$build_dir/bench/bench_$name" $threads $quick
            if [ -n "$baseline" ]; then
                run $setting twin $round $name "$@" OPENBLAS_THREAD_TIMEOUT=4 "$baseline/bench/bench_$name" $threads $quick
            elif [ "$twin_runs" = yes ]; then
                run $setting twin $round $name "$@" "$PYTHON" "$src_dir/bench/bench_$name.py" $threads $quick
                run $setting hugetlb $round $name "$@" GLIBC_TUNABLES=glibc.malloc.hugetlb=1 \
                    "$PYTHON" "$src_dir/bench/bench_$name.py" $threads $quick
            fi
            round=$((round + 1))
        done
    done
done
elapsed=$(($(date +%s) - start))

# The table: one line per row and thread setting.
echo "$ROWS" | awk -F'|' -v results="$work/results" -v twin_name="${baseline:+baseline build}" '
function sort(a, n,    i, j, x) {
    for (i = 2; i <= n; i++) {
        x = a[i]
        for (j = i - 1; j >= 1 && a[j] > x; j--)
            a[j + 1] = a[j]
        a[j + 1] = x
    }
}
function median(a, n) { sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function num(x) {
    return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : x >= 1 ? sprintf("%.2f", x) : sprintf("%.3g", x)
}
function ratio(x) { return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x) }
# The median over the rounds of side s key k at setting t, or "" when none ran.
function median_of(t, s, k,    r, a, n) {
    n = 0
    for (r = 1; r <= rounds; r++)
        if ((t, s, r, k) in value)
            a[++n] = value[t, s, r, k]
    return n ? median(a, n) : ""
}
# "median (min-max)" of the per-round ratios of side s against key k of C.
function ratios(t, s, ks, k, better,    r, a, n, lo, hi, x) {
    n = 0
    for (r = 1; r <= rounds; r++) {
        if (!((t, "c", r, k) in value) || !((t, s, r, ks) in value))
            continue
        x = better == "higher" ? value[t, "c", r, k] / value[t, s, r, ks] : value[t, s, r, ks] / value[t, "c", r, k]
        a[++n] = x
        lo = n == 1 || x < lo ? x : lo
        hi = n == 1 || x > hi ? x : hi
    }
    return n ? sprintf("%s (%s–%s)", ratio(median(a, n)), ratio(lo), ratio(hi)) : "n/a"
}
BEGIN {
    while ((getline line < results) > 0) {
        split(line, f, " ")
        value[f[1], f[2], f[3], f[4]] = f[5]
        if (f[3] > rounds)
            rounds = f[3]
    }
    if (twin_name == "")
        print "| benchmark | threads | dezero-c | PyTorch | ratio median (min–max) | PyTorch with hugetlb: ratio median (min–max) |"
    else
        print "| benchmark | threads | dezero-c | " twin_name " | ratio median (min–max) | — |"
    print "|---|---|---|---|---|---|"
}
NF > 1 {
    program = $1; key = $2; against = $3; better = $4; label = $5; unit = $6
    for (i = 1; i <= 2; i++) {
        t = i == 1 ? "1" : "default"
        c = median_of(t, "c", key)
        if (c == "")
            continue
        if (against == "twin") {
            other = median_of(t, "twin", key)
            other = other == "" ? "n/a" : num(other) " " unit
            spread = ratios(t, "twin", key, key, better)
            huge = ratios(t, "hugetlb", key, key, better)
        } else {
            other = median_of(t, "c", against)
            other = other == "" ? "n/a" : "raw sgemm " num(other) " " unit
            spread = ratios(t, "c", against, key, better)
            huge = "—"
        }
        printf "| %s | %s | %s %s | %s | %s | %s |\n", label, t, num(c), unit, other, spread, huge
    }
}'

if [ -n "$baseline" ]; then
    echo
    echo "$(date -u +%F); rounds: $rounds${quick:+ (--quick)}; run time $((elapsed / 60)) min $((elapsed % 60)) s." \
        "Baseline: the C programs of $(basename "$baseline"), alternating with this build's in every round;" \
        "ratio = baseline / this build for times (above 1: this build is faster)."
    [ -s "$work/failures" ] && { echo; echo "Failed runs:"; cat "$work/failures"; }
    exit 0
fi
set -- $versions
thp=$(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)
echo
echo "$(date -u +%F); $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs, Linux $(uname -r);" \
    "PyTorch ${1:-n/a}, NumPy ${2:-n/a}, $(getconf GNU_LIBC_VERSION 2>/dev/null || echo glibc);" \
    "rounds: $rounds${quick:+ (--quick)}; run time $((elapsed / 60)) min $((elapsed % 60)) s."
echo
echo "Threads: \"default\" is each side's own default: dezero-c $(nproc) (the online CPUs), PyTorch" \
    "${3:-n/a} (torch.get_num_threads() here); the NumPy twins (CBOW, npz) run single-threaded code." \
    "The PyTorch column is NumPy for the CBOW and npz rows. Each round runs fresh processes of both sides;" \
    "the per-round ratio is PyTorch / dezero-c for times and dezero-c / PyTorch for words/s (above 1: dezero-c is faster)."
echo
echo "Memory conditions: dezero-c asks for transparent huge pages (madvise) on its buffers of 4 MiB and more;" \
    "PyTorch 1.13 and NumPy allocate with plain malloc. Transparent huge pages on this machine: $thp." \
    "The hugetlb column runs the same twin with GLIBC_TUNABLES=glibc.malloc.hugetlb=1, which makes glibc's" \
    "malloc ask for transparent huge pages too, in the same rounds."
if [ -s "$work/failures" ]; then
    echo
    echo "Failed runs (their rows show n/a or fewer rounds):"
    cat "$work/failures"
fi

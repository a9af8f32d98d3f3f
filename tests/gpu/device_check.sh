#!/bin/bash
# The one-shot check of the CUDA backend on a machine with a GPU, in under 8
# minutes: configure and build with nvcc, run the CUDA test suites and the
# examples on the device, then the GPU benchmarks against PyTorch.
#
# Usage (from anywhere; it works in the repository root):
#   tests/gpu/device_check.sh [LOG_DIR]
# LOG_DIR, when given, receives the whole output (device_check.log) and
# meson's test log; the terminal gets the same output.
#
# It needs the CUDA Toolkit (/usr/local/cuda/bin/nvcc, else nvcc on PATH),
# meson, ninja, a C compiler and python3 with torch (for the benchmark twin;
# $PYTHON overrides). Check, zlib's headers and OpenBLAS may be missing: a
# tree of Debian packages unpacked by tests/gpu/fetch_debs.sh, at
# $DZ_DEPS_ROOT or shared/debs-root, then provides them (PKG_CONFIG_PATH,
# CPATH, LIBRARY_PATH, LD_LIBRARY_PATH, and its pkg-config when the machine
# has none). Each dependency is tried by building and running a small
# program; without OpenBLAS the build uses -Dblas=disabled, without Check
# -Dtests=false (the suites are then not run, which fails the check); without
# zlib nothing can be built.
#
# Steps: 1 machine, 2 dependencies, 3 configure (build-gpu: -Dcuda=enabled,
# -Dgpu_arch from nvidia-smi, else 90), 4 build (the nvcc module first, timed),
# 5 test_cuda and test_cuda_parity, 6 the examples spiral and
# fashion_mnist_mlp (one epoch, when the dataset is installed) with --device
# cuda, 7 bench/run_gpu_benchmarks.sh for the time left, 8 a summary.
# An existing build-gpu is reconfigured, not wiped, so a second run rebuilds
# only what changed.
#
# Exit status: 0 when the build and both suites pass; 1 when the build or a
# suite fails or the suites could not be built. Failures of the examples or
# the benchmarks are listed in the summary without changing the status.
#
# For trying the script on a machine without a GPU: DZ_CHECK_EMULATED=1
# builds the emulated device instead (-Dgpu_emulation=true) and runs the
# benchmarks with --quick; DZ_CHECK_BUILD_DIR names another build directory;
# DZ_CHECK_JOBS limits ninja's parallel jobs.
set -u

cd "$(dirname "$0")/../.." || exit 1
start=$(date +%s)
LIMIT_S=470 # the whole script, under 8 minutes
build=${DZ_CHECK_BUILD_DIR:-build-gpu}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
emulated=${DZ_CHECK_EMULATED:-0}
jobs=()
[ -n "${DZ_CHECK_JOBS:-}" ] && jobs=(-j "$DZ_CHECK_JOBS")
PYTHON=${PYTHON:-python3}
log_dir=${1:-}
if [ -n "$log_dir" ]; then
    mkdir -p "$log_dir" || exit 1
    exec > >(tee "$log_dir/device_check.log") 2>&1
fi

elapsed() { echo $(($(date +%s) - start)); }
left() { echo $((LIMIT_S - $(elapsed))); }
# limit S: the time left minus S seconds kept for the later steps (20 at least).
limit() { local t=$(($(left) - $1)); echo $((t < 20 ? 20 : t)); }
section() { printf '\n===== %s (at %d s) =====\n' "$1" "$(elapsed)"; }
failures=()      # lines for the summary
notes=()         # likewise, informational
fatal=0          # the exit status
fail() { failures+=("$1"); echo "FAILED: $1"; }
note() { notes+=("$1"); echo "NOTE: $1"; }

# summary_and_exit: the summary, then exit with $fatal.
summary_and_exit() {
    section "8. summary"
    [ ${#notes[@]} -gt 0 ] && printf 'note: %s\n' "${notes[@]}"
    if [ ${#failures[@]} -gt 0 ]; then
        printf 'FAILED: %s\n' "${failures[@]}"
    else
        echo "no failures"
    fi
    echo "device check finished in $(elapsed) s with exit status $fatal"
    exit $fatal
}

# --- 1. machine ---
section "1. machine"
echo "$(uname -srm); $(nproc) CPUs; repository at $(pwd), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader
else
    echo "nvidia-smi: not found"
fi
if [ -x /usr/local/cuda/bin/nvcc ]; then
    nvcc=/usr/local/cuda/bin/nvcc
else
    nvcc=$(command -v nvcc || true)
fi
if [ "$emulated" = 1 ]; then
    echo "DZ_CHECK_EMULATED=1: building the emulated device, not the GPU module"
elif [ -z "$nvcc" ]; then
    fail "no nvcc (neither /usr/local/cuda/bin/nvcc nor on PATH)"
    fatal=1
    summary_and_exit
else
    cuda_root=$(dirname "$(dirname "$nvcc")")
    echo "nvcc: $nvcc ($("$nvcc" --version | sed -n 's/.*release \([^,]*\),.*/\1/p')), toolkit $cuda_root"
fi
echo "meson $(meson --version 2>/dev/null || echo missing), ninja $(ninja --version 2>/dev/null || echo missing)," \
    "cc: $(cc --version 2>/dev/null | head -n 1 || echo missing)"
timeout 60 "$PYTHON" -c 'import torch
cuda = torch.cuda.is_available()
print("python torch", torch.__version__, "built for CUDA", torch.version.cuda, "| device:",
      torch.cuda.get_device_name() if cuda else "none")' 2>&1 || note "$PYTHON cannot import torch: the benchmarks run without the twin"

# --- 2. dependencies ---
section "2. dependencies"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
deps_root=${DZ_DEPS_ROOT:-shared/debs-root}
if [ -d "$deps_root" ]; then
    deps_root=$(cd "$deps_root" && pwd)
    pc_dirs=$(find "$deps_root" -type d -name pkgconfig | paste -sd: -)
    lib_dirs=$(find "$deps_root" -name '*.so*' -printf '%h\n' | sort -u | paste -sd: -)
    inc_dirs=$(find "$deps_root" -maxdepth 4 -type d -path '*/usr/include*' | paste -sd: -)
    export PKG_CONFIG_PATH=$pc_dirs${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
    export CPATH=$inc_dirs${CPATH:+:$CPATH}
    export LIBRARY_PATH=$lib_dirs${LIBRARY_PATH:+:$LIBRARY_PATH}
    # At run time only the libraries this machine lacks come from the tree
    # (linked into one directory), so its own zlib or libgfortran keep
    # serving its other programs (python and torch among them).
    mkdir "$work/runtime"
    known=$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null | awk 'NF > 1 { print $1 }')
    while read -r so; do
        name=$(basename "$so")
        grep -qx "$name" <<<"$known" || ln -sf "$so" "$work/runtime/$name"
    done < <(find "$deps_root" -name '*.so.[0-9]*')
    export LD_LIBRARY_PATH=$work/runtime${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    if ! command -v pkg-config >/dev/null && [ -x "$deps_root/usr/bin/pkg-config" ]; then
        export PATH=$deps_root/usr/bin:$PATH
        echo "pkg-config: the one in $deps_root"
    fi
    from_tree=$(find "$work/runtime" -regex '.*\.so\.[0-9]+' -printf '%f ')
    echo "using the packages unpacked in $deps_root; at run time, from there:" \
        "${from_tree:-nothing (this machine has every library)}"
else
    echo "no $deps_root (and no DZ_DEPS_ROOT): the machine's own libraries only"
fi
command -v pkg-config >/dev/null || note "no pkg-config: meson finds only what it can without one"

# probe NAME PKG SOURCE [FLAGS]: builds SOURCE against pkg-config package PKG
# (or with FLAGS when pkg-config does not know it) and runs it.
probe() {
    printf '%s\n' "$3" >"$work/$1.c"
    if cc -o "$work/$1" "$work/$1.c" $(pkg-config --cflags --libs "$2" 2>/dev/null || echo "${4:-}") \
        >"$work/$1.log" 2>&1 && "$work/$1" >>"$work/$1.log" 2>&1; then
        echo "$1: ok ($(pkg-config --modversion "$2" 2>/dev/null || echo 'no .pc file'))"
    else
        echo "$1: missing or broken: $(tail -n 2 "$work/$1.log" | tr '\n' ' ')"
        return 1
    fi
}
if ! probe zlib zlib '#include <zlib.h>
int main(void) { return zlibVersion()[0] != 0x31; }' -lz; then
    fail "zlib (zlib1g-dev) is missing: the library cannot be built; unpack it with tests/gpu/fetch_debs.sh"
    fatal=1
    summary_and_exit
fi
blas=enabled
probe openblas openblas '#include <cblas.h>
int main(void) { float a = 2, b = 3; return cblas_sdot(1, &a, 1, &b, 1) != 6; }' || {
    blas=disabled
    note "no OpenBLAS: configured with -Dblas=disabled"
}
tests=true
probe check check '#include <check.h>
int main(void) { srunner_free(srunner_create(suite_create("probe"))); return 0; }' || {
    tests=false
    note "no Check: configured with -Dtests=false, the CUDA suites cannot run"
}

# --- 3. configure ---
section "3. configure"
if [ "$emulated" = 1 ]; then
    device_opts=(-Dgpu_emulation=true)
else
    arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '. ')
    case $arch in '' | *[!0-9]*) arch=90 ;; esac
    device_opts=(-Dcuda=enabled -Dcudatoolkit="$cuda_root" -Dgpu_arch="$arch")
fi
opts=("${device_opts[@]}" "-Dtests=$tests" -Dexamples=true -Dbenchmarks=true "-Dblas=$blas")
[ -d "$build/meson-private" ] && reconfigure=--reconfigure || reconfigure=
echo "meson setup $reconfigure $build ${opts[*]}"
if ! timeout 120 meson setup $reconfigure "$build" "${opts[@]}" >"$work/setup.log" 2>&1; then
    tail -n 30 "$work/setup.log"
    fail "meson setup"
    fatal=1
    summary_and_exit
fi
sed -n '/Backends/,/^$/p' "$work/setup.log"

# --- 4. build ---
section "4. build"
t0=$(date +%s)
if timeout "$(limit 200)" ninja -C "$build" "${jobs[@]}" libdezero-cuda.so >"$work/module.log" 2>&1; then
    echo "CUDA module ($([ "$emulated" = 1 ] && echo 'host C++ compiler' || echo nvcc)): $(($(date +%s) - t0)) s"
else
    grep -E 'error|Error' "$work/module.log" | head -n 20
    tail -n 10 "$work/module.log"
    fail "building the CUDA module"
    fatal=1
    summary_and_exit
fi
t0=$(date +%s)
# -k 0: build every target that can be built, so the later steps run what exists.
if timeout "$(limit 150)" ninja -C "$build" "${jobs[@]}" -k 0 >"$work/build.log" 2>&1; then
    echo "the rest (library, tests, examples, benchmarks): $(($(date +%s) - t0)) s"
else
    grep -E 'error|FAILED' "$work/build.log" | head -n 20
    fail "ninja -C $build (some targets, listed above)"
    fatal=1
fi

# --- 5. the CUDA suites ---
section "5. test_cuda, test_cuda_parity"
if [ "$tests" = true ]; then
    if timeout "$(limit 120)" meson test -C "$build" --no-rebuild --print-errorlogs test_cuda test_cuda_parity; then
        echo "both suites pass"
    else
        fail "test_cuda / test_cuda_parity (logs above)"
        fatal=1
    fi
    grep -E '^[0-9]+%: Checks' "$build/meson-logs/testlog.txt" 2>/dev/null
    [ -n "$log_dir" ] && cp "$build/meson-logs/testlog.txt" "$log_dir/" 2>/dev/null
else
    fail "the CUDA suites were not built (no Check)"
    fatal=1
fi

# --- 6. examples ---
section "6. examples on the device"
run_dir=$(mktemp -d) # the examples write into runs/ under the working directory
if [ -x "$build/examples/spiral" ]; then
    (cd "$run_dir" && timeout 60 "$build/examples/spiral" --device cuda) || fail "spiral --device cuda: status $?"
else
    fail "no $build/examples/spiral"
fi
fashion_dir=${DZ_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -f "$fashion_dir/train-images-idx3-ubyte.gz" ]; then
    note "fashion_mnist_mlp skipped: no Fashion-MNIST in $fashion_dir (Debian's dataset-fashion-mnist, or DZ_FASHION_MNIST_DIR)"
elif [ -x "$build/examples/fashion_mnist_mlp" ]; then
    (cd "$run_dir" && timeout 120 "$build/examples/fashion_mnist_mlp" --device cuda --epochs 1) ||
        fail "fashion_mnist_mlp --device cuda --epochs 1: status $?"
else
    fail "no $build/examples/fashion_mnist_mlp"
fi
rm -rf "$run_dir"

# --- 7. benchmarks ---
section "7. GPU benchmarks"
budget=$(($(left) - 15))
if [ ! -x "$build/bench/bench_gpu" ]; then
    fail "no $build/bench/bench_gpu"
elif [ "$budget" -lt 45 ]; then
    note "benchmarks skipped: $budget s left"
else
    quick=
    [ "$emulated" = 1 ] && quick=--quick
    echo "bench/run_gpu_benchmarks.sh $build --rounds 5 $quick (budget $budget s)"
    status=0
    PYTHON=$PYTHON timeout $((budget + 10)) bench/run_gpu_benchmarks.sh "$build" --rounds 5 $quick \
        --budget "$budget" --timeout $((budget < 180 ? budget : 180)) || status=$?
    case $status in
    0) ;;
    77) fail "bench_gpu found no CUDA device" ;;
    124) fail "the benchmarks ran out of time" ;;
    *) fail "run_gpu_benchmarks.sh: status $status" ;;
    esac
fi

summary_and_exit

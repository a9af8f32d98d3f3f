#!/bin/bash
# The examples' command lines and output files.
#   test_examples.sh cli DIR                    --help and bad arguments of every example and
#                                               notebook program
#   test_examples.sh spiral_run DIR             2 epochs of spiral: CSV files, plots, and the
#                                               same run with gnuplot hidden
#   test_examples.sh fashion_mnist_mlp_run DIR  2 epochs on 500 images (skipped, 77, without
#                                               Fashion-MNIST)
# DIR is the build directory of the examples.
set -u
what=$1
bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# The options each example must list in --help (besides --help itself).
declare -A options=(
    [spiral]="epochs batch-size lr hidden seed threads device output-dir"
    [fashion_mnist_mlp]="epochs batch-size lr hidden train-images test-images data seed threads device output-dir"
    [fashion_mnist_cnn]="epochs batch-size lr train-images test-images data seed threads device output-dir"
    [word2vec_cbow]="data max-bytes epochs batch-size lr window negatives seed threads output-dir"
    [char_lm]="data max-bytes epochs batch-size bptt embed hidden lr clip sample-every sample-length temperature prompt seed threads output-dir"
    [newton]="x0 iterations"
    [tanh_graph]="order output-dir"
    [embedding_dezero]=""
    [embedding_pytorch]=""
    [dlfs2_embedding]="output-dir"
    [torch_embedding]="output-dir weights"
    [embedding_lookup]="output-dir weights"
    [dezero_layers]="output-dir"
)
# The notebook programs, which are in DIR/notebooks.
notebooks=" dlfs2_embedding torch_embedding embedding_lookup dezero_layers "

# program EXAMPLE: the path of its executable
program() {
    if [[ $notebooks == *" $1 "* ]]; then
        echo "$bin/notebooks/$1"
    else
        echo "$bin/$1"
    fi
}

# run EXPECTED_STATUS PATTERN EXAMPLE ARGS...: the status, and PATTERN (grep -E)
# in what the example wrote to stderr (stdout for status 0).
run() {
    local expected=$1 pattern=$2 example=$3
    shift 3
    "$(program "$example")" "$@" >"$tmp/out" 2>"$tmp/err"
    local status=$? where="$tmp/err"
    [ "$expected" = 0 ] && where="$tmp/out"
    if [ "$status" != "$expected" ]; then
        fail "$example $*: status $status, expected $expected; stderr: $(head -c 600 "$tmp/err")"
    elif ! grep -qE -- "$pattern" "$where"; then
        fail "$example $*: no /$pattern/ in: $(head -c 600 "$where")"
    fi
}

# lines FILE: its number of lines
lines() { wc -l <"$1" | tr -d ' '; }

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }

check_cli() {
    local example name
    for example in "${!options[@]}"; do
        run 0 "^Usage: $example" "$example" --help
        for name in ${options[$example]}; do
            grep -qE -- "^  --$name .*\(default: " "$tmp/out" || fail "$example --help: no --$name with its default"
        done
        local listed
        listed=$(grep -cE '^  --' "$tmp/out")
        [ "$listed" = "$(wc -w <<<"${options[$example]}")" ] ||
            fail "$example --help lists $listed options, expected: ${options[$example]}"
        run 0 "^Usage: $example" "$example" -h
        run 2 "unknown option '--no-such-option'" "$example" --no-such-option
        grep -q "Try '$example --help'" "$tmp/err" || fail "$example: no hint to --help"
        run 2 "unexpected argument 'extra'" "$example" extra
        run 2 "option '--help=1' takes no value" "$example" --help=1
    done
    for example in spiral fashion_mnist_mlp fashion_mnist_cnn word2vec_cbow char_lm; do
        run 2 "invalid value '-1' for --epochs: expected an integer from 1 to" "$example" --epochs -1
        run 2 "invalid value '2.5' for --epochs" "$example" --epochs 2.5
        run 2 "invalid value 'abc' for --lr: expected a number > 0" "$example" --lr abc
        run 2 "invalid value '0' for --lr" "$example" --lr 0
        run 2 "option '--batch-size' needs a value: an integer" "$example" --batch-size
        run 2 "invalid value '-3' for --threads" "$example" --threads -3
        run 2 "invalid value '4294967296' for --seed" "$example" --seed 4294967296
        run 2 "unexpected argument '5'" "$example" --epochs 1 5
    done
    for example in spiral fashion_mnist_mlp fashion_mnist_cnn; do
        run 2 "invalid value 'tpu' for --device: expected one of cpu\|gpu" "$example" --device tpu
    done
    run 2 "invalid value '70000' for --train-images: expected an integer from 0 to 60000" fashion_mnist_mlp \
        --train-images 70000
    run 2 "invalid value '-1' for --max-bytes: expected an integer from 0 to" word2vec_cbow --max-bytes -1
    run 2 "invalid value '0' for --negatives" word2vec_cbow --negatives 0
    run 2 "invalid value '0' for --bptt" char_lm --bptt 0
    run 2 "invalid value '0' for --temperature: expected a number > 0" char_lm --temperature 0
    run 2 "option '--data' needs a value: a FILE\|DIR" char_lm --data
    run 2 "invalid value 'x' for --x0" newton --x0 x
    run 2 "invalid value '9' for --order" tanh_graph --order 9
    # Without a device the library's reason, and status 1; with one (or the
    # emulated device), a run.
    "$bin/spiral" --device gpu --epochs 1 --output-dir "$tmp/gpu" >"$tmp/out" 2>"$tmp/err"
    local status=$?
    if [ "$status" = 1 ]; then
        grep -q "^spiral: .*no CUDA device" "$tmp/err" || fail "spiral --device gpu: $(cat "$tmp/err")"
    elif [ "$status" != 0 ]; then
        fail "spiral --device gpu: status $status: $(cat "$tmp/err")"
    fi
    run 0 "wrote .*/tanh.dot" tanh_graph --order 2 --output-dir "$tmp/tanh/a"
    [ -s "$tmp/tanh/a/tanh.dot" ] || fail "tanh_graph wrote no $tmp/tanh/a/tanh.dot"
    run 0 "^4 " newton --iterations 5
    run 2 "unknown option '--weights'" dlfs2_embedding --weights w.npz
    run 2 "option '--weights' needs a value: a FILE" torch_embedding --weights
    run 1 "^embedding_lookup: .*$tmp/none.npz" embedding_lookup --weights "$tmp/none.npz"
    run 0 "^# In\[1\]: " dezero_layers --output-dir "$tmp/notebook/a"
    [ -s "$tmp/notebook/a/dezero_layers.npz" ] || fail "dezero_layers wrote no $tmp/notebook/a/dezero_layers.npz"
}

# check_csv FILE HEADER ROWS
check_csv() {
    [ -f "$1" ] || { fail "no $1"; return; }
    [ "$(head -n 1 "$1")" = "$2" ] || fail "$1: header $(head -n 1 "$1"), expected $2"
    [ "$(lines "$1")" = $(($3 + 1)) ] || fail "$1: $(($(lines "$1") - 1)) rows, expected $3"
}

# check_plot DIR NAME: NAME.png drawn by gnuplot when it is on PATH; the
# script NAME.gp is there either way.
check_plot() {
    [ -s "$1/$2.gp" ] || fail "no $1/$2.gp"
    if command -v gnuplot >/dev/null; then
        is_png "$1/$2.png" || fail "$1/$2.png is missing or not a PNG"
        grep -q "^wrote $1/$2.png" "$tmp/out" || fail "no 'wrote $1/$2.png' in the output"
    fi
}

check_spiral() {
    local out=$tmp/runs/nested/spiral
    run 0 "^accuracy on the 300 points" spiral --epochs 2 --output-dir "$out"
    check_csv "$out/metrics.csv" "epoch,loss,accuracy,seconds,lr" 2
    check_csv "$out/boundary_grid.csv" "x,y,class" 40000
    check_csv "$out/points.csv" "x,y,class" 300
    check_plot "$out" loss
    check_plot "$out" boundary
    grep -q $'\r' "$tmp/out" && fail "spiral wrote a progress line (\\r) to a file"
    # gnuplot hidden: the CSV files and scripts, and one line saying how to draw
    out=$tmp/hidden
    PATH=/nonexistent "$bin/spiral" --epochs 3 --output-dir "$out" >"$tmp/out" 2>"$tmp/err" ||
        fail "spiral without gnuplot: status $?: $(cat "$tmp/err")"
    check_csv "$out/metrics.csv" "epoch,loss,accuracy,seconds,lr" 3
    [ -s "$out/loss.gp" ] || fail "no $out/loss.gp without gnuplot"
    [ -e "$out/loss.png" ] && fail "$out/loss.png without gnuplot"
    grep -q "^gnuplot is not on PATH.*gnuplot $out/loss.gp\$" "$tmp/out" ||
        fail "no hint to run gnuplot $out/loss.gp in: $(cat "$tmp/out")"
    grep -q "gnuplot $out/boundary.gp\$" "$tmp/out" || fail "no hint to run gnuplot $out/boundary.gp"
}

check_fashion_mnist_mlp() {
    local data=${DZ_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
    if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
        echo "SKIP: no Fashion-MNIST in $data"
        exit 77
    fi
    local out=$tmp/mlp
    run 0 "saved the weights as $out/weights.npz" fashion_mnist_mlp --epochs 2 --train-images 500 \
        --test-images 200 --batch-size 50 --hidden 32 --output-dir "$out"
    grep -q "^Fashion-MNIST: 500 training and 200 test images" "$tmp/out" || fail "not 500 and 200 images"
    [ "$(grep -cE '^ +[0-9]+ ' "$tmp/out")" = 2 ] || fail "not one table row per epoch: $(cat "$tmp/out")"
    grep -q $'\r' "$tmp/out" && fail "a progress line (\\r) in a file"
    check_csv "$out/metrics.csv" "epoch,train_loss,train_accuracy,test_accuracy,seconds,lr" 2
    [ -s "$out/weights.npz" ] || fail "no $out/weights.npz"
    check_plot "$out" loss
}

case $what in
cli) check_cli ;;
spiral_run) check_spiral ;;
fashion_mnist_mlp_run) check_fashion_mnist_mlp ;;
*)
    echo "unknown test $what"
    exit 1
    ;;
esac
[ "$failures" = 0 ] || { echo "$failures failures"; exit 1; }
echo "passed"

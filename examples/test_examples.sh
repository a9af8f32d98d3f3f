#!/bin/bash
# The examples' command lines and output files.
#   test_examples.sh cli DIR                    --help and bad arguments of every example and
#                                               notebook program
#   test_examples.sh spiral_run DIR             2 epochs of spiral: CSV files, plots, and the
#                                               same run with gnuplot hidden
#   test_examples.sh fashion_mnist_mlp_run DIR  2 epochs on 500 images (skipped, 77, without
#                                               Fashion-MNIST)
#   test_examples.sh spiral_resume DIR          checkpoints: 4 epochs of spiral against 2 epochs
#                                               and --resume to 4 (the same files and losses), and
#                                               --resume refused where it does not fit
#   test_examples.sh fashion_mnist_resume DIR   the same for the MLP on 500 images and the CNN
#                                               on 64 (skipped, 77, without Fashion-MNIST)
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
    [spiral]="epochs batch-size lr schedule warmup step-size gamma hidden seed threads device output-dir resume"
    [fashion_mnist_mlp]="epochs batch-size lr schedule warmup step-size gamma hidden train-images test-images data
                         seed threads device output-dir resume"
    [fashion_mnist_cnn]="epochs batch-size lr schedule warmup step-size gamma train-images test-images data seed
                         threads device output-dir resume"
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

# need_fashion_mnist: skip the test (77) where the Fashion-MNIST files are missing.
need_fashion_mnist() {
    local data=${DZ_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
    if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
        echo "SKIP: no Fashion-MNIST in $data"
        exit 77
    fi
}

check_fashion_mnist_mlp() {
    need_fashion_mnist
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

# same_metrics A B FIELDS: the columns FIELDS (cut -f) of A/metrics.csv and
# B/metrics.csv are the same, row for row.
same_metrics() {
    if ! cmp -s <(cut -d, -f"$3" "$1/metrics.csv") <(cut -d, -f"$3" "$2/metrics.csv"); then
        fail "metrics.csv columns $3 differ: $(cut -d, -f"$3" "$1/metrics.csv" | tr '\n' ' ') vs" \
            "$(cut -d, -f"$3" "$2/metrics.csv" | tr '\n' ' ')"
    fi
}

# same_checkpoint A B: A/checkpoint.npz and B/checkpoint.npz are the same
# bytes (weights, optimizer, schedule, generator, loader, epoch and step).
same_checkpoint() {
    [ -s "$1/checkpoint.npz" ] || { fail "no $1/checkpoint.npz"; return; }
    cmp -s "$1/checkpoint.npz" "$2/checkpoint.npz" || fail "$1/checkpoint.npz and $2/checkpoint.npz differ"
}

# resume_matches EXAMPLE FIELDS ARGS...: EXAMPLE ARGS --epochs 4 in one
# directory, and --epochs 2 then --resume --epochs 4 in another, compute the
# same: the same checkpoint (and weights.npz where there is one), and the same
# metrics (FIELDS: all but seconds). A row of an epoch after the checkpoint's
# (a run stopped between its row and its checkpoint) is dropped on resuming.
resume_matches() {
    local example=$1 fields=$2 a=$tmp/$1/whole b=$tmp/$1/resumed
    shift 2
    run 0 "" "$example" "$@" --epochs 4 --output-dir "$a"
    run 0 "" "$example" "$@" --epochs 2 --output-dir "$b"
    check_csv "$b/metrics.csv" "$(head -n 1 "$a/metrics.csv")" 2
    echo "3,9,9,9,9,9" >>"$b/metrics.csv"
    ln -f "$b/metrics.csv" "$tmp/old_metrics.csv" # the file is replaced (renamed over), not rewritten in place
    run 0 "^resumed from $b/checkpoint.npz after epoch 2 of 4" "$example" "$@" --epochs 4 --output-dir "$b" --resume
    grep -q "dropped 1 row(s) of epochs after 2" "$tmp/out" || fail "$example --resume: no row dropped"
    grep -q "^3,9,9,9,9,9$" "$tmp/old_metrics.csv" || fail "$example --resume: metrics.csv rewritten in place"
    check_csv "$b/metrics.csv" "$(head -n 1 "$a/metrics.csv")" 4
    same_metrics "$a" "$b" "$fields"
    same_checkpoint "$a" "$b"
    if [ -f "$a/weights.npz" ]; then
        cmp -s "$a/weights.npz" "$b/weights.npz" || fail "$example: weights.npz differs after --resume"
    fi
}

# refused STATUS PATTERN EXAMPLE ARGS...: as run, and the checkpoint is as it was.
refused() {
    local dir=$tmp/spiral/whole
    cp "$dir/checkpoint.npz" "$tmp/before.npz"
    run "$@"
    cmp -s "$dir/checkpoint.npz" "$tmp/before.npz" || fail "a refused --resume changed $dir/checkpoint.npz"
}

check_spiral_resume() {
    resume_matches spiral 1,2,3,5
    # nothing left to train: the outputs again, from the checkpoint
    run 0 "^resumed from .* after epoch 4 of 4" spiral --epochs 4 --output-dir "$tmp/spiral/resumed" --resume
    check_csv "$tmp/spiral/resumed/metrics.csv" "epoch,loss,accuracy,seconds,lr" 4
    # a schedule (warm-up, then a step decay): its state goes on too
    resume_matches spiral 1,2,3,5 --schedule step --warmup 1 --step-size 1 --gamma 0.5 --lr 0.5
    grep -q "^1,.*,0.25$" "$tmp/spiral/resumed/metrics.csv" || fail "no warm-up (lr 0.25) in epoch 1"
    grep -q "^4,.*,0.125$" "$tmp/spiral/resumed/metrics.csv" || fail "no step decay (lr 0.125) in epoch 4"
    local dir=$tmp/spiral/whole
    run 1 "^spiral: --resume: no checkpoint to continue from: $tmp/empty/checkpoint.npz" spiral --resume \
        --output-dir "$tmp/empty"
    refused 1 "^spiral: cannot resume: .*'model/l0/b' has shape \(10,\) but the model's parameter is \(16,\)" \
        spiral --resume --epochs 4 --output-dir "$dir" --hidden 16 --schedule step --warmup 1 --step-size 1 --lr 0.5
    grep -q "^Hint: resume with the options of the run that saved it" "$tmp/err" || fail "no hint: $(cat "$tmp/err")"
    refused 1 "its run had --lr 0.5, this one has --lr 1" spiral --resume --epochs 4 --output-dir "$dir" \
        --schedule step --warmup 1 --step-size 1
    refused 1 "its run had a SequentialLR as the learning-rate schedule, this one has none" spiral --resume \
        --epochs 4 --output-dir "$dir" --lr 0.5
    refused 1 "cannot resume: .*StepLR in the checkpoint has other hyperparameters" spiral --resume --epochs 4 \
        --output-dir "$dir" --schedule step --warmup 1 --step-size 2 --lr 0.5
    refused 1 "it is at epoch 4, after --epochs 3; give --epochs 4 or more" spiral --resume --epochs 3 \
        --output-dir "$dir" --schedule step --warmup 1 --step-size 1 --lr 0.5
    refused 1 "cannot resume: .*batches of 30, the loader given makes batches of 20" spiral --resume --epochs 4 \
        --output-dir "$dir" --schedule step --warmup 1 --step-size 1 --lr 0.5 --batch-size 20
    # the new options on the command line
    run 2 "option '--resume=1' takes no value" spiral --resume=1
    run 2 "invalid value 'linear' for --schedule: expected one of none\|cosine\|step" spiral --schedule linear
    run 2 "invalid value '2' for --gamma: expected a number from 0 to 1" spiral --gamma 2
    run 2 "--schedule cosine needs epochs after the warm-up: --warmup 3, --epochs 3" spiral --schedule cosine \
        --warmup 3 --epochs 3 --output-dir "$tmp/conflict"
    [ -e "$tmp/conflict" ] && fail "spiral made its output directory before refusing its options"
    run 0 "resume .*\(default: off\)" spiral --help
}

check_fashion_mnist_resume() {
    need_fashion_mnist
    local small=(--train-images 500 --test-images 200 --batch-size 50 --hidden 32)
    resume_matches fashion_mnist_mlp 1-4,6 "${small[@]}" --schedule step --warmup 1 --step-size 1
    # the lazy weights take the file's shapes: the bias of the hidden layer tells the sizes apart
    local wider="'model/l0/b' has shape \\(32,\\) but the model's parameter is \\(64,\\)"
    run 1 "^fashion_mnist_mlp: cannot resume: .*$wider" \
        fashion_mnist_mlp --resume --epochs 4 --output-dir "$tmp/fashion_mnist_mlp/whole" "${small[@]}" \
        --schedule step --warmup 1 --step-size 1 --hidden 64
    resume_matches fashion_mnist_cnn 1-4,6 --train-images 64 --test-images 32 --batch-size 16
}

case $what in
cli) check_cli ;;
spiral_run) check_spiral ;;
fashion_mnist_mlp_run) check_fashion_mnist_mlp ;;
spiral_resume) check_spiral_resume ;;
fashion_mnist_resume) check_fashion_mnist_resume ;;
*)
    echo "unknown test $what"
    exit 1
    ;;
esac
[ "$failures" = 0 ] || { echo "$failures failures"; exit 1; }
echo "passed"

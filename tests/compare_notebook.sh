#!/bin/sh
# Runs a notebook program and compares its stdout with what NumPy / PyTorch
# print for the same cells, byte for byte.
#
#   compare_notebook.sh EXPECTED OUTPUT_DIR PROGRAM [ARGS...]
#
# PROGRAM runs with --output-dir OUTPUT_DIR (created) and ARGS; its stdout is
# kept as OUTPUT_DIR/stdout. Exits 1 with a unified diff (expected first)
# when they differ, or when the program fails.
set -eu

expected=$1
outdir=$2
shift 2
mkdir -p "$outdir"
status=0
"$@" --output-dir "$outdir" >"$outdir/stdout" || status=$?
if [ "$status" -ne 0 ]; then
    echo "$1 exited with status $status" >&2
    exit 1
fi
if ! cmp -s "$expected" "$outdir/stdout"; then
    echo "$1: stdout differs from $expected (- expected, + got):" >&2
    diff -u "$expected" "$outdir/stdout" >&2 || true
    exit 1
fi
echo "$1: stdout equals $expected"

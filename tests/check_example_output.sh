#!/bin/bash
# Runs an example program and checks that it exits 0 and prints, for each
# pattern, a line matching it (an extended regular expression).
#
#   check_example_output.sh DATA PATTERN... -- PROGRAM [ARGS...]
#
# Skips (exit 77) when DATA, the file or directory the example reads, is
# missing (the fortunes examples need Debian's fortunes package).
data=$1
shift
patterns=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    patterns+=("$1")
    shift
done
shift
if [ ! -e "$data" ]; then
    echo "skipped: $data is missing (on Debian: apt-get install fortunes)"
    exit 77
fi
output=$("$@" 2>&1)
status=$?
printf '%s\n' "$output"
if [ $status -ne 0 ]; then
    echo "FAIL: $1 exited with status $status"
    exit 1
fi
failed=0
for pattern in "${patterns[@]}"; do
    if ! grep -Eaq -- "$pattern" <<<"$output"; then
        echo "FAIL: no line of the output matches '$pattern'"
        failed=1
    fi
done
exit $failed

#!/bin/sh
# The device-agnostic rule (top of src/backend/backend.h): outside the
# backends, no code reads or writes an array's elements through `->data`.
#
#   check_device_agnostic.sh ROOT              scan ROOT's library sources
#   check_device_agnostic.sh --files FILE...   scan these files
#   check_device_agnostic.sh --self-test DIR   DIR/violations.c must be flagged
#                                              on every code line, DIR/allowed.c
#                                              on none
#
# Prints file:line: what: code for each element access and exits 1 when
# there is one. A line is flagged when, after comments and string literals
# are removed, it
#   cast      casts `->data` to a pointer to elements     (float *)a->data
#   pointer   declares a pointer to elements from it      int64_t *p = a->data;
#   index     indexes it, or adds to it                   a->data[i], a->data + off
#   memory    passes it to a C memory or stdio function,  memcpy(a->data, ...)
#             or to dz_index_at (which reads host elements) dz_index_at(t->data, ...)
#   variable  takes the elements of a variable's array    v->data->data
# unless the line calls a backend primitive: `be->`, `backend->`,
# `dz_backend_of(...)->` or `dz_backend_for(...)->` followed by `(`, which
# hand the device's own pointer to the device's own kernel. A Variable's
# `v->data` (its dz_array) matches none of these.
#
# Not scanned: src/backend (the kernels themselves), src/core/host_view.c (the
# one door to the host), src/io/zip.c (its `->data` is the bytes of an
# archive, not an array) and src/data (the dataset readers).
set -eu

scan() {
    awk '
    function strip(line,    out, i, c, n) {   # comments and strings removed
        out = ""
        n = length(line)
        for (i = 1; i <= n; i++) {
            c = substr(line, i, 1)
            if (in_comment) {
                if (c == "*" && substr(line, i + 1, 1) == "/") { in_comment = 0; i++ }
                continue
            }
            if (c == "/" && substr(line, i + 1, 1) == "*") { in_comment = 1; i++; continue }
            if (c == "/" && substr(line, i + 1, 1) == "/") break
            if (c == "\"" || c == "'\''") {
                q = c
                for (i++; i <= n && substr(line, i, 1) != q; i++)
                    if (substr(line, i, 1) == "\\") i++
                out = out q q
                continue
            }
            out = out c
        }
        return out
    }
    FNR == 1 { in_comment = 0 }
    {
        code = strip($0)
        if (code !~ /->data/)
            next
        # The elements of a variable'"'"'s array, then its other fields.
        if (code ~ /->data->data([^A-Za-z0-9_]|$)/) { report("variable"); next }
        gsub(/->data->/, "->ARRAY_FIELD->", code)
        if (code ~ /(^|[^A-Za-z0-9_])(be|backend)->[a-z_]+ *\(/ ||
            code ~ /dz_backend_(of|for)\([^()]*(\([^()]*\))?[^()]*\)->[a-z_]+ *\(/)
            next
        ref = "[(*]*[A-Za-z_][A-Za-z0-9_]*\\)?(->[A-Za-z_][A-Za-z0-9_]*|\\[[^]]*\\])*->data"
        scalar = "(void|char|float|double|_Float16|bool|int|short|long|size_t|u?int8_t|u?int16_t|u?int32_t|u?int64_t)"
        if (code ~ ("\\((const +)?(unsigned +|signed +)?" scalar " *(const *)?\\* *\\) *" ref "([^A-Za-z0-9_]|$)"))
            report("cast")
        else if (code ~ ("(^|[^A-Za-z0-9_])" scalar " *\\* *(const +)?[A-Za-z_][A-Za-z0-9_]* *= *" ref " *[;,]"))
            report("pointer")
        else if (code ~ /->data *\)? *(\[|\+|-([^>]|$))/)
            report("index")
        else if (code ~ /(^|[^A-Za-z0-9_])(memcpy|memmove|memset|memcmp|fread|fwrite|qsort|bsearch|dz_index_at) *\(.*->data([^A-Za-z0-9_]|$)/)
            report("memory")
    }
    function report(what) {
        printf "%s:%d: %s: %s\n", FILENAME, FNR, what, $0
        found = 1
    }
    END { exit found }
    ' "$@"
}

case "${1:-}" in
--files)
    shift
    scan "$@"
    ;;
--self-test)
    dir=$2
    flagged=$(scan "$dir/violations.c" | cut -d: -f2 | tr '\n' ' ') || true
    missed=$(awk -v flagged=" $flagged" '
        $0 !~ /^[ \t]*(\/[*\/].*|\*.*|[{}]?)[ \t]*$/ && index(flagged, " " FNR " ") == 0 {
            printf "%s:%d: not flagged: %s\n", FILENAME, FNR, $0
        }' "$dir/violations.c")
    status=0
    if [ -n "$missed" ]; then
        echo "$missed"
        status=1
    fi
    scan "$dir/allowed.c" || status=1
    [ $status -eq 0 ] && echo "self-test: every line of violations.c flagged, none of allowed.c"
    exit $status
    ;;
*)
    root=${1:?usage: check_device_agnostic.sh ROOT}
    files=$(find "$root/src/core" "$root/src/functions" "$root/src/layers" "$root/src/optim" "$root/src/io" \
                 \( -name '*.c' -o -name '*.h' \) ! -name host_view.c ! -name zip.c | sort)
    # shellcheck disable=SC2086
    if scan $files; then
        echo "device-agnostic: no element access through ->data"
    else
        echo "element access through ->data above: use a backend primitive or a host view (src/backend/backend.h)"
        exit 1
    fi
    ;;
esac

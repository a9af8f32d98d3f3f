/* Printing arrays as NumPy does: "[[1. 2.]\n [3. 4.]]". Floats use the fewest
 * digits (up to 8) that show every element, the same for all, right-aligned;
 * whole numbers print as "1."; very large or small magnitudes switch to
 * scientific notation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The most spaces dz_array_format adds after a newline. */
#define DZ_MAX_INDENT 1024

typedef struct {
    char *buf;
    size_t len, cap;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->buf = dz_xrealloc(t->buf, t->cap);
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void puts_(text *t, const char *s) { put(t, s, strlen(s)); }

/* Digits after the point needed to show v to 8 decimals, trailing zeros dropped. */
/* The fewest digits after the point (at most 8) that give v back: as a
 * float for single-precision arrays (so 2.3f prints as 2.3, as NumPy does),
 * else as v rounded to 8 decimals. */
static int fraction_digits(double v, bool single)
{
    char s[64];
    snprintf(s, sizeof s, "%.8f", v);
    double target = strtod(s, NULL);
    for (int d = 0; d < 8; d++) {
        snprintf(s, sizeof s, "%.*f", d, v);
        double back = strtod(s, NULL);
        if (single ? (float)back == (float)v : back == target)
            return d;
    }
    return 8;
}

typedef struct {
    bool is_float, single, scientific;
    int precision;  /* the most fraction digits any element needs */
    int int_width;  /* widest part before the point (or whole integer) */
} number_style;

/* One number with its own digits; *point_at gets the length up to and
 * including the point (the whole length for integers). */
static void format_number(const number_style *st, double v, char *out, size_t len, int *point_at)
{
    if (!st->is_float) {
        snprintf(out, len, "%lld", (long long)v);
    } else if (isnan(v)) {
        snprintf(out, len, "nan");
    } else if (isinf(v)) {
        snprintf(out, len, v < 0 ? "-inf" : "inf");
    } else if (st->scientific) {
        snprintf(out, len, "%.*e", st->precision, v);
    } else {
        int d = fraction_digits(v, st->single);
        snprintf(out, len, "%.*f", d, v);
        if (d == 0)
            strncat(out, ".", len - strlen(out) - 1);
    }
    char *dot = strchr(out, '.');
    *point_at = st->is_float && dot && !st->scientific ? (int)(dot - out) + 1 : (int)strlen(out);
}

static number_style choose_style(const dz_array *a, const double *v)
{
    number_style st = {dz_dtype_is_float(a->dtype) || a->dtype == DZ_F16, a->dtype != DZ_F64, false, 0, 0};
    double max_abs = 0, min_abs = INFINITY;
    for (int64_t i = 0; i < a->size; i++) {
        if (!isfinite(v[i]))
            continue;
        double m = fabs(v[i]);
        if (m > max_abs)
            max_abs = m;
        if (m > 0 && m < min_abs)
            min_abs = m;
    }
    if (st.is_float) {
        st.scientific = max_abs >= 1e16 || (min_abs < 1e-4 && min_abs > 0) ||
                        (min_abs < INFINITY && max_abs / min_abs > 1e3 && min_abs < 1e-3);
        if (st.scientific)
            st.precision = 8;
    }
    char s[64];
    for (int64_t i = 0; i < a->size; i++) {
        int point_at;
        format_number(&st, v[i], s, sizeof s, &point_at);
        int frac = (int)strlen(s) - point_at;
        if (point_at > st.int_width)
            st.int_width = point_at;
        if (frac > st.precision)
            st.precision = frac;
    }
    return st;
}

static void format_block(text *t, const dz_array *a, const double *v, const number_style *st, int axis,
                         int64_t offset, int indent)
{
    if (axis == a->ndim) {
        char s[64], padded[96];
        int point_at;
        format_number(st, v[offset], s, sizeof s, &point_at);
        int frac = (int)strlen(s) - point_at, pad_right = st->is_float && !st->scientific ? st->precision - frac : 0;
        snprintf(padded, sizeof padded, "%*s%s%*s", st->int_width - point_at, "", s, pad_right, "");
        puts_(t, padded);
        return;
    }
    int64_t stride = 1;
    for (int i = axis + 1; i < a->ndim; i++)
        stride *= a->shape[i];
    puts_(t, "[");
    for (int64_t i = 0; i < a->shape[axis]; i++) {
        if (i > 0) {
            if (axis == a->ndim - 1) {
                puts_(t, " ");
            } else {
                for (int k = axis; k < a->ndim - 1; k++)
                    puts_(t, "\n");
                for (int k = 0; k < indent + axis + 1; k++)
                    puts_(t, " ");
            }
        }
        format_block(t, a, v, st, axis + 1, offset + i * stride, indent);
    }
    puts_(t, "]");
}

/* The text of a checked array. */
static char *format_array(const dz_array *a, int indent)
{
    text t = {NULL, 0, 0};
    double *v = dz_xmalloc((size_t)(a->size ? a->size : 1) * sizeof *v);
    dz_array_to_doubles(a, v);
    number_style st = choose_style(a, v);
    if (a->ndim == 0) {
        char s[64];
        int point_at;
        format_number(&st, v[0], s, sizeof s, &point_at);
        puts_(&t, s);
    } else {
        format_block(&t, a, v, &st, 0, 0, indent);
    }
    free(v);
    return t.buf;
}

char *dz_array_format(const dz_array *a, int indent)
{
    if (!dz_check_array("dz_array_format", a))
        return NULL;
    if (indent < 0 || indent > DZ_MAX_INDENT) {
        dz_raise(DZ_ERR_VALUE, "dz_array_format: indent %d is out of range 0..%d", indent, DZ_MAX_INDENT);
        return NULL;
    }
    return format_array(a, indent);
}

void dz_array_print(const dz_array *a, FILE *out)
{
    if (!dz_check_array("dz_array_print", a) || !dz_check_not_null("dz_array_print", out, "out"))
        return;
    char *s = format_array(a, 0);
    fprintf(out, "%s\n", s);
    free(s);
}

/* Printing arrays exactly as NumPy 1.24's print(a) does with the default
 * options (numpy/core/arrayprint.py): lines of at most 75 characters, arrays
 * of more than 1000 elements summarised with "..." (3 items kept at each
 * edge of every long axis), and the element formats of FloatingFormat,
 * IntegerFormat and BoolFormat computed from the items shown. A 0-d array
 * prints its scalar's str. Elements are read through a host view. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/half.h"
#include "float_digits.h"
#include "host_view.h"
#include "internal.h"

/* The most spaces dz_array_format adds after a newline. */
#define DZ_MAX_INDENT 1024

#define LINE_WIDTH 75
#define SUMMARY_THRESHOLD 1000
#define EDGE_ITEMS 3
#define PRECISION 8 /* the most digits after the point */
#define WORD_MAX 64 /* a number's digits before or after the point */

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

static void put_spaces(text *t, int n)
{
    for (int i = 0; i < n; i++)
        put(t, " ", 1);
}

/* ------------------------------------------------------------ elements */

static double float_at(const dz_array *a, const void *e, int64_t i)
{
    switch (a->dtype) {
    case DZ_F16: return dz_half_to_float(((const uint16_t *)e)[i]);
    case DZ_F32: return ((const float *)e)[i];
    default: return ((const double *)e)[i];
    }
}

static long long int_at(const dz_array *a, const void *e, int64_t i)
{
    switch (a->dtype) {
    case DZ_U8: return ((const uint8_t *)e)[i];
    case DZ_I32: return ((const int32_t *)e)[i];
    default: return ((const int64_t *)e)[i];
    }
}

static bool bool_at(const void *e, int64_t i) { return ((const uint8_t *)e)[i] != 0; }

static int imax(int a, int b) { return a > b ? a : b; }

static bool is_floating(dz_dtype d) { return d == DZ_F16 || d == DZ_F32 || d == DZ_F64; }

/* ------------------------------------------------- float number parts */

/* The digits before the point (with the sign) and after it of v in
 * positional notation. */
static void positional_parts(double v, const dz_decimal *d, char *whole, char *fraction)
{
    char *w = whole, *f = fraction;
    if (signbit(v))
        *w++ = '-';
    if (d->exponent < 0)
        *w++ = '0';
    for (int i = 0; i <= d->exponent; i++)
        *w++ = i < d->count ? d->digits[i] : '0';
    for (int i = d->exponent + 1; i < d->count; i++)
        *f++ = i < 0 ? '0' : d->digits[i];
    *w = *f = '\0';
}

/* "e+05": at least `width` exponent digits, appended to out. */
static void put_exponent(text *out, int exponent, int width)
{
    char s[16];
    snprintf(s, sizeof s, "e%c%0*d", exponent < 0 ? '-' : '+', width, abs(exponent));
    puts_(out, s);
}

/* The exponent digits printed by default: at least 2. */
static int exponent_width(int exponent)
{
    char s[16];
    int n = snprintf(s, sizeof s, "%d", abs(exponent));
    return n < 2 ? 2 : n;
}

static const char *non_finite_word(double v) { return isnan(v) ? "nan" : v < 0 ? "-inf" : "inf"; }

/* ------------------------------------------------------ FloatingFormat */

/* The first pass (widths) asks for no minimum; the elements themselves are
 * printed with a fractional minimum of 0, every digit before the point
 * (float16 11352 sizes as "11350." and prints as "11352."). */
static const dz_digit_limits WIDTHS_POSITIONAL = {-1, PRECISION, true};
static const dz_digit_limits WIDTHS_SCIENTIFIC = {-1, PRECISION + 1, false};
static const dz_digit_limits POSITIONAL = {0, PRECISION, true};

typedef struct {
    bool scientific;
    int precision; /* scientific: digits after the point, the same for all */
    int pad_left, pad_right, exp_size;
} float_format;

/* max/min computed in the array's dtype (float16 divides in float32 and
 * rounds back, as NumPy's half does). */
static double ratio_in_dtype(dz_dtype dtype, double max, double min)
{
    if (dtype == DZ_F64)
        return max / min;
    float r = (float)max / (float)min;
    return dtype == DZ_F32 ? r : dz_half_to_float(dz_float_to_half(r));
}

static bool needs_scientific(dz_dtype dtype, const double *v, int64_t n)
{
    double max = 0, min = INFINITY;
    for (int64_t i = 0; i < n; i++) {
        double m = fabs(v[i]);
        if (isfinite(m) && m != 0) {
            max = fmax(max, m);
            min = fmin(min, m);
        }
    }
    return max != 0 && (max >= 1e8 || min < 1e-4 || ratio_in_dtype(dtype, max, min) > 1000.0);
}

/* Widths from a first pass over the finite values. */
static void fill_widths(float_format *f, dz_dtype dtype, const double *v, int64_t n)
{
    f->pad_left = f->pad_right = f->precision = 0;
    f->exp_size = -1;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        dz_decimal d;
        dz_decimal_digits(v[i], dtype, f->scientific ? WIDTHS_SCIENTIFIC : WIDTHS_POSITIONAL, &d);
        if (f->scientific) {
            f->pad_left = imax(f->pad_left, 1 + (signbit(v[i]) != 0));
            f->precision = imax(f->precision, d.count - 1);
            f->exp_size = imax(f->exp_size, exponent_width(d.exponent));
        } else {
            char whole[WORD_MAX], fraction[WORD_MAX];
            positional_parts(v[i], &d, whole, fraction);
            f->pad_left = imax(f->pad_left, (int)strlen(whole));
            f->pad_right = imax(f->pad_right, (int)strlen(fraction));
        }
    }
    if (f->scientific) /* implies finite values */
        f->pad_right = f->exp_size + 2 + f->precision;
}

static float_format float_format_of(dz_dtype dtype, const double *v, int64_t n)
{
    float_format f = {needs_scientific(dtype, v, n), 0, 0, 0, -1};
    fill_widths(&f, dtype, v, n);
    bool non_finite = false, negative_inf = false;
    for (int64_t i = 0; i < n; i++) {
        non_finite |= !isfinite(v[i]);
        negative_inf |= isinf(v[i]) && v[i] < 0;
    }
    if (non_finite) { /* room for "nan", "inf", "-inf" */
        int offset = f.pad_right + 1;
        f.pad_left = imax(f.pad_left, imax(3 - offset, 3 + negative_inf - offset));
    }
    return f;
}

/* One element in the array's common format, appended to out. */
static void format_float(const float_format *f, dz_dtype dtype, double v, text *out)
{
    if (!isfinite(v)) {
        const char *word = non_finite_word(v);
        put_spaces(out, f->pad_left + f->pad_right + 1 - (int)strlen(word));
        puts_(out, word);
        return;
    }
    dz_decimal d;
    if (f->scientific) {
        int digits = f->precision + 1;
        dz_decimal_digits(v, dtype, (dz_digit_limits){digits, digits, false}, &d);
        put_spaces(out, f->pad_left - 1 - (signbit(v) != 0));
        puts_(out, signbit(v) ? "-" : "");
        put(out, d.digits, 1);
        puts_(out, ".");
        puts_(out, d.digits + 1);
        for (int i = d.count; i < digits; i++) /* zeros up to the common precision */
            puts_(out, "0");
        put_exponent(out, d.exponent, f->exp_size);
        return;
    }
    char whole[WORD_MAX], fraction[WORD_MAX];
    dz_decimal_digits(v, dtype, POSITIONAL, &d);
    positional_parts(v, &d, whole, fraction);
    put_spaces(out, f->pad_left - (int)strlen(whole));
    puts_(out, whole);
    puts_(out, ".");
    puts_(out, fraction);
    put_spaces(out, f->pad_right - (int)strlen(fraction));
}

/* A 0-d float prints as NumPy's scalar str: positional for 1e-4 <= |v| <
 * 1e16 (and zero) with at least one digit after the point, else scientific
 * without a bare point ("1e+16"); the fewest digits that read back. */
static void format_float_scalar(dz_dtype dtype, double v, text *out)
{
    if (!isfinite(v)) {
        puts_(out, non_finite_word(v));
        return;
    }
    dz_decimal d;
    dz_decimal_digits(v, dtype, (dz_digit_limits){-1, -1, false}, &d);
    double m = fabs(v);
    if (m == 0 || (m >= 1e-4 && m < 1e16)) {
        char whole[WORD_MAX], fraction[WORD_MAX];
        positional_parts(v, &d, whole, fraction);
        puts_(out, whole);
        puts_(out, ".");
        puts_(out, fraction[0] ? fraction : "0");
        return;
    }
    puts_(out, signbit(v) ? "-" : "");
    put(out, d.digits, 1);
    if (d.count > 1) {
        puts_(out, ".");
        puts_(out, d.digits + 1);
    }
    put_exponent(out, d.exponent, 2);
}

static void format_integer(long long v, int width, text *out)
{
    char s[32];
    snprintf(s, sizeof s, "%*lld", width, v);
    puts_(out, s);
}

static void format_scalar(const dz_array *a, const void *e, text *out)
{
    if (a->dtype == DZ_BOOL)
        puts_(out, bool_at(e, 0) ? "True" : "False");
    else if (is_floating(a->dtype))
        format_float_scalar(a->dtype, float_at(a, e, 0), out);
    else
        format_integer(int_at(a, e, 0), 0, out);
}

/* ------------------------------------------------------------ printer */

typedef struct {
    const dz_array *a;
    const void *elements;
    bool summarise;
    int64_t strides[DZ_MAX_NDIM];
    float_format floats;
    int int_width;
} printer;

/* Items shown along `axis`: all, or EDGE_ITEMS at each end when summarised. */
static int64_t shown_count(const printer *p, int axis)
{
    int64_t n = p->a->shape[axis];
    return p->summarise && n > 2 * EDGE_ITEMS ? 2 * EDGE_ITEMS : n;
}

static bool has_gap(const printer *p, int axis) { return shown_count(p, axis) < p->a->shape[axis]; }

/* The index along `axis` of the i-th item shown. */
static int64_t shown_index(const printer *p, int axis, int64_t i)
{
    return has_gap(p, axis) && i >= EDGE_ITEMS ? p->a->shape[axis] - 2 * EDGE_ITEMS + i : i;
}

/* The flat positions of the elements shown, in C order, appended at *next. */
static void collect_shown(const printer *p, int axis, int64_t offset, int64_t **next)
{
    if (axis == p->a->ndim) {
        *(*next)++ = offset;
        return;
    }
    for (int64_t i = 0; i < shown_count(p, axis); i++)
        collect_shown(p, axis + 1, offset + shown_index(p, axis, i) * p->strides[axis], next);
}

/* The element formats, from the elements shown only (as NumPy does). */
static void setup_formats(printer *p)
{
    int64_t n = 1;
    for (int axis = 0; axis < p->a->ndim; axis++)
        n *= shown_count(p, axis);
    int64_t *shown = dz_xmalloc((size_t)n * sizeof *shown), *next = shown;
    collect_shown(p, 0, 0, &next);
    if (is_floating(p->a->dtype)) {
        double *v = dz_xmalloc((size_t)n * sizeof *v);
        for (int64_t i = 0; i < n; i++)
            v[i] = float_at(p->a, p->elements, shown[i]);
        p->floats = float_format_of(p->a->dtype, v, n);
        free(v);
    } else if (p->a->dtype != DZ_BOOL) {
        char s[32];
        for (int64_t i = 0; i < n; i++)
            p->int_width = imax(p->int_width, snprintf(s, sizeof s, "%lld", int_at(p->a, p->elements, shown[i])));
    }
    free(shown);
}

static printer make_printer(const dz_array *a, const void *elements)
{
    printer p = {a, elements, a->size > SUMMARY_THRESHOLD, {0}, {false, 0, 0, 0, -1}, 0};
    int64_t stride = 1;
    for (int axis = a->ndim - 1; axis >= 0; axis--) {
        p.strides[axis] = stride;
        stride *= a->shape[axis];
    }
    setup_formats(&p);
    return p;
}

/* Element i in the array's format, in place of out's text. */
static void format_element(const printer *p, int64_t i, text *out)
{
    out->len = 0;
    if (p->a->dtype == DZ_BOOL)
        puts_(out, bool_at(p->elements, i) ? " True" : "False");
    else if (is_floating(p->a->dtype))
        format_float(&p->floats, p->a->dtype, float_at(p->a, p->elements, i), out);
    else
        format_integer(int_at(p->a, p->elements, i), p->int_width, out);
}

/* ------------------------------------------------------------- layout */

/* NumPy's _extendLine: starts a new line (`hanging` spaces) when the word
 * would pass `width`, unless the line holds no word yet. */
static void extend_line(text *s, text *line, const char *word, size_t n, int width, int hanging)
{
    if (line->len + n > (size_t)width && line->len > (size_t)hanging) {
        size_t end = line->len;
        while (end > 0 && line->buf[end - 1] == ' ')
            end--;
        put(s, line->buf, end);
        put(s, "\n", 1);
        line->len = 0;
        put_spaces(line, hanging);
    }
    put(line, word, n);
}

/* The innermost axis: elements separated by a space, wrapped to the width
 * left at this depth (one less per bracket, one more for the closing one). */
static void format_row(const printer *p, text *out, int axis, int64_t offset)
{
    int hanging = axis + 1, width = LINE_WIDTH - axis - 1;
    text s = {NULL, 0, 0}, line = {NULL, 0, 0}, word = {NULL, 0, 0};
    put_spaces(&line, hanging);
    int64_t shown = shown_count(p, axis);
    for (int64_t i = 0; i < shown; i++) {
        if (has_gap(p, axis) && i == EDGE_ITEMS) {
            extend_line(&s, &line, "...", 3, width, hanging);
            puts_(&line, " ");
        }
        format_element(p, offset + shown_index(p, axis, i) * p->strides[axis], &word);
        extend_line(&s, &line, word.buf, word.len, width, hanging);
        if (i + 1 < shown)
            puts_(&line, " ");
    }
    put(&s, line.buf, line.len);
    puts_(out, "[");
    puts_(out, s.buf + hanging);
    puts_(out, "]");
    free(s.buf);
    free(line.buf);
    free(word.buf);
}

static void format_block(const printer *p, text *out, int axis, int64_t offset);

/* An outer axis: one block per line, separated by as many newlines as axes
 * below it (blank lines between 3-d blocks), indented under the bracket. */
static void format_nested(const printer *p, text *out, int axis, int64_t offset)
{
    int hanging = axis + 1, newlines = p->a->ndim - axis - 1;
    int64_t shown = shown_count(p, axis);
    puts_(out, "[");
    for (int64_t i = 0; i < shown; i++) {
        if (i > 0)
            put_spaces(out, hanging);
        if (has_gap(p, axis) && i == EDGE_ITEMS) {
            puts_(out, "...");
            for (int k = 0; k < newlines; k++)
                puts_(out, "\n");
            put_spaces(out, hanging);
        }
        format_block(p, out, axis + 1, offset + shown_index(p, axis, i) * p->strides[axis]);
        for (int k = 0; i + 1 < shown && k < newlines; k++)
            puts_(out, "\n");
    }
    puts_(out, "]");
}

static void format_block(const printer *p, text *out, int axis, int64_t offset)
{
    if (axis == p->a->ndim - 1)
        format_row(p, out, axis, offset);
    else
        format_nested(p, out, axis, offset);
}

/* s with `indent` spaces after each newline; frees s. */
static char *indented(char *s, int indent)
{
    size_t lines = 0, len = strlen(s);
    for (size_t i = 0; i < len; i++)
        lines += s[i] == '\n';
    char *out = dz_xmalloc(len + lines * (size_t)indent + 1), *o = out;
    for (size_t i = 0; i < len; i++) {
        *o++ = s[i];
        if (s[i] == '\n') {
            memset(o, ' ', (size_t)indent);
            o += indent;
        }
    }
    *o = '\0';
    free(s);
    return out;
}

/* The text of a checked array; NULL when a host copy cannot be made. */
static char *format_array(const dz_array *a, int indent)
{
    text t = {NULL, 0, 0};
    if (a->ndim > 0 && a->size == 0) {
        puts_(&t, "[]");
        return t.buf;
    }
    dz_host_view view;
    const void *elements = dz_host_view_read(&view, a);
    if (!elements)
        return NULL;
    if (a->ndim == 0) {
        format_scalar(a, elements, &t);
    } else {
        printer p = make_printer(a, elements);
        format_block(&p, &t, 0, 0);
    }
    dz_host_view_close(&view);
    return indent > 0 ? indented(t.buf, indent) : t.buf;
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
    if (s)
        fprintf(out, "%s\n", s);
    free(s);
}

/* NumPy's Dragon4 digit choice, from the exact decimal expansion.
 *
 * Dragon4 generates the digits of |v| one at a time. After each it asks
 * whether the digits so far (rounded down) or one unit more (rounded up)
 * still read back as v: the rounding interval of v in its own dtype, with
 * its ends included when v's mantissa is even (round half to even). It stops
 * at the first digit where one of them does and no minimum asks for more, or
 * at the cutoff; the last digit is the one that reads back, or the nearer
 * (ties to even) when both or neither do. Here the expansion comes from
 * printf, which prints the exact value of a double when asked for enough
 * digits, and "reads back" is a parse in the dtype. */
#include "float_digits.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/half.h"

/* A double has at most 767 significant decimal digits. */
#define EXACT_DIGITS 800
/* No value needs more than 17 digits to read back (float64). */
#define MOST_DIGITS ((int)sizeof(((dz_decimal *)0)->digits) - 1)

typedef struct {
    char digits[EXACT_DIGITS + 1]; /* no trailing zeros */
    int count, exponent;
} expansion;

/* The exact digits of v > 0. */
static void expand(double v, expansion *x)
{
    char s[EXACT_DIGITS + 16]; /* "d.ddd...e+XXX" */
    snprintf(s, sizeof s, "%.*e", EXACT_DIGITS - 1, v);
    x->digits[0] = s[0];
    memcpy(x->digits + 1, s + 2, EXACT_DIGITS - 1);
    x->exponent = atoi(strchr(s, 'e') + 1);
    x->count = EXACT_DIGITS;
    while (x->count > 1 && x->digits[x->count - 1] == '0')
        x->count--;
}

/* The half-precision neighbour of positive half bits h one step up or down,
 * as a double; past the largest half, where rounding goes to infinity. */
static double half_neighbour(uint16_t h, int step)
{
    uint16_t n = (uint16_t)(h + step);
    return n == 0x7c00u ? 65536.0 : (double)dz_half_to_float(n);
}

/* Whether x reads back as the positive half value v (ties to the even one). */
static bool reads_as_half(double x, double v)
{
    uint16_t h = dz_float_to_half((float)v);
    double low = (v + half_neighbour(h, -1)) / 2, high = (v + half_neighbour(h, 1)) / 2;
    return (h & 1) ? low < x && x < high : low <= x && x <= high;
}

/* Whether the p digits d with exponent e read back as v in `dtype`. */
static bool reads_back(double v, dz_dtype dtype, const char *d, int p, int e)
{
    char s[MOST_DIGITS + 16];
    snprintf(s, sizeof s, "%c.%.*se%d", d[0], p - 1, d + 1, e);
    if (dtype == DZ_F32)
        return strtof(s, NULL) == (float)v;
    double x = strtod(s, NULL);
    return dtype == DZ_F16 ? reads_as_half(x, v) : x == v;
}

/* d (p digits, exponent *e) plus one unit in its last place. */
static void add_one_unit(char *d, int p, int *e)
{
    int i = p - 1;
    while (i >= 0 && d[i] == '9')
        d[i--] = '0';
    if (i >= 0) {
        d[i]++;
    } else { /* 99..9 + 1 = 100..0 */
        d[0] = '1';
        ++*e;
    }
}

/* Whether the digits of x past the first p are below half a unit of the
 * p-th, or exactly half with an even p-th digit. */
static bool nearer_down(const expansion *x, int p)
{
    if (p >= x->count || x->digits[p] < '5')
        return true;
    if (x->digits[p] > '5' || p + 1 < x->count)
        return false;
    return (x->digits[p - 1] - '0') % 2 == 0;
}

static void set_result(dz_decimal *out, const char *d, int p, int e)
{
    while (p > 1 && d[p - 1] == '0')
        p--;
    memcpy(out->digits, d, (size_t)p);
    out->digits[p] = '\0';
    out->count = p;
    out->exponent = e;
}

void dz_decimal_digits(double v, dz_dtype dtype, dz_digit_limits limits, dz_decimal *out)
{
    v = fabs(v);
    if (v == 0) {
        set_result(out, "0", 1, 0);
        return;
    }
    expansion x;
    expand(v, &x);
    /* A fractional limit counts from the point: digit p sits at 10^(exponent+1-p). */
    int shift = limits.fractional ? x.exponent + 1 : 0;
    int min_p = limits.min_digits < 0 ? 0 : limits.min_digits + shift;
    int max_p = limits.max_digits < 0 ? MOST_DIGITS : limits.max_digits + shift;
    max_p = max_p < 1 ? 1 : max_p > MOST_DIGITS ? MOST_DIGITS : max_p;
    for (int p = 1;; p++) {
        char down[MOST_DIGITS + 1], up[MOST_DIGITS + 1];
        for (int i = 0; i < p; i++)
            down[i] = i < x.count ? x.digits[i] : '0';
        memcpy(up, down, (size_t)p);
        int up_exponent = x.exponent;
        add_one_unit(up, p, &up_exponent);
        bool low = reads_back(v, dtype, down, p, x.exponent);
        bool high = reads_back(v, dtype, up, p, up_exponent);
        if (((low || high) && p >= min_p) || p >= max_p) {
            bool round_down = low != high ? low : nearer_down(&x, p);
            if (round_down)
                set_result(out, down, p, x.exponent);
            else
                set_result(out, up, p, up_exponent);
            return;
        }
    }
}

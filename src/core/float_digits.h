/* Decimal digits of a float16, float32 or float64 value, chosen as NumPy's
 * Dragon4 chooses them (numpy/core/src/multiarray/dragon4.c): the fewest
 * digits that read back as the same value of the array's own dtype, within
 * a cutoff, or more when a minimum asks for them. */
#ifndef DEZERO_FLOAT_DIGITS_H
#define DEZERO_FLOAT_DIGITS_H

#include <stdbool.h>

#include "dezero/array.h"

/* Value = 0.d1 d2 ... dn * 10^(exponent + 1): digits[0] is the digit of
 * 10^exponent. No trailing zeros ("0" with exponent 0 for zero); the sign is
 * not included. */
typedef struct dz_decimal {
    char digits[32];
    int count;
    int exponent;
} dz_decimal;

/* How many digits: `min_digits` and `max_digits` (< 0: no minimum, no
 * cutoff) count significant digits, or digits after the decimal point when
 * `fractional` (Dragon4's TotalLength and FractionLength cutoffs), so a
 * fractional minimum of 0 asks for every digit before the point. */
typedef struct dz_digit_limits {
    int min_digits, max_digits;
    bool fractional;
} dz_digit_limits;

/* The digits of finite |v|; v holds a value of `dtype` (DZ_F16, DZ_F32 or
 * DZ_F64) exactly. */
void dz_decimal_digits(double v, dz_dtype dtype, dz_digit_limits limits, dz_decimal *out);

#endif

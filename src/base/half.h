/* IEEE half <-> float32, round to nearest even, NaN kept quiet: the
 * conversions of float16 arrays (file I/O), on the CPU and, with DZ_HALF_FN
 * defined as __host__ __device__ inline, in the CUDA kernels. */
#ifndef DEZERO_HALF_H
#define DEZERO_HALF_H

#include <stdint.h>
#include <string.h>

#ifndef DZ_HALF_FN
#define DZ_HALF_FN static inline
#endif

DZ_HALF_FN float dz_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else { /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            mant <<= 1;
        } while (!(mant & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

DZ_HALF_FN uint16_t dz_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0));
    if (abs >= 0x477ff000u) /* rounds past the largest half */
        return (uint16_t)(sign | 0x7c00u);
    if (abs < 0x38800000u) { /* subnormal half or zero: round to nearest even */
        if (abs < 0x33000000u)
            return (uint16_t)sign;
        uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
        int shift = 125 - (int)(abs >> 23); /* half = mant >> (shift + 1) */
        uint32_t half = mant >> (shift + 1), rest = mant & ((2u << shift) - 1), mid = 1u << shift;
        if (rest > mid || (rest == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((abs - 0x38000000u) >> 13), rest = abs & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1)))
        half++;
    return (uint16_t)(sign | half);
}

#endif

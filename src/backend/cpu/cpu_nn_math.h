/* What the nn kernels (cpu_nn.c) share with the CUDA kernels (cuda_nn.cu
 * includes this header with DZ_VM_FN adding __host__ __device__): the lines
 * of a softmax axis, and the float32 exp and sigmoid, so both devices give
 * the same bits. Selections are on the bits (cpu_vecmath.h): the CPU loops
 * calling them stay free of float comparisons and branches, and vectorize. */
#ifndef DZ_CPU_NN_MATH_H
#define DZ_CPU_NN_MATH_H

#include "cpu_vecmath.h"
#include "dezero/array.h"

/* An axis seen as (outer, n, inner): element (o, k, j) is at
 * (o * n + k) * inner + j, and line (o, j) starts at o * n * inner + j and
 * steps by inner. */
typedef struct {
    int64_t outer, n, inner;
} dz_axis_split;

DZ_VM_FN dz_axis_split dz_split_axis(const dz_array *x, int axis)
{
    dz_axis_split s = {1, x->ndim ? x->shape[axis] : 1, 1};
    for (int i = 0; i < axis; i++)
        s.outer *= x->shape[i];
    for (int i = axis + 1; i < x->ndim; i++)
        s.inner *= x->shape[i];
    return s;
}

DZ_VM_FN int64_t dz_axis_line_start(dz_axis_split s, int64_t line)
{
    return line / s.inner * s.n * s.inner + line % s.inner;
}

#define DZ_NN_EXP_LIMIT 0x42ae0000u /* 87.0f: e^-87 is still a normal float */

/* e^v for v <= 0 in float: 0 below -87 (where e^v is subnormal), NaN stays
 * NaN. v = k ln2 + r with |r| <= ln2 / 2, e^v = 2^k e^r, and e^r from Cephes'
 * expf polynomial (within 1.4 ulp). */
DZ_VM_FN float dz_nn_exp_nonpositive(float v)
{
    uint32_t mag = dz_vm_float_bits(v) & 0x7fffffffu;
    uint32_t under = 0u - (uint32_t)(mag > DZ_NN_EXP_LIMIT), nan = 0u - (uint32_t)(mag > 0x7f800000u);
    float c = -dz_vm_select_float(dz_vm_bits_float(mag), dz_vm_bits_float(DZ_NN_EXP_LIMIT), under);
    int32_t k = (int32_t)(c * 1.44269504088896341f - 0.5f); /* round half away from 0, c <= 0 */
    float r = c - (float)k * 0.693359375f + (float)k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = (p * r * r + r + 1.0f) * dz_vm_bits_float((uint32_t)(k + 127) << 23);
    return dz_vm_select_float(dz_vm_select_float(e, 0.0f, under), v, nan);
}

/* DeZero's 0.5 tanh(0.5 x) + 0.5 equals 1 / (1 + e^-x); with e = e^-|x| it is
 * 1 / (1 + e) for x >= 0 and e / (1 + e) below, so neither side overflows or
 * cancels. */
DZ_VM_FN float dz_nn_sigmoidf(float x)
{
    float e = dz_nn_exp_nonpositive(-fabsf(x)), inv = 1.0f / (1.0f + e);
    return dz_vm_select_float(inv, e * inv, 0u - (dz_vm_float_bits(x) >> 31));
}

#endif

/* The CPU backend table: memory and dtype conversion. Elementwise kernels are
 * in cpu_elementwise.c, gemm in cpu_gemm.c. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../base/half.h"
#include "../batched_matmul.h"
#include "cpu_kernels.h"
#include "dezero/device.h"

/* Buffers from this size on ask for transparent huge pages, as NumPy does:
 * touching a fresh buffer then faults once per 2 MiB instead of once per
 * 4 KiB page, which dominates the cost of a large op's first write. */
#define HUGE_PAGE_MIN_BYTES ((size_t)4 << 20)

/* Raw buffers for the caching allocator: 64-byte aligned, uninitialised. */
static void *cpu_alloc(size_t nbytes)
{
    size_t aligned = (nbytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, aligned ? aligned : 64);
#ifdef MADV_HUGEPAGE
    if (p && nbytes >= HUGE_PAGE_MIN_BYTES) {
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1), end = ((uintptr_t)p + nbytes) & ~(page - 1);
        madvise((void *)start, end - start, MADV_HUGEPAGE);
    }
#endif
    return p;
}
static void cpu_free(void *p) { free(p); }
static dz_caching_allocator cpu_memory = DZ_CACHING_ALLOCATOR_INIT(cpu_alloc, cpu_free);
static void cpu_zero(void *dst, size_t n) { memset(dst, 0, n); }
static void cpu_copy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); }

static double load(const dz_array *x, int64_t i)
{
    switch (x->dtype) {
    case DZ_F32: return ((const float *)x->data)[i];
    case DZ_F64: return ((const double *)x->data)[i];
    case DZ_I32: return ((const int32_t *)x->data)[i];
    case DZ_I64: return (double)((const int64_t *)x->data)[i];
    case DZ_U8: return ((const uint8_t *)x->data)[i];
    case DZ_BOOL: return ((const uint8_t *)x->data)[i] != 0;
    case DZ_F16: return dz_half_to_float(((const uint16_t *)x->data)[i]);
    }
    return 0;
}

static void store(dz_array *y, int64_t i, double v)
{
    switch (y->dtype) {
    case DZ_F32: ((float *)y->data)[i] = (float)v; break;
    case DZ_F64: ((double *)y->data)[i] = v; break;
    case DZ_I32: ((int32_t *)y->data)[i] = (int32_t)v; break;
    case DZ_I64: ((int64_t *)y->data)[i] = (int64_t)v; break;
    case DZ_U8: ((uint8_t *)y->data)[i] = (uint8_t)v; break;
    case DZ_BOOL: ((uint8_t *)y->data)[i] = v != 0; break;
    case DZ_F16: ((uint16_t *)y->data)[i] = dz_float_to_half((float)v); break;
    }
}

void dz_cpu_astype(const dz_array *x, dz_array *y)
{
    if (x->dtype == y->dtype) {
        memcpy(y->data, x->data, (size_t)x->size * dz_dtype_bytes(x->dtype));
        return;
    }
    for (int64_t i = 0; i < x->size; i++) {
        if (x->dtype == DZ_I64 && y->dtype == DZ_I32)
            ((int32_t *)y->data)[i] = (int32_t)((const int64_t *)x->data)[i];
        else if (x->dtype == DZ_I32 && y->dtype == DZ_I64)
            ((int64_t *)y->data)[i] = ((const int32_t *)x->data)[i];
        else
            store(y, i, load(x, i));
    }
}

static void cpu_matmul(const dz_array *a, bool trans_a, const dz_array *b, bool trans_b, dz_array *c,
                       bool accumulate)
{
    dz_batched_matmul(dz_cpu_gemm, cpu_zero, a, trans_a, b, trans_b, c, accumulate);
}

static const dz_backend_fused cpu_fused = {
    /* neural-network kernels */
    .sigmoid = dz_cpu_sigmoid,
    .softmax = dz_cpu_softmax,
    .softmax_backward = dz_cpu_softmax_backward,
    .sigmoid_backward = dz_cpu_sigmoid_backward,
    .clip = dz_cpu_clip,
    .one_hot = dz_cpu_one_hot,
    .repeat_rows = dz_cpu_repeat_rows,
    .sum_torch = dz_cpu_sum_torch,
    .softmax_cross_entropy = dz_cpu_softmax_cross_entropy,
    .softmax_cross_entropy_backward = dz_cpu_softmax_cross_entropy_backward,
    .sigmoid_cross_entropy = dz_cpu_sigmoid_cross_entropy,
    /* convolution kernels */
    .im2col = dz_cpu_im2col,
    .col2im = dz_cpu_col2im,
    /* max pooling kernels */
    .max_pool = dz_cpu_max_pool,
    .max_pool_pick = dz_cpu_max_pool_pick,
    .max_pool_backward = dz_cpu_max_pool_backward,
    /* embedding kernels */
    .embedding_renorm = dz_cpu_embedding_renorm,
    .embedding_bag_sum = dz_cpu_embedding_bag_sum,
    .embedding_bag_max = dz_cpu_embedding_bag_max,
    .embedding_bag_scatter = dz_cpu_embedding_bag_scatter,
    .embedding_bag_grad_rows = dz_cpu_embedding_bag_grad_rows,
    .embedding_bag_max_backward = dz_cpu_embedding_bag_max_backward,
    .embedding_bag_weights_grad = dz_cpu_embedding_bag_weights_grad,
    /* optimizer kernels */
    .sgd_step = dz_cpu_sgd_step,
    .momentum_sgd_step = dz_cpu_momentum_sgd_step,
    .adagrad_step = dz_cpu_adagrad_step,
    .adadelta_step = dz_cpu_adadelta_step,
    .adam_step = dz_cpu_adam_step,
    .weight_decay = dz_cpu_weight_decay,
    .scale = dz_cpu_scale,
    .sum_squares = dz_cpu_sum_squares,
    .axpy = dz_cpu_axpy,
    .rows_scale = dz_cpu_rows_scale,
    .sparse_adagrad_rows = dz_cpu_sparse_adagrad_rows,
    .sparse_adam_rows = dz_cpu_sparse_adam_rows,
};

static dz_backend cpu_backend = {
    .name = "cpu",
    .memory = &cpu_memory,
    .zero = cpu_zero,
    .copy = cpu_copy,
    .to_host = cpu_copy,
    .from_host = cpu_copy,
    .fill = dz_cpu_fill,
    .astype = dz_cpu_astype,
    .unary = dz_cpu_unary,
    .binary = dz_cpu_binary,
    .reduce = dz_cpu_reduce,
    .matmul = cpu_matmul,
    .transpose = dz_cpu_transpose,
    .gather = dz_cpu_gather,
    .scatter = dz_cpu_scatter,
    .scatter_add = dz_cpu_scatter_add,
    .gather_rows = dz_cpu_gather_rows,
    .index_add_rows = dz_cpu_index_add_rows,
    .index_range = dz_cpu_index_range,
    .fused = &cpu_fused,
};

const dz_backend *dz_backend_cpu(void) { return &cpu_backend; }

void dz_backend_cpu_set_fused(bool on) { cpu_backend.fused = on ? &cpu_fused : NULL; }
void dz_backend_cpu_use_fused(const dz_backend_fused *table) { cpu_backend.fused = table; }

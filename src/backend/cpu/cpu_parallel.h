/* How the CPU kernels use the machine: a parallel-for and a block reduction
 * that use threads only above a grain of DZ_GRAIN elements, and a pragma that
 * lets loops over accumulator lanes vectorize (their AVX2 clones come from
 * cpu_clones.h).
 *
 * Results never depend on the number of threads: a kernel splits its work into
 * pieces whose values do not depend on who computes them, and a reduction adds
 * up blocks whose boundaries are fixed by the shape alone, in block order. */
#ifndef DEZERO_CPU_PARALLEL_H
#define DEZERO_CPU_PARALLEL_H

#include <stddef.h>
#include <stdint.h>

/* Arrays of at most this many elements are handled by the calling thread
 * alone (PyTorch's grain). */
#define DZ_GRAIN 32768

/* Put before the inner loop over the lanes of an accumulator array (a fixed
 * 16 iterations): without it GCC unrolls that loop into straight-line code,
 * which it does not vectorize when the body selects with a comparison. */
#define DZ_LANE_LOOP _Pragma("GCC unroll 1")

/* Calls fn(ctx, begin, end) on contiguous ranges that cover [0, n) once. The
 * work is n items of `cost` elements each; above DZ_GRAIN elements it is split
 * over up to dz_num_threads() threads, each with at least a grain of work. */
typedef void (*dz_range_fn)(void *ctx, int64_t begin, int64_t end);
void dz_parallel_for(int64_t n, int64_t cost, dz_range_fn fn, void *ctx);

/* A reduction over blocks 0 .. nblocks-1: partial(ctx, b, out) writes block
 * b's partial result (partial_bytes, at most DZ_PARTIAL_BYTES) and may run on
 * any thread; combine(ctx, b, partial) folds it into the result on the calling
 * thread, in block order. */
#define DZ_PARTIAL_BYTES 4096
typedef struct dz_block_reduction {
    void (*partial)(void *ctx, int64_t block, void *out);
    void (*combine)(void *ctx, int64_t block, const void *partial);
    size_t partial_bytes;
} dz_block_reduction;
void dz_parallel_reduce(const dz_block_reduction *r, int64_t nblocks, int64_t block_cost, void *ctx);

#endif

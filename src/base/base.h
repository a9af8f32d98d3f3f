/* The base beneath core and the backends: what both need and neither owns.
 * Dtype sizes, the always-on assert, checked allocation, thread-local
 * storage. It includes only the public array header (for the enums) and
 * reaches nothing above it. Not installed. */
#ifndef DEZERO_BASE_H
#define DEZERO_BASE_H

#include <stddef.h>

#include "dezero/array.h"

/* Per-thread state on the per-op paths (scopes, free lists, the release
 * stack, config). In a shared library a plain _Thread_local costs a call to
 * __tls_get_addr on every use; the initial-exec model makes it one load from
 * the thread pointer. These variables take a few hundred bytes in all, which
 * fits the static TLS that glibc keeps for libraries loaded with dlopen. */
#define DZ_THREAD_LOCAL _Thread_local __attribute__((tls_model("initial-exec")))

/* Bytes per element of a valid dtype (dz_dtype_size checks and raises). */
static inline size_t dz_dtype_bytes(dz_dtype dtype)
{
    static const size_t sizes[] = {4, 8, 4, 8, 1, 1, 2};
    return sizes[dtype];
}

/* Entry i of int32 or int64 index elements (on the host): the one reader of
 * index data, for the CPU kernels and for host views. */
static inline int64_t dz_index_at(const void *elements, dz_dtype dtype, int64_t i)
{
    return dtype == DZ_I64 ? ((const int64_t *)elements)[i] : ((const int32_t *)elements)[i];
}

#ifdef __cplusplus /* the CUDA sources include this header */
[[noreturn]] void dz_assert_fail(const char *expr, const char *file, int line);
#else
_Noreturn void dz_assert_fail(const char *expr, const char *file, int line);
#endif
#define DZ_ASSERT(x) ((x) ? (void)0 : dz_assert_fail(#x, __FILE__, __LINE__))

/* malloc/calloc that abort with a message when memory runs out (used for
 * small bookkeeping allocations; array buffers report DZ_ERR_NOMEM instead). */
void *dz_xmalloc(size_t n);
void *dz_xcalloc(size_t count, size_t size);
void *dz_xrealloc(void *p, size_t n);
/* n zeroed bytes at a multiple of `alignment` (a power of two dividing n). */
void *dz_xaligned_calloc(size_t alignment, size_t n);
/* A malloc'd string printed with `fmt` (keys, paths, labels, table cells). */
char *dz_xformat(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

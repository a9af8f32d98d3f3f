/* Free lists of fixed-size blocks, one per kind of small object (Variables,
 * Functions, array headers, small array buffers). Every op allocates a few of
 * these and a graph frees thousands at once; reusing blocks from a per-thread
 * free list instead of going through malloc each time is most of what keeps
 * the per-op cost low. A list keeps at most DZ_POOL_BYTES of free blocks and
 * hands the rest back to free(); a thread's lists are freed when it exits.
 * Not installed.
 */
#ifndef DEZERO_POOL_H
#define DEZERO_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "internal.h"

#define DZ_POOL_BYTES ((size_t)1 << 20)

typedef struct dz_pool_block {
    struct dz_pool_block *next;
} dz_pool_block;

typedef struct dz_pool {
    size_t block_size;   /* at least sizeof(dz_pool_block) */
    dz_pool_block *free; /* most recently freed first */
    size_t free_bytes;
    bool registered;     /* drained when its thread exits (thread_exit.c) */
    struct dz_pool *next_registered;
} dz_pool;

#define DZ_POOL_INIT(size) {.block_size = (size)}

/* Makes the calling thread drain `pool` (a thread-local) when it exits. */
void dz_pool_register(dz_pool *pool);

/* Builds for memory checkers (-Dobject_pool=false, and every ASan build) use
 * plain malloc/free, so each object's life is visible to the checker. */
#if defined(DZ_NO_OBJECT_POOL) || defined(__SANITIZE_ADDRESS__)
#define DZ_POOL_ENABLED 0
#else
#define DZ_POOL_ENABLED 1
#endif

/* An uninitialised block of pool->block_size bytes (aborts when memory runs out,
 * like dz_xmalloc). */
static inline void *dz_pool_alloc(dz_pool *pool)
{
    if (!DZ_POOL_ENABLED)
        return dz_xmalloc(pool->block_size);
    dz_pool_block *b = pool->free;
    if (!b)
        return dz_xmalloc(pool->block_size);
    pool->free = b->next;
    pool->free_bytes -= pool->block_size;
    return b;
}

static inline void dz_pool_free(dz_pool *pool, void *block)
{
    if (!DZ_POOL_ENABLED || pool->free_bytes >= DZ_POOL_BYTES) {
        free(block);
        return;
    }
    if (!pool->registered)
        dz_pool_register(pool);
    dz_pool_block *b = block;
    b->next = pool->free;
    pool->free = b;
    pool->free_bytes += pool->block_size;
}

#endif

/* Counts of the objects alive in the process (Variables, Functions, array
 * headers, array storages and their bytes), kept where each is handed out
 * and given back. A pool's spare blocks are not counted, only the objects in
 * use. dz_debug_live_objects reads them (debug.c). Not installed.
 *
 * Each thread adds to a block of its own: a relaxed atomic load and store,
 * no locked instruction and no cache line shared with other threads, so the
 * per-op cost does not show and threads do not slow each other down. A block
 * is never freed: a thread that exits hands its block, counts and all, to
 * the next thread that starts counting, and a read sums every block, so
 * objects made on one thread and freed on another still add up.
 */
#ifndef DEZERO_LIVE_COUNT_H
#define DEZERO_LIVE_COUNT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

typedef enum {
    DZ_LIVE_VARIABLES,
    DZ_LIVE_FUNCTIONS,
    DZ_LIVE_ARRAYS,
    DZ_LIVE_STORAGES,
    DZ_LIVE_STORAGE_BYTES,
    DZ_LIVE_KINDS
} dz_live_kind;

/* A cache line (or two) of its own. */
typedef struct dz_live_block {
    alignas(64) _Atomic int64_t counts[DZ_LIVE_KINDS]; /* written by the owning thread only */
    atomic_bool owned;
    struct dz_live_block *next; /* set once, before the block is published */
} dz_live_block;

/* The calling thread's block, NULL before its first count. */
extern DZ_THREAD_LOCAL dz_live_block *dz_live_mine;

/* Gives the calling thread a block: a free one, or a new one. */
dz_live_block *dz_live_claim(void);

static inline void dz_live_add(dz_live_kind kind, int64_t n)
{
    dz_live_block *b = dz_live_mine ? dz_live_mine : dz_live_claim();
    int64_t now = atomic_load_explicit(&b->counts[kind], memory_order_relaxed);
    atomic_store_explicit(&b->counts[kind], now + n, memory_order_relaxed);
}

#endif

/* A caching allocator for array buffers, one per device.
 *
 * A training loop frees its whole graph at the end of each step and builds the
 * same buffers again in the next. Handing them back to the system each time
 * costs page faults (glibc trims the heap and unmaps large blocks; every page
 * of a fresh buffer is faulted in again on first touch) or, on a GPU, a
 * synchronising cudaFree. So freed buffers stay here, in size classes, and the
 * next request of the same class takes one back.
 *
 * Size classes: a request of n bytes is rounded up to 2^e + q 2^(e-2) (q in
 * 1..4), at most 25% over n; requests of different sizes in one class share
 * blocks. The allocator knows only two raw functions (alloc, free) of its
 * device, and keeps its bookkeeping in host memory, so the same code serves
 * CPU and GPU buffers. Buffers come back uninitialised.
 *
 * The bytes held, in use and cached, stay within twice the peak in use, so a
 * program never holds more than twice its largest working set; to stay
 * within that bound the cache gives back the blocks freed longest ago, so the
 * buffers of a finished phase (other sizes) make room for those of the
 * current one. The bound is not the peak itself: a step needs, of each class,
 * the most blocks it holds at once, and those maxima fall at different
 * moments, so their sum passes the peak (a CNN step by some 10%, which a
 * cache bounded by the peak gave back and faulted in again every step).
 * dz_empty_cache()
 * returns all of it. One cache is shared by all threads, under a lock taken
 * once per buffer (an array made in one thread may die in another). Not
 * installed. */
#ifndef DEZERO_CACHING_ALLOCATOR_H
#define DEZERO_CACHING_ALLOCATOR_H

#include <pthread.h>
#include <stddef.h>

#include "dezero/device.h"

typedef struct dz_cache_block dz_cache_block;

typedef struct dz_caching_allocator {
    void *(*raw_alloc)(size_t nbytes); /* NULL when the device is out of memory */
    void (*raw_free)(void *ptr);
    pthread_mutex_t lock;
    dz_cache_block *bins[64][4];       /* free blocks by class (e, q - 1), newest first */
    dz_cache_block *newest, *oldest;   /* all free blocks, in the order they were freed */
    dz_cache_block *spare;             /* unused bookkeeping records */
    dz_memory_info stats;
} dz_caching_allocator;

#define DZ_CACHING_ALLOCATOR_INIT(alloc, free) {(alloc), (free), PTHREAD_MUTEX_INITIALIZER, {{0}}, 0, 0, 0, {0, 0, 0}}

/* The size nbytes is rounded up to (its class). */
size_t dz_cache_class_bytes(size_t nbytes);
/* A buffer of at least nbytes, uninitialised; NULL when the device is out of
 * memory even after the cache was emptied. */
void *dz_cache_alloc(dz_caching_allocator *cache, size_t nbytes);
/* Gives back a buffer that dz_cache_alloc returned for the same nbytes. */
void dz_cache_free(dz_caching_allocator *cache, void *ptr, size_t nbytes);
/* Returns every cached buffer to the device. */
void dz_cache_empty(dz_caching_allocator *cache);
dz_memory_info dz_cache_stats(dz_caching_allocator *cache);

#endif

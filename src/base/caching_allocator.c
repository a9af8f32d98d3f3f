/* The caching allocator (see caching_allocator.h): free blocks kept in
 * size-class bins, reused last-in-first-out, the bytes held (in use and
 * cached) bounded by twice the peak in use; past the bound, the blocks freed
 * longest ago are given back first. */
#include "caching_allocator.h"

#include <stdlib.h>

#include "base.h"

/* A cached block: its device pointer, in a record in host memory, linked
 * into its bin (newest first) and into the list of all cached blocks in the
 * order they were freed. */
struct dz_cache_block {
    void *ptr;
    size_t bytes;                  /* its class's size */
    dz_cache_block **bin;
    dz_cache_block *next, *prev;   /* in its bin; next also links the spare records */
    dz_cache_block *newer, *older; /* among all cached blocks */
};

/* Requests below this share one class. */
#define MIN_CLASS_BYTES ((size_t)64)

typedef struct {
    int e, q; /* the class is 2^e + q 2^(e-2) bytes, q in 1..4 */
} size_class;

static size_class class_of(size_t nbytes)
{
    size_t n = nbytes < MIN_CLASS_BYTES ? MIN_CLASS_BYTES : nbytes;
    int e = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^e < n <= 2^(e+1) */
    size_t step = (size_t)1 << (e - 2);
    int q = (int)((n - ((size_t)1 << e) + step - 1) / step);
    return (size_class){e, q};
}

static size_t bytes_of(size_class c) { return ((size_t)1 << c.e) + (size_t)c.q * ((size_t)1 << (c.e - 2)); }

size_t dz_cache_class_bytes(size_t nbytes) { return bytes_of(class_of(nbytes)); }

/* Puts a record on the bin's head and as the newest cached block. */
static void link_block(dz_caching_allocator *cache, dz_cache_block *b)
{
    b->prev = NULL;
    b->next = *b->bin;
    if (b->next)
        b->next->prev = b;
    *b->bin = b;
    b->older = cache->newest;
    b->newer = NULL;
    if (cache->newest)
        cache->newest->newer = b;
    else
        cache->oldest = b;
    cache->newest = b;
    cache->stats.cached += b->bytes;
}

/* Takes a record out of its bin and of the cached blocks, and keeps it as a
 * spare; returns the block's pointer. */
static void *unlink_block(dz_caching_allocator *cache, dz_cache_block *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        *b->bin = b->next;
    if (b->next)
        b->next->prev = b->prev;
    if (b->newer)
        b->newer->older = b->older;
    else
        cache->newest = b->older;
    if (b->older)
        b->older->newer = b->newer;
    else
        cache->oldest = b->newer;
    cache->stats.cached -= b->bytes;
    b->next = cache->spare;
    cache->spare = b;
    return b->ptr;
}

/* Frees every cached block; the lock is held. */
static void empty_locked(dz_caching_allocator *cache)
{
    while (cache->oldest)
        cache->raw_free(unlink_block(cache, cache->oldest));
    while (cache->spare) {
        dz_cache_block *b = cache->spare;
        cache->spare = b->next;
        free(b);
    }
}

void *dz_cache_alloc(dz_caching_allocator *cache, size_t nbytes)
{
    size_class c = class_of(nbytes);
    size_t bytes = bytes_of(c);
    void *ptr = NULL;
    pthread_mutex_lock(&cache->lock);
    dz_cache_block *b = cache->bins[c.e][c.q - 1];
    if (b) {
        ptr = unlink_block(cache, b);
    } else {
        ptr = cache->raw_alloc(bytes);
        if (!ptr && cache->stats.cached > 0) { /* the device is full: give back what is cached, try again */
            empty_locked(cache);
            ptr = cache->raw_alloc(bytes);
        }
    }
    if (ptr) {
        cache->stats.in_use += bytes;
        if (cache->stats.in_use > cache->stats.peak)
            cache->stats.peak = cache->stats.in_use;
    }
    pthread_mutex_unlock(&cache->lock);
    return ptr;
}

void dz_cache_free(dz_caching_allocator *cache, void *ptr, size_t nbytes)
{
    size_class c = class_of(nbytes);
    size_t bytes = bytes_of(c);
    pthread_mutex_lock(&cache->lock);
    cache->stats.in_use -= bytes;
    /* Past twice the peak, the blocks freed longest ago go first: a program
     * whose working set changed (other sizes, a larger model) keeps the new
     * one. */
    while (cache->oldest && cache->stats.in_use + cache->stats.cached + bytes > 2 * cache->stats.peak)
        cache->raw_free(unlink_block(cache, cache->oldest));
    dz_cache_block *b = cache->spare;
    if (b)
        cache->spare = b->next;
    else
        b = malloc(sizeof *b);
    if (b) {
        *b = (dz_cache_block){.ptr = ptr, .bytes = bytes, .bin = &cache->bins[c.e][c.q - 1]};
        link_block(cache, b);
    }
    pthread_mutex_unlock(&cache->lock);
    if (!b)
        cache->raw_free(ptr);
}

void dz_cache_empty(dz_caching_allocator *cache)
{
    pthread_mutex_lock(&cache->lock);
    empty_locked(cache);
    pthread_mutex_unlock(&cache->lock);
}

dz_memory_info dz_cache_stats(dz_caching_allocator *cache)
{
    pthread_mutex_lock(&cache->lock);
    dz_memory_info stats = cache->stats;
    pthread_mutex_unlock(&cache->lock);
    return stats;
}

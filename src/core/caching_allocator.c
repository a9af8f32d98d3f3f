/* The caching allocator (see caching_allocator.h): free blocks kept in
 * size-class bins, reused first-in-last-out, bounded by the peak in use. */
#include "caching_allocator.h"

#include <stdlib.h>

#include "internal.h"

/* A cached block: its device pointer, in a record in host memory. */
struct dz_cache_block {
    void *ptr;
    dz_cache_block *next;
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

/* Frees every cached block; the lock is held. */
static void empty_locked(dz_caching_allocator *cache)
{
    for (int e = 0; e < 64; e++) {
        for (int q = 0; q < 4; q++) {
            while (cache->bins[e][q]) {
                dz_cache_block *b = cache->bins[e][q];
                cache->bins[e][q] = b->next;
                cache->raw_free(b->ptr);
                free(b);
            }
        }
    }
    while (cache->spare) {
        dz_cache_block *b = cache->spare;
        cache->spare = b->next;
        free(b);
    }
    cache->stats.cached = 0;
}

void *dz_cache_alloc(dz_caching_allocator *cache, size_t nbytes)
{
    size_class c = class_of(nbytes);
    size_t bytes = bytes_of(c);
    void *ptr = NULL;
    pthread_mutex_lock(&cache->lock);
    dz_cache_block *b = cache->bins[c.e][c.q - 1];
    if (b) {
        cache->bins[c.e][c.q - 1] = b->next;
        b->next = cache->spare;
        cache->spare = b;
        ptr = b->ptr;
        cache->stats.cached -= bytes;
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
    bool keep = cache->stats.cached + bytes <= cache->stats.peak;
    if (keep) {
        dz_cache_block *b = cache->spare;
        if (b)
            cache->spare = b->next;
        else
            b = malloc(sizeof *b);
        keep = b != NULL;
        if (keep) {
            *b = (dz_cache_block){ptr, cache->bins[c.e][c.q - 1]};
            cache->bins[c.e][c.q - 1] = b;
            cache->stats.cached += bytes;
        }
    }
    pthread_mutex_unlock(&cache->lock);
    if (!keep)
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

/* The base's assert and checked allocation: both abort, as they report bugs
 * or an exhausted machine, not user errors. */
#include "base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dz_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "dezero: internal error: %s:%d: assertion failed: %s\n", file, line, expr);
    abort();
}

static void *check_alloc(void *p, size_t n)
{
    if (!p && n) {
        fprintf(stderr, "dezero: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return p;
}

void *dz_xmalloc(size_t n) { return check_alloc(malloc(n), n); }
void *dz_xcalloc(size_t count, size_t size) { return check_alloc(calloc(count, size), count * size); }
void *dz_xrealloc(void *p, size_t n) { return check_alloc(realloc(p, n), n); }

char *dz_xformat(const char *fmt, ...)
{
    char first[128]; /* most strings fit: one pass */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(first, sizeof first, fmt, ap);
    va_end(ap);
    DZ_ASSERT(n >= 0);
    char *s = dz_xmalloc((size_t)n + 1);
    if ((size_t)n < sizeof first) {
        memcpy(s, first, (size_t)n + 1);
        return s;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void *dz_xaligned_calloc(size_t alignment, size_t n)
{
    void *p = check_alloc(aligned_alloc(alignment, n), n);
    memset(p, 0, n);
    return p;
}

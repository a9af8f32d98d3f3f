/* Scopes: a stack of autorelease pools, one array of Variables each. */
#include <stdlib.h>

#include "dezero/scope.h"
#include "internal.h"

typedef struct {
    dz_variable **items;
    int count, capacity;
} pool;

static DZ_THREAD_LOCAL pool *pools;
static DZ_THREAD_LOCAL int depth, pools_capacity;

/* At thread exit: the pools' arrays (scopes still open leak their Variables). */
static void free_pools(void)
{
    for (int i = 0; i < pools_capacity; i++)
        free(pools[i].items);
    free(pools);
    pools = NULL;
    depth = pools_capacity = 0;
}

void dz_scope_begin(void)
{
    if (depth == pools_capacity) {
        if (!pools)
            dz_at_thread_exit(free_pools);
        int cap = pools_capacity ? pools_capacity * 2 : 8;
        pools = dz_xrealloc(pools, (size_t)cap * sizeof *pools);
        for (int i = pools_capacity; i < cap; i++)
            pools[i] = (pool){NULL, 0, 0};
        pools_capacity = cap;
    }
    pools[depth++].count = 0;
}

void dz_scope_end(void)
{
    if (depth == 0) {
        dz_raise(DZ_ERR_STATE, "dz_scope_end: no scope is open; each dz_scope_end closes one dz_scope_begin");
        return;
    }
    pool *p = &pools[depth - 1];
    for (int i = 0; i < p->count; i++)
        dz_variable_release(p->items[i]);
    p->count = 0;
    depth--;
}

dz_variable *dz_scope_keep(dz_variable *v) { return dz_variable_retain(v); }

dz_variable *dz_autorelease(dz_variable *v)
{
    if (!v || depth == 0)
        return v;
    pool *p = &pools[depth - 1];
    if (p->count == p->capacity) {
        p->capacity = p->capacity ? p->capacity * 2 : 64;
        p->items = dz_xrealloc(p->items, (size_t)p->capacity * sizeof *p->items);
    }
    p->items[p->count++] = v;
    return v;
}

int dz_scope_depth(void) { return depth; }

/* Debugging aids: the live-object counts (live_count.h) summed over the
 * threads' blocks, and the warning at exit about objects still alive
 * (DZ_DEBUG_LEAKS=1 or dz_debug_warn_leaks_at_exit). */
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dezero/debug.h"
#include "live_count.h"

DZ_THREAD_LOCAL dz_live_block *dz_live_mine;
static _Atomic(dz_live_block *) blocks; /* every block ever made, newest first */

static atomic_bool warn_at_exit;
static atomic_flag report_registered = ATOMIC_FLAG_INIT;

/* At thread exit: the block (with its counts) goes to the next thread. */
static void give_back_block(void)
{
    dz_live_block *b = dz_live_mine;
    dz_live_mine = NULL;
    atomic_store_explicit(&b->owned, false, memory_order_release);
}

dz_live_block *dz_live_claim(void)
{
    dz_live_block *b = atomic_load_explicit(&blocks, memory_order_acquire);
    for (; b; b = b->next) {
        bool free_block = false;
        if (atomic_compare_exchange_strong(&b->owned, &free_block, true))
            break;
    }
    if (!b) {
        b = dz_xaligned_calloc(alignof(dz_live_block), sizeof *b); /* never freed */
        atomic_store_explicit(&b->owned, true, memory_order_relaxed);
        b->next = atomic_load_explicit(&blocks, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(&blocks, &b->next, b, memory_order_release,
                                                      memory_order_relaxed))
            ;
    }
    dz_live_mine = b;
    dz_at_thread_exit(give_back_block);
    return b;
}

static int64_t live(dz_live_kind kind)
{
    int64_t sum = 0;
    for (dz_live_block *b = atomic_load_explicit(&blocks, memory_order_acquire); b; b = b->next)
        sum += atomic_load_explicit(&b->counts[kind], memory_order_relaxed);
    return sum;
}

dz_live_objects dz_debug_live_objects(void)
{
    return (dz_live_objects){live(DZ_LIVE_VARIABLES), live(DZ_LIVE_FUNCTIONS), live(DZ_LIVE_ARRAYS),
                             live(DZ_LIVE_STORAGES), live(DZ_LIVE_STORAGE_BYTES)};
}

static const char *plural(int64_t n) { return n == 1 ? "" : "s"; }

static void report_at_exit(void)
{
    if (!atomic_load(&warn_at_exit))
        return;
    dz_live_objects n = dz_debug_live_objects();
    if (n.variables == 0 && n.functions == 0 && n.arrays == 0)
        return;
    fprintf(stderr,
            "dezero: at exit %lld Variable%s, %lld Function%s and %lld array%s (%lld bytes) are still alive: "
            "never released, and owned by no scope that has ended (the arrays include the Variables' data; "
            "the Functions are graph nodes those Variables keep)\n"
            "dezero: release what is made outside a scope with dz_variable_release or dz_array_release, a layer "
            "and its parameters with dz_layer_free, an optimizer with dz_optimizer_free; or make it between "
            "dz_scope_begin() and dz_scope_end(), and release what dz_scope_keep kept\n",
            (long long)n.variables, plural(n.variables), (long long)n.functions, plural(n.functions),
            (long long)n.arrays, plural(n.arrays), (long long)n.storage_bytes);
}

void dz_debug_warn_leaks_at_exit(bool on)
{
    atomic_store(&warn_at_exit, on);
    if (on && !atomic_flag_test_and_set(&report_registered))
        atexit(report_at_exit);
}

/* DZ_DEBUG_LEAKS set to anything but "" or "0" turns the warning on. */
__attribute__((constructor)) static void read_leak_variable(void)
{
    const char *s = getenv("DZ_DEBUG_LEAKS");
    if (s && s[0] && strcmp(s, "0") != 0)
        dz_debug_warn_leaks_at_exit(true);
}

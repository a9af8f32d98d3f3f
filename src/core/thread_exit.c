/* Per-thread memory is freed when its thread exits: object pools (pool.h),
 * scope stacks, the release stack and error texts. The first time a thread
 * keeps such memory it sets a pthread key whose destructor, run at thread
 * exit, calls the cleanups the thread registered. The main thread's memory
 * stays reachable until the process ends. */
#include <pthread.h>

#include "internal.h"
#include "pool.h"

#define MAX_CLEANUPS 8

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static DZ_THREAD_LOCAL dz_thread_cleanup cleanups[MAX_CLEANUPS];
static DZ_THREAD_LOCAL int cleanup_count;
static DZ_THREAD_LOCAL dz_pool *registered_pools;

static void drain_pools(void)
{
    for (dz_pool *pool = registered_pools; pool; pool = pool->next_registered) {
        while (pool->free) {
            dz_pool_block *b = pool->free;
            pool->free = b->next;
            free(b);
        }
        pool->free_bytes = 0;
        pool->registered = false;
    }
    registered_pools = NULL;
}

static void on_thread_exit(void *unused)
{
    (void)unused;
    for (int i = cleanup_count - 1; i >= 0; i--) /* the latest first: it may use the earlier ones */
        cleanups[i]();
    cleanup_count = 0;
    drain_pools();
}

static void create_key(void) { DZ_ASSERT(pthread_key_create(&exit_key, on_thread_exit) == 0); }

static void arm_exit_key(void)
{
    pthread_once(&exit_key_once, create_key);
    pthread_setspecific(exit_key, &exit_key); /* any non-NULL value: the destructor runs */
}

void dz_at_thread_exit(dz_thread_cleanup fn)
{
    for (int i = 0; i < cleanup_count; i++)
        if (cleanups[i] == fn)
            return;
    DZ_ASSERT(cleanup_count < MAX_CLEANUPS);
    cleanups[cleanup_count++] = fn;
    arm_exit_key();
}

void dz_pool_register(dz_pool *pool)
{
    pool->registered = true;
    pool->next_registered = registered_pools;
    registered_pools = pool;
    arm_exit_key();
}

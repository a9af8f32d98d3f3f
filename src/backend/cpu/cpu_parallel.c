/* The CPU kernels' threads: how many (dz_set_num_threads, DZ_NUM_THREADS), a
 * pool of worker threads, a parallel-for over contiguous ranges and a
 * reduction over fixed blocks.
 *
 * The pool is our own (pthreads), not OpenMP's, though either splits a range
 * over threads in a few lines: libgomp's idle workers spin for milliseconds
 * after each parallel region (how long can only be set in the environment
 * before the program starts), and on a machine with few cores they take the
 * cores from OpenBLAS's threads and from the calling thread. On two cores
 * shared with other work, a 65,536-element bias add took 0.6 ms with OpenMP
 * and 0.06 ms with this pool, a small Linear layer 27 ms and 0.3 ms. Here an
 * idle worker yields the CPU a few dozen times, then sleeps. Workers are
 * joined when the library is unloaded, and a forked child starts new ones. */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef DZ_HAVE_CBLAS
#include <cblas.h>
#endif

#include "../../base/base.h"
#include "cpu_parallel.h"
#include "dezero/device.h"

/* ---- the number of threads ------------------------------------------------ */

static atomic_int thread_count = 1;

/* DZ_NUM_THREADS as a positive int, or 0 when it is unset or not one. */
static int env_thread_count(void)
{
    const char *s = getenv("DZ_NUM_THREADS");
    if (!s || !*s)
        return 0;
    char *end;
    long n = strtol(s, &end, 10);
    return *end == '\0' && n > 0 && n <= INT_MAX ? (int)n : 0;
}

/* Runs when the library loads: the kernels use DZ_NUM_THREADS threads if it
 * is set, else every online CPU. OpenBLAS runs on one thread: gemm cuts its
 * products over our threads itself (cpu_gemm.c), so that their bits do not
 * depend on the thread count. */
__attribute__((constructor)) static void read_thread_count(void)
{
#ifdef DZ_HAVE_CBLAS
    openblas_set_num_threads(1);
#endif
    int n = env_thread_count();
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 && cpus <= INT_MAX ? (int)cpus : 1;
    }
    dz_set_num_threads(n);
}

void dz_set_num_threads(int n) { atomic_store(&thread_count, n < 1 ? 1 : n); }

int dz_num_threads(void) { return atomic_load(&thread_count); }

/* ---- the worker threads ------------------------------------------------------ */

/* A waiting thread yields the CPU this many times, checking in between,
 * before it sleeps: back-to-back ops find the workers awake, and idle workers
 * neither keep a core busy nor pay a wake-up for every op. */
#define YIELDS_BEFORE_SLEEP 64
#define MAX_WORKERS 63 /* jobs use at most 64 threads */

typedef struct {
    pthread_t thread;
    uint64_t seen; /* the last job it looked at */
} worker;

/* One job at a time: `busy` is held by the thread that runs it, so a call
 * made meanwhile (from another thread, or nested inside the job) runs alone. */
static struct {
    pthread_mutex_t busy;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake, done;
    worker workers[MAX_WORKERS];
    int nworkers;
    bool stopping;
    atomic_uint_fast64_t job; /* bumped for each job */
    atomic_int pending;       /* parts of the job that workers have not finished */
    dz_range_fn fn;           /* the job: fn over [0, n) in `parts` ranges */
    void *ctx;
    int64_t n;
    int parts;
} pool = {.busy = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

/* Start of part i when [0, n) is cut into `parts` nearly equal ranges. */
static int64_t part_start(int64_t n, int parts, int i)
{
    int64_t q = n / parts, r = n % parts;
    return q * i + (i < r ? i : r);
}

static void *worker_main(void *vself)
{
    worker *self = vself;
    int part = (int)(self - pool.workers) + 1; /* the caller runs part 0 */
    for (;;) {
        for (int i = 0; i < YIELDS_BEFORE_SLEEP && atomic_load(&pool.job) == self->seen; i++)
            sched_yield();
        pthread_mutex_lock(&pool.lock);
        while (atomic_load(&pool.job) == self->seen && !pool.stopping)
            pthread_cond_wait(&pool.wake, &pool.lock);
        if (pool.stopping) {
            pthread_mutex_unlock(&pool.lock);
            return NULL;
        }
        self->seen = atomic_load(&pool.job);
        dz_range_fn fn = pool.fn;
        void *ctx = pool.ctx;
        int64_t n = pool.n;
        int parts = pool.parts;
        pthread_mutex_unlock(&pool.lock);
        if (part >= parts)
            continue;
        fn(ctx, part_start(n, parts, part), part_start(n, parts, part + 1));
        pthread_mutex_lock(&pool.lock);
        if (atomic_fetch_sub(&pool.pending, 1) == 1)
            pthread_cond_signal(&pool.done);
        pthread_mutex_unlock(&pool.lock);
    }
}

/* A forked child has none of the workers (and maybe a held lock). */
static void forget_workers(void)
{
    pool.busy = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    pool.lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    pool.wake = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    pool.done = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    pool.nworkers = 0;
}

static void register_fork_handler(void) { pthread_atfork(NULL, NULL, forget_workers); }

/* Starts workers until there are `count` (or as many as the system gives);
 * returns how many of them a job may use. Called with `busy` held. */
static int start_workers(int count)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_fork_handler);
    count = count < MAX_WORKERS ? count : MAX_WORKERS;
    pthread_mutex_lock(&pool.lock);
    while (pool.nworkers < count && !pool.stopping) {
        worker *w = &pool.workers[pool.nworkers];
        w->seen = atomic_load(&pool.job);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            break;
        pool.nworkers++;
    }
    int started = pool.stopping ? 0 : pool.nworkers;
    pthread_mutex_unlock(&pool.lock);
    return started < count ? started : count;
}

/* Workers are joined when the library is unloaded (or the program exits), so
 * that none is left running code that is gone. */
__attribute__((destructor)) static void stop_workers(void)
{
    pthread_mutex_lock(&pool.lock);
    pool.stopping = true;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < pool.nworkers; i++)
        pthread_join(pool.workers[i].thread, NULL);
}

/* Runs fn over [0, n) in `parts` ranges: part 0 here, the others on workers. */
static void run_job(int parts, int64_t n, dz_range_fn fn, void *ctx)
{
    pthread_mutex_lock(&pool.lock);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.parts = parts;
    atomic_store(&pool.pending, parts - 1);
    atomic_fetch_add(&pool.job, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    fn(ctx, 0, part_start(n, parts, 1));
    for (int i = 0; i < YIELDS_BEFORE_SLEEP && atomic_load(&pool.pending) > 0; i++)
        sched_yield();
    pthread_mutex_lock(&pool.lock);
    while (atomic_load(&pool.pending) > 0)
        pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
}

/* ---- parallel for ---------------------------------------------------------- */

/* Threads for n items of `cost` elements: one per grain of work, at most one
 * per item and dz_num_threads(). */
static int threads_for(int64_t n, int64_t cost)
{
    int64_t work = n * cost;
    if (work <= DZ_GRAIN)
        return 1;
    int64_t t = dz_num_threads(), grains = (work + DZ_GRAIN - 1) / DZ_GRAIN;
    t = t < grains ? t : grains;
    return (int)(t < n ? t : n);
}

/* False when the pool is running another job (or this call is nested in
 * one) or no worker could be started: the caller then does all the work. */
static bool run_on_workers(int threads, int64_t n, dz_range_fn fn, void *ctx)
{
    if (pthread_mutex_trylock(&pool.busy) != 0)
        return false;
    int workers = start_workers(threads - 1);
    if (workers > 0)
        run_job(workers + 1, n, fn, ctx);
    pthread_mutex_unlock(&pool.busy);
    return workers > 0;
}

void dz_parallel_for(int64_t n, int64_t cost, dz_range_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    int threads = threads_for(n, cost);
    if (threads == 1 || !run_on_workers(threads, n, fn, ctx))
        fn(ctx, 0, n);
}

/* ---- block reduction -------------------------------------------------------- */

/* Partials of one round of blocks live on the calling thread's stack. */
#define ROUND_BYTES (8 * DZ_PARTIAL_BYTES)

typedef struct {
    const dz_block_reduction *r;
    void *ctx;
    int64_t first;        /* the round's first block */
    unsigned char *slots; /* (blocks in the round, partial_bytes) */
} reduction_round;

static void round_partials(void *vround, int64_t begin, int64_t end)
{
    const reduction_round *round = vround;
    for (int64_t i = begin; i < end; i++)
        round->r->partial(round->ctx, round->first + i, round->slots + (size_t)i * round->r->partial_bytes);
}

void dz_parallel_reduce(const dz_block_reduction *r, int64_t nblocks, int64_t block_cost, void *ctx)
{
    _Alignas(64) unsigned char slots[ROUND_BYTES];
    DZ_ASSERT(r->partial_bytes > 0 && r->partial_bytes <= DZ_PARTIAL_BYTES);
    int64_t per_round = (int64_t)(ROUND_BYTES / r->partial_bytes);
    for (int64_t first = 0; first < nblocks; first += per_round) {
        int64_t count = nblocks - first < per_round ? nblocks - first : per_round;
        reduction_round round = {r, ctx, first, slots};
        dz_parallel_for(count, block_cost, round_partials, &round);
        for (int64_t i = 0; i < count; i++)
            r->combine(ctx, first + i, slots + (size_t)i * r->partial_bytes);
    }
}

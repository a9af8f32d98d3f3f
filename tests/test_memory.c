/* The caching allocator: size classes, reuse, statistics, which blocks go
 * when the cache is full, zero-fill of reused buffers, a steady training loop
 * that allocates nothing new, and buffers freed on another thread. */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "../src/base/caching_allocator.h"
#include "test_common.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define DZ_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DZ_TEST_ASAN 1
#endif
#endif

START_TEST(test_size_classes)
{
    ck_assert_uint_eq(dz_cache_class_bytes(1), 64);
    ck_assert_uint_eq(dz_cache_class_bytes(4096), 4096);
    ck_assert_uint_eq(dz_cache_class_bytes(4097), 5120);
    ck_assert_uint_eq(dz_cache_class_bytes(5000), 5120);
    ck_assert_uint_eq(dz_cache_class_bytes(7169), 8192);
    ck_assert_uint_eq(dz_cache_class_bytes((size_t)3 << 20), (size_t)3 << 20);
    for (size_t n = 65; n < 100000; n = n * 9 / 8 + 1) { /* within 25% above, never below */
        size_t c = dz_cache_class_bytes(n);
        ck_assert(c >= n && c <= n + n / 4);
    }
}
END_TEST

/* A raw allocator that counts its calls, for an allocator of our own. */
static int raw_allocs, raw_frees;
static void *counting_alloc(size_t n)
{
    raw_allocs++;
    return malloc(n);
}
static void counting_free(void *p)
{
    raw_frees++;
    free(p);
}

START_TEST(test_reuse_and_stats)
{
    dz_caching_allocator cache = DZ_CACHING_ALLOCATOR_INIT(counting_alloc, counting_free);
    raw_allocs = raw_frees = 0;
    void *a = dz_cache_alloc(&cache, 10000), *b = dz_cache_alloc(&cache, 10000);
    ck_assert_int_eq(raw_allocs, 2);
    dz_memory_info s = dz_cache_stats(&cache);
    ck_assert_uint_eq(s.in_use, 2 * 10240);
    ck_assert_uint_eq(s.cached, 0);
    dz_cache_free(&cache, a, 10000);
    dz_cache_free(&cache, b, 10000);
    s = dz_cache_stats(&cache);
    ck_assert_uint_eq(s.in_use, 0);
    ck_assert_uint_eq(s.cached, 2 * 10240);
    ck_assert_uint_eq(s.peak, 2 * 10240);
    void *c = dz_cache_alloc(&cache, 9500); /* same class: reused, last freed first */
    ck_assert_ptr_eq(c, b);
    ck_assert_int_eq(raw_allocs, 2);
    void *d = dz_cache_alloc(&cache, 20000); /* another class: new */
    ck_assert_int_eq(raw_allocs, 3);
    dz_cache_free(&cache, c, 9500);
    dz_cache_free(&cache, d, 20000); /* 2 * 10240 + 20480 held, within twice the peak (10240 + 20480) */
    ck_assert_int_eq(raw_frees, 0);
    ck_assert_ptr_eq(dz_cache_alloc(&cache, 10000), c);
    ck_assert_ptr_eq(dz_cache_alloc(&cache, 20000), d);
    ck_assert_int_eq(raw_allocs, 3);
    dz_cache_free(&cache, c, 10000);
    dz_cache_free(&cache, d, 20000);
    dz_cache_empty(&cache);
    ck_assert_int_eq(raw_frees, 3);
    s = dz_cache_stats(&cache);
    ck_assert_uint_eq(s.cached, 0);
    ck_assert_uint_eq(s.in_use, 0);
}
END_TEST

/* Allocates `count` blocks of `bytes`, then frees them. */
static void phase(dz_caching_allocator *cache, int count, size_t bytes)
{
    void *blocks[8];
    for (int i = 0; i < count; i++)
        blocks[i] = dz_cache_alloc(cache, bytes);
    for (int i = 0; i < count; i++)
        dz_cache_free(cache, blocks[i], bytes);
}

/* Past twice the peak, the blocks freed longest ago are given back first:
 * after a phase of small buffers, two alternating phases of larger ones (of
 * two classes, each at the peak) run from the cache from their second round
 * on, and the small blocks make room for them, the oldest first. */
START_TEST(test_oldest_blocks_given_back_first)
{
    dz_caching_allocator cache = DZ_CACHING_ALLOCATOR_INIT(counting_alloc, counting_free);
    phase(&cache, 8, 1024);
    raw_allocs = raw_frees = 0;
    for (int round = 0; round < 3; round++) {
        phase(&cache, 4, 4096);
        phase(&cache, 4, 3500); /* the class of 3584 bytes */
    }
    ck_assert_int_eq(raw_allocs, 8); /* the first round only */
    /* 8 * 1024 + 4 * 4096 + 4 * 3584 would pass 2 * 4 * 4096 by 6 * 1024: six small blocks go */
    ck_assert_int_eq(raw_frees, 6);
    dz_memory_info s = dz_cache_stats(&cache);
    ck_assert_uint_eq(s.cached, 2 * 1024 + 4 * 4096 + 4 * 3584);
    ck_assert_uint_eq(s.peak, 4 * 4096);
    dz_cache_empty(&cache);
    ck_assert_int_eq(raw_frees, 16);
}
END_TEST

/* A buffer that comes back from the cache dirty is zeroed by dz_array_zeros. */
START_TEST(test_reused_buffer_is_zeroed)
{
    const int64_t shape[] = {3000};
    for (int round = 0; round < 2; round++) {
        dz_array *a = dz_array_zeros(DZ_F32, 1, shape);
        for (int64_t i = 0; i < a->size; i++) {
            ck_assert_float_eq(((float *)a->data)[i], 0.0f);
            ((float *)a->data)[i] = 7.0f;
        }
        dz_array_release(a);
    }
}
END_TEST

static void mlp_step(dz_layer *model, dz_optimizer *opt, dz_array *x, dz_array *t)
{
    dz_scope_begin();
    dz_variable *y = dz_layer_call(model, dz_variable_constant(dz_array_retain(x), NULL));
    dz_variable *loss = dz_softmax_cross_entropy(y, dz_variable_constant(dz_array_retain(t), NULL));
    dz_layer_cleargrads(model);
    dz_variable_backward(loss, false, false);
    dz_optimizer_update(opt);
    dz_scope_end();
}

/* After the first steps, a training loop takes every buffer from the cache:
 * the bytes held (in use + cached) and the peak stay where they are. */
START_TEST(test_steady_training_loop_allocates_nothing_new)
{
    dz_rng rng;
    dz_rng_seed(&rng, 1);
    dz_layer *model = dz_mlp_new(2, DZ_SHAPE(300, 10), dz_relu, DZ_F32, &rng);
    dz_optimizer *opt = dz_adam_new(NULL);
    dz_optimizer_setup(opt, model);
    dz_array *x = dz_array_normal(&rng, DZ_F32, 2, DZ_SHAPE(64, 200), 0, 1);
    dz_array *t = dz_array_zeros(DZ_I32, 1, DZ_SHAPE(64));
    for (int i = 0; i < 3; i++)
        mlp_step(model, opt, x, t);
    dz_memory_info before = dz_memory_stats();
    ck_assert_uint_gt(before.cached, 0);
    for (int i = 0; i < 20; i++)
        mlp_step(model, opt, x, t);
    dz_memory_info after = dz_memory_stats();
    ck_assert_uint_eq(after.in_use + after.cached, before.in_use + before.cached);
    ck_assert_uint_eq(after.peak, before.peak);
    ck_assert_uint_le(after.in_use, after.peak);
    dz_array_release(x);
    dz_array_release(t);
    dz_optimizer_free(opt);
    dz_layer_free(model);
    dz_empty_cache();
    ck_assert_uint_eq(dz_memory_stats().cached, 0);
}
END_TEST

static void *release_array(void *a)
{
    dz_array_release(a);
    return NULL;
}

/* An array made in one thread may die in another. */
START_TEST(test_free_on_another_thread)
{
    dz_memory_info before = dz_memory_stats();
    dz_array *a = dz_array_ones(DZ_F64, 1, DZ_SHAPE(100000));
    ck_assert_uint_ge(dz_memory_stats().in_use, before.in_use + 800000);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, release_array, a), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_uint_eq(dz_memory_stats().in_use, before.in_use);
}
END_TEST

/* A short-lived thread that uses scopes, the object pools and the error text. */
static void *small_job(void *unused)
{
    (void)unused;
    dz_scope_begin();
    dz_variable *x = dz_variable_new(dz_array_ones(DZ_F32, 1, DZ_SHAPE(8)), NULL);
    dz_variable_backward(dz_sum(dz_exp(dz_mul(x, x)), 0, NULL, false), false, false);
    dz_scope_end();
    dz_error_handler old = dz_set_error_handler_off();
    dz_array *a = dz_array_zeros(DZ_F32, 0, NULL);
    ck_assert_ptr_null(dz_array_reshape(a, 1, DZ_SHAPE(5))); /* fails: sets the error text */
    dz_array_release(a);
    dz_set_error_handler(old);
    return NULL;
}

static void run_threads(int n)
{
    for (int i = 0; i < n; i++) {
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, small_job, NULL), 0);
        ck_assert_int_eq(pthread_join(th, NULL), 0);
    }
}

/* Resident memory of the process in bytes (/proc/self/statm). */
static size_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_ptr_nonnull(f);
    unsigned long pages = 0, resident = 0;
    ck_assert_int_eq(fscanf(f, "%lu %lu", &pages, &resident), 2);
    fclose(f);
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* How much resident memory may grow over the 1,000 threads below. */
#define RSS_SLACK ((size_t)8 << 20)

/* Under AddressSanitizer and valgrind freed blocks wait in a queue before
 * reuse (tens of MB), so resident memory grows without a leak; their leak
 * checkers see a thread's memory that stays instead. */
static bool rss_is_meaningful(void)
{
#ifdef DZ_TEST_ASAN
    return false;
#else
    return !RUNNING_ON_VALGRIND;
#endif
}

/* Each exiting thread frees its pools, scope stack and error text: 1,000
 * short-lived threads leave the heap and the resident memory flat (a thread
 * that kept its memory would add about 88 KiB each, 87 MB in all; the leak
 * checkers of the sanitizer and valgrind builds see any that stay). */
START_TEST(test_thread_exit_frees_thread_memory)
{
    run_threads(50); /* warm up the allocator's arenas */
    size_t heap_before = mallinfo2().uordblks, rss_before = resident_bytes();
    run_threads(1000);
    size_t heap_after = mallinfo2().uordblks, rss_after = resident_bytes();
    ck_assert_msg(heap_after < heap_before + 1000 * 1024, "heap grew by %zu bytes over 1,000 threads",
                  heap_after - heap_before);
    ck_assert_msg(!rss_is_meaningful() || rss_after < rss_before + RSS_SLACK, "resident memory grew by %zu bytes over 1,000 threads",
                  rss_after - rss_before);
}
END_TEST

static Suite *memory_suite(void)
{
    Suite *s = suite_create("memory");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_size_classes);
    tcase_add_test(tc, test_reuse_and_stats);
    tcase_add_test(tc, test_oldest_blocks_given_back_first);
    tcase_add_test(tc, test_reused_buffer_is_zeroed);
    tcase_add_test(tc, test_steady_training_loop_allocates_nothing_new);
    tcase_add_test(tc, test_free_on_another_thread);
    tcase_add_test(tc, test_thread_exit_frees_thread_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(memory_suite()); }

/* The debugging aids (debug.h): live-object counts that follow creation,
 * sharing and release (also from several threads at once, and with freed
 * objects kept in the pools), and the warning at exit, checked on child
 * processes of this program that leak or do not.
 *
 *   test_debug                 run the suite
 *   test_debug --child MODE    one of the child programs below */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_common.h"

/* now - before, field by field, against the expected differences. */
static void assert_grew(dz_live_objects before, int64_t variables, int64_t functions, int64_t arrays,
                        int64_t storages, int64_t bytes)
{
    dz_live_objects now = dz_debug_live_objects();
    ck_assert_int_eq(now.variables - before.variables, variables);
    ck_assert_int_eq(now.functions - before.functions, functions);
    ck_assert_int_eq(now.arrays - before.arrays, arrays);
    ck_assert_int_eq(now.storages - before.storages, storages);
    ck_assert_int_eq(now.storage_bytes - before.storage_bytes, bytes);
}

START_TEST(test_counts_follow_objects)
{
    dz_live_objects start = dz_debug_live_objects();
    dz_array *a = dz_array_zeros(DZ_F32, 1, DZ_SHAPE(3));
    assert_grew(start, 0, 0, 1, 1, 12);
    dz_array *shared = dz_array_reshape(a, 2, DZ_SHAPE(3, 1)); /* a new header on a's storage */
    assert_grew(start, 0, 0, 2, 1, 12);
    dz_variable *x = dz_variable_new(a, "x"); /* takes the reference to a */
    assert_grew(start, 1, 0, 2, 1, 12);
    dz_variable *y = dz_exp(x); /* outside any scope: the caller's reference */
    assert_grew(start, 2, 1, 3, 2, 24);
    ck_assert_int_eq(dz_variable_backward(y, false, false), DZ_OK); /* x's grad; y's seed grad freed */
    assert_grew(start, 3, 1, 4, 3, 36);
    dz_variable_release(y); /* the Function goes with its only output */
    assert_grew(start, 2, 0, 3, 2, 24);
    dz_variable_release(x); /* and x's grad with x */
    assert_grew(start, 0, 0, 1, 1, 12);
    dz_array_release(shared);
    assert_grew(start, 0, 0, 0, 0, 0);
}
END_TEST

/* A scope's graph is counted while it lives and not after, though the pools
 * keep the freed blocks for the next step. */
START_TEST(test_counts_with_scopes_and_pools)
{
    dz_live_objects start = dz_debug_live_objects();
    for (int step = 0; step < 3; step++) {
        dz_scope_begin();
        dz_variable *x = tc_randn(1, 2, DZ_SHAPE(4, 5));
        dz_variable *loss = dz_sum(dz_tanh(dz_mul(x, x)), 0, NULL, false);
        ck_assert_int_eq(dz_variable_backward(loss, false, false), DZ_OK);
        dz_live_objects inside = dz_debug_live_objects();
        ck_assert_int_ge(inside.variables - start.variables, 5);
        ck_assert_int_eq(inside.functions - start.functions, 3);
        dz_scope_end();
        assert_grew(start, 0, 0, 0, 0, 0);
    }
}
END_TEST

#define THREADS 4
#define PER_THREAD 20000

/* Each thread makes and frees PER_THREAD graphs, then keeps one Variable. */
static void *make_and_free(void *out)
{
    for (int i = 0; i < PER_THREAD; i++) {
        dz_scope_begin();
        dz_variable *x = dz_variable_scalar(DZ_F32, (float)i);
        dz_add_scalar(dz_mul(x, x), 1.0);
        dz_scope_end();
    }
    *(dz_variable **)out = dz_variable_scalar(DZ_F64, 1.0);
    return NULL;
}

/* Runs a wave of THREADS threads and joins them. */
static void run_wave(dz_variable **kept)
{
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&threads[t], NULL, make_and_free, &kept[t]), 0);
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
}

/* A second wave after the first has exited: its threads count on the blocks
 * the exited ones gave back, and the counts stay exact. */
START_TEST(test_counts_across_threads)
{
    dz_live_objects start = dz_debug_live_objects();
    dz_variable *kept[2 * THREADS];
    run_wave(kept);
    assert_grew(start, THREADS, 0, THREADS, THREADS, THREADS * 8);
    run_wave(kept + THREADS);
    assert_grew(start, 2 * THREADS, 0, 2 * THREADS, 2 * THREADS, 2 * THREADS * 8);
    for (int t = 0; t < THREADS; t++)
        dz_variable_release(kept[t]);
    assert_grew(start, THREADS, 0, THREADS, THREADS, THREADS * 8);
    for (int t = THREADS; t < 2 * THREADS; t++)
        dz_variable_release(kept[t]);
    assert_grew(start, 0, 0, 0, 0, 0);
}
END_TEST

/* ---- the warning at exit, on child processes ----------------------------------- */

/* The child programs: each exits normally through exit(). */
static int run_child_mode(const char *mode)
{
    if (strcmp(mode, "leak") == 0 || strcmp(mode, "turned_on") == 0 || strcmp(mode, "turned_off") == 0) {
        if (strcmp(mode, "turned_on") == 0)
            dz_debug_warn_leaks_at_exit(true);
        if (strcmp(mode, "turned_off") == 0)
            dz_debug_warn_leaks_at_exit(false);
        dz_variable_new(dz_array_zeros(DZ_F64, 1, DZ_SHAPE(3)), "leaked"); /* never released */
    } else if (strcmp(mode, "layer") == 0) {
        dz_rng rng;
        dz_rng_seed(&rng, 1);
        dz_linear_layer_new(3, 2, false, DZ_F32, &rng); /* never freed: W (2, 3) and b (3,) */
    } else if (strcmp(mode, "open_scope") == 0) {
        dz_scope_begin(); /* never ended */
        dz_exp(dz_variable_scalar(DZ_F32, 1.0));
    } else if (strcmp(mode, "graph") == 0) {
        dz_variable *x = dz_variable_new(dz_array_ones(DZ_F32, 1, DZ_SHAPE(2)), NULL);
        dz_variable *y = dz_exp(x);
        dz_variable_release(x); /* y keeps x and its Function alive */
        (void)y;
    } else if (strcmp(mode, "clean") == 0) {
        dz_rng rng;
        dz_rng_seed(&rng, 1);
        dz_layer *layer = dz_linear_layer_new(3, 2, false, DZ_F32, &rng);
        dz_scope_begin();
        dz_variable *x = dz_variable_new(dz_array_ones(DZ_F32, 2, DZ_SHAPE(4, 2)), NULL);
        dz_variable *kept = dz_scope_keep(dz_sum(dz_layer_call(layer, x), 0, NULL, false));
        dz_scope_end();
        dz_variable_backward(kept, false, false);
        dz_variable_release(kept);
        dz_layer_free(layer);
        dz_array_release(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(5)));
    } else {
        fprintf(stderr, "test_debug: unknown child mode '%s'\n", mode);
        return 2;
    }
    exit(0);
}

static const char *program; /* argv[0]: under valgrind /proc/self/exe is valgrind */

/* Runs this program as the child `mode` with DZ_DEBUG_LEAKS set to `leaks`
 * (unset when NULL); returns its stderr (to be freed). */
static char *child_stderr(const char *mode, const char *leaks)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        if (leaks)
            setenv("DZ_DEBUG_LEAKS", leaks, 1);
        else
            unsetenv("DZ_DEBUG_LEAKS");
        /* the children leak on purpose: no LeakSanitizer report in ASan builds */
        const char *asan = getenv("ASAN_OPTIONS");
        char options[1024];
        snprintf(options, sizeof options, "%s%sdetect_leaks=0", asan ? asan : "", asan && asan[0] ? ":" : "");
        setenv("ASAN_OPTIONS", options, 1);
        execl(program, program, "--child", mode, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t capacity = 1 << 14, used = 0;
    char *text = malloc(capacity);
    ssize_t n;
    while ((n = read(fds[0], text + used, capacity - 1 - used)) > 0)
        used += (size_t)n;
    text[used] = '\0';
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child '%s' failed: %s", mode, text);
    return text;
}

static void assert_warns(const char *mode, const char *leaks, const char *first_line)
{
    char *text = child_stderr(mode, leaks);
    ck_assert_msg(strncmp(text, first_line, strlen(first_line)) == 0, "child '%s' printed:\n%s\nexpected:\n%s",
                  mode, text, first_line);
    ck_assert_msg(strstr(text, "dz_variable_release") && strstr(text, "dz_scope_begin()") &&
                  strstr(text, "dz_layer_free"), "%s", text);
    free(text);
}

static void assert_silent(const char *mode, const char *leaks)
{
    char *text = child_stderr(mode, leaks);
    ck_assert_msg(text[0] == '\0', "child '%s' printed:\n%s", mode, text);
    free(text);
}

START_TEST(test_leak_warning)
{
    assert_warns("leak", "1", "dezero: at exit 1 Variable, 0 Functions and 1 array (24 bytes) are still alive: ");
    assert_warns("layer", "1", "dezero: at exit 2 Variables, 0 Functions and 2 arrays (36 bytes) are still alive: ");
    assert_warns("graph", "1", "dezero: at exit 2 Variables, 1 Function and 2 arrays (16 bytes) are still alive: ");
    assert_warns("open_scope", "1", "dezero: at exit 2 Variables, 1 Function and 2 arrays (8 bytes) are still alive: ");
    assert_warns("turned_on", NULL, "dezero: at exit 1 Variable, 0 Functions and 1 array (24 bytes) are ");
}
END_TEST

START_TEST(test_no_leak_no_warning)
{
    assert_silent("clean", "1");
    assert_silent("leak", NULL);  /* off by default */
    assert_silent("leak", "0");
    assert_silent("turned_off", "1");
}
END_TEST

static Suite *debug_suite(void)
{
    Suite *s = suite_create("debug");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_counts_follow_objects);
    tcase_add_test(tc, test_counts_with_scopes_and_pools);
    tcase_add_test(tc, test_counts_across_threads);
    tcase_add_test(tc, test_leak_warning);
    tcase_add_test(tc, test_no_leak_no_warning);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return run_child_mode(argv[2]);
    program = argv[0];
    return tc_run(debug_suite());
}

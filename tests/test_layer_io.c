/* save_weights / load_weights: round trips, NumPy reading our files, and
 * failed loads or saves that change nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"

static char dir[] = "/tmp/dz_layer_io_XXXXXX";

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tc_errors_off();
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    strcpy(dir, "/tmp/dz_layer_io_XXXXXX");
    tc_errors_on();
}

static const char *path_in_dir(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* An initialised MLP 5 -> 4 -> 3 (f32). */
static dz_layer *make_model(uint64_t seed, dz_rng *rng)
{
    dz_rng_seed(rng, seed);
    dz_layer *m = dz_mlp_new(2, (const int64_t[]){4, 3}, NULL, DZ_F32, rng);
    dz_scope_begin();
    dz_layer_call(m, dz_variable_new(dz_array_ones(DZ_F32, 2, DZ_SHAPE(1, 5)), NULL));
    dz_scope_end();
    return m;
}

static void assert_same_params(dz_layer *a, dz_layer *b)
{
    dz_param_list *pa = dz_layer_params(a), *pb = dz_layer_params(b);
    ck_assert_int_eq(pa->count, pb->count);
    for (int i = 0; i < pa->count; i++) {
        ck_assert(dz_array_same_shape(pa->params[i]->data, pb->params[i]->data));
        ck_assert_int_eq(pa->params[i]->data->dtype, pb->params[i]->data->dtype);
        ck_assert_mem_eq(pa->params[i]->data->data, pb->params[i]->data->data,
                         (size_t)pa->params[i]->data->size * sizeof(float));
    }
    dz_param_list_free(pa);
    dz_param_list_free(pb);
}

START_TEST(test_round_trip_into_lazy_model)
{
    dz_rng r1, r2;
    dz_layer *a = make_model(1, &r1);
    dz_rng_seed(&r2, 99);
    dz_layer *b = dz_mlp_new(2, (const int64_t[]){4, 3}, NULL, DZ_F32, &r2); /* lazy: no W yet */
    for (int compressed = 0; compressed < 2; compressed++) {
        const char *path = path_in_dir(compressed ? "z.npz" : "s.npz");
        ck_assert_int_eq(dz_layer_save_weights(a, path, compressed), DZ_OK);
        ck_assert_int_eq(dz_layer_load_weights(b, path), DZ_OK);
        assert_same_params(a, b);
    }
    dz_layer_free(a);
    dz_layer_free(b);
}
END_TEST

START_TEST(test_numpy_reads_our_file)
{
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
        printf("note: /usr/bin/python3 with numpy not found; NumPy cross-check not run\n");
        return;
    }
    dz_rng rng;
    dz_layer *a = make_model(3, &rng);
    const char *path = path_in_dir("m.npz");
    ck_assert_int_eq(dz_layer_save_weights(a, path, true), DZ_OK);
    dz_variable *W = dz_layer_param(dz_layer_child(a, "l0"), "W");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np; z = np.load('%s'); "
             "assert sorted(z.files) == ['l0/W', 'l0/b', 'l1/W', 'l1/b'], z.files; "
             "assert z['l0/W'].shape == (5, 4) and z['l0/W'].dtype == np.float32; "
             "assert z['l1/b'].shape == (3,); "
             "assert abs(float(z['l0/W'][1, 2]) - %.9g) < 1e-6\"",
             path, dz_array_get(W->data, 1 * 4 + 2));
    ck_assert_int_eq(system(cmd), 0);
    dz_layer_free(a);
}
END_TEST

/* Writes an npz with the given members taken from model `m` (by path), with
 * `extra` added and `drop` left out. */
static void write_variant(dz_layer *m, const char *path, const char *drop, const char *extra, const char *reshape)
{
    dz_param_list *p = dz_layer_params(m);
    dz_npz *z = dz_npz_new();
    for (int i = 0; i < p->count; i++) {
        if (drop && strcmp(p->paths[i], drop) == 0)
            continue;
        dz_array *a = p->params[i]->data;
        if (reshape && strcmp(p->paths[i], reshape) == 0) {
            dz_array *r = dz_array_reshape(a, 1, DZ_SHAPE(a->size));
            dz_npz_add(z, p->paths[i], r);
            dz_array_release(r);
        } else {
            dz_npz_add(z, p->paths[i], a);
        }
    }
    if (extra) {
        dz_array *e = dz_array_zeros(DZ_F32, 1, DZ_SHAPE(2));
        dz_npz_add(z, extra, e);
        dz_array_release(e);
    }
    ck_assert_int_eq(dz_npz_save(z, path, false), DZ_OK);
    dz_npz_free(z);
    dz_param_list_free(p);
}

START_TEST(test_bad_files_leave_model_unchanged)
{
    dz_rng r1, r2;
    dz_layer *src = make_model(5, &r1), *model = make_model(6, &r2), *before = make_model(6, &r2);
    dz_rng_seed(&r2, 6);
    dz_layer_free(before);
    before = make_model(6, &r2); /* an identical copy of model to compare with */
    const char *path = path_in_dir("bad.npz");

    write_variant(src, path, "l1/b", NULL, NULL);
    ck_assert_int_eq(dz_layer_load_weights(model, path), DZ_ERR_FORMAT);
    ck_assert_msg(strstr(dz_last_error(), "has no array 'l1/b'"), "%s", dz_last_error());
    assert_same_params(model, before);

    write_variant(src, path, NULL, "l2/W", NULL);
    ck_assert_int_eq(dz_layer_load_weights(model, path), DZ_ERR_FORMAT);
    ck_assert_msg(strstr(dz_last_error(), "'l2/W' that the model does not have"), "%s", dz_last_error());
    assert_same_params(model, before);

    write_variant(src, path, NULL, NULL, "l1/W");
    ck_assert_int_eq(dz_layer_load_weights(model, path), DZ_ERR_SHAPE);
    ck_assert_msg(strstr(dz_last_error(), "'l1/W' has shape (12,) but the model's parameter is (4, 3)"), "%s",
                  dz_last_error());
    assert_same_params(model, before);

    ck_assert_int_eq(dz_layer_load_weights(model, path_in_dir("missing.npz")), DZ_ERR_IO);
    assert_same_params(model, before);
    dz_layer_free(src);
    dz_layer_free(model);
    dz_layer_free(before);
}
END_TEST

static long file_bytes(const char *path, unsigned char *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    long n = (long)fread(buf, 1, len, f);
    fclose(f);
    return n;
}

START_TEST(test_failed_save_keeps_old_file)
{
    dz_rng rng;
    dz_layer *a = make_model(7, &rng);
    const char *path = path_in_dir("keep.npz");
    ck_assert_int_eq(dz_layer_save_weights(a, path, false), DZ_OK);
    static unsigned char before[1 << 16], after[1 << 16];
    long n = file_bytes(path, before, sizeof before);
    dz_layer *lazy = dz_mlp_new(1, (const int64_t[]){2}, NULL, DZ_F32, &rng);
    ck_assert_int_eq(dz_layer_save_weights(lazy, path, false), DZ_ERR_STATE);
    ck_assert_msg(strstr(dz_last_error(), "'l0/W' is not initialised"), "%s", dz_last_error());
    ck_assert_int_eq(file_bytes(path, after, sizeof after), n);
    ck_assert_mem_eq(before, after, (size_t)n);
    ck_assert_int_eq(dz_layer_save_weights(a, "/nonexistent-dir/x.npz", false), DZ_ERR_IO);
    dz_layer_free(a);
    dz_layer_free(lazy);
}
END_TEST

static Suite *layer_io_suite(void)
{
    Suite *s = suite_create("layer_io");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip_into_lazy_model);
    tcase_add_test(tc, test_numpy_reads_our_file);
    tcase_add_test(tc, test_bad_files_leave_model_unchanged);
    tcase_add_test(tc, test_failed_save_keeps_old_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(layer_io_suite()); }

/* The embedding kernels' composites against the CPU fused kernels: every
 * dispatcher of src/kernels/embedding_kernels.h runs on the same random
 * inputs with the fused kernels on and off (dz_backend_cpu_set_fused), and
 * the outputs must match bit for bit where the composite keeps the fused
 * kernel's order of operations, otherwise within a relative tolerance
 * (RTOL_F32 / RTOL_F64 of max(1, |expected|)). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "kernels/embedding_kernels.h"
#include "test_common.h"

/* fma against a multiply and an add, or a float-order norm against one in
 * double, over bags of up to a few dozen entries */
#define RTOL_F32 1e-5
#define RTOL_F64 1e-12

/* ---- inputs -------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t next_random(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(void) { return (double)(next_random() >> 11) / 9007199254740992.0; }

static dz_array *array_of(dz_dtype dtype, int ndim, const int64_t *shape, const double *values)
{
    dz_array *a = dz_array_from_buffer(DZ_F64, ndim, shape, values);
    dz_array *b = dz_array_astype(a, dtype);
    dz_array_release(a);
    return b;
}

/* Values in [-2, 2); with `ties` small integers (signed zeros included) and
 * now and then an infinity, so that maxima tie. */
static dz_array *random_values(dz_dtype dtype, int ndim, const int64_t *shape, bool ties)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        v[i] = ties ? (double)(next_random() % 5) - 2 : 4 * uniform() - 2;
        if (ties && v[i] == 0 && next_random() % 2)
            v[i] = -0.0;
        if (ties && next_random() % 23 == 0)
            v[i] = next_random() % 2 ? INFINITY : -INFINITY;
    }
    dz_array *a = array_of(dtype, ndim, shape, v);
    free(v);
    return a;
}

/* A batch of bags over a table w (V, D). */
typedef struct {
    const char *name;
    dz_dtype dtype;
    int64_t V, D, B, N, skip;
    dz_array *w, *idx, *starts, *psw;
} bags;

/* B bags of 0..max_len random entries in [0, V) of dtype `index`, then
 * `stray` entries in no bag; skip: a row to leave out (-1: none). */
static bags make_bags(const char *name, dz_dtype dtype, dz_dtype index, int64_t V, int64_t D, int64_t B, int max_len,
                      int64_t stray, int64_t skip, bool ties)
{
    bags c = {name, dtype, V, D, B, 0, skip, NULL, NULL, NULL, NULL};
    int64_t *starts = malloc((size_t)(B + 1) * sizeof *starts);
    starts[0] = 0;
    for (int64_t b = 0; b < B; b++)
        starts[b + 1] = starts[b] + (int64_t)(next_random() % (uint64_t)(max_len + 1));
    c.N = starts[B] + stray;
    double *idx = malloc((size_t)(c.N ? c.N : 1) * sizeof *idx);
    for (int64_t j = 0; j < c.N; j++)
        idx[j] = (double)(next_random() % (uint64_t)V);
    c.starts = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(B + 1), starts);
    c.idx = array_of(index, 1, &c.N, idx);
    c.w = random_values(dtype, 2, DZ_SHAPE(V, D), ties);
    c.psw = random_values(dtype, 1, &c.N, false);
    free(starts);
    free(idx);
    return c;
}

static void free_bags(bags *c)
{
    dz_array_release(c->w);
    dz_array_release(c->idx);
    dz_array_release(c->starts);
    dz_array_release(c->psw);
}

/* The cases: both dtypes, both index dtypes, with and without a skipped
 * row; one row, one column, empty bags, no entries at all, entries in no
 * bag, rows of nothing, heavy repeats; the large ones pass the CPU
 * reduction's grain. */
#define NUM_CASES 13

static bags make_case(int i, bool ties)
{
    rng_state = 1000 + (uint64_t)i;
    switch (i) {
    case 0: return make_bags("f32 i64", DZ_F32, DZ_I64, 7, 5, 6, 5, 0, -1, ties);
    case 1: return make_bags("f32 i32 skip", DZ_F32, DZ_I32, 7, 5, 6, 5, 0, 3, ties);
    case 2: return make_bags("f64 i64 skip", DZ_F64, DZ_I64, 7, 5, 6, 5, 0, 0, ties);
    case 3: return make_bags("f64 i32", DZ_F64, DZ_I32, 7, 5, 6, 5, 0, -1, ties);
    case 4: return make_bags("one row", DZ_F32, DZ_I64, 1, 3, 4, 3, 0, -1, ties);
    case 5: return make_bags("one row skipped", DZ_F64, DZ_I64, 1, 3, 4, 3, 0, 0, ties);
    case 6: return make_bags("one column, repeats", DZ_F32, DZ_I64, 2, 1, 5, 9, 0, 1, ties);
    case 7: return make_bags("no entries", DZ_F32, DZ_I64, 4, 3, 3, 0, 0, -1, ties);
    case 8: return make_bags("no bags", DZ_F64, DZ_I64, 4, 3, 0, 0, 3, -1, ties);
    case 9: return make_bags("rows of nothing", DZ_F32, DZ_I64, 4, 0, 3, 3, 0, 2, ties);
    case 10: return make_bags("one bag, stray entries", DZ_F64, DZ_I32, 9, 4, 1, 12, 2, 5, ties);
    case 11: return make_bags("large f32", DZ_F32, DZ_I64, 60, 700, 40, 8, 0, 7, ties);
    default: return make_bags("large f64", DZ_F64, DZ_I64, 60, 700, 40, 8, 0, -1, ties);
    }
}

static bool is_large(const bags *c) { return c->D >= 700; }

/* ---- comparison ----------------------------------------------------------------- */

/* got matches expected (same dtype and shape): bit for bit when `exact`,
 * else within the dtype's tolerance (NaN matching NaN). */
static void assert_match(const dz_array *got, const dz_array *expected, bool exact, const char *what, const bags *c)
{
    ck_assert_int_eq(got->dtype, expected->dtype);
    ck_assert(dz_array_same_shape(got, expected));
    const size_t es = dz_dtype_size(got->dtype);
    const double rtol = got->dtype == DZ_F32 ? RTOL_F32 : RTOL_F64;
    for (int64_t i = 0; i < got->size; i++) {
        double g = dz_array_get(got, i), e = dz_array_get(expected, i);
        bool same = exact ? memcmp((const char *)got->data + i * es, (const char *)expected->data + i * es, es) == 0
                          : (isnan(e) ? isnan(g) : g == e || fabs(g - e) <= rtol * fmax(1.0, fabs(e)));
        if (!same) /* (a passing ck_assert costs a write: only failures reach Check) */
            ck_abort_msg("%s, case '%s': element %lld is %.17g, the fused kernel gave %.17g (%s)", what, c->name,
                         (long long)i, g, e, exact ? "bit for bit" : "within tolerance");
    }
}

static dz_array *filled(dz_dtype dtype, int ndim, const int64_t *shape, double value)
{
    return dz_array_full(dtype, ndim, shape, value);
}

static void fused(bool on) { dz_backend_cpu_set_fused(on); }

static void restore_fused(void) { dz_backend_cpu_set_fused(!tc_fused_off); }

/* ---- forward ------------------------------------------------------------------- */

START_TEST(test_bag_sum)
{
    for (int i = 0; i < NUM_CASES; i++) {
        bags c = make_case(i, false);
        for (int variant = 0; variant < 4; variant++) {
            const bool mean = variant & 1, weighted = variant & 2;
            const dz_array *psw = weighted ? c.psw : NULL;
            dz_array *y[2]; /* fused, composite; NaN where not written */
            for (int k = 0; k < 2; k++) {
                y[k] = filled(c.dtype, 2, DZ_SHAPE(c.B, c.D), NAN);
                fused(k == 0);
                ck_assert(dz_kernel_embedding_bag_sum(c.w, c.idx, c.starts, psw, c.skip, mean, y[k]));
            }
            /* the fused kernel adds by fma for f32 with psw and no skip */
            bool exact = !(weighted && c.dtype == DZ_F32 && c.skip < 0);
            char what[64];
            snprintf(what, sizeof what, "bag_sum (mean %d, psw %d)", mean, weighted);
            assert_match(y[1], y[0], exact, what, &c);
            dz_array_release(y[0]);
            dz_array_release(y[1]);
        }
        free_bags(&c);
    }
    restore_fused();
}
END_TEST

/* Ties, signed zeros and infinities: the first maximum must win in both. */
START_TEST(test_bag_max)
{
    for (int i = 0; i < NUM_CASES; i++) {
        for (int ties = 0; ties < 2; ties++) {
            bags c = make_case(i, ties);
            dz_array *y[2], *argmax[2];
            for (int k = 0; k < 2; k++) {
                y[k] = filled(c.dtype, 2, DZ_SHAPE(c.B, c.D), NAN);
                argmax[k] = filled(DZ_I64, 2, DZ_SHAPE(c.B, c.D), 12345);
                fused(k == 0);
                ck_assert(dz_kernel_embedding_bag_max(c.w, c.idx, c.starts, c.skip, y[k], argmax[k]));
            }
            assert_match(y[1], y[0], true, ties ? "bag_max (ties)" : "bag_max", &c);
            assert_match(argmax[1], argmax[0], true, ties ? "bag_max argmax (ties)" : "bag_max argmax", &c);
            for (int k = 0; k < 2; k++) {
                dz_array_release(y[k]);
                dz_array_release(argmax[k]);
            }
            free_bags(&c);
        }
    }
    restore_fused();
}
END_TEST

/* A NaN as a bag's first kept entry wins in both (the composite lets a NaN
 * win anywhere, the fused kernel only there). */
START_TEST(test_bag_max_nan_first)
{
    dz_array *w = array_of(DZ_F32, 2, DZ_SHAPE(3, 2), (const double[]){NAN, 1, 5, NAN, -1, 2});
    dz_array *idx = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(4), (const int64_t[]){0, 2, 1, 2});
    dz_array *starts = dz_array_from_buffer(DZ_I64, 1, DZ_SHAPE(3), (const int64_t[]){0, 2, 4});
    dz_array *y[2], *argmax[2];
    bags c = {.name = "NaN first"};
    for (int k = 0; k < 2; k++) {
        y[k] = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(2, 2));
        argmax[k] = dz_array_zeros(DZ_I64, 2, DZ_SHAPE(2, 2));
        fused(k == 0);
        ck_assert(dz_kernel_embedding_bag_max(w, idx, starts, -1, y[k], argmax[k]));
    }
    restore_fused();
    ck_assert(isnan(dz_array_get(y[0], 0)) && isnan(dz_array_get(y[0], 3)));
    assert_match(y[1], y[0], true, "bag_max", &c);
    assert_match(argmax[1], argmax[0], true, "bag_max argmax", &c);
    for (int k = 0; k < 2; k++) {
        dz_array_release(y[k]);
        dz_array_release(argmax[k]);
    }
    dz_array_release(w);
    dz_array_release(idx);
    dz_array_release(starts);
}
END_TEST

/* ---- backward -------------------------------------------------------------------- */

START_TEST(test_bag_scatter)
{
    for (int i = 0; i < NUM_CASES; i++) {
        bags c = make_case(i, false);
        dz_array *gy = random_values(c.dtype, 2, DZ_SHAPE(c.B, c.D), false);
        for (int variant = 0; variant < 8; variant++) {
            const bool mean = variant & 1, freq = variant & 2, weighted = variant & 4;
            dz_array *gw[2];
            for (int k = 0; k < 2; k++) {
                gw[k] = dz_array_zeros(c.dtype, 2, DZ_SHAPE(c.V, c.D));
                fused(k == 0);
                ck_assert(dz_kernel_embedding_bag_scatter(gy, c.idx, c.starts, weighted ? c.psw : NULL, c.skip, mean,
                                                          freq, gw[k]));
            }
            /* with a scale per entry the fused kernel adds by fma */
            char what[80];
            snprintf(what, sizeof what, "bag_scatter (mean %d, freq %d, psw %d)", mean, freq, weighted);
            assert_match(gw[1], gw[0], !mean && !weighted, what, &c);
            dz_array_release(gw[0]);
            dz_array_release(gw[1]);
        }
        dz_array_release(gy);
        free_bags(&c);
    }
    restore_fused();
}
END_TEST

START_TEST(test_bag_grad_rows)
{
    for (int i = 0; i < NUM_CASES; i++) {
        bags c = make_case(i, false);
        dz_array *gy = random_values(c.dtype, 2, DZ_SHAPE(c.B, c.D), false);
        for (int variant = 0; variant < 4; variant++) {
            const bool mean = variant & 1, weighted = variant & 2;
            dz_array *rows[2];
            for (int k = 0; k < 2; k++) {
                rows[k] = dz_array_zeros(c.dtype, 2, DZ_SHAPE(c.N, c.D));
                fused(k == 0);
                ck_assert(dz_kernel_embedding_bag_grad_rows(gy, c.idx, c.starts, weighted ? c.psw : NULL, c.skip, mean,
                                                            rows[k]));
            }
            char what[64];
            snprintf(what, sizeof what, "bag_grad_rows (mean %d, psw %d)", mean, weighted);
            assert_match(rows[1], rows[0], true, what, &c);
            dz_array_release(rows[0]);
            dz_array_release(rows[1]);
        }
        dz_array_release(gy);
        free_bags(&c);
    }
    restore_fused();
}
END_TEST

/* argmax from the fused max of the same bags (-1 for empty bags). */
START_TEST(test_bag_max_backward)
{
    for (int i = 0; i < NUM_CASES; i++) {
        bags c = make_case(i, true);
        dz_array *y = dz_array_zeros(c.dtype, 2, DZ_SHAPE(c.B, c.D));
        dz_array *argmax = dz_array_zeros(DZ_I64, 2, DZ_SHAPE(c.B, c.D));
        fused(true);
        ck_assert(dz_kernel_embedding_bag_max(c.w, c.idx, c.starts, c.skip, y, argmax));
        dz_array *gy = random_values(c.dtype, 2, DZ_SHAPE(c.B, c.D), false), *gw[2];
        for (int k = 0; k < 2; k++) {
            gw[k] = dz_array_zeros(c.dtype, 2, DZ_SHAPE(c.V, c.D));
            fused(k == 0);
            ck_assert(dz_kernel_embedding_bag_max_backward(gy, argmax, gw[k]));
        }
        assert_match(gw[1], gw[0], true, "bag_max_backward", &c);
        dz_array_release(gw[0]);
        dz_array_release(gw[1]);
        dz_array_release(gy);
        dz_array_release(y);
        dz_array_release(argmax);
        free_bags(&c);
    }
    restore_fused();
}
END_TEST

/* With infinities in w too: left-out entries still get 0. */
START_TEST(test_bag_weights_grad)
{
    for (int i = 0; i < NUM_CASES; i++) {
        for (int ties = 0; ties < 2; ties++) {
            bags c = make_case(i, ties);
            dz_array *gy = random_values(c.dtype, 2, DZ_SHAPE(c.B, c.D), false), *gpsw[2];
            for (int k = 0; k < 2; k++) {
                gpsw[k] = dz_array_zeros(c.dtype, 1, &c.N);
                fused(k == 0);
                ck_assert(dz_kernel_embedding_bag_weights_grad(gy, c.w, c.idx, c.starts, c.skip, gpsw[k]));
            }
            /* past the grain the reduction adds in lanes */
            assert_match(gpsw[1], gpsw[0], !is_large(&c), "bag_weights_grad", &c);
            dz_array_release(gpsw[0]);
            dz_array_release(gpsw[1]);
            dz_array_release(gy);
            free_bags(&c);
        }
    }
    restore_fused();
}
END_TEST

/* ---- renorm -------------------------------------------------------------------------- */

/* Every p the fused kernel distinguishes, with max_norm 0, some rows over
 * and some under, and repeated and unreferenced rows. */
START_TEST(test_renorm)
{
    const double ps[] = {2, 1, 3, 0.5, 0, INFINITY, -INFINITY}, max_norms[] = {0, 0.7, 1.5, 3};
    for (int i = 0; i < NUM_CASES; i++) {
        bags c = make_case(i, false);
        for (size_t p = 0; p < sizeof ps / sizeof *ps; p++) {
            for (size_t m = 0; m < sizeof max_norms / sizeof *max_norms; m++) {
                dz_array *w[2] = {dz_array_copy(c.w), dz_array_copy(c.w)};
                for (int k = 0; k < 2; k++) {
                    fused(k == 0);
                    ck_assert(dz_kernel_embedding_renorm(w[k], c.idx, max_norms[m], ps[p]));
                }
                /* f32 norms 1 and 2 follow PyTorch's float order in the fused kernel */
                bool exact = !(c.dtype == DZ_F32 && (ps[p] == 1 || ps[p] == 2)) && !is_large(&c);
                char what[64];
                snprintf(what, sizeof what, "renorm (p %g, max_norm %g)", ps[p], max_norms[m]);
                assert_match(w[1], w[0], exact, what, &c);
                dz_array_release(w[0]);
                dz_array_release(w[1]);
            }
        }
        free_bags(&c);
    }
    restore_fused();
}
END_TEST

static Suite *kernels_embedding_suite(void)
{
    Suite *s = suite_create("kernels_embedding");
    TCase *forward = tcase_create("forward");
    tcase_add_test(forward, test_bag_sum);
    tcase_add_test(forward, test_bag_max);
    tcase_add_test(forward, test_bag_max_nan_first);
    tcase_add_test(forward, test_renorm);
    suite_add_tcase(s, forward);
    TCase *backward = tcase_create("backward");
    tcase_add_test(backward, test_bag_scatter);
    tcase_add_test(backward, test_bag_grad_rows);
    tcase_add_test(backward, test_bag_max_backward);
    tcase_add_test(backward, test_bag_weights_grad);
    suite_add_tcase(s, backward);
    return s;
}

int main(void) { return tc_run(kernels_embedding_suite()); }

/* DeZero's spiral dataset: three interleaved arms of 100 points each. */
#include <math.h>

#include "../core/internal.h"
#include "dezero/datasets.h"

enum { PER_CLASS = 100, CLASSES = 3, N = PER_CLASS * CLASSES };

/* Point k of the spiral (before the shuffle): its coordinates and class. */
static void spiral_point(dz_rng *rng, int k, float *xy, int32_t *class)
{
    int c = k / PER_CLASS, i = k % PER_CLASS;
    double rate = (double)i / PER_CLASS, radius = rate;
    double theta = c * 4.0 + 4.0 * rate + dz_rng_normal(rng) * 0.2;
    xy[0] = (float)(radius * sin(theta));
    xy[1] = (float)(radius * cos(theta));
    *class = c;
}

dz_status dz_dataset_spiral(uint64_t seed, dz_array **x, dz_array **t)
{
    if (!x || !t)
        return dz_raise(DZ_ERR_NULL, "dz_dataset_spiral: %s is NULL; pass the addresses of two dz_array * for the "
                        "points and the classes", x ? "t" : "x");
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    float xs[N][2];
    int32_t ts[N];
    for (int k = 0; k < N; k++)
        spiral_point(&rng, k, xs[k], &ts[k]);
    dz_array *order = dz_array_permutation(&rng, N);
    *x = dz_array_uninit_on(DZ_CPU, DZ_F32, 2, DZ_SHAPE(N, 2)); // (300, 2)
    *t = dz_array_uninit_on(DZ_CPU, DZ_I32, 1, DZ_SHAPE(N));    // (300,)
    if (!order || !*x || !*t) {
        dz_array_release(order);
        dz_array_release(*x);
        dz_array_release(*t);
        *x = *t = NULL;
        return dz_fail(DZ_ERR_NOMEM, "dz_dataset_spiral: out of memory");
    }
    const int64_t *from = order->data;
    float *xd = (*x)->data;
    int32_t *td = (*t)->data;
    for (int k = 0; k < N; k++) {
        xd[2 * k] = xs[from[k]][0];
        xd[2 * k + 1] = xs[from[k]][1];
        td[k] = ts[from[k]];
    }
    dz_array_release(order);
    return DZ_OK;
}

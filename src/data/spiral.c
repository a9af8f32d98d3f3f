/* DeZero's spiral dataset: three interleaved arms of 100 points each. */
#include <math.h>

#include "../core/internal.h"
#include "dezero/datasets.h"

dz_status dz_dataset_spiral(uint64_t seed, dz_array **x, dz_array **t)
{
    enum { PER_CLASS = 100, CLASSES = 3, N = PER_CLASS * CLASSES };
    dz_rng rng;
    dz_rng_seed(&rng, seed);
    dz_array *xs = dz_array_empty(DZ_F32, 2, DZ_SHAPE(N, 2)); // (300, 2)
    dz_array *ts = dz_array_empty(DZ_I32, 1, DZ_SHAPE(N));    // (300,)
    float *xd = xs->data;
    int32_t *td = ts->data;
    for (int c = 0; c < CLASSES; c++) {
        for (int i = 0; i < PER_CLASS; i++) {
            double rate = (double)i / PER_CLASS, radius = rate;
            double theta = c * 4.0 + 4.0 * rate + dz_rng_normal(&rng) * 0.2;
            int k = c * PER_CLASS + i;
            xd[2 * k] = (float)(radius * sin(theta));
            xd[2 * k + 1] = (float)(radius * cos(theta));
            td[k] = c;
        }
    }
    dz_array *order = dz_array_permutation(&rng, N);
    *x = dz_array_empty(DZ_F32, 2, DZ_SHAPE(N, 2));
    *t = dz_array_empty(DZ_I32, 1, DZ_SHAPE(N));
    for (int k = 0; k < N; k++) {
        int64_t j = ((int64_t *)order->data)[k];
        ((float *)(*x)->data)[2 * k] = xd[2 * j];
        ((float *)(*x)->data)[2 * k + 1] = xd[2 * j + 1];
        ((int32_t *)(*t)->data)[k] = td[j];
    }
    dz_array_release(order);
    dz_array_release(xs);
    dz_array_release(ts);
    return DZ_OK;
}

/* A seedable random number generator (xoshiro256**, seeded by splitmix64).
 * The same seed gives the same numbers on every platform. */
#ifndef DEZERO_RNG_H
#define DEZERO_RNG_H

#include <stdint.h>

#include "dezero/export.h"
#include "dezero/array.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dz_rng {
    uint64_t s[4];
    double spare_normal;
    int has_spare;
} dz_rng;

/* rng must not be NULL here (DZ_ERR_NULL); after an error the scalar
 * functions return 0 (NaN for uniform and normal). */
DZ_API void dz_rng_seed(dz_rng *rng, uint64_t seed);
/* The library's default generator (seed 0 until dz_rng_seed is called on it). */
DZ_API dz_rng *dz_rng_default(void);

DZ_API uint64_t dz_rng_next(dz_rng *rng);
DZ_API double dz_rng_uniform(dz_rng *rng);                   /* [0, 1) */
DZ_API double dz_rng_normal(dz_rng *rng);                    /* N(0, 1) */
DZ_API int64_t dz_rng_randint(dz_rng *rng, int64_t low, int64_t high); /* [low, high), low < high */

/* Arrays of random numbers (rng NULL = the default generator). uniform and
 * normal make f32 or f64 arrays (finite bounds, low <= high, std >= 0);
 * randint makes i32 or i64 arrays (the range must fit the dtype). */
DZ_API dz_array *dz_array_uniform(dz_rng *rng, dz_dtype dtype, int ndim, const int64_t *shape,
                                  double low, double high);
DZ_API dz_array *dz_array_normal(dz_rng *rng, dz_dtype dtype, int ndim, const int64_t *shape,
                                 double mean, double std);
DZ_API dz_array *dz_array_randint(dz_rng *rng, dz_dtype dtype, int ndim, const int64_t *shape,
                                  int64_t low, int64_t high);
/* A random permutation of 0..n-1 as i64 (n >= 0). */
DZ_API dz_array *dz_array_permutation(dz_rng *rng, int64_t n);

#ifdef __cplusplus
}
#endif

#endif

/* dz_rng: xoshiro256** seeded through splitmix64, plus random arrays. Only
 * integer arithmetic decides the bits, so a seed gives the same stream on
 * every platform (normals go through libm's log/sqrt/cos). */
#include <math.h>

#include "dezero/rng.h"
#include "internal.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void dz_rng_seed(dz_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
    rng->has_spare = 0;
    rng->spare_normal = 0;
}

dz_rng *dz_rng_default(void)
{
    static dz_rng rng;
    static int seeded;
    if (!seeded) {
        dz_rng_seed(&rng, 0);
        seeded = 1;
    }
    return &rng;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t dz_rng_next(dz_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double dz_rng_uniform(dz_rng *rng) { return (double)(dz_rng_next(rng) >> 11) * 0x1.0p-53; }

double dz_rng_normal(dz_rng *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare_normal;
    }
    double u1, u2;
    do {
        u1 = dz_rng_uniform(rng);
    } while (u1 <= 0.0);
    u2 = dz_rng_uniform(rng);
    double r = sqrt(-2.0 * log(u1)), theta = 2.0 * M_PI * u2;
    rng->spare_normal = r * sin(theta);
    rng->has_spare = 1;
    return r * cos(theta);
}

int64_t dz_rng_randint(dz_rng *rng, int64_t low, int64_t high)
{
    DZ_ASSERT(high > low);
    uint64_t range = (uint64_t)(high - low), limit = UINT64_MAX - UINT64_MAX % range, x;
    do { /* rejection keeps every value equally likely */
        x = dz_rng_next(rng);
    } while (x >= limit);
    return low + (int64_t)(x % range);
}

static dz_rng *or_default(dz_rng *rng) { return rng ? rng : dz_rng_default(); }

dz_array *dz_array_uniform(dz_rng *rng, dz_dtype dtype, int ndim, const int64_t *shape, double low, double high)
{
    dz_array *a = dz_array_empty(dtype, ndim, shape);
    for (int64_t i = 0; a && i < a->size; i++)
        dz_array_set(a, i, low + (high - low) * dz_rng_uniform(or_default(rng)));
    return a;
}

dz_array *dz_array_normal(dz_rng *rng, dz_dtype dtype, int ndim, const int64_t *shape, double mean, double std)
{
    dz_array *a = dz_array_empty(dtype, ndim, shape);
    for (int64_t i = 0; a && i < a->size; i++)
        dz_array_set(a, i, mean + std * dz_rng_normal(or_default(rng)));
    return a;
}

dz_array *dz_array_randint(dz_rng *rng, dz_dtype dtype, int ndim, const int64_t *shape, int64_t low, int64_t high)
{
    if (high <= low) {
        dz_raise(DZ_ERR_VALUE, "dz_array_randint: low %lld must be below high %lld", (long long)low,
                 (long long)high);
        return NULL;
    }
    dz_array *a = dz_array_empty(dtype, ndim, shape);
    for (int64_t i = 0; a && i < a->size; i++)
        dz_array_set(a, i, (double)dz_rng_randint(or_default(rng), low, high));
    return a;
}

dz_array *dz_array_permutation(dz_rng *rng, int64_t n)
{
    dz_array *a = dz_array_empty(DZ_I64, 1, &n);
    if (!a)
        return NULL;
    int64_t *p = a->data;
    for (int64_t i = 0; i < n; i++)
        p[i] = i;
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = dz_rng_randint(or_default(rng), 0, i + 1), t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    return a;
}

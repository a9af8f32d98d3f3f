/* dz_rng: xoshiro256** seeded through splitmix64, plus random arrays. Only
 * integer arithmetic decides the bits, so a seed gives the same stream on
 * every platform (normals go through libm's log/sqrt/cos). */
#include <math.h>

#include "dezero/rng.h"
#include "host_view.h"
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
    if (!dz_check_not_null("dz_rng_seed", rng, "rng"))
        return;
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

static uint64_t next(dz_rng *rng)
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

static double uniform(dz_rng *rng) { return (double)(next(rng) >> 11) * 0x1.0p-53; }

/* Box-Muller: two normals per pair of uniforms, the second kept for the next call. */
static double normal(dz_rng *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare_normal;
    }
    double u1, u2;
    do {
        u1 = uniform(rng);
    } while (u1 <= 0.0);
    u2 = uniform(rng);
    double r = sqrt(-2.0 * log(u1)), theta = 2.0 * M_PI * u2;
    rng->spare_normal = r * sin(theta);
    rng->has_spare = 1;
    return r * cos(theta);
}

/* Uniform on [low, low + span), span >= 1. The span and the sum are computed
 * in unsigned arithmetic, so the full int64 range works; rejection keeps
 * every value equally likely. */
static int64_t randint(dz_rng *rng, int64_t low, uint64_t span)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % span, x;
    do {
        x = next(rng);
    } while (x >= limit);
    return (int64_t)((uint64_t)low + x % span);
}

static uint64_t span_of(int64_t low, int64_t high) { return (uint64_t)high - (uint64_t)low; }

uint64_t dz_rng_next(dz_rng *rng) { return dz_check_not_null("dz_rng_next", rng, "rng") ? next(rng) : 0; }

double dz_rng_uniform(dz_rng *rng) { return dz_check_not_null("dz_rng_uniform", rng, "rng") ? uniform(rng) : NAN; }

double dz_rng_normal(dz_rng *rng) { return dz_check_not_null("dz_rng_normal", rng, "rng") ? normal(rng) : NAN; }

static bool check_bounds(const char *op, int64_t low, int64_t high)
{
    if (high > low)
        return true;
    dz_raise(DZ_ERR_VALUE, "%s: low %lld must be below high %lld (the range is [low, high))", op, (long long)low,
             (long long)high);
    return false;
}

int64_t dz_rng_randint(dz_rng *rng, int64_t low, int64_t high)
{
    const char *op = "dz_rng_randint";
    if (!dz_check_not_null(op, rng, "rng") || !check_bounds(op, low, high))
        return 0;
    return randint(rng, low, span_of(low, high));
}

static dz_rng *or_default(dz_rng *rng) { return rng ? rng : dz_rng_default(); }

/* A CPU array for the random functions, of a dtype `op` accepts: float when
 * `floating`, else int32 or int64. The generator writes its elements through
 * a host view, which on the CPU is the array's own buffer. */
static dz_array *random_array(const char *op, bool floating, dz_dtype dtype, int ndim, const int64_t *shape)
{
    if (!dz_check_dtype(op, dtype))
        return NULL;
    if (floating && !dz_dtype_is_float(dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: dtype %s is not supported; use float32 or float64 (dz_array_randint gives "
                 "integers)", op, dz_dtype_name(dtype));
        return NULL;
    }
    if (!floating && !dz_dtype_is_integer(dtype)) {
        dz_raise(DZ_ERR_DTYPE, "%s: dtype %s is not supported; use int32 or int64 (convert with dz_array_astype)",
                 op, dz_dtype_name(dtype));
        return NULL;
    }
    return dz_array_new_for(op, DZ_CPU, dtype, ndim, shape, false);
}

/* Element i of float elements (a host view) of `dtype` = v. */
static void store_float(dz_dtype dtype, void *elements, int64_t i, double v)
{
    if (dtype == DZ_F32)
        ((float *)elements)[i] = (float)v;
    else
        ((double *)elements)[i] = v;
}

dz_array *dz_array_uniform(dz_rng *rng, dz_dtype dtype, int ndim, const int64_t *shape, double low, double high)
{
    const char *op = "dz_array_uniform";
    if (!(low <= high) || !isfinite(high - low)) {
        dz_raise(DZ_ERR_VALUE, "%s: low %g and high %g must be finite, with low <= high", op, low, high);
        return NULL;
    }
    dz_array *a = random_array(op, true, dtype, ndim, shape);
    if (!a)
        return NULL;
    dz_host_view view;
    void *elements = dz_host_view_write(&view, a);
    for (int64_t i = 0; i < a->size; i++)
        store_float(dtype, elements, i, low + (high - low) * uniform(or_default(rng)));
    dz_host_view_close(&view);
    return a;
}

dz_array *dz_array_normal(dz_rng *rng, dz_dtype dtype, int ndim, const int64_t *shape, double mean, double std)
{
    const char *op = "dz_array_normal";
    if (!isfinite(mean) || !isfinite(std) || std < 0) {
        dz_raise(DZ_ERR_VALUE, "%s: mean %g and std %g must be finite, with std >= 0", op, mean, std);
        return NULL;
    }
    dz_array *a = random_array(op, true, dtype, ndim, shape);
    if (!a)
        return NULL;
    dz_host_view view;
    void *elements = dz_host_view_write(&view, a);
    for (int64_t i = 0; i < a->size; i++)
        store_float(dtype, elements, i, mean + std * normal(or_default(rng)));
    dz_host_view_close(&view);
    return a;
}

dz_array *dz_array_randint(dz_rng *rng, dz_dtype dtype, int ndim, const int64_t *shape, int64_t low, int64_t high)
{
    const char *op = "dz_array_randint";
    if (!check_bounds(op, low, high))
        return NULL;
    if (dtype == DZ_I32 && (low < INT32_MIN || high - 1 > INT32_MAX)) {
        dz_raise(DZ_ERR_VALUE, "%s: the range [%lld, %lld) does not fit in int32; use int64 or a narrower range",
                 op, (long long)low, (long long)high);
        return NULL;
    }
    dz_array *a = random_array(op, false, dtype, ndim, shape);
    if (!a)
        return NULL;
    uint64_t span = span_of(low, high);
    dz_host_view view;
    void *elements = dz_host_view_write(&view, a);
    for (int64_t i = 0; i < a->size; i++) {
        int64_t v = randint(or_default(rng), low, span);
        if (dtype == DZ_I32)
            ((int32_t *)elements)[i] = (int32_t)v;
        else
            ((int64_t *)elements)[i] = v;
    }
    dz_host_view_close(&view);
    return a;
}

dz_array *dz_array_permutation(dz_rng *rng, int64_t n)
{
    const char *op = "dz_array_permutation";
    if (n < 0) {
        dz_raise(DZ_ERR_VALUE, "%s: n is %lld; a permutation of 0..n-1 needs n >= 0", op, (long long)n);
        return NULL;
    }
    dz_array *a = dz_array_new_for(op, DZ_CPU, DZ_I64, 1, &n, false);
    if (!a)
        return NULL;
    dz_host_view view;
    int64_t *p = dz_host_view_write(&view, a);
    for (int64_t i = 0; i < n; i++)
        p[i] = i;
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = randint(or_default(rng), 0, (uint64_t)i + 1), t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    dz_host_view_close(&view);
    return a;
}

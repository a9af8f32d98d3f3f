/* libFuzzer target for GetItem index specs: arbitrary specs against a small
 * array. dz_get_item (error handler off) must return a result or NULL with a
 * message that names it, never crash or leak; a result holds only elements of
 * x, and dz_get_item_grad of ones with the same spec puts back exactly one
 * count per result element. Built by fuzz/run_fuzz.sh.
 *
 * Input: bytes read in turn (zeros once they run out): the rank of x (0..3)
 * and its dims (0..4), the number of entries (0..4), then per entry a kind
 * byte and its fields (an int, three slice fields, an index array: its
 * dtype, rank 0..2, dims 0..3 and values, or a mask: its dtype, rank 0..2,
 * dims 0..3 and entries; an Ellipsis or a newaxis has none). Integers are
 * small, or picked from the extremes (INT64_MIN, INT64_MAX, ...). */
#include <stdint.h>
#include <string.h>

#include "dezero/dezero.h"
#include "fuzz_common.h"

typedef struct {
    const uint8_t *data;
    size_t size;
} input;

static unsigned next_byte(input *in)
{
    if (in->size == 0)
        return 0;
    in->size--;
    return *in->data++;
}

/* A small integer, or one of the extremes. */
static int64_t next_int(input *in)
{
    static const int64_t extremes[] = {INT64_MIN,     INT64_MAX,     INT64_MIN + 1, INT64_MAX - 1,
                                       INT32_MIN,     INT32_MAX,     (int64_t)1 << 32, -((int64_t)1 << 32),
                                       (int64_t)1 << 62, -((int64_t)1 << 62), 4, -5};
    unsigned b = next_byte(in);
    if (b >= 240)
        return extremes[(b - 240) % (sizeof extremes / sizeof *extremes)];
    return (int8_t)next_byte(in);
}

/* An index array: int32, int64 or (a user error) float32. */
static dz_array *next_array(input *in)
{
    static const dz_dtype dtypes[] = {DZ_I64, DZ_I32, DZ_I64, DZ_F32};
    dz_dtype dtype = dtypes[next_byte(in) % 4];
    int ndim = (int)(next_byte(in) % 3);
    int64_t shape[2] = {0, 0};
    for (int d = 0; d < ndim; d++)
        shape[d] = next_byte(in) % 4;
    dz_array *a = dz_array_zeros(dtype, ndim, shape);
    for (int64_t k = 0; k < a->size; k++) {
        int64_t v = next_int(in);
        if (dtype == DZ_I64)
            ((int64_t *)a->data)[k] = v;
        else if (dtype == DZ_I32)
            ((int32_t *)a->data)[k] = (int32_t)v;
        else
            ((float *)a->data)[k] = (float)v;
    }
    return a;
}

/* A mask: bool or (a user error) int64, its entries 0 or 1. */
static dz_array *next_mask(input *in)
{
    dz_dtype dtype = next_byte(in) % 4 == 3 ? DZ_I64 : DZ_BOOL;
    int ndim = (int)(next_byte(in) % 3);
    int64_t shape[2] = {0, 0};
    for (int d = 0; d < ndim; d++)
        shape[d] = next_byte(in) % 4;
    dz_array *a = dz_array_zeros(dtype, ndim, shape);
    for (int64_t k = 0; k < a->size; k++) {
        unsigned v = next_byte(in) & 1;
        if (dtype == DZ_BOOL)
            ((uint8_t *)a->data)[k] = (uint8_t)v;
        else
            ((int64_t *)a->data)[k] = v;
    }
    return a;
}

static dz_index next_index(input *in)
{
    unsigned kind = next_byte(in);
    switch (kind % 9) {
    case 0:
        return DZ_I(next_int(in));
    case 1: {
        int64_t start = next_int(in), stop = next_int(in);
        return DZ_SLICE(start, stop, next_int(in));
    }
    case 2:
        return DZ_ALL;
    case 3:
        return DZ_TAKE(next_array(in));
    case 4:
        return DZ_TAKE(NULL);
    case 6:
        return DZ_ELLIPSIS;
    case 7:
        return DZ_NEWAXIS;
    case 8:
        return DZ_MASK(next_mask(in));
    default: /* a kind outside the enum */
        return (dz_index){.kind = (dz_index_kind)(6 + kind / 9)};
    }
}

/* y = x[spec] for x = arange(size) holds values of x only; the grad of ones
 * has x's shape and adds up to y's size. */
static void check_result(dz_variable *x, dz_variable *y, int n, const dz_index *spec)
{
    const dz_array *a = x->data, *b = y->data;
    for (int64_t k = 0; k < b->size; k++) {
        double v = ((const double *)b->data)[k];
        check(v >= 0 && v < (double)a->size && v == (double)(int64_t)v);
    }
    dz_variable *ones = dz_variable_constant(dz_array_ones(DZ_F64, b->ndim, b->shape), NULL);
    dz_variable *gx = dz_get_item_grad(ones, n, spec, a->ndim, a->shape);
    check(gx && dz_array_same_shape(gx->data, a));
    double total = 0;
    for (int64_t k = 0; k < a->size; k++)
        total += ((const double *)gx->data->data)[k];
    check(total == (double)b->size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool handler_off;
    if (!handler_off) {
        dz_set_error_handler_off();
        handler_off = true;
    }
    input in = {data, size};
    int ndim = (int)(next_byte(&in) % 4);
    int64_t shape[3] = {0, 0, 0};
    for (int d = 0; d < ndim; d++)
        shape[d] = next_byte(&in) % 5;
    int n = (int)(next_byte(&in) % 5);
    dz_index spec[4];
    for (int k = 0; k < n; k++)
        spec[k] = next_index(&in);

    dz_scope_begin();
    int64_t count;
    check(dz_shape_size(ndim, shape, &count));
    dz_array *values = dz_array_arange(DZ_F64, 0, (double)count, 1);
    dz_variable *x = dz_variable_new(dz_array_reshape(values, ndim, shape), NULL);
    dz_array_release(values);
    dz_clear_error();
    dz_variable *y = dz_get_item(x, n, spec);
    if (y)
        check_result(x, y, n, spec);
    else
        check(dz_last_error_code() != DZ_OK && strncmp(dz_last_error(), "dz_get_item: ", 13) == 0);
    dz_scope_end();
    for (int k = 0; k < n; k++)
        if (spec[k].kind == DZ_INDEX_ARRAY || spec[k].kind == DZ_INDEX_MASK)
            dz_array_release(spec[k].array);
    return 0;
}

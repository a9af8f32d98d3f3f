/* Batched matmul as strided gemm calls: one call when the batch folds into
 * the rows (a shared right operand) or into the inner dimension (a grad that
 * sums over the batch), otherwise one strided-batch call per run of the
 * innermost batch axis, which sums its products into one c where c repeats
 * along that axis. */
#include "batched_matmul.h"

/* One operand of a batched product, seen through the output's batch shape. */
typedef struct {
    void *data;
    int64_t ld;                  /* stored row length (last dim) */
    int64_t stride[DZ_MAX_NDIM]; /* elements between matrices per batch axis, 0 where broadcast */
    bool full;                   /* no batch axis is broadcast */
    bool single;                 /* one matrix serves the whole batch */
} operand;

static operand operand_of(const dz_array *x, int nb, const int64_t *batch)
{
    operand op = {x->data, x->shape[x->ndim - 1], {0}, true, true};
    int xb = x->ndim - 2;
    int64_t s = x->shape[x->ndim - 2] * x->shape[x->ndim - 1];
    for (int i = nb - 1; i >= 0; i--) {
        int j = i - (nb - xb);
        int64_t d = j >= 0 ? x->shape[j] : 1;
        op.stride[i] = d == 1 ? 0 : s;
        op.full = op.full && d == batch[i];
        op.single = op.single && d == 1;
        s *= d;
    }
    return op;
}

typedef struct {
    dz_gemm_fn gemm;
    dz_dtype dtype;
    bool ta, tb;
    int64_t m, n, k;
    double beta;
} gemm_shape;

/* `batch` products starting at element offsets o*, matrices s* elements apart. */
static void gemm_run(const gemm_shape *g, const operand *a, const operand *b, const operand *c,
                     const int64_t *o, const int64_t *s, int64_t batch)
{
    size_t es = dz_dtype_bytes(g->dtype);
    g->gemm(g->dtype, g->ta, g->tb, g->m, g->n, g->k, 1.0, (const char *)a->data + o[0] * (int64_t)es, a->ld, s[0],
            (const char *)b->data + o[1] * (int64_t)es, b->ld, s[1], g->beta, (char *)c->data + o[2] * (int64_t)es,
            c->ld, s[2], batch);
}

/* C = op(A) op(B) (+ C when beta = 1) for every index of `batch`. */
static void batched_gemm(gemm_shape g, const operand *a, const operand *b, const operand *c, int nb,
                         const int64_t *batch)
{
    int64_t count = 1;
    for (int i = 0; i < nb; i++)
        count *= batch[i];
    if (count == 0 || g.m == 0 || g.n == 0 || g.k == 0) /* c is zero-filled already */
        return;
    int64_t o[3] = {0, 0, 0}, zero[3] = {0, 0, 0};
    if (nb == 0) {
        gemm_run(&g, a, b, c, o, zero, 1);
        return;
    }
    if (!g.ta && a->full && c->full && b->single) {
        g.m *= count;
        gemm_run(&g, a, b, c, o, zero, 1);
        return;
    }
    if (g.ta && !g.tb && a->full && b->full && c->single) {
        g.k *= count;
        gemm_run(&g, a, b, c, o, zero, 1);
        return;
    }
    const operand *ops[3] = {a, b, c};
    int64_t inner = batch[nb - 1], index[DZ_MAX_NDIM] = {0}, s[3];
    for (int k = 0; k < 3; k++)
        s[k] = ops[k]->stride[nb - 1]; /* s[2] 0: c repeats along the inner axis, the gemm sums into it */
    for (int64_t r = 0; r < count / inner; r++) {
        gemm_run(&g, a, b, c, o, s, inner);
        for (int i = nb - 2; i >= 0; i--) { /* odometer over the outer batch axes */
            index[i]++;
            for (int k = 0; k < 3; k++)
                o[k] += ops[k]->stride[i];
            if (index[i] < batch[i])
                break;
            for (int k = 0; k < 3; k++)
                o[k] -= ops[k]->stride[i] * batch[i];
            index[i] = 0;
        }
    }
}

/* The batch shape: every batch axis of a, b and c broadcast together. */
static int batch_shape(const dz_array *const *xs, int64_t *batch)
{
    int nb = 0;
    for (int k = 0; k < 3; k++)
        nb = xs[k]->ndim - 2 > nb ? xs[k]->ndim - 2 : nb;
    for (int i = 0; i < nb; i++) {
        batch[i] = 1;
        for (int k = 0; k < 3; k++) {
            int j = i - (nb - (xs[k]->ndim - 2));
            if (j >= 0 && xs[k]->shape[j] != 1)
                batch[i] = xs[k]->shape[j];
        }
    }
    return nb;
}

void dz_batched_matmul(dz_gemm_fn gemm, dz_zero_fn zero, const dz_array *a, bool trans_a, const dz_array *b,
                       bool trans_b, dz_array *c, bool accumulate)
{
    const dz_array *xs[3] = {a, b, c};
    int64_t batch[DZ_MAX_NDIM];
    int nb = batch_shape(xs, batch);
    operand oa = operand_of(a, nb, batch), ob = operand_of(b, nb, batch), oc = operand_of(c, nb, batch);
    int64_t k = trans_a ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
    if (!accumulate && (!oc.full || k == 0)) /* c sums products from zero, or no product writes it */
        zero(c->data, (size_t)c->size * dz_dtype_bytes(c->dtype));
    gemm_shape g = {gemm, a->dtype, trans_a, trans_b, c->shape[c->ndim - 2], c->shape[c->ndim - 1], k,
                    accumulate || !oc.full ? 1.0 : 0.0};
    batched_gemm(g, &oa, &ob, &oc, nb, batch);
}

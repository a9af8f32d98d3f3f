/* dz_embedding, sparse grads and the Embedding layer: PyTorch 1.13 golden
 * fixtures (fixtures/embedding_golden.h, bit for bit), the golden vectors and
 * tests of PyTorch's test_embedding.py, DeZero's EmbedID experiments,
 * gradient checks, and bad inputs. */
#include <math.h>
#include <string.h>

#include "fixtures/embedding_golden.h"
#include "test_common.h"

/* ---- helpers ----------------------------------------------------------------- */

static void assert_hex(const dz_array *a, const uint32_t *expected, int64_t n)
{
    float f[64];
    for (int64_t i = 0; i < n; i++)
        memcpy(&f[i], &expected[i], 4);
    tc_assert_bits(a, f, n);
}

static dz_embedding_options padded(int64_t padding_idx)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.has_padding_idx = true;
    o.padding_idx = padding_idx;
    return o;
}

/* The fixture's W (6, 4) and idx (3, 3). */
static dz_variable *golden_w(void) { return tc_f32(2, DZ_SHAPE(EMB_V, EMB_D), emb_w); }
static dz_variable *golden_idx(void) { return tc_i64(2, DZ_SHAPE(3, 3), emb_idx); }

/* W.grad after backward of `gy` through dz_embedding(idx, W, opt). */
static dz_variable *backward_with(dz_variable *W, dz_variable *idx, const dz_embedding_options *opt,
                                  dz_variable *gy)
{
    dz_variable *y = dz_embedding(idx, W, opt);
    ck_assert_ptr_nonnull(y);
    dz_variable_set_grad(y, gy);
    ck_assert_int_eq(dz_variable_backward(y, false, false), DZ_OK);
    return W->grad;
}

static dz_variable *golden_gy(void) { return tc_f32(3, DZ_SHAPE(3, 3, EMB_D), emb_gy); }

/* ---- PyTorch fixtures ------------------------------------------------------------ */

START_TEST(test_forward_golden)
{
    dz_scope_begin();
    dz_variable *y = dz_embedding(golden_idx(), golden_w(), NULL);
    ck_assert(dz_shape_equal(y->data->ndim, y->data->shape, 3, DZ_SHAPE(3, 3, EMB_D)));
    tc_assert_bits(y->data, emb_y, 36);
    dz_embedding_options o = padded(4); /* padding does not mask the forward */
    tc_assert_bits(dz_embedding(golden_idx(), golden_w(), &o)->data, emb_y, 36);
    dz_variable *i32 = dz_variable_new(dz_array_astype(golden_idx()->data, DZ_I32), NULL);
    tc_assert_bits(dz_embedding(i32, golden_w(), NULL)->data, emb_y, 36);
    dz_scope_end();
}
END_TEST

START_TEST(test_dense_backward_golden)
{
    dz_scope_begin();
    dz_variable *W = golden_w();
    tc_assert_bits(backward_with(W, golden_idx(), NULL, golden_gy())->data, emb_gw_dense, 24);
    dz_embedding_options o2 = padded(2), om2 = padded(-2);
    dz_variable *W2 = golden_w(), *Wm2 = golden_w();
    tc_assert_bits(backward_with(W2, golden_idx(), &o2, golden_gy())->data, emb_gw_pad2, 24);
    tc_assert_bits(backward_with(Wm2, golden_idx(), &om2, golden_gy())->data, emb_gw_padm2, 24);
    dz_scope_end();
}
END_TEST

START_TEST(test_scale_grad_by_freq_golden)
{
    dz_scope_begin();
    dz_embedding_options o = dz_embedding_default_options();
    o.scale_grad_by_freq = true;
    dz_variable *W = golden_w();
    tc_assert_bits(backward_with(W, golden_idx(), &o, golden_gy())->data, emb_gw_freq, 24);
    o.has_padding_idx = true;
    o.padding_idx = 4;
    dz_variable *W4 = golden_w();
    tc_assert_bits(backward_with(W4, golden_idx(), &o, golden_gy())->data, emb_gw_freq_pad4, 24);
    dz_scope_end();
}
END_TEST

START_TEST(test_sparse_backward_golden)
{
    dz_scope_begin();
    dz_embedding_options o = padded(0);
    o.sparse = true;
    dz_variable *W = golden_w();
    ck_assert_ptr_null(backward_with(W, golden_idx(), &o, golden_gy()));
    dz_sparse_grad *g = W->sparse_grad;
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->indices->size, EMB_SPARSE_NNZ);
    ck_assert_int_eq(g->num_rows, EMB_V);
    ck_assert(!g->coalesced);
    ck_assert_int_eq(memcmp(g->indices->data, emb_sparse_pad0_indices, sizeof emb_sparse_pad0_indices), 0);
    tc_assert_bits(g->values, emb_sparse_pad0_values, EMB_SPARSE_NNZ * EMB_D);
    dz_array *dense = dz_sparse_grad_to_dense(g, EMB_D);
    tc_assert_bits(dense, emb_sparse_pad0_dense, 24);
    dz_embedding_options d = padded(0); /* the dense backward gives the same bits */
    dz_variable *Wd = golden_w();
    tc_assert_bits(backward_with(Wd, golden_idx(), &d, golden_gy())->data, emb_sparse_pad0_dense, 24);
    dz_array_release(dense);
    dz_scope_end();
}
END_TEST

/* max_norm with p = 1, 2, 3: W after the in-place renorm and the output, bit
 * for bit (float p = 1 and 2 norms follow PyTorch's reduction order; p = 3 is
 * computed in double and rounded, which matches here but may differ from
 * PyTorch by an ulp on other rows). */
START_TEST(test_renorm_golden)
{
    const float *expected_w[3] = {renorm_p1_w, renorm_p2_w, renorm_p3_w};
    const float *expected_y[3] = {renorm_p1_y, renorm_p2_y, renorm_p3_y};
    dz_scope_begin();
    for (int p = 1; p <= 3; p++) {
        dz_variable *W = tc_f32(2, DZ_SHAPE(RENORM_V, RENORM_D), renorm_w);
        dz_variable *idx = tc_i64(2, DZ_SHAPE(2, 3), renorm_idx);
        dz_embedding_options o = dz_embedding_default_options();
        o.has_max_norm = true;
        o.max_norm = 1.0;
        o.norm_type = p;
        dz_variable *y = dz_embedding(idx, W, &o);
        tc_assert_bits(W->data, expected_w[p - 1], RENORM_V * RENORM_D);
        tc_assert_bits(y->data, expected_y[p - 1], 6 * RENORM_D);
        for (int i = 0; i < RENORM_V * RENORM_D; i++) { /* rows 1, 3, 4, 6 are not referenced */
            int r = i / RENORM_D;
            if (r == 1 || r == 3 || r == 4 || r == 6)
                ck_assert_uint_eq(tc_bits_of(((float *)W->data->data)[i]), tc_bits_of(renorm_w[i]));
        }
    }
    dz_scope_end();
}
END_TEST

/* Rows of 13 (a block of 8 lanes, then 4 squares and one fma) and of 7 (4
 * squares, then 3 fma's): PyTorch's reduction order, to the bit. */
START_TEST(test_renorm_order_golden)
{
    const float *inputs[2] = {renorm13_w, renorm7_w};
    const float *expected[2][2] = {{renorm13_p1_w, renorm13_p2_w}, {renorm7_p1_w, renorm7_p2_w}};
    const int64_t widths[2] = {13, 7};
    int64_t rows[12];
    for (int i = 0; i < 12; i++)
        rows[i] = i;
    dz_scope_begin();
    for (int c = 0; c < 2; c++)
        for (int p = 1; p <= 2; p++) {
            dz_variable *W = tc_f32(2, DZ_SHAPE(12, widths[c]), inputs[c]);
            dz_embedding_options o = dz_embedding_default_options();
            o.has_max_norm = true;
            o.max_norm = 1.5;
            o.norm_type = p;
            dz_embedding(tc_i64(1, DZ_SHAPE(12), rows), W, &o);
            tc_assert_bits(W->data, expected[c][p - 1], 12 * widths[c]);
        }
    dz_scope_end();
}
END_TEST

/* ---- golden vectors G1-G4 (torch_embedding.md §5.2) ---------------------------------- */

START_TEST(test_golden_g1_g2_renorm)
{
    dz_scope_begin();
    dz_variable *W = tc_f32(2, DZ_SHAPE(4, 2), (const float[]){3, 4, .6f, .8f, 1, 1, -2, .5f});
    dz_embedding_options o = dz_embedding_default_options();
    o.has_max_norm = true;
    o.max_norm = 1;
    dz_embedding(tc_i64(2, DZ_SHAPE(2, 2), (const int64_t[]){0, 2, 0, 3}), W, &o);
    const float row1[2] = {.6f, .8f};
    assert_hex(W->data,
               (const uint32_t[]){0x3f19999a, 0x3f4ccccd, tc_bits_of(row1[0]), tc_bits_of(row1[1]), 0x3f3504f3, 0x3f3504f3,
                                  0xbf785b42, 0x3e785b42},
               8);
    dz_variable *W2 = tc_f32(2, DZ_SHAPE(2, 2), (const float[]){3, 4, .5f, .5f});
    o.max_norm = 2;
    o.norm_type = 1;
    dz_embedding(tc_i64(1, DZ_SHAPE(2), (const int64_t[]){0, 1}), W2, &o);
    assert_hex(W2->data, (const uint32_t[]){0x3f5b6db6, 0x3f924924, 0x3f000000, 0x3f000000}, 4);
    dz_scope_end();
}
END_TEST

START_TEST(test_golden_g3_scale_grad_by_freq)
{
    const int64_t idx[6] = {1, 2, 1, 1, 3, 0};
    float up[12];
    for (int i = 0; i < 12; i++)
        up[i] = (float)(i + 1);
    dz_scope_begin();
    dz_embedding_options o = dz_embedding_default_options();
    o.scale_grad_by_freq = true;
    dz_variable *W = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(4, 2)), NULL);
    dz_variable *g = backward_with(W, tc_i64(2, DZ_SHAPE(2, 3), idx), &o, tc_f32(3, DZ_SHAPE(2, 3, 2), up));
    assert_hex(g->data, (const uint32_t[]){0x41300000, 0x41400000, 0x408aaaab, 0x40aaaaab, 0x40400000, 0x40800000,
                                           0x41100000, 0x41200000}, 8);
    o.has_padding_idx = true;
    o.padding_idx = 1;
    dz_variable *Wp = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(4, 2)), NULL);
    g = backward_with(Wp, tc_i64(2, DZ_SHAPE(2, 3), idx), &o, tc_f32(3, DZ_SHAPE(2, 3, 2), up));
    tc_assert_values(g->data, (const double[]){11, 12, 0, 0, 3, 4, 9, 10}, 8, 0);
    dz_variable *Wn = dz_variable_new(dz_array_zeros(DZ_F32, 2, DZ_SHAPE(4, 2)), NULL);
    g = backward_with(Wn, tc_i64(2, DZ_SHAPE(2, 3), idx), NULL, tc_f32(3, DZ_SHAPE(2, 3, 2), up));
    tc_assert_values(g->data, (const double[]){11, 12, 13, 16, 3, 4, 9, 10}, 8, 0);
    dz_scope_end();
}
END_TEST

START_TEST(test_golden_g4_sparse)
{
    dz_embedding_options o = padded(0);
    o.sparse = true;
    dz_array *zeros = dz_array_zeros(DZ_F32, 2, DZ_SHAPE(5, 2));
    dz_layer *emb = dz_embedding_layer_from_pretrained(zeros, false, &o);
    dz_array_release(zeros);
    dz_scope_begin();
    dz_variable *y = dz_layer_call(emb, tc_i64(2, DZ_SHAPE(2, 3), (const int64_t[]){4, 0, 2, 4, 1, 0}));
    dz_variable_set_grad(y, dz_variable_new(dz_array_arange(DZ_F32, 0, 12, 1), NULL));
    dz_variable_set_grad(y, dz_variable_new(dz_array_reshape(y->grad->data, 3, DZ_SHAPE(2, 3, 2)), NULL));
    dz_variable_backward(y, false, false);
    dz_variable *W = dz_layer_param(emb, "W");
    ck_assert_ptr_null(W->grad);
    ck_assert_int_eq(memcmp(W->sparse_grad->indices->data, (const int64_t[]){4, 2, 4, 1}, 4 * sizeof(int64_t)), 0);
    tc_assert_values(W->sparse_grad->values, (const double[]){0, 1, 4, 5, 6, 7, 8, 9}, 8, 0);
    dz_array *dense = dz_sparse_grad_to_dense(W->sparse_grad, 2);
    tc_assert_values(dense, (const double[]){0, 0, 8, 9, 4, 5, 0, 0, 6, 8}, 10, 0);
    dz_array_release(dense);
    dz_scope_end();
    dz_layer_free(emb);
}
END_TEST

/* Sparse grads accumulate in backward like dense ones: two sparse lookups of
 * one W append their entries; a dense use of the same W (tied weights) turns
 * the whole grad dense, equal to the dense embedding's grad plus that use's. */
START_TEST(test_sparse_grad_accumulation)
{
    dz_embedding_options sparse = dz_embedding_default_options();
    sparse.sparse = true;
    for (int tied = 0; tied < 2; tied++) {
        dz_scope_begin();
        dz_variable *W = dz_parameter_new(dz_array_arange(DZ_F32, 0, 10, 1), "W");
        dz_variable_set_data(W, dz_array_reshape(W->data, 2, DZ_SHAPE(5, 2)));
        dz_variable *a = dz_embedding(tc_i64(1, DZ_SHAPE(2), (const int64_t[]){4, 1}), W, &sparse);
        dz_variable *b = dz_embedding(tc_i64(1, DZ_SHAPE(2), (const int64_t[]){1, 3}), W, &sparse);
        dz_variable *loss = dz_add(dz_sum(a, 0, NULL, false), dz_sum(dz_mul_scalar(b, 2.0), 0, NULL, false));
        if (tied)
            loss = dz_add(loss, dz_sum(dz_mul_scalar(W, 10.0), 0, NULL, false));
        ck_assert_int_eq(dz_variable_backward(loss, false, false), DZ_OK);
        const double rows[10] = {0, 0, 3, 3, 0, 0, 2, 2, 1, 1}; /* row 1 twice: 1 + 2 */
        if (!tied) {
            ck_assert_ptr_null(W->grad);
            ck_assert_int_eq(W->sparse_grad->indices->size, 4);
            dz_array *dense = dz_sparse_grad_to_dense(W->sparse_grad, 2);
            tc_assert_values(dense, rows, 10, 0);
            dz_array_release(dense);
        } else {
            ck_assert_ptr_null(W->sparse_grad);
            double expected[10];
            for (int i = 0; i < 10; i++)
                expected[i] = rows[i] + 10;
            tc_assert_values(W->grad->data, expected, 10, 0);
        }
        dz_scope_end();
    }
}
END_TEST

/* ---- DeZero / DLfS2 experiments ---------------------------------------------------- */

START_TEST(test_dezero_embed_id)
{
    dz_scope_begin();
    dz_array *range = dz_array_arange(DZ_F64, 0, 21, 1);
    dz_variable *W = dz_variable_new(dz_array_reshape(range, 2, DZ_SHAPE(7, 3)), NULL); /* arange(21).reshape(7, 3) */
    dz_array_release(range);
    dz_variable *y = dz_embedding(tc_i64(1, DZ_SHAPE(4), (const int64_t[]){1, 0, 3, 0}), W, NULL);
    tc_assert_values(y->data, (const double[]){3, 4, 5, 0, 1, 2, 9, 10, 11, 0, 1, 2}, 12, 0);
    /* np.add.at(dW, [1, 3, 1, 3], dh): duplicates accumulate */
    dz_variable *dh = tc_var(DZ_F64, 2, DZ_SHAPE(4, 3), (const double[]){1, 2, 3, 10, 20, 30, 100, 200, 300,
                                                                         1000, 2000, 3000});
    dz_variable *g = backward_with(W, tc_i64(1, DZ_SHAPE(4), (const int64_t[]){1, 3, 1, 3}), NULL, dh);
    tc_assert_values(g->data, (const double[]){0, 0, 0, 101, 202, 303, 0, 0, 0, 1010, 2020, 3030, 0, 0, 0,
                                               0, 0, 0, 0, 0, 0}, 21, 0);
    /* dezero.md: ids [[0, 1], [1, 4]] -> grad rows 0:1, 1:2, 4:1 */
    dz_variable_cleargrad(W);
    dz_variable *y2 = dz_embedding(tc_i64(2, DZ_SHAPE(2, 2), (const int64_t[]){0, 1, 1, 4}), W, NULL);
    dz_variable_backward(dz_sum(y2, 0, NULL, false), false, false);
    for (int r = 0; r < 7; r++)
        ck_assert_double_eq(tc_grad_at(W, r * 3 + 2), r == 0 || r == 4 ? 1 : r == 1 ? 2 : 0);
    dz_scope_end();
}
END_TEST

/* ---- PyTorch's test_embedding.py ----------------------------------------------------- */

static dz_layer *layer_with(int64_t V, int64_t D, const dz_embedding_options *o)
{
    dz_rng rng;
    dz_rng_seed(&rng, 7);
    dz_layer *l = dz_embedding_layer_new(V, D, o, DZ_F32, &rng);
    ck_assert_ptr_nonnull(l);
    return l;
}

START_TEST(test_torch_sparse_basic_and_empty)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.sparse = true;
    const int64_t shapes[3][2] = {{10, 20}, {0, 0}, {10, 0}};
    for (int c = 0; c < 3; c++) {
        dz_layer *emb = layer_with(shapes[c][0], shapes[c][1], &o);
        dz_scope_begin();
        dz_variable *idx = c == 0 ? tc_i64(2, DZ_SHAPE(2, 4), (const int64_t[]){0, 2, 4, 5, 4, 3, 0, 9})
                                  : dz_variable_new(dz_array_zeros(DZ_I64, 1, DZ_SHAPE(0)), NULL);
        dz_variable_backward(dz_sum(dz_layer_call(emb, idx), 0, NULL, false), false, false);
        dz_variable *W = dz_layer_param(emb, "W");
        ck_assert_ptr_null(W->grad);
        ck_assert_ptr_nonnull(W->sparse_grad);
        ck_assert_int_eq(W->sparse_grad->num_rows, shapes[c][0]);
        ck_assert_int_eq(W->sparse_grad->indices->size, c == 0 ? 8 : 0);
        ck_assert(dz_shape_equal(2, W->sparse_grad->values->shape, 2, DZ_SHAPE(c == 0 ? 8 : 0, shapes[c][1])));
        dz_array *dense = dz_sparse_grad_to_dense(W->sparse_grad, shapes[c][1]);
        ck_assert(dz_array_same_shape(dense, W->data));
        dz_array_release(dense);
        dz_scope_end();
        dz_layer_free(emb);
    }
}
END_TEST

START_TEST(test_torch_max_norm)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.has_max_norm = true;
    o.max_norm = 1.0;
    dz_layer *emb = layer_with(22, 5, &o);
    dz_scope_begin();
    dz_variable *y = dz_layer_call(emb, tc_i64(1, DZ_SHAPE(4), (const int64_t[]){2, 8, 8, 6}));
    const float *v = y->data->data;
    for (int d = 0; d < 5; d++)
        ck_assert_float_eq(v[5 + d], v[10 + d]);
    for (int r = 0; r < 4; r++) {
        double s = 0;
        for (int d = 0; d < 5; d++)
            s += (double)v[r * 5 + d] * v[r * 5 + d];
        ck_assert_double_le(sqrt(s), 1.0 + 1e-6);
    }
    dz_scope_end();
    dz_layer_free(emb);
}
END_TEST

START_TEST(test_torch_max_norm_backward)
{
    dz_scope_begin();
    dz_variable *W = dz_variable_new(dz_array_normal(NULL, DZ_F32, 2, DZ_SHAPE(4, 4), 0, 2), NULL);
    dz_embedding_options o = dz_embedding_default_options();
    o.has_max_norm = true;
    o.max_norm = 1;
    dz_variable *y = dz_embedding(tc_i64(1, DZ_SHAPE(4), (const int64_t[]){0, 1, 2, 2}), W, &o);
    dz_variable_backward(dz_sum(y, 0, NULL, false), false, false);
    const double counts[4] = {1, 1, 2, 0};
    for (int i = 0; i < 16; i++)
        ck_assert_double_eq(tc_grad_at(W, i), counts[i / 4]);
    dz_scope_end();
}
END_TEST

START_TEST(test_torch_from_pretrained)
{
    const dz_dtype dtypes[4] = {DZ_I32, DZ_I64, DZ_F32, DZ_F64};
    const double a[6] = {1, 2, 3, 4, 5, 6};
    for (int t = 0; t < 4; t++) {
        dz_array *f = dz_array_from_buffer(DZ_F64, 2, DZ_SHAPE(2, 3), a), *w = dz_array_astype(f, dtypes[t]);
        dz_layer *emb = dz_embedding_layer_from_pretrained(w, true, NULL);
        dz_scope_begin();
        dz_variable *y = dz_layer_call(emb, tc_i64(1, DZ_SHAPE(2), (const int64_t[]){0, 1}));
        ck_assert_int_eq(y->data->dtype, dtypes[t]);
        tc_assert_values(y->data, a, 6, 0);
        tc_assert_values(dz_layer_param(emb, "W")->data, a, 6, 0);
        ck_assert(!dz_layer_param(emb, "W")->requires_grad);
        dz_scope_end();
        dz_layer_free(emb);
        dz_array_release(w);
        dz_array_release(f);
    }
}
END_TEST

START_TEST(test_torch_from_pretrained_padding_and_options)
{
    dz_array *w = dz_array_uniform(NULL, DZ_F32, 2, DZ_SHAPE(4, 3), 0, 1);
    for (int d = 0; d < 3; d++)
        dz_array_set(w, 2 * 3 + d, 7);
    dz_embedding_options o = padded(2);
    dz_layer *emb = dz_embedding_layer_from_pretrained(w, true, &o);
    for (int d = 0; d < 3; d++) /* the padding row is kept as given */
        ck_assert_double_eq(dz_array_get(dz_layer_param(emb, "W")->data, 2 * 3 + d), 7);
    dz_layer_free(emb);
    dz_array_release(w);

    /* double, max_norm 2 with norm_type 0.5, sparse: the output is `a` after its in-place renorm */
    const double original[6] = {1, 2, 3, 4, 5, 6};
    dz_array *a = dz_array_from_buffer(DZ_F64, 2, DZ_SHAPE(2, 3), original);
    o = dz_embedding_default_options();
    o.has_max_norm = true;
    o.max_norm = 2;
    o.norm_type = 0.5;
    o.sparse = true;
    emb = dz_embedding_layer_from_pretrained(a, true, &o);
    dz_scope_begin();
    dz_variable *y = dz_layer_call(emb, tc_i64(1, DZ_SHAPE(2), (const int64_t[]){0, 1}));
    for (int i = 0; i < 6; i++) {
        ck_assert_double_eq(tc_at(y, i), dz_array_get(a, i));
        ck_assert_double_ne(dz_array_get(a, i), original[i]);
    }
    for (int r = 0; r < 2; r++) {
        double s = 0;
        for (int d = 0; d < 3; d++)
            s += sqrt(fabs(dz_array_get(a, r * 3 + d)));
        ck_assert_double_le(s * s, 2 + 1e-12);
    }
    dz_scope_end();
    dz_layer_free(emb);
    dz_array_release(a);
}
END_TEST

START_TEST(test_torch_embedding_backward_appends)
{
    dz_embedding_options o = dz_embedding_default_options();
    o.sparse = true;
    dz_layer *emb = layer_with(10, 3, &o);
    dz_variable *W = dz_layer_param(emb, "W");
    dz_scope_begin();
    dz_variable *idx = tc_i64(1, DZ_SHAPE(3), (const int64_t[]){7, 1, 3});
    dz_variable_backward(dz_sum(dz_layer_call(emb, idx), 0, NULL, false), false, false);
    ck_assert_int_eq(memcmp(W->sparse_grad->indices->data, (const int64_t[]){7, 1, 3}, 3 * 8), 0);
    tc_assert_values(W->sparse_grad->values, (const double[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, 9, 0);
    dz_variable_backward(dz_sum(dz_layer_call(emb, idx), 0, NULL, false), false, false);
    ck_assert_int_eq(memcmp(W->sparse_grad->indices->data, (const int64_t[]){7, 1, 3, 7, 1, 3}, 6 * 8), 0);
    ck_assert_int_eq(W->sparse_grad->values->shape[0], 6);
    dz_variable_cleargrad(W);
    dz_variable_backward(dz_sum(dz_layer_call(emb, idx), 0, NULL, false), false, false);
    ((int64_t *)idx->data->data)[0] = 8;
    dz_variable_backward(dz_sum(dz_layer_call(emb, idx), 0, NULL, false), false, false);
    ck_assert_int_eq(memcmp(W->sparse_grad->indices->data, (const int64_t[]){7, 1, 3, 8, 1, 3}, 6 * 8), 0);
    dz_scope_end();
    dz_layer_free(emb);
}
END_TEST

START_TEST(test_torch_padding_idx)
{
    const int64_t input[8] = {0, 2, 4, 5, 4, 3, 0, 9};
    for (int sparse = 0; sparse < 2; sparse++) {
        dz_embedding_options o = padded(0);
        o.sparse = sparse;
        dz_layer *emb = layer_with(10, 20, &o);
        dz_scope_begin();
        dz_variable *y = dz_layer_call(emb, tc_i64(2, DZ_SHAPE(2, 4), input));
        for (int d = 0; d < 20; d++) {
            ck_assert_double_eq(tc_at(y, d), 0);          /* out[0][0] */
            ck_assert_double_eq(tc_at(y, 6 * 20 + d), 0); /* out[1][2] */
        }
        dz_scope_end();
        dz_layer_free(emb);
    }
    dz_embedding_options neg = padded(-2);
    dz_layer *emb = layer_with(10, 20, &neg);
    dz_variable *W = dz_layer_param(emb, "W");
    for (int d = 0; d < 20; d++)
        ck_assert_double_eq(dz_array_get(W->data, 8 * 20 + d), 0);
    ck_assert_double_ne(dz_array_get(W->data, 9 * 20), 0);
    dz_layer_free(emb);

    dz_array *w = dz_array_normal(NULL, DZ_F32, 2, DZ_SHAPE(10, 20), 0, 1);
    for (int d = 0; d < 20; d++)
        dz_array_set(w, 2 * 20 + d, 1);
    dz_embedding_options pad2 = padded(2);
    emb = dz_embedding_layer_from_pretrained(w, false, &pad2);
    dz_scope_begin();
    dz_variable *y = dz_layer_call(emb, tc_i64(1, DZ_SHAPE(3), (const int64_t[]){0, 2, 4}));
    for (int d = 0; d < 20; d++)
        ck_assert_double_eq(tc_at(y, 20 + d), 1);
    dz_scope_end();
    dz_layer_free(emb);
    dz_array_release(w);

    tc_errors_off();
    dz_embedding_options bad = padded(25);
    ASSERT_ERROR(dz_embedding_layer_new(10, 20, &bad, DZ_F32, NULL), DZ_ERR_INDEX,
                 "Padding_idx must be within num_embeddings");
    bad.padding_idx = -25;
    ASSERT_ERROR(dz_embedding_layer_new(10, 20, &bad, DZ_F32, NULL), DZ_ERR_INDEX, "got padding_idx -25");
    tc_errors_on();
}
END_TEST

/* (W + W.grad)[0] == W[0] for padding_idx 0, dense and sparse, after first and
 * double backward. */
START_TEST(test_torch_padding_row_grad)
{
    const int64_t others[3][2] = {{-1, -1}, {1, 3}, {2, -1}};
    const int counts[3] = {1, 2, 1000};
    for (int sparse = 0; sparse < 2; sparse++)
        for (int a = 0; a < 3; a++)
            for (int c = 0; c < 3; c++) {
                int64_t idx[1002], n = 0;
                for (int k = 0; k < 2; k++)
                    if (others[a][k] >= 0)
                        idx[n++] = others[a][k];
                for (int k = 0; k < counts[c]; k++)
                    idx[n++] = 0;
                dz_embedding_options o = padded(0);
                o.sparse = sparse;
                dz_scope_begin();
                dz_variable *W = tc_randn(3, 2, DZ_SHAPE(5, 2));
                dz_variable *y = dz_embedding(tc_i64(1, &n, idx), W, &o);
                dz_variable_backward(dz_sum(dz_mul(y, y), 0, NULL, false), false, !sparse);
                dz_array *g = sparse ? dz_sparse_grad_to_dense(W->sparse_grad, 2) : dz_array_retain(W->grad->data);
                ck_assert_double_eq(dz_array_get(g, 0), 0);
                ck_assert_double_eq(dz_array_get(g, 1), 0);
                if (!sparse) { /* differentiate the grad again */
                    dz_variable *gw = dz_autorelease(dz_variable_retain(W->grad));
                    dz_variable_cleargrad(W);
                    dz_variable_backward(dz_sum(dz_mul(gw, gw), 0, NULL, false), false, false);
                    ck_assert_double_eq(tc_grad_at(W, 0), 0);
                    ck_assert_double_eq(tc_grad_at(W, 1), 0);
                }
                dz_array_release(g);
                dz_scope_end();
            }
}
END_TEST

/* ---- gradient checks (f64) -------------------------------------------------------------- */

typedef struct {
    dz_variable *idx;
    dz_embedding_options opt;
    dz_variable *mask; /* multiplies the output (zeroes padding positions), or NULL */
} embed_ctx;

static dz_variable *embed_fn(dz_variable *const *in, void *vctx)
{
    embed_ctx *c = vctx;
    dz_variable *y = dz_embedding(c->idx, in[0], &c->opt);
    return c->mask ? dz_mul(y, c->mask) : y;
}

static const int64_t check_idx[8] = {0, 1, 1, 2, 3, 5, 1, 11};

/* test_embedding_dense_grad: Embedding(20, 20) double, gradcheck and gradgradcheck. */
START_TEST(test_gradient_check_plain_and_double)
{
    dz_scope_begin();
    embed_ctx c = {tc_i64(2, DZ_SHAPE(2, 4), (const int64_t[]){0, 1, 1, 2, 3, 5, 7, 11}),
                   dz_embedding_default_options(), NULL};
    dz_variable *W = tc_randn(1, 2, DZ_SHAPE(20, 20));
    tc_assert_gradient(embed_fn, &c, 1, &W);
    tc_assert_double_gradient(embed_fn, &c, 1, &W);
    c.idx = dz_variable_new(dz_array_astype(c.idx->data, DZ_I32), NULL);
    tc_assert_gradient(embed_fn, &c, 1, &W);
    dz_scope_end();
}
END_TEST

/* PyTorch's padding row has no grad though the forward reads it: check the
 * other rows by masking the padding positions out of the output. */
START_TEST(test_gradient_check_padding)
{
    dz_scope_begin();
    double mask[8];
    for (int i = 0; i < 8; i++)
        mask[i] = check_idx[i] == 1 ? 0 : 1;
    embed_ctx c = {tc_i64(2, DZ_SHAPE(2, 4), check_idx), padded(1), tc_var(DZ_F64, 3, DZ_SHAPE(2, 4, 1), mask)};
    dz_variable *W = tc_randn(2, 2, DZ_SHAPE(12, 3));
    tc_assert_gradient(embed_fn, &c, 1, &W);
    c.mask = NULL;
    tc_assert_double_gradient(embed_fn, &c, 1, &W);
    dz_scope_end();
}
END_TEST

/* scale_grad_by_freq is the true grad divided by each row's count: compare
 * with central differences of the plain embedding. */
START_TEST(test_gradient_check_scale_grad_by_freq)
{
    dz_scope_begin();
    dz_variable *idx = tc_i64(2, DZ_SHAPE(2, 4), check_idx);
    dz_variable *W = tc_randn(3, 2, DZ_SHAPE(12, 3));
    dz_variable *w = tc_randn(4, 3, DZ_SHAPE(2, 4, 3));
    dz_embedding_options o = dz_embedding_default_options();
    o.scale_grad_by_freq = true;
    dz_variable *g = backward_with(W, idx, &o, w);
    double *data = W->data->data;
    for (int k = 0; k < 12 * 3; k++) {
        double saved = data[k], plus, minus, count = 0;
        data[k] = saved + 1e-4;
        plus = dz_array_get(dz_sum(dz_mul(dz_embedding(idx, W, NULL), w), 0, NULL, false)->data, 0);
        data[k] = saved - 1e-4;
        minus = dz_array_get(dz_sum(dz_mul(dz_embedding(idx, W, NULL), w), 0, NULL, false)->data, 0);
        data[k] = saved;
        for (int i = 0; i < 8; i++)
            count += check_idx[i] == k / 3;
        double numeric = (plus - minus) / 2e-4 / (count ? count : 1);
        ck_assert_msg(fabs(dz_array_get(g->data, k) - numeric) < 1e-6, "element %d: %g vs %g", k,
                      dz_array_get(g->data, k), numeric);
    }
    dz_scope_end();
}
END_TEST

/* ---- sparse grads ------------------------------------------------------------------------- */

START_TEST(test_sparse_coalesce_and_accumulate)
{
    dz_scope_begin();
    dz_embedding_options o = dz_embedding_default_options();
    o.sparse = true;
    dz_variable *W = golden_w();
    backward_with(W, golden_idx(), &o, golden_gy());
    dz_array *before = dz_sparse_grad_to_dense(W->sparse_grad, EMB_D);
    tc_assert_bits(before, emb_gw_dense, 24); /* entry order = the dense backward's order */
    ck_assert_int_eq(dz_sparse_grad_coalesce(W->sparse_grad), DZ_OK);
    ck_assert(W->sparse_grad->coalesced);
    ck_assert_int_eq(W->sparse_grad->indices->size, 4);
    ck_assert_int_eq(memcmp(W->sparse_grad->indices->data, (const int64_t[]){0, 1, 2, 4}, 32), 0);
    const float *row4 = (const float *)W->sparse_grad->values->data + 3 * EMB_D;
    for (int d = 0; d < EMB_D; d++)
        ck_assert_uint_eq(tc_bits_of(row4[d]), tc_bits_of(emb_gw_dense[4 * EMB_D + d]));
    dz_array *after = dz_sparse_grad_to_dense(W->sparse_grad, EMB_D);
    tc_assert_bits(after, emb_gw_dense, 24);

    /* a second backward appends after the (coalesced) entries */
    backward_with(W, golden_idx(), &o, golden_gy());
    ck_assert(!W->sparse_grad->coalesced);
    ck_assert_int_eq(W->sparse_grad->indices->size, 4 + 9);
    dz_array *twice = dz_sparse_grad_to_dense(W->sparse_grad, EMB_D);
    for (int i = 0; i < 24; i++)
        ck_assert_float_eq_tol(((float *)twice->data)[i], 2 * emb_gw_dense[i], 1e-5);
    tc_errors_off();
    ck_assert_ptr_null(dz_sparse_grad_to_dense(W->sparse_grad, EMB_D + 1));
    ck_assert_int_eq(dz_sparse_grad_coalesce(NULL), DZ_ERR_NULL);
    ck_assert_int_eq(dz_sparse_grad_append(W, dz_array_zeros(DZ_I64, 1, DZ_SHAPE(1)),
                                           dz_array_zeros(DZ_F32, 2, DZ_SHAPE(1, EMB_D + 1)), EMB_V),
                     DZ_ERR_SHAPE);
    ck_assert_msg(strstr(dz_last_error(), "do not fit the existing float32 (13, 4) grad of 6 rows"), "%s",
                  dz_last_error());
    ck_assert_int_eq(dz_sparse_grad_append(W, dz_array_zeros(DZ_I32, 1, DZ_SHAPE(1)),
                                           dz_array_zeros(DZ_F32, 2, DZ_SHAPE(1, EMB_D)), EMB_V),
                     DZ_ERR_DTYPE);
    ck_assert_int_eq(W->sparse_grad->indices->size, 13);
    tc_errors_on();
    dz_array_release(before);
    dz_array_release(after);
    dz_array_release(twice);
    dz_scope_end();
}
END_TEST

START_TEST(test_sparse_special_cases)
{
    dz_scope_begin();
    dz_embedding_options o = dz_embedding_default_options();
    o.sparse = true;
    o.scale_grad_by_freq = true; /* PyTorch: the forward works, the backward refuses */
    dz_variable *W = golden_w();
    dz_variable *y = dz_embedding(golden_idx(), W, &o);
    ck_assert_ptr_nonnull(y);
    tc_errors_off();
    ck_assert_int_eq(dz_variable_backward(y, false, false), DZ_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(dz_last_error(), "scale_grad_by_freq is not supported with sparse"), "%s", dz_last_error());
    tc_errors_on();
    ck_assert_ptr_null(W->sparse_grad);

    /* a non-leaf W gets a dense grad so backprop reaches its leaf */
    o.scale_grad_by_freq = false;
    dz_variable *base = golden_w();
    dz_variable *W2 = dz_mul_scalar(base, 2.0);
    dz_variable *y2 = dz_embedding(golden_idx(), W2, &o);
    dz_variable_set_grad(y2, golden_gy());
    dz_variable_backward(y2, false, false);
    ck_assert_ptr_null(base->sparse_grad);
    for (int i = 0; i < 24; i++)
        ck_assert_float_eq(tc_grad_at(base, i), 2 * emb_gw_dense[i]);

    /* frozen weights get nothing */
    dz_variable *frozen = golden_w();
    frozen->requires_grad = false;
    backward_with(frozen, golden_idx(), &o, golden_gy());
    ck_assert_ptr_null(frozen->sparse_grad);
    ck_assert_ptr_null(backward_with(frozen, golden_idx(), NULL, golden_gy()));
    dz_scope_end();
}
END_TEST

/* ---- layer --------------------------------------------------------------------------------- */

START_TEST(test_layer_init)
{
    dz_embedding_options o = padded(-1);
    dz_rng rng;
    dz_rng_seed(&rng, 3);
    dz_layer *emb = dz_embedding_layer_new(1000, 10, &o, DZ_F64, &rng);
    dz_variable *W = dz_layer_param(emb, "W");
    ck_assert_str_eq(W->name, "W");
    ck_assert(W->is_parameter && W->requires_grad);
    ck_assert_int_eq(W->data->dtype, DZ_F64);
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < W->data->size; i++) {
        double v = dz_array_get(W->data, i);
        sum += v;
        sq += v * v;
        if (i >= 999 * 10)
            ck_assert_double_eq(v, 0); /* padding row 999 */
    }
    ck_assert_double_lt(fabs(sum / 9990), 0.05);
    ck_assert_double_lt(fabs(sq / 9990 - 1), 0.05);
    dz_scope_begin();
    dz_variable *y = dz_layer_call(emb, tc_i64(0, NULL, (const int64_t[]){5}));
    ck_assert_int_eq(y->data->ndim, 1);
    ck_assert_double_eq(tc_at(y, 3), dz_array_get(W->data, 53));
    dz_variable_backward(dz_sum(y, 0, NULL, false), false, false);
    ck_assert_double_eq(tc_grad_at(W, 50), 1);
    dz_scope_end();
    dz_layer_free(emb);

    dz_array *w = dz_array_ones(DZ_F32, 2, DZ_SHAPE(3, 2));
    emb = dz_embedding_layer_from_pretrained(w, false, NULL);
    dz_scope_begin();
    dz_variable_backward(dz_sum(dz_layer_call(emb, tc_i64(1, DZ_SHAPE(1), (const int64_t[]){2})), 0, NULL, false),
                         false, false);
    ck_assert_double_eq(tc_grad_at(dz_layer_param(emb, "W"), 4), 1);
    ck_assert_ptr_eq(dz_layer_param(emb, "W")->data, w); /* shared with the caller */
    dz_scope_end();
    dz_layer_free(emb);
    dz_array_release(w);

    tc_errors_off();
    ASSERT_ERROR(dz_embedding_layer_new(5, 2, NULL, DZ_I32, NULL), DZ_ERR_VALUE, "float32/float64");
    dz_array *flat = dz_array_ones(DZ_F32, 1, DZ_SHAPE(3));
    ASSERT_ERROR(dz_embedding_layer_from_pretrained(flat, true, NULL), DZ_ERR_SHAPE, "expected to be 2-dimensional");
    dz_array_release(flat);
    tc_errors_on();
}
END_TEST

/* ---- bad inputs ---------------------------------------------------------------------------- */

START_TEST(test_errors)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *W = dz_variable_new(dz_array_ones(DZ_F32, 2, DZ_SHAPE(10, 3)), NULL);
    dz_variable *bad = tc_i64(2, DZ_SHAPE(2, 2), (const int64_t[]){1, 2, 12, 3});
    ASSERT_ERROR(dz_embedding(bad, W, NULL), DZ_ERR_INDEX,
                 "dz_embedding: index 12 is out of range for an embedding of 10 rows (at idx[1, 0]");
    dz_variable *neg = tc_i64(1, DZ_SHAPE(2), (const int64_t[]){0, -1});
    ASSERT_ERROR(dz_embedding(neg, W, NULL), DZ_ERR_INDEX, "index -1 is out of range");
    ck_assert_msg(strstr(dz_last_error(), "negative indices are not wrapped"), "%s", dz_last_error());
    dz_variable *i32 = dz_variable_new(dz_array_full(DZ_I32, 1, DZ_SHAPE(1), 10), NULL);
    ASSERT_ERROR(dz_embedding(i32, W, NULL), DZ_ERR_INDEX, "index 10 is out of range");
    dz_variable *fl = dz_variable_new(dz_array_zeros(DZ_F32, 1, DZ_SHAPE(2)), NULL);
    ASSERT_ERROR(dz_embedding(fl, W, NULL), DZ_ERR_DTYPE, "expected idx of dtype int64 or int32, but got float32");
    dz_variable *ok = tc_i64(1, DZ_SHAPE(2), (const int64_t[]){0, 1});
    dz_embedding_options o = padded(10);
    ASSERT_ERROR(dz_embedding(ok, W, &o), DZ_ERR_INDEX, "-10 through 9, but got padding_idx 10");
    o.padding_idx = -11;
    ASSERT_ERROR(dz_embedding(ok, W, &o), DZ_ERR_INDEX, "but got padding_idx -11");
    dz_variable *w3 = dz_variable_new(dz_array_ones(DZ_F32, 3, DZ_SHAPE(2, 2, 2)), NULL);
    dz_variable *w0 = dz_variable_scalar(DZ_F32, 1);
    ASSERT_ERROR(dz_embedding(ok, w3, NULL), DZ_ERR_SHAPE, "'weight' must be 2-D");
    ASSERT_ERROR(dz_embedding(ok, w0, NULL), DZ_ERR_SHAPE, "but got shape ()");
    ASSERT_ERROR(dz_embedding(NULL, W, NULL), DZ_ERR_NULL, "NULL");
    ASSERT_ERROR(dz_embedding(ok, NULL, NULL), DZ_ERR_NULL, "NULL");
    dz_embedding_options mn = dz_embedding_default_options();
    mn.has_max_norm = true;
    mn.max_norm = 0.5;
    dz_variable *wi = dz_variable_new(dz_array_ones(DZ_I64, 2, DZ_SHAPE(10, 3)), NULL);
    ASSERT_ERROR(dz_embedding(ok, wi, &mn), DZ_ERR_DTYPE, "max_norm needs a float32 or float64 weight");
    /* every index is checked before max_norm touches W */
    ASSERT_ERROR(dz_embedding(bad, W, &mn), DZ_ERR_INDEX, "index 12");
    for (int i = 0; i < 30; i++)
        ck_assert_double_eq(dz_array_get(W->data, i), 1);
    /* idx changed to a bad value after the forward: the backward refuses */
    dz_variable *idx = tc_i64(1, DZ_SHAPE(2), (const int64_t[]){0, 1});
    dz_variable *y = dz_embedding(idx, W, NULL);
    ((int64_t *)idx->data->data)[1] = 99;
    ck_assert_int_eq(dz_variable_backward(dz_sum(y, 0, NULL, false), false, false), DZ_ERR_INDEX);
    ck_assert_msg(strstr(dz_last_error(), "idx changed since the forward"), "%s", dz_last_error());
    dz_scope_end();
    tc_errors_on();
}
END_TEST

/* OpInfo's sample inputs with every option at once (M = 20, S = 5): W is
 * renormed in place first, the output is its rows, the padding row gets no
 * grad and the others are divided by their counts. */
START_TEST(test_all_options)
{
    dz_scope_begin();
    dz_variable *W = dz_variable_new(dz_array_normal(NULL, DZ_F32, 2, DZ_SHAPE(20, 5), 0, 2), NULL);
    dz_variable *idx = tc_i64(2, DZ_SHAPE(2, 3), (const int64_t[]){1, 1, 2, 19, 0, 1});
    dz_embedding_options o = padded(-1);
    o.has_max_norm = true;
    o.max_norm = 1;
    o.norm_type = 1;
    o.scale_grad_by_freq = true;
    dz_variable *y = dz_embedding(idx, W, &o);
    for (int i = 0; i < 6; i++) {
        int64_t row = ((const int64_t *)idx->data->data)[i];
        double norm = 0;
        for (int d = 0; d < 5; d++) {
            ck_assert_double_eq(tc_at(y, i * 5 + d), dz_array_get(W->data, row * 5 + d));
            norm += fabs(tc_at(y, i * 5 + d));
        }
        ck_assert_double_le(norm, 1 + 1e-6);
    }
    dz_variable_backward(dz_sum(y, 0, NULL, false), false, false);
    for (int d = 0; d < 5; d++) {
        ck_assert_double_eq(tc_grad_at(W, 1 * 5 + d), 1); /* three 1s, each scaled by 1/3 */
        ck_assert_double_eq(tc_grad_at(W, 19 * 5 + d), 0);
        ck_assert_double_eq(tc_grad_at(W, 3 * 5 + d), 0);
    }
    dz_scope_end();
}
END_TEST

START_TEST(test_shapes)
{
    dz_scope_begin();
    dz_variable *W = tc_randn(5, 2, DZ_SHAPE(6, 4));
    dz_variable *empty = dz_variable_new(dz_array_zeros(DZ_I64, 2, DZ_SHAPE(0, 3)), NULL);
    dz_variable *y = dz_embedding(empty, W, NULL);
    ck_assert(dz_shape_equal(y->data->ndim, y->data->shape, 3, DZ_SHAPE(0, 3, 4)));
    dz_variable_backward(y, false, false);
    for (int i = 0; i < 24; i++)
        ck_assert_double_eq(tc_grad_at(W, i), 0);
    dz_variable *idx3 = dz_variable_new(dz_array_zeros(DZ_I32, 3, DZ_SHAPE(2, 1, 2)), NULL);
    y = dz_embedding(idx3, W, NULL);
    ck_assert(dz_shape_equal(y->data->ndim, y->data->shape, 4, DZ_SHAPE(2, 1, 2, 4)));
    DZ_NO_GRAD
    {
        ck_assert_ptr_null(dz_embedding(idx3, W, NULL)->creator);
    }
    dz_scope_end();
}
END_TEST

static Suite *embedding_suite(void)
{
    Suite *s = suite_create("embedding");
    TCase *golden = tcase_create("golden");
    tcase_add_test(golden, test_forward_golden);
    tcase_add_test(golden, test_dense_backward_golden);
    tcase_add_test(golden, test_scale_grad_by_freq_golden);
    tcase_add_test(golden, test_sparse_backward_golden);
    tcase_add_test(golden, test_sparse_grad_accumulation);
    tcase_add_test(golden, test_renorm_golden);
    tcase_add_test(golden, test_renorm_order_golden);
    tcase_add_test(golden, test_golden_g1_g2_renorm);
    tcase_add_test(golden, test_golden_g3_scale_grad_by_freq);
    tcase_add_test(golden, test_golden_g4_sparse);
    tcase_add_test(golden, test_dezero_embed_id);
    suite_add_tcase(s, golden);
    TCase *torch = tcase_create("torch_tests");
    tcase_add_test(torch, test_torch_sparse_basic_and_empty);
    tcase_add_test(torch, test_torch_max_norm);
    tcase_add_test(torch, test_torch_max_norm_backward);
    tcase_add_test(torch, test_torch_from_pretrained);
    tcase_add_test(torch, test_torch_from_pretrained_padding_and_options);
    tcase_add_test(torch, test_torch_embedding_backward_appends);
    tcase_add_test(torch, test_torch_padding_idx);
    tcase_add_test(torch, test_torch_padding_row_grad);
    suite_add_tcase(s, torch);
    TCase *grad = tcase_create("gradients");
    tcase_add_test(grad, test_gradient_check_plain_and_double);
    tcase_add_test(grad, test_gradient_check_padding);
    tcase_add_test(grad, test_gradient_check_scale_grad_by_freq);
    tcase_add_test(grad, test_sparse_coalesce_and_accumulate);
    tcase_add_test(grad, test_sparse_special_cases);
    suite_add_tcase(s, grad);
    TCase *misc = tcase_create("layer_errors");
    tcase_add_test(misc, test_layer_init);
    tcase_add_test(misc, test_errors);
    tcase_add_test(misc, test_all_options);
    tcase_add_test(misc, test_shapes);
    suite_add_tcase(s, misc);
    return s;
}

int main(void) { return tc_run(embedding_suite()); }

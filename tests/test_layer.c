/* Layer registry: parameters and sub-layers in insertion order, '/'-joined
 * paths, cleargrads, parameter counts, name errors. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"

/* A layer computing x * a + b with two scalar-ish parameters. */
static dz_variable *affine_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    return dz_add(dz_mul(x[0], dz_layer_param(self, "a")), dz_layer_param(self, "b"));
}
static const dz_layer_ops affine_ops = {.type = "Affine", .forward = affine_forward};

static dz_layer *affine_new(double a, double b)
{
    dz_layer *l = calloc(1, sizeof *l);
    dz_layer_init(l, &affine_ops);
    dz_scope_begin();
    dz_layer_add_param(l, "a", dz_parameter_new(dz_array_full(DZ_F64, 1, DZ_SHAPE(2), a), NULL));
    dz_layer_add_param(l, "b", dz_parameter_new(dz_array_full(DZ_F64, 1, DZ_SHAPE(2), b), NULL));
    dz_scope_end();
    return l;
}

static dz_variable *chain_forward(dz_layer *self, int n, dz_variable *const *x)
{
    (void)n;
    return dz_layer_call(dz_layer_child(self, "l2"), dz_layer_call(dz_layer_child(self, "l1"), x[0]));
}
static const dz_layer_ops chain_ops = {.type = "Chain", .forward = chain_forward};

static dz_layer *chain_new(void)
{
    dz_layer *l = calloc(1, sizeof *l);
    dz_layer_init(l, &chain_ops);
    dz_layer_add_child(l, "l1", affine_new(2, 1));
    dz_layer_add_child(l, "l2", affine_new(3, 0));
    dz_scope_begin();
    dz_layer_add_param(l, "scale", dz_parameter_new(dz_array_ones(DZ_F64, 0, NULL), NULL));
    dz_scope_end();
    return l;
}

START_TEST(test_params_in_order)
{
    dz_layer *model = chain_new();
    dz_param_list *p = dz_layer_params(model);
    ck_assert_int_eq(p->count, 5);
    const char *expected[] = {"scale", "l1/a", "l1/b", "l2/a", "l2/b"};
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(p->paths[i], expected[i]);
    ck_assert(p->params[1]->is_parameter);
    ck_assert_str_eq(p->params[1]->name, "a");
    dz_param_list_free(p);
    ck_assert_int_eq(dz_layer_count_params(model), 9);
    dz_layer_free(model);
}
END_TEST

START_TEST(test_forward_backward_cleargrads)
{
    dz_layer *model = chain_new();
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F64, 1, DZ_SHAPE(2), (double[]){1, 2});
    dz_variable *y = dz_layer_call(model, x); /* 3 * (2x + 1) */
    tc_assert_values(y->data, (double[]){9, 15}, 2, 0);
    dz_variable_backward(dz_sum(y, 0, NULL, false), false, false);
    dz_variable *a1 = dz_layer_param(dz_layer_child(model, "l1"), "a");
    tc_assert_values(a1->grad->data, (double[]){3, 6}, 2, 0);
    dz_scope_end();
    dz_layer_cleargrads(model);
    ck_assert_ptr_null(a1->grad);
    dz_layer_free(model);
}
END_TEST

START_TEST(test_name_errors)
{
    dz_error_handler old = dz_set_error_handler_off();
    dz_layer *model = chain_new();
    dz_scope_begin();
    dz_variable *p = dz_parameter_new(dz_array_ones(DZ_F64, 0, NULL), NULL);
    ck_assert_ptr_null(dz_layer_add_param(model, "l1", p));
    ck_assert_msg(strstr(dz_last_error(), "'l1' is already registered"), "%s", dz_last_error());
    ck_assert_ptr_null(dz_layer_add_param(model, "a/b", p));
    ck_assert_int_eq(dz_last_error_code(), DZ_ERR_VALUE);
    dz_scope_end();
    dz_layer_free(model);
    dz_set_error_handler(old);
}
END_TEST

START_TEST(test_plot)
{
    dz_layer *model = chain_new();
    char path[] = "/tmp/dz_plot_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F64, 1, DZ_SHAPE(2), (double[]){1, 2});
    dz_variable_set_name(x, "x");
    ck_assert_int_eq(dz_layer_plot(model, 1, &x, path, true), DZ_OK);
    dz_scope_end();
    FILE *f = fopen(path, "r");
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(path);
    ck_assert_msg(strstr(text, "digraph"), "%s", text);
    ck_assert_msg(strstr(text, "[label=\"Mul\"") && strstr(text, "[label=\"Add\""), "%s", text); /* DeZero's names */
    ck_assert_msg(strstr(text, "x"), "%s", text);
    dz_layer_free(model);
}
END_TEST

static Suite *layer_suite(void)
{
    Suite *s = suite_create("layer");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_params_in_order);
    tcase_add_test(tc, test_forward_backward_cleargrads);
    tcase_add_test(tc, test_name_errors);
    tcase_add_test(tc, test_plot);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(layer_suite()); }

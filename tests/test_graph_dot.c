/* The Graphviz DOT writer: nodes, labels (DeZero's class names; shape and
 * dtype when verbose) and edges of a small graph, each function once, the
 * exact text of a three-op graph rendered by Graphviz when it is installed,
 * a layer's picture, and a clear error for an unwritable path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_common.h"

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void assert_has(const char *text, const char *line)
{
    ck_assert_msg(strstr(text, line) != NULL, "'%s' not in:\n%s", line, text);
}

START_TEST(test_small_graph)
{
    char path[] = "/tmp/dz_graph_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    dz_scope_begin();
    dz_variable *x0 = tc_var(DZ_F32, 2, DZ_SHAPE(2, 3), (double[]){1, 2, 3, 4, 5, 6});
    dz_variable *x1 = tc_var(DZ_F32, 2, DZ_SHAPE(2, 3), (double[]){1, 2, 3, 4, 5, 6});
    dz_variable_set_name(x0, "x0");
    dz_variable_set_name(x1, "x\"1");
    dz_variable *t = dz_add(x0, x1);
    dz_variable *y = dz_mul(t, t); /* t feeds one function twice */
    dz_variable_set_name(y, "y");
    ck_assert_int_eq(dz_graph_write_dot(y, path, true), DZ_OK);
    char *text = read_all(path);
    ck_assert_msg(strncmp(text, "digraph g {\n", 12) == 0, "%s", text);
    assert_has(text, "v0 [label=\"y: (2, 3) float32\", color=orange, style=filled]\n");
    assert_has(text, "f0 [label=\"Mul\", color=lightblue, style=filled, shape=box]\n");
    assert_has(text, "v1 [label=\"(2, 3) float32\", color=orange, style=filled]\n"); /* t, unnamed */
    assert_has(text, "v1 -> f0\n");
    assert_has(text, "f0 -> v0\n");
    assert_has(text, "f1 [label=\"Add\", color=lightblue, style=filled, shape=box]\n");
    assert_has(text, "v2 [label=\"x0: (2, 3) float32\"");
    assert_has(text, "v3 [label=\"x\\\"1: (2, 3) float32\"");
    assert_has(text, "v2 -> f1\n");
    assert_has(text, "v3 -> f1\n");
    assert_has(text, "f1 -> v1\n");
    ck_assert_int_eq(count_of(text, "[label="), 6); /* 4 variables, 2 functions, each once */
    ck_assert_int_eq(count_of(text, " -> "), 6);
    ck_assert_int_eq(count_of(text, "v1 -> f0\n"), 2);
    free(text);

    ck_assert_int_eq(dz_graph_write_dot(y, path, false), DZ_OK);
    text = read_all(path);
    assert_has(text, "v0 [label=\"y\", color=orange, style=filled]\n");
    assert_has(text, "v1 [label=\"\", color=orange, style=filled]\n");
    free(text);
    dz_scope_end();
    remove(path);
}
END_TEST

static void temp_path(char *path, size_t size, const char *suffix)
{
    snprintf(path, size, "/tmp/dz_graph_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    ck_assert_int_ge(fd, 0);
    close(fd);
}

/* loss = sum(exp(x @ W)): the whole file, verbose and not. */
static const char three_ops_verbose[] =
    "digraph g {\n"
    "v0 [label=\"loss: () float64\", color=orange, style=filled]\n"
    "f0 [label=\"Sum\", color=lightblue, style=filled, shape=box]\n"
    "v1 [label=\"(2, 2) float64\", color=orange, style=filled]\n"
    "v1 -> f0\n"
    "f0 -> v0\n"
    "f1 [label=\"Exp\", color=lightblue, style=filled, shape=box]\n"
    "v2 [label=\"(2, 2) float64\", color=orange, style=filled]\n"
    "v2 -> f1\n"
    "f1 -> v1\n"
    "f2 [label=\"MatMul\", color=lightblue, style=filled, shape=box]\n"
    "v3 [label=\"x: (2, 3) float64\", color=orange, style=filled]\n"
    "v3 -> f2\n"
    "v4 [label=\"W: (3, 2) float64\", color=orange, style=filled]\n"
    "v4 -> f2\n"
    "f2 -> v2\n"
    "}\n";

static const char three_ops_plain[] =
    "digraph g {\n"
    "v0 [label=\"loss\", color=orange, style=filled]\n"
    "f0 [label=\"Sum\", color=lightblue, style=filled, shape=box]\n"
    "v1 [label=\"\", color=orange, style=filled]\n"
    "v1 -> f0\n"
    "f0 -> v0\n"
    "f1 [label=\"Exp\", color=lightblue, style=filled, shape=box]\n"
    "v2 [label=\"\", color=orange, style=filled]\n"
    "v2 -> f1\n"
    "f1 -> v1\n"
    "f2 [label=\"MatMul\", color=lightblue, style=filled, shape=box]\n"
    "v3 [label=\"x\", color=orange, style=filled]\n"
    "v3 -> f2\n"
    "v4 [label=\"W\", color=orange, style=filled]\n"
    "v4 -> f2\n"
    "f2 -> v2\n"
    "}\n";

static bool have_graphviz(void) { return system("command -v dot >/dev/null 2>&1") == 0; }

/* dot renders the file as a PNG (its 8-byte signature and some pixels). */
static void assert_renders(const char *dot_path)
{
    char png[64], command[256];
    temp_path(png, sizeof png, ".png");
    snprintf(command, sizeof command, "dot -Tpng '%s' -o '%s'", dot_path, png);
    ck_assert_int_eq(system(command), 0);
    FILE *f = fopen(png, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char head[8];
    ck_assert_uint_eq(fread(head, 1, sizeof head, f), sizeof head);
    ck_assert(memcmp(head, "\x89PNG\r\n\x1a\n", sizeof head) == 0);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    ck_assert_int_gt(ftell(f), 1000);
    fclose(f);
    remove(png);
}

START_TEST(test_three_ops_exact)
{
    char path[64];
    temp_path(path, sizeof path, ".dot");
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F64, 2, DZ_SHAPE(2, 3), (double[]){1, 2, 3, 4, 5, 6});
    dz_variable *w = tc_var(DZ_F64, 2, DZ_SHAPE(3, 2), (double[]){.1, .2, .3, .4, .5, .6});
    dz_variable_set_name(x, "x");
    dz_variable_set_name(w, "W");
    dz_variable *loss = dz_sum(dz_exp(dz_matmul(x, w)), 0, NULL, false);
    dz_variable_set_name(loss, "loss");
    ck_assert_int_eq(dz_graph_write_dot(loss, path, true), DZ_OK);
    char *text = read_all(path);
    ck_assert_str_eq(text, three_ops_verbose);
    free(text);
    if (have_graphviz())
        assert_renders(path);
    else
        fprintf(stderr, "test_three_ops_exact: Graphviz's dot is not installed; the PNG rendering is not checked\n");
    ck_assert_int_eq(dz_graph_write_dot(loss, path, false), DZ_OK);
    text = read_all(path);
    ck_assert_str_eq(text, three_ops_plain);
    free(text);
    dz_scope_end();
    remove(path);
}
END_TEST

/* A user's Function without a display name shows its name. */
static void identity_backward(dz_function *f, dz_variable *const *gys, dz_variable **gxs)
{
    (void)f;
    gxs[0] = dz_variable_retain(gys[0]);
}
static const dz_function_ops identity_ops = {"my_identity", identity_backward, NULL, NULL, NULL};
static const dz_function_ops named_identity_ops = {"my_identity", identity_backward, NULL, NULL, "Identity"};

START_TEST(test_user_function_names)
{
    char path[64];
    temp_path(path, sizeof path, ".dot");
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F32, 1, DZ_SHAPE(3), (double[]){1, 2, 3});
    dz_variable *y = dz_function_apply1(&identity_ops, 1, &x, dz_array_copy(x->data), 0, NULL);
    dz_variable *z = dz_function_apply1(&named_identity_ops, 1, &y, dz_array_copy(y->data), 0, NULL);
    ck_assert_int_eq(dz_graph_write_dot(z, path, true), DZ_OK);
    char *text = read_all(path);
    assert_has(text, "f0 [label=\"Identity\", color=lightblue, style=filled, shape=box]\n");
    assert_has(text, "f1 [label=\"my_identity\", color=lightblue, style=filled, shape=box]\n");
    assert_has(text, "v2 [label=\"(3,) float32\", color=orange, style=filled]\n");
    free(text);
    dz_scope_end();
    remove(path);
}
END_TEST

/* DeZero's Model.plot: a Linear layer is one Linear box fed by x, W and b. */
START_TEST(test_layer_plot)
{
    char path[64];
    temp_path(path, sizeof path, ".dot");
    dz_rng rng;
    dz_rng_seed(&rng, 1);
    dz_layer *layer = dz_linear_layer_new(3, 2, false, DZ_F32, &rng);
    dz_scope_begin();
    dz_variable *x = tc_var(DZ_F32, 2, DZ_SHAPE(4, 2), (double[]){1, 2, 3, 4, 5, 6, 7, 8});
    dz_variable_set_name(x, "x");
    ck_assert_int_eq(dz_layer_plot(layer, 1, &x, path, true), DZ_OK);
    char *text = read_all(path);
    assert_has(text, "v0 [label=\"(4, 3) float32\", color=orange, style=filled]\n");
    assert_has(text, "f0 [label=\"Linear\", color=lightblue, style=filled, shape=box]\n");
    assert_has(text, "v1 [label=\"x: (4, 2) float32\", color=orange, style=filled]\n");
    assert_has(text, "v2 [label=\"W: (2, 3) float32\", color=orange, style=filled]\n");
    assert_has(text, "v3 [label=\"b: (3,) float32\", color=orange, style=filled]\n");
    ck_assert_int_eq(count_of(text, "shape=box"), 1);
    free(text);
    dz_scope_end();
    dz_layer_free(layer);
    remove(path);
}
END_TEST

/* A long chain: the walk is iterative and names each function once. */
START_TEST(test_deep_chain)
{
    char path[] = "/tmp/dz_graph_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    dz_scope_begin();
    dz_variable *x = dz_variable_scalar(DZ_F64, 1.0);
    dz_variable *y = x;
    for (int i = 0; i < 20000; i++)
        y = dz_add(y, x);
    ck_assert_int_eq(dz_graph_write_dot(y, path, false), DZ_OK);
    dz_scope_end();
    FILE *f = fopen(path, "r");
    int boxes = 0;
    char line[256];
    while (fgets(line, sizeof line, f))
        boxes += strstr(line, "shape=box") != NULL;
    fclose(f);
    ck_assert_int_eq(boxes, 20000);
    remove(path);
}
END_TEST

START_TEST(test_errors)
{
    tc_errors_off();
    dz_scope_begin();
    dz_variable *x = dz_variable_scalar(DZ_F64, 1.0);
    ck_assert_int_eq(dz_graph_write_dot(x, "/nonexistent-dir/graph.dot", false), DZ_ERR_IO);
    ck_assert_msg(strstr(dz_last_error(), "cannot open '/nonexistent-dir/graph.dot'"), "%s", dz_last_error());
    dz_clear_error(); /* else the NULL operand keeps reporting the error above */
    ck_assert_int_eq(dz_graph_write_dot(NULL, "graph.dot", false), DZ_ERR_NULL);
    dz_scope_end();
    tc_errors_on();
}
END_TEST

static Suite *graph_dot_suite(void)
{
    Suite *s = suite_create("graph_dot");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_small_graph);
    tcase_add_test(tc, test_three_ops_exact);
    tcase_add_test(tc, test_user_function_names);
    tcase_add_test(tc, test_layer_plot);
    tcase_add_test(tc, test_deep_chain);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(graph_dot_suite()); }

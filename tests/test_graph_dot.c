/* The Graphviz DOT writer: nodes, labels and edges of a small graph, each
 * function once, and a clear error for an unwritable path. */
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
    assert_has(text, "f0 [label=\"dz_mul\", color=lightblue, style=filled, shape=box]\n");
    assert_has(text, "v1 [label=\"(2, 3) float32\", color=orange, style=filled]\n"); /* t, unnamed */
    assert_has(text, "v1 -> f0\n");
    assert_has(text, "f0 -> v0\n");
    assert_has(text, "f1 [label=\"dz_add\", color=lightblue, style=filled, shape=box]\n");
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
    tcase_add_test(tc, test_deep_chain);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(graph_dot_suite()); }

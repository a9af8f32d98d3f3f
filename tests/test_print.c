/* Printing: dz_array_format / dz_variable_format against NumPy's own output.
 *
 * tests/fixtures/make_print_fixtures.py writes random arrays of every dtype
 * (print_cases.npz) and what NumPy 1.24's print(a) writes for each
 * (print_expected.txt). Every case must match byte for byte; DeZero's
 * Variable repr is 'variable(' + str(data) with 9 spaces after each newline
 * + ')'. A device copy (when a CUDA device serves) prints the same text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_common.h"

typedef struct {
    char key[16];
    char *text;
} expected_case;

typedef struct {
    expected_case *cases;
    int count;
} expected_list;

static const char *fixture(const char *name, char *path, size_t len)
{
    const char *dir = getenv("DZ_FIXTURES");
    ck_assert_msg(dir != NULL, "DZ_FIXTURES is not set (meson test sets it to tests/fixtures)");
    snprintf(path, len, "%s/%s", dir, name);
    return path;
}

/* Records "<key> <n>\n<n bytes>\n". */
static expected_list read_expected(void)
{
    char path[512];
    FILE *f = fopen(fixture("print_expected.txt", path, sizeof path), "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    expected_list list = {NULL, 0};
    expected_case c;
    size_t n;
    while (fscanf(f, "%15s %zu", c.key, &n) == 2) {
        ck_assert_int_eq(fgetc(f), '\n');
        c.text = malloc(n + 1);
        ck_assert_uint_eq(fread(c.text, 1, n, f), n);
        c.text[n] = '\0';
        ck_assert_int_eq(fgetc(f), '\n');
        list.cases = realloc(list.cases, (size_t)(list.count + 1) * sizeof c);
        list.cases[list.count++] = c;
    }
    fclose(f);
    return list;
}

static void free_expected(expected_list *list)
{
    for (int i = 0; i < list->count; i++)
        free(list->cases[i].text);
    free(list->cases);
}

static dz_npz *load_cases(void)
{
    char path[512];
    dz_npz *z = NULL;
    ck_assert_int_eq(dz_npz_load(fixture("print_cases.npz", path, sizeof path), &z), DZ_OK);
    return z;
}

/* DeZero's Variable.__repr__ of an array whose str is `text`. */
static char *dezero_repr(const char *text)
{
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    char *out = malloc(strlen(text) + 9 * lines + 16), *o = out;
    o += sprintf(o, "variable(");
    for (const char *p = text; *p; p++) {
        *o++ = *p;
        if (*p == '\n')
            o += sprintf(o, "%9s", "");
    }
    sprintf(o, ")");
    return out;
}

/* 0 when `a` prints as `want`, else 1 after showing the difference. */
static int check_one(const char *key, const dz_array *a, const char *want)
{
    char *got = dz_array_format(a, 0);
    int bad = strcmp(got, want) != 0;
    if (bad)
        printf("case %s (%s): got\n%s\nNumPy prints\n%s\n", key, dz_dtype_name(a->dtype), got, want);
    free(got);
    return bad;
}

START_TEST(test_numpy_cases)
{
    expected_list want = read_expected();
    dz_npz *z = load_cases();
    ck_assert_int_eq(want.count, dz_npz_count(z));
    ck_assert_int_ge(want.count, 500);
    int failed = 0;
    for (int i = 0; i < want.count; i++) {
        dz_array *a = dz_npz_get(z, want.cases[i].key);
        ck_assert_msg(a != NULL, "case %s is missing from print_cases.npz", want.cases[i].key);
        failed += check_one(want.cases[i].key, a, want.cases[i].text);
    }
    printf("%d of %d cases print as NumPy does\n", want.count - failed, want.count);
    ck_assert_int_eq(failed, 0);
    dz_npz_free(z);
    free_expected(&want);
}
END_TEST

START_TEST(test_variable_repr)
{
    expected_list want = read_expected();
    dz_npz *z = load_cases();
    dz_scope_begin();
    for (int i = 0; i < want.count; i++) {
        dz_array *a = dz_npz_get(z, want.cases[i].key);
        dz_variable *v = dz_variable_new(dz_array_retain(a), NULL);
        char *got = dz_variable_format(v), *expected = dezero_repr(want.cases[i].text);
        ck_assert_msg(strcmp(got, expected) == 0, "case %s: got\n%s\nexpected\n%s", want.cases[i].key, got, expected);
        free(got);
        free(expected);
    }
    dz_scope_end();
    dz_npz_free(z);
    free_expected(&want);
}
END_TEST

START_TEST(test_format_indent)
{
    dz_array *a = dz_array_arange(DZ_I32, 0, 8, 1);
    dz_array *b = dz_array_reshape(a, 3, DZ_SHAPE(2, 2, 2));
    char *s = dz_array_format(b, 2);
    ck_assert_str_eq(s, "[[[0 1]\n    [2 3]]\n  \n   [[4 5]\n    [6 7]]]");
    free(s);
    dz_array_release(a);
    dz_array_release(b);
}
END_TEST

START_TEST(test_print_to_stream)
{
    dz_array *a = dz_array_from_buffer(DZ_F32, 1, DZ_SHAPE(3), (float[]){1.0f, 2.5f, 3.0f});
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    dz_array_print(a, f);
    dz_variable *v = dz_variable_new(dz_array_retain(a), NULL);
    dz_variable_print(v, f);
    fclose(f);
    ck_assert_str_eq(buf, "[1.  2.5 3. ]\nvariable([1.  2.5 3. ])\n");
    free(buf);
    dz_variable_release(v);
    dz_array_release(a);
}
END_TEST

START_TEST(test_device_copy_prints_the_same)
{
    dz_npz *z = load_cases();
    tc_errors_off();
    dz_array *probe = dz_array_to_device(dz_npz_get(z, "000"), DZ_CUDA);
    tc_errors_on();
    if (!probe) { /* no device: the host cases above cover printing */
        dz_npz_free(z);
        return;
    }
    dz_array_release(probe);
    expected_list want = read_expected();
    for (int i = 0; i < want.count; i += 7) {
        dz_array *d = dz_array_to_device(dz_npz_get(z, want.cases[i].key), DZ_CUDA);
        ck_assert_int_eq(check_one(want.cases[i].key, d, want.cases[i].text), 0);
        dz_array_release(d);
    }
    dz_npz_free(z);
    free_expected(&want);
}
END_TEST

static Suite *print_suite(void)
{
    Suite *s = suite_create("print");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_numpy_cases);
    tcase_add_test(tc, test_variable_repr);
    tcase_add_test(tc, test_format_indent);
    tcase_add_test(tc, test_print_to_stream);
    tcase_add_test(tc, test_device_copy_prints_the_same);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tc_run(print_suite()); }

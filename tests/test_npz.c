/* .npy / .npz I/O: NumPy's bytes (reference/npz.md §5), files NumPy wrote
 * (tests/fixtures/make_npz_fixtures.py), round trips, malformed input and
 * atomic saves.
 *
 * Deflate bytes are compared only when the library runs on stock zlib (the
 * fixtures and §5.4 come from zlib 1.2.13); zlib-ng produces other, equally
 * valid streams, and then the decompressed content is compared instead.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io/npy.h"
#include "io/npz_internal.h"
#include "test_common.h"

/* ---------------------------------------------------------------- helpers */

typedef struct bytes {
    unsigned char *p;
    size_t n;
} bytes;

/* Keeps a NUL after the bytes, so text files can be scanned as strings. */
static void append(bytes *b, const void *p, size_t n)
{
    b->p = realloc(b->p, b->n + n + 1);
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* Hex digits, whitespace ignored. */
static void append_hex(bytes *b, const char *hex)
{
    for (; *hex; hex++) {
        if (*hex == ' ' || *hex == '\n')
            continue;
        unsigned v;
        ck_assert(sscanf(hex, "%2x", &v) == 1);
        unsigned char c = (unsigned char)v;
        append(b, &c, 1);
        hex++;
    }
}

static bytes hex_bytes(const char *hex)
{
    bytes b = {NULL, 0};
    append_hex(&b, hex);
    return b;
}

static bytes slurp(const char *path)
{
    bytes b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    unsigned char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        append(&b, buf, n);
    fclose(f);
    return b;
}

static void assert_bytes_eq(const unsigned char *got, size_t got_n, const unsigned char *want, size_t want_n)
{
    ck_assert_int_eq(got_n, want_n);
    for (size_t i = 0; i < want_n; i++)
        ck_assert_msg(got[i] == want[i], "byte %zu: got %02x, expected %02x", i, got[i], want[i]);
}

static const char *fixture(const char *name)
{
    static char paths[4][512];
    static int next;
    const char *dir = getenv("DZ_FIXTURES");
    ck_assert_msg(dir != NULL, "DZ_FIXTURES is not set (meson test sets it to tests/fixtures)");
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/npz/%s", dir, name);
    return p;
}

/* The fixtures' zip layout: LAYOUT starts with "old" (CPython <= 3.11.3) or "new". */
static dz_zip_layout fixture_layout(void)
{
    bytes b = slurp(fixture("LAYOUT"));
    bool old = b.n >= 3 && memcmp(b.p, "old", 3) == 0;
    free(b.p);
    return old ? DZ_ZIP_LAYOUT_CPYTHON_3_11_3 : DZ_ZIP_LAYOUT_CPYTHON;
}

static bool stock_zlib(void) { return strstr(zlibVersion(), "ng") == NULL; }

static uint32_t crc_of(const unsigned char *p, size_t n) { return (uint32_t)crc32(0, p, (uInt)n); }

static dz_array *array_of(dz_dtype dtype, int ndim, const int64_t *shape, const double *values)
{
    dz_array *d = dz_array_from_buffer(DZ_F64, ndim, shape, values);
    dz_array *a = dz_array_astype(d, dtype);
    dz_array_release(d);
    return a;
}

static void assert_array(const dz_array *a, dz_dtype dtype, int ndim, const int64_t *shape, const double *values)
{
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->dtype, dtype);
    char buf[128];
    ck_assert_msg(dz_shape_equal(a->ndim, a->shape, ndim, shape), "shape %s",
                  dz_shape_format(a->ndim, a->shape, buf, sizeof buf));
    for (int64_t i = 0; i < a->size; i++)
        ck_assert_msg(dz_array_get(a, i) == values[i], "element %lld: got %.17g, expected %.17g", (long long)i,
                      dz_array_get(a, i), values[i]);
}

static dz_npz *load_bytes(const bytes *b, dz_status expect)
{
    dz_npz *z = (dz_npz *)1;
    dz_clear_error();
    dz_status st = dz_npz_load_buffer(b->p, b->n, &z);
    ck_assert_msg(st == expect, "status %s (%s), expected %s", dz_status_name(st), dz_last_error(),
                  dz_status_name(expect));
    if (st != DZ_OK) {
        ck_assert_ptr_null(z);
        ck_assert_msg(dz_last_error()[0] != '\0', "no message for status %s", dz_status_name(st));
    }
    return z;
}

static void assert_load_fails(const bytes *b, dz_status code, const char *fragment)
{
    load_bytes(b, code);
    ck_assert_msg(strstr(dz_last_error(), fragment) != NULL, "message '%s' lacks '%s'", dz_last_error(), fragment);
}

/* ------------------------------------------------ .npy vectors (§5.1-5.2) */

typedef struct npy_vector {
    const char *dict;
    size_t file_len;
    uint32_t crc;
    dz_dtype dtype;
    int ndim;
    int64_t shape[4];
    double values[24];
    const char *raw; /* data bytes only a reader sees (big-endian, Fortran order); NULL: the array's bytes */
} npy_vector;

static const npy_vector vectors[] = {
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 152, 0x2a00e94f, DZ_F32, 2, {2, 3},
     {0, 1, 2, 3, 4, 5}, NULL},
    {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 152, 0xd3e02cce, DZ_F32, 2, {2, 3},
     {0, 1, 2, 3, 4, 5}, "00000000 00004040 0000803f 00008040 00000040 0000a040"},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 152, 0x2be12124, DZ_F64, 1, {3}, {0, 1, 2}, NULL},
    {"{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", 140, 0xf3887ae2, DZ_I32, 1, {3}, {-1, 0, 1}, NULL},
    {"{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", 160, 0x562270aa, DZ_I64, 2, {2, 2},
     {0, 1, 2, 3}, NULL},
    {"{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", 131, 0x2f6a64e9, DZ_U8, 1, {3}, {0, 1, 255}, NULL},
    {"{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 131, 0xbb8c9316, DZ_BOOL, 1, {3}, {1, 0, 1}, NULL},
    {"{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", 134, 0xbbad4b88, DZ_F16, 1, {3},
     {1, -2, 65504}, NULL},
    {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 136, 0x65769f19, DZ_F32, 1, {2}, {1, 2},
     "3f800000 40000000"},
    {"{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }", 144, 0x490506c8, DZ_I64, 1, {2}, {1, 2},
     "0000000000000001 0000000000000002"},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 136, 0x5be33e3d, DZ_F64, 0, {0}, {3.5}, NULL},
    {"{'descr': '<i4', 'fortran_order': False, 'shape': (), }", 132, 0xb4b12d0c, DZ_I32, 0, {0}, {7}, NULL},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", 128, 0xfc69dbcd, DZ_F32, 1, {0}, {0}, NULL},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 0), }", 128, 0x73bc4557, DZ_F64, 2, {2, 0}, {0}, NULL},
    {"{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 3, 4), }", 152, 0xf1769c45, DZ_U8, 4, {1, 2, 3, 4},
     {0}, NULL},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }", 168, 0x8a9f2e38, DZ_F32, 1, {10},
     {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, NULL},
};
#define NVECTORS (int)(sizeof vectors / sizeof vectors[0])

static dz_array *vector_array(const npy_vector *v) { return array_of(v->dtype, v->ndim, v->shape, v->values); }

/* Prefix (v1.0, HEADER_LEN 118), dict, spaces up to byte 127, '\n', data. */
static bytes vector_file(const npy_vector *v)
{
    bytes b = hex_bytes("93 4e 55 4d 50 59 01 00 76 00");
    append(&b, v->dict, strlen(v->dict));
    while (b.n < 127)
        append(&b, " ", 1);
    append(&b, "\n", 1);
    if (v->raw) {
        append_hex(&b, v->raw);
    } else {
        dz_array *a = vector_array(v);
        append(&b, a->data, (size_t)a->size * dz_dtype_size(a->dtype));
        dz_array_release(a);
    }
    return b;
}

/* §5.2 (its dump shows one 0x20 too many: 58 spaces end at byte 126, '\n' is byte 127). */
static const char vector1_hex[] =
    "93 4e 55 4d 50 59 01 00 76 00 7b 27 64 65 73 63 72 27 3a 20 27 3c 66 34 27 2c 20 27 66 6f 72 74"
    "72 61 6e 5f 6f 72 64 65 72 27 3a 20 46 61 6c 73 65 2c 20 27 73 68 61 70 65 27 3a 20 28 32 2c 20"
    "33 29 2c 20 7d 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20"
    "20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 20 0a"
    "00 00 00 00 00 00 80 3f 00 00 00 40 00 00 40 40 00 00 80 40 00 00 a0 40";

START_TEST(test_npy_vectors_bytes)
{
    for (int i = 0; i < NVECTORS; i++) {
        const npy_vector *v = &vectors[i];
        bytes file = vector_file(v);
        ck_assert_msg(file.n == v->file_len, "vector %d: %zu bytes", i + 1, file.n);
        ck_assert_msg(crc_of(file.p, file.n) == v->crc, "vector %d: crc %08x", i + 1, crc_of(file.p, file.n));
        if (!v->raw) { /* what np.save writes for this array */
            dz_array *a = vector_array(v);
            size_t hlen;
            unsigned char *h = dz_npy_header(a, &hlen);
            assert_bytes_eq(h, hlen, file.p, 128);
            free(h);
            dz_array_release(a);
        }
        free(file.p);
    }
    bytes want = hex_bytes(vector1_hex), got = vector_file(&vectors[0]);
    assert_bytes_eq(got.p, got.n, want.p, want.n);
    free(want.p);
    free(got.p);
}
END_TEST

START_TEST(test_npy_vectors_read)
{
    for (int i = 0; i < NVECTORS; i++) {
        const npy_vector *v = &vectors[i];
        bytes file = vector_file(v);
        dz_array *a;
        ck_assert_msg(dz_npy_read_buffer(file.p, file.n, "v.npy", &a) == DZ_OK, "vector %d: %s", i + 1,
                      dz_last_error());
        assert_array(a, v->dtype, v->ndim, v->shape, v->values);
        dz_array_release(a);
        free(file.p);
    }
}
END_TEST

/* ------------------------------------------- other headers (§1.3, §5.3) */

/* A .npy with `dict` as header text, NumPy's padding and the given data. */
static bytes npy_file(const char *dict, const void *data, size_t n)
{
    bytes b = {NULL, 0};
    size_t hlen;
    unsigned char *h = dz_npy_wrap_header(dict, strlen(dict), &hlen);
    append(&b, h, hlen);
    append(&b, data, n);
    free(h);
    return b;
}

static const float f6[6] = {0, 1, 2, 3, 4, 5};
static const double v6[6] = {0, 1, 2, 3, 4, 5};
static const int64_t shape23[2] = {2, 3};
#define DICT(descr, fortran, shape) "{'descr': " descr ", 'fortran_order': " fortran ", 'shape': " shape ", }"
#define DICT23 DICT("'<f4'", "False", "(2, 3)")

static void assert_reads_f6(const bytes *b)
{
    dz_array *a;
    ck_assert_msg(dz_npy_read_buffer(b->p, b->n, "t.npy", &a) == DZ_OK, "%s", dz_last_error());
    assert_array(a, DZ_F32, 2, shape23, v6);
    dz_array_release(a);
}

static bytes prefixed(const char *prefix_hex, const char *text, size_t spaces)
{
    bytes b = hex_bytes(prefix_hex);
    append(&b, text, strlen(text));
    for (size_t i = 0; i < spaces; i++)
        append(&b, " ", 1);
    append(&b, "\n", 1);
    append(&b, f6, sizeof f6);
    return b;
}

START_TEST(test_npy_reader_only_vectors)
{
    bytes legacy = prefixed("93 4e 55 4d 50 59 01 00 46 00", DICT23, 10);
    bytes v2 = prefixed("93 4e 55 4d 50 59 02 00 74 00 00 00", DICT23, 56);
    bytes v3 = prefixed("93 4e 55 4d 50 59 03 00 74 00 00 00", DICT23, 56);
    ck_assert_int_eq(v2.n, 152);
    ck_assert_uint_eq(crc_of(v2.p, v2.n), 0x59363ae3);
    ck_assert_uint_eq(crc_of(v3.p, v3.n), 0x3a6818c1);
    const char *lenient_text = "{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f4\"}";
    bytes lenient = hex_bytes("93 4e 55 4d 50 59 01 00");
    unsigned char hl[2] = {(unsigned char)(strlen(lenient_text) + 1), 0};
    append(&lenient, hl, 2);
    append(&lenient, lenient_text, strlen(lenient_text));
    append(&lenient, "\n", 1);
    append(&lenient, f6, sizeof f6);
    bytes py2 = npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", f6, sizeof f6);
    bytes native = npy_file("{'descr': '=f4', 'fortran_order': False, 'shape': (2, 3)}", f6, sizeof f6);
    bytes bare = npy_file("{'descr': 'f4', 'fortran_order': False, 'shape': (2, 3)}", f6, sizeof f6);
    bytes trailing = npy_file(DICT23, f6, sizeof f6);
    append(&trailing, "more", 4); /* np.load ignores bytes after the data (a second np.save) */
    bytes *all[] = {&legacy, &v2, &v3, &lenient, &py2, &native, &bare, &trailing};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        assert_reads_f6(all[i]);
        free(all[i]->p);
    }
    const unsigned char u8s[3] = {0, 1, 255}, bools[3] = {1, 0, 7};
    const char *dicts[] = {"{'descr': '<u1', 'fortran_order': False, 'shape': (3,)}",
                           "{'descr': '<b1', 'fortran_order': False, 'shape': (3,)}"};
    const double want[2][3] = {{0, 1, 255}, {1, 0, 1}};
    for (int i = 0; i < 2; i++) {
        bytes b = npy_file(dicts[i], i ? bools : u8s, 3);
        dz_array *a;
        ck_assert_int_eq(dz_npy_read_buffer(b.p, b.n, "t.npy", &a), DZ_OK);
        assert_array(a, i ? DZ_BOOL : DZ_U8, 1, DZ_SHAPE(3), want[i]);
        ck_assert_int_eq(((unsigned char *)a->data)[2], i ? 1 : 255); /* bools come back as 0/1 */
        dz_array_release(a);
        free(b.p);
    }
}
END_TEST

START_TEST(test_npy_padding)
{
    /* §5.3: a 97-character dict plus 20 growth spaces is already 64-aligned,
     * so NumPy adds 64 more spaces: 192 bytes of header, 84 spaces. */
    char text[160];
    int n = snprintf(text, sizeof text, "{'descr': [('%s', '<f4')], 'fortran_order': False, 'shape': (1,), }%20s",
                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "");
    ck_assert_int_eq(n, 97 + 20);
    size_t len;
    unsigned char *h = dz_npy_wrap_header(text, (size_t)n, &len);
    ck_assert_int_eq(len, 192);
    ck_assert_int_eq(h[8] | h[9] << 8, 182);
    ck_assert_int_eq(h[191], '\n');
    free(h);
    /* Growth spaces can push a short header (111 bytes) to 192 as well. */
    const char *dict = DICT("'<f4'", "False", "(0, 1000000000000, 1000000000000, 1000000000000)");
    ck_assert_int_le(10 + strlen(dict) + 1, 128);
    dz_array *e = dz_array_zeros(DZ_F32, 4, DZ_SHAPE(0, 1000000000000, 1000000000000, 1000000000000));
    h = dz_npy_header(e, &len);
    ck_assert_int_eq(len, 192);
    ck_assert_int_eq(memcmp(h + 10, dict, strlen(dict)), 0);
    free(h);
    dz_array_release(e);
    /* A header too long for 16 bits falls back to version 2.0 (4-byte length). */
    size_t big = 70000;
    char *t = malloc(big + 1);
    memset(t, ' ', big);
    t[big] = '\0';
    h = dz_npy_wrap_header(t, big, &len);
    ck_assert_int_eq(h[6], 2);
    ck_assert_int_eq(len % 64, 0);
    ck_assert_uint_eq(h[8] | h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24, len - 12);
    free(h);
    free(t);
}
END_TEST

static void assert_npy_fails(const bytes *b, dz_status code, const char *fragment)
{
    dz_array *a = (dz_array *)1;
    dz_clear_error();
    dz_status st = dz_npy_read_buffer(b->p, b->n, "t.npy", &a);
    ck_assert_msg(st == code, "got %s (%s), expected %s for '%s'", dz_status_name(st), dz_last_error(),
                  dz_status_name(code), fragment);
    ck_assert_ptr_null(a);
    ck_assert_msg(strstr(dz_last_error(), "t.npy") && strstr(dz_last_error(), fragment), "message '%s' lacks '%s'",
                  dz_last_error(), fragment);
}

static void assert_dict_fails(const char *dict, size_t data_len, dz_status code, const char *fragment)
{
    static const unsigned char zeros[64];
    bytes b = npy_file(dict, zeros, data_len);
    assert_npy_fails(&b, code, fragment);
    free(b.p);
}

START_TEST(test_npy_rejects)
{
    const dz_status F = DZ_ERR_FORMAT, U = DZ_ERR_UNSUPPORTED;
    assert_dict_fails("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24, F,
                      "unexpected key 'x'");
    assert_dict_fails(DICT("'<f4'", "0", "(2, 3)"), 24, F, "'fortran_order' is not True or False");
    assert_dict_fails(DICT("'<f4'", "False", "[2, 3]"), 24, F, "'shape' is not a tuple");
    assert_dict_fails(DICT("'<f4'", "False", "(6)"), 24, F, "'shape' is not a tuple");
    assert_dict_fails(DICT("'<f4'", "False", "(2 3)"), 24, F, "'shape' is not a tuple of ints");
    assert_dict_fails(DICT("'<f4'", "False", "(-6,)"), 24, F, "negative dimension");
    assert_dict_fails(DICT("'<f4'", "False", "(99999999999999999999,)"), 24, F, "does not fit in 64 bits");
    assert_dict_fails(DICT("'<f8'", "False", "(1099511627776, 1099511627776)"), 0, F, "overflows 64-bit sizes");
    assert_dict_fails(DICT("'<f8'", "False", "(100000000,)"), 24, F, "needs 800000000 data bytes but 24 follow");
    assert_dict_fails(DICT("'<f4'", "False", "(2, 3)"), 20, F, "needs 24 data bytes but 20 follow");
    assert_dict_fails(DICT("'<f4'", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 4, U, "more than 8 dimensions");
    assert_dict_fails("{'descr': '<f4', 'fortran_order': False}", 4, F, "key 'shape' is missing");
    assert_dict_fails("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", 4, F,
                      "'descr' appears twice");
    assert_dict_fails(DICT("'<f4'", "False", "(2, 3)") " x", 24, F, "text after the dict");
    assert_dict_fails("{'descr", 24, F, "expected a quoted key");
    assert_dict_fails("[1, 2]", 24, F, "not a dict");
    assert_dict_fails(DICT("'|f4'", "False", "(2, 3)"), 24, F, "'|f4' has no byte order");
    assert_dict_fails(DICT("'<x9'", "False", "(2, 3)"), 24, F, "'<x9' is not a dtype");
    assert_dict_fails(DICT("1", "False", "(2, 3)"), 24, F, "'descr' is not a string");
    assert_dict_fails(DICT("'<i2'", "False", "(3,)"), 6, U, "dtype '<i2' is not supported");
    assert_dict_fails(DICT("'<c8'", "False", "(3,)"), 24, U, "dtype '<c8' is not supported");
    assert_dict_fails(DICT("'<M8[ns]'", "False", "(3,)"), 24, U, "dtype '<M8[ns]' is not supported");
    assert_dict_fails(DICT("'|O'", "False", "(3,)"), 24, U, "no pickle");
    assert_dict_fails(DICT("'<U3'", "False", "(1,)"), 12, U, "unicode");
    assert_dict_fails(DICT("'|S3'", "False", "(1,)"), 3, U, "bytes");
    assert_dict_fails(DICT("'|V4'", "False", "(1,)"), 4, U, "void");
    assert_dict_fails(DICT("[('x', '<f4')]", "False", "(1,)"), 4, U, "structured");

    bytes b = npy_file(DICT23, f6, sizeof f6);
    b.p[6] = 4;
    assert_npy_fails(&b, F, "unknown .npy format version 4.0");
    b.p[6] = 1;
    b.p[7] = 1;
    assert_npy_fails(&b, F, "unknown .npy format version 1.1");
    b.p[7] = 0;
    b.p[0] = 'N';
    assert_npy_fails(&b, F, "not a .npy file");
    b.p[0] = 0x93;
    b.p[8] = 0xff; /* HEADER_LEN 0x76ff */
    b.p[9] = 0x76;
    assert_npy_fails(&b, F, "exceeds the 10000-byte limit");
    b.p[9] = 0x01; /* HEADER_LEN 0x1ff: fine, but past the end */
    assert_npy_fails(&b, F, "runs past the end");
    b.n = 9;
    assert_npy_fails(&b, F, "too short");
    free(b.p);
}
END_TEST

/* ------------------------------------------------ .npz vectors (§5.4) */

/* §5.4's central entries show two 00 bytes too many before 80 01 (the
 * external attributes); these are the 51 bytes NumPy writes. */

#define LOCAL_STORED_OLD                                                                                       \
    "50 4b 03 04 14 00 00 00 00 00 00 00 21 00 4f e9 00 2a 98 00 00 00 98 00 00 00 05 00 14 00"                \
    "61 2e 6e 70 79 01 00 10 00 98 00 00 00 00 00 00 00 98 00 00 00 00 00 00 00"
#define CENTRAL_STORED_OLD                                                                                     \
    "50 4b 01 02 14 03 14 00 00 00 00 00 00 00 21 00 4f e9 00 2a 98 00 00 00 98 00 00 00 05 00"                \
    "00 00 00 00 00 00 00 00 00 00 80 01 00 00 00 00 61 2e 6e 70 79"
#define EOCD_STORED "50 4b 05 06 00 00 00 00 01 00 01 00 33 00 00 00 cf 00 00 00 00 00"
#define LOCAL_DEFLATE_OLD                                                                                      \
    "50 4b 03 04 14 00 00 00 08 00 00 00 21 00 4f e9 00 2a 55 00 00 00 98 00 00 00 05 00 14 00"                \
    "61 2e 6e 70 79 01 00 10 00 98 00 00 00 00 00 00 00 55 00 00 00 00 00 00 00"
#define DEFLATE_DATA                                                                                           \
    "9b ec 17 ea 1b 10 c9 c8 50 c6 50 ad 9e 92 5a 9c 5c a4 6e a5 a0 6e 93 66 a2 ae a3 a0 9e 96"                \
    "5f 54 52 94 98 17 9f 5f 94 92 0a 12 77 4b cc 29 4e 05 8a 17 67 24 16 a4 02 f9 1a 46 3a 0a"                \
    "c6 9a 3a 0a b5 0a 64 03 2e 06 30 68 b0 07 12 0e 40 04 c4 0d 40 bc c0 01 00"
#define CENTRAL_DEFLATE_OLD                                                                                    \
    "50 4b 01 02 14 03 14 00 00 00 08 00 00 00 21 00 4f e9 00 2a 55 00 00 00 98 00 00 00 05 00"                \
    "00 00 00 00 00 00 00 00 00 00 80 01 00 00 00 00 61 2e 6e 70 79"
#define EOCD_DEFLATE "50 4b 05 06 00 00 00 00 01 00 01 00 33 00 00 00 8c 00 00 00 00 00"
#define EMPTY_NPZ "50 4b 05 06 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"

/* np.savez(f, a=np.arange(6, dtype=np.float32).reshape(2, 3)) [_compressed]. */
static bytes savez_vector(bool compressed, dz_zip_layout layout)
{
    bytes b = hex_bytes(compressed ? LOCAL_DEFLATE_OLD : LOCAL_STORED_OLD);
    size_t local = b.n;
    append_hex(&b, compressed ? DEFLATE_DATA : vector1_hex);
    size_t central = b.n;
    append_hex(&b, compressed ? CENTRAL_DEFLATE_OLD : CENTRAL_STORED_OLD);
    append_hex(&b, compressed ? EOCD_DEFLATE : EOCD_STORED);
    ck_assert_int_eq(local, 55);
    if (layout == DZ_ZIP_LAYOUT_CPYTHON) { /* version 4.5, saturated local sizes */
        b.p[4] = 0x2d;
        memset(b.p + 18, 0xff, 8);
        b.p[central + 4] = 0x2d;
        b.p[central + 6] = 0x2d;
    }
    return b;
}

static dz_npz *vector_npz(void)
{
    dz_npz *z = dz_npz_new();
    dz_array *a = vector_array(&vectors[0]);
    dz_npz_add(z, "a", a);
    dz_array_release(a);
    return z;
}

static bytes encode(const dz_npz *z, bool compressed, dz_zip_layout layout, uint64_t limit)
{
    bytes b;
    ck_assert_int_eq(dz_npz_encode(z, compressed, layout, limit, &b.p, &b.n), DZ_OK);
    return b;
}

static void assert_vector_npz(const dz_npz *z)
{
    ck_assert_int_eq(dz_npz_count(z), 1);
    ck_assert_str_eq(dz_npz_name(z, 0), "a");
    assert_array(dz_npz_get(z, "a"), DZ_F32, 2, shape23, v6);
}

START_TEST(test_npz_vectors)
{
    static const uint32_t crcs[2][2] = {{0x302d4d3a, 0x536a0882}, {0xace40e69, 0x0053c46a}};
    dz_npz *z = vector_npz();
    for (int compressed = 0; compressed < 2; compressed++) {
        for (int layout = 0; layout < 2; layout++) {
            bytes want = savez_vector(compressed, (dz_zip_layout)layout);
            ck_assert_int_eq(want.n, compressed ? 213 : 280);
            ck_assert_uint_eq(crc_of(want.p, want.n), crcs[compressed][layout]);
            bytes got = encode(z, compressed, (dz_zip_layout)layout, DZ_ZIP64_LIMIT);
            if (!compressed || stock_zlib())
                assert_bytes_eq(got.p, got.n, want.p, want.n);
            dz_npz *back = load_bytes(&want, DZ_OK);
            assert_vector_npz(back);
            dz_npz_free(back);
            back = load_bytes(&got, DZ_OK);
            assert_vector_npz(back);
            dz_npz_free(back);
            free(want.p);
            free(got.p);
        }
    }
    dz_npz_free(z);

    bytes empty_want = hex_bytes(EMPTY_NPZ);
    z = dz_npz_new();
    bytes empty = encode(z, false, DZ_ZIP_LAYOUT_CPYTHON, DZ_ZIP64_LIMIT);
    assert_bytes_eq(empty.p, empty.n, empty_want.p, empty_want.n);
    dz_npz_free(z);
    z = load_bytes(&empty_want, DZ_OK);
    ck_assert_int_eq(dz_npz_count(z), 0);
    dz_npz_free(z);
    free(empty.p);
    free(empty_want.p);
}
END_TEST

/* §5.4's streamed variant (new CPython): bit 3, zeroed local crc, data descriptor. */
START_TEST(test_npz_streamed_vector)
{
    bytes b = hex_bytes("50 4b 03 04 2d 00 08 00 00 00 00 00 21 00 00 00 00 00 ff ff ff ff ff ff ff ff 05 00 14 00"
                        "61 2e 6e 70 79 01 00 10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    append_hex(&b, vector1_hex);
    append_hex(&b, "50 4b 07 08 4f e9 00 2a 98 00 00 00 00 00 00 00 98 00 00 00 00 00 00 00");
    append_hex(&b, "50 4b 01 02 2d 03 2d 00 08 00 00 00 00 00 21 00 4f e9 00 2a 98 00 00 00 98 00 00 00 05 00"
                   "00 00 00 00 00 00 00 00 00 00 80 01 00 00 00 00 61 2e 6e 70 79");
    append_hex(&b, "50 4b 05 06 00 00 00 00 01 00 01 00 33 00 00 00 e7 00 00 00 00 00");
    ck_assert_int_eq(b.n, 304);
    dz_npz *z = load_bytes(&b, DZ_OK);
    assert_vector_npz(z);
    dz_npz_free(z);
    free(b.p);
}
END_TEST

/* ------------------------------------------------ NumPy-made fixtures */

typedef struct std_array {
    const char *name;
    dz_dtype dtype;
    int ndim;
    int64_t shape[3];
    double values[24];
} std_array;

/* make_npz_fixtures.py's standard_arrays(); "cube" is arange(24). */
static const std_array standard[] = {
    {"f32", DZ_F32, 2, {2, 3}, {0, 1, 2, 3, 4, 5}},
    {"f64", DZ_F64, 1, {4}, {-0.5, -0.25, 0, 0.25}},
    {"i32", DZ_I32, 1, {5}, {-1, 0, 1, 2147483647, -2147483648.0}},
    {"i64", DZ_I64, 2, {2, 2}, {-4611686018427387904.0, -1, 0, 1099511627777.0}},
    {"u8", DZ_U8, 1, {3}, {0, 1, 255}},
    {"bool", DZ_BOOL, 2, {2, 3}, {1, 0, 1, 0, 0, 1}},
    {"f16", DZ_F16, 1, {4}, {1, -2, 65504, 0.5}},
    {"scalar", DZ_F64, 0, {0}, {3.5}},
    {"scalar_i32", DZ_I32, 0, {0}, {7}},
    {"empty", DZ_F32, 1, {0}, {0}},
    {"empty2", DZ_F64, 2, {2, 0}, {0}},
    {"cube", DZ_F32, 3, {2, 3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}},
    {"l1/W", DZ_F32, 2, {3, 2}, {0, 0.5, 1, 1.5, 2, 2.5}},
    {"l1/b", DZ_F32, 1, {2}, {0, 0}},
};
#define NSTANDARD (int)(sizeof standard / sizeof standard[0])

static dz_npz *standard_npz(void)
{
    dz_npz *z = dz_npz_new();
    for (int i = 0; i < NSTANDARD; i++) {
        dz_array *a = array_of(standard[i].dtype, standard[i].ndim, standard[i].shape, standard[i].values);
        ck_assert_int_eq(dz_npz_add(z, standard[i].name, a), DZ_OK);
        dz_array_release(a);
    }
    return z;
}

static void assert_standard(const dz_npz *z)
{
    ck_assert_int_eq(dz_npz_count(z), NSTANDARD);
    for (int i = 0; i < NSTANDARD; i++) {
        const std_array *s = &standard[i];
        ck_assert_str_eq(dz_npz_name(z, i), s->name);
        assert_array(dz_npz_get(z, s->name), s->dtype, s->ndim, s->shape, s->values);
    }
    int64_t i64 = ((int64_t *)dz_npz_get(z, "i64")->data)[3];
    ck_assert(i64 == ((int64_t)1 << 40) + 1);
}

static dz_npz *load_path(const char *path)
{
    dz_npz *z = NULL;
    ck_assert_msg(dz_npz_load(path, &z) == DZ_OK, "%s", dz_last_error());
    return z;
}

static dz_npz *load_fixture(const char *name) { return load_path(fixture(name)); }

START_TEST(test_fixture_standard)
{
    for (int compressed = 0; compressed < 2; compressed++) {
        const char *name = compressed ? "compressed.npz" : "stored.npz";
        dz_npz *z = load_fixture(name);
        assert_standard(z);
        /* the same arrays built in C encode to NumPy's exact bytes */
        dz_npz *c = standard_npz();
        bytes want = slurp(fixture(name)), got = encode(c, compressed, fixture_layout(), DZ_ZIP64_LIMIT);
        if (!compressed || stock_zlib())
            assert_bytes_eq(got.p, got.n, want.p, want.n);
        free(want.p);
        free(got.p);
        dz_npz_free(c);
        dz_npz_free(z);
    }
}
END_TEST

START_TEST(test_fixture_layouts)
{
    /* every NumPy archive here reloads and re-encodes to its own bytes */
    const char *names[] = {"names.npz", "zip64.npz", "empty.npz"};
    for (int i = 0; i < 3; i++) {
        dz_npz *z = load_fixture(names[i]);
        bytes want = slurp(fixture(names[i]));
        bytes got = encode(z, false, fixture_layout(), i == 1 ? 100 : DZ_ZIP64_LIMIT);
        assert_bytes_eq(got.p, got.n, want.p, want.n);
        free(want.p);
        free(got.p);
        dz_npz_free(z);
    }
    dz_npz *z = load_fixture("names.npz"); /* keyword arrays first, then arr_0, arr_1 */
    const char *order[] = {"\xc3\xa4", "y", "arr_0", "arr_1"};
    const double ramp[5] = {0, 1, 2, 3, 4};
    const int64_t len[] = {4, 5, 2, 3};
    ck_assert_int_eq(dz_npz_count(z), 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(dz_npz_name(z, i), order[i]);
        assert_array(dz_npz_get(z, order[i]), DZ_I64, 1, &len[i], ramp);
    }
    dz_npz_free(z);
    for (int i = 0; i < 2; i++) { /* data descriptors, stored and deflated */
        z = load_fixture(i ? "streamed_compressed.npz" : "streamed.npz");
        ck_assert_int_eq(dz_npz_count(z), 2);
        assert_array(dz_npz_get(z, "a"), DZ_F32, 2, shape23, v6);
        assert_array(dz_npz_get(z, "b"), DZ_F64, 1, DZ_SHAPE(3), v6);
        dz_npz_free(z);
    }
}
END_TEST

/* make_npz_fixtures.non_ascii_arrays(): the keys in UTF-8; code page 437
 * has the first three. */
#define NNON_ASCII 4
static const char *const non_ascii_keys[NNON_ASCII] = {"\xc3\xa4\xc3\xbc", "\xe2\x95\x94\xc3\x9f", "\xc2\xa0/W",
                                                       "\xe6\x97\xa5\xe6\x9c\xac"};
static const dz_dtype non_ascii_dtypes[NNON_ASCII] = {DZ_I64, DZ_F64, DZ_F32, DZ_I32};
static const int64_t non_ascii_lengths[NNON_ASCII] = {2, 3, 1, 4};

static const double *non_ascii_values(int i)
{
    static const double ramp[4] = {0, 1, 2, 3}, one[1] = {1};
    return i == 2 ? one : ramp;
}

static dz_npz *non_ascii_npz(void)
{
    dz_npz *z = dz_npz_new();
    for (int i = 0; i < NNON_ASCII; i++) {
        dz_array *a = dz_array_from_buffer(DZ_F64, 1, &non_ascii_lengths[i], non_ascii_values(i));
        dz_array *t = dz_array_astype(a, non_ascii_dtypes[i]);
        ck_assert_int_eq(dz_npz_add(z, non_ascii_keys[i], t), DZ_OK);
        dz_array_release(a);
        dz_array_release(t);
    }
    return z;
}

/* z holds the first n non-ASCII arrays, in order. */
static void assert_non_ascii(const dz_npz *z, int n)
{
    ck_assert_int_eq(dz_npz_count(z), n);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(dz_npz_name(z, i), non_ascii_keys[i]);
        assert_array(dz_npz_get(z, non_ascii_keys[i]), non_ascii_dtypes[i], 1, &non_ascii_lengths[i],
                     non_ascii_values(i));
    }
}

START_TEST(test_fixture_cp437_names)
{
    /* names without the UTF-8 flag are code page 437, as np.load reads them */
    dz_npz *z = load_fixture("cp437.npz");
    assert_non_ascii(z, 3);
    dz_npz_free(z);
}
END_TEST

START_TEST(test_fixture_special)
{
    dz_npz *z = load_fixture("special.npz");
    const double cube[24] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};
    assert_array(dz_npz_get(z, "be_f4"), DZ_F32, 1, DZ_SHAPE(2), (double[]){1, 2});
    assert_array(dz_npz_get(z, "be_i8"), DZ_I64, 1, DZ_SHAPE(2), (double[]){1, 2});
    assert_array(dz_npz_get(z, "be_f8_2d"), DZ_F64, 2, shape23, v6);
    assert_array(dz_npz_get(z, "fortran"), DZ_F32, 3, DZ_SHAPE(2, 3, 4), cube);
    assert_array(dz_npz_get(z, "fortran_be"), DZ_I32, 2, DZ_SHAPE(3, 2), v6);
    dz_npz_free(z);

    const char *npys[] = {"v2.npy", "v3.npy", "fortran.npy"};
    for (int i = 0; i < 3; i++) {
        dz_array *a;
        ck_assert_msg(dz_npy_load(fixture(npys[i]), &a) == DZ_OK, "%s", dz_last_error());
        assert_array(a, DZ_F32, 2, shape23, v6);
        dz_array_release(a);
    }
    dz_array *a;
    ck_assert_int_eq(dz_npy_load(fixture("big_endian.npy"), &a), DZ_OK);
    assert_array(a, DZ_F64, 2, DZ_SHAPE(3, 2), v6);
    dz_array_release(a);
}
END_TEST

START_TEST(test_fixture_refused)
{
    dz_npz *z = (dz_npz *)1;
    ck_assert_int_eq(dz_npz_load(fixture("object.npz"), &z), DZ_ERR_UNSUPPORTED);
    ck_assert_ptr_null(z);
    ck_assert_ptr_nonnull(strstr(dz_last_error(), "object.npz: member 'obj.npy': object arrays"));
    ck_assert_ptr_nonnull(strstr(dz_last_error(), "no pickle"));
    const char *npys[] = {"unicode.npy", "structured.npy", "int16.npy"};
    const char *why[] = {"unicode", "structured", "'<i2' is not supported"};
    for (int i = 0; i < 3; i++) {
        dz_array *a = (dz_array *)1;
        ck_assert_int_eq(dz_npy_load(fixture(npys[i]), &a), DZ_ERR_UNSUPPORTED);
        ck_assert_ptr_null(a);
        ck_assert_msg(strstr(dz_last_error(), npys[i]) && strstr(dz_last_error(), why[i]), "%s", dz_last_error());
    }
}
END_TEST

/* ------------------------------------------------ malformed archives */

START_TEST(test_truncated_everywhere)
{
    bytes npy = vector_file(&vectors[0]);
    for (size_t n = 0; n < npy.n; n++) {
        bytes cut = {malloc(n + 1), n};
        memcpy(cut.p, npy.p, n);
        assert_npy_fails(&cut, DZ_ERR_FORMAT, "t.npy");
        free(cut.p);
    }
    free(npy.p);
    for (int compressed = 0; compressed < 2; compressed++) {
        bytes full = savez_vector(compressed, DZ_ZIP_LAYOUT_CPYTHON);
        for (size_t n = 0; n < full.n; n++) {
            bytes cut = {malloc(n + 1), n}; /* an exact-size copy, so reads past it are caught */
            memcpy(cut.p, full.p, n);
            load_bytes(&cut, DZ_ERR_FORMAT);
            free(cut.p);
        }
        free(full.p);
    }
}
END_TEST

START_TEST(test_flipped_bits)
{
    for (int compressed = 0; compressed < 2; compressed++) {
        bytes b = savez_vector(compressed, DZ_ZIP_LAYOUT_CPYTHON);
        for (size_t i = 0; i < b.n; i++) {
            for (int bit = 0; bit < 8; bit++) {
                b.p[i] ^= (unsigned char)(1 << bit);
                dz_npz *z = NULL;
                if (dz_npz_load_buffer(b.p, b.n, &z) == DZ_OK) /* e.g. the date: harmless */
                    ck_assert_int_eq(dz_npz_count(z), 1);
                else
                    ck_assert(z == NULL && dz_last_error()[0]);
                dz_npz_free(z);
                b.p[i] ^= (unsigned char)(1 << bit);
            }
        }
        free(b.p);
    }
    bytes b = savez_vector(false, DZ_ZIP_LAYOUT_CPYTHON);
    b.p[55 + 130] ^= 0x01; /* a data byte of the stored member */
    assert_load_fails(&b, DZ_ERR_FORMAT, "<buffer>: member 'a.npy': CRC mismatch (stored 0x2a00e94f, computed 0x");
    free(b.p);
}
END_TEST

/* An archive holding one member with the given bytes. */
static bytes zip_of(const char *name, const void *data, size_t n, bool deflate)
{
    dz_zip_writer *w = dz_zip_writer_new(NULL, "t", DZ_ZIP_LAYOUT_CPYTHON, DZ_ZIP64_LIMIT);
    dz_zip_part part = {data, n};
    ck_assert_int_eq(dz_zip_writer_add(w, name, &part, 1, deflate), DZ_OK);
    ck_assert_int_eq(dz_zip_writer_finish(w), DZ_OK);
    bytes b;
    b.p = dz_zip_writer_take(w, &b.n);
    dz_zip_writer_free(w);
    return b;
}

static void assert_member_fails(const bytes *npy, dz_status code, const char *fragment)
{
    for (int deflate = 0; deflate < 2; deflate++) {
        bytes b = zip_of("m.npy", npy->p, npy->n, deflate);
        assert_load_fails(&b, code, fragment);
        ck_assert_ptr_nonnull(strstr(dz_last_error(), "<buffer>: member 'm.npy'"));
        free(b.p);
    }
}

START_TEST(test_bad_members)
{
    static const unsigned char zeros[64];
    bytes huge = npy_file(DICT("'<f8'", "False", "(1099511627776, 1099511627776)"), NULL, 0);
    assert_member_fails(&huge, DZ_ERR_FORMAT, "overflows 64-bit sizes");
    bytes claims = npy_file(DICT("'<f8'", "False", "(1000000000,)"), zeros, 8);
    assert_member_fails(&claims, DZ_ERR_FORMAT, "needs 8000000000 data bytes but 8 follow");
    bytes longer = npy_file(DICT23, zeros, 28); /* trailing bytes are not allowed inside an archive */
    assert_member_fails(&longer, DZ_ERR_FORMAT, "needs 24 data bytes but 28 follow");
    bytes object = npy_file(DICT("'|O'", "False", "(1,)"), "\x80\x03N.", 4);
    assert_member_fails(&object, DZ_ERR_UNSUPPORTED, "no pickle");
    bytes unicode = npy_file(DICT("'<U3'", "False", "(1,)"), zeros, 12);
    assert_member_fails(&unicode, DZ_ERR_UNSUPPORTED, "unicode");
    bytes text = {(unsigned char *)strdup("hello, world"), 12};
    assert_member_fails(&text, DZ_ERR_FORMAT, "not a .npy file");
    bytes *all[] = {&huge, &claims, &longer, &object, &unicode, &text};
    for (int i = 0; i < 6; i++)
        free(all[i]->p);
}
END_TEST

#define CD_STORED (55 + 152) /* the central entry of savez_vector(false, ...) */
#define EOCD_AT(b) ((b).n - 22)

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> 8 * i);
}

START_TEST(test_bad_archives)
{
    bytes b = {(unsigned char *)strdup("this is not a zip archive at all"), 32};
    assert_load_fails(&b, DZ_ERR_FORMAT, "<buffer>: not an .npz (zip) archive");
    free(b.p);

    b = savez_vector(false, DZ_ZIP_LAYOUT_CPYTHON);
    b.p[CD_STORED + 8] |= 0x01;
    assert_load_fails(&b, DZ_ERR_UNSUPPORTED, "member 'a.npy' is encrypted");
    b.p[CD_STORED + 8] &= (unsigned char)~0x01;
    b.p[CD_STORED + 10] = 12;
    assert_load_fails(&b, DZ_ERR_UNSUPPORTED, "member 'a.npy': compression method 12 is not supported");
    b.p[CD_STORED + 10] = 0;
    put32(b.p + CD_STORED + 42, 5);
    assert_load_fails(&b, DZ_ERR_FORMAT, "member 'a.npy': no local header at offset 5");
    put32(b.p + CD_STORED + 42, 0);
    b.p[30] = 'b';
    assert_load_fails(&b, DZ_ERR_FORMAT, "member 'a.npy': the local header names it 'b.npy'");
    b.p[30] = 'a';
    put32(b.p + CD_STORED + 20, 0x90);
    put32(b.p + CD_STORED + 24, 0x90);
    assert_load_fails(&b, DZ_ERR_FORMAT, "needs 24 data bytes but 16 follow");
    put32(b.p + CD_STORED + 20, 0x98);
    assert_load_fails(&b, DZ_ERR_FORMAT, "is stored but its sizes differ");
    put32(b.p + CD_STORED + 24, 0x98);
    put32(b.p + CD_STORED + 20, 0x1000);
    put32(b.p + CD_STORED + 24, 0x1000);
    assert_load_fails(&b, DZ_ERR_FORMAT, "run past the end");
    put32(b.p + CD_STORED + 20, 0x98);
    put32(b.p + CD_STORED + 24, 0x98);
    b.p[EOCD_AT(b) + 8] = b.p[EOCD_AT(b) + 10] = 200;
    assert_load_fails(&b, DZ_ERR_FORMAT, "cannot hold 200 entries");
    b.p[EOCD_AT(b) + 8] = b.p[EOCD_AT(b) + 10] = 1;
    put32(b.p + EOCD_AT(b) + 16, 0xffff0000);
    assert_load_fails(&b, DZ_ERR_FORMAT, "lies outside the archive");
    put32(b.p + EOCD_AT(b) + 16, CD_STORED);
    b.p[EOCD_AT(b) + 4] = 1;
    assert_load_fails(&b, DZ_ERR_UNSUPPORTED, "span several disks");
    b.p[EOCD_AT(b) + 4] = 0;
    dz_npz_free(load_bytes(&b, DZ_OK)); /* every field restored */

    /* two central entries for one local header */
    bytes twice = {NULL, 0};
    append(&twice, b.p, CD_STORED + 51);
    append(&twice, b.p + CD_STORED, 51 + 22);
    unsigned char *eocd = twice.p + twice.n - 22;
    eocd[8] = eocd[10] = 2;
    put32(eocd + 12, 102);
    assert_load_fails(&twice, DZ_ERR_FORMAT, "members 'a.npy' and 'a.npy' overlap");
    free(twice.p);
    free(b.p);

    const size_t cd = 55 + 85; /* deflated */
    b = savez_vector(true, DZ_ZIP_LAYOUT_CPYTHON);
    put32(b.p + cd + 24, 0xfffffff0);
    assert_load_fails(&b, DZ_ERR_FORMAT, "declares 4294967280 bytes from 85 compressed bytes");
    put32(b.p + cd + 24, 0xa0);
    assert_load_fails(&b, DZ_ERR_FORMAT, "needs 24 data bytes but 32 follow");
    put32(b.p + cd + 24, 0x98);
    put32(b.p + cd + 20, 0x40);
    assert_load_fails(&b, DZ_ERR_FORMAT, "member 'a.npy': compressed data is truncated");
    put32(b.p + cd + 20, 0x55);
    b.p[55] = 0xff; /* an invalid deflate block type */
    assert_load_fails(&b, DZ_ERR_FORMAT, "member 'a.npy': corrupt deflate data");
    free(b.p);
}
END_TEST

START_TEST(test_directory_entries_skipped)
{
    dz_zip_writer *w = dz_zip_writer_new(NULL, "t", DZ_ZIP_LAYOUT_CPYTHON, DZ_ZIP64_LIMIT);
    bytes npy = npy_file(DICT23, f6, sizeof f6);
    dz_zip_part part = {npy.p, npy.n};
    ck_assert_int_eq(dz_zip_writer_add(w, "l1/", NULL, 0, false), DZ_OK);
    ck_assert_int_eq(dz_zip_writer_add(w, "l1/W.npy", &part, 1, true), DZ_OK);
    ck_assert_int_eq(dz_zip_writer_finish(w), DZ_OK);
    bytes b;
    b.p = dz_zip_writer_take(w, &b.n);
    dz_zip_writer_free(w);
    dz_npz *z = load_bytes(&b, DZ_OK);
    ck_assert_int_eq(dz_npz_count(z), 1);
    assert_array(dz_npz_get(z, "l1/W"), DZ_F32, 2, shape23, v6);
    dz_npz_free(z);
    free(b.p);
    free(npy.p);
}
END_TEST

/* ------------------------------------------------ files and the API */

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/dz_npz_XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static const char *tmp_path(const char *name)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", tmpdir, name);
    return p;
}

/* Removes everything make_tmpdir's directory holds (one level of subdirectories). */
static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            if (unlink(tmp_path(e->d_name)) != 0)
                rmdir(tmp_path(e->d_name));
    if (d)
        closedir(d);
    rmdir(tmpdir);
}

static int count_tmp_files(void)
{
    int n = 0;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

START_TEST(test_save_load_files)
{
    make_tmpdir();
    dz_npz *z = standard_npz();
    for (int compressed = 0; compressed < 2; compressed++) {
        const char *path = tmp_path(compressed ? "c.npz" : "s.npz");
        ck_assert_msg(dz_npz_save(z, path, compressed) == DZ_OK, "%s", dz_last_error());
        bytes file = slurp(path), mem = encode(z, compressed, DZ_ZIP_LAYOUT_CPYTHON, DZ_ZIP64_LIMIT);
        assert_bytes_eq(file.p, file.n, mem.p, mem.n);
        free(file.p);
        free(mem.p);
        dz_npz *back = load_path(path);
        assert_standard(back);
        dz_npz_free(back);
    }
    for (int i = 0; i < NVECTORS; i++) { /* np.save's exact files */
        if (vectors[i].raw)
            continue;
        dz_array *a = vector_array(&vectors[i]), *back;
        ck_assert_int_eq(dz_npy_save(tmp_path("v.npy"), a), DZ_OK);
        bytes file = slurp(tmp_path("v.npy")), want = vector_file(&vectors[i]);
        assert_bytes_eq(file.p, file.n, want.p, want.n);
        ck_assert_int_eq(dz_npy_load(tmp_path("v.npy"), &back), DZ_OK);
        assert_array(back, a->dtype, a->ndim, a->shape, vectors[i].values);
        dz_array_release(back);
        dz_array_release(a);
        free(file.p);
        free(want.p);
    }
    if (dz_cuda_available()) { /* device arrays are saved from a host copy */
        dz_npz *g = dz_npz_new();
        dz_array *host = vector_array(&vectors[0]), *dev = dz_array_to_device(host, DZ_CUDA), *back;
        dz_npz_add(g, "a", dev);
        ck_assert_int_eq(dz_npz_save(g, tmp_path("g.npz"), true), DZ_OK);
        ck_assert_int_eq(dz_npy_save(tmp_path("g.npy"), dev), DZ_OK);
        ck_assert_int_eq(dz_npy_load(tmp_path("g.npy"), &back), DZ_OK);
        assert_array(back, DZ_F32, 2, shape23, v6);
        dz_npz_free(g);
        g = load_path(tmp_path("g.npz"));
        assert_vector_npz(g);
        dz_npz_free(g);
        dz_array_release(back);
        dz_array_release(dev);
        dz_array_release(host);
    }
    struct stat sb;
    ck_assert_int_eq(chmod(tmp_path("s.npz"), 0640), 0);
    ck_assert_int_eq(dz_npz_save(z, tmp_path("s.npz"), false), DZ_OK);
    ck_assert_int_eq(stat(tmp_path("s.npz"), &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0640); /* an existing file keeps its mode */
    ck_assert_int_eq(count_tmp_files(), 0);
    dz_npz *none = (dz_npz *)1;
    ck_assert_int_eq(dz_npz_load(tmp_path("missing.npz"), &none), DZ_ERR_IO);
    ck_assert_ptr_null(none);
    ck_assert_ptr_nonnull(strstr(dz_last_error(), "missing.npz: cannot open: No such file or directory"));
    ck_assert_int_eq(dz_npz_load(tmpdir, &none), DZ_ERR_IO);
    ck_assert_ptr_nonnull(strstr(dz_last_error(), "not a regular file"));
    dz_npz_free(z);
    remove_tmpdir();
}
END_TEST

START_TEST(test_atomic_save)
{
    make_tmpdir();
    dz_npz *z = vector_npz();
    const char *missing = tmp_path("no/such/dir/x.npz");
    ck_assert_int_eq(dz_npz_save(z, missing, false), DZ_ERR_IO);
    ck_assert_ptr_nonnull(strstr(dz_last_error(), missing));
    ck_assert_ptr_nonnull(strstr(dz_last_error(), strerror(ENOENT)));
    ck_assert_int_eq(access(tmp_path("no"), F_OK), -1);

    /* a write that fails halfway (file size limit) leaves the old file as it was */
    const char *keep = tmp_path("keep.npz");
    ck_assert_int_eq(dz_npz_save(z, keep, false), DZ_OK);
    bytes before = slurp(keep);
    dz_npz *big = dz_npz_new();
    dz_array *a = dz_array_zeros(DZ_F64, 1, DZ_SHAPE(100000));
    dz_npz_add(big, "big", a);
    dz_array_release(a);
    struct rlimit old, small;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 64 * 1024;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    dz_status st = dz_npz_save(big, keep, false);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    ck_assert_int_eq(st, DZ_ERR_IO);
    ck_assert_msg(strstr(dz_last_error(), keep) && strstr(dz_last_error(), strerror(EFBIG)), "%s", dz_last_error());
    bytes after = slurp(keep);
    assert_bytes_eq(after.p, after.n, before.p, before.n);
    ck_assert_int_eq(count_tmp_files(), 0);
    /* a failing rename: the target is a directory */
    ck_assert_int_eq(mkdir(tmp_path("dir.npz"), 0700), 0);
    ck_assert_int_eq(dz_npz_save(z, tmp_path("dir.npz"), true), DZ_ERR_IO);
    ck_assert_ptr_nonnull(strstr(dz_last_error(), "dir.npz: cannot rename the temporary file over it"));
    ck_assert_int_eq(count_tmp_files(), 0);
    free(before.p);
    free(after.p);
    dz_npz_free(big);
    dz_npz_free(z);
    remove_tmpdir();
}
END_TEST

START_TEST(test_api)
{
    dz_npz *z = dz_npz_new();
    dz_array *a = dz_array_zeros(DZ_F32, 1, DZ_SHAPE(2)), *b = dz_array_ones(DZ_I32, 0, NULL);
    ck_assert_int_eq(dz_npz_add(z, "x", a), DZ_OK);
    ck_assert_int_eq(dz_npz_add(z, "l1/W", b), DZ_OK);
    ck_assert_int_eq(dz_npz_add(z, "x", b), DZ_OK); /* replaces, keeps its place */
    ck_assert_int_eq(dz_npz_count(z), 2);
    ck_assert_str_eq(dz_npz_name(z, 0), "x");
    ck_assert_ptr_eq(dz_npz_get(z, "x"), b);
    ck_assert_ptr_eq(dz_npz_get(z, "l1/W"), b);
    ck_assert_ptr_null(dz_npz_get(z, "y"));
    ck_assert_int_eq(a->refcount, 1);
    ck_assert_int_eq(b->refcount, 3);
    for (int i = 0; i < 300; i++) { /* the name index grows */
        char name[16];
        snprintf(name, sizeof name, "k%d", i);
        dz_npz_add(z, name, a);
    }
    ck_assert_int_eq(dz_npz_count(z), 302);
    ck_assert_ptr_eq(dz_npz_get(z, "k299"), a);
    ck_assert_str_eq(dz_npz_name(z, 301), "k299");

    tc_errors_off();
    ck_assert_int_eq(dz_npz_add(NULL, "x", a), DZ_ERR_NULL);
    ck_assert_int_eq(dz_npz_add(z, NULL, a), DZ_ERR_NULL);
    ck_assert_int_eq(dz_npz_add(z, "x", NULL), DZ_ERR_NULL);
    ck_assert_int_eq(dz_npz_add(z, "", a), DZ_ERR_VALUE);
    ck_assert_ptr_nonnull(strstr(dz_last_error(), "dz_npz_add: a name of 0 bytes"));
    ck_assert_ptr_null(dz_npz_name(z, 302));
    ck_assert_int_eq(dz_last_error_code(), DZ_ERR_INDEX);
    ck_assert_int_eq(dz_npz_load(NULL, &z), DZ_ERR_NULL);
    ck_assert_int_eq(dz_npz_save(NULL, "x.npz", false), DZ_ERR_NULL);
    ck_assert_int_eq(dz_npy_save("x.npy", NULL), DZ_ERR_NULL);
    ck_assert_int_eq(dz_npy_load("x.npy", NULL), DZ_ERR_NULL);
    tc_errors_on();
    dz_array_release(a);
    dz_array_release(b);
    dz_npz_free(z);
}
END_TEST

static Suite *npz_suite(void)
{
    Suite *s = suite_create("npz");
    TCase *npy = tcase_create("npy");
    tcase_add_test(npy, test_npy_vectors_bytes);
    tcase_add_test(npy, test_npy_vectors_read);
    tcase_add_test(npy, test_npy_reader_only_vectors);
    tcase_add_test(npy, test_npy_padding);
    tcase_add_test(npy, test_npy_rejects);
    suite_add_tcase(s, npy);
    TCase *npz = tcase_create("npz");
    tcase_add_test(npz, test_npz_vectors);
    tcase_add_test(npz, test_npz_streamed_vector);
    tcase_add_test(npz, test_fixture_standard);
    tcase_add_test(npz, test_fixture_layouts);
    tcase_add_test(npz, test_fixture_cp437_names);
    tcase_add_test(npz, test_fixture_special);
    tcase_add_test(npz, test_fixture_refused);
    suite_add_tcase(s, npz);
    TCase *bad = tcase_create("malformed");
    tcase_set_timeout(bad, 120);
    tcase_add_test(bad, test_truncated_everywhere);
    tcase_add_test(bad, test_flipped_bits);
    tcase_add_test(bad, test_bad_members);
    tcase_add_test(bad, test_bad_archives);
    tcase_add_test(bad, test_directory_entries_skipped);
    suite_add_tcase(s, bad);
    TCase *files = tcase_create("files");
    tcase_add_test(files, test_save_load_files);
    tcase_add_test(files, test_atomic_save);
    tcase_add_test(files, test_api);
    suite_add_tcase(s, files);
    return s;
}

/* ------------------------------------------------ live NumPy (npz_numpy_roundtrip) */

static const char *numpy_script; /* tests/npz_numpy_check.py */

static void run_numpy(const char *mode)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' %s '%s'", numpy_script, mode, tmpdir);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

START_TEST(test_numpy_loads_ours)
{
    make_tmpdir();
    dz_npz *z = standard_npz();
    ck_assert_int_eq(dz_npz_save(z, tmp_path("c_stored.npz"), false), DZ_OK);
    ck_assert_int_eq(dz_npz_save(z, tmp_path("c_compressed.npz"), true), DZ_OK);
    for (int i = 0; i < NSTANDARD; i++) {
        if (strchr(standard[i].name, '/'))
            continue;
        char name[64];
        snprintf(name, sizeof name, "c_%s.npy", standard[i].name);
        ck_assert_int_eq(dz_npy_save(tmp_path(name), dz_npz_get(z, standard[i].name)), DZ_OK);
    }
    dz_npz *names = non_ascii_npz();
    ck_assert_int_eq(dz_npz_save(names, tmp_path("c_names.npz"), false), DZ_OK);
    dz_npz_free(names);
    run_numpy("check");
    dz_npz_free(z);
    remove_tmpdir();
}
END_TEST

START_TEST(test_we_load_numpys)
{
    make_tmpdir();
    run_numpy("write");
    const char *names[] = {"np_stored.npz", "np_compressed.npz", "np_streamed.npz"};
    for (int i = 0; i < 3; i++) {
        dz_npz *z = load_path(tmp_path(names[i]));
        assert_standard(z);
        dz_npz_free(z);
    }
    /* our bytes for the same arrays, in the zip layout of that CPython */
    bytes info = slurp(tmp_path("info"));
    char layout[8] = "", zver[64] = "";
    ck_assert_int_eq(sscanf((char *)info.p, "%7s %63s", layout, zver), 2);
    dz_zip_layout lay = strcmp(layout, "old") == 0 ? DZ_ZIP_LAYOUT_CPYTHON_3_11_3 : DZ_ZIP_LAYOUT_CPYTHON;
    dz_npz *c = standard_npz();
    for (int compressed = 0; compressed < 2; compressed++) {
        if (compressed && (!stock_zlib() || strcmp(zver, zlibVersion()) != 0))
            continue; /* deflate bytes are only comparable with the same zlib */
        bytes want = slurp(tmp_path(names[compressed])), got = encode(c, compressed, lay, DZ_ZIP64_LIMIT);
        assert_bytes_eq(got.p, got.n, want.p, want.n);
        free(want.p);
        free(got.p);
    }
    dz_npz_free(c);
    dz_npz *keyed = load_path(tmp_path("np_names.npz")); /* UTF-8 names, flagged */
    assert_non_ascii(keyed, NNON_ASCII);
    bytes want = slurp(tmp_path("np_names.npz")), got = encode(keyed, false, lay, DZ_ZIP64_LIMIT);
    assert_bytes_eq(got.p, got.n, want.p, want.n);
    free(want.p);
    free(got.p);
    dz_npz_free(keyed);
    keyed = load_path(tmp_path("np_names_cp437.npz"));
    assert_non_ascii(keyed, NNON_ASCII - 1);
    dz_npz_free(keyed);
    free(info.p);
    remove_tmpdir();
}
END_TEST

static Suite *numpy_suite(void)
{
    Suite *s = suite_create("npz_numpy_roundtrip");
    TCase *tc = tcase_create("numpy");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_numpy_loads_ours);
    tcase_add_test(tc, test_we_load_numpys);
    suite_add_tcase(s, tc);
    return s;
}

/* test_npz: the suite above. test_npz --numpy SCRIPT: the round trip through
 * /usr/bin/python3's NumPy, skipped (exit 77) where NumPy is missing. */
int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--numpy") == 0) {
        numpy_script = argv[2];
        if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0) {
            printf("SKIP: /usr/bin/python3 cannot import numpy (apt-get install python3-numpy)\n");
            return 77;
        }
        return tc_run(numpy_suite());
    }
    return tc_run(npz_suite());
}

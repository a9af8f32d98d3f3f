/* .npy: NumPy 1.24's header writer (reference/npz.md §1.3) and a strict reader
 * that accepts what np.load accepts for the dtypes dezero-c has (§1.4, §1.5).
 *
 * The reader never trusts a number before checking it: the header length is
 * capped, the dict is parsed by a small tokenizer (no atoi), the shape product
 * and byte size are overflow-checked, and the byte size must agree with the
 * bytes the source holds before anything is allocated.
 */
#include "npy.h"

#include <string.h>

#include "../core/host_view.h"
#include "../core/internal.h"
#include "le.h"

#define MAGIC "\x93NUMPY"
#define MAGIC_LEN 6
#define ALIGN 64

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_ORDER '>'
#define HOST_ORDER_STR ">"
#else
#define HOST_ORDER '<'
#define HOST_ORDER_STR "<"
#endif

/* --- writer ------------------------------------------------------------- */

unsigned char *dz_npy_wrap_header(const char *text, size_t text_len, size_t *len)
{
    size_t field = 2; /* HEADER_LEN bytes: 2 for version 1.0, 4 for 2.0 */
    size_t hlen = text_len + 1;
    size_t total = hlen + ALIGN - (MAGIC_LEN + 2 + field + hlen) % ALIGN;
    if (total > UINT16_MAX) {
        field = 4;
        total = hlen + ALIGN - (MAGIC_LEN + 2 + field + hlen) % ALIGN;
    }
    size_t prefix = MAGIC_LEN + 2 + field;
    unsigned char *out = dz_xmalloc(prefix + total);
    memcpy(out, MAGIC, MAGIC_LEN);
    out[6] = field == 2 ? 1 : 2;
    out[7] = 0;
    if (field == 2)
        dz_put_le16(out + 8, (uint16_t)total);
    else
        dz_put_le32(out + 8, (uint32_t)total);
    memcpy(out + prefix, text, text_len);
    memset(out + prefix + text_len, ' ', total - 1 - text_len);
    out[prefix + total - 1] = '\n';
    *len = prefix + total;
    return out;
}

/* dtype.str: host byte order, '|' for one-byte types. Indexed by dz_dtype. */
static const char *const descrs[] = {HOST_ORDER_STR "f4", HOST_ORDER_STR "f8", HOST_ORDER_STR "i4",
                                     HOST_ORDER_STR "i8", "|u1", "|b1", HOST_ORDER_STR "f2"};

unsigned char *dz_npy_header(const dz_array *a, size_t *len)
{
    char shape[DZ_MAX_NDIM * 22 + 4], text[sizeof shape + 96];
    dz_shape_format(a->ndim, a->shape, shape, sizeof shape);
    int n = snprintf(text, sizeof text, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descrs[a->dtype], shape);
    if (a->ndim > 0) { /* growth room for appending along axis 0 (NumPy >= 1.24) */
        int digits = snprintf(NULL, 0, "%lld", (long long)a->shape[0]);
        for (int i = digits; i < 21; i++)
            text[n++] = ' ';
    }
    return dz_npy_wrap_header(text, (size_t)n, len);
}

/* --- header parser ------------------------------------------------------ */

typedef struct npy_header {
    dz_dtype dtype;
    bool swap; /* stored in the other byte order */
    bool fortran;
    int ndim;
    int64_t shape[DZ_MAX_NDIM];
} npy_header;

typedef struct parser {
    const char *p, *end;
    const char *label;
} parser;

static dz_status bad(const parser *ps, const char *what)
{
    return dz_fail(DZ_ERR_FORMAT, "%s: bad .npy header: %s", ps->label, what);
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\f'))
        ps->p++;
}

static bool eat(parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return true;
    }
    return false;
}

/* A quoted string without escapes: 'abc' or "abc". */
static bool parse_string(parser *ps, const char **s, size_t *n)
{
    skip_ws(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
        return false;
    char quote = *ps->p++;
    const char *start = ps->p;
    while (ps->p < ps->end && *ps->p != quote) {
        if (*ps->p == '\\' || *ps->p == '\n')
            return false;
        ps->p++;
    }
    if (ps->p >= ps->end)
        return false;
    *s = start;
    *n = (size_t)(ps->p - start);
    ps->p++;
    return true;
}

static bool is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static bool eat_word(parser *ps, const char *word)
{
    size_t n = strlen(word);
    skip_ws(ps);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0 ||
        (ps->p + n < ps->end && is_ident_char(ps->p[n])))
        return false;
    ps->p += n;
    return true;
}

static dz_status parse_fortran(parser *ps, npy_header *h)
{
    if (eat_word(ps, "True"))
        h->fortran = true;
    else if (eat_word(ps, "False"))
        h->fortran = false;
    else
        return bad(ps, "'fortran_order' is not True or False");
    return DZ_OK;
}

/* A non-negative int literal, with Python 2's optional L suffix. */
static dz_status parse_dim(parser *ps, int64_t *v)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '-')
        return bad(ps, "negative dimension in 'shape'");
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return bad(ps, "'shape' is not a tuple of ints");
    int64_t x = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *ps->p - '0', &x))
            return bad(ps, "a dimension in 'shape' does not fit in 64 bits");
        ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'L' || *ps->p == 'l'))
        ps->p++;
    *v = x;
    return DZ_OK;
}

/* A tuple: "()", "(5,)", "(2, 3)" or "(2, 3,)"; "(5)" is an int, not a tuple. */
static dz_status parse_shape(parser *ps, npy_header *h)
{
    if (!eat(ps, '('))
        return bad(ps, "'shape' is not a tuple");
    h->ndim = 0;
    bool comma = false;
    while (!eat(ps, ')')) {
        if (h->ndim > 0 && !comma)
            return bad(ps, "'shape' is not a tuple of ints");
        if (h->ndim == DZ_MAX_NDIM)
            return dz_fail(DZ_ERR_UNSUPPORTED, "%s: arrays of more than %d dimensions are not supported",
                           ps->label, DZ_MAX_NDIM);
        dz_status st = parse_dim(ps, &h->shape[h->ndim++]);
        if (st != DZ_OK)
            return st;
        comma = eat(ps, ',');
    }
    if (h->ndim == 1 && !comma)
        return bad(ps, "'shape' is not a tuple");
    return DZ_OK;
}

static dz_status unsupported_dtype(const parser *ps, const char *descr, const char *why)
{
    return dz_fail(DZ_ERR_UNSUPPORTED,
                   "%s: dtype '%s' is not supported%s (supported: <f2 <f4 <f8 <i4 <i8 |u1 |b1, either byte order)",
                   ps->label, descr, why);
}

/* Byte order, kind and size from a descr string such as "<f4" or "|b1". */
static dz_status parse_descr(parser *ps, npy_header *h)
{
    static const struct {
        char kind;
        int size;
        dz_dtype dtype;
    } table[] = {{'f', 2, DZ_F16}, {'f', 4, DZ_F32}, {'f', 8, DZ_F64}, {'i', 4, DZ_I32},
                 {'i', 8, DZ_I64}, {'u', 1, DZ_U8},  {'b', 1, DZ_BOOL}};
    const char *s;
    size_t n;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '[')
        return dz_fail(DZ_ERR_UNSUPPORTED, "%s: structured dtypes (a list 'descr') are not supported", ps->label);
    if (!parse_string(ps, &s, &n))
        return bad(ps, "'descr' is not a string");
    char d[32];
    if (n == 0 || n >= sizeof d)
        return bad(ps, "'descr' is not a dtype string");
    memcpy(d, s, n);
    d[n] = '\0';
    const char *k = d[0] && strchr("<>|=", d[0]) ? d + 1 : d;
    char order = k == d ? '=' : d[0];
    if (*k == 'O')
        return dz_fail(DZ_ERR_UNSUPPORTED,
                       "%s: object arrays (dtype '%s') are not supported: their data is a pickle (no pickle loading)",
                       ps->label, d);
    if (*k && strchr("USaV", *k))
        return unsupported_dtype(ps, d, *k == 'U' ? " (unicode strings)" : *k == 'V' ? " (void)" : " (bytes)");
    int size = 0;
    const char *q = k + 1;
    while (*q >= '0' && *q <= '9' && size < 1000)
        size = size * 10 + (*q++ - '0');
    if (!*k || !strchr("biufcmM?", *k) || (*q && *k != 'm' && *k != 'M'))
        return dz_fail(DZ_ERR_FORMAT, "%s: bad .npy header: 'descr' '%s' is not a dtype", ps->label, d);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (table[i].kind != *k || table[i].size != size || *q)
            continue;
        if (order == '|' && size > 1)
            return dz_fail(DZ_ERR_FORMAT, "%s: bad .npy header: 'descr' '%s' has no byte order", ps->label, d);
        h->dtype = table[i].dtype;
        h->swap = size > 1 && (order == '<' || order == '>') && order != HOST_ORDER;
        return DZ_OK;
    }
    return unsupported_dtype(ps, d, "");
}

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4, KEY_ALL = 7 };

static dz_status parse_entry(parser *ps, npy_header *h, int *seen)
{
    const char *key;
    size_t n;
    if (!parse_string(ps, &key, &n))
        return bad(ps, "expected a quoted key");
    if (!eat(ps, ':'))
        return bad(ps, "expected ':' after a key");
    int which = n == 5 && !memcmp(key, "descr", 5)           ? KEY_DESCR
                : n == 13 && !memcmp(key, "fortran_order", 13) ? KEY_FORTRAN
                : n == 5 && !memcmp(key, "shape", 5)           ? KEY_SHAPE
                                                               : 0;
    if (!which)
        return dz_fail(DZ_ERR_FORMAT, "%s: bad .npy header: unexpected key '%.*s'", ps->label,
                       (int)(n > 40 ? 40 : n), key);
    if (*seen & which)
        return dz_fail(DZ_ERR_FORMAT, "%s: bad .npy header: key '%.*s' appears twice", ps->label, (int)n, key);
    *seen |= which;
    return which == KEY_DESCR ? parse_descr(ps, h) : which == KEY_FORTRAN ? parse_fortran(ps, h) : parse_shape(ps, h);
}

/* {'descr': ..., 'fortran_order': ..., 'shape': ...}: any order, either quote,
 * any whitespace, optional trailing comma, exactly these three keys. */
static dz_status parse_header(const char *text, size_t len, const char *label, npy_header *h)
{
    parser ps = {text, text + len, label};
    int seen = 0;
    if (!eat(&ps, '{'))
        return bad(&ps, "not a dict");
    while (!eat(&ps, '}')) {
        dz_status st = parse_entry(&ps, h, &seen);
        if (st != DZ_OK)
            return st;
        if (!eat(&ps, ',')) {
            if (!eat(&ps, '}'))
                return bad(&ps, "expected ',' or '}' in the dict");
            break;
        }
    }
    skip_ws(&ps);
    if (ps.p != ps.end)
        return bad(&ps, "text after the dict");
    if (seen != KEY_ALL)
        return dz_fail(DZ_ERR_FORMAT, "%s: bad .npy header: key '%s' is missing", label,
                       !(seen & KEY_DESCR) ? "descr" : !(seen & KEY_FORTRAN) ? "fortran_order" : "shape");
    return DZ_OK;
}

/* --- reader ------------------------------------------------------------- */

/* Column-major data of logical shape `shape` to C order: element (i0, i1, ...)
 * sits at i0 + n0*(i1 + n1*(...)) in `src`. */
static void fortran_to_c(const unsigned char *src, unsigned char *dst, int ndim, const int64_t *shape,
                         int64_t count, size_t es)
{
    int64_t idx[DZ_MAX_NDIM] = {0}, stride[DZ_MAX_NDIM];
    stride[0] = 1;
    for (int k = 1; k < ndim; k++)
        stride[k] = stride[k - 1] * shape[k - 1];
    int64_t off = 0;
    for (int64_t i = 0; i < count; i++) {
        memcpy(dst + (size_t)i * es, src + (size_t)off * es, es);
        for (int k = ndim - 1; k >= 0; k--) { /* next C index, last axis fastest */
            if (++idx[k] < shape[k]) {
                off += stride[k];
                break;
            }
            off -= (shape[k] - 1) * stride[k];
            idx[k] = 0;
        }
    }
}

static void byte_swap(unsigned char *p, int64_t count, size_t es)
{
    for (int64_t i = 0; i < count; i++, p += es)
        for (size_t j = 0; j < es / 2; j++) {
            unsigned char t = p[j];
            p[j] = p[es - 1 - j];
            p[es - 1 - j] = t;
        }
}

/* The loaded elements in host byte order, bools as 0/1. */
static void fix_bytes(unsigned char *bytes, const npy_header *h, int64_t count)
{
    size_t es = dz_dtype_size(h->dtype);
    if (h->swap)
        byte_swap(bytes, count, es);
    if (h->dtype == DZ_BOOL)
        for (int64_t i = 0; i < count; i++)
            bytes[i] = bytes[i] != 0;
}

/* *a in C order: a Fortran-order array is replaced by a C-order copy (both
 * on the CPU, where the host views are their own buffers). */
static dz_status to_c_order(dz_array **a, const npy_header *h, const char *label)
{
    if (!h->fortran || h->ndim <= 1)
        return DZ_OK;
    dz_array *c = dz_array_empty(h->dtype, h->ndim, h->shape);
    if (!c)
        return dz_fail(DZ_ERR_NOMEM, "%s: out of memory for the C-order copy of shape %s", label,
                       dz_shape_str(h->ndim, h->shape));
    dz_host_view from, to;
    fortran_to_c(dz_host_view_read(&from, *a), dz_host_view_write(&to, c), h->ndim, h->shape, c->size,
                 dz_dtype_size(h->dtype));
    dz_host_view_close(&to);
    dz_host_view_close(&from);
    dz_array_release(*a);
    *a = c;
    return DZ_OK;
}

/* Magic, version and HEADER_LEN; *prefix gets the prefix length. */
static dz_status read_prefix(const dz_npy_source *src, size_t *prefix, uint32_t *hlen)
{
    unsigned char b[12];
    if (src->size < 10)
        return dz_fail(DZ_ERR_FORMAT, "%s: not a .npy file: %llu bytes is too short", src->label,
                       (unsigned long long)src->size);
    dz_status st = src->read(src->ctx, b, 8);
    if (st != DZ_OK)
        return st;
    if (memcmp(b, MAGIC, MAGIC_LEN) != 0)
        return dz_fail(DZ_ERR_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", src->label);
    if (b[6] < 1 || b[6] > 3 || b[7] != 0)
        return dz_fail(DZ_ERR_FORMAT, "%s: unknown .npy format version %u.%u (expected 1.0, 2.0 or 3.0)",
                       src->label, b[6], b[7]);
    *prefix = b[6] == 1 ? 10 : 12;
    if (src->size < *prefix)
        return dz_fail(DZ_ERR_FORMAT, "%s: .npy header truncated", src->label);
    if ((st = src->read(src->ctx, b + 8, *prefix - 8)) != DZ_OK)
        return st;
    *hlen = b[6] == 1 ? dz_le16(b + 8) : dz_le32(b + 8);
    if (*hlen > DZ_NPY_MAX_HEADER_LEN)
        return dz_fail(DZ_ERR_FORMAT, "%s: .npy header of %u bytes exceeds the %d-byte limit", src->label,
                       (unsigned)*hlen, DZ_NPY_MAX_HEADER_LEN);
    if (*hlen > src->size - *prefix)
        return dz_fail(DZ_ERR_FORMAT, "%s: .npy header of %u bytes runs past the end (%llu bytes in all)",
                       src->label, (unsigned)*hlen, (unsigned long long)src->size);
    return DZ_OK;
}

/* The header's byte count against what the source holds after the header. */
static dz_status check_size(const dz_npy_source *src, const npy_header *h, uint64_t avail, size_t *nbytes)
{
    int64_t count;
    uint64_t n;
    if (!dz_shape_size(h->ndim, h->shape, &count) ||
        __builtin_mul_overflow((uint64_t)count, (uint64_t)dz_dtype_size(h->dtype), &n) || n > INT64_MAX)
        return dz_fail(DZ_ERR_FORMAT, "%s: shape %s of %s overflows 64-bit sizes", src->label,
                       dz_shape_str(h->ndim, h->shape), dz_dtype_name(h->dtype));
    if (n > avail || (src->exact && n != avail))
        return dz_fail(DZ_ERR_FORMAT, "%s: shape %s of %s needs %llu data bytes but %llu follow the header",
                       src->label, dz_shape_str(h->ndim, h->shape), dz_dtype_name(h->dtype),
                       (unsigned long long)n, (unsigned long long)avail);
    *nbytes = (size_t)n;
    return DZ_OK;
}

static dz_status read_header(const dz_npy_source *src, npy_header *h, size_t *nbytes)
{
    size_t prefix = 0;
    uint32_t hlen = 0;
    dz_status st = read_prefix(src, &prefix, &hlen);
    if (st != DZ_OK)
        return st;
    char *text = dz_xmalloc(hlen ? hlen : 1);
    st = src->read(src->ctx, text, hlen);
    if (st == DZ_OK)
        st = parse_header(text, hlen, src->label, h);
    free(text);
    if (st == DZ_OK)
        st = check_size(src, h, src->size - prefix - hlen, nbytes);
    return st;
}

dz_status dz_npy_read(const dz_npy_source *src, dz_array **out)
{
    npy_header h;
    size_t nbytes = 0;
    *out = NULL;
    dz_status st = read_header(src, &h, &nbytes);
    if (st != DZ_OK)
        return st;
    dz_array *a = dz_array_empty(h.dtype, h.ndim, h.shape);
    if (!a)
        return dz_fail(DZ_ERR_NOMEM, "%s: out of memory for an array of shape %s (%zu bytes)", src->label,
                       dz_shape_str(h.ndim, h.shape), nbytes);
    dz_host_view view; /* loaded arrays are on the CPU: the view is a's own buffer */
    unsigned char *bytes = dz_host_view_write(&view, a);
    st = src->read(src->ctx, bytes, nbytes);
    if (st == DZ_OK)
        fix_bytes(bytes, &h, a->size);
    dz_host_view_close(&view);
    if (st == DZ_OK)
        st = to_c_order(&a, &h, src->label);
    if (st != DZ_OK) {
        dz_array_release(a);
        return st;
    }
    *out = a;
    return DZ_OK;
}

typedef struct cursor {
    const unsigned char *p;
    size_t left;
} cursor;

static dz_status cursor_read(void *ctx, void *buf, size_t n)
{
    cursor *c = ctx;
    DZ_ASSERT(n <= c->left); /* dz_npy_read checks sizes before reading */
    memcpy(buf, c->p, n);
    c->p += n;
    c->left -= n;
    return DZ_OK;
}

dz_status dz_npy_read_buffer(const void *data, size_t len, const char *label, dz_array **out)
{
    cursor c = {data, len};
    dz_npy_source src = {cursor_read, &c, len, false, label};
    return dz_npy_read(&src, out);
}

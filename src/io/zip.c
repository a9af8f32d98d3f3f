/* Our ZIP container for .npz files: reader and writer (see zip.h for the
 * record layout).
 *
 * The reader trusts the central directory, never the local sizes (CPython
 * >= 3.11.4 writes 0xFFFFFFFF there, streamed archives write 0 and append a
 * data descriptor). Everything is range-checked against the buffer before use;
 * members may not overlap, and a deflate member may not declare more bytes
 * than deflate can expand its compressed size to, so nothing unbounded is
 * ever allocated on a file's say-so.
 *
 * The writer reproduces CPython zipfile's output for np.savez byte for byte
 * (reference/npz.md §2.2, §3.1): date 1980-01-01 00:00 (ZipInfo's default, so
 * the output does not depend on the clock), external attributes 0o600 << 16,
 * made-by system 3 (Unix), a 20-byte zip64 extra on every local header, and
 * CPython's zip64 rules for sizes and offsets above ZIP64_LIMIT. It always
 * seeks back to finish a local header, as CPython does on seekable files, so
 * it never writes data descriptors. What can differ from NumPy's bytes: on
 * Windows CPython writes system 0, and deflate output depends on the zlib
 * build (identical with stock zlib, not with zlib-ng).
 */
#include "zip.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "le.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_ZIP64_EOCD 0x06064b50u
#define SIG_ZIP64_LOCATOR 0x07064b50u

#define LOCAL_LEN 30
#define CENTRAL_LEN 46
#define EOCD_LEN 22
#define ZIP64_EOCD_LEN 56
#define LOCATOR_LEN 20
#define ZIP64_LOCAL_EXTRA_LEN 20

#define FLAG_ENCRYPTED 0x0001u
#define FLAG_PATCHED 0x0020u
#define FLAG_STRONG_ENCRYPTION 0x0040u
#define FLAG_UTF8 0x0800u

#define METHOD_STORED 0
#define METHOD_DEFLATE 8

#define SAT32 0xFFFFFFFFu
#define DOS_DATE_1980_01_01 0x0021u
#define UNIX_0600_ATTR (0600u << 16)
#define MADE_BY_UNIX 3
#define VERSION_DEFAULT 20
#define VERSION_ZIP64 45
#define MAX_EXTRACT_VERSION 63

/* Deflate expands at most 258 bytes per 2 bits (a length/distance pair). */
#define DEFLATE_MAX_RATIO 1032
#define ZLIB_CHUNK ((size_t)1 << 30) /* zlib counts in 32-bit uInt */

/* ===================== reader ===================== */

/* Where the central directory is and what it must hold. */
typedef struct dir_info {
    uint64_t count, size, offset;
    uint64_t end; /* the directory must end by here (the first end record) */
} dir_info;

static bool find_eocd(const dz_zip_reader *r, uint64_t *pos)
{
    if (r->len < EOCD_LEN)
        return false;
    uint64_t last = r->len - EOCD_LEN, first = last > UINT16_MAX ? last - UINT16_MAX : 0;
    for (uint64_t p = last + 1; p-- > first;) {
        const unsigned char *b = r->data + p;
        if (dz_le32(b) == SIG_EOCD && dz_le16(b + 20) <= r->len - p - EOCD_LEN) {
            *pos = p;
            return true;
        }
    }
    return false;
}

static dz_status multi_disk(const dz_zip_reader *r)
{
    return dz_fail(DZ_ERR_UNSUPPORTED, "%s: zip archives that span several disks are not supported", r->label);
}

/* ZIP64 end record (56 bytes):
 *   0 sig  4 size u64  12 made-by u16  14 needed u16  16 disk u32  20 cd-disk u32
 *   24 entries-on-disk u64  32 entries u64  40 cd-size u64  48 cd-offset u64
 * found through the locator "PK\6\7" disk u32, record offset u64, disks u32. */
static dz_status read_zip64_end(const dz_zip_reader *r, uint64_t locator, dir_info *d)
{
    const unsigned char *loc = r->data + locator;
    uint64_t off = dz_le64(loc + 8);
    if (dz_le32(loc + 4) != 0 || dz_le32(loc + 16) > 1)
        return multi_disk(r);
    if (locator < ZIP64_EOCD_LEN || off > locator - ZIP64_EOCD_LEN || dz_le32(r->data + off) != SIG_ZIP64_EOCD)
        return dz_fail(DZ_ERR_FORMAT, "%s: zip64 end-of-central-directory record missing at offset %llu", r->label,
                       (unsigned long long)off);
    const unsigned char *rec = r->data + off;
    if (dz_le32(rec + 16) != 0 || dz_le32(rec + 20) != 0 || dz_le64(rec + 24) != dz_le64(rec + 32))
        return multi_disk(r);
    *d = (dir_info){dz_le64(rec + 32), dz_le64(rec + 40), dz_le64(rec + 48), off};
    return DZ_OK;
}

/* EOCD (22 bytes): 0 sig  4 disk u16  6 cd-disk u16  8 entries-on-disk u16
 *   10 entries u16  12 cd-size u32  16 cd-offset u32  20 comment-len u16.
 * A zip64 locator right before it overrides the (possibly saturated) fields. */
static dz_status read_end(const dz_zip_reader *r, dir_info *d)
{
    uint64_t pos;
    if (!find_eocd(r, &pos))
        return dz_fail(DZ_ERR_FORMAT, "%s: not an .npz (zip) archive: no end-of-central-directory record",
                       r->label);
    dz_status st = DZ_OK;
    if (pos >= LOCATOR_LEN && dz_le32(r->data + pos - LOCATOR_LEN) == SIG_ZIP64_LOCATOR) {
        st = read_zip64_end(r, pos - LOCATOR_LEN, d);
    } else {
        const unsigned char *b = r->data + pos;
        if (dz_le16(b + 4) != 0 || dz_le16(b + 6) != 0 || dz_le16(b + 8) != dz_le16(b + 10))
            return multi_disk(r);
        *d = (dir_info){dz_le16(b + 10), dz_le32(b + 12), dz_le32(b + 16), pos};
    }
    if (st != DZ_OK)
        return st;
    if (d->offset > d->end || d->size > d->end - d->offset)
        return dz_fail(DZ_ERR_FORMAT, "%s: central directory (%llu bytes at offset %llu) lies outside the archive",
                       r->label, (unsigned long long)d->size, (unsigned long long)d->offset);
    if (d->count > d->size / CENTRAL_LEN)
        return dz_fail(DZ_ERR_FORMAT, "%s: central directory of %llu bytes cannot hold %llu entries", r->label,
                       (unsigned long long)d->size, (unsigned long long)d->count);
    return DZ_OK;
}

/* The zip64 extra field (id 1): a u64 for each of usize, csize, offset that
 * is saturated in the central entry, then a u32 disk number, in that order. */
static dz_status read_zip64_extra(const dz_zip_reader *r, dz_zip_entry *e, const unsigned char *x, size_t n,
                                  uint32_t *disk)
{
    while (n >= 4) {
        size_t id = dz_le16(x), len = dz_le16(x + 2);
        if (len > n - 4)
            return dz_fail(DZ_ERR_FORMAT, "%s: member '%s': corrupt extra field %04zx", r->label, e->name, id);
        const unsigned char *f = x + 4, *end = f + len;
        uint64_t *fields[] = {e->usize == SAT32 ? &e->usize : NULL, e->csize == SAT32 ? &e->csize : NULL,
                              e->header_offset == SAT32 ? &e->header_offset : NULL};
        for (int i = 0; id == 1 && i < 3; i++) {
            if (!fields[i])
                continue;
            if (end - f < 8)
                return dz_fail(DZ_ERR_FORMAT, "%s: member '%s': zip64 extra field too short", r->label, e->name);
            *fields[i] = dz_le64(f);
            f += 8;
        }
        if (id == 1 && *disk == UINT16_MAX && end - f >= 4)
            *disk = dz_le32(f);
        x += 4 + len;
        n -= 4 + len;
    }
    return DZ_OK;
}

/* What this reader handles, and sizes that are possible at all. */
static dz_status check_entry(const dz_zip_reader *r, const dz_zip_entry *e, unsigned version, uint32_t disk)
{
    const char *n = e->name;
    if (e->flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION))
        return dz_fail(DZ_ERR_UNSUPPORTED, "%s: member '%s' is encrypted; encrypted archives are not supported",
                       r->label, n);
    if (e->flags & FLAG_PATCHED)
        return dz_fail(DZ_ERR_UNSUPPORTED, "%s: member '%s' is patch data, which is not supported", r->label, n);
    if (e->method != METHOD_STORED && e->method != METHOD_DEFLATE)
        return dz_fail(DZ_ERR_UNSUPPORTED,
                       "%s: member '%s': compression method %u is not supported (only 0, stored, and 8, deflate)",
                       r->label, n, e->method);
    if (version > MAX_EXTRACT_VERSION)
        return dz_fail(DZ_ERR_UNSUPPORTED, "%s: member '%s' needs zip version %u.%u", r->label, n, version / 10,
                       version % 10);
    if (disk != 0)
        return multi_disk(r);
    if (e->method == METHOD_STORED && e->csize != e->usize)
        return dz_fail(DZ_ERR_FORMAT, "%s: member '%s' is stored but its sizes differ (%llu compressed, %llu not)",
                       r->label, n, (unsigned long long)e->csize, (unsigned long long)e->usize);
    if (e->method == METHOD_DEFLATE && e->usize / DEFLATE_MAX_RATIO > e->csize)
        return dz_fail(DZ_ERR_FORMAT,
                       "%s: member '%s' declares %llu bytes from %llu compressed bytes, more than deflate can produce",
                       r->label, n, (unsigned long long)e->usize, (unsigned long long)e->csize);
    return DZ_OK;
}

/* Member names without the UTF-8 flag (general purpose bit 11) are code
 * page 437, as CPython's zipfile (and so np.load) decodes them: bytes below
 * 0x80 are ASCII, these are the code points of 0x80..0xFF. */
static const uint16_t CP437_HIGH[128] = {
    0x00c7, 0x00fc, 0x00e9, 0x00e2, 0x00e4, 0x00e0, 0x00e5, 0x00e7,
    0x00ea, 0x00eb, 0x00e8, 0x00ef, 0x00ee, 0x00ec, 0x00c4, 0x00c5,
    0x00c9, 0x00e6, 0x00c6, 0x00f4, 0x00f6, 0x00f2, 0x00fb, 0x00f9,
    0x00ff, 0x00d6, 0x00dc, 0x00a2, 0x00a3, 0x00a5, 0x20a7, 0x0192,
    0x00e1, 0x00ed, 0x00f3, 0x00fa, 0x00f1, 0x00d1, 0x00aa, 0x00ba,
    0x00bf, 0x2310, 0x00ac, 0x00bd, 0x00bc, 0x00a1, 0x00ab, 0x00bb,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556,
    0x2555, 0x2563, 0x2551, 0x2557, 0x255d, 0x255c, 0x255b, 0x2510,
    0x2514, 0x2534, 0x252c, 0x251c, 0x2500, 0x253c, 0x255e, 0x255f,
    0x255a, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256c, 0x2567,
    0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256b,
    0x256a, 0x2518, 0x250c, 0x2588, 0x2584, 0x258c, 0x2590, 0x2580,
    0x03b1, 0x00df, 0x0393, 0x03c0, 0x03a3, 0x03c3, 0x00b5, 0x03c4,
    0x03a6, 0x0398, 0x03a9, 0x03b4, 0x221e, 0x03c6, 0x03b5, 0x2229,
    0x2261, 0x00b1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00f7, 0x2248,
    0x00b0, 0x2219, 0x00b7, 0x221a, 0x207f, 0x00b2, 0x25a0, 0x00a0,
};

/* One code point below 0x10000 as UTF-8 at out; returns the bytes written. */
static size_t put_utf8(unsigned code, char *out)
{
    if (code < 0x80) {
        out[0] = (char)code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (char)(0xc0 | code >> 6);
        out[1] = (char)(0x80 | (code & 0x3f));
        return 2;
    }
    out[0] = (char)(0xe0 | code >> 12);
    out[1] = (char)(0x80 | ((code >> 6) & 0x3f));
    out[2] = (char)(0x80 | (code & 0x3f));
    return 3;
}

/* A member name as CPython reads it, NUL-terminated and malloc'd: the bytes
 * as they are when the UTF-8 flag is set, else decoded from code page 437. */
static char *decode_name(const unsigned char *name, size_t len, uint16_t flags)
{
    char *out = dz_xmalloc(3 * len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (flags & FLAG_UTF8 || name[i] < 0x80)
            out[n++] = (char)name[i];
        else
            n += put_utf8(CP437_HIGH[name[i] - 0x80], out + n);
    }
    out[n] = '\0';
    return out;
}

/* Central entry (46 bytes): 0 sig  4 made-by u16  6 needed u16  8 flags u16
 *   10 method u16  12 time u16  14 date u16  16 crc u32  20 csize u32
 *   24 usize u32  28 name-len u16  30 extra-len u16  32 comment-len u16
 *   34 disk u16  36 internal-attr u16  38 external-attr u32  42 offset u32 */
static dz_status read_central(const dz_zip_reader *r, const unsigned char **pp, const unsigned char *end,
                              dz_zip_entry *e, size_t index)
{
    const unsigned char *p = *pp;
    if (end - p < CENTRAL_LEN || dz_le32(p) != SIG_CENTRAL)
        return dz_fail(DZ_ERR_FORMAT, "%s: central directory entry %zu is corrupt", r->label, index);
    size_t nlen = dz_le16(p + 28), xlen = dz_le16(p + 30), clen = dz_le16(p + 32);
    if ((size_t)(end - p - CENTRAL_LEN) < nlen + xlen + clen)
        return dz_fail(DZ_ERR_FORMAT, "%s: central directory entry %zu runs past the directory", r->label, index);
    const unsigned char *name = p + CENTRAL_LEN;
    if (memchr(name, '\0', nlen))
        return dz_fail(DZ_ERR_FORMAT, "%s: central directory entry %zu has a NUL byte in its name", r->label, index);
    e->flags = dz_le16(p + 8);
    e->name = decode_name(name, nlen, e->flags);
    e->method = dz_le16(p + 10);
    e->crc = dz_le32(p + 16);
    e->csize = dz_le32(p + 20);
    e->usize = dz_le32(p + 24);
    e->header_offset = dz_le32(p + 42);
    uint32_t disk = dz_le16(p + 34);
    *pp = name + nlen + xlen + clen;
    dz_status st = read_zip64_extra(r, e, name + nlen, xlen, &disk);
    return st != DZ_OK ? st : check_entry(r, e, p[6], disk);
}

/* Local header (30 bytes): 0 sig  4 needed u16  6 flags u16  8 method u16
 *   10 time u16  12 date u16  14 crc u32  18 csize u32  22 usize u32
 *   26 name-len u16  28 extra-len u16; its crc and sizes are not used. */
static dz_status read_local(const dz_zip_reader *r, dz_zip_entry *e, uint64_t dir_offset)
{
    uint64_t off = e->header_offset;
    if (off > dir_offset || dir_offset - off < LOCAL_LEN || dz_le32(r->data + off) != SIG_LOCAL)
        return dz_fail(DZ_ERR_FORMAT, "%s: member '%s': no local header at offset %llu", r->label, e->name,
                       (unsigned long long)off);
    const unsigned char *h = r->data + off;
    size_t nlen = dz_le16(h + 26), xlen = dz_le16(h + 28);
    if (dir_offset - off - LOCAL_LEN < nlen + xlen)
        return dz_fail(DZ_ERR_FORMAT, "%s: member '%s': local header runs into the central directory", r->label,
                       e->name);
    if (memchr(h + LOCAL_LEN, '\0', nlen))
        return dz_fail(DZ_ERR_FORMAT, "%s: member '%s': the local header's name has a NUL byte", r->label, e->name);
    char *local = decode_name(h + LOCAL_LEN, nlen, dz_le16(h + 6)); /* compared decoded, as CPython does */
    bool same = strcmp(local, e->name) == 0;
    dz_status st = same ? DZ_OK
                        : dz_fail(DZ_ERR_FORMAT, "%s: member '%s': the local header names it '%.64s'", r->label,
                                  e->name, local);
    free(local);
    if (!same)
        return st;
    e->data_offset = off + LOCAL_LEN + nlen + xlen;
    if (e->csize > dir_offset - e->data_offset)
        return dz_fail(DZ_ERR_FORMAT, "%s: member '%s': %llu bytes of data at offset %llu run past the end", r->label,
                       e->name, (unsigned long long)e->csize, (unsigned long long)e->data_offset);
    return DZ_OK;
}

static int by_offset(const void *a, const void *b)
{
    const dz_zip_entry *x = *(const dz_zip_entry *const *)a, *y = *(const dz_zip_entry *const *)b;
    return x->header_offset < y->header_offset ? -1 : x->header_offset > y->header_offset;
}

/* Each member's data must end before the next local header starts. */
static dz_status check_overlap(const dz_zip_reader *r)
{
    if (r->count < 2)
        return DZ_OK;
    const dz_zip_entry **sorted = dz_xmalloc(r->count * sizeof *sorted);
    for (size_t i = 0; i < r->count; i++)
        sorted[i] = &r->entries[i];
    qsort(sorted, r->count, sizeof *sorted, by_offset);
    dz_status st = DZ_OK;
    for (size_t i = 0; i + 1 < r->count && st == DZ_OK; i++) {
        const dz_zip_entry *a = sorted[i], *b = sorted[i + 1];
        if (a->data_offset + a->csize > b->header_offset)
            st = dz_fail(DZ_ERR_FORMAT, "%s: members '%s' and '%s' overlap", r->label, a->name, b->name);
    }
    free(sorted);
    return st;
}

static dz_status read_directory(dz_zip_reader *r, const dir_info *d)
{
    const unsigned char *p = r->data + d->offset, *end = p + d->size;
    r->entries = dz_xcalloc(d->count ? d->count : 1, sizeof *r->entries);
    for (r->count = 0; r->count < d->count; r->count++) {
        dz_zip_entry *e = &r->entries[r->count];
        dz_status st = read_central(r, &p, end, e, r->count);
        if (st == DZ_OK)
            st = read_local(r, e, d->offset);
        if (st != DZ_OK) {
            r->count += e->name != NULL; /* so close frees the name */
            return st;
        }
    }
    return check_overlap(r);
}

dz_status dz_zip_reader_open(dz_zip_reader *r, const void *data, size_t len, const char *label)
{
    *r = (dz_zip_reader){data, len, label, 0, NULL};
    dir_info d = {0, 0, 0, 0};
    dz_status st = read_end(r, &d);
    if (st == DZ_OK)
        st = read_directory(r, &d);
    if (st != DZ_OK)
        dz_zip_reader_close(r);
    return st;
}

void dz_zip_reader_close(dz_zip_reader *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->entries[i].name);
    free(r->entries);
    r->entries = NULL;
    r->count = 0;
}

dz_status dz_zip_stream_open(dz_zip_stream *s, const dz_zip_reader *r, size_t i)
{
    memset(s, 0, sizeof *s);
    s->r = r;
    s->e = &r->entries[i];
    s->in = r->data + s->e->data_offset;
    s->in_left = s->e->csize;
    if (s->e->method == METHOD_DEFLATE) {
        if (inflateInit2(&s->z, -MAX_WBITS) != Z_OK)
            return dz_fail(DZ_ERR_NOMEM, "%s: member '%s': cannot start inflate", r->label, s->e->name);
        s->inflating = true;
    }
    return DZ_OK;
}

static dz_status inflate_error(const dz_zip_stream *s, int ret)
{
    const char *label = s->r->label, *name = s->e->name;
    if (ret == Z_MEM_ERROR)
        return dz_fail(DZ_ERR_NOMEM, "%s: member '%s': out of memory in inflate", label, name);
    if (ret == Z_BUF_ERROR)
        return dz_fail(DZ_ERR_FORMAT, "%s: member '%s': compressed data is truncated", label, name);
    return dz_fail(DZ_ERR_FORMAT, "%s: member '%s': corrupt deflate data (%s)", label, name,
                   s->z.msg ? s->z.msg : "inflate failed");
}

/* Inflates into out[0, n) until it is full or the deflate stream ends;
 * *got is the byte count produced. */
static dz_status inflate_some(dz_zip_stream *s, unsigned char *out, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n && !s->ended) {
        if (s->z.avail_in == 0 && s->in_left > 0) {
            size_t chunk = s->in_left < ZLIB_CHUNK ? (size_t)s->in_left : ZLIB_CHUNK;
            s->z.next_in = (Bytef *)s->in;
            s->z.avail_in = (uInt)chunk;
            s->in += chunk;
            s->in_left -= chunk;
        }
        size_t want = n - *got < ZLIB_CHUNK ? n - *got : ZLIB_CHUNK;
        s->z.next_out = out + *got;
        s->z.avail_out = (uInt)want;
        int ret = inflate(&s->z, Z_NO_FLUSH);
        *got += want - s->z.avail_out;
        if (ret == Z_STREAM_END)
            s->ended = true;
        else if (ret != Z_OK)
            return inflate_error(s, ret);
    }
    return DZ_OK;
}

dz_status dz_zip_stream_read(dz_zip_stream *s, void *buf, size_t n)
{
    DZ_ASSERT(n <= s->e->usize - s->produced); /* callers size their reads by usize */
    if (!s->inflating) {
        memcpy(buf, s->in, n);
        s->in += n;
        s->in_left -= n;
    } else {
        size_t got;
        dz_status st = inflate_some(s, buf, n, &got);
        if (st != DZ_OK)
            return st;
        if (got < n)
            return dz_fail(DZ_ERR_FORMAT, "%s: member '%s': deflate data ends after %llu bytes, %llu are declared",
                           s->r->label, s->e->name, (unsigned long long)(s->produced + got),
                           (unsigned long long)s->e->usize);
    }
    s->crc = (uint32_t)crc32_z(s->crc, buf, n);
    s->produced += n;
    return DZ_OK;
}

dz_status dz_zip_stream_finish(dz_zip_stream *s)
{
    DZ_ASSERT(s->produced == s->e->usize);
    if (s->inflating) {
        unsigned char extra;
        size_t got;
        dz_status st = inflate_some(s, &extra, 1, &got);
        if (st != DZ_OK)
            return st;
        if (got)
            return dz_fail(DZ_ERR_FORMAT, "%s: member '%s': deflate data is longer than the declared %llu bytes",
                           s->r->label, s->e->name, (unsigned long long)s->e->usize);
    }
    if (s->crc != s->e->crc)
        return dz_fail(DZ_ERR_FORMAT, "%s: member '%s': CRC mismatch (stored 0x%08x, computed 0x%08x)", s->r->label,
                       s->e->name, (unsigned)s->e->crc, (unsigned)s->crc);
    return DZ_OK;
}

void dz_zip_stream_close(dz_zip_stream *s)
{
    if (s->inflating)
        inflateEnd(&s->z);
    s->inflating = false;
}

/* ===================== writer ===================== */

typedef struct written {
    char *name;
    uint16_t flags, method, version;
    uint32_t crc;
    uint64_t csize, usize, offset;
} written;

struct dz_zip_writer {
    FILE *f; /* NULL: memory */
    const char *label;
    dz_zip_layout layout;
    uint64_t limit;
    unsigned char *mem;
    size_t mem_cap;
    uint64_t pos; /* bytes written so far */
    written *entries;
    size_t count, cap;
};

dz_zip_writer *dz_zip_writer_new(FILE *f, const char *label, dz_zip_layout layout, uint64_t zip64_limit)
{
    dz_zip_writer *w = dz_xcalloc(1, sizeof *w);
    w->f = f;
    w->label = label;
    w->layout = layout;
    w->limit = zip64_limit;
    return w;
}

void dz_zip_writer_free(dz_zip_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->count; i++)
        free(w->entries[i].name);
    free(w->entries);
    free(w->mem);
    free(w);
}

unsigned char *dz_zip_writer_take(dz_zip_writer *w, size_t *len)
{
    unsigned char *m = w->mem;
    *len = (size_t)w->pos;
    w->mem = NULL;
    w->mem_cap = 0;
    return m;
}

static dz_status write_error(const dz_zip_writer *w)
{
    return dz_fail(DZ_ERR_IO, "%s: write failed: %s", w->label, strerror(errno));
}

static dz_status emit(dz_zip_writer *w, const void *p, size_t n)
{
    if (w->f) {
        if (fwrite(p, 1, n, w->f) != n)
            return write_error(w);
    } else if (n) {
        if (w->pos + n > w->mem_cap) {
            size_t cap = w->mem_cap ? w->mem_cap : 4096;
            while (cap < w->pos + n)
                cap *= 2;
            unsigned char *m = realloc(w->mem, cap);
            if (!m)
                return dz_fail(DZ_ERR_NOMEM, "%s: out of memory for %zu bytes of archive", w->label, cap);
            w->mem = m;
            w->mem_cap = cap;
        }
        memcpy(w->mem + w->pos, p, n);
    }
    w->pos += n;
    return DZ_OK;
}

/* Overwrites bytes already written at `at`, as CPython does to finish a local header. */
static dz_status patch(dz_zip_writer *w, uint64_t at, const void *p, size_t n)
{
    if (!w->f) {
        memcpy(w->mem + at, p, n);
        return DZ_OK;
    }
    if (fseeko(w->f, (off_t)at, SEEK_SET) != 0 || fwrite(p, 1, n, w->f) != n ||
        fseeko(w->f, (off_t)w->pos, SEEK_SET) != 0)
        return write_error(w);
    return DZ_OK;
}

static bool is_large(const dz_zip_writer *w, const written *e) { return e->usize > w->limit || e->csize > w->limit; }

/* ZipInfo.FileHeader(zip64=True): the zip64 extra always; CPython >= 3.11.4
 * also saturates the 32-bit sizes and needs version 4.5, older CPython does
 * so only for sizes above ZIP64_LIMIT. The version it settles on is also the
 * entry's "version made by". Returns a malloc'd header of *len bytes. */
static unsigned char *local_header(const dz_zip_writer *w, written *e, size_t *len)
{
    size_t nlen = strlen(e->name);
    bool saturate = w->layout == DZ_ZIP_LAYOUT_CPYTHON || is_large(w, e);
    unsigned char *h = dz_xmalloc(LOCAL_LEN + nlen + ZIP64_LOCAL_EXTRA_LEN), *x = h + LOCAL_LEN + nlen;
    e->version = saturate ? VERSION_ZIP64 : VERSION_DEFAULT;
    dz_put_le32(h, SIG_LOCAL);
    dz_put_le16(h + 4, e->version);
    dz_put_le16(h + 6, e->flags);
    dz_put_le16(h + 8, e->method);
    dz_put_le16(h + 10, 0);
    dz_put_le16(h + 12, DOS_DATE_1980_01_01);
    dz_put_le32(h + 14, e->crc);
    dz_put_le32(h + 18, saturate ? SAT32 : (uint32_t)e->csize);
    dz_put_le32(h + 22, saturate ? SAT32 : (uint32_t)e->usize);
    dz_put_le16(h + 26, (uint16_t)nlen);
    dz_put_le16(h + 28, ZIP64_LOCAL_EXTRA_LEN);
    memcpy(h + LOCAL_LEN, e->name, nlen);
    dz_put_le16(x, 1);
    dz_put_le16(x + 2, 16);
    dz_put_le64(x + 4, e->usize);
    dz_put_le64(x + 12, e->csize);
    *len = LOCAL_LEN + nlen + ZIP64_LOCAL_EXTRA_LEN;
    return h;
}

static dz_status write_local(dz_zip_writer *w, written *e, bool rewrite)
{
    size_t len;
    unsigned char *h = local_header(w, e, &len);
    dz_status st = rewrite ? patch(w, e->offset, h, len) : emit(w, h, len);
    free(h);
    return st;
}

/* Runs deflate until it wants more input (Z_NO_FLUSH) or is done (Z_FINISH). */
static dz_status deflate_step(dz_zip_writer *w, z_stream *z, int flush, uint64_t *csize)
{
    unsigned char out[1 << 16];
    int ret;
    do {
        z->next_out = out;
        z->avail_out = sizeof out;
        ret = deflate(z, flush);
        DZ_ASSERT(ret != Z_STREAM_ERROR);
        size_t n = sizeof out - z->avail_out;
        *csize += n;
        dz_status st = emit(w, out, n);
        if (st != DZ_OK)
            return st;
    } while (z->avail_out == 0 || (flush == Z_FINISH && ret != Z_STREAM_END));
    return DZ_OK;
}

/* Raw deflate, level 6, memLevel 8: Python's zlib.compressobj(-1, DEFLATED, -15). */
static dz_status write_deflated(dz_zip_writer *w, const dz_zip_part *parts, int nparts, uint64_t *csize)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return dz_fail(DZ_ERR_NOMEM, "%s: cannot start deflate", w->label);
    dz_status st = DZ_OK;
    *csize = 0;
    for (int i = 0; i < nparts && st == DZ_OK; i++) {
        const unsigned char *p = parts[i].data;
        for (size_t left = parts[i].len; left > 0 && st == DZ_OK;) {
            size_t chunk = left < ZLIB_CHUNK ? left : ZLIB_CHUNK;
            z.next_in = (Bytef *)p;
            z.avail_in = (uInt)chunk;
            st = deflate_step(w, &z, Z_NO_FLUSH, csize);
            p += chunk;
            left -= chunk;
        }
    }
    if (st == DZ_OK)
        st = deflate_step(w, &z, Z_FINISH, csize);
    deflateEnd(&z);
    return st;
}

static dz_status write_parts(dz_zip_writer *w, const dz_zip_part *parts, int nparts)
{
    dz_status st = DZ_OK;
    for (int i = 0; i < nparts && st == DZ_OK; i++)
        st = emit(w, parts[i].data, parts[i].len);
    return st;
}

static written *new_entry(dz_zip_writer *w, const char *name, bool deflate)
{
    if (w->count == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->entries = dz_xrealloc(w->entries, w->cap * sizeof *w->entries);
    }
    written *e = &w->entries[w->count];
    memset(e, 0, sizeof *e);
    size_t n = strlen(name);
    e->name = memcpy(dz_xmalloc(n + 1), name, n + 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] >= 0x80) /* CPython stores non-ASCII names as UTF-8 */
            e->flags = FLAG_UTF8;
    e->method = deflate ? METHOD_DEFLATE : METHOD_STORED;
    e->offset = w->pos;
    return e;
}

dz_status dz_zip_writer_add(dz_zip_writer *w, const char *name, const dz_zip_part *parts, int nparts, bool deflate)
{
    if (strlen(name) > UINT16_MAX)
        return dz_fail(DZ_ERR_VALUE, "%s: a member name of %zu bytes is longer than ZIP allows (65535)", w->label,
                       strlen(name));
    written *e = new_entry(w, name, deflate);
    for (int i = 0; i < nparts; i++) {
        e->crc = (uint32_t)crc32_z(e->crc, parts[i].data, parts[i].len);
        e->usize += parts[i].len;
    }
    e->csize = deflate ? 0 : e->usize;
    dz_status st = write_local(w, e, false);
    if (st == DZ_OK)
        st = deflate ? write_deflated(w, parts, nparts, &e->csize) : write_parts(w, parts, nparts);
    if (st == DZ_OK && deflate)
        st = write_local(w, e, true);
    if (st != DZ_OK) {
        free(e->name);
        return st;
    }
    w->count++;
    return DZ_OK;
}

/* _write_end_record's central entry: real 32-bit values unless above
 * ZIP64_LIMIT, in which case they move to a zip64 extra (usize and csize
 * together, offset alone) and the entry needs version 4.5. */
static dz_status write_central(dz_zip_writer *w, const written *e)
{
    size_t nlen = strlen(e->name), xlen = 0;
    bool large = is_large(w, e), far = e->offset > w->limit;
    unsigned char h[CENTRAL_LEN], x[4 + 24];
    if (large || far) {
        xlen = 4;
        if (large) {
            dz_put_le64(x + xlen, e->usize);
            dz_put_le64(x + xlen + 8, e->csize);
            xlen += 16;
        }
        if (far) {
            dz_put_le64(x + xlen, e->offset);
            xlen += 8;
        }
        dz_put_le16(x, 1);
        dz_put_le16(x + 2, (uint16_t)(xlen - 4));
    }
    uint16_t version = xlen ? VERSION_ZIP64 : e->version;
    dz_put_le32(h, SIG_CENTRAL);
    dz_put_le16(h + 4, (uint16_t)(MADE_BY_UNIX << 8 | version));
    dz_put_le16(h + 6, version);
    dz_put_le16(h + 8, e->flags);
    dz_put_le16(h + 10, e->method);
    dz_put_le16(h + 12, 0);
    dz_put_le16(h + 14, DOS_DATE_1980_01_01);
    dz_put_le32(h + 16, e->crc);
    dz_put_le32(h + 20, large ? SAT32 : (uint32_t)e->csize);
    dz_put_le32(h + 24, large ? SAT32 : (uint32_t)e->usize);
    dz_put_le16(h + 28, (uint16_t)nlen);
    dz_put_le16(h + 30, (uint16_t)xlen);
    memset(h + 32, 0, 6); /* comment length, disk, internal attributes */
    dz_put_le32(h + 38, UNIX_0600_ATTR);
    dz_put_le32(h + 42, far ? SAT32 : (uint32_t)e->offset);
    dz_status st = emit(w, h, sizeof h);
    if (st == DZ_OK)
        st = emit(w, e->name, nlen);
    if (st == DZ_OK)
        st = emit(w, x, xlen);
    return st;
}

/* The zip64 end record and its locator, written when the entry count, the
 * directory offset or its size is too large for the classic record. */
static dz_status write_zip64_end(dz_zip_writer *w, uint64_t count, uint64_t dir_size, uint64_t dir_offset)
{
    unsigned char b[ZIP64_EOCD_LEN + LOCATOR_LEN], *loc = b + ZIP64_EOCD_LEN;
    dz_put_le32(b, SIG_ZIP64_EOCD);
    dz_put_le64(b + 4, ZIP64_EOCD_LEN - 12);
    dz_put_le16(b + 12, VERSION_ZIP64);
    dz_put_le16(b + 14, VERSION_ZIP64);
    dz_put_le32(b + 16, 0);
    dz_put_le32(b + 20, 0);
    dz_put_le64(b + 24, count);
    dz_put_le64(b + 32, count);
    dz_put_le64(b + 40, dir_size);
    dz_put_le64(b + 48, dir_offset);
    dz_put_le32(loc, SIG_ZIP64_LOCATOR);
    dz_put_le32(loc + 4, 0);
    dz_put_le64(loc + 8, dir_offset + dir_size);
    dz_put_le32(loc + 16, 1);
    return emit(w, b, sizeof b);
}

dz_status dz_zip_writer_finish(dz_zip_writer *w)
{
    uint64_t dir_offset = w->pos;
    dz_status st = DZ_OK;
    for (size_t i = 0; i < w->count && st == DZ_OK; i++)
        st = write_central(w, &w->entries[i]);
    if (st != DZ_OK)
        return st;
    uint64_t count = w->count, dir_size = w->pos - dir_offset;
    if (count > UINT16_MAX || dir_offset > w->limit || dir_size > w->limit) {
        if ((st = write_zip64_end(w, count, dir_size, dir_offset)) != DZ_OK)
            return st;
    }
    unsigned char b[EOCD_LEN];
    dz_put_le32(b, SIG_EOCD);
    dz_put_le32(b + 4, 0); /* disk numbers */
    dz_put_le16(b + 8, (uint16_t)(count < UINT16_MAX ? count : UINT16_MAX));
    dz_put_le16(b + 10, (uint16_t)(count < UINT16_MAX ? count : UINT16_MAX));
    dz_put_le32(b + 12, (uint32_t)(dir_size < SAT32 ? dir_size : SAT32));
    dz_put_le32(b + 16, (uint32_t)(dir_offset < SAT32 ? dir_offset : SAT32));
    dz_put_le16(b + 20, 0);
    return emit(w, b, sizeof b);
}

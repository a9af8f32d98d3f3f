/* dz_npz: named arrays in insertion order, loaded from and saved to .npz
 * archives (np.savez layout: member "<name>.npy" holds np.save's bytes), and
 * single-array .npy files.
 *
 * Files are read through a read-only mapping and written atomically: a
 * temporary file "<target>.tmp.<pid>.XXXXXX" beside the target, locked by
 * its writer (flock), fflush + fsync, rename over the target. Any failure
 * removes the temporary file and leaves the target untouched. A writer
 * killed mid-save leaves its temporary file behind; the next save of the
 * same target removes it once its writer is gone: the pid in its name is no
 * running process and no one holds its lock. (A pid reused by an unrelated
 * process only delays the removal; a writer in another pid namespace keeps
 * its file through its lock.)
 *
 * Every message starts with a label "<public function>: <file>".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/host_view.h"
#include "../core/internal.h"
#include "npy.h"
#include "npz_internal.h"

#define NPY_SUFFIX ".npy"
#define NPY_SUFFIX_LEN 4
#define BUFFER_LABEL "<buffer>"

struct dz_npz {
    int count, cap;
    char **names;
    dz_array **arrays;
    int *slots; /* hash index by name: entry index + 1, 0 when empty */
    size_t nslots; /* a power of two, more than twice count */
};

/* --- the set of arrays ---------------------------------------------------- */

dz_npz *dz_npz_new(void) { return dz_xcalloc(1, sizeof(dz_npz)); }

void dz_npz_free(dz_npz *z)
{
    if (!z)
        return;
    for (int i = 0; i < z->count; i++) {
        free(z->names[i]);
        dz_array_release(z->arrays[i]);
    }
    free(z->names);
    free(z->arrays);
    free(z->slots);
    free(z);
}

static size_t hash_name(const char *s)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)h;
}

static int *find_slot(const dz_npz *z, const char *name)
{
    size_t mask = z->nslots - 1, i = hash_name(name) & mask;
    while (z->slots[i] && strcmp(z->names[z->slots[i] - 1], name) != 0)
        i = (i + 1) & mask;
    return &z->slots[i];
}

/* Room for one more name in the index (rebuilt when it grows). */
static void reserve_slot(dz_npz *z)
{
    if (2 * ((size_t)z->count + 1) < z->nslots)
        return;
    free(z->slots);
    z->nslots = z->nslots ? 2 * z->nslots : 16;
    z->slots = dz_xcalloc(z->nslots, sizeof *z->slots);
    for (int i = 0; i < z->count; i++)
        *find_slot(z, z->names[i]) = i + 1;
}

/* Adds or replaces without checking the name (names from files may be anything). */
static void put(dz_npz *z, const char *name, size_t len, dz_array *a)
{
    char *key = memcpy(dz_xmalloc(len + 1), name, len);
    key[len] = '\0';
    reserve_slot(z);
    int *slot = find_slot(z, key);
    dz_array_retain(a);
    if (*slot) {
        dz_array_release(z->arrays[*slot - 1]);
        z->arrays[*slot - 1] = a;
        free(key);
        return;
    }
    if (z->count == z->cap) {
        z->cap = z->cap ? 2 * z->cap : 8;
        z->names = dz_xrealloc(z->names, (size_t)z->cap * sizeof *z->names);
        z->arrays = dz_xrealloc(z->arrays, (size_t)z->cap * sizeof *z->arrays);
    }
    z->names[z->count] = key;
    z->arrays[z->count] = a;
    *slot = ++z->count;
}

dz_status dz_npz_add(dz_npz *z, const char *name, const dz_array *a)
{
    if (!z || !name || !a)
        return dz_raise(DZ_ERR_NULL, "dz_npz_add: %s is NULL", !z ? "the npz" : !name ? "the name" : "the array");
    size_t len = strlen(name);
    if (len == 0 || len > UINT16_MAX - NPY_SUFFIX_LEN)
        return dz_raise(DZ_ERR_VALUE, "dz_npz_add: a name of %zu bytes: names need 1 to %d bytes", len,
                        UINT16_MAX - NPY_SUFFIX_LEN);
    put(z, name, len, (dz_array *)a);
    return DZ_OK;
}

static bool check_npz(const char *op, const dz_npz *z)
{
    if (!z)
        dz_raise(DZ_ERR_NULL, "%s: the npz is NULL", op);
    return z != NULL;
}

int dz_npz_count(const dz_npz *z) { return check_npz("dz_npz_count", z) ? z->count : 0; }

const char *dz_npz_name(const dz_npz *z, int i)
{
    if (!check_npz("dz_npz_name", z))
        return NULL;
    if (i < 0 || i >= z->count) {
        dz_raise(DZ_ERR_INDEX, "dz_npz_name: index %d is out of range for %d arrays", i, z->count);
        return NULL;
    }
    return z->names[i];
}

dz_array *dz_npz_get(const dz_npz *z, const char *name)
{
    if (!check_npz("dz_npz_get", z))
        return NULL;
    if (!name) {
        dz_raise(DZ_ERR_NULL, "dz_npz_get: the name is NULL");
        return NULL;
    }
    if (!z->count)
        return NULL;
    int slot = *find_slot(z, name);
    return slot ? z->arrays[slot - 1] : NULL;
}

/* --- loading ------------------------------------------------------------ */

static dz_status stream_read(void *ctx, void *buf, size_t n) { return dz_zip_stream_read(ctx, buf, n); }

static bool has_npy_suffix(const char *name, size_t len)
{
    return len >= NPY_SUFFIX_LEN && memcmp(name + len - NPY_SUFFIX_LEN, NPY_SUFFIX, NPY_SUFFIX_LEN) == 0;
}

/* One member: a .npy whose byte count must equal the member's size, then the
 * CRC check. Directory entries (empty, name ending in '/') are skipped. */
static dz_status read_member(const dz_zip_reader *r, size_t i, dz_npz *z)
{
    const dz_zip_entry *e = &r->entries[i];
    size_t len = strlen(e->name);
    if (len > 0 && e->name[len - 1] == '/' && e->usize == 0)
        return DZ_OK;
    char label[512];
    snprintf(label, sizeof label, "%s: member '%s'", r->label, e->name);
    dz_zip_stream s;
    dz_array *a = NULL;
    dz_status st = dz_zip_stream_open(&s, r, i);
    if (st == DZ_OK) {
        dz_npy_source src = {stream_read, &s, e->usize, true, label};
        st = dz_npy_read(&src, &a);
    }
    if (st == DZ_OK)
        st = dz_zip_stream_finish(&s);
    dz_zip_stream_close(&s);
    if (st == DZ_OK)
        put(z, e->name, has_npy_suffix(e->name, len) ? len - NPY_SUFFIX_LEN : len, a);
    dz_array_release(a);
    return st;
}

static dz_status decode(const void *data, size_t len, const char *label, dz_npz **out)
{
    dz_zip_reader r;
    dz_status st = dz_zip_reader_open(&r, data, len, label);
    if (st != DZ_OK)
        return st;
    dz_npz *z = dz_npz_new();
    for (size_t i = 0; i < r.count && st == DZ_OK; i++)
        st = read_member(&r, i, z);
    dz_zip_reader_close(&r);
    if (st != DZ_OK) {
        dz_npz_free(z);
        return st;
    }
    *out = z;
    return DZ_OK;
}

dz_status dz_npz_load_buffer(const void *data, size_t len, dz_npz **out)
{
    if (!out || (!data && len))
        return dz_raise(DZ_ERR_NULL, "dz_npz_load_buffer: %s is NULL", !out ? "out" : "data");
    *out = NULL;
    return decode(data, len, "dz_npz_load_buffer: " BUFFER_LABEL, out);
}

/* "<op>: <path>", malloc'd: the start of every message about the file. */
static char *file_label(const char *op, const char *path)
{
    return dz_xformat("%s: %s", op, path);
}

static dz_status io_fail(const char *label, const char *what)
{
    return dz_fail(DZ_ERR_IO, "%s: %s: %s", label, what, strerror(errno));
}

/* A read-only mapping of the whole file (NULL for an empty file). */
static dz_status map_file(const char *path, const char *label, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(label, "cannot open");
    struct stat sb;
    dz_status st = DZ_OK;
    if (fstat(fd, &sb) != 0)
        st = io_fail(label, "cannot stat");
    else if (!S_ISREG(sb.st_mode))
        st = dz_fail(DZ_ERR_IO, "%s: not a regular file", label);
    else if (sb.st_size > 0) {
        *len = (size_t)sb.st_size;
        *data = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (*data == MAP_FAILED) {
            *data = NULL;
            st = io_fail(label, "cannot map");
        }
    }
    close(fd);
    return st;
}

static void unmap_file(void *data, size_t len)
{
    if (data)
        munmap(data, len);
}

/* Maps `path` and parses its bytes into *out; messages start with "op: path". */
typedef dz_status (*parse_fn)(const void *data, size_t len, const char *label, void *out);

static dz_status load_file(const char *op, const char *path, parse_fn parse, void *out)
{
    char *label = file_label(op, path);
    void *data;
    size_t len;
    dz_status st = map_file(path, label, &data, &len);
    if (st == DZ_OK)
        st = parse(data, len, label, out);
    unmap_file(data, len);
    free(label);
    return st;
}

static dz_status parse_npz(const void *data, size_t len, const char *label, void *out)
{
    return decode(data, len, label, out);
}

static dz_status parse_npy(const void *data, size_t len, const char *label, void *out)
{
    return dz_npy_read_buffer(data, len, label, out);
}

dz_status dz_npz_load_as(const char *op, const char *path, dz_npz **out)
{
    if (!path || !out)
        return dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !path ? "path" : "out");
    *out = NULL;
    return load_file(op, path, parse_npz, out);
}

dz_status dz_npz_load(const char *path, dz_npz **out) { return dz_npz_load_as("dz_npz_load", path, out); }

dz_status dz_npy_load(const char *path, dz_array **out)
{
    if (!path || !out)
        return dz_raise(DZ_ERR_NULL, "dz_npy_load: %s is NULL", !path ? "path" : "out");
    *out = NULL;
    return load_file("dz_npy_load", path, parse_npy, out);
}

/* --- saving ------------------------------------------------------------- */

/* np.save's header and the array's bytes, as zip parts. The bytes are a host
 * view of a (a host copy of a device array, which synchronises): close it
 * once the parts are written. */
static dz_status npy_parts(const dz_array *a, const char *label, dz_host_view *view, dz_zip_part parts[2])
{
    const void *elements = dz_host_view_read(view, a);
    if (!elements)
        return dz_fail(DZ_ERR_NOMEM, "%s: cannot copy an array of shape %s to the host", label, DZ_SHAPE_OF(a));
    size_t hlen;
    unsigned char *header = dz_npy_header(a, &hlen);
    parts[0] = (dz_zip_part){header, hlen};
    parts[1] = (dz_zip_part){elements, (size_t)a->size * dz_dtype_size(a->dtype)};
    return DZ_OK;
}

static dz_status add_member(dz_zip_writer *w, const char *label, const char *name, const dz_array *a,
                            bool compressed)
{
    dz_host_view view;
    dz_zip_part parts[2] = {{NULL, 0}, {NULL, 0}};
    dz_status st = npy_parts(a, label, &view, parts);
    if (st != DZ_OK)
        return st;
    size_t len = strlen(name);
    char *member = dz_xmalloc(len + NPY_SUFFIX_LEN + 1);
    memcpy(member, name, len);
    memcpy(member + len, NPY_SUFFIX, NPY_SUFFIX_LEN + 1);
    st = dz_zip_writer_add(w, member, parts, 2, compressed);
    free(member);
    free((void *)parts[0].data);
    dz_host_view_close(&view);
    return st;
}

static dz_status write_archive(const dz_npz *z, bool compressed, dz_zip_writer *w, const char *label)
{
    dz_status st = DZ_OK;
    for (int i = 0; i < z->count && st == DZ_OK; i++)
        st = add_member(w, label, z->names[i], z->arrays[i], compressed);
    return st == DZ_OK ? dz_zip_writer_finish(w) : st;
}

dz_status dz_npz_encode(const dz_npz *z, bool compressed, dz_zip_layout layout, uint64_t zip64_limit,
                        unsigned char **out, size_t *len)
{
    dz_zip_writer *w = dz_zip_writer_new(NULL, BUFFER_LABEL, layout, zip64_limit);
    dz_status st = write_archive(z, compressed, w, BUFFER_LABEL);
    *out = st == DZ_OK ? dz_zip_writer_take(w, len) : NULL;
    dz_zip_writer_free(w);
    return st;
}

/* Writes the file's content to f; errors start with `label`. */
typedef dz_status (*content_fn)(FILE *f, const char *label, const void *ctx);

/* The mode open(path, "wb") would give: an existing file keeps its mode, a
 * new one gets 0666 minus the umask (which can only be read by setting it). */
static mode_t target_mode(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        return sb.st_mode & 07777;
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

/* The directory of `path` ("." for a bare name), malloc'd. */
static char *parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strcpy(dz_xmalloc(2), ".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = memcpy(dz_xmalloc(n + 1), path, n);
    dir[n] = '\0';
    return dir;
}

/* Best effort: makes the rename itself durable. */
static void sync_parent_dir(const char *path)
{
    char *dir = parent_dir(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* --- temporary files ------------------------------------------------------ */

#define TMP_INFIX ".tmp."
#define TMP_RANDOM "XXXXXX"

/* The pid in `rest` = "<pid>.XXXXXX" (the name after "<target>.tmp."), or
 * -1 when the name is not one of our temporary files. */
static long temp_pid(const char *rest)
{
    char *end;
    errno = 0;
    long pid = rest[0] >= '0' && rest[0] <= '9' ? strtol(rest, &end, 10) : -1;
    if (pid <= 0 || errno || *end != '.' || strlen(end + 1) != strlen(TMP_RANDOM))
        return -1;
    for (const char *c = end + 1; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
            return -1;
    return pid;
}

static bool process_running(long pid)
{
    return pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Removes `file` when no one holds its lock (taken while removing, so two
 * cleaners never both remove it, and a live writer keeps it). */
static void remove_if_unlocked(const char *file)
{
    int fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return;
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0)
        unlink(file);
    close(fd);
}

/* Removes the temporary files of earlier saves of `path` whose writers are gone. */
static void remove_stale_temps(const char *path)
{
    char *dir = parent_dir(path);
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t nbase = strlen(base), ninfix = strlen(TMP_INFIX);
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, base, nbase) != 0 || strncmp(e->d_name + nbase, TMP_INFIX, ninfix) != 0)
            continue;
        long pid = temp_pid(e->d_name + nbase + ninfix);
        if (pid < 0 || process_running(pid))
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *file = dz_xmalloc(n);
        snprintf(file, n, "%s/%s", dir, e->d_name);
        remove_if_unlocked(file);
        free(file);
    }
    if (d)
        closedir(d);
    free(dir);
}

/* A new locked temporary file "<path>.tmp.<pid>.XXXXXX"; its name in *tmp. */
static int create_temp(const char *path, char **tmp)
{
    size_t n = strlen(path) + strlen(TMP_INFIX) + 24 + strlen(TMP_RANDOM);
    *tmp = dz_xmalloc(n);
    snprintf(*tmp, n, "%s" TMP_INFIX "%ld." TMP_RANDOM, path, (long)getpid());
    int fd = mkstemp(*tmp);
    if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
        unlink(*tmp);
        close(fd);
        fd = -1;
    }
    return fd;
}

/* The content in a temporary file beside `path`, flushed and fsync'd, then
 * renamed over `path`; on failure the temporary file is removed. */
static dz_status atomic_write(const char *path, const char *label, content_fn content, const void *ctx)
{
    remove_stale_temps(path);
    mode_t mode = target_mode(path);
    char *tmp;
    int fd = create_temp(path, &tmp);
    if (fd < 0) {
        dz_status st = io_fail(label, "cannot create a temporary file");
        free(tmp);
        return st;
    }
    FILE *f = fdopen(fd, "wb");
    dz_status st = f ? content(f, label, ctx) : io_fail(label, "cannot open the temporary file");
    if (st == DZ_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0 || fchmod(fileno(f), mode) != 0))
        st = io_fail(label, "write failed");
    if ((f ? fclose(f) : close(fd)) != 0 && st == DZ_OK)
        st = io_fail(label, "write failed");
    if (st == DZ_OK && rename(tmp, path) != 0)
        st = io_fail(label, "cannot rename the temporary file over it");
    if (st == DZ_OK)
        sync_parent_dir(path);
    else
        unlink(tmp);
    free(tmp);
    return st;
}

typedef struct npz_job {
    const dz_npz *z;
    bool compressed;
} npz_job;

static dz_status npz_content(FILE *f, const char *label, const void *ctx)
{
    const npz_job *job = ctx;
    dz_zip_writer *w = dz_zip_writer_new(f, label, DZ_ZIP_LAYOUT_CPYTHON, DZ_ZIP64_LIMIT);
    dz_status st = write_archive(job->z, job->compressed, w, label);
    dz_zip_writer_free(w);
    return st;
}

/* atomic_write with the label "op: path". */
static dz_status save_file(const char *op, const char *path, content_fn content, const void *ctx)
{
    char *label = file_label(op, path);
    dz_status st = atomic_write(path, label, content, ctx);
    free(label);
    return st;
}

dz_status dz_npz_save_as(const char *op, const dz_npz *z, const char *path, bool compressed)
{
    if (!z || !path)
        return dz_raise(DZ_ERR_NULL, "%s: %s is NULL", op, !z ? "the npz" : "path");
    npz_job job = {z, compressed};
    return save_file(op, path, npz_content, &job);
}

dz_status dz_npz_save(const dz_npz *z, const char *path, bool compressed)
{
    return dz_npz_save_as("dz_npz_save", z, path, compressed);
}

static dz_status npy_content(FILE *f, const char *label, const void *ctx)
{
    dz_host_view view;
    dz_zip_part parts[2] = {{NULL, 0}, {NULL, 0}};
    dz_status st = npy_parts(ctx, label, &view, parts);
    if (st != DZ_OK)
        return st;
    for (int i = 0; i < 2 && st == DZ_OK; i++)
        if (fwrite(parts[i].data, 1, parts[i].len, f) != parts[i].len)
            st = io_fail(label, "write failed");
    free((void *)parts[0].data);
    dz_host_view_close(&view);
    return st;
}

dz_status dz_npy_save(const char *path, const dz_array *a)
{
    if (!path || !a)
        return dz_raise(DZ_ERR_NULL, "dz_npy_save: %s is NULL", !path ? "path" : "the array");
    return save_file("dz_npy_save", path, npy_content, a);
}

/* safetensors reader (mmap + cJSON header), sharded index merge, float copy
 * helpers and writer. The file is treated as hostile: every number in the
 * header is checked before use and nothing outside the mapping is read.
 * Not a model binder and not a GPU uploader.
 *
 * Format (huggingface/safetensors README and its Rust reference):
 *   u64 little-endian N | N bytes of UTF-8 JSON starting with '{', optionally
 *   padded with whitespace | data region.
 *   The JSON object maps tensor names to {"dtype", "shape", "data_offsets":
 *   [begin, end)} with offsets relative to the data region; "__metadata__" is
 *   an optional string -> string map. Duplicate keys are disallowed. Taken
 *   in (begin, end) order the tensors must tile the data region exactly: no
 *   overlap, no hole, nothing after the last one. Empty and 0-rank tensors
 *   are allowed. Headers over 100 MB are refused. Unknown keys inside a
 *   tensor entry are ignored, as the reference does. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "loader/config.h"
#include "loader/safetensors.h"
#include "util/half.h"

/* ---- dtypes ---- */

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [RV_ST_UNKNOWN] = {"?", 0},       [RV_ST_F32] = {"F32", 4},
    [RV_ST_F16] = {"F16", 2},         [RV_ST_BF16] = {"BF16", 2},
    [RV_ST_F64] = {"F64", 8},         [RV_ST_I64] = {"I64", 8},
    [RV_ST_I32] = {"I32", 4},         [RV_ST_I16] = {"I16", 2},
    [RV_ST_I8] = {"I8", 1},           [RV_ST_U64] = {"U64", 8},
    [RV_ST_U32] = {"U32", 4},         [RV_ST_U16] = {"U16", 2},
    [RV_ST_U8] = {"U8", 1},           [RV_ST_BOOL] = {"BOOL", 1},
    [RV_ST_F8_E4M3] = {"F8_E4M3", 1}, [RV_ST_F8_E5M2] = {"F8_E5M2", 1},
};
_Static_assert(sizeof(dtype_info) / sizeof(dtype_info[0]) == RV_ST_DTYPE_COUNT,
               "dtype_info must cover every rv_st_dtype");

const char *rv_st_dtype_name(rv_st_dtype t)
{
    return (unsigned)t < RV_ST_DTYPE_COUNT ? dtype_info[t].name : "?";
}

size_t rv_st_dtype_size(rv_st_dtype t)
{
    return (unsigned)t < RV_ST_DTYPE_COUNT ? dtype_info[t].size : 0;
}

rv_st_dtype rv_st_dtype_from_name(const char *name)
{
    for (int t = 1; t < RV_ST_DTYPE_COUNT; t++)
        if (strcmp(name, dtype_info[t].name) == 0)
            return (rv_st_dtype)t;
    return RV_ST_UNKNOWN;
}

/* ---- objects ---- */

typedef struct st_file {
    char *path;
    void *map;
    size_t map_size;
    rv_st_tensor *tensors;  /* sorted by name */
    char **names;           /* owned; tensors[i].name points at one of these */
    size_t n;
} st_file;

struct rv_safetensors {
    char *path;
    st_file *files;
    size_t n_files;
    rv_st_tensor *tensors;  /* all files merged, sorted by name */
    size_t n;
    char **meta_keys, **meta_values;
    size_t n_meta;
};

static void file_release(st_file *f)
{
    if (f->map && f->map != MAP_FAILED)
        munmap(f->map, f->map_size);
    for (size_t i = 0; f->names && i < f->n; i++)
        free(f->names[i]);
    free(f->names);
    free(f->tensors);
    free(f->path);
    memset(f, 0, sizeof *f);
}

static void meta_release(char **keys, char **values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(keys ? keys[i] : NULL);
        free(values ? values[i] : NULL);
    }
    free(keys);
    free(values);
}

void rv_safetensors_close(rv_safetensors *st)
{
    if (!st)
        return;
    for (size_t i = 0; st->files && i < st->n_files; i++)
        file_release(&st->files[i]);
    free(st->files);
    free(st->tensors);
    meta_release(st->meta_keys, st->meta_values, st->n_meta);
    free(st->path);
    free(st);
}

/* ---- small helpers ---- */

static rv_status oom(rv_error *err, const char *path)
{
    return rv_error_set(err, RV_ERR_HOST_MEMORY, "safetensors: %s: out of host memory", path);
}

/* "safetensors: <file>: tensor '<name>': <what>" */
static rv_status tensor_fail(rv_error *err, const char *path, const char *name,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static rv_status tensor_fail(rv_error *err, const char *path, const char *name,
                             const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return rv_error_set(err, RV_ERR_FORMAT, "safetensors: %s: tensor '%s': %s", path, name, what);
}

static const char *json_type_name(const cJSON *v)
{
    if (!v)
        return "missing";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    return "invalid";
}

/* Exact non-negative integer that a double carries without loss. */
static bool json_u64(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || d != floor(d))
        return false;
    *out = (uint64_t)d;
    return true;
}

/* Index of the first byte that is not valid UTF-8, or len if all valid. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1; cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2; cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3; cp = c & 0x07u;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += n + 1;
    }
    return len;
}

/* Offset of the first NUL character in JSON text, raw or escaped as \u0000
 * inside a string (cJSON would cut the string there, so "a\u0000b" would
 * silently name tensor "a"), or len if there is none. */
static size_t json_nul_at(const char *s, size_t len)
{
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == 0)
            return i;
        if (!in_string) {
            in_string = s[i] == '"';
        } else if (s[i] == '"') {
            in_string = false;
        } else if (s[i] == '\\' && i + 1 < len) {
            if (s[i + 1] == 'u' && len - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0)
                return i;
            i++;    /* the escaped character cannot end the string */
        }
    }
    return len;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const rv_st_tensor *)a)->name, ((const rv_st_tensor *)b)->name);
}

/* Sort key for the coverage check. */
typedef struct span {
    uint64_t begin, end;
    const char *name;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* ---- one tensor entry ---- */

static rv_status parse_entry(const char *path, const cJSON *e, const unsigned char *data,
                             uint64_t data_len, rv_st_tensor *t, rv_error *err)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return tensor_fail(err, path, name, "entry is %s, expected an object", json_type_name(e));

    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!jd || !js || !jo)
        return tensor_fail(err, path, name, "missing \"%s\"",
                           !jd ? "dtype" : !js ? "shape" : "data_offsets");
    if (!cJSON_IsString(jd))
        return tensor_fail(err, path, name, "\"dtype\" is %s, expected a string", json_type_name(jd));
    if (!cJSON_IsArray(js))
        return tensor_fail(err, path, name, "\"shape\" is %s, expected an array", json_type_name(js));
    if (!cJSON_IsArray(jo))
        return tensor_fail(err, path, name, "\"data_offsets\" is %s, expected an array",
                           json_type_name(jo));

    t->dtype = rv_st_dtype_from_name(jd->valuestring);
    if (t->dtype == RV_ST_UNKNOWN)
        return tensor_fail(err, path, name, "unknown dtype \"%.32s\"", jd->valuestring);

    int ndim = cJSON_GetArraySize(js);
    if (ndim > RV_ST_MAX_DIMS)
        return tensor_fail(err, path, name, "shape has %d dimensions; at most %d are supported",
                           ndim, RV_ST_MAX_DIMS);
    t->ndim = ndim;
    uint64_t numel = 1;
    bool overflow = false, has_zero = false;
    int d = 0;
    for (const cJSON *v = js->child; v; v = v->next, d++) {
        uint64_t dim;
        if (!json_u64(v, &dim)) {
            if (cJSON_IsNumber(v))
                return tensor_fail(err, path, name,
                                   "shape[%d] is %g; dimensions must be non-negative integers",
                                   d, v->valuedouble);
            return tensor_fail(err, path, name, "shape[%d] is %s, expected an integer", d,
                               json_type_name(v));
        }
        t->shape[d] = dim;
        if (dim == 0)
            has_zero = true;
        else if (numel > UINT64_MAX / dim)
            overflow = true;
        numel *= dim;   /* wraps on overflow; only used once overflow is ruled out */
    }
    if (has_zero)
        numel = 0;      /* an empty tensor, whatever the other dimensions say */
    else if (overflow)
        return tensor_fail(err, path, name, "shape product overflows 64 bits");
    size_t esize = rv_st_dtype_size(t->dtype);
    if (numel > UINT64_MAX / esize)
        return tensor_fail(err, path, name, "byte size of shape overflows 64 bits");
    t->numel = numel;
    t->nbytes = numel * esize;

    if (cJSON_GetArraySize(jo) != 2)
        return tensor_fail(err, path, name, "\"data_offsets\" has %d entries, expected 2",
                           cJSON_GetArraySize(jo));
    uint64_t off[2];
    for (int k = 0; k < 2; k++) {
        const cJSON *v = cJSON_GetArrayItem(jo, k);
        if (!json_u64(v, &off[k])) {
            if (cJSON_IsNumber(v))
                return tensor_fail(err, path, name,
                                   "data_offsets[%d] is %g; offsets must be non-negative integers",
                                   k, v->valuedouble);
            return tensor_fail(err, path, name, "data_offsets[%d] is %s, expected an integer", k,
                               json_type_name(v));
        }
    }
    if (off[1] < off[0])
        return tensor_fail(err, path, name, "data_offsets [%llu, %llu] are reversed",
                           (unsigned long long)off[0], (unsigned long long)off[1]);
    if (off[1] > data_len)
        return tensor_fail(err, path, name,
                           "data_offsets [%llu, %llu] run past the data region (%llu bytes)",
                           (unsigned long long)off[0], (unsigned long long)off[1],
                           (unsigned long long)data_len);
    if (off[1] - off[0] != t->nbytes)
        return tensor_fail(err, path, name,
                           "data_offsets [%llu, %llu] hold %llu bytes but %s%s needs %llu",
                           (unsigned long long)off[0], (unsigned long long)off[1],
                           (unsigned long long)(off[1] - off[0]), rv_st_dtype_name(t->dtype),
                           ndim ? " with this shape" : " scalar", (unsigned long long)t->nbytes);
    t->data = data + off[0];
    return RV_OK;
}

/* ---- one file ---- */

static rv_status read_metadata_object(const char *path, const cJSON *m, char ***keys,
                                      char ***values, size_t *n, rv_error *err)
{
    if (!cJSON_IsObject(m))
        return rv_error_set(err, RV_ERR_FORMAT,
                            "safetensors: %s: \"__metadata__\" is %s, expected an object of strings",
                            path, json_type_name(m));
    const char *dup = NULL;
    int d = rv_json_duplicate_key(m, &dup);
    if (d < 0)
        return oom(err, path);
    if (d > 0)
        return rv_error_set(err, RV_ERR_FORMAT,
                            "safetensors: %s: \"__metadata__\" has duplicate key '%s'", path, dup);
    size_t count = (size_t)cJSON_GetArraySize(m);
    *keys = calloc(count ? count : 1, sizeof(char *));
    *values = calloc(count ? count : 1, sizeof(char *));
    if (!*keys || !*values)
        return oom(err, path);
    for (const cJSON *v = m->child; v; v = v->next) {
        if (!cJSON_IsString(v))
            return rv_error_set(err, RV_ERR_FORMAT,
                                "safetensors: %s: \"__metadata__\" value for key '%s' is %s; "
                                "all values must be strings",
                                path, v->string, json_type_name(v));
        (*keys)[*n] = strdup(v->string);
        (*values)[*n] = strdup(v->valuestring);
        (*n)++;
        if (!(*keys)[*n - 1] || !(*values)[*n - 1])
            return oom(err, path);
    }
    return RV_OK;
}

/* Maps and checks one file. Metadata goes to the out-parameters when given. */
static rv_status file_open(st_file *f, const char *path, char ***mkeys, char ***mvalues,
                           size_t *n_meta, rv_error *err)
{
    rv_status s = RV_OK;
    char *header = NULL;
    cJSON *root = NULL;
    span *spans = NULL;

    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    if (!f->path)
        return oom(err, path);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rv_error_set(err, RV_ERR_IO, "safetensors: cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        s = rv_error_set(err, RV_ERR_IO, "safetensors: cannot stat %s: %s", path, strerror(errno));
        close(fd);
        return s;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return rv_error_set(err, RV_ERR_IO, "safetensors: %s is not a regular file", path);
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return rv_error_set(err, RV_ERR_FORMAT,
                            "safetensors: %s: file is %llu bytes, shorter than the 8-byte header "
                            "length that starts a safetensors file",
                            path, (unsigned long long)size);
    }
    if (size > SIZE_MAX) {
        close(fd);
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "safetensors: %s: file too large to map", path);
    }
    f->map_size = (size_t)size;
    f->map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        return rv_error_set(err, RV_ERR_IO, "safetensors: cannot map %s: %s", path,
                            strerror(map_errno));
    }
    const unsigned char *bytes = f->map;

    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | bytes[i];
    if (n > RV_ST_MAX_HEADER)
        return rv_error_set(err, RV_ERR_FORMAT,
                            "safetensors: %s: header length %llu is absurd (limit %llu bytes)",
                            path, (unsigned long long)n, (unsigned long long)RV_ST_MAX_HEADER);
    if (n > size - 8)
        return rv_error_set(err, RV_ERR_FORMAT,
                            "safetensors: %s: header length %llu runs past the end of the file "
                            "(%llu bytes)",
                            path, (unsigned long long)n, (unsigned long long)size);
    if (n == 0 || bytes[8] != '{')
        return rv_error_set(err, RV_ERR_FORMAT,
                            "safetensors: %s: header does not start with '{'", path);
    size_t bad = utf8_invalid_at(bytes + 8, (size_t)n);
    if (bad != n)
        return rv_error_set(err, RV_ERR_FORMAT,
                            "safetensors: %s: header is not valid UTF-8 (byte %zu of the header)",
                            path, bad);

    bad = json_nul_at((const char *)bytes + 8, (size_t)n);
    if (bad != n)
        return rv_error_set(err, RV_ERR_FORMAT,
                            "safetensors: %s: header holds a NUL character (header byte %zu); names "
                            "and strings cannot contain one", path, bad);

    /* cJSON gets its own NUL-terminated copy: it never sees the mapping. */
    header = malloc((size_t)n + 1);
    if (!header) {
        s = oom(err, path);
        goto done;
    }
    memcpy(header, bytes + 8, (size_t)n);
    header[n] = 0;
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(header, (size_t)n, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - header) : 0;
        s = rv_error_set(err, RV_ERR_FORMAT,
                         "safetensors: %s: header is not valid JSON (error near header byte %zu)",
                         path, at);
        goto done;
    }
    for (const char *p = end; p < header + n; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            s = rv_error_set(err, RV_ERR_FORMAT,
                             "safetensors: %s: header has trailing bytes after the JSON object "
                             "(header byte %zu); only whitespace padding is allowed",
                             path, (size_t)(p - header));
            goto done;
        }
    }
    if (!cJSON_IsObject(root)) {
        s = rv_error_set(err, RV_ERR_FORMAT, "safetensors: %s: header is %s, expected an object",
                         path, json_type_name(root));
        goto done;
    }

    const unsigned char *data = bytes + 8 + n;
    uint64_t data_len = size - 8 - n;
    size_t count = 0;
    int n_metadata_keys = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0)
            n_metadata_keys++;
        else
            count++;
    }
    if (n_metadata_keys > 1) {
        s = rv_error_set(err, RV_ERR_FORMAT, "safetensors: %s: duplicate key \"__metadata__\"", path);
        goto done;
    }
    f->tensors = calloc(count ? count : 1, sizeof *f->tensors);
    f->names = calloc(count ? count : 1, sizeof *f->names);
    spans = calloc(count ? count : 1, sizeof *spans);
    if (!f->tensors || !f->names || !spans) {
        s = oom(err, path);
        goto done;
    }
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (mkeys) {
                s = read_metadata_object(path, e, mkeys, mvalues, n_meta, err);
            } else {
                char **k = NULL, **v = NULL;
                size_t nm = 0;
                s = read_metadata_object(path, e, &k, &v, &nm, err);
                meta_release(k, v, nm);
            }
            if (s)
                goto done;
            continue;
        }
        rv_st_tensor *t = &f->tensors[f->n];
        s = parse_entry(path, e, data, data_len, t, err);
        if (s)
            goto done;
        f->names[f->n] = strdup(e->string);
        if (!f->names[f->n]) {
            s = oom(err, path);
            goto done;
        }
        t->name = f->names[f->n];
        t->file = f->path;
        spans[f->n].begin = (uint64_t)((const unsigned char *)t->data - data);
        spans[f->n].end = spans[f->n].begin + t->nbytes;
        spans[f->n].name = t->name;
        f->n++;
    }

    /* cJSON keeps duplicate keys; the format forbids them. */
    qsort(f->tensors, f->n, sizeof *f->tensors, cmp_tensor_name);
    for (size_t i = 1; i < f->n; i++) {
        if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) == 0) {
            s = tensor_fail(err, path, f->tensors[i].name, "name appears twice in the header");
            goto done;
        }
    }

    /* The tensors must tile the data region exactly. */
    qsort(spans, f->n, sizeof *spans, cmp_span);
    uint64_t covered = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < f->n; i++) {
        if (spans[i].begin < covered) {
            s = tensor_fail(err, path, spans[i].name,
                            "data_offsets [%llu, %llu] overlap tensor '%s' (which ends at %llu)",
                            (unsigned long long)spans[i].begin, (unsigned long long)spans[i].end,
                            prev, (unsigned long long)covered);
            goto done;
        }
        if (spans[i].begin > covered) {
            s = tensor_fail(err, path, spans[i].name,
                            "bytes [%llu, %llu) of the data region before this tensor belong to "
                            "no tensor (holes are not allowed)",
                            (unsigned long long)covered, (unsigned long long)spans[i].begin);
            goto done;
        }
        covered = spans[i].end;
        prev = spans[i].name;
    }
    if (covered != data_len) {
        s = rv_error_set(err, RV_ERR_FORMAT,
                         "safetensors: %s: %llu trailing bytes after the last tensor%s%s%s "
                         "(the data region must be covered exactly)",
                         path, (unsigned long long)(data_len - covered), prev ? " '" : "",
                         prev ? prev : "", prev ? "'" : "");
        goto done;
    }

done:
    free(spans);
    cJSON_Delete(root);
    free(header);
    return s;
}

/* ---- sharded index ---- */

static rv_status read_text_file(const char *path, const char *who, char **out, size_t *len,
                                rv_error *err)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return rv_error_set(err, RV_ERR_IO, "%s: cannot open %s: %s", who, path, strerror(errno));
    rv_status s = RV_OK;
    char *buf = NULL;
    if (fseek(fp, 0, SEEK_END) != 0) {
        s = rv_error_set(err, RV_ERR_IO, "%s: cannot read %s: %s", who, path, strerror(errno));
        goto done;
    }
    long sz = ftell(fp);
    if (sz < 0 || (uint64_t)sz > RV_ST_MAX_HEADER || fseek(fp, 0, SEEK_SET) != 0) {
        s = rv_error_set(err, sz < 0 ? RV_ERR_IO : RV_ERR_FORMAT, "%s: %s: %s", who, path,
                         sz < 0 ? strerror(errno) : "file too large (limit 100 MB)");
        goto done;
    }
    buf = malloc((size_t)sz + 1);
    if (!buf) {
        s = rv_error_set(err, RV_ERR_HOST_MEMORY, "%s: %s: out of host memory", who, path);
        goto done;
    }
    if (fread(buf, 1, (size_t)sz, fp) != (size_t)sz) {
        s = rv_error_set(err, RV_ERR_IO, "%s: cannot read %s", who, path);
        goto done;
    }
    buf[sz] = 0;
    *out = buf;
    *len = (size_t)sz;
    buf = NULL;
done:
    free(buf);
    fclose(fp);
    return s;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A shard name must stay beside its index: no absolute path, no "..". */
static bool shard_name_ok(const char *name)
{
    if (!name[0] || name[0] == '/')
        return false;
    for (const char *p = name; *p;) {
        const char *q = strchr(p, '/');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if ((len == 2 && p[0] == '.' && p[1] == '.') || len == 0)
            return false;
        p += len + (q ? 1 : 0);
        if (!q)
            break;
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static rv_status index_metadata(rv_safetensors *st, const cJSON *m, rv_error *err)
{
    if (!m)
        return RV_OK;
    if (!cJSON_IsObject(m))
        return rv_error_set(err, RV_ERR_FORMAT,
                            "safetensors: %s: \"metadata\" is %s, expected an object", st->path,
                            json_type_name(m));
    const char *dup = NULL;
    int d = rv_json_duplicate_key(m, &dup);
    if (d < 0)
        return oom(err, st->path);
    if (d > 0)
        return rv_error_set(err, RV_ERR_FORMAT, "safetensors: %s: \"metadata\" has duplicate key '%s'",
                            st->path, dup);
    size_t count = (size_t)cJSON_GetArraySize(m);
    st->meta_keys = calloc(count ? count : 1, sizeof(char *));
    st->meta_values = calloc(count ? count : 1, sizeof(char *));
    if (!st->meta_keys || !st->meta_values)
        return oom(err, st->path);
    for (const cJSON *v = m->child; v; v = v->next) {
        char num[64];
        const char *text = NULL;
        if (cJSON_IsString(v)) {
            text = v->valuestring;
        } else if (cJSON_IsNumber(v)) {
            if (v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9.007e15)
                snprintf(num, sizeof num, "%.0f", v->valuedouble);
            else
                snprintf(num, sizeof num, "%.17g", v->valuedouble);
            text = num;
        } else {
            continue;
        }
        st->meta_keys[st->n_meta] = strdup(v->string);
        st->meta_values[st->n_meta] = strdup(text);
        st->n_meta++;
        if (!st->meta_keys[st->n_meta - 1] || !st->meta_values[st->n_meta - 1])
            return oom(err, st->path);
    }
    return RV_OK;
}

static rv_status open_index(rv_safetensors *st, rv_error *err)
{
    const char *ipath = st->path;
    char *text = NULL, *dir = NULL, *spath = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    rv_status s = read_text_file(ipath, "safetensors", &text, &len, err);
    if (s)
        return s;

    size_t nul = json_nul_at(text, len);
    if (nul != len) {
        s = rv_error_set(err, RV_ERR_FORMAT,
                         "safetensors: %s: index holds a NUL character (byte %zu)", ipath, nul);
        goto done;
    }
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        s = rv_error_set(err, RV_ERR_FORMAT,
                         "safetensors: %s: index is not valid JSON (error near byte %zu)", ipath,
                         end ? (size_t)(end - text) : (size_t)0);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        s = rv_error_set(err, RV_ERR_FORMAT, "safetensors: %s: index is %s, expected an object",
                         ipath, json_type_name(root));
        goto done;
    }
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        s = rv_error_set(err, RV_ERR_FORMAT,
                         "safetensors: %s: \"weight_map\" is %s, expected an object", ipath,
                         json_type_name(wm));
        goto done;
    }
    s = index_metadata(st, cJSON_GetObjectItemCaseSensitive(root, "metadata"), err);
    if (s)
        goto done;

    /* Python's json would keep the last of a duplicate key, cJSON the first */
    const char *dup = NULL;
    int d = rv_json_duplicate_key(wm, &dup);
    if (d > 0)
        s = rv_error_set(err, RV_ERR_FORMAT, "safetensors: %s: \"weight_map\" names tensor '%s' twice",
                         ipath, dup);
    else if (d < 0)
        s = oom(err, ipath);
    if (s)
        goto done;

    /* Distinct shard names, sorted (a pairwise search was quadratic in the
     * number of entries). */
    size_t n_entries = (size_t)cJSON_GetArraySize(wm);
    const char **shards = calloc(n_entries ? n_entries : 1, sizeof *shards);
    if (!shards) {
        s = oom(err, ipath);
        goto done;
    }
    size_t n_shards = 0;
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e)) {
            s = rv_error_set(err, RV_ERR_FORMAT,
                             "safetensors: %s: weight_map entry for tensor '%s' is %s, expected a "
                             "shard file name",
                             ipath, e->string, json_type_name(e));
            break;
        }
        if (!shard_name_ok(e->valuestring)) {
            s = rv_error_set(err, RV_ERR_FORMAT,
                             "safetensors: %s: tensor '%s' maps to shard '%s', which is not a file "
                             "name beside the index",
                             ipath, e->string, e->valuestring);
            break;
        }
        shards[n_shards++] = e->valuestring;
    }
    if (s) {
        free(shards);
        goto done;
    }
    qsort(shards, n_shards, sizeof *shards, cmp_str);
    size_t distinct = 0;
    for (size_t k = 0; k < n_shards; k++)
        if (distinct == 0 || strcmp(shards[distinct - 1], shards[k]) != 0)
            shards[distinct++] = shards[k];
    n_shards = distinct;

    const char *slash = strrchr(ipath, '/');
    size_t dlen = slash ? (size_t)(slash - ipath) + 1 : 0;
    dir = strndup(ipath, dlen);
    st->files = calloc(n_shards ? n_shards : 1, sizeof *st->files);
    if (!dir || !st->files) {
        free(shards);
        s = oom(err, ipath);
        goto done;
    }
    size_t total = 0;
    for (size_t k = 0; k < n_shards; k++) {
        free(spath);
        spath = malloc(dlen + strlen(shards[k]) + 1);
        if (!spath) {
            s = oom(err, ipath);
            break;
        }
        memcpy(spath, dir, dlen);
        strcpy(spath + dlen, shards[k]);
        rv_error sub = {0};
        s = file_open(&st->files[k], spath, NULL, NULL, NULL, &sub);
        st->n_files = k + 1;
        if (s) {
            s = rv_error_set(err, s, "safetensors: %s: shard '%s': %s", ipath, shards[k], sub.msg);
            break;
        }
        total += st->files[k].n;
    }
    free(shards);
    if (s)
        goto done;

    /* Merge, then check the weight map against what the shards hold. */
    st->tensors = calloc(total ? total : 1, sizeof *st->tensors);
    if (!st->tensors) {
        s = oom(err, ipath);
        goto done;
    }
    for (size_t k = 0; k < st->n_files; k++)
        for (size_t i = 0; i < st->files[k].n; i++)
            st->tensors[st->n++] = st->files[k].tensors[i];
    qsort(st->tensors, st->n, sizeof *st->tensors, cmp_tensor_name);
    for (size_t i = 1; i < st->n; i++) {
        if (strcmp(st->tensors[i - 1].name, st->tensors[i].name) == 0) {
            s = rv_error_set(err, RV_ERR_FORMAT,
                             "safetensors: %s: tensor '%s' is in two shards: %s and %s", ipath,
                             st->tensors[i].name, st->tensors[i - 1].file, st->tensors[i].file);
            goto done;
        }
    }
    for (const cJSON *e = wm->child; e; e = e->next) {
        const rv_st_tensor *t = rv_safetensors_find(st, e->string);
        if (!t) {
            s = rv_error_set(err, RV_ERR_FORMAT,
                             "safetensors: %s: tensor '%s' is mapped to shard '%s', which does not "
                             "contain it",
                             ipath, e->string, e->valuestring);
            goto done;
        }
        if (strcmp(t->file + dlen, e->valuestring) != 0) { /* every shard path is dir + name */
            s = rv_error_set(err, RV_ERR_FORMAT,
                             "safetensors: %s: tensor '%s' is mapped to shard '%s' but lives in %s",
                             ipath, e->string, e->valuestring, t->file);
            goto done;
        }
    }

done:
    free(spath);
    free(dir);
    cJSON_Delete(root);
    free(text);
    return s;
}

/* ---- public reader API ---- */

rv_status rv_safetensors_open(rv_safetensors **out, const char *path, rv_error *err)
{
    *out = NULL;
    rv_safetensors *st = calloc(1, sizeof *st);
    if (!st)
        return oom(err, path);
    st->path = strdup(path);
    if (!st->path) {
        free(st);
        return oom(err, path);
    }
    rv_status s;
    if (ends_with(path, ".index.json")) {
        s = open_index(st, err);
    } else {
        st->files = calloc(1, sizeof *st->files);
        if (!st->files) {
            s = oom(err, path);
        } else {
            st->n_files = 1;
            s = file_open(&st->files[0], path, &st->meta_keys, &st->meta_values, &st->n_meta, err);
        }
        if (!s) {
            st->tensors = malloc((st->files[0].n ? st->files[0].n : 1) * sizeof *st->tensors);
            if (!st->tensors) {
                s = oom(err, path);
            } else {
                memcpy(st->tensors, st->files[0].tensors, st->files[0].n * sizeof *st->tensors);
                st->n = st->files[0].n;
            }
        }
    }
    if (s) {
        rv_safetensors_close(st);
        return s;
    }
    *out = st;
    return RV_OK;
}

const char *rv_safetensors_path(const rv_safetensors *st)
{
    return st->path;
}

size_t rv_safetensors_file_count(const rv_safetensors *st)
{
    return st->n_files;
}

size_t rv_safetensors_count(const rv_safetensors *st)
{
    return st->n;
}

const rv_st_tensor *rv_safetensors_tensor(const rv_safetensors *st, size_t i)
{
    return i < st->n ? &st->tensors[i] : NULL;
}

const rv_st_tensor *rv_safetensors_find(const rv_safetensors *st, const char *name)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->tensors[mid].name);
        if (c == 0)
            return &st->tensors[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

rv_status rv_safetensors_get(const rv_safetensors *st, const char *name,
                             const rv_st_tensor **out, rv_error *err)
{
    *out = rv_safetensors_find(st, name);
    if (!*out)
        return rv_error_set(err, RV_ERR_FORMAT, "safetensors: %s: no tensor '%s'", st->path, name);
    return RV_OK;
}

size_t rv_safetensors_metadata_count(const rv_safetensors *st)
{
    return st->n_meta;
}

void rv_safetensors_metadata_at(const rv_safetensors *st, size_t i, const char **key,
                                const char **value)
{
    *key = i < st->n_meta ? st->meta_keys[i] : NULL;
    *value = i < st->n_meta ? st->meta_values[i] : NULL;
}

const char *rv_safetensors_metadata(const rv_safetensors *st, const char *key)
{
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0)
            return st->meta_values[i];
    return NULL;
}

/* ---- non-finite scan ---- */

/* Exponent bits all ones is Inf or NaN in each IEEE format. */
#define SCAN_BLOCK 4096

/* Without the sign bit, a value is NaN or Inf exactly when its bits are >=
 * the exponent mask, so a max reduction over a block finds whether it holds
 * one (measured: ~2 GB/s on this 2-core machine, 5 ms for the shipped
 * model's 10 MB). */
static bool block_bad(const unsigned char *p, size_t n, size_t esize, uint64_t mask)
{
    switch (esize) {
    case 2: {
        uint16_t m = 0;
        for (size_t i = 0; i < n; i++) {
            uint16_t u;
            memcpy(&u, p + 2 * i, 2);
            u &= 0x7fffu;
            m = u > m ? u : m;
        }
        return m >= mask;
    }
    case 4: {
        uint32_t m = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            u &= 0x7fffffffu;
            m = u > m ? u : m;
        }
        return m >= mask;
    }
    default: {
        uint64_t m = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t u;
            memcpy(&u, p + 8 * i, 8);
            u &= 0x7fffffffffffffffull;
            m = u > m ? u : m;
        }
        return m >= mask;
    }
    }
}

bool rv_safetensors_find_nonfinite(const rv_st_tensor *t, uint64_t *at, const char **what)
{
    uint64_t mask;
    switch (t->dtype) {
    case RV_ST_F32: mask = 0x7f800000u; break;
    case RV_ST_F16: mask = 0x7c00u; break;
    case RV_ST_BF16: mask = 0x7f80u; break;
    case RV_ST_F64: mask = 0x7ff0000000000000ull; break;
    default: return false;
    }
    size_t esize = rv_st_dtype_size(t->dtype);
    const unsigned char *p = t->data;
    for (uint64_t b = 0; b < t->numel; b += SCAN_BLOCK) {
        size_t n = t->numel - b < SCAN_BLOCK ? (size_t)(t->numel - b) : SCAN_BLOCK;
        if (!block_bad(p + b * esize, n, esize, mask))
            continue;
        for (size_t i = 0; i < n; i++) {
            uint64_t u = 0;
            memcpy(&u, p + (b + i) * esize, esize);   /* little-endian host */
            if ((u & mask) != mask)
                continue;
            uint64_t sign = 1ull << (8 * esize - 1), frac = u & ~mask & (sign - 1);
            bool neg = (u & sign) != 0;
            if (at)
                *at = b + i;
            if (what)
                *what = frac ? "NaN" : neg ? "-Inf" : "+Inf";
            return true;
        }
    }
    return false;
}

/* ---- copy helpers ---- */

static rv_status copy_check(const rv_st_tensor *t, uint64_t dst_count, const char *to,
                            rv_error *err)
{
    if (dst_count != t->numel)
        return rv_error_set(err, RV_ERR_INVALID,
                            "safetensors: %s: tensor '%s': destination holds %llu elements, the "
                            "tensor has %llu",
                            t->file, t->name, (unsigned long long)dst_count,
                            (unsigned long long)t->numel);
    if (t->dtype != RV_ST_F32 && t->dtype != RV_ST_F16 && t->dtype != RV_ST_BF16 &&
        t->dtype != RV_ST_F64)
        return rv_error_set(err, RV_ERR_UNSUPPORTED,
                            "safetensors: %s: tensor '%s': unsupported dtype %s for conversion to "
                            "%s (F32, F16, BF16, F64 are)",
                            t->file, t->name, rv_st_dtype_name(t->dtype), to);
    return RV_OK;
}

/* Elements are read with memcpy: the mapping gives no alignment promise. */
static uint16_t load_u16(const unsigned char *p, uint64_t i)
{
    uint16_t v;
    memcpy(&v, p + 2 * i, 2);
    return v;
}

static float load_f32(const unsigned char *p, uint64_t i)
{
    float v;
    memcpy(&v, p + 4 * i, 4);
    return v;
}

static double load_f64(const unsigned char *p, uint64_t i)
{
    double v;
    memcpy(&v, p + 8 * i, 8);
    return v;
}

/* double -> float rounded to odd: then one more rounding to fp16 is correct
 * (float keeps 13 more bits than fp16, and round-to-odd needs 2). */
static float f64_to_f32_odd(double d)
{
    float f = (float)d;
    if (isnan(d) || (double)f == d)
        return f;
    if (fabs((double)f) > fabs(d))
        f = nextafterf(f, 0.0f);
    uint32_t u;
    memcpy(&u, &f, 4);
    u |= 1u;
    memcpy(&f, &u, 4);
    return f;
}

rv_status rv_safetensors_copy_f32(const rv_st_tensor *t, float *dst, uint64_t dst_count,
                                  rv_error *err)
{
    rv_status s = copy_check(t, dst_count, "float32", err);
    if (s)
        return s;
    const unsigned char *p = t->data;
    uint64_t n = t->numel;
    switch (t->dtype) {
    case RV_ST_F32:
        if (n)
            memcpy(dst, p, (size_t)n * 4);
        break;
    case RV_ST_F16:
        for (uint64_t i = 0; i < n; i++)
            dst[i] = rv_f16_to_f32(load_u16(p, i));
        break;
    case RV_ST_BF16:
        for (uint64_t i = 0; i < n; i++)
            dst[i] = rv_bf16_to_f32(load_u16(p, i));
        break;
    default: /* F64 */
        for (uint64_t i = 0; i < n; i++)
            dst[i] = (float)load_f64(p, i);
        break;
    }
    return RV_OK;
}

rv_status rv_safetensors_copy_f16(const rv_st_tensor *t, uint16_t *dst, uint64_t dst_count,
                                  rv_error *err)
{
    rv_status s = copy_check(t, dst_count, "fp16", err);
    if (s)
        return s;
    const unsigned char *p = t->data;
    uint64_t n = t->numel;
    switch (t->dtype) {
    case RV_ST_F32:
        for (uint64_t i = 0; i < n; i++)
            dst[i] = rv_f32_to_f16(load_f32(p, i));
        break;
    case RV_ST_F16:
        if (n)
            memcpy(dst, p, (size_t)n * 2);
        break;
    case RV_ST_BF16:
        for (uint64_t i = 0; i < n; i++)
            dst[i] = rv_f32_to_f16(rv_bf16_to_f32(load_u16(p, i)));
        break;
    default: /* F64 */
        for (uint64_t i = 0; i < n; i++)
            dst[i] = rv_f32_to_f16(f64_to_f32_odd(load_f64(p, i)));
        break;
    }
    return RV_OK;
}

/* ---- writer ---- */

typedef struct strbuf {
    char *p;
    size_t len, cap;
    bool failed;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof tmp)
        sb_add(b, tmp, (size_t)n);
    else
        b->failed = true;
}

static void sb_json_string(strbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            sb_add(b, esc, 2);
        } else if (*p < 0x20) {
            sb_printf(b, "\\u%04x", *p);
        } else {
            sb_add(b, (const char *)p, 1);
        }
    }
    sb_add(b, "\"", 1);
}

typedef struct write_order {
    const rv_st_write_tensor *t;
} write_order;

static int cmp_write_order(const void *a, const void *b)
{
    return strcmp(((const write_order *)a)->t->name, ((const write_order *)b)->t->name);
}

rv_status rv_safetensors_write(const char *path, const rv_st_write_tensor *tensors, size_t n,
                               const rv_st_kv *metadata, size_t n_metadata, rv_error *err)
{
    rv_status s = RV_OK;
    strbuf hb = {0};
    char *tmp = NULL;
    FILE *fp = NULL;
    write_order *order = calloc(n ? n : 1, sizeof *order);
    uint64_t *nbytes = calloc(n ? n : 1, sizeof *nbytes);
    if (!order || !nbytes) {
        s = oom(err, path);
        goto done;
    }

    for (size_t i = 0; i < n; i++) {
        const rv_st_write_tensor *t = &tensors[i];
        if (!t->name || utf8_invalid_at((const unsigned char *)t->name, strlen(t->name)) !=
                            strlen(t->name) || strcmp(t->name, "__metadata__") == 0) {
            s = rv_error_set(err, RV_ERR_INVALID, "safetensors: writing %s: tensor %zu has an "
                             "invalid name", path, i);
            goto done;
        }
        if (t->dtype <= RV_ST_UNKNOWN || t->dtype >= RV_ST_DTYPE_COUNT || t->ndim < 0 ||
            t->ndim > RV_ST_MAX_DIMS) {
            s = rv_error_set(err, RV_ERR_INVALID, "safetensors: writing %s: tensor '%s': bad dtype "
                             "or rank", path, t->name);
            goto done;
        }
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] && numel > UINT64_MAX / t->shape[d]) {
                s = rv_error_set(err, RV_ERR_INVALID, "safetensors: writing %s: tensor '%s': shape "
                                 "overflows", path, t->name);
                goto done;
            }
            numel *= t->shape[d];
        }
        nbytes[i] = numel * rv_st_dtype_size(t->dtype);
        if (nbytes[i] && !t->data) {
            s = rv_error_set(err, RV_ERR_INVALID, "safetensors: writing %s: tensor '%s' has no data",
                             path, t->name);
            goto done;
        }
        order[i].t = t;
    }
    qsort(order, n, sizeof *order, cmp_write_order);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(order[i - 1].t->name, order[i].t->name) == 0) {
            s = rv_error_set(err, RV_ERR_INVALID, "safetensors: writing %s: tensor '%s' given twice",
                             path, order[i].t->name);
            goto done;
        }
    }

    sb_add(&hb, "{", 1);
    bool first = true;
    if (n_metadata) {
        sb_add(&hb, "\"__metadata__\":{", 16);
        for (size_t i = 0; i < n_metadata; i++) {
            if (i)
                sb_add(&hb, ",", 1);
            sb_json_string(&hb, metadata[i].key);
            sb_add(&hb, ":", 1);
            sb_json_string(&hb, metadata[i].value);
        }
        sb_add(&hb, "}", 1);
        first = false;
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        const rv_st_write_tensor *t = order[i].t;
        uint64_t nb = nbytes[t - tensors];
        if (!first)
            sb_add(&hb, ",", 1);
        first = false;
        sb_json_string(&hb, t->name);
        sb_printf(&hb, ":{\"dtype\":\"%s\",\"shape\":[", rv_st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            sb_printf(&hb, d ? ",%llu" : "%llu", (unsigned long long)t->shape[d]);
        sb_printf(&hb, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                  (unsigned long long)(offset + nb));
        offset += nb;
    }
    sb_add(&hb, "}", 1);
    while (!hb.failed && hb.len % 8 != 0)
        sb_add(&hb, " ", 1);
    if (hb.failed) {
        s = oom(err, path);
        goto done;
    }
    if (metadata) {
        for (size_t i = 0; i < n_metadata; i++) {
            size_t kl = strlen(metadata[i].key), vl = strlen(metadata[i].value);
            if (utf8_invalid_at((const unsigned char *)metadata[i].key, kl) != kl ||
                utf8_invalid_at((const unsigned char *)metadata[i].value, vl) != vl) {
                s = rv_error_set(err, RV_ERR_INVALID, "safetensors: writing %s: metadata entry %zu "
                                 "is not valid UTF-8", path, i);
                goto done;
            }
            for (size_t j = 0; j < i; j++) {
                if (strcmp(metadata[i].key, metadata[j].key) == 0) {
                    s = rv_error_set(err, RV_ERR_INVALID, "safetensors: writing %s: metadata key "
                                     "'%s' given twice", path, metadata[i].key);
                    goto done;
                }
            }
        }
    }

    tmp = malloc(strlen(path) + 32);
    if (!tmp) {
        s = oom(err, path);
        goto done;
    }
    sprintf(tmp, "%s.tmp%ld", path, (long)getpid());
    fp = fopen(tmp, "wb");
    if (!fp) {
        s = rv_error_set(err, RV_ERR_IO, "safetensors: cannot create %s: %s", tmp, strerror(errno));
        goto done;
    }
    unsigned char lenbytes[8];
    for (int i = 0; i < 8; i++)
        lenbytes[i] = (unsigned char)((uint64_t)hb.len >> (8 * i));
    bool ok = fwrite(lenbytes, 1, 8, fp) == 8 && fwrite(hb.p, 1, hb.len, fp) == hb.len;
    for (size_t i = 0; ok && i < n; i++) {
        uint64_t nb = nbytes[order[i].t - tensors];
        ok = nb == 0 || fwrite(order[i].t->data, 1, (size_t)nb, fp) == nb;
    }
    int werrno = errno;
    if (fclose(fp) != 0 && ok) {
        ok = false;
        werrno = errno;
    }
    fp = NULL;
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            werrno = errno;
        remove(tmp);
        s = rv_error_set(err, RV_ERR_IO, "safetensors: cannot write %s: %s", path, strerror(werrno));
        goto done;
    }

done:
    free(tmp);
    free(hb.p);
    free(order);
    free(nbytes);
    return s;
}

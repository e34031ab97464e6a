/* JSON config reading (see config.h): cJSON parsing with line:column
 * errors and typed getters that name the file and key. Not a schema checker. */
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "loader/config.h"

#define MAX_CONFIG_BYTES (16u << 20)

static const char *type_name(const cJSON *v)
{
    if (!v)
        return "nothing";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsArray(v))
        return "a list";
    if (cJSON_IsObject(v))
        return "an object";
    return "an unknown value";
}

void rv_cfg_fail(rv_cfg *c, const char *key, const char *fmt, ...)
{
    if (c->err && c->err->code != RV_OK)
        return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (key)
        rv_error_set(c->err, RV_ERR_FORMAT, "LOAD: %s: key \"%s\": %s", c->file, key, msg);
    else
        rv_error_set(c->err, RV_ERR_FORMAT, "LOAD: %s: %s", c->file, msg);
}

bool rv_cfg_failed(const rv_cfg *c) { return c->err && c->err->code != RV_OK; }

rv_status rv_cfg_parse(rv_cfg *c, const char *text, const char *name, rv_error *err)
{
    memset(c, 0, sizeof(*c));
    c->err = err;
    snprintf(c->file, sizeof(c->file), "%s", name);
    const char *end = NULL;
    c->root = cJSON_ParseWithOpts(text, &end, 0);
    if (!c->root) {
        int line = 1, col = 1;
        const char *stop = end ? end : cJSON_GetErrorPtr();
        for (const char *p = text; stop && p < stop && *p; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return rv_error_set(err, RV_ERR_FORMAT, "LOAD: %s:%d:%d: malformed JSON", name, line, col);
    }
    if (!cJSON_IsObject(c->root)) {
        rv_error_set(err, RV_ERR_FORMAT, "LOAD: %s: the top level is %s, expected an object", name,
                     type_name(c->root));
        rv_cfg_free(c);
        return RV_ERR_FORMAT;
    }
    /* Python's json keeps the last of duplicate keys, cJSON finds the first:
     * refuse rather than read a different config than the reference does */
    const char *dup = NULL;
    int d = rv_json_duplicate_key(c->root, &dup);
    if (d != 0) {
        if (d > 0)
            rv_cfg_fail(c, dup, "appears more than once");
        else
            rv_error_set(err, RV_ERR_HOST_MEMORY, "LOAD: %s: out of memory", name);
        rv_cfg_free(c);
        return d > 0 ? RV_ERR_FORMAT : RV_ERR_HOST_MEMORY;
    }
    return RV_OK;
}

typedef struct key_ref {
    const char *key;
    size_t index;
} key_ref;

static int by_key_then_index(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return (x->index > y->index) - (x->index < y->index);
}

int rv_json_duplicate_key(const cJSON *obj, const char **key)
{
    *key = NULL;
    size_t n = 0;
    for (const cJSON *e = obj ? obj->child : NULL; e; e = e->next)
        n += e->string != NULL;
    if (n < 2)
        return 0;
    key_ref *refs = malloc(n * sizeof(*refs));
    if (!refs)
        return -1;
    size_t i = 0;
    for (const cJSON *e = obj->child; e; e = e->next)
        if (e->string) {
            refs[i] = (key_ref){e->string, i};
            i++;
        }
    qsort(refs, n, sizeof(*refs), by_key_then_index);
    size_t first = SIZE_MAX;
    for (i = 1; i < n; i++)
        /* within a run of equal keys the first entry has the lowest index */
        if (strcmp(refs[i - 1].key, refs[i].key) == 0 && (i < 2 || strcmp(refs[i - 2].key, refs[i].key) != 0) &&
            refs[i - 1].index < first) {
            first = refs[i - 1].index;
            *key = refs[i - 1].key;
        }
    free(refs);
    return first != SIZE_MAX;
}

rv_status rv_cfg_load(rv_cfg *c, const char *path, rv_error *err)
{
    memset(c, 0, sizeof(*c));
    c->err = err;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rv_error_set(err, RV_ERR_IO, "LOAD: %s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nt = cap <= MAX_CONFIG_BYTES + 8192 ? realloc(text, cap) : NULL;
            if (!nt) {
                free(text);
                fclose(f);
                return rv_error_set(err, cap > MAX_CONFIG_BYTES ? RV_ERR_FORMAT : RV_ERR_HOST_MEMORY,
                                    "LOAD: %s: too large for a config file", path);
            }
            text = nt;
        }
        size_t n = fread(text + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        return rv_error_set(err, RV_ERR_IO, "LOAD: %s: read error", path);
    }
    text[len] = 0;
    if (strlen(text) != len) {
        free(text);
        return rv_error_set(err, RV_ERR_FORMAT, "LOAD: %s: contains a NUL byte", path);
    }
    rv_status st = rv_cfg_parse(c, text, path, err);
    free(text);
    return st;
}

void rv_cfg_free(rv_cfg *c)
{
    if (c->root)
        cJSON_Delete(c->root);
    c->root = NULL;
}

static const cJSON *item(const rv_cfg *c, const char *key)
{
    if (!c->root)
        return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

bool rv_cfg_has(const rv_cfg *c, const char *key) { return item(c, key) != NULL; }

static bool missing(rv_cfg *c, const char *key, bool required)
{
    if (required)
        rv_cfg_fail(c, key, "missing (required)");
    return true;
}

/* An integral JSON number within [lo, hi]. */
static bool integer(rv_cfg *c, const char *key, const cJSON *v, double lo, double hi, int64_t *out)
{
    if (!cJSON_IsNumber(v)) {
        rv_cfg_fail(c, key, "expected an integer, got %s", type_name(v));
        return false;
    }
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d)) {
        rv_cfg_fail(c, key, "expected an integer, got %g", d);
        return false;
    }
    if (d < lo || d > hi) {
        rv_cfg_fail(c, key, "%.17g is out of range [%.0f, %.0f]", d, lo, hi);
        return false;
    }
    *out = (int64_t)d;
    return true;
}

uint32_t rv_cfg_uint(rv_cfg *c, const char *key, uint32_t def, bool required)
{
    const cJSON *v = item(c, key);
    int64_t x;
    if (!v) {
        missing(c, key, required);
        return def;
    }
    return integer(c, key, v, 0, 1 << 30, &x) ? (uint32_t)x : def;
}

int64_t rv_cfg_int(rv_cfg *c, const char *key, int64_t def, bool required)
{
    const cJSON *v = item(c, key);
    int64_t x;
    if (!v) {
        missing(c, key, required);
        return def;
    }
    return integer(c, key, v, -9007199254740992.0, 9007199254740992.0, &x) ? x : def;
}

double rv_cfg_num(rv_cfg *c, const char *key, double def, bool required)
{
    const cJSON *v = item(c, key);
    if (!v) {
        missing(c, key, required);
        return def;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        rv_cfg_fail(c, key, "expected a number, got %s", type_name(v));
        return def;
    }
    return v->valuedouble;
}

bool rv_cfg_bool(rv_cfg *c, const char *key, bool def, bool required)
{
    const cJSON *v = item(c, key);
    if (!v) {
        missing(c, key, required);
        return def;
    }
    if (!cJSON_IsBool(v)) {
        rv_cfg_fail(c, key, "expected true or false, got %s", type_name(v));
        return def;
    }
    return cJSON_IsTrue(v);
}

const char *rv_cfg_str(rv_cfg *c, const char *key, const char *def, bool required)
{
    const cJSON *v = item(c, key);
    if (!v) {
        missing(c, key, required);
        return def;
    }
    if (!cJSON_IsString(v)) {
        rv_cfg_fail(c, key, "expected a string, got %s", type_name(v));
        return def;
    }
    return v->valuestring;
}

int rv_cfg_uint_list(rv_cfg *c, const char *key, uint32_t *out, int cap, bool scalar_ok, int broadcast,
                     bool required)
{
    const cJSON *v = item(c, key);
    int64_t x;
    if (!v) {
        missing(c, key, required);
        return 0;
    }
    if (scalar_ok && cJSON_IsNumber(v)) {
        if (!integer(c, key, v, 1, 1 << 30, &x))
            return 0;
        if (broadcast > cap) {
            rv_cfg_fail(c, key, "more than %d entries", cap);
            return 0;
        }
        for (int i = 0; i < broadcast; i++)
            out[i] = (uint32_t)x;
        return broadcast;
    }
    if (!cJSON_IsArray(v)) {
        rv_cfg_fail(c, key, "expected %s, got %s", scalar_ok ? "an integer or a list of integers" : "a list of integers",
                    type_name(v));
        return 0;
    }
    int n = cJSON_GetArraySize(v);
    if (n == 0 || n > cap) {
        rv_cfg_fail(c, key, "has %d entries, expected 1 to %d", n, cap);
        return 0;
    }
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        char k[160];
        snprintf(k, sizeof(k), "%s[%d]", key, i);
        if (!integer(c, k, e, 1, 1 << 30, &x))
            return 0;
        out[i] = (uint32_t)x;
    }
    return n;
}

int rv_cfg_str_list(rv_cfg *c, const char *key, const char **out, int cap, bool required)
{
    const cJSON *v = item(c, key);
    if (!v) {
        missing(c, key, required);
        return 0;
    }
    if (!cJSON_IsArray(v)) {
        rv_cfg_fail(c, key, "expected a list of strings, got %s", type_name(v));
        return 0;
    }
    int n = cJSON_GetArraySize(v);
    if (n == 0 || n > cap) {
        rv_cfg_fail(c, key, "has %d entries, expected 1 to %d", n, cap);
        return 0;
    }
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e)) {
            char k[160];
            snprintf(k, sizeof(k), "%s[%d]", key, i);
            rv_cfg_fail(c, k, "expected a string, got %s", type_name(e));
            return 0;
        }
        out[i] = e->valuestring;
    }
    return n;
}

void rv_cfg_check_keys(rv_cfg *c, const char *const *known, const rv_cfg_fixed *fixed, int nfixed, bool strict)
{
    if (!c->root)
        return;
    for (const cJSON *e = c->root->child; e; e = e->next) {
        const char *k = e->string;
        if (!k || k[0] == '_')
            continue;
        bool ok = false;
        for (int i = 0; known && known[i] && !ok; i++)
            ok = strcmp(known[i], k) == 0;
        if (ok)
            continue;
        const rv_cfg_fixed *f = NULL;
        for (int i = 0; i < nfixed && !f; i++)
            if (strcmp(fixed[i].key, k) == 0)
                f = &fixed[i];
        if (f) {
            char *text = cJSON_PrintUnformatted(e);
            bool accepted = false;
            for (int i = 0; i < 4 && f->accepted[i] && text && !accepted; i++)
                accepted = strcmp(text, f->accepted[i]) == 0;
            if (!accepted) {
                char list[256] = "";
                size_t n = 0;
                for (int i = 0; i < 4 && f->accepted[i]; i++)
                    n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", f->accepted[i]);
                rv_cfg_fail(c, k, "the value %.100s is not supported (accepted: %s)", text ? text : "?", list);
            }
            free(text);
            continue;
        }
        if (strict)
            rv_cfg_fail(c, k, "unknown option (it may change the computation; refusing rather than guessing)");
    }
}

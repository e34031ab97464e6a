/* Parameter registry and weight binder (see params.h). Checkpoint-dialect
 * name conversion lives here and only here (legacy_name). Not the layers. */
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/params.h"
#include "util/half.h"

#define ALLOC_ALIGN 256u  /* the block allocator's rounding (memory.c) */

void rv_params_init(rv_params *p) { memset(p, 0, sizeof(*p)); }

void rv_params_free(rv_params *p, rv_gpu *gpu)
{
    if (!p)
        return;
    for (int i = 0; i < p->ns && gpu; i++)
        rv_tensor_free(gpu, p->s[i].t);
    for (int i = 0; i < p->n; i++)
        free(p->p[i].name);
    free(p->p);
    free(p->s);
    memset(p, 0, sizeof(*p));
}

int rv_params_store(rv_params *p, rv_tensor *t, uint64_t count)
{
    memset(t, 0, sizeof(*t));
    t->block = UINT32_MAX;
    if (p->ns == p->caps) {
        int cap = p->caps ? p->caps * 2 : 64;
        rv_param_store *ns = realloc(p->s, (size_t)cap * sizeof(*ns));
        if (!ns) {
            p->oom = true;
            return -1;
        }
        p->s = ns;
        p->caps = cap;
    }
    p->s[p->ns] = (rv_param_store){t, count};
    return p->ns++;
}

static void vadd(rv_params *p, int store, uint64_t offset, int ndim, const uint64_t *shape, const char *fmt,
                 va_list ap)
{
    if (store < 0 || p->oom) {
        p->oom = true;
        return;
    }
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 128;
        rv_param *np = realloc(p->p, (size_t)cap * sizeof(*np));
        if (!np) {
            p->oom = true;
            return;
        }
        p->p = np;
        p->cap = cap;
    }
    rv_param *e = &p->p[p->n];
    memset(e, 0, sizeof(*e));
    char name[256];
    vsnprintf(name, sizeof(name), fmt, ap);
    e->name = strdup(name);
    if (!e->name) {
        p->oom = true;
        return;
    }
    e->ndim = ndim;
    e->numel = 1;
    for (int i = 0; i < ndim; i++) {
        e->shape[i] = shape[i];
        e->numel *= shape[i];
    }
    e->store = store;
    e->offset = offset;
    p->n++;
}

void rv_params_add(rv_params *p, int store, uint64_t offset, int ndim, const uint64_t *shape, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd(p, store, offset, ndim, shape, fmt, ap);
    va_end(ap);
}

void rv_params_tensor(rv_params *p, rv_tensor *t, int ndim, const uint64_t *shape, const char *fmt, ...)
{
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    int s = rv_params_store(p, t, n);
    va_list ap;
    va_start(ap, fmt);
    vadd(p, s, 0, ndim, shape, fmt, ap);
    va_end(ap);
}

uint64_t rv_params_numel(const rv_params *p)
{
    uint64_t n = 0;
    for (int i = 0; i < p->n; i++)
        n += p->p[i].numel;
    return n;
}

uint64_t rv_params_device_bytes(const rv_params *p, rv_dtype dtype)
{
    uint64_t b = 0;
    for (int i = 0; i < p->ns; i++)
        b += (p->s[i].count * rv_dtype_size(dtype) + ALLOC_ALIGN - 1) / ALLOC_ALIGN * ALLOC_ALIGN;
    return b;
}

void rv_bind_report_free(rv_bind_report *r)
{
    if (!r)
        return;
    free(r->text);
    memset(r, 0, sizeof(*r));
}

/* ---- checkpoint dialects ---- */

/* Older names for the same weights, rewritten to the current diffusers
 * names: the VAE mid-block attention's query/key/value/proj_attn (diffusers'
 * _convert_deprecated_attention_blocks). Returns false for checkpoint
 * entries that are not weights at all (transformers' position_ids buffer). */
static bool legacy_name(const char *name, char *out, size_t cap)
{
    static const char *const from[] = {"query", "key", "value", "proj_attn"};
    static const char *const to[] = {"to_q", "to_k", "to_v", "to_out.0"};
    static const char pos_ids[] = "embeddings.position_ids";
    size_t n = strlen(name), np = sizeof(pos_ids) - 1;
    if (n >= np && strcmp(name + n - np, pos_ids) == 0)
        return false;
    snprintf(out, cap, "%s", name);
    if (!strstr(name, ".attentions."))
        return true;
    const char *last = strrchr(name, '.');
    if (!last || last == name)
        return true;
    const char *prev = last - 1;
    while (prev > name && *prev != '.')
        prev--;
    if (*prev != '.')
        return true;
    size_t len = (size_t)(last - prev - 1);
    for (int i = 0; i < 4; i++)
        if (strlen(from[i]) == len && strncmp(prev + 1, from[i], len) == 0) {
            snprintf(out, cap, "%.*s.%s%s", (int)(prev - name), name, to[i], last);
            break;
        }
    return true;
}

/* ---- binding ---- */

typedef struct text_buf {
    char *s;
    size_t n, cap;
} text_buf;

static void tb_printf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(text_buf *b, const char *fmt, ...)
{
    char line[640];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    size_t len = strlen(line);
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns)
            return;
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, line, len + 1);
    b->n += len;
}

static void shape_str(char *out, size_t cap, int ndim, const uint64_t *shape)
{
    size_t n = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%llu", i ? "," : "", (unsigned long long)shape[i]);
    if (n < cap)
        snprintf(out + n, cap - n, "]");
}

typedef struct name_ref {
    const char *name;
    int index;
} name_ref;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const name_ref *)a)->name, ((const name_ref *)b)->name);
}

static int find_param(const rv_params *p, const name_ref *order, const char *name)
{
    int lo = 0, hi = p->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(order[mid].name, name);
        if (c == 0)
            return order[mid].index;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Same shape, or a 1x1-conv-shaped [O][I][1][1] checkpoint tensor for a linear [O][I]. */
static bool shape_ok(const rv_param *e, const rv_st_tensor *t)
{
    if (t->ndim == e->ndim) {
        for (int i = 0; i < e->ndim; i++)
            if (t->shape[i] != e->shape[i])
                return false;
        return true;
    }
    return e->ndim == 2 && t->ndim == 4 && t->shape[0] == e->shape[0] && t->shape[1] == e->shape[1] &&
           t->shape[2] == 1 && t->shape[3] == 1;
}

static rv_status alloc_stores(rv_params *p, rv_gpu *gpu, rv_error *err)
{
    rv_dtype dt = rv_gpu_dtype(gpu);
    for (int i = 0; i < p->ns; i++) {
        rv_status st = rv_tensor_alloc(gpu, p->s[i].t, dt, p->s[i].count, err);
        if (st) {
            for (int j = 0; j < i; j++)
                rv_tensor_free(gpu, p->s[j].t);
            return st;
        }
    }
    p->allocated = true;
    return RV_OK;
}

/* Writes `numel` converted elements (f32 or f16 bits, per the device dtype)
 * starting at the param's store and offset, across store boundaries. */
static rv_status write_param(rv_params *p, rv_gpu *gpu, const rv_param *e, const void *host, rv_error *err)
{
    size_t es = rv_dtype_size(rv_gpu_dtype(gpu));
    const uint8_t *src = host;
    uint64_t left = e->numel, off = e->offset;
    int s = e->store;
    while (left) {
        if (s >= p->ns)
            return rv_error_set(err, RV_ERR_INVALID, "LOAD: %s runs past its device tensors", e->name);
        uint64_t room = p->s[s].count > off ? p->s[s].count - off : 0;
        uint64_t n = left < room ? left : room;
        if (n) {
            rv_status st = rv_tensor_write(gpu, p->s[s].t, off * es, src, n * es, err);
            if (st)
                return st;
        }
        src += n * es;
        left -= n;
        off = 0;
        s++;
    }
    return RV_OK;
}

/* Matches checkpoint tensors to the registered names; *match_out (malloc'd,
 * one entry per param) receives the match when everything fits. */
static rv_status check(rv_params *p, const rv_safetensors *st, const char *where, rv_bind_report *report,
                       rv_error *err, const rv_st_tensor ***match_out)
{
    if (report) {
        bool allow = report->allow_nonfinite;
        memset(report, 0, sizeof(*report));
        report->allow_nonfinite = allow;
    }
    if (p->oom)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "LOAD: %s: out of memory building the module tree", where);
    name_ref *order = malloc((size_t)(p->n ? p->n : 1) * sizeof(*order));
    const rv_st_tensor **match = calloc((size_t)(p->n ? p->n : 1), sizeof(*match));
    if (!order || !match) {
        free(order);
        free(match);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "LOAD: %s: out of memory", where);
    }
    for (int i = 0; i < p->n; i++)
        order[i] = (name_ref){p->p[i].name, i};
    qsort(order, (size_t)p->n, sizeof(*order), by_name);
    for (int i = 1; i < p->n; i++)
        assert(strcmp(order[i - 1].name, order[i].name) != 0 && "a module tree registered a name twice");

    rv_bind_report r = {0};
    text_buf tb = {0};
    char brief[900] = "";
    size_t bn = 0;
    int nbrief = 0, more = 0;
#define NOTE(...) do { \
        char line_[400]; snprintf(line_, sizeof(line_), __VA_ARGS__); \
        tb_printf(&tb, "%s\n", line_); \
        if (bn + strlen(line_) + 4 < sizeof(brief) - 40) { \
            bn += (size_t)snprintf(brief + bn, sizeof(brief) - bn, "%s%s", nbrief ? "; " : "", line_); \
            nbrief++; \
        } else { more++; } \
    } while (0)

    memset(p->file_numel, 0, sizeof(p->file_numel));
    size_t nt = rv_safetensors_count(st);
    for (size_t i = 0; i < nt; i++) {
        const rv_st_tensor *t = rv_safetensors_tensor(st, i);
        char name[256], shp[96], want[96];
        if (!legacy_name(t->name, name, sizeof(name)))
            continue;
        int k = find_param(p, order, name);
        shape_str(shp, sizeof(shp), t->ndim, t->shape);
        if (k < 0 || match[k]) {
            r.unknown++;
            NOTE("unknown '%s' %s", t->name, shp);
            continue;
        }
        const rv_param *e = &p->p[k];
        if (!shape_ok(e, t)) {
            r.wrong_shape++;
            shape_str(want, sizeof(want), e->ndim, e->shape);
            NOTE("wrong shape '%s' %s, expected %s", t->name, shp, want);
            match[k] = t;
            continue;
        }
        if (t->dtype != RV_ST_F32 && t->dtype != RV_ST_F16 && t->dtype != RV_ST_BF16 && t->dtype != RV_ST_F64) {
            r.bad_dtype++;
            NOTE("unsupported dtype '%s' %s (F32, F16, BF16 or F64)", t->name, rv_st_dtype_name(t->dtype));
        }
        match[k] = t;
        p->file_numel[t->dtype] += t->numel;
    }
    for (int j = 0; j < p->n; j++) {
        int k = order[j].index;
        if (!match[k]) {
            char want[96];
            shape_str(want, sizeof(want), p->p[k].ndim, p->p[k].shape);
            r.missing++;
            NOTE("missing '%s' %s", p->p[k].name, want);
        }
    }
#undef NOTE
    rv_status status = RV_OK;
    if (r.missing || r.unknown || r.wrong_shape || r.bad_dtype) {
        status = rv_error_set(err, RV_ERR_FORMAT, "LOAD: %s: %d missing, %d unknown, %d wrong-shape, %d bad-dtype "
                              "tensors: %s%s", where, r.missing, r.unknown, r.wrong_shape, r.bad_dtype, brief,
                              more ? " (and more: see the report)" : "");
        r.text = tb.s;
        tb.s = NULL;
    }
    free(tb.s);
    free(order);
    if (report) {
        r.allow_nonfinite = report->allow_nonfinite;
        *report = r;
    } else
        free(r.text);
    if (status == RV_OK && match_out)
        *match_out = match;
    else
        free(match);
    return status;
}

rv_status rv_params_check(rv_params *p, const rv_safetensors *st, const char *where, rv_bind_report *report,
                          rv_error *err)
{
    return check(p, st, where, report, err, NULL);
}

rv_status rv_params_bind(rv_params *p, rv_gpu *gpu, const rv_safetensors *st, const char *where,
                         rv_bind_report *report, rv_error *err)
{
    const rv_st_tensor **match = NULL;
    rv_status status = check(p, st, where, report, err, &match);
    if (status == RV_OK) {
        status = alloc_stores(p, gpu, err);
        bool f16 = rv_gpu_dtype(gpu) == RV_F16;
        void *buf = NULL;
        uint64_t bufcap = 0;
        for (int k = 0; k < p->n && status == RV_OK; k++) {
            const rv_param *e = &p->p[k];
            uint64_t bytes = e->numel * (f16 ? 2 : 4);
            if (bytes > bufcap) {
                void *nb = realloc(buf, bytes);
                if (!nb) {
                    status = rv_error_set(err, RV_ERR_HOST_MEMORY, "LOAD: %s: out of memory converting '%s'", where,
                                          e->name);
                    break;
                }
                buf = nb;
                bufcap = bytes;
            }
            uint64_t at;
            const char *what;
            if (rv_safetensors_find_nonfinite(match[k], &at, &what)) {
                if (!report || !report->allow_nonfinite) {
                    status = rv_error_set(err, RV_ERR_FORMAT, "LOAD: %s: tensor '%s' holds %s (element %llu): the "
                                          "checkpoint has non-finite weights and would give a garbage picture "
                                          "(--allow-nonfinite loads it anyway)", match[k]->file, match[k]->name,
                                          what, (unsigned long long)at);
                    break;
                }
                report->nonfinite++;
            }
            status = f16 ? rv_safetensors_copy_f16(match[k], buf, e->numel, err)
                         : rv_safetensors_copy_f32(match[k], buf, e->numel, err);
            if (!status)
                status = write_param(p, gpu, e, buf, err);
        }
        free(buf);
        if (status && p->allocated) {
            for (int i = 0; i < p->ns; i++)
                rv_tensor_free(gpu, p->s[i].t);
            p->allocated = false;
        }
    }
    free(match);
    return status;
}

static uint64_t rng_next(uint64_t *s)
{
    *s += 0x9E3779B97F4A7C15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

rv_status rv_params_init_random(rv_params *p, rv_gpu *gpu, uint64_t seed, rv_error *err)
{
    if (p->oom)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "LOAD: out of memory building the module tree");
    rv_status status = alloc_stores(p, gpu, err);
    bool f16 = rv_gpu_dtype(gpu) == RV_F16;
    float *f = NULL;
    uint16_t *h = NULL;
    uint64_t cap = 0;
    for (int k = 0; k < p->n && status == RV_OK; k++) {
        const rv_param *e = &p->p[k];
        if (e->numel > cap) {
            float *nf = realloc(f, e->numel * sizeof(float));
            uint16_t *nh = nf ? realloc(h, e->numel * sizeof(uint16_t)) : NULL;
            if (nf)
                f = nf;
            if (nh)
                h = nh;
            if (!nf || !nh) {
                status = rv_error_set(err, RV_ERR_HOST_MEMORY, "LOAD: out of memory initialising '%s'", e->name);
                break;
            }
            cap = e->numel;
        }
        size_t nlen = strlen(e->name);
        bool is_bias = nlen >= 5 && strcmp(e->name + nlen - 5, ".bias") == 0;
        uint64_t s = seed ^ (uint64_t)k * 0x100000001B3ull;
        if (e->ndim <= 1) {
            for (uint64_t i = 0; i < e->numel; i++)
                f[i] = is_bias ? 0.0f : 1.0f;
        } else {
            double fan_in = (double)e->numel / (double)e->shape[0];
            float a = (float)sqrt(3.0 / fan_in);
            for (uint64_t i = 0; i < e->numel; i++)
                f[i] = a * (float)((double)(rng_next(&s) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
        }
        if (f16)
            rv_f32_to_f16_array(h, f, (size_t)e->numel);
        status = write_param(p, gpu, e, f16 ? (void *)h : (void *)f, err);
    }
    free(f);
    free(h);
    if (status && p->allocated) {
        for (int i = 0; i < p->ns; i++)
            rv_tensor_free(gpu, p->s[i].t);
        p->allocated = false;
    }
    return status;
}

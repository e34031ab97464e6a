/* Golden-tensor helpers shared by the model tests: the fixture folders,
 * goldens.safetensors / goldens.json, device tensors from host floats, and
 * the llama2.c-style comparison line (first values, NMSE, max |d|, OK/NOT
 * OK). Header-only, like rv_test.h. */
#ifndef RV_GOLDEN_H
#define RV_GOLDEN_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "rv_gpu.h"
#include "loader/safetensors.h"
#include "rv_test.h"

/* NMSE limits from the brief: fp32 storage and fp16 storage. */
#define GOLDEN_NMSE_F32 1e-5
#define GOLDEN_NMSE_F16 1e-3

typedef struct golden {
    char dir[512];            /* the fixture folder */
    rv_safetensors *st;
    cJSON *json;
} golden;

/* Creates the device for one precision pass of a golden test (prec 0: fp32,
 * 1: fp16) with the validation layer on. Returns 1 when ready, 0 when the
 * device has no fp16 path (the pass is skipped), -1 on any other failure. */
static inline int golden_gpu(int prec, const char *suite, rv_gpu **gpu)
{
    rv_error err = {0};
    rv_gpu_desc desc = {.validation = true, .precision = prec ? RV_PRECISION_F16 : RV_PRECISION_F32};
    *gpu = NULL;
    if (rv_gpu_create(gpu, &desc, &err) == RV_OK)
        return 1;
    if (prec && err.code == RV_ERR_UNSUPPORTED) {
        printf("fp16: skipped (%s)\n", err.msg);
        return 0;
    }
    fprintf(stderr, "%s: %s\n", suite, err.msg);
    return -1;
}

static inline const char *golden_fixture_dir(const char *name, char *buf, size_t cap)
{
    const char *src = getenv("RV_SOURCE_DIR");
    snprintf(buf, cap, "%s/tests/fixtures/%s", src ? src : "..", name);
    return buf;
}

/* Opens <fixture>/<base>.safetensors and <base>.json ("goldens" for the
 * model goldens; "frames", "video_ops" for the frame loop's). */
static inline bool golden_open_set(golden *g, const char *fixture, const char *base)
{
    memset(g, 0, sizeof(*g));
    golden_fixture_dir(fixture, g->dir, sizeof(g->dir));
    char path[640];
    rv_error err = {0};
    snprintf(path, sizeof(path), "%s/%s.safetensors", g->dir, base);
    if (rv_safetensors_open(&g->st, path, &err)) {
        fprintf(stderr, "golden: %s\n", err.msg);
        return false;
    }
    snprintf(path, sizeof(path), "%s/%s.json", g->dir, base);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    size_t got = fread(text, 1, (size_t)n, f);
    fclose(f);
    text[got] = 0;
    g->json = cJSON_Parse(text);
    free(text);
    return g->json != NULL;
}

static inline bool golden_open(golden *g, const char *fixture) { return golden_open_set(g, fixture, "goldens"); }

static inline void golden_close(golden *g)
{
    rv_safetensors_close(g->st);
    cJSON_Delete(g->json);
    memset(g, 0, sizeof(*g));
}

/* A golden tensor as float32 (malloc'd; NULL and a failed check if absent). */
static inline float *golden_get(golden *g, const char *name, const rv_st_tensor **info)
{
    const rv_st_tensor *t = rv_safetensors_find(g->st, name);
    CHECK(t != NULL, "golden tensor %s is missing", name);
    if (!t)
        return NULL;
    float *v = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    rv_error err = {0};
    if (rv_safetensors_copy_f32(t, v, t->numel, &err)) {
        free(v);
        return NULL;
    }
    if (info)
        *info = t;
    return v;
}

static inline const cJSON *golden_case(golden *g, const char *name)
{
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(g->json, "cases");
    return cJSON_GetObjectItemCaseSensitive(cases, name);
}

/* A device tensor holding host floats (in `dtype`). */
static inline rv_tensor golden_upload(rv_gpu *gpu, rv_dtype dtype, const float *v, uint64_t n)
{
    rv_tensor t;
    rv_error err = {0};
    if (rv_tensor_alloc(gpu, &t, dtype, n, &err) || (v && rv_tensor_upload(gpu, &t, v, &err)))
        fprintf(stderr, "golden: %s\n", err.msg);
    return t;
}

static inline float *golden_download(rv_gpu *gpu, const rv_tensor *t)
{
    float *v = malloc((size_t)t->count * sizeof(float));
    rv_error err = {0};
    if (rv_tensor_download(gpu, t, v, &err))
        fprintf(stderr, "golden: %s\n", err.msg);
    return v;
}

/* Compares and prints one line; returns the NMSE (a CHECK counts it). */
static inline double golden_compare(const char *tag, const char *name, const float *got, const float *want, size_t n,
                                    double limit)
{
    double num = 0, den = 0, maxd = 0;
    bool finite = true;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]))
            finite = false;
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
        if (fabs(d) > maxd)
            maxd = fabs(d);
    }
    double nmse = den > 0 ? num / den : num;
    bool ok = finite && nmse <= limit;
    printf("  %-4s %-44s got [", tag, name);
    for (size_t i = 0; i < n && i < 3; i++)
        printf("%s%+.5f", i ? " " : "", got[i]);
    printf("] want [");
    for (size_t i = 0; i < n && i < 3; i++)
        printf("%s%+.5f", i ? " " : "", want[i]);
    printf("] nmse=%.2e max|d|=%.2e %s\n", nmse, maxd, ok ? "OK" : "NOT OK");
    CHECK(ok, "%s %s: nmse %.3e (limit %.0e), finite %d", tag, name, nmse, limit, finite);
    return nmse;
}

/* Downloads `t` and compares it with golden `name` (which must hold t->count values). */
static inline double golden_check(golden *g, rv_gpu *gpu, const char *tag, const char *label, const rv_tensor *t,
                                  const char *name, double limit)
{
    const rv_st_tensor *info = NULL;
    float *want = golden_get(g, name, &info);
    if (!want)
        return INFINITY;
    CHECK(info->numel == t->count, "%s: golden has %llu values, output %llu", name,
          (unsigned long long)info->numel, (unsigned long long)t->count);
    double r = INFINITY;
    if (info->numel == t->count) {
        float *got = golden_download(gpu, t);
        r = golden_compare(tag, label, got, want, (size_t)t->count, limit);
        free(got);
    }
    free(want);
    return r;
}

#endif

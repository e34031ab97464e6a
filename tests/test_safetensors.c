/* Tests for the safetensors reader/writer and the fp16/bf16 conversions:
 * round trips, a generated corpus of broken files (exact codes, messages that
 * name the file and tensor), sharded indexes, conversion exactness. No GPU. */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "rv_test.h"
#include "loader/safetensors.h"
#include "util/half.h"

static char tmpdir[64];
static char created[128][256];
static int n_created;

static const char *tpath(const char *name)
{
    static char buf[8][320];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void track(const char *path)
{
    for (int i = 0; i < n_created; i++)
        if (strcmp(created[i], path) == 0)
            return;
    if (n_created < 128)
        snprintf(created[n_created++], sizeof created[0], "%s", path);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    if (n)
        fwrite(p, 1, n, f);
    fclose(f);
    track(path);
}

/* A file with the given header text (length prefix = strlen, or `declared`
 * when not ~0) followed by data_len bytes 0x00, 0x01, ... */
static void write_st(const char *path, const char *header, size_t data_len, uint64_t declared)
{
    size_t hl = strlen(header);
    uint64_t n = declared != ~(uint64_t)0 ? declared : hl;
    unsigned char *buf = malloc(8 + hl + data_len + 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, header, hl);
    for (size_t i = 0; i < data_len; i++)
        buf[8 + hl + i] = (unsigned char)i;
    write_bytes(path, buf, 8 + hl + data_len);
    free(buf);
}

/* Opens `path` expecting failure with `code`; the message must contain each
 * of the NULL-terminated substrings (the file name is always required). */
static void expect_fail(const char *label, const char *path, rv_status code, ...)
{
    rv_safetensors *st = (rv_safetensors *)1;
    rv_error err = {0};
    rv_status s = rv_safetensors_open(&st, path, &err);
    CHECK(s == code, "%s: got %s (%s), want %s", label, rv_status_name(s), err.msg,
          rv_status_name(code));
    CHECK(st == NULL, "%s: out not NULL on failure", label);
    CHECK(err.code == s, "%s: err.code %d vs return %d", label, err.code, s);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    CHECK(strstr(err.msg, base) != NULL, "%s: message lacks file name '%s': %s", label, base,
          err.msg);
    va_list ap;
    va_start(ap, code);
    for (const char *sub; (sub = va_arg(ap, const char *)) != NULL;)
        CHECK(strstr(err.msg, sub) != NULL, "%s: message lacks '%s': %s", label, sub, err.msg);
    va_end(ap);
    if (s == RV_OK)
        rv_safetensors_close(st);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- half / bf16 ---- */

static void test_half(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = rv_f16_to_f32((uint16_t)h);
        if (rv_f32_to_f16(f) != h)
            bad++;
        bool nan16 = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (nan16 != (bool)isnan(f))
            bad++;
    }
    CHECK(bad == 0, "f16 -> f32 -> f16 round trip: %d of 65536 patterns differ", bad);

    CHECK(rv_f16_to_f32(0x3c00) == 1.0f, "f16 1.0");
    CHECK(rv_f16_to_f32(0x7bff) == 65504.0f, "f16 max");
    CHECK(rv_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "f16 min subnormal");
    CHECK(rv_f16_to_f32(0x0400) == ldexpf(1.0f, -14), "f16 min normal");
    CHECK(isinf(rv_f16_to_f32(0xfc00)) && rv_f16_to_f32(0xfc00) < 0, "f16 -inf");
    CHECK(f32_bits(rv_f16_to_f32(0x8000)) == 0x80000000u, "f16 -0");
    CHECK(rv_f32_to_f16(1e6f) == 0x7c00, "overflow to inf");
    CHECK(rv_f32_to_f16(-1e6f) == 0xfc00, "overflow to -inf");
    CHECK(rv_f32_to_f16(65519.99f) == 0x7bff, "just below 65520 stays finite");
    CHECK(rv_f32_to_f16(65520.0f) == 0x7c00, "65520 ties to even -> inf");
    CHECK(rv_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000, "2^-25 ties to even -> 0");
    CHECK(rv_f32_to_f16(nextafterf(ldexpf(1.0f, -25), 1.0f)) == 0x0001, "above 2^-25 -> 2^-24");
    CHECK(rv_f32_to_f16(ldexpf(1.0f, -30)) == 0, "tiny -> 0");
    CHECK(rv_f32_to_f16(-ldexpf(1.0f, -30)) == 0x8000, "tiny negative -> -0");
    CHECK(rv_f32_to_f16(bits_f32(0x00000001u)) == 0, "f32 subnormal -> 0");
    uint16_t hn = rv_f32_to_f16(bits_f32(0x7f800001u));
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff), "NaN with low payload stays NaN: %04x", hn);
    CHECK(rv_f32_to_f16(bits_f32(0xffc00000u)) == 0xfe00, "negative quiet NaN");

    /* Every tie and its neighbours, over all finite magnitudes and both signs. */
    bad = 0;
    for (uint32_t h = 0; h <= 0x7bff; h++) {
        for (uint32_t sign = 0; sign <= 0x8000; sign += 0x8000) {
            float a = rv_f16_to_f32((uint16_t)h);
            float b = h == 0x7bff ? 65536.0f : rv_f16_to_f32((uint16_t)(h + 1));
            float m = (a + b) * 0.5f;
            uint16_t even = (uint16_t)((h & 1) ? h + 1 : h);
            float sm = sign ? -m : m;
            if (rv_f32_to_f16(sm) != (even | sign))
                bad++;
            if (rv_f32_to_f16(sign ? -nextafterf(m, 0) : nextafterf(m, 0)) != (h | sign))
                bad++;
            if (rv_f32_to_f16(sign ? -nextafterf(m, INFINITY) : nextafterf(m, INFINITY)) !=
                ((h + 1) | sign))
                bad++;
        }
    }
    CHECK(bad == 0, "f32 -> f16 rounding at ties: %d wrong", bad);

#ifdef __FLT16_MANT_DIG__
    /* Cross-check against the compiler's own conversion on pseudo-random bits. */
    bad = 0;
    uint32_t x = 12345;
    for (int i = 0; i < 2000000; i++) {
        x = x * 1664525u + 1013904223u;
        float f = bits_f32(x);
        if (isnan(f))
            continue;
        _Float16 c = (_Float16)f;
        uint16_t cb;
        memcpy(&cb, &c, 2);
        if (cb != rv_f32_to_f16(f))
            bad++;
    }
    CHECK(bad == 0, "f32 -> f16 disagrees with _Float16 on %d values", bad);
#endif

    bad = 0;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = rv_bf16_to_f32((uint16_t)b);
        if (f32_bits(f) != b << 16)
            bad++;
        if (rv_f32_to_bf16(f) != b)
            bad++;
    }
    CHECK(bad == 0, "bf16 round trip: %d wrong", bad);
    CHECK(rv_f32_to_bf16(bits_f32(0x3f808000u)) == 0x3f80, "bf16 tie to even (down)");
    CHECK(rv_f32_to_bf16(bits_f32(0x3f818000u)) == 0x3f82, "bf16 tie to even (up)");
    CHECK(rv_f32_to_bf16(bits_f32(0x3f808001u)) == 0x3f81, "bf16 above tie");
    CHECK(rv_f32_to_bf16(bits_f32(0x7f7fffffu)) == 0x7f80, "bf16 overflow -> inf");
    CHECK(rv_f32_to_bf16(bits_f32(0x7f800001u)) == 0x7fc0, "bf16 NaN kept NaN");

    float src[5] = {1.0f, -2.5f, 0.1f, 65504.0f, 1e-8f};
    uint16_t h16[5], b16[5];
    float back[5];
    rv_f32_to_f16_array(h16, src, 5);
    rv_f16_to_f32_array(back, h16, 5);
    CHECK(back[0] == 1.0f && back[1] == -2.5f && back[3] == 65504.0f, "f16 arrays");
    CHECK(fabsf(back[2] - 0.1f) < 1e-4f, "f16 array 0.1");
    rv_f32_to_bf16_array(b16, src, 5);
    rv_bf16_to_f32_array(back, b16, 5);
    CHECK(back[0] == 1.0f && back[1] == -2.5f && fabsf(back[2] - 0.1f) < 1e-3f, "bf16 arrays");
}

/* ---- write / read round trip ---- */

static void test_round_trip(void)
{
    float a[6] = {1, 2, 3, 4, 5, -6.5f};
    uint16_t h[4] = {0x3c00, 0xc000, 0x7c00, 0x0001};
    uint16_t bf[6] = {0x3f80, 0x4000, 0xbf80, 0x0000, 0x7f80, 0x3e80};
    float scalar = 42.0f;
    int64_t pos[3] = {0, 1, 2};
    double d[2] = {0.1, -1e300};
    rv_st_write_tensor ts[] = {
        {"text_model.weight", RV_ST_F32, 2, {2, 3}, a},
        {"half", RV_ST_F16, 1, {4}, h},
        {"bfloat", RV_ST_BF16, 3, {3, 1, 2}, bf},
        {"scalar", RV_ST_F32, 0, {0}, &scalar},
        {"empty", RV_ST_F32, 2, {0, 5}, NULL},
        {"position_ids", RV_ST_I64, 2, {1, 3}, pos},
        {"double", RV_ST_F64, 1, {2}, d},
        {"name with \"quotes\" and \\ and \xc3\xa9", RV_ST_F32, 1, {1}, &scalar},
    };
    size_t nt = sizeof ts / sizeof ts[0];
    rv_st_kv meta[] = {{"format", "pt"}, {"note", "line\nbreak"}};
    const char *path = tpath("round.safetensors");
    rv_error err = {0};
    rv_status s = rv_safetensors_write(path, ts, nt, meta, 2, &err);
    track(path);
    CHECK(s == RV_OK, "write: %s", err.msg);

    /* Layout: header length a multiple of 8, JSON first key __metadata__. */
    FILE *f = fopen(path, "rb");
    unsigned char head[16] = {0};
    CHECK(f && fread(head, 1, 16, f) == 16, "read back header");
    if (f)
        fclose(f);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = (hl << 8) | head[i];
    CHECK(hl % 8 == 0, "header length %llu is 8-aligned", (unsigned long long)hl);
    CHECK(memcmp(head + 8, "{\"__meta", 8) == 0, "metadata first");

    rv_safetensors *st = NULL;
    s = rv_safetensors_open(&st, path, &err);
    CHECK(s == RV_OK && st, "open round trip: %s", err.msg);
    if (!st)
        return;
    CHECK(rv_safetensors_count(st) == nt, "count %zu", rv_safetensors_count(st));
    CHECK(rv_safetensors_file_count(st) == 1, "one file");
    for (size_t i = 1; i < rv_safetensors_count(st); i++)
        CHECK(strcmp(rv_safetensors_tensor(st, i - 1)->name, rv_safetensors_tensor(st, i)->name) < 0,
              "sorted names");
    CHECK(rv_safetensors_tensor(st, nt) == NULL, "index past end");
    CHECK(strcmp(rv_safetensors_metadata(st, "format"), "pt") == 0, "metadata format");
    CHECK(strcmp(rv_safetensors_metadata(st, "note"), "line\nbreak") == 0, "metadata escape");
    CHECK(rv_safetensors_metadata(st, "nope") == NULL, "metadata absent");
    CHECK(rv_safetensors_metadata_count(st) == 2, "metadata count");

    for (size_t i = 0; i < nt; i++) {
        const rv_st_tensor *t = rv_safetensors_find(st, ts[i].name);
        CHECK(t != NULL, "find %s", ts[i].name);
        if (!t)
            continue;
        CHECK(t->dtype == ts[i].dtype && t->ndim == ts[i].ndim, "%s dtype/rank", ts[i].name);
        uint64_t numel = 1;
        for (int k = 0; k < t->ndim; k++) {
            CHECK(t->shape[k] == ts[i].shape[k], "%s shape[%d]", ts[i].name, k);
            numel *= ts[i].shape[k];
        }
        CHECK(t->numel == numel, "%s numel", ts[i].name);
        CHECK(t->nbytes == numel * rv_st_dtype_size(ts[i].dtype), "%s nbytes", ts[i].name);
        CHECK(t->nbytes == 0 || memcmp(t->data, ts[i].data, t->nbytes) == 0, "%s bytes",
              ts[i].name);
        CHECK(strcmp(t->file, path) == 0, "%s file", ts[i].name);
    }
    CHECK(rv_safetensors_find(st, "missing") == NULL, "find missing");
    const rv_st_tensor *t = NULL;
    rv_error gerr = {0};
    CHECK(rv_safetensors_get(st, "missing", &t, &gerr) == RV_ERR_FORMAT &&
              strstr(gerr.msg, "missing") && strstr(gerr.msg, "round.safetensors"),
          "get missing: %s", gerr.msg);

    /* Conversions. */
    float out[6];
    uint16_t out16[6];
    t = rv_safetensors_find(st, "text_model.weight");
    CHECK(rv_safetensors_copy_f32(t, out, 6, &err) == RV_OK && memcmp(out, a, sizeof a) == 0,
          "F32 -> f32");
    CHECK(rv_safetensors_copy_f16(t, out16, 6, &err) == RV_OK && out16[0] == 0x3c00 &&
              out16[5] == rv_f32_to_f16(-6.5f),
          "F32 -> f16");
    t = rv_safetensors_find(st, "half");
    CHECK(rv_safetensors_copy_f32(t, out, 4, &err) == RV_OK && out[0] == 1.0f && out[1] == -2.0f &&
              isinf(out[2]) && out[3] == ldexpf(1, -24),
          "F16 -> f32");
    CHECK(rv_safetensors_copy_f16(t, out16, 4, &err) == RV_OK && memcmp(out16, h, 8) == 0,
          "F16 -> f16");
    t = rv_safetensors_find(st, "bfloat");
    CHECK(rv_safetensors_copy_f32(t, out, 6, &err) == RV_OK && out[0] == 1.0f && out[1] == 2.0f &&
              out[2] == -1.0f && isinf(out[4]) && out[5] == 0.25f,
          "BF16 -> f32");
    CHECK(rv_safetensors_copy_f16(t, out16, 6, &err) == RV_OK && out16[0] == 0x3c00 &&
              out16[4] == 0x7c00 && out16[5] == 0x3400,
          "BF16 -> f16");
    t = rv_safetensors_find(st, "double");
    CHECK(rv_safetensors_copy_f32(t, out, 2, &err) == RV_OK && out[0] == 0.1f && isinf(out[1]),
          "F64 -> f32");
    CHECK(rv_safetensors_copy_f16(t, out16, 2, &err) == RV_OK && out16[0] == rv_f32_to_f16(0.1f) &&
              out16[1] == 0xfc00,
          "F64 -> f16");
    /* Double rounding trap: just above an fp16 tie, but rounding to float first lands on it. */
    {
        double tie = 1.0 + ldexp(1.0, -11); /* halfway between fp16 1.0 and next */
        double above = tie + ldexp(1.0, -40);
        const char *p2 = tpath("f64.safetensors");
        rv_st_write_tensor w = {"x", RV_ST_F64, 1, {1}, &above};
        rv_error e2 = {0};
        CHECK(rv_safetensors_write(p2, &w, 1, NULL, 0, &e2) == RV_OK, "write f64: %s", e2.msg);
        track(p2);
        rv_safetensors *s2 = NULL;
        if (rv_safetensors_open(&s2, p2, &e2) == RV_OK) {
            uint16_t r;
            CHECK(rv_safetensors_copy_f16(rv_safetensors_find(s2, "x"), &r, 1, &e2) == RV_OK &&
                      r == 0x3c01,
                  "F64 just above a tie rounds up (single rounding): %04x", r);
            rv_safetensors_close(s2);
        }
    }
    t = rv_safetensors_find(st, "scalar");
    CHECK(t->ndim == 0 && t->numel == 1 && rv_safetensors_copy_f32(t, out, 1, &err) == RV_OK &&
              out[0] == 42.0f,
          "scalar");
    t = rv_safetensors_find(st, "empty");
    CHECK(t->numel == 0 && t->nbytes == 0 && rv_safetensors_copy_f32(t, out, 0, &err) == RV_OK,
          "empty tensor");

    rv_error e3 = {0};
    t = rv_safetensors_find(st, "position_ids");
    CHECK(rv_safetensors_copy_f32(t, out, 3, &e3) == RV_ERR_UNSUPPORTED &&
              strstr(e3.msg, "position_ids") && strstr(e3.msg, "I64") &&
              strstr(e3.msg, "round.safetensors"),
          "I64 copy unsupported: %s", e3.msg);
    rv_error e4 = {0};
    t = rv_safetensors_find(st, "half");
    CHECK(rv_safetensors_copy_f32(t, out, 3, &e4) == RV_ERR_INVALID && strstr(e4.msg, "half"),
          "copy count mismatch: %s", e4.msg);
    rv_safetensors_close(st);

    /* Writer argument checks. */
    rv_st_write_tensor dup[2] = {{"x", RV_ST_F32, 1, {1}, &scalar}, {"x", RV_ST_F32, 1, {1}, &scalar}};
    rv_error e5 = {0};
    CHECK(rv_safetensors_write(tpath("dup.safetensors"), dup, 2, NULL, 0, &e5) == RV_ERR_INVALID &&
              strstr(e5.msg, "'x'"),
          "writer rejects duplicates: %s", e5.msg);
    CHECK(access(tpath("dup.safetensors"), F_OK) != 0, "no file left behind");
    rv_st_write_tensor badt = {"y", RV_ST_UNKNOWN, 1, {1}, &scalar};
    rv_error e6 = {0};
    CHECK(rv_safetensors_write(tpath("bad.safetensors"), &badt, 1, NULL, 0, &e6) == RV_ERR_INVALID,
          "writer rejects unknown dtype");

    /* An empty file set: zero tensors is valid. */
    const char *p0 = tpath("zero.safetensors");
    rv_error e7 = {0};
    CHECK(rv_safetensors_write(p0, NULL, 0, NULL, 0, &e7) == RV_OK, "write empty: %s", e7.msg);
    track(p0);
    rv_safetensors *s0 = NULL;
    CHECK(rv_safetensors_open(&s0, p0, &e7) == RV_OK && rv_safetensors_count(s0) == 0,
          "open empty set: %s", e7.msg);
    rv_safetensors_close(s0);
    rv_safetensors_close(NULL);

    CHECK(rv_st_dtype_from_name("BF16") == RV_ST_BF16 && rv_st_dtype_from_name("bf16") == RV_ST_UNKNOWN,
          "dtype names");
    CHECK(strcmp(rv_st_dtype_name(RV_ST_F8_E4M3), "F8_E4M3") == 0 && rv_st_dtype_size(RV_ST_I64) == 8,
          "dtype table");
}

/* ---- corpus of broken files ---- */

#define T16 "\"dtype\":\"F32\",\"shape\":[4]"
#define ANY ~(uint64_t)0

static void test_corpus(void)
{
    const char *p;

    p = tpath("empty.safetensors");
    write_bytes(p, "", 0);
    expect_fail("empty file", p, RV_ERR_FORMAT, "0 bytes", NULL);

    p = tpath("truncated.safetensors");
    write_bytes(p, "\x10\x00\x00\x00\x00", 5);
    expect_fail("truncated", p, RV_ERR_FORMAT, "5 bytes", NULL);

    p = tpath("absurd.safetensors");
    write_st(p, "{}", 0, (uint64_t)1 << 40);
    expect_fail("absurd header length", p, RV_ERR_FORMAT, "absurd", NULL);

    p = tpath("huge.safetensors");
    write_st(p, "{}", 0, ~(uint64_t)0 - 3);
    expect_fail("header length near 2^64", p, RV_ERR_FORMAT, "absurd", NULL);

    p = tpath("beyond.safetensors");
    write_st(p, "{}", 10, 1000);
    expect_fail("header beyond file", p, RV_ERR_FORMAT, "runs past the end", NULL);

    p = tpath("notobj.safetensors");
    write_st(p, "[1, 2]  ", 0, ANY);
    expect_fail("header not an object", p, RV_ERR_FORMAT, "start with '{'", NULL);

    p = tpath("badjson.safetensors");
    write_st(p, "{\"a\": {\"dtype\": ", 0, ANY);
    expect_fail("invalid JSON", p, RV_ERR_FORMAT, "not valid JSON", NULL);

    p = tpath("garbage.safetensors");
    write_st(p, "{} xyz", 0, ANY);
    expect_fail("garbage after JSON", p, RV_ERR_FORMAT, "trailing bytes", NULL);

    p = tpath("badutf8.safetensors");
    write_st(p, "{\"a\xff\":{" T16 ",\"data_offsets\":[0,16]}}", 16, ANY);
    expect_fail("invalid UTF-8 in header", p, RV_ERR_FORMAT, "UTF-8", NULL);

    p = tpath("padded.safetensors");
    write_st(p, "{\"w\":{" T16 ",\"data_offsets\":[0,16]}}     ", 16, ANY);
    {
        rv_safetensors *st = NULL;
        rv_error err = {0};
        CHECK(rv_safetensors_open(&st, p, &err) == RV_OK && rv_safetensors_count(st) == 1,
              "space-padded header is valid: %s", err.msg);
        /* Unaligned data: the header length is odd-sized here. */
        float v[4];
        if (st) {
            CHECK(rv_safetensors_copy_f32(rv_safetensors_find(st, "w"), v, 4, &err) == RV_OK,
                  "copy from unaligned data");
            rv_safetensors_close(st);
        }
    }

    p = tpath("dtype.safetensors");
    write_st(p, "{\"enc.w\":{\"dtype\":\"F17\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, ANY);
    expect_fail("unknown dtype", p, RV_ERR_FORMAT, "'enc.w'", "unknown dtype \"F17\"", NULL);

    p = tpath("dtype_type.safetensors");
    write_st(p, "{\"enc.w\":{\"dtype\":32,\"shape\":[4],\"data_offsets\":[0,16]}}", 16, ANY);
    expect_fail("dtype wrong type", p, RV_ERR_FORMAT, "'enc.w'", "\"dtype\" is a number", NULL);

    p = tpath("no_dtype.safetensors");
    write_st(p, "{\"enc.w\":{\"shape\":[4],\"data_offsets\":[0,16]}}", 16, ANY);
    expect_fail("missing dtype", p, RV_ERR_FORMAT, "'enc.w'", "missing \"dtype\"", NULL);

    p = tpath("no_shape.safetensors");
    write_st(p, "{\"enc.w\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", 16, ANY);
    expect_fail("missing shape", p, RV_ERR_FORMAT, "'enc.w'", "missing \"shape\"", NULL);

    p = tpath("no_offsets.safetensors");
    write_st(p, "{\"enc.w\":{" T16 "}}", 16, ANY);
    expect_fail("missing data_offsets", p, RV_ERR_FORMAT, "'enc.w'", "missing \"data_offsets\"",
                NULL);

    p = tpath("shape_type.safetensors");
    write_st(p, "{\"enc.w\":{\"dtype\":\"F32\",\"shape\":\"4\",\"data_offsets\":[0,16]}}", 16, ANY);
    expect_fail("shape wrong type", p, RV_ERR_FORMAT, "'enc.w'", "\"shape\" is a string", NULL);

    p = tpath("shape_elem.safetensors");
    write_st(p, "{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[2,\"2\"],\"data_offsets\":[0,16]}}", 16, ANY);
    expect_fail("shape entry wrong type", p, RV_ERR_FORMAT, "'enc.w'", "shape[1] is a string", NULL);

    p = tpath("offsets_type.safetensors");
    write_st(p, "{\"enc.w\":{" T16 ",\"data_offsets\":{\"a\":0}}}", 16, ANY);
    expect_fail("data_offsets wrong type", p, RV_ERR_FORMAT, "'enc.w'",
                "\"data_offsets\" is an object", NULL);

    p = tpath("entry_type.safetensors");
    write_st(p, "{\"enc.w\":[1,2]}", 0, ANY);
    expect_fail("entry not an object", p, RV_ERR_FORMAT, "'enc.w'", "expected an object", NULL);

    p = tpath("neg.safetensors");
    write_st(p, "{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", 16, ANY);
    expect_fail("negative shape", p, RV_ERR_FORMAT, "'enc.w'", "shape[0] is -4", NULL);

    p = tpath("frac.safetensors");
    write_st(p, "{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,10]}}", 10, ANY);
    expect_fail("fractional shape", p, RV_ERR_FORMAT, "'enc.w'", "shape[0] is 2.5", NULL);

    p = tpath("ndim.safetensors");
    write_st(p, "{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,4],\"data_offsets\":[0,16]}}",
             16, ANY);
    expect_fail("too many dims", p, RV_ERR_FORMAT, "'enc.w'", "9 dimensions", NULL);

    p = tpath("prod.safetensors");
    write_st(p,
             "{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
             "\"data_offsets\":[0,16]}}",
             16, ANY);
    expect_fail("shape product overflow", p, RV_ERR_FORMAT, "'enc.w'", "shape product overflows", NULL);

    p = tpath("bytesize.safetensors");
    write_st(p,
             "{\"enc.w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],"
             "\"data_offsets\":[0,16]}}",
             16, ANY);
    expect_fail("byte size overflow", p, RV_ERR_FORMAT, "'enc.w'", "shape product overflows", NULL);

    p = tpath("bytesize2.safetensors");
    write_st(p,
             "{\"enc.w\":{\"dtype\":\"F64\",\"shape\":[4294967296,536870912],"
             "\"data_offsets\":[0,16]}}",
             16, ANY);
    expect_fail("byte size overflow (elements fit)", p, RV_ERR_FORMAT, "'enc.w'",
                "byte size of shape overflows", NULL);

    p = tpath("zero_dim_big.safetensors");
    write_st(p,
             "{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[0,4294967296,4294967296,16],"
             "\"data_offsets\":[0,0]}}",
             0, ANY);
    {
        rv_safetensors *st = NULL;
        rv_error err = {0};
        CHECK(rv_safetensors_open(&st, p, &err) == RV_OK &&
                  rv_safetensors_find(st, "enc.w")->numel == 0,
              "a zero dimension makes an empty tensor even with huge others: %s", err.msg);
        rv_safetensors_close(st);
    }

    p = tpath("big_number.safetensors");
    write_st(p, "{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,16]}}", 16, ANY);
    expect_fail("absurd shape number", p, RV_ERR_FORMAT, "'enc.w'", "shape[0]", NULL);

    p = tpath("offsets_count.safetensors");
    write_st(p, "{\"enc.w\":{" T16 ",\"data_offsets\":[0]}}", 16, ANY);
    expect_fail("one offset", p, RV_ERR_FORMAT, "'enc.w'", "has 1 entries", NULL);

    p = tpath("reversed.safetensors");
    write_st(p, "{\"enc.w\":{" T16 ",\"data_offsets\":[16,0]}}", 16, ANY);
    expect_fail("reversed offsets", p, RV_ERR_FORMAT, "'enc.w'", "reversed", NULL);

    p = tpath("range.safetensors");
    write_st(p, "{\"enc.w\":{" T16 ",\"data_offsets\":[0,1000]}}", 16, ANY);
    expect_fail("offsets beyond data", p, RV_ERR_FORMAT, "'enc.w'", "run past the data region",
                NULL);

    p = tpath("neg_offset.safetensors");
    write_st(p, "{\"enc.w\":{" T16 ",\"data_offsets\":[-16,0]}}", 16, ANY);
    expect_fail("negative offset", p, RV_ERR_FORMAT, "'enc.w'", "data_offsets[0] is -16", NULL);

    p = tpath("missized.safetensors");
    write_st(p, "{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12, ANY);
    expect_fail("mis-sized tensor", p, RV_ERR_FORMAT, "'enc.w'", "hold 12 bytes", "needs 16", NULL);

    p = tpath("overlap.safetensors");
    write_st(p,
             "{\"a.w\":{" T16 ",\"data_offsets\":[0,16]},\"b.w\":{" T16
             ",\"data_offsets\":[8,24]}}",
             24, ANY);
    expect_fail("overlapping tensors", p, RV_ERR_FORMAT, "'b.w'", "'a.w'", "overlap", NULL);

    p = tpath("same_span.safetensors");
    write_st(p,
             "{\"a.w\":{" T16 ",\"data_offsets\":[0,16]},\"b.w\":{" T16
             ",\"data_offsets\":[0,16]}}",
             16, ANY);
    expect_fail("two tensors on one span", p, RV_ERR_FORMAT, "'a.w'", "'b.w'", "overlap", NULL);

    p = tpath("hole.safetensors");
    write_st(p,
             "{\"a.w\":{" T16 ",\"data_offsets\":[0,16]},\"b.w\":{" T16
             ",\"data_offsets\":[20,36]}}",
             36, ANY);
    expect_fail("hole between tensors", p, RV_ERR_FORMAT, "'b.w'", "[16, 20)", NULL);

    p = tpath("hole_first.safetensors");
    write_st(p, "{\"a.w\":{" T16 ",\"data_offsets\":[4,20]}}", 20, ANY);
    expect_fail("hole before first", p, RV_ERR_FORMAT, "'a.w'", "[0, 4)", NULL);

    p = tpath("trailing.safetensors");
    write_st(p, "{\"a.w\":{" T16 ",\"data_offsets\":[0,16]}}", 20, ANY);
    expect_fail("trailing data", p, RV_ERR_FORMAT, "'a.w'", "4 trailing bytes", NULL);

    p = tpath("trailing_none.safetensors");
    write_st(p, "{}", 3, ANY);
    expect_fail("data with no tensors", p, RV_ERR_FORMAT, "3 trailing bytes", NULL);

    p = tpath("dup.safetensors");
    write_st(p,
             "{\"a.w\":{" T16 ",\"data_offsets\":[0,16]},\"a.w\":{" T16
             ",\"data_offsets\":[16,32]}}",
             32, ANY);
    expect_fail("duplicate names", p, RV_ERR_FORMAT, "'a.w'", "twice", NULL);

    p = tpath("meta_type.safetensors");
    write_st(p, "{\"__metadata__\":{\"format\":1}}", 0, ANY);
    expect_fail("metadata non-string", p, RV_ERR_FORMAT, "'format'", "strings", NULL);

    p = tpath("meta_obj.safetensors");
    write_st(p, "{\"__metadata__\":[\"x\"]}", 0, ANY);
    expect_fail("metadata not object", p, RV_ERR_FORMAT, "__metadata__", NULL);

    p = tpath("meta_dup.safetensors");
    write_st(p, "{\"__metadata__\":{},\"__metadata__\":{}}", 0, ANY);
    expect_fail("metadata twice", p, RV_ERR_FORMAT, "__metadata__", NULL);

    /* Valid edge cases: zero-size tensors between others, extra keys ignored. */
    p = tpath("edge_ok.safetensors");
    write_st(p,
             "{\"b\":{\"dtype\":\"F16\",\"shape\":[0,3],\"data_offsets\":[16,16]},"
             "\"a\":{" T16 ",\"data_offsets\":[0,16],\"extra\":true},"
             "\"c\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[16,17]}}",
             17, ANY);
    {
        rv_safetensors *st = NULL;
        rv_error err = {0};
        CHECK(rv_safetensors_open(&st, p, &err) == RV_OK, "edge cases valid: %s", err.msg);
        if (st) {
            const rv_st_tensor *c = rv_safetensors_find(st, "c");
            CHECK(c && c->ndim == 0 && c->nbytes == 1 && *(const unsigned char *)c->data == 16,
                  "u8 scalar at the end");
            rv_safetensors_close(st);
        }
    }

    p = tpath("does_not_exist.safetensors");
    expect_fail("missing file", p, RV_ERR_IO, "No such file", NULL);

    expect_fail("directory", tmpdir, RV_ERR_IO, "not a regular file", NULL);
}

/* ---- sharded ---- */

static void test_sharded(void)
{
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6}, c[3] = {7, 8, 9};
    rv_st_write_tensor s1[] = {{"down.0.w", RV_ST_F32, 2, {2, 2}, a}, {"down.0.b", RV_ST_F32, 1, {2}, b}};
    rv_st_write_tensor s2[] = {{"up.0.w", RV_ST_F32, 1, {3}, c}};
    rv_error err = {0};
    const char *sh1 = tpath("model-00001-of-00002.safetensors");
    const char *sh2 = tpath("model-00002-of-00002.safetensors");
    CHECK(rv_safetensors_write(sh1, s1, 2, NULL, 0, &err) == RV_OK, "write shard 1: %s", err.msg);
    CHECK(rv_safetensors_write(sh2, s2, 1, NULL, 0, &err) == RV_OK, "write shard 2: %s", err.msg);
    track(sh1);
    track(sh2);

    const char *good =
        "{\"metadata\": {\"total_size\": 36, \"note\": \"x\"}, \"weight_map\": {"
        "\"down.0.w\": \"model-00001-of-00002.safetensors\","
        "\"down.0.b\": \"model-00001-of-00002.safetensors\","
        "\"up.0.w\": \"model-00002-of-00002.safetensors\"}}";
    const char *ip = tpath("model.safetensors.index.json");
    write_bytes(ip, good, strlen(good));
    rv_safetensors *st = NULL;
    CHECK(rv_safetensors_open(&st, ip, &err) == RV_OK, "open sharded: %s", err.msg);
    if (st) {
        CHECK(rv_safetensors_count(st) == 3 && rv_safetensors_file_count(st) == 2, "merged count");
        const rv_st_tensor *t = rv_safetensors_find(st, "up.0.w");
        float v[3];
        CHECK(t && strstr(t->file, "00002") && rv_safetensors_copy_f32(t, v, 3, &err) == RV_OK &&
                  v[2] == 9.0f,
              "tensor from shard 2");
        t = rv_safetensors_find(st, "down.0.b");
        CHECK(t && strstr(t->file, "00001") && memcmp(t->data, b, 8) == 0, "tensor from shard 1");
        const char *ts = rv_safetensors_metadata(st, "total_size");
        CHECK(ts && strcmp(ts, "36") == 0, "index metadata total_size: %s", ts ? ts : "(null)");
        CHECK(strcmp(rv_safetensors_path(st), ip) == 0, "path");
        rv_safetensors_close(st);
    }

    struct {
        const char *label, *file, *json;
        rv_status code;
        const char *sub1, *sub2;
    } cases[] = {
        {"missing shard", "a.safetensors.index.json",
         "{\"weight_map\": {\"down.0.w\": \"model-00001-of-00002.safetensors\","
         "\"x\": \"model-00009-of-00009.safetensors\"}}",
         RV_ERR_IO, "model-00009-of-00009.safetensors", "No such file"},
        {"tensor not in shard", "b.safetensors.index.json",
         "{\"weight_map\": {\"down.0.w\": \"model-00001-of-00002.safetensors\","
         "\"mid.w\": \"model-00002-of-00002.safetensors\"}}",
         RV_ERR_FORMAT, "'mid.w'", "does not contain"},
        {"tensor in the wrong shard", "c.safetensors.index.json",
         "{\"weight_map\": {\"down.0.w\": \"model-00002-of-00002.safetensors\","
         "\"up.0.w\": \"model-00001-of-00002.safetensors\"}}",
         RV_ERR_FORMAT, "'down.0.w'", "lives in"},
        {"no weight_map", "d.safetensors.index.json", "{\"metadata\": {}}", RV_ERR_FORMAT,
         "weight_map", NULL},
        {"weight_map value not a string", "e.safetensors.index.json",
         "{\"weight_map\": {\"down.0.w\": 3}}", RV_ERR_FORMAT, "'down.0.w'", "a number"},
        {"index invalid JSON", "f.safetensors.index.json", "{\"weight_map\": {", RV_ERR_FORMAT,
         "not valid JSON", NULL},
        {"shard outside the folder", "g.safetensors.index.json",
         "{\"weight_map\": {\"w\": \"../etc/model.safetensors\"}}", RV_ERR_FORMAT, "'w'",
         "beside the index"},
        {"corrupt shard", "h.safetensors.index.json",
         "{\"weight_map\": {\"enc.w\": \"dtype.safetensors\"}}", RV_ERR_FORMAT, "dtype.safetensors",
         "'enc.w'"},
        {"tensor in two shards", "i.safetensors.index.json",
         "{\"weight_map\": {\"down.0.w\": \"model-00001-of-00002.safetensors\","
         "\"x\": \"dupshard.safetensors\"}}",
         RV_ERR_FORMAT, "'down.0.w'", "two shards"},
        {"metadata not an object", "j.safetensors.index.json",
         "{\"metadata\": 5, \"weight_map\": {}}", RV_ERR_FORMAT, "metadata", NULL},
    };
    rv_st_write_tensor dupw[] = {{"down.0.w", RV_ST_F32, 2, {2, 2}, a}, {"x", RV_ST_F32, 1, {2}, b}};
    CHECK(rv_safetensors_write(tpath("dupshard.safetensors"), dupw, 2, NULL, 0, &err) == RV_OK,
          "write dup shard");
    track(tpath("dupshard.safetensors"));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = tpath(cases[i].file);
        write_bytes(p, cases[i].json, strlen(cases[i].json));
        expect_fail(cases[i].label, p, cases[i].code, cases[i].sub1, cases[i].sub2, NULL);
    }
    expect_fail("missing index", tpath("nothing.safetensors.index.json"), RV_ERR_IO, "No such file",
                NULL);
}

/* ---- files written by the project's PyTorch reference (tools/reverie_ref) ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = 0;
    fclose(f);
    return b;
}

static const char *fixture(const char *rel)
{
    static char buf[4][512];
    static int k;
    const char *src = getenv("RV_SOURCE_DIR");
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/tests/fixtures/%s", src ? src : "..", rel);
    return buf[k];
}

static void test_fixtures(void)
{
    char *text = slurp(fixture("safetensors/expected.json"));
    cJSON *exp = text ? cJSON_Parse(text) : NULL;
    CHECK(exp != NULL, "read %s", fixture("safetensors/expected.json"));
    if (!exp) {
        free(text);
        return;
    }
    rv_safetensors *st = NULL;
    rv_error err = {0};
    CHECK(rv_safetensors_open(&st, fixture("safetensors/dtypes.safetensors"), &err) == RV_OK,
          "open dtypes fixture: %s", err.msg);
    const cJSON *e;
    cJSON_ArrayForEach(e, (st ? cJSON_GetObjectItemCaseSensitive(exp, "dtypes") : NULL))
    {
        const rv_st_tensor *t = rv_safetensors_find(st, e->string);
        CHECK(t != NULL, "fixture tensor %s", e->string);
        if (!t)
            continue;
        const char *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring;
        CHECK(strcmp(rv_st_dtype_name(t->dtype), dt) == 0, "%s dtype %s", e->string, dt);
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        int nd = cJSON_GetArraySize(shape);
        bool shape_ok = nd == t->ndim;
        for (int d = 0; shape_ok && d < nd; d++)
            shape_ok = (double)t->shape[d] == cJSON_GetArrayItem(shape, d)->valuedouble;
        CHECK(shape_ok, "%s shape (rank %d, expected %d)", e->string, t->ndim, nd);
        const cJSON *vals = cJSON_GetObjectItemCaseSensitive(e, "values");
        uint64_t n = (uint64_t)cJSON_GetArraySize(vals);
        CHECK(t->numel == n, "%s numel %llu", e->string, (unsigned long long)t->numel);
        if (t->numel != n)
            continue;
        if (t->dtype == RV_ST_I64) {
            for (uint64_t i = 0; i < n; i++) {
                int64_t v;
                memcpy(&v, (const char *)t->data + 8 * i, 8);
                CHECK((double)v == cJSON_GetArrayItem(vals, (int)i)->valuedouble, "%s[%llu]",
                      e->string, (unsigned long long)i);
            }
            continue;
        }
        float *f = malloc((n ? n : 1) * sizeof *f);
        CHECK(rv_safetensors_copy_f32(t, f, n, &err) == RV_OK, "%s copy: %s", e->string, err.msg);
        int bad = 0;
        for (uint64_t i = 0; i < n; i++) {
            double want = cJSON_GetArrayItem(vals, (int)i)->valuedouble;
            if ((double)f[i] != want || !signbit(f[i]) != !signbit(want))
                bad++;
        }
        CHECK(bad == 0, "%s: %d values differ from the reference", e->string, bad);
        free(f);
    }
    /* torch's float32 -> float16 (round to nearest even) against ours. */
    const rv_st_tensor *t32 = st ? rv_safetensors_find(st, "f32") : NULL;
    const rv_st_tensor *t16 = st ? rv_safetensors_find(st, "f16") : NULL;
    if (t32 && t16 && t32->numel == t16->numel && t32->numel <= 64) {
        uint16_t h[64];
        CHECK(rv_safetensors_copy_f16(t32, h, t32->numel, &err) == RV_OK &&
                  memcmp(h, t16->data, t16->nbytes) == 0,
              "F32 -> f16 equals torch's .half()");
    }
    CHECK(st && rv_safetensors_metadata(st, "format") &&
              strcmp(rv_safetensors_metadata(st, "format"), "pt") == 0,
          "fixture metadata");
    rv_safetensors_close(st);

    st = NULL;
    CHECK(rv_safetensors_open(&st, fixture("safetensors/model.safetensors.index.json"), &err) ==
              RV_OK,
          "open sharded fixture: %s", err.msg);
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(exp, "sharded_values");
    CHECK(st && rv_safetensors_count(st) == (size_t)cJSON_GetArraySize(sv) &&
              rv_safetensors_file_count(st) == 2,
          "sharded fixture count");
    cJSON_ArrayForEach(e, (st ? sv : NULL))
    {
        const rv_st_tensor *t = rv_safetensors_find(st, e->string);
        float f[64];
        int bad = !t || t->numel > 64 || t->numel != (uint64_t)cJSON_GetArraySize(e);
        if (!bad && rv_safetensors_copy_f32(t, f, t->numel, &err) != RV_OK)
            bad = 1;
        for (uint64_t i = 0; !bad && i < t->numel; i++)
            bad = (double)f[i] != cJSON_GetArrayItem(e, (int)i)->valuedouble;
        CHECK(!bad, "sharded fixture %s", e->string);
    }
    CHECK(st && rv_safetensors_metadata(st, "total_size") &&
              strcmp(rv_safetensors_metadata(st, "total_size"), "192") == 0,
          "sharded fixture total_size");
    rv_safetensors_close(st);
    cJSON_Delete(exp);
    free(text);

    /* The tiny model folders open cleanly, the 3-shard text encoder included. */
    static const char *files[] = {
        "tiny-sd15/text_encoder/model.safetensors",
        "tiny-sd15/unet/diffusion_pytorch_model.safetensors",
        "tiny-sd15/vae/diffusion_pytorch_model.safetensors",
        "tiny-sd15/vae_tiny/diffusion_pytorch_model.fp16.safetensors",
        "tiny-sd21/text_encoder/model.safetensors.index.json",
        "tiny-sd21/vae_tiny/diffusion_pytorch_model.bf16.safetensors",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        rv_error e2 = {0};
        st = NULL;
        CHECK(rv_safetensors_open(&st, fixture(files[i]), &e2) == RV_OK &&
                  rv_safetensors_count(st) > 0,
              "open %s: %s", files[i], e2.msg);
        rv_safetensors_close(st);
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rv_st_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_half();
    test_round_trip();
    test_corpus();
    test_sharded();
    test_fixtures();
    for (int i = 0; i < n_created; i++)
        remove(created[i]);
    rmdir(tmpdir);
    return rv_test_finish("test_safetensors");
}

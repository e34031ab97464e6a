/* Regression tests for hostile inputs (issue 16): the tokenizer decoder on
 * short entries, duplicate-key checks on 200,000-key inputs, tokenizer vs
 * text-encoder vocabularies, NUL characters in safetensors headers, config
 * sizes that used to wrap around, non-finite weights. Exact messages.
 * Not a fuzzer (tests/fuzz) and never a timing assertion: times are printed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rv_test.h"
#include "loader/config.h"
#include "loader/diffusers.h"
#include "loader/safetensors.h"
#include "models/tokenizer.h"

static char tmpdir[64];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void put_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* A safetensors file whose header is exactly `json` (no data region). */
static void put_header(const char *path, const char *json, size_t n)
{
    unsigned char *b = malloc(n + 8);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, json, n);
    put_bytes(path, b, n + 8);
    free(b);
}

static void expect_msg(const char *label, rv_status got, rv_status want, const rv_error *err, const char *msg)
{
    CHECK(got == want, "%s: status %s, want %s: %s", label, rv_status_name(got), rv_status_name(want), err->msg);
    CHECK(strcmp(err->msg, msg) == 0, "%s: message\n  got  '%s'\n  want '%s'", label, err->msg, msg);
}

/* ---- class 1: decode reads past short vocabulary entries ---- */

static void test_decode_short_entries(void)
{
    char path[512];
    rv_tokenizer *tok = NULL;
    rv_error err = {0};
    CHECK(rv_tokenizer_load(&tok, rv_test_shared("models/sd15/tokenizer", path, sizeof path), &err) == RV_OK,
          "load sd15 tokenizer: %s", err.msg);
    if (!tok)
        return;
    /* "<" is two bytes with its NUL: comparing four for "</w>" ran past it
     * (ASan: heap-buffer-overflow) */
    const char *shorts[] = {"<", "</", "</w", "<</w>", "w"};
    for (size_t i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++) {
        int32_t id = rv_tokenizer_token_id(tok, shorts[i]);
        if (id < 0)
            continue;
        char *text = NULL;
        CHECK(rv_tokenizer_decode(tok, &id, 1, false, &text, &err) == RV_OK, "decode '%s': %s", shorts[i], err.msg);
        CHECK(text && strcmp(text, strcmp(shorts[i], "<</w>") == 0 ? "< " : shorts[i]) == 0,
              "decode '%s' gave '%s'", shorts[i], text ? text : "(null)");
        free(text);
    }
    /* a long prompt whose cut-off part holds bare '<' tokens, decoded whole */
    char prompt[4096] = "";
    for (int i = 0; i < 200; i++)
        strcat(prompt, i % 3 ? "word " : "< ");
    int32_t ids[1024];
    size_t n = 0;
    CHECK(rv_tokenizer_tokenize(tok, prompt, ids, 1024, &n, &err) == RV_OK && n > 77, "tokenize: %s", err.msg);
    char *text = NULL;
    CHECK(rv_tokenizer_decode(tok, ids, n < 1024 ? n : 1024, true, &text, &err) == RV_OK, "decode: %s", err.msg);
    CHECK(text && strncmp(text, "< word word < ", 14) == 0, "decoded '%.40s'", text ? text : "(null)");
    free(text);

    /* class 3: the tokenizer's ids must fit the text encoder's table */
    CHECK(rv_tokenizer_check_encoder(tok, 49408, "m", &err) == RV_OK, "sd15 fits 49408: %s", err.msg);
    err = (rv_error){0};
    rv_status s = rv_tokenizer_check_encoder(tok, 1000, "models/x", &err);
    expect_msg("vocab sizes", s, RV_ERR_FORMAT, &err,
               "LOAD: models/x: the tokenizer's vocabulary has ids up to 49407 (<|endoftext|>) but the text "
               "encoder's vocab_size is 1000: the tokenizer and text encoder do not belong together");
    rv_tokenizer_unload(tok);
}

/* ---- class 2: duplicate-key checks on attacker-sized input ---- */

#define NKEYS 200000

/* {"k0000000": <value>, ...}: NKEYS keys, about 3 MB; with `dup`, the
 * last key repeats key 12345. Values are strings or {} per `value`. */
static char *many_keys(const char *head, const char *value, bool dup, size_t *len)
{
    size_t cap = (size_t)NKEYS * (24 + strlen(value)) + strlen(head) + 64, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n, "{%s", head);
    for (int i = 0; i < NKEYS; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s\"k%07d\":%s", i || *head ? "," : "",
                              dup && i == NKEYS - 1 ? 12345 : i, value);
    n += (size_t)snprintf(s + n, cap - n, "}");
    *len = n;
    return s;
}

static void test_many_keys(void)
{
    size_t len;
    rv_error err = {0};
    rv_cfg c;
    /* config.json: parsed (the key policy is a component parser's business) */
    char *json = many_keys("", "1", false, &len);
    double t0 = now();
    rv_status s = rv_cfg_parse(&c, json, "big.json", &err);
    double t1 = now();
    CHECK(s == RV_OK, "200,000-key config: %s", err.msg);
    printf("config.json, %d keys, %.1f MB: parsed in %.3f s\n", NKEYS, len / 1e6, t1 - t0);
    if (!s)
        rv_cfg_free(&c);
    free(json);
    /* a UNet config of that size is refused at its first unknown key */
    json = many_keys("\"_class_name\":\"UNet2DConditionModel\"", "1", false, &len);
    rv_unet_config uc;
    err = (rv_error){0};
    t0 = now();
    s = rv_unet_config_parse(&uc, json, "unet.json", &err);
    t1 = now();
    expect_msg("200,000-key unet config", s, RV_ERR_FORMAT, &err,
               "LOAD: unet.json: key \"k0000000\": unknown option (it may change the computation; refusing rather "
               "than guessing)");
    printf("UNet config.json, %d keys, %.1f MB: refused in %.3f s\n", NKEYS, len / 1e6, t1 - t0);
    free(json);
    json = many_keys("", "1", true, &len);
    err = (rv_error){0};
    t0 = now();
    s = rv_cfg_parse(&c, json, "dup.json", &err);
    t1 = now();
    expect_msg("duplicate key", s, RV_ERR_FORMAT, &err, "LOAD: dup.json: key \"k0012345\": appears more than once");
    printf("config.json, %d keys, one duplicate: refused in %.3f s\n", NKEYS, t1 - t0);
    free(json);

    /* safetensors __metadata__ with 200,000 keys */
    char path[256];
    snprintf(path, sizeof path, "%s/meta.safetensors", tmpdir);
    for (int dup = 0; dup < 2; dup++) {
        char *inner = many_keys("", "\"v\"", dup, &len);
        char *hdr = malloc(len + 64);
        int n = snprintf(hdr, len + 64, "{\"__metadata__\":%s}", inner);
        put_header(path, hdr, (size_t)n);
        rv_safetensors *st = NULL;
        err = (rv_error){0};
        t0 = now();
        s = rv_safetensors_open(&st, path, &err);
        t1 = now();
        if (!dup) {
            CHECK(s == RV_OK && rv_safetensors_metadata_count(st) == NKEYS, "200,000 metadata keys: %s", err.msg);
        } else {
            char want[512];
            snprintf(want, sizeof want, "safetensors: %s: \"__metadata__\" has duplicate key 'k0012345'", path);
            expect_msg("metadata duplicate", s, RV_ERR_FORMAT, &err, want);
        }
        printf("safetensors header, %d metadata keys%s, %.1f MB: %s in %.3f s\n", NKEYS, dup ? " (one duplicate)" : "",
               n / 1e6, s ? "refused" : "opened", t1 - t0);
        rv_safetensors_close(st);
        free(hdr);
        free(inner);
    }

    /* safetensors header with 200,000 (empty) tensors */
    {
        const char *empty = "{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
        char *hdr = many_keys("", empty, false, &len);
        snprintf(path, sizeof path, "%s/many.safetensors", tmpdir);
        put_header(path, hdr, len);
        rv_safetensors *st = NULL;
        err = (rv_error){0};
        t0 = now();
        s = rv_safetensors_open(&st, path, &err);
        t1 = now();
        CHECK(s == RV_OK && rv_safetensors_count(st) == NKEYS, "200,000 tensors: %s", err.msg);
        printf("safetensors header, %d tensors, %.1f MB: opened in %.3f s\n", NKEYS, len / 1e6, t1 - t0);
        rv_safetensors_close(st);
        free(hdr);
    }

    /* sharded index: 200,000 entries naming 200,000 shards (the shard list
     * was deduplicated pairwise), and a repeated tensor name */
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", tmpdir);
    for (int dup = 0; dup < 2; dup++) {
        size_t cap = (size_t)NKEYS * 40 + 64, n = 0;
        char *idx = malloc(cap);
        n += (size_t)snprintf(idx, cap, "{\"weight_map\":{");
        for (int i = 0; i < NKEYS; i++)
            n += (size_t)snprintf(idx + n, cap - n, "%s\"t%07d\":\"s%07d.safetensors\"", i ? "," : "",
                                  dup && i == NKEYS - 1 ? 7 : i, i);
        n += (size_t)snprintf(idx + n, cap - n, "}}");
        put_bytes(path, idx, n);
        rv_safetensors *st = NULL;
        err = (rv_error){0};
        t0 = now();
        s = rv_safetensors_open(&st, path, &err);
        t1 = now();
        char want[512];
        if (dup)
            snprintf(want, sizeof want, "safetensors: %s: \"weight_map\" names tensor 't0000007' twice", path);
        else
            snprintf(want, sizeof want, "safetensors: %s: shard 's0000000.safetensors': safetensors: cannot open "
                     "%s/s0000000.safetensors: No such file or directory", path, tmpdir);
        expect_msg(dup ? "index duplicate" : "index 200,000 shards", s, dup ? RV_ERR_FORMAT : RV_ERR_IO, &err, want);
        printf("sharded index, %d entries%s, %.1f MB: refused in %.3f s\n", NKEYS, dup ? " (one duplicate)" : "",
               n / 1e6, t1 - t0);
        rv_safetensors_close(st);
        free(idx);
    }
}

/* ---- class 3: a NUL inside a header string ---- */

static void test_header_nul(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/nul.safetensors", tmpdir);
    static const char escaped[] = "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}";
    static const char raw[] = "{\"ab\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}";
    static const char fine[] = "{\"a\\\\u0000b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}";
    char want[512];
    rv_error err = {0};
    rv_safetensors *st = NULL;
    put_header(path, escaped, sizeof(escaped) - 1);
    snprintf(want, sizeof want, "safetensors: %s: header holds a NUL character (header byte 3); names and strings "
             "cannot contain one", path);
    expect_msg("escaped NUL", rv_safetensors_open(&st, path, &err), RV_ERR_FORMAT, &err, want);
    char r[sizeof(raw)];
    memcpy(r, raw, sizeof(raw));
    r[2] = 0;   /* "a<NUL>" */
    put_header(path, r, sizeof(r) - 1);
    err = (rv_error){0};
    snprintf(want, sizeof want, "safetensors: %s: header holds a NUL character (header byte 2); names and strings "
             "cannot contain one", path);
    expect_msg("raw NUL", rv_safetensors_open(&st, path, &err), RV_ERR_FORMAT, &err, want);
    /* an escaped backslash before "u0000" is text, not a NUL */
    put_header(path, fine, sizeof(fine) - 1);
    err = (rv_error){0};
    CHECK(rv_safetensors_open(&st, path, &err) == RV_OK && st && strcmp(rv_safetensors_tensor(st, 0)->name,
                                                                        "a\\u0000b") == 0, "escaped backslash: %s",
          err.msg);
    rv_safetensors_close(st);
}

/* ---- class 4: sizes that wrapped around ---- */

static void unet_case(const char *label, const char *edit_from, const char *edit_to, const char *want)
{
    char json[2048];
    const char *base = "{\"_class_name\": \"UNet2DConditionModel\", \"attention_head_dim\": 2, "
                       "\"block_out_channels\": [16, 32], \"cross_attention_dim\": 16, "
                       "\"down_block_types\": [\"CrossAttnDownBlock2D\", \"DownBlock2D\"], "
                       "\"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\"], \"in_channels\": 4, "
                       "\"out_channels\": 4, \"layers_per_block\": 2, \"norm_num_groups\": 8, \"sample_size\": 8}";
    const char *at = strstr(base, edit_from);
    snprintf(json, sizeof json, "%.*s%s%s", (int)(at - base), base, edit_to, at + strlen(edit_from));
    rv_unet_config cfg;
    rv_error err = {0};
    rv_status s = rv_unet_config_parse(&cfg, json, "unet/config.json", &err);
    if (want)
        expect_msg(label, s, RV_ERR_FORMAT, &err, want);
    else
        CHECK(s == RV_OK, "%s: %s", label, err.msg);
}

static void test_wrapping_sizes(void)
{
    unet_case("unet ok", "16, 32", "16, 32", NULL);
    unet_case("huge channels", "16, 32", "1073741824, 32",
              "LOAD: unet/config.json: key \"block_out_channels[0]\": 1073741824 is more than Reverie supports "
              "(at most 65536)");
    unet_case("huge sample", "\"sample_size\": 8", "\"sample_size\": 1073741824",
              "LOAD: unet/config.json: key \"sample_size\": 1073741824 is more than Reverie supports (at most 2048)");
    unet_case("layers", "\"layers_per_block\": 2", "\"layers_per_block\": 100",
              "LOAD: unet/config.json: key \"layers_per_block\": 100 is more than Reverie supports (at most 7)");
    unet_case("layers list", "\"layers_per_block\": 2", "\"layers_per_block\": [2, 8]",
              "LOAD: unet/config.json: key \"layers_per_block[1]\": 8 is more than Reverie supports (at most 7)");
    rv_vae_config vc;
    rv_error err = {0};
    rv_status s = rv_vae_config_parse(&vc, "{\"block_out_channels\": [8], \"down_block_types\": [\"DownEncoderBlock2D\"], "
                                      "\"up_block_types\": [\"UpDecoderBlock2D\"], \"in_channels\": 3, \"out_channels\": 3, "
                                      "\"latent_channels\": 4, \"layers_per_block\": 1, \"norm_num_groups\": 4, "
                                      "\"sample_size\": 1000000}", "vae/config.json", &err);
    expect_msg("vae sample", s, RV_ERR_FORMAT, &err,
               "LOAD: vae/config.json: key \"sample_size\": 1000000 is more than Reverie supports (at most 16384)");
    rv_clip_text_config cc;
    err = (rv_error){0};
    s = rv_clip_text_config_parse(&cc, "{\"vocab_size\": 100, \"hidden_size\": 1000000, \"intermediate_size\": 8, "
                                  "\"num_hidden_layers\": 1, \"num_attention_heads\": 1}", "te/config.json", &err);
    expect_msg("clip width", s, RV_ERR_FORMAT, &err,
               "LOAD: te/config.json: key \"hidden_size\": 1000000 is more than Reverie supports (at most 65536)");
}

/* ---- class 3: the non-finite scan of checkpoint tensors ---- */

static void test_nonfinite_scan(void)
{
    enum { N = 10000 };   /* more than one scan block */
    static uint32_t f32[N];
    static uint16_t f16[N], bf16[N];
    static uint64_t f64[N];
    for (int i = 0; i < N; i++) {
        float x = (float)(i % 97) - 48.0f;
        memcpy(&f32[i], &x, 4);
        f16[i] = (uint16_t)(0x3c00 + i % 512);   /* finite halves near 1 */
        bf16[i] = (uint16_t)(f32[i] >> 16);
        double d = x;
        memcpy(&f64[i], &d, 8);
    }
    struct { rv_st_dtype dt; void *p; size_t es; uint64_t nan, pinf, ninf; } cases[] = {
        {RV_ST_F32, f32, 4, 0x7fc00001u, 0x7f800000u, 0xff800000u},
        {RV_ST_F16, f16, 2, 0x7e00u, 0x7c00u, 0xfc00u},
        {RV_ST_BF16, bf16, 2, 0x7fc1u, 0x7f80u, 0xff80u},
        {RV_ST_F64, f64, 8, 0x7ff8000000000000ull, 0x7ff0000000000000ull, 0xfff0000000000000ull},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        rv_st_tensor t = {.name = "w", .file = "f", .dtype = cases[c].dt, .ndim = 1, .shape = {N}, .numel = N,
                          .data = cases[c].p, .nbytes = (uint64_t)N * cases[c].es};
        uint64_t at = 0;
        const char *what = NULL;
        CHECK(!rv_safetensors_find_nonfinite(&t, &at, &what), "%s clean tensor flagged at %llu",
              rv_st_dtype_name(cases[c].dt), (unsigned long long)at);
        const uint64_t bits[3] = {cases[c].nan, cases[c].pinf, cases[c].ninf};
        const char *names[3] = {"NaN", "+Inf", "-Inf"};
        for (int k = 0; k < 3; k++) {
            unsigned char *p = cases[c].p;
            const size_t pos = 4096 + 7 + (size_t)k * 1000;
            unsigned char save[8];
            memcpy(save, p + pos * cases[c].es, cases[c].es);
            memcpy(p + pos * cases[c].es, &bits[k], cases[c].es);   /* little-endian host */
            bool found = rv_safetensors_find_nonfinite(&t, &at, &what);
            CHECK(found && at == pos && strcmp(what, names[k]) == 0, "%s %s: found %d at %llu (%s)",
                  rv_st_dtype_name(cases[c].dt), names[k], found, (unsigned long long)at, what ? what : "-");
            memcpy(p + pos * cases[c].es, save, cases[c].es);
        }
    }
    rv_st_tensor it = {.name = "i", .file = "f", .dtype = RV_ST_I32, .ndim = 1, .shape = {N}, .numel = N,
                       .data = f32, .nbytes = (uint64_t)N * 4};
    memset(f32, 0xff, sizeof f32);
    CHECK(!rv_safetensors_find_nonfinite(&it, NULL, NULL), "integer tensors are not scanned");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rv_hard_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_decode_short_entries();
    test_many_keys();
    test_header_nul();
    test_wrapping_sizes();
    test_nonfinite_scan();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return rv_test_finish("test_hardening");
}

/* CLIP BPE tokenizer: vocabulary and merge loading, pre-tokenisation with
 * PCRE2 (the reference regex, Unicode properties, caseless), byte-level BPE
 * with a per-word cache, 77-id framing, and a debugging decoder.
 * Not the prompt clean-up (tokenizer_text.c) and not the text encoder.
 *
 * BPE follows simple_tokenizer.py's bpe() exactly: each round takes the
 * adjacent pair with the lowest merge rank and merges every occurrence of
 * it left to right. A heap of (rank, position) makes that O(n log n) rather
 * than the reference's O(n^2), without changing the result. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>

#include "models/tokenizer.h"
#include "models/tokenizer_text.h"

/* The reference reads merges.txt lines [1 : 49152-256-2+1]. */
#define MAX_MERGES (49152 - 256 - 2)
#define MAX_ID (1 << 24)
#define CACHE_MAX_WORD 256
#define CACHE_MAX_ENTRIES 32768

/* The reference pattern, with two changes that keep PCRE2 matching what
 * Python's `regex` module matches for it:
 *  - `\s` is a plain space: after clean-up the only White_Space left is
 *    U+0020, and PCRE2's \s also takes U+180E, which `regex` does not;
 *  - U+0345 is kept out of the last class: under IGNORECASE `regex` lets it
 *    match neither [\p{L}] nor [^\s\p{L}\p{N}] (it case-folds to a letter),
 *    so the reference skips it like a space. */
static const char *const clip_pattern =
    "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|"
    "[^ \\p{L}\\p{N}\\x{345}]+";

/* ---- string -> (a, b) hash map, keys owned by the map ---- */

typedef struct smap_entry {
    char *key;
    uint32_t len;
    uint32_t a, b;
} smap_entry;

typedef struct smap {
    uint32_t *slots;      /* entry index + 1; 0 = empty */
    uint32_t mask;
    smap_entry *e;
    uint32_t n, cap;
} smap;

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static void smap_free(smap *m)
{
    for (uint32_t i = 0; i < m->n; i++)
        free(m->e[i].key);
    free(m->e);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static bool smap_init(smap *m, uint32_t expect)
{
    uint32_t cap = 16;
    while (cap < expect * 2)
        cap *= 2;
    memset(m, 0, sizeof *m);
    m->slots = calloc(cap, sizeof *m->slots);
    m->e = malloc((expect ? expect : 1) * sizeof *m->e);
    m->mask = cap - 1;
    m->cap = expect ? expect : 1;
    return m->slots && m->e;
}

static smap_entry *smap_find(const smap *m, const char *k, size_t len)
{
    for (uint64_t i = hash_bytes(k, len) & m->mask;; i = (i + 1) & m->mask) {
        uint32_t s = m->slots[i];
        if (!s)
            return NULL;
        smap_entry *e = &m->e[s - 1];
        if (e->len == len && memcmp(e->key, k, len) == 0)
            return e;
    }
}

/* Copies the key. 1 inserted, 0 already present, -1 out of memory. */
static int smap_insert(smap *m, const char *k, size_t len, uint32_t a, uint32_t b)
{
    if ((m->n + 1) * 2 > m->mask + 1) {
        uint32_t cap = (m->mask + 1) * 2;
        uint32_t *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return -1;
        for (uint32_t j = 0; j < m->n; j++) {
            uint64_t i = hash_bytes(m->e[j].key, m->e[j].len) & (cap - 1);
            while (slots[i])
                i = (i + 1) & (cap - 1);
            slots[i] = j + 1;
        }
        free(m->slots);
        m->slots = slots;
        m->mask = cap - 1;
    }
    uint64_t i = hash_bytes(k, len) & m->mask;
    for (; m->slots[i]; i = (i + 1) & m->mask) {
        smap_entry *e = &m->e[m->slots[i] - 1];
        if (e->len == len && memcmp(e->key, k, len) == 0)
            return 0;
    }
    if (m->n == m->cap) {
        smap_entry *e = realloc(m->e, (size_t)m->cap * 2 * sizeof *e);
        if (!e)
            return -1;
        m->e = e;
        m->cap *= 2;
    }
    char *key = malloc(len + 1);
    if (!key)
        return -1;
    memcpy(key, k, len);
    key[len] = 0;
    m->e[m->n] = (smap_entry){key, (uint32_t)len, a, b};
    m->slots[i] = ++m->n;
    return 1;
}

/* ---- (id, id) -> (rank, merged id) ---- */

typedef struct pmap {
    uint64_t *keys;       /* UINT64_MAX = empty */
    int32_t *rank, *merged;
    uint32_t mask;
} pmap;

static uint64_t pair_key(int32_t a, int32_t b)
{
    return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}

static uint64_t pair_slot(uint64_t k, uint32_t mask)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k & mask;
}

static bool pmap_init(pmap *m, uint32_t expect)
{
    uint32_t cap = 16;
    while (cap < expect * 2)
        cap *= 2;
    m->keys = malloc(cap * sizeof *m->keys);
    m->rank = malloc(cap * sizeof *m->rank);
    m->merged = malloc(cap * sizeof *m->merged);
    m->mask = cap - 1;
    if (!m->keys || !m->rank || !m->merged)
        return false;
    memset(m->keys, 0xff, cap * sizeof *m->keys);
    return true;
}

static void pmap_free(pmap *m)
{
    free(m->keys);
    free(m->rank);
    free(m->merged);
    memset(m, 0, sizeof *m);
}

/* Later ranks overwrite earlier ones, as the reference's dict does. */
static void pmap_put(pmap *m, int32_t a, int32_t b, int32_t rank, int32_t merged)
{
    uint64_t k = pair_key(a, b);
    uint64_t i = pair_slot(k, m->mask);
    while (m->keys[i] != UINT64_MAX && m->keys[i] != k)
        i = (i + 1) & m->mask;
    m->keys[i] = k;
    m->rank[i] = rank;
    m->merged[i] = merged;
}

/* Rank of the pair, or -1 when it is not a merge. */
static int32_t pmap_get(const pmap *m, int32_t a, int32_t b, int32_t *merged)
{
    uint64_t k = pair_key(a, b);
    for (uint64_t i = pair_slot(k, m->mask); m->keys[i] != UINT64_MAX; i = (i + 1) & m->mask) {
        if (m->keys[i] == k) {
            if (merged)
                *merged = m->merged[i];
            return m->rank[i];
        }
    }
    return -1;
}

/* ---- the tokenizer ---- */

typedef struct idbuf {
    int32_t *p;
    size_t n, cap;
    bool failed;
} idbuf;

static void ids_push(idbuf *b, int32_t v)
{
    if (b->failed)
        return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        int32_t *p = realloc(b->p, cap * sizeof *p);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    b->p[b->n++] = v;
}

struct rv_tokenizer {
    char *dir;
    int32_t n_vocab;           /* largest id + 1 */
    const char **id_token;     /* [n_vocab], NULL for unused ids; keys of `vocab` */
    smap vocab;                /* token -> (id, -) */
    pmap merges;
    int32_t byte_id[256];      /* byte-level symbol of each byte */
    int32_t byte_eow_id[256];  /* the same with "</w>" */
    int16_t byte_of_cp[512];   /* inverse of bytes_to_unicode; -1 elsewhere */
    int32_t bos, eos, pad, unk;
    pcre2_code *re;
    pcre2_match_data *md;
    smap cache;                /* word bytes -> (offset, count) in cache_ids */
    idbuf cache_ids;
};

void rv_tokenizer_unload(rv_tokenizer *tok)
{
    if (!tok)
        return;
    free(tok->id_token);
    smap_free(&tok->vocab);
    pmap_free(&tok->merges);
    smap_free(&tok->cache);
    free(tok->cache_ids.p);
    if (tok->md)
        pcre2_match_data_free(tok->md);
    if (tok->re)
        pcre2_code_free(tok->re);
    free(tok->dir);
    free(tok);
}

static rv_status oom(rv_error *err)
{
    return rv_error_set(err, RV_ERR_HOST_MEMORY, "tokenizer: out of host memory");
}

static char *join_path(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

/* Whole file, NUL-terminated. A missing file is RV_ERR_IO, or RV_OK with
 * *out NULL when `optional`. */
static rv_status read_file(const char *path, bool optional, char **out, size_t *len, rv_error *err)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (optional && errno == ENOENT)
            return RV_OK;
        return rv_error_set(err, RV_ERR_IO, "tokenizer: cannot open %s: %s", path, strerror(errno));
    }
    rv_status s = RV_OK;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = cap > (256u << 20) ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (!buf)
        s = rv_error_set(err, RV_ERR_HOST_MEMORY, "tokenizer: %s: out of host memory (or file over "
                         "256 MB)", path);
    else if (ferror(f))
        s = rv_error_set(err, RV_ERR_IO, "tokenizer: cannot read %s", path);
    fclose(f);
    if (s) {
        free(buf);
        return s;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return RV_OK;
}

static rv_status parse_json(const char *path, const char *text, size_t len, cJSON **out,
                            rv_error *err)
{
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (*out)
        return RV_OK;
    int line = 1, col = 1;
    for (const char *p = text; end && p < end && p < text + len; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return rv_error_set(err, RV_ERR_FORMAT, "tokenizer: %s: invalid JSON at line %d, column %d",
                        path, line, col);
}

static int32_t vocab_id(const rv_tokenizer *tok, const char *s, size_t len)
{
    const smap_entry *e = smap_find(&tok->vocab, s, len);
    return e ? (int32_t)e->a : -1;
}

static rv_status load_vocab(rv_tokenizer *tok, const char *path, rv_error *err)
{
    char *text = NULL;
    size_t len;
    cJSON *root = NULL;
    rv_status s = read_file(path, false, &text, &len, err);
    if (s)
        return s;
    s = parse_json(path, text, len, &root, err);
    if (s)
        goto done;
    if (!cJSON_IsObject(root) || !root->child) {
        s = rv_error_set(err, RV_ERR_FORMAT, "tokenizer: %s: expected a non-empty object "
                         "mapping tokens to ids", path);
        goto done;
    }
    int count = cJSON_GetArraySize(root);
    int32_t max_id = -1;
    for (const cJSON *v = root->child; v; v = v->next) {
        double d = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
        if (!(d >= 0.0 && d < MAX_ID && d == (double)(int32_t)d)) {
            s = rv_error_set(err, RV_ERR_FORMAT, "tokenizer: %s: token '%.60s' has %s id; ids are "
                             "integers in [0, %d)", path, v->string,
                             cJSON_IsNumber(v) ? "an invalid" : "a non-numeric", MAX_ID);
            goto done;
        }
        if ((int32_t)d > max_id)
            max_id = (int32_t)d;
    }
    tok->n_vocab = max_id + 1;
    tok->id_token = calloc((size_t)tok->n_vocab, sizeof *tok->id_token);
    if (!tok->id_token || !smap_init(&tok->vocab, (uint32_t)count)) {
        s = oom(err);
        goto done;
    }
    for (const cJSON *v = root->child; v; v = v->next) {
        int32_t id = (int32_t)v->valuedouble;
        size_t klen = strlen(v->string);
        if (tok->id_token[id]) {
            s = rv_error_set(err, RV_ERR_FORMAT, "tokenizer: %s: id %d is given to both '%.60s' "
                             "and '%.60s'", path, id, tok->id_token[id], v->string);
            goto done;
        }
        int r = smap_insert(&tok->vocab, v->string, klen, (uint32_t)id, 0);
        if (r < 0) {
            s = oom(err);
            goto done;
        }
        if (r == 0) {
            s = rv_error_set(err, RV_ERR_FORMAT, "tokenizer: %s: token '%.60s' appears twice",
                             path, v->string);
            goto done;
        }
        tok->id_token[id] = smap_find(&tok->vocab, v->string, klen)->key;
    }
done:
    cJSON_Delete(root);
    free(text);
    return s;
}

/* GPT-2 / CLIP bytes_to_unicode(): printable bytes stand for themselves, the
 * others are moved to 256 + n in byte order. */
static void bytes_to_unicode(uint32_t cp[256])
{
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        cp[b] = printable ? (uint32_t)b : (uint32_t)(256 + n++);
    }
}

static size_t put_utf8(char *dst, uint32_t c)
{
    if (c < 0x80) {
        dst[0] = (char)c;
        return 1;
    }
    dst[0] = (char)(0xC0 | (c >> 6));   /* byte symbols stay below U+0800 */
    dst[1] = (char)(0x80 | (c & 0x3F));
    return 2;
}

static rv_status byte_tables(rv_tokenizer *tok, const char *vocab_path, rv_error *err)
{
    uint32_t cp[256];
    bytes_to_unicode(cp);
    memset(tok->byte_of_cp, 0xff, sizeof tok->byte_of_cp);
    for (int b = 0; b < 256; b++) {
        char sym[8];
        size_t n = put_utf8(sym, cp[b]);
        tok->byte_of_cp[cp[b]] = (int16_t)b;
        tok->byte_id[b] = vocab_id(tok, sym, n);
        memcpy(sym + n, "</w>", 4);
        tok->byte_eow_id[b] = vocab_id(tok, sym, n + 4);
        if (tok->byte_id[b] < 0 || tok->byte_eow_id[b] < 0) {
            sym[n + (tok->byte_id[b] < 0 ? 0 : 4)] = 0;
            return rv_error_set(err, RV_ERR_FORMAT, "tokenizer: %s: byte token '%s' (byte 0x%02x) "
                                "is missing; not a byte-level BPE vocabulary", vocab_path, sym, b);
        }
    }
    return RV_OK;
}

static rv_status load_merges(rv_tokenizer *tok, const char *path, rv_error *err)
{
    char *text = NULL;
    size_t len;
    rv_status s = read_file(path, false, &text, &len, err);
    if (s)
        return s;
    if (!pmap_init(&tok->merges, MAX_MERGES)) {
        free(text);
        return oom(err);
    }
    /* The reference strips the file, then skips line 1 (the "#version" line). */
    size_t end = len;
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' ' ||
                       text[end - 1] == '\t'))
        end--;
    char *p = text, *stop = text + end;
    if (strncmp(p, "#version", 8) != 0) {
        s = rv_error_set(err, RV_ERR_FORMAT, "tokenizer: %s:1: expected a \"#version\" header line",
                         path);
        goto done;
    }
    p = memchr(p, '\n', (size_t)(stop - p));
    p = p ? p + 1 : stop;
    int line = 2, rank = 0;
    for (; p < stop && rank < MAX_MERGES; line++, rank++) {
        char *nl = memchr(p, '\n', (size_t)(stop - p));
        char *e = nl ? nl : stop;
        if (e > p && e[-1] == '\r')
            e--;
        /* Exactly two fields separated by spaces or tabs. */
        char *f[3];
        size_t fl[3];
        int nf = 0;
        for (char *q = p; q < e && nf < 3;) {
            while (q < e && (*q == ' ' || *q == '\t'))
                q++;
            if (q == e)
                break;
            f[nf] = q;
            while (q < e && *q != ' ' && *q != '\t')
                q++;
            fl[nf] = (size_t)(q - f[nf]);
            nf++;
        }
        if (nf != 2) {
            s = rv_error_set(err, RV_ERR_FORMAT, "tokenizer: %s:%d: expected two symbols separated "
                             "by a space, found %s", path, line, nf == 0 ? "an empty line" :
                             nf == 1 ? "one" : "more than two");
            goto done;
        }
        int32_t a = vocab_id(tok, f[0], fl[0]), b = vocab_id(tok, f[1], fl[1]);
        char joined[512];
        int32_t m = -1;
        if (fl[0] + fl[1] < sizeof joined) {
            memcpy(joined, f[0], fl[0]);
            memcpy(joined + fl[0], f[1], fl[1]);
            m = vocab_id(tok, joined, fl[0] + fl[1]);
        }
        if (a < 0 || b < 0 || m < 0) {
            bool whole = a >= 0 && b >= 0;
            size_t bl = a < 0 ? fl[0] : b < 0 ? fl[1] : fl[0] + fl[1];
            const char *bp = a < 0 ? f[0] : b < 0 ? f[1] : joined;
            if (bl >= sizeof joined)
                bl = 80;
            s = rv_error_set(err, RV_ERR_FORMAT, "tokenizer: %s:%d: %s '%.*s' is not in vocab.json",
                             path, line, whole ? "merged token" : "symbol",
                             (int)(bl > 80 ? 80 : bl), bp);
            goto done;
        }
        pmap_put(&tok->merges, a, b, rank, m);
        p = nl ? nl + 1 : stop;
    }
    if (rank == 0)
        s = rv_error_set(err, RV_ERR_FORMAT, "tokenizer: %s: no merges after the header", path);
done:
    free(text);
    return s;
}

/* "bos_token": "<|startoftext|>" or {"content": "<|startoftext|>", ...} */
static const char *token_setting(const cJSON *root, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (cJSON_IsObject(v))
        v = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static rv_status load_specials(rv_tokenizer *tok, rv_error *err)
{
    static const char *const keys[4] = {"bos_token", "eos_token", "pad_token", "unk_token"};
    static const char *const files[2] = {"tokenizer_config.json", "special_tokens_map.json"};
    const char *names[4] = {"<|startoftext|>", "<|endoftext|>", "<|endoftext|>", "<|endoftext|>"};
    const char *from[4] = {"default", "default", "default", "default"};
    int32_t *ids[4] = {&tok->bos, &tok->eos, &tok->pad, &tok->unk};
    cJSON *roots[2] = {NULL, NULL};
    char *paths[2] = {NULL, NULL};
    rv_status s = RV_OK;

    /* Later files win: special_tokens_map.json over tokenizer_config.json. */
    for (int f = 0; f < 2; f++) {
        char *text = NULL;
        size_t len;
        paths[f] = join_path(tok->dir, files[f]);
        if (!paths[f]) {
            s = oom(err);
            goto done;
        }
        s = read_file(paths[f], true, &text, &len, err);
        if (!s && text)
            s = parse_json(paths[f], text, len, &roots[f], err);
        free(text);
        if (s)
            goto done;
        if (roots[f] && !cJSON_IsObject(roots[f])) {
            s = rv_error_set(err, RV_ERR_FORMAT, "tokenizer: %s: expected an object", paths[f]);
            goto done;
        }
        for (int k = 0; roots[f] && k < 4; k++) {
            const char *v = token_setting(roots[f], keys[k]);
            if (v) {
                names[k] = v;
                from[k] = paths[f];
            }
        }
    }
    for (int k = 0; k < 4; k++) {
        *ids[k] = vocab_id(tok, names[k], strlen(names[k]));
        if (*ids[k] < 0) {
            s = rv_error_set(err, RV_ERR_FORMAT, "tokenizer: %s: %s '%.60s' is not in vocab.json",
                             from[k], keys[k], names[k]);
            goto done;
        }
    }
done:
    for (int f = 0; f < 2; f++) {
        cJSON_Delete(roots[f]);
        free(paths[f]);
    }
    return s;
}

rv_status rv_tokenizer_load(rv_tokenizer **out, const char *dir, rv_error *err)
{
    *out = NULL;
    rv_tokenizer *tok = calloc(1, sizeof *tok);
    char *vpath = NULL, *mpath = NULL;
    rv_status s = RV_OK;
    if (!tok || !(tok->dir = strdup(dir)) || !(vpath = join_path(dir, "vocab.json")) ||
        !(mpath = join_path(dir, "merges.txt"))) {
        s = oom(err);
        goto fail;
    }
    if ((s = load_vocab(tok, vpath, err)) || (s = byte_tables(tok, vpath, err)) ||
        (s = load_merges(tok, mpath, err)) || (s = load_specials(tok, err)))
        goto fail;

    int code;
    PCRE2_SIZE offset;
    tok->re = pcre2_compile((PCRE2_SPTR)clip_pattern, PCRE2_ZERO_TERMINATED,
                            PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS, &code, &offset, NULL);
    if (!tok->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        s = rv_error_set(err, RV_ERR_UNSUPPORTED, "tokenizer: PCRE2 cannot compile the CLIP "
                         "pattern (needs Unicode support): %s", (const char *)msg);
        goto fail;
    }
    tok->md = pcre2_match_data_create_from_pattern(tok->re, NULL);
    if (!tok->md || !smap_init(&tok->cache, 1024)) {
        s = oom(err);
        goto fail;
    }
    free(vpath);
    free(mpath);
    *out = tok;
    return RV_OK;
fail:
    free(vpath);
    free(mpath);
    rv_tokenizer_unload(tok);
    return s;
}

/* ---- BPE ---- */

static void heap_push(uint64_t *h, size_t *n, uint64_t v)
{
    size_t i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n)
{
    uint64_t top = h[0], v = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= v)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = v;
    return top;
}

static void push_pair(const rv_tokenizer *tok, const int32_t *sym, uint64_t *heap, size_t *hn,
                      int32_t left, int32_t right)
{
    int32_t r = pmap_get(&tok->merges, sym[left], sym[right], NULL);
    if (r >= 0)
        heap_push(heap, hn, (uint64_t)(uint32_t)r << 32 | (uint32_t)left);
}

/* One pre-tokenised word (raw bytes) -> ids appended to out. */
static bool bpe_word(rv_tokenizer *tok, const unsigned char *w, size_t n, idbuf *out)
{
    if (n <= CACHE_MAX_WORD) {
        const smap_entry *e = smap_find(&tok->cache, (const char *)w, n);
        if (e) {
            for (uint32_t i = 0; i < e->b; i++)
                ids_push(out, tok->cache_ids.p[e->a + i]);
            return !out->failed;
        }
    }
    int32_t *sym = malloc(n * sizeof *sym), *nxt = malloc(n * sizeof *nxt),
            *prv = malloc(n * sizeof *prv), *list = malloc(n * sizeof *list);
    uint64_t *heap = malloc(3 * n * sizeof *heap);
    bool ok = sym && nxt && prv && list && heap;
    size_t hn = 0, start = out->n;
    if (!ok)
        goto done;
    for (size_t i = 0; i < n; i++) {
        sym[i] = i + 1 < n ? tok->byte_id[w[i]] : tok->byte_eow_id[w[i]];
        nxt[i] = i + 1 < n ? (int32_t)i + 1 : -1;
        prv[i] = (int32_t)i - 1;
    }
    for (size_t i = 0; i + 1 < n; i++)
        push_pair(tok, sym, heap, &hn, (int32_t)i, (int32_t)i + 1);

    while (hn) {
        /* One reference round: every current occurrence of the best pair, left to right. */
        uint32_t rank = (uint32_t)(heap[0] >> 32);
        size_t nl = 0;
        while (hn && (uint32_t)(heap[0] >> 32) == rank) {
            int32_t pos = (int32_t)(uint32_t)heap_pop(heap, &hn);
            if (nl == 0 || list[nl - 1] != pos)
                list[nl++] = pos;
        }
        for (size_t k = 0; k < nl; k++) {
            int32_t p = list[k], q = nxt[p], merged = -1;
            if (sym[p] < 0 || q < 0 || pmap_get(&tok->merges, sym[p], sym[q], &merged) != (int32_t)rank)
                continue;   /* consumed by a merge to its left, or no longer this pair */
            sym[p] = merged;
            sym[q] = -1;
            nxt[p] = nxt[q];
            if (nxt[q] >= 0)
                prv[nxt[q]] = p;
            if (prv[p] >= 0)
                push_pair(tok, sym, heap, &hn, prv[p], p);
            if (nxt[p] >= 0)
                push_pair(tok, sym, heap, &hn, p, nxt[p]);
        }
    }
    for (int32_t i = 0; i >= 0; i = nxt[i])
        ids_push(out, sym[i]);
    ok = !out->failed;

    if (ok && n <= CACHE_MAX_WORD) {
        if (tok->cache.n >= CACHE_MAX_ENTRIES || tok->cache_ids.n >= 8 * CACHE_MAX_ENTRIES) {
            smap_free(&tok->cache);
            tok->cache_ids.n = 0;
            ok = smap_init(&tok->cache, 1024);
        }
        size_t off = tok->cache_ids.n, cnt = out->n - start;
        for (size_t i = 0; ok && i < cnt; i++)
            ids_push(&tok->cache_ids, out->p[start + i]);
        if (ok && !tok->cache_ids.failed)
            ok = smap_insert(&tok->cache, (const char *)w, n, (uint32_t)off, (uint32_t)cnt) >= 0;
        else
            ok = false;
    }
done:
    free(sym);
    free(nxt);
    free(prv);
    free(list);
    free(heap);
    return ok;
}

/* Every token id of a prompt, without BOS/EOS. */
static rv_status tokenize(rv_tokenizer *tok, const char *utf8, idbuf *out, rv_error *err)
{
    size_t len = strlen(utf8);
    if (len > RV_TOKENIZER_MAX_INPUT)
        return rv_error_set(err, RV_ERR_INVALID, "tokenizer: prompt is %zu bytes; the limit is %u",
                            len, RV_TOKENIZER_MAX_INPUT);
    char *text = NULL;
    size_t tlen = 0;
    rv_status s = rv_clip_clean_text(utf8, len, &text, &tlen, err);
    if (s)
        return s;
    PCRE2_SIZE off = 0;
    while (off < tlen) {
        int rc = pcre2_match(tok->re, (PCRE2_SPTR)text, tlen, off, PCRE2_NO_UTF_CHECK, tok->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            s = rv_error_set(err, RV_ERR_INVALID, "tokenizer: pre-tokenisation failed: %s",
                             (const char *)msg);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(tok->md);
        const char *w = text + ov[0];
        size_t wl = ov[1] - ov[0];
        if ((wl == 15 && memcmp(w, "<|startoftext|>", 15) == 0) ||
            (wl == 13 && memcmp(w, "<|endoftext|>", 13) == 0)) {
            int32_t id = vocab_id(tok, w, wl);   /* the reference maps these whole */
            ids_push(out, id >= 0 ? id : tok->unk);
        } else if (wl > 0 && !bpe_word(tok, (const unsigned char *)w, wl, out)) {
            s = oom(err);
            break;
        }
        off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
    }
    if (!s && out->failed)
        s = oom(err);
    free(text);
    return s;
}

rv_status rv_tokenizer_tokenize(rv_tokenizer *tok, const char *utf8, int32_t *ids, size_t cap,
                                size_t *n, rv_error *err)
{
    idbuf b = {0};
    rv_status s = tokenize(tok, utf8, &b, err);
    if (!s) {
        if (b.n && cap)
            memcpy(ids, b.p, (b.n < cap ? b.n : cap) * sizeof *ids);
        *n = b.n;
    }
    free(b.p);
    return s;
}

rv_status rv_tokenizer_encode(rv_tokenizer *tok, const char *utf8,
                              int32_t ids[RV_TOKENIZER_MAX_LENGTH], int *n_tokens, rv_error *err)
{
    idbuf b = {0};
    rv_status s = tokenize(tok, utf8, &b, err);
    if (!s) {
        size_t keep = b.n < RV_TOKENIZER_MAX_LENGTH - 2 ? b.n : RV_TOKENIZER_MAX_LENGTH - 2;
        ids[0] = tok->bos;
        if (keep)
            memcpy(ids + 1, b.p, keep * sizeof *ids);
        ids[keep + 1] = tok->eos;
        for (size_t i = keep + 2; i < RV_TOKENIZER_MAX_LENGTH; i++)
            ids[i] = tok->pad;
        if (n_tokens)
            *n_tokens = (int)(b.n + 2);
    }
    free(b.p);
    return s;
}

/* ---- decode and accessors ---- */

/* Length of the valid UTF-8 sequence at s (0 if invalid), and for an
 * invalid one in *skip the bytes Python's "replace" handler swallows. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *skip)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    *skip = 1;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    for (size_t k = 1; k <= need; k++) {
        unsigned char b = k < n ? s[k] : 0;
        if (k >= n || b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
            *skip = k;
            return 0;
        }
    }
    return need + 1;
}

rv_status rv_tokenizer_decode(const rv_tokenizer *tok, const int32_t *ids, size_t n,
                              bool skip_special, char **out_text, rv_error *err)
{
    *out_text = NULL;
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= tok->n_vocab || !tok->id_token[ids[i]])
            return rv_error_set(err, RV_ERR_INVALID, "tokenizer: id %d at position %zu is not in "
                                "the vocabulary", (int)ids[i], i);
        cap += strlen(tok->id_token[ids[i]]);
    }
    unsigned char *bytes = malloc(cap);
    char *text = malloc(cap * 3 + 1);   /* each byte becomes at most U+FFFD */
    if (!bytes || !text) {
        free(bytes);
        free(text);
        return oom(err);
    }
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (skip_special && (id == tok->bos || id == tok->eos || id == tok->pad))
            continue;
        const unsigned char *t = (const unsigned char *)tok->id_token[id];
        for (size_t k = 0; t[k];) {
            /* strncmp stops at the entry's NUL: an entry as short as "<"
             * must not be read past its end */
            if (t[k] == '<' && strncmp((const char *)t + k, "</w>", 4) == 0) {
                bytes[nb++] = ' ';
                k += 4;
                continue;
            }
            uint32_t c = t[k];
            size_t l = 1;
            if (c >= 0xC0 && c < 0xE0 && t[k + 1]) {
                c = ((c & 0x1F) << 6) | (t[k + 1] & 0x3F);
                l = 2;
            }
            int b = c < 512 ? tok->byte_of_cp[c] : -1;
            if (b >= 0) {
                bytes[nb++] = (unsigned char)b;
            } else {
                memcpy(bytes + nb, t + k, l);   /* not a byte symbol: keep as is */
                nb += l;
            }
            k += l;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < nb;) {
        size_t skip, l = utf8_seq(bytes + i, nb - i, &skip);
        if (l) {
            memcpy(text + o, bytes + i, l);
            o += l;
            i += l;
        } else {
            memcpy(text + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += skip;
        }
    }
    text[o] = 0;
    free(bytes);
    *out_text = text;
    return RV_OK;
}

rv_status rv_tokenizer_check_encoder(const rv_tokenizer *tok, uint32_t encoder_vocab_size, const char *where,
                                     rv_error *err)
{
    if ((uint32_t)tok->n_vocab <= encoder_vocab_size)
        return RV_OK;
    return rv_error_set(err, RV_ERR_FORMAT, "LOAD: %s: the tokenizer's vocabulary has ids up to %d (%s) but the "
                        "text encoder's vocab_size is %u: the tokenizer and text encoder do not belong together",
                        where, tok->n_vocab - 1, tok->id_token[tok->n_vocab - 1], encoder_vocab_size);
}

int32_t rv_tokenizer_bos_id(const rv_tokenizer *tok)
{
    return tok->bos;
}

int32_t rv_tokenizer_eos_id(const rv_tokenizer *tok)
{
    return tok->eos;
}

int32_t rv_tokenizer_pad_id(const rv_tokenizer *tok)
{
    return tok->pad;
}

int32_t rv_tokenizer_vocab_size(const rv_tokenizer *tok)
{
    return tok->n_vocab;
}

int32_t rv_tokenizer_token_id(const rv_tokenizer *tok, const char *token)
{
    return vocab_id(tok, token, strlen(token));
}

const char *rv_tokenizer_token(const rv_tokenizer *tok, int32_t id)
{
    return id >= 0 && id < tok->n_vocab ? tok->id_token[id] : NULL;
}

/* A small JSON reader for stories that keeps the line:col of every value
 * and key (cJSON does not), with bounded depth, string length and input
 * size, and invalid UTF-8 rejected at its position. Also the story's arena
 * and UTF-8 helpers. Not a general JSON library: save files use cJSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "story_internal.h"

/* ------------------------------------------------------------ arena */

struct sarena_block {
    sarena_block *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
};

void *sarena_alloc(sarena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (a->failed)
        return NULL;
    if (a->limit && a->used_total + n > a->limit) {
        a->failed = true;
        return NULL;
    }
    sarena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > (64u << 10) ? n : (64u << 10);
        b = malloc(sizeof(*b) + cap);
        if (!b) {
            a->failed = true;
            return NULL;
        }
        b->cap = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->used_total += n;
    memset(p, 0, n);
    return p;
}

char *sarena_strndup(sarena *a, const char *s, size_t n)
{
    char *p = sarena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

char *sarena_strdup(sarena *a, const char *s)
{
    return sarena_strndup(a, s, strlen(s));
}

void sarena_free(sarena *a)
{
    sarena_block *b = a->head;
    while (b) {
        sarena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

/* ------------------------------------------------------------ UTF-8 */

/* Length of one valid UTF-8 sequence at s (n bytes left), or 0. */
static int utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    int len;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; min = 0x10000; }
    else return 0;
    if ((size_t)len > n)
        return 0;
    unsigned cp = c & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

size_t utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        int k = utf8_seq(u + i, n - i);
        if (!k)
            break;
        i += (size_t)k;
    }
    return i;
}

void copy_text(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return;
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* ------------------------------------------------------------ parser */

typedef struct jp {
    sarena *a;
    const unsigned char *s;
    size_t n, i;
    int line, col; /* at s[i] */
    int err_line, err_col;
    char *msg;
    size_t msg_cap;
    bool failed;
    char *buf; /* scratch for string decoding */
    size_t buf_cap;
} jp;

static void jfail(jp *p, int line, int col, const char *fmt, const char *arg)
{
    if (p->failed)
        return;
    p->failed = true;
    p->err_line = line;
    p->err_col = col;
    snprintf(p->msg, p->msg_cap, fmt, arg ? arg : "");
}

/* Advances one code point (the text was validated as UTF-8 up front). */
static void adv(jp *p)
{
    unsigned char c = p->s[p->i];
    if (c == '\n') {
        p->line++;
        p->col = 1;
        p->i++;
        return;
    }
    int k = utf8_seq(p->s + p->i, p->n - p->i);
    p->i += k ? (size_t)k : 1;
    p->col++;
}

static void skip_ws(jp *p)
{
    while (p->i < p->n) {
        unsigned char c = p->s[p->i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            adv(p);
        else
            break;
    }
}

static const char *describe(jp *p, char *buf, size_t cap)
{
    if (p->i >= p->n)
        return "the end of the file";
    unsigned char c = p->s[p->i];
    if (c >= 0x20 && c < 0x7F)
        snprintf(buf, cap, "'%c'", c);
    else
        snprintf(buf, cap, "byte 0x%02X", c);
    return buf;
}

static jnode *parse_value(jp *p, int depth);

static bool buf_put(jp *p, size_t len, char c)
{
    if (len + 1 >= p->buf_cap) {
        size_t cap = p->buf_cap ? p->buf_cap * 2 : 256;
        char *nb = realloc(p->buf, cap);
        if (!nb) {
            jfail(p, p->line, p->col, "out of memory%s", NULL);
            return false;
        }
        p->buf = nb;
        p->buf_cap = cap;
    }
    p->buf[len] = c;
    return true;
}

static int hex4(const unsigned char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Parses a string at s[i] == '"'; returns the decoded text in the arena. */
static const char *parse_string(jp *p, size_t *out_len)
{
    int l0 = p->line, c0 = p->col;
    adv(p); /* opening quote */
    size_t len = 0;
    for (;;) {
        if (p->i >= p->n) {
            jfail(p, l0, c0, "unterminated string%s", NULL);
            return NULL;
        }
        unsigned char c = p->s[p->i];
        if (c == '"') {
            adv(p);
            break;
        }
        if (len >= RV_JSON_MAX_STRING) {
            jfail(p, l0, c0, "string longer than 65536 bytes%s", NULL);
            return NULL;
        }
        if (c < 0x20) {
            jfail(p, p->line, p->col, "control character in a string (write it escaped, e.g. \\n)%s",
                  NULL);
            return NULL;
        }
        if (c != '\\') {
            size_t start = p->i;
            adv(p);
            for (size_t k = start; k < p->i; k++)
                if (!buf_put(p, len++, (char)p->s[k]))
                    return NULL;
            continue;
        }
        int el = p->line, ec = p->col;
        if (p->i + 1 >= p->n) {
            jfail(p, l0, c0, "unterminated string%s", NULL);
            return NULL;
        }
        unsigned char e = p->s[p->i + 1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            if (!buf_put(p, len++, map[simple - "\"\\/bfnrt"]))
                return NULL;
            adv(p);
            adv(p);
            continue;
        }
        if (e != 'u') {
            char b[8];
            snprintf(b, sizeof(b), "\\%c", e >= 0x20 && e < 0x7F ? e : '?');
            jfail(p, el, ec, "invalid escape %s in a string", b);
            return NULL;
        }
        if (p->i + 6 > p->n || hex4(p->s + p->i + 2) < 0) {
            jfail(p, el, ec, "\\u needs four hex digits%s", NULL);
            return NULL;
        }
        unsigned cp = (unsigned)hex4(p->s + p->i + 2);
        for (int k = 0; k < 6; k++)
            adv(p);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            int lo = (p->i + 6 <= p->n && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u')
                         ? hex4(p->s + p->i + 2) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) {
                jfail(p, el, ec, "\\u escape: a high surrogate without its low surrogate%s", NULL);
                return NULL;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
            for (int k = 0; k < 6; k++)
                adv(p);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            jfail(p, el, ec, "\\u escape: a lone low surrogate%s", NULL);
            return NULL;
        }
        if (cp == 0) {
            jfail(p, el, ec, "\\u0000 (NUL) is not allowed in story strings%s", NULL);
            return NULL;
        }
        unsigned char u[4];
        int k;
        if (cp < 0x80) { u[0] = (unsigned char)cp; k = 1; }
        else if (cp < 0x800) { u[0] = (unsigned char)(0xC0 | (cp >> 6)); u[1] = (unsigned char)(0x80 | (cp & 0x3F)); k = 2; }
        else if (cp < 0x10000) { u[0] = (unsigned char)(0xE0 | (cp >> 12)); u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); u[2] = (unsigned char)(0x80 | (cp & 0x3F)); k = 3; }
        else { u[0] = (unsigned char)(0xF0 | (cp >> 18)); u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)); u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (unsigned char)(0x80 | (cp & 0x3F)); k = 4; }
        for (int j = 0; j < k; j++)
            if (!buf_put(p, len++, (char)u[j]))
                return NULL;
    }
    *out_len = len;
    const char *r = sarena_strndup(p->a, p->buf ? p->buf : "", len);
    if (!r)
        jfail(p, l0, c0, "story too large (memory limit)%s", NULL);
    return r;
}

static jnode *new_node(jp *p, jtype t, int line, int col)
{
    jnode *n = sarena_alloc(p->a, sizeof(*n));
    if (!n) {
        jfail(p, line, col, "story too large (memory limit)%s", NULL);
        return NULL;
    }
    n->type = t;
    n->line = line;
    n->col = col;
    return n;
}

/* Children are gathered in a malloc'd list, then copied to the arena. */
typedef struct kidlist {
    jnode **v;
    int n, cap;
} kidlist;

static bool kid_push(jp *p, kidlist *k, jnode *x)
{
    if (k->n == k->cap) {
        int cap = k->cap ? k->cap * 2 : 8;
        jnode **nv = realloc(k->v, (size_t)cap * sizeof(*nv));
        if (!nv) {
            jfail(p, p->line, p->col, "out of memory%s", NULL);
            return false;
        }
        k->v = nv;
        k->cap = cap;
    }
    k->v[k->n++] = x;
    return true;
}

static bool kid_finish(jp *p, kidlist *k, jnode *node)
{
    node->n = k->n;
    if (k->n) {
        node->kids = sarena_alloc(p->a, (size_t)k->n * sizeof(jnode *));
        if (!node->kids) {
            jfail(p, node->line, node->col, "story too large (memory limit)%s", NULL);
            free(k->v);
            return false;
        }
        memcpy(node->kids, k->v, (size_t)k->n * sizeof(jnode *));
    }
    free(k->v);
    return true;
}

static jnode *parse_container(jp *p, int depth, bool obj)
{
    int l0 = p->line, c0 = p->col;
    if (depth >= RV_JSON_MAX_DEPTH) {
        jfail(p, l0, c0, "nesting deeper than 64 levels%s", NULL);
        return NULL;
    }
    jnode *node = new_node(p, obj ? J_OBJ : J_ARR, l0, c0);
    if (!node)
        return NULL;
    adv(p);
    kidlist k = {0};
    skip_ws(p);
    char d[24];
    if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) {
        adv(p);
        kid_finish(p, &k, node);
        return p->failed ? NULL : node;
    }
    for (;;) {
        skip_ws(p);
        const char *key = NULL;
        int kl = 0, kc = 0;
        if (obj) {
            if (p->i >= p->n || p->s[p->i] != '"') {
                jfail(p, p->line, p->col, "expected a member name in quotes, found %s",
                      describe(p, d, sizeof(d)));
                goto fail;
            }
            kl = p->line;
            kc = p->col;
            size_t kn;
            key = parse_string(p, &kn);
            if (!key)
                goto fail;
            if (k.n >= RV_JSON_MAX_MEMBERS) {
                /* duplicate detection is quadratic: bound it */
                jfail(p, kl, kc, "object with more than 10000 members%s", NULL);
                goto fail;
            }
            for (int j = 0; j < k.n; j++) {
                if (strcmp(k.v[j]->key, key) == 0) {
                    jfail(p, kl, kc, "duplicate member \"%s\"", key);
                    goto fail;
                }
            }
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                jfail(p, p->line, p->col, "expected ':' after the member name, found %s",
                      describe(p, d, sizeof(d)));
                goto fail;
            }
            adv(p);
            skip_ws(p);
        }
        jnode *v = parse_value(p, depth + 1);
        if (!v)
            goto fail;
        v->key = key;
        v->key_line = kl;
        v->key_col = kc;
        if (!kid_push(p, &k, v))
            goto fail;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            adv(p);
            skip_ws(p);
            if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) {
                jfail(p, p->line, p->col, "trailing comma before %s", describe(p, d, sizeof(d)));
                goto fail;
            }
            continue;
        }
        if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) {
            adv(p);
            break;
        }
        if (p->i >= p->n)
            jfail(p, l0, c0, obj ? "unterminated object (no closing '}')%s"
                                 : "unterminated array (no closing ']')%s", NULL);
        else
            jfail(p, p->line, p->col, obj ? "expected ',' or '}' in an object, found %s"
                                          : "expected ',' or ']' in an array, found %s",
                  describe(p, d, sizeof(d)));
        goto fail;
    }
    if (!kid_finish(p, &k, node))
        return NULL;
    return node;
fail:
    free(k.v);
    return NULL;
}

static jnode *parse_number(jp *p)
{
    int l0 = p->line, c0 = p->col;
    size_t st = p->i, i = p->i;
    const unsigned char *s = p->s;
    if (i < p->n && s[i] == '-')
        i++;
    if (i < p->n && s[i] == '0') {
        i++;
    } else if (i < p->n && s[i] >= '1' && s[i] <= '9') {
        while (i < p->n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        jfail(p, l0, c0, "invalid number%s", NULL);
        return NULL;
    }
    if (i < p->n && s[i] == '.') {
        i++;
        if (i >= p->n || s[i] < '0' || s[i] > '9') {
            jfail(p, l0, c0, "invalid number: digits must follow '.'%s", NULL);
            return NULL;
        }
        while (i < p->n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < p->n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= p->n || s[i] < '0' || s[i] > '9') {
            jfail(p, l0, c0, "invalid number: digits must follow the exponent%s", NULL);
            return NULL;
        }
        while (i < p->n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    char tmp[64];
    if (i - st >= sizeof(tmp)) {
        jfail(p, l0, c0, "number longer than 63 characters%s", NULL);
        return NULL;
    }
    memcpy(tmp, s + st, i - st);
    tmp[i - st] = 0;
    double v = strtod(tmp, NULL);
    if (!isfinite(v)) {
        jfail(p, l0, c0, "number out of range: %s", tmp);
        return NULL;
    }
    while (p->i < i)
        adv(p);
    jnode *n = new_node(p, J_NUM, l0, c0);
    if (n)
        n->num = v;
    return n;
}

static bool match_word(jp *p, const char *w)
{
    size_t k = strlen(w);
    return p->n - p->i >= k && memcmp(p->s + p->i, w, k) == 0;
}

static jnode *parse_value(jp *p, int depth)
{
    char d[24];
    skip_ws(p);
    if (p->i >= p->n) {
        jfail(p, p->line, p->col, "expected a value, found the end of the file%s", NULL);
        return NULL;
    }
    unsigned char c = p->s[p->i];
    int l0 = p->line, c0 = p->col;
    if (c == '{' || c == '[')
        return parse_container(p, depth, c == '{');
    if (c == '"') {
        jnode *n = new_node(p, J_STR, l0, c0);
        if (!n)
            return NULL;
        n->str = parse_string(p, &n->len);
        return n->str ? n : NULL;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(p);
    if (match_word(p, "true") || match_word(p, "false") || match_word(p, "null")) {
        jnode *n = new_node(p, c == 'n' ? J_NULL : J_BOOL, l0, c0);
        if (!n)
            return NULL;
        n->b = c == 't';
        int k = c == 'f' ? 5 : 4;
        for (int j = 0; j < k; j++)
            adv(p);
        return n;
    }
    if (c == '\'')
        jfail(p, l0, c0, "strings take double quotes in JSON, found %s", describe(p, d, sizeof(d)));
    else
        jfail(p, l0, c0, "expected a value, found %s", describe(p, d, sizeof(d)));
    return NULL;
}

jnode *json_parse(sarena *a, const char *text, size_t size, int *line, int *col, char *msg,
                  size_t msg_cap)
{
    jp p = {.a = a, .s = (const unsigned char *)text, .n = size, .line = 1, .col = 1,
            .msg = msg, .msg_cap = msg_cap};
    /* UTF-8 first, so the parser can count code points blindly */
    size_t ok = utf8_valid_prefix(text, size);
    size_t skip = 0;
    if (size >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        skip = 3; /* a byte-order mark is tolerated */
    if (ok < size) {
        int l = 1, c = 1;
        for (size_t i = skip; i < ok;) {
            if (text[i] == '\n') {
                l++;
                c = 1;
                i++;
            } else {
                int k = utf8_seq((const unsigned char *)text + i, ok - i);
                i += k ? (size_t)k : 1;
                c++;
            }
        }
        *line = l;
        *col = c;
        snprintf(msg, msg_cap, "invalid UTF-8 (byte 0x%02X at offset %zu)",
                 (unsigned char)text[ok], ok);
        return NULL;
    }
    p.i = skip;
    jnode *root = parse_value(&p, 0);
    if (root) {
        skip_ws(&p);
        if (p.i < p.n) {
            char d[24];
            jfail(&p, p.line, p.col, "unexpected %s after the top-level value",
                  describe(&p, d, sizeof(d)));
            root = NULL;
        }
    }
    free(p.buf);
    if (p.failed || !root) {
        *line = p.err_line;
        *col = p.err_col;
        return NULL;
    }
    return root;
}

const char *json_type_name(jtype t)
{
    switch (t) {
    case J_NULL: return "null";
    case J_BOOL: return "a boolean";
    case J_NUM: return "a number";
    case J_STR: return "a string";
    case J_ARR: return "an array";
    case J_OBJ: return "an object";
    }
    return "?";
}

const jnode *json_get(const jnode *obj, const char *key)
{
    if (!obj || obj->type != J_OBJ)
        return NULL;
    for (int i = 0; i < obj->n; i++)
        if (strcmp(obj->kids[i]->key, key) == 0)
            return obj->kids[i];
    return NULL;
}

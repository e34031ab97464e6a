/* Prompt clean-up for the CLIP tokenizer, step for step as openai CLIP's
 * simple_tokenizer.py: basic_clean (ftfy.fix_text, html.unescape twice,
 * strip), whitespace_clean (\s+ -> ' ', strip), then Python's str.lower().
 * Not done: ftfy's mojibake repair (fix_encoding and its byte-level
 * helpers) and ftfy's own pass over HTML entities; everything else ftfy's
 * default fix_text does to a line of text is here (C1 controls as
 * Windows-1252, Latin ligatures, full/half width forms, curly quotes, line
 * breaks, terminal escapes, control characters, NFC), repeated to a fixed
 * point as ftfy does. Text is handled as arrays of code points. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "models/tokenizer_text.h"

typedef struct cpbuf {
    uint32_t *p;
    size_t n, cap;
    bool failed;
} cpbuf;

static void cp_push(cpbuf *b, uint32_t c)
{
    if (b->failed)
        return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        uint32_t *p = realloc(b->p, cap * sizeof *p);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    b->p[b->n++] = c;
}

static void cp_free(cpbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void cp_swap(cpbuf *a, cpbuf *b)
{
    cpbuf t = *a;
    *a = *b;
    *b = t;
}

/* Windows-1252 for 0x80..0x9F, undefined bytes left as themselves (ftfy's
 * "sloppy-windows-1252"; Python's html module uses the same table). */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

/* ftfy's LIGATURES table: Latin ligatures and legacy digraphs. */
static const struct {
    uint32_t from;
    uint32_t to[3];
} ligatures[] = {
    {0x0132, {'I', 'J'}},   {0x0133, {'i', 'j'}},   {0x0149, {0x02BC, 'n'}},
    {0x01F1, {'D', 'Z'}},   {0x01F2, {'D', 'z'}},   {0x01F3, {'d', 'z'}},
    {0x01C4, {'D', 0x017D}}, {0x01C5, {'D', 0x017E}}, {0x01C6, {'d', 0x017E}},
    {0x01C7, {'L', 'J'}},   {0x01C8, {'L', 'j'}},   {0x01C9, {'l', 'j'}},
    {0x01CA, {'N', 'J'}},   {0x01CB, {'N', 'j'}},   {0x01CC, {'n', 'j'}},
    {0xFB00, {'f', 'f'}},   {0xFB01, {'f', 'i'}},   {0xFB02, {'f', 'l'}},
    {0xFB03, {'f', 'f', 'i'}}, {0xFB04, {'f', 'f', 'l'}}, {0xFB05, {0x017F, 't'}},
    {0xFB06, {'s', 't'}},
};

static uint32_t uncurl(uint32_t c)
{
    if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B))
        return '\'';
    if (c >= 0x201C && c <= 0x201F)
        return '"';
    return c;
}

/* ftfy's fix_character_width then uncurl_quotes, for one code point. */
static void push_width_quotes(cpbuf *out, uint32_t c)
{
    if (c == 0x3000) {
        cp_push(out, ' ');
        return;
    }
    if (c >= 0xFF01 && c < 0xFFF0) {
        utf8proc_int32_t dec[8];
        int bound = 0;
        utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)c, dec, 8,
                                                     UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, &bound);
        if (n > 0 && n <= 8) {
            n = utf8proc_normalize_utf32(dec, n, UTF8PROC_COMPOSE | UTF8PROC_STABLE);
            if (n > 0) {
                for (utf8proc_ssize_t i = 0; i < n; i++)
                    cp_push(out, uncurl((uint32_t)dec[i]));
                return;
            }
        }
    }
    cp_push(out, uncurl(c));
}

static bool is_ftfy_control(uint32_t c)
{
    return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
           (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

static bool is_decimal_digit(uint32_t c)
{
    return utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_ND;
}

static size_t utf8_len(const cpbuf *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += b->p[i] < 0x80 ? 1 : b->p[i] < 0x800 ? 2 : b->p[i] < 0x10000 ? 3 : 4;
    return n;
}

/* Code points -> malloc'd NUL-terminated UTF-8. */
static char *to_utf8(const cpbuf *b, size_t *len)
{
    size_t n = utf8_len(b);
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        k += (size_t)utf8proc_encode_char((utf8proc_int32_t)b->p[i], (utf8proc_uint8_t *)s + k);
    s[k] = 0;
    if (len)
        *len = k;
    return s;
}

/* Valid UTF-8 -> code points; the byte offset of the first bad byte on error. */
static bool from_utf8(cpbuf *out, const char *s, size_t len, size_t *bad_at)
{
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0) {
            *bad_at = i;
            return false;
        }
        cp_push(out, (uint32_t)c);
        i += (size_t)k;
    }
    return true;
}

static bool nfc(cpbuf *out, const cpbuf *in)
{
    size_t len;
    char *s = to_utf8(in, &len);
    if (!s)
        return false;
    utf8proc_uint8_t *res = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &res,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    free(s);
    if (n < 0) {
        free(res);
        return false;
    }
    size_t bad;
    out->n = 0;
    bool ok = from_utf8(out, (const char *)res, (size_t)n, &bad);
    free(res);
    return ok && !out->failed;
}

/* One round of ftfy.fix_and_explain's loop body (fixers in ftfy's order). */
static bool ftfy_round(cpbuf *out, const cpbuf *in)
{
    cpbuf a = {0}, b = {0};
    bool ok = false;

    /* fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes */
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->p[i];
        if (c >= 0x80 && c <= 0x9F)
            c = cp1252_c1[c - 0x80];
        size_t k = 0;
        while (k < sizeof ligatures / sizeof ligatures[0] && ligatures[k].from != c)
            k++;
        if (k < sizeof ligatures / sizeof ligatures[0]) {
            for (int j = 0; j < 3 && ligatures[k].to[j]; j++)
                push_width_quotes(&a, ligatures[k].to[j]);
        } else {
            push_width_quotes(&a, c);
        }
    }
    /* fix_line_breaks (fix_surrogates has nothing to do on valid UTF-8) */
    for (size_t i = 0; i < a.n; i++) {
        uint32_t c = a.p[i];
        if (c == '\r' && i + 1 < a.n && a.p[i + 1] == '\n')
            continue;
        if (c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85)
            c = '\n';
        cp_push(&b, c);
    }
    /* remove_terminal_escapes: ESC '[' (\d | ';')* [a-zA-Z] */
    a.n = 0;
    for (size_t i = 0; i < b.n; i++) {
        if (b.p[i] == 0x1B && i + 1 < b.n && b.p[i + 1] == '[') {
            size_t j = i + 2;
            while (j < b.n && (b.p[j] == ';' || is_decimal_digit(b.p[j])))
                j++;
            if (j < b.n && ((b.p[j] | 0x20) >= 'a' && (b.p[j] | 0x20) <= 'z') && b.p[j] < 0x80) {
                i = j;
                continue;
            }
        }
        cp_push(&a, b.p[i]);
    }
    /* remove_control_chars */
    b.n = 0;
    for (size_t i = 0; i < a.n; i++)
        if (!is_ftfy_control(a.p[i]))
            cp_push(&b, a.p[i]);
    if (a.failed || b.failed)
        goto done;
    ok = nfc(out, &b);
done:
    cp_free(&a);
    cp_free(&b);
    return ok;
}

/* Python's html.unescape: &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?) */
static bool is_invalid_codepoint(uint32_t n)
{
    return (n >= 0x1 && n <= 0x8) || n == 0xB || (n >= 0xE && n <= 0x1F) ||
           (n >= 0x7F && n <= 0x9F) || (n >= 0xFDD0 && n <= 0xFDEF) || (n & 0xFFFE) == 0xFFFE;
}

static bool is_hex(uint32_t c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static void html_unescape(cpbuf *out, const cpbuf *in)
{
    const uint32_t *s = in->p;
    size_t n = in->n;
    for (size_t i = 0; i < n;) {
        if (s[i] != '&' || i + 1 >= n) {
            cp_push(out, s[i++]);
            continue;
        }
        size_t j = i + 1;
        if (s[j] == '#') {
            bool hex = j + 2 < n && (s[j + 1] == 'x' || s[j + 1] == 'X') && is_hex(s[j + 2]);
            size_t k = j + (hex ? 2 : 1);
            if (!hex && !(k < n && s[k] >= '0' && s[k] <= '9')) {
                cp_push(out, s[i++]);   /* no match: '&' stays, scanning goes on */
                continue;
            }
            uint64_t num = 0;
            for (; k < n && (hex ? is_hex(s[k]) : (s[k] >= '0' && s[k] <= '9')); k++) {
                uint32_t d = s[k] <= '9' ? s[k] - '0' : (s[k] | 0x20) - 'a' + 10;
                num = num * (hex ? 16 : 10) + d;
                if (num > 0x110000)
                    num = 0x110000;     /* anything past U+10FFFF behaves the same */
            }
            if (k < n && s[k] == ';')
                k++;
            if (num == 0)
                cp_push(out, 0xFFFD);
            else if (num >= 0x80 && num <= 0x9F)
                cp_push(out, cp1252_c1[num - 0x80]);
            else if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
                cp_push(out, 0xFFFD);
            else if (is_invalid_codepoint((uint32_t)num))
                ;                       /* dropped */
            else
                cp_push(out, (uint32_t)num);
            i = k;
            continue;
        }
        /* Named: up to 32 characters outside "\t\n\f <&#;", then an optional ';'. */
        size_t k = j;
        while (k < n && k - j < 32 && s[k] != '\t' && s[k] != '\n' && s[k] != '\f' && s[k] != ' ' &&
               s[k] != '<' && s[k] != '&' && s[k] != '#' && s[k] != ';')
            k++;
        if (k == j) {
            cp_push(out, s[i++]);
            continue;
        }
        if (k < n && s[k] == ';')
            k++;
        /* Whole name first, then the longest prefix of at least 2 characters. */
        char name[40];
        size_t len = k - j, ascii = 0;
        while (ascii < len && s[j + ascii] < 0x80) {
            name[ascii] = (char)s[j + ascii];
            ascii++;
        }
        unsigned int cp[2];
        int got = 0;
        size_t used = 0;
        if (ascii == len && (got = rv_html_entity_lookup(name, len, cp)) > 0) {
            used = len;
        } else {
            for (size_t x = len - 1; x >= 2; x--) {
                if (x <= ascii && (got = rv_html_entity_lookup(name, x, cp)) > 0) {
                    used = x;
                    break;
                }
            }
        }
        if (got) {
            for (int g = 0; g < got; g++)
                cp_push(out, cp[g]);
            for (size_t r = j + used; r < k; r++)
                cp_push(out, s[r]);
        } else {
            for (size_t r = i; r < k; r++)
                cp_push(out, s[r]);
        }
        i = k;
    }
}

/* Unicode White_Space: what the reference's regex \s matches. */
static bool is_regex_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* Python's str.isspace(), used by str.strip(). */
static bool is_py_space(uint32_t c)
{
    return is_regex_space(c) || (c >= 0x1C && c <= 0x1F);
}

static bool is_cased(uint32_t c)
{
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
           cat == UTF8PROC_CATEGORY_LT ||
           utf8proc_tolower((utf8proc_int32_t)c) != (utf8proc_int32_t)c ||
           utf8proc_toupper((utf8proc_int32_t)c) != (utf8proc_int32_t)c;
}

static bool is_case_ignorable(uint32_t c)
{
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_SK:
        return true;
    default:
        break;
    }
    /* Word_Break MidLetter, MidNumLet, Single_Quote */
    static const uint32_t mid[] = {0x27, 0x2E, 0x3A, 0xB7, 0x387, 0x55F, 0x5F4, 0x2018, 0x2019,
                                   0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
    for (size_t i = 0; i < sizeof mid / sizeof mid[0]; i++)
        if (mid[i] == c)
            return true;
    return false;
}

/* CPython's handle_capital_sigma: final form when preceded by a cased letter
 * and not followed by one (case-ignorable characters skipped both ways). */
static uint32_t lower_sigma(const uint32_t *s, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && is_case_ignorable(s[j - 1]))
        j--;
    if (j == 0 || !is_cased(s[j - 1]))
        return 0x3C3;
    j = i + 1;
    while (j < n && is_case_ignorable(s[j]))
        j++;
    return (j == n || !is_cased(s[j])) ? 0x3C2 : 0x3C3;
}

/* Python's str.lower(): full lowercase mapping (U+0130 is the one character
 * whose lowercase is two code points) plus the Final_Sigma rule. */
static void py_lower(cpbuf *out, const cpbuf *in)
{
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->p[i];
        if (c == 0x130) {
            cp_push(out, 'i');
            cp_push(out, 0x307);
        } else if (c == 0x3A3) {
            cp_push(out, lower_sigma(in->p, in->n, i));
        } else {
            cp_push(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
        }
    }
}

static bool cp_equal(const cpbuf *a, const cpbuf *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n * sizeof *a->p) == 0);
}

rv_status rv_clip_clean_text(const char *utf8, size_t len, char **out, size_t *out_len,
                             rv_error *err)
{
    cpbuf a = {0}, b = {0};
    rv_status s = RV_OK;
    size_t bad = 0;
    *out = NULL;

    if (!from_utf8(&a, utf8, len, &bad)) {
        s = rv_error_set(err, RV_ERR_INVALID,
                         "tokenizer: prompt is not valid UTF-8 (bad byte 0x%02x at offset %zu)",
                         (unsigned)(unsigned char)utf8[bad], bad);
        goto done;
    }

    /* ftfy.fix_text: run the fixers until nothing changes (ftfy loops too). */
    for (int round = 0; round < 8; round++) {
        b.n = 0;
        if (a.failed || !ftfy_round(&b, &a))
            goto oom;
        bool same = cp_equal(&a, &b);
        cp_swap(&a, &b);
        if (same)
            break;
    }

    /* html.unescape(html.unescape(text)) */
    for (int k = 0; k < 2; k++) {
        b.n = 0;
        html_unescape(&b, &a);
        cp_swap(&a, &b);
    }

    /* .strip(), re.sub(r'\s+', ' '), .strip() */
    size_t lo = 0, hi = a.n;
    while (lo < hi && is_py_space(a.p[lo]))
        lo++;
    while (hi > lo && is_py_space(a.p[hi - 1]))
        hi--;
    b.n = 0;
    for (size_t i = lo; i < hi;) {
        if (is_regex_space(a.p[i])) {
            while (i < hi && is_regex_space(a.p[i]))
                i++;
            cp_push(&b, ' ');
        } else {
            cp_push(&b, a.p[i++]);
        }
    }
    lo = 0;
    hi = b.n;
    while (lo < hi && is_py_space(b.p[lo]))
        lo++;
    while (hi > lo && is_py_space(b.p[hi - 1]))
        hi--;
    a.n = 0;
    for (size_t i = lo; i < hi; i++)
        cp_push(&a, b.p[i]);

    /* .lower() */
    b.n = 0;
    py_lower(&b, &a);
    if (a.failed || b.failed)
        goto oom;
    *out = to_utf8(&b, out_len);
    if (!*out)
        goto oom;
    goto done;
oom:
    s = rv_error_set(err, RV_ERR_HOST_MEMORY, "tokenizer: out of host memory cleaning a prompt");
done:
    cp_free(&a);
    cp_free(&b);
    return s;
}

/* rv_prompt.h: token counts with a model's own CLIP tokenizer and unknown
 * words against its known_words.txt. A thin layer over tokenizer.c (which it
 * calls, never changes); no weights, no device. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/tokenizer.h"
#include "rv_prompt.h"

struct rv_prompt_info {
    rv_tokenizer *tok;
    char **words; /* sorted */
    int n_words;
    bool has_list;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static rv_status load_words(rv_prompt_info *p, const char *path, rv_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return RV_OK; /* optional */
    char line[256];
    int cap = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n#")] = 0;
        char *w = line;
        while (*w == ' ' || *w == '\t')
            w++;
        size_t n = strlen(w);
        while (n && (w[n - 1] == ' ' || w[n - 1] == '\t'))
            w[--n] = 0;
        if (!n)
            continue;
        if (p->n_words == cap) {
            cap = cap ? cap * 2 : 256;
            char **nw = realloc(p->words, (size_t)cap * sizeof(*nw));
            if (!nw) {
                fclose(f);
                return rv_error_set(err, RV_ERR_HOST_MEMORY, "PROMPT: out of memory reading %s", path);
            }
            p->words = nw;
        }
        for (char *c = w; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (!(p->words[p->n_words] = strdup(w))) {
            fclose(f);
            return rv_error_set(err, RV_ERR_HOST_MEMORY, "PROMPT: out of memory reading %s", path);
        }
        p->n_words++;
    }
    fclose(f);
    qsort(p->words, (size_t)p->n_words, sizeof(char *), cmp_str);
    p->has_list = true;
    return RV_OK;
}

rv_status rv_prompt_info_load(rv_prompt_info **out, const char *model_dir, rv_error *err)
{
    *out = NULL;
    rv_prompt_info *p = calloc(1, sizeof(*p));
    if (!p)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "PROMPT: out of memory");
    char dir[1200];
    struct stat sb;
    snprintf(dir, sizeof(dir), "%s/tokenizer", model_dir);
    if (stat(dir, &sb) != 0)
        snprintf(dir, sizeof(dir), "%s", model_dir);
    rv_status st = rv_tokenizer_load(&p->tok, dir, err);
    if (st == RV_OK) {
        char path[1300];
        snprintf(path, sizeof(path), "%s/known_words.txt", model_dir);
        st = load_words(p, path, err);
    }
    if (st) {
        rv_prompt_info_unload(p);
        return st;
    }
    *out = p;
    return RV_OK;
}

void rv_prompt_info_unload(rv_prompt_info *p)
{
    if (!p)
        return;
    rv_tokenizer_unload(p->tok);
    for (int i = 0; i < p->n_words; i++)
        free(p->words[i]);
    free(p->words);
    free(p);
}

bool rv_prompt_info_has_known_words(const rv_prompt_info *p)
{
    return p->has_list;
}

rv_status rv_prompt_count_tokens(rv_prompt_info *p, const char *text, int *n_tokens, rv_error *err)
{
    int32_t ids[RV_TOKENIZER_MAX_LENGTH];
    return rv_tokenizer_encode(p->tok, text, ids, n_tokens, err);
}

static bool known(const rv_prompt_info *p, const char *w)
{
    return bsearch(&w, p->words, (size_t)p->n_words, sizeof(char *), cmp_str) != NULL;
}

int rv_prompt_unknown_words(rv_prompt_info *p, const char *text, rv_prompt_word_fn fn, void *user)
{
    if (!p->has_list)
        return 0;
    int count = 0;
    char seen[64][48];
    int n_seen = 0;
    for (const char *c = text; *c;) {
        if (!isalpha((unsigned char)*c) && !((unsigned char)*c & 0x80)) {
            c++;
            continue;
        }
        char w[48];
        size_t n = 0;
        while (*c && (isalpha((unsigned char)*c) || ((unsigned char)*c & 0x80))) {
            if (n < sizeof(w) - 1)
                w[n++] = (char)tolower((unsigned char)*c);
            c++;
        }
        w[n] = 0;
        if (known(p, w))
            continue;
        bool dup = false;
        for (int i = 0; i < n_seen; i++)
            if (strcmp(seen[i], w) == 0)
                dup = true;
        if (dup)
            continue;
        if (n_seen < 64)
            memcpy(seen[n_seen++], w, n + 1);
        char pieces[256] = "";
        int32_t ids[32];
        size_t nids = 0;
        rv_error e = {0};
        if (rv_tokenizer_tokenize(p->tok, w, ids, 32, &nids, &e) == RV_OK) {
            size_t m = 0;
            for (size_t i = 0; i < nids && i < 32 && m + 40 < sizeof(pieces); i++) {
                const char *t = rv_tokenizer_token(p->tok, ids[i]);
                if (!t)
                    continue;
                size_t tl = strlen(t);
                if (tl >= 4 && strcmp(t + tl - 4, "</w>") == 0)
                    tl -= 4;
                m += (size_t)snprintf(pieces + m, sizeof(pieces) - m, "%s%.*s", i ? " + " : "",
                                      (int)(tl > 32 ? 32 : tl), t);
            }
        }
        count++;
        if (fn)
            fn(user, w, pieces);
    }
    return count;
}

/* Fuzz target: prompts through the CLIP tokenizer of the shipped model
 * (models/reverie-tiny/tokenizer): encode, tokenize and decode must agree,
 * every id must be in the vocabulary, and for prompts of lowercase words
 * separated by single spaces decode(tokenize(p)) must give p back. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "models/tokenizer.h"

#ifndef RV_FUZZ_SOURCE_DIR
#define RV_FUZZ_SOURCE_DIR "."
#endif

static rv_tokenizer *tok;

static bool plain_words(const char *p)
{
    if (!*p)
        return false;
    for (const char *c = p; *c; c++) {
        if (*c == ' ') {
            if (c == p || c[1] == ' ' || c[1] == 0)
                return false;
        } else if (*c < 'a' || *c > 'z') {
            return false;
        }
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tok) {
        rv_error err = {0};
        const char *src = getenv("RV_SOURCE_DIR");
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s/models/reverie-tiny/tokenizer", src && *src ? src : RV_FUZZ_SOURCE_DIR);
        if (rv_tokenizer_load(&tok, dir, &err)) {
            fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
            abort();
        }
    }
    if (size > 4096)   /* long prompts take long; their cost is linear and tested elsewhere */
        return 0;
    char *prompt = fuzz_cstr(data, size);
    int32_t ids[RV_TOKENIZER_MAX_LENGTH];
    int n = 0;
    rv_error err = {0};
    rv_status s = rv_tokenizer_encode(tok, prompt, ids, &n, &err);
    if (s) {
        if (s != RV_ERR_INVALID || !err.msg[0])
            abort();
        free(prompt);
        return 0;
    }
    if (n < 2 || ids[0] != rv_tokenizer_bos_id(tok))
        abort();
    const int vocab = rv_tokenizer_vocab_size(tok);
    for (int i = 0; i < RV_TOKENIZER_MAX_LENGTH; i++)
        if (ids[i] < 0 || ids[i] >= vocab || !rv_tokenizer_token(tok, ids[i]))
            abort();
    /* usually fewer ids than bytes, but not always: lowercasing U+0130 (2
     * bytes) gives i + U+0307 (3 bytes, 3 ids); the count is reported in
     * full when it exceeds the buffer, and a second call fills it */
    size_t cap = size + 8, total = 0;
    int32_t *all = malloc(cap * sizeof(int32_t));
    if (rv_tokenizer_tokenize(tok, prompt, all, cap, &total, &err) || total != (size_t)n - 2)
        abort();
    if (total > cap) {
        int32_t *first = all;
        size_t again = 0;
        all = malloc(total * sizeof(int32_t));
        if (rv_tokenizer_tokenize(tok, prompt, all, total, &again, &err) || again != total ||
            memcmp(all, first, cap * sizeof(int32_t)) != 0)
            abort();   /* the truncated call wrote a prefix of the full one */
        free(first);
    }
    for (size_t i = 0; i < total && i + 1 < RV_TOKENIZER_MAX_LENGTH - 1; i++)
        if (all[i] != ids[i + 1])
            abort();   /* encode is tokenize framed */
    char *text = NULL;
    if (rv_tokenizer_decode(tok, all, total, false, &text, &err))
        abort();
    if (plain_words(prompt)) {
        size_t pl = strlen(prompt);
        if (strlen(text) != pl + 1 || memcmp(text, prompt, pl) != 0 || text[pl] != ' ')
            abort();   /* the round trip */
    }
    free(text);
    if (rv_tokenizer_decode(tok, ids, RV_TOKENIZER_MAX_LENGTH, true, &text, &err))
        abort();
    free(text);
    free(all);
    free(prompt);
    return 0;
}

/* Fuzz target: a tokenizer folder. The input is split at NUL bytes into
 * vocab.json, merges.txt and (when present) special_tokens_map.json and
 * tokenizer_config.json; a folder that loads must then encode and decode. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "models/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[4] = {"vocab.json", "merges.txt", "special_tokens_map.json",
                                         "tokenizer_config.json"};
    char path[512];
    size_t start = 0;
    int part = 0;
    for (size_t i = 0; i <= size && part < 4; i++) {
        if (i == size || data[i] == 0) {
            fuzz_write(names[part++], data + start, i - start, path, sizeof(path));
            start = i + 1;
        }
    }
    for (; part < 4; part++)
        fuzz_remove(names[part]);
    rv_tokenizer *tok = NULL;
    rv_error err = {0};
    if (rv_tokenizer_load(&tok, fuzz_dir(), &err)) {
        if (!err.msg[0] || tok)
            abort();
        return 0;
    }
    static const char *const prompts[] = {"a photograph of an astronaut", "hello hello", "<|endoftext|> x", "",
                                          "caf\xc3\xa9 \xe2\x98\x95 12,345 don't"};
    for (size_t p = 0; p < sizeof(prompts) / sizeof(prompts[0]); p++) {
        int32_t ids[RV_TOKENIZER_MAX_LENGTH];
        int n = 0;
        if (rv_tokenizer_encode(tok, prompts[p], ids, &n, &err) == RV_OK) {
            char *text = NULL;
            rv_tokenizer_decode(tok, ids, RV_TOKENIZER_MAX_LENGTH, p % 2 == 0, &text, &err);
            free(text);
        }
    }
    rv_tokenizer_check_encoder(tok, 49408, "fuzz", &err);
    rv_tokenizer_unload(tok);
    return 0;
}

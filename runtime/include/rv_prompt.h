/* Prompt facts against a model folder, for validators and editors: how many
 * CLIP tokens a prompt takes with the model's own tokenizer, and which words
 * the model was never taught (its folder's known_words.txt, when shipped).
 * Loads no weights and needs no device. */
#ifndef RV_PROMPT_H
#define RV_PROMPT_H

#include <stdbool.h>

#include "rv_status.h"

/* CLIP's context: BOS + 75 tokens + EOS. */
#define RV_PROMPT_MAX_TOKENS 77

typedef struct rv_prompt_info rv_prompt_info;

/* `model_dir` is a diffusers folder (its tokenizer/ is used) or a tokenizer
 * folder. known_words.txt in model_dir (one word a line, '#' comments) is
 * optional. */
rv_status rv_prompt_info_load(rv_prompt_info **out, const char *model_dir, rv_error *err);
void rv_prompt_info_unload(rv_prompt_info *p); /* accepts NULL */
bool rv_prompt_info_has_known_words(const rv_prompt_info *p);

/* Tokens the prompt needs including BOS and EOS (more than 77: it is cut). */
rv_status rv_prompt_count_tokens(rv_prompt_info *p, const char *text, int *n_tokens, rv_error *err);

/* Calls fn once per distinct word of text (letters, lower-cased) that is not
 * in the known words, with how the tokenizer splits it ("k + night").
 * Returns how many there were; 0 when the folder ships no list. */
typedef void (*rv_prompt_word_fn)(void *user, const char *word, const char *pieces);
int rv_prompt_unknown_words(rv_prompt_info *p, const char *text, rv_prompt_word_fn fn, void *user);

#endif

/* CLIP BPE tokenizer: loads a diffusers `tokenizer/` folder (vocab.json,
 * merges.txt, and the special-token files) and turns prompts into the 77 ids
 * CLIP's text encoder takes, exactly as openai CLIP's simple_tokenizer.py /
 * Hugging Face's slow CLIPTokenizer do. Public (`reverie tokenize` uses it);
 * needs no device. Not the text encoder. */
#ifndef RV_TOKENIZER_API_H
#define RV_TOKENIZER_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rv_status.h"

/* CLIP's context: BOS + up to 75 tokens + EOS, padded. */
#define RV_TOKENIZER_MAX_LENGTH 77
/* Prompts longer than this many bytes are refused (RV_ERR_INVALID). */
#define RV_TOKENIZER_MAX_INPUT (1u << 20)

typedef struct rv_tokenizer rv_tokenizer;

/* Loads `dir`/vocab.json and `dir`/merges.txt, plus the optional
 * special_tokens_map.json and tokenizer_config.json, which name the BOS, EOS,
 * pad and unk tokens (special_tokens_map.json wins, as in transformers; the
 * defaults are <|startoftext|>, <|endoftext|>, <|endoftext|>, <|endoftext|>).
 * SD 1.5 folders pad with <|endoftext|> (49407), SD 2.x folders with "!" (0).
 * Missing files are RV_ERR_IO; corrupt ones RV_ERR_FORMAT naming the file
 * (and the line, for merges.txt). */
rv_status rv_tokenizer_load(rv_tokenizer **out, const char *dir, rv_error *err);
/* Accepts NULL. */
void rv_tokenizer_unload(rv_tokenizer *tok);

/* Encodes a NUL-terminated UTF-8 prompt into ids[0..77): BOS, the first 75
 * tokens, EOS, then the pad id. *n_tokens (may be NULL) receives how many ids
 * the prompt needs including BOS and EOS before truncation: more than 77
 * means the prompt was cut; min(*n_tokens, 77) - 1 is the EOS position.
 * Text is cleaned as the reference does (see tokenizer_text.c for the exact
 * steps and the two ftfy fixes left out). Invalid UTF-8 is RV_ERR_INVALID
 * naming the byte offset: the reference takes Unicode strings, so no byte
 * sequence it would accept is refused.
 * Not thread-safe on one tokenizer (it caches BPE results per word). */
rv_status rv_tokenizer_encode(rv_tokenizer *tok, const char *utf8,
                              int32_t ids[RV_TOKENIZER_MAX_LENGTH], int *n_tokens,
                              rv_error *err);

/* The raw token ids of a prompt, without BOS/EOS, truncation or padding.
 * Writes at most `cap` ids; *n receives the full count (which may exceed cap). */
rv_status rv_tokenizer_tokenize(rv_tokenizer *tok, const char *utf8, int32_t *ids, size_t cap,
                                size_t *n, rv_error *err);

/* Ids back to text, for debugging: "</w>" becomes a space, bytes that do not
 * form UTF-8 become U+FFFD (as the reference's decode). With skip_special,
 * BOS, EOS and pad ids are left out. *out_text is malloc'd (free()). An id
 * outside the vocabulary is RV_ERR_INVALID. */
rv_status rv_tokenizer_decode(const rv_tokenizer *tok, const int32_t *ids, size_t n,
                              bool skip_special, char **out_text, rv_error *err);

int32_t rv_tokenizer_bos_id(const rv_tokenizer *tok);
int32_t rv_tokenizer_eos_id(const rv_tokenizer *tok);
int32_t rv_tokenizer_pad_id(const rv_tokenizer *tok);
int32_t rv_tokenizer_vocab_size(const rv_tokenizer *tok); /* largest id + 1 */
/* Id of an exact vocabulary entry ("a</w>", "!"), or -1. */
int32_t rv_tokenizer_token_id(const rv_tokenizer *tok, const char *token);
/* Vocabulary entry of an id, or NULL. */
const char *rv_tokenizer_token(const rv_tokenizer *tok, int32_t id);

#endif

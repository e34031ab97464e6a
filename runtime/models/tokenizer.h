/* CLIP BPE tokenizer, the runtime's side: the public functions are in
 * rv_tokenizer.h (runtime/include); this adds the check against the text
 * encoder's vocabulary that loading a model needs. Not the text encoder. */
#ifndef RV_TOKENIZER_H
#define RV_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rv_status.h"
#include "rv_tokenizer.h"

/* The tokenizer must not produce an id the text encoder has no embedding
 * row for (such an id would read an unwritten row: a silently wrong
 * picture). RV_ERR_FORMAT naming `where` (the model folder) and both sizes
 * when the largest id is >= encoder_vocab_size. Call once both are loaded. */
rv_status rv_tokenizer_check_encoder(const rv_tokenizer *tok, uint32_t encoder_vocab_size, const char *where,
                                     rv_error *err);

#endif

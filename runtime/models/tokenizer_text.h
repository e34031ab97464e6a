/* Internal to the CLIP tokenizer: the text clean-up the reference applies
 * before pre-tokenisation (ftfy subset, HTML unescape, whitespace, lower).
 * Not a public API and not a general Unicode library. */
#ifndef RV_TOKENIZER_TEXT_H
#define RV_TOKENIZER_TEXT_H

#include <stddef.h>

#include "rv_status.h"

/* Named HTML5 character reference `name[0..len)` (ASCII, with its ';' if it
 * has one, as Python's html.entities.html5 keys): number of code points
 * written to cp (1 or 2), or 0 when there is no such reference. */
int rv_html_entity_lookup(const char *name, size_t len, unsigned int cp[2]);

/* Cleans a prompt the way CLIP's reference tokenizer does before its regex:
 *   ftfy.fix_text subset -> html.unescape twice -> strip -> collapse \s+ to
 *   one space -> strip -> str.lower()
 * Returns malloc'd NUL-terminated UTF-8 in *out (free()). Invalid UTF-8 in
 * the input is RV_ERR_INVALID naming the byte offset. */
rv_status rv_clip_clean_text(const char *utf8, size_t len, char **out, size_t *out_len,
                             rv_error *err);

#endif

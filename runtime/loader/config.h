/* Typed reading of JSON config files (diffusers/transformers config.json,
 * model_index.json) with cJSON: every failure names the file and the key.
 * Not a schema language: each component's parser asks for its keys. */
#ifndef RV_CONFIG_H
#define RV_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "rv_status.h"

struct cJSON;

/* A parsed JSON object plus the name used in messages. The first error is
 * kept (rv_error_set semantics), so a parser reads every key and checks once. */
typedef struct rv_cfg {
    char file[512];
    struct cJSON *root;
    rv_error *err;
} rv_cfg;

/* Reads and parses `path` (RV_ERR_IO when missing, RV_ERR_FORMAT with
 * line:column when malformed, or when the top level is not an object). */
rv_status rv_cfg_load(rv_cfg *c, const char *path, rv_error *err);
/* The same from text in memory; `name` stands for the file in messages. */
rv_status rv_cfg_parse(rv_cfg *c, const char *text, const char *name, rv_error *err);
void rv_cfg_free(rv_cfg *c);
bool rv_cfg_failed(const rv_cfg *c);

/* Present and not JSON null. */
bool rv_cfg_has(const rv_cfg *c, const char *key);

/* Getters: absent or null keys give `def`, unless `required`. A wrong type
 * or value (a negative count, a fraction where an integer is needed) is an
 * RV_ERR_FORMAT error naming the file and the key; the default comes back. */
uint32_t rv_cfg_uint(rv_cfg *c, const char *key, uint32_t def, bool required);
int64_t rv_cfg_int(rv_cfg *c, const char *key, int64_t def, bool required);
double rv_cfg_num(rv_cfg *c, const char *key, double def, bool required);
bool rv_cfg_bool(rv_cfg *c, const char *key, bool def, bool required);
/* Points into the parsed document (valid until rv_cfg_free). */
const char *rv_cfg_str(rv_cfg *c, const char *key, const char *def, bool required);
/* A list of positive integers, or (with `scalar_ok`) one integer meaning
 * that value `broadcast` times. Returns the number of entries, 0 on error or
 * when absent and not required. */
int rv_cfg_uint_list(rv_cfg *c, const char *key, uint32_t *out, int cap, bool scalar_ok, int broadcast,
                     bool required);
/* A list of strings (pointers into the document). */
int rv_cfg_str_list(rv_cfg *c, const char *key, const char **out, int cap, bool required);

/* Key policy. `known`: keys the parser reads or that do not change the
 * maths (NULL-terminated). `fixed`: keys accepted only with one of the
 * listed values, written as compact JSON ("false", "null", "\"default\"").
 * Keys starting with '_' are bookkeeping. With `strict`, any other key is an
 * error (an option this runtime does not know may change the maths). */
typedef struct rv_cfg_fixed {
    const char *key;
    const char *accepted[4];
} rv_cfg_fixed;
void rv_cfg_check_keys(rv_cfg *c, const char *const *known, const rv_cfg_fixed *fixed, int nfixed, bool strict);

/* Duplicate keys of a JSON object, found by sorting (O(n log n), so an
 * object of a few hundred thousand keys costs milliseconds, not the minutes
 * a pairwise check took). Returns 1 and sets *key to the first key in
 * document order that appears again later, 0 when all keys differ, -1 when
 * out of memory. */
int rv_json_duplicate_key(const struct cJSON *obj, const char **key);

/* Sets the error "<file>: key \"key\": <message>" (printf-style). */
void rv_cfg_fail(rv_cfg *c, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif

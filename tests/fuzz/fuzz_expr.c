/* libFuzzer target: the story expression compiler and evaluator. The input
 * is compiled as a condition and as an effect against a small story with a
 * variable of each type, then evaluated (with random()). Internal API
 * (runtime/story/story_internal.h): the public one only reaches expressions
 * through a whole story, which fuzz_story covers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rv_story.h"
#include "story/story_internal.h"

static const char base[] =
    "{\"format\": \"reverie-story/1\", \"title\": \"f\","
    " \"variables\": {\"n\": 3, \"b\": true, \"s\": \"abc\", \"x\": -1.5},"
    " \"scenes\": [{\"id\": \"a\", \"choices\": [{\"text\": \"t\", \"target\": \"b\"}]},"
    "  {\"id\": \"b\", \"ending\": true}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *src = malloc(size + 1);
    memcpy(src, data, size);
    src[size] = 0;
    rv_story *s = NULL;
    if (rv_story_load_mem(&s, "base.json", base, sizeof(base) - 1, NULL, NULL) != RV_OK)
        abort();
    value vars[RV_STORY_MAX_VARS];
    for (int i = 0; i < s->n_vars; i++)
        vars[i] = s->vars[i].init;
    uint32_t visits[2] = {1, 0};
    uint64_t rng = 42;
    eval_env env = {.story = s, .vars = vars, .visits = visits, .turns = 2, .rng = &rng};
    for (int assign = 0; assign < 2; assign++) {
        expr_ctx cx = {.story = s, .assign = assign};
        expr e;
        if (expr_compile(&cx, src, &e)) {
            if (e.max_stack > RV_EXPR_MAX_STACK || e.start + e.len > s->n_code)
                abort();
            value v = expr_eval(&env, &e);
            if (!assign && v.type != e.type)
                abort(); /* the static type is the value's type */
            value c;
            expr_const(s, &e, &c);
        } else if (cx.col < 1 || !cx.msg[0] || !cx.code[0]) {
            abort(); /* every error has a column, a message and a code */
        }
    }
    rv_story_unload(s);
    free(src);
    return 0;
}

/* Internal structures of the story engine shared by its files: the
 * position-keeping JSON tree, compiled expressions and templates, the loaded
 * story. Not part of the public API (runtime/include/rv_story.h). */
#ifndef RV_STORY_INTERNAL_H
#define RV_STORY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rv_story.h"

/* ------------------------------------------------------------ arena */

/* Bump allocator: everything a story owns lives in one, freed at once. */
typedef struct sarena_block sarena_block;
typedef struct sarena {
    sarena_block *head;
    size_t used_total, limit; /* limit 0 = none */
    bool failed;
} sarena;
void *sarena_alloc(sarena *a, size_t n);
char *sarena_strdup(sarena *a, const char *s);
char *sarena_strndup(sarena *a, const char *s, size_t n);
void sarena_free(sarena *a);

/* ------------------------------------------------------------ JSON */

typedef enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jnode jnode;
struct jnode {
    jtype type;
    int line, col;         /* of the value's first character */
    int key_line, key_col; /* of the key, for object members */
    const char *key;       /* member name, or NULL */
    bool b;
    double num;
    const char *str; /* decoded, NUL-terminated (no NUL inside) */
    size_t len;
    jnode **kids;
    int n;
};

#define RV_JSON_MAX_BYTES (8u << 20)
#define RV_JSON_MAX_DEPTH 64
#define RV_JSON_MAX_STRING (64u << 10)
#define RV_JSON_MAX_MEMBERS 10000

/* Parses the whole text into a tree allocated in `a`. On error returns NULL
 * and fills line/col and msg. */
jnode *json_parse(sarena *a, const char *text, size_t size, int *line, int *col, char *msg,
                  size_t msg_cap);
const char *json_type_name(jtype t);
const jnode *json_get(const jnode *obj, const char *key);

/* ------------------------------------------------------------ values */

typedef enum vtype { V_NONE = 0, V_NUM, V_BOOL, V_STR } vtype;

typedef struct value {
    vtype type;
    double num; /* numbers; booleans as 0/1 */
    const char *str;
} value;

#define RV_VAR_STR_MAX 256

typedef struct var_def {
    const char *name;
    vtype type;
    value init;
    int line, col;
    bool assigned; /* some effect writes it */
} var_def;

/* ------------------------------------------------------------ expressions */

typedef enum op {
    OP_NUM, OP_BOOL, OP_STR, OP_VAR, OP_NEG, OP_NOT,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_JFALSE_KEEP, OP_JTRUE_KEEP, OP_POP,
    OP_MIN, OP_MAX, OP_CLAMP, OP_VISITED, OP_TURNS, OP_RANDOM,
} op;

typedef struct insn {
    uint8_t op;
    uint8_t nargs;
    int32_t arg; /* constant index, var index, scene index, jump target */
} insn;

typedef struct expr {
    int start, len; /* into story->code */
    vtype type;
    int max_stack;
    bool uses_random;
} expr;

#define RV_EXPR_MAX_LEN 1024
#define RV_EXPR_MAX_DEPTH 32
#define RV_EXPR_MAX_STACK 64

struct rv_story;
/* Compiles `src` (an expression; or an assignment when `assign` is set:
 * `var = e`, `var += e`, `var -= e`). Returns false with a message and a
 * 1-based column inside src. For assignments *target gets the variable. */
typedef struct expr_ctx {
    struct rv_story *story;
    bool assign;
    int target, assign_op; /* 0 '=', 1 '+=', 2 '-=' */
    char msg[256];
    int col;
    char code[8];
} expr_ctx;
bool expr_compile(expr_ctx *cx, const char *src, expr *out);

/* Evaluation environment. */
typedef struct eval_env {
    const struct rv_story *story;
    const value *vars;
    const uint32_t *visits;
    int turns;
    uint64_t *rng; /* NULL: random() is not constant (const folding) */
} eval_env;
/* Bounded: forward jumps only, fixed stack. Non-finite numbers become 0;
 * x/0 and x%0 are 0. */
value expr_eval(const eval_env *env, const expr *e);
/* Constant folding for the validator: true if e depends on nothing but
 * variables that no effect assigns, with *out its value. */
bool expr_const(const struct rv_story *s, const expr *e, value *out);
uint64_t rng_next(uint64_t *state);

/* ------------------------------------------------------------ templates */

typedef enum tpart_kind { TP_TEXT, TP_EXPR, TP_COND } tpart_kind;
typedef struct tpart {
    tpart_kind kind;
    const char *text, *alt; /* TP_TEXT: text; TP_COND: text if true / if false */
    expr e;
} tpart;
typedef struct tmpl {
    int start, n; /* into story->parts */
    bool present;
} tmpl;

/* ------------------------------------------------------------ schedules */

typedef enum ease { EASE_LINEAR = 0, EASE_IN_OUT, EASE_STEP } ease;
typedef struct track {
    int start, n; /* keys into story->key_t / key_v; n = 0: the default */
    double def;
    ease ease;
} track;

typedef struct effect {
    int var, op; /* op: 0 '=', 1 '+=', 2 '-=' */
    expr e;
} effect;

typedef struct choice {
    tmpl text;
    int target; /* scene index; -1 = stay */
    bool has_cond;
    expr cond;
    int fx_start, fx_n;
    bool once, fallback;
    int line, col, target_line, target_col, cond_line, cond_col;
    const char *cond_src;
} choice;

typedef struct next_rule {
    bool has_cond;
    expr cond;
    const char *cond_src;
    int target;
    int line, col, cond_line, cond_col;
} next_rule;

typedef struct answer {
    tmpl text, feedback;
    bool correct;
    int target; /* -1 = the scene's next rules */
    int fx_start, fx_n;
    int line, col;
} answer;

typedef struct prompt_part {
    tmpl text;
    track weight;
    const char *path;
    int line, col;
} prompt_part;

enum { TR_STRENGTH, TR_ZOOM, TR_PAN_X, TR_PAN_Y, TR_ROTATE, TR_SEED_DRIFT, TR_COUNT };

typedef struct scene {
    const char *id;
    int line, col;
    tmpl narration, negative, question;
    const char *neg_path;
    int neg_line, neg_col;
    int n_prompts;
    prompt_part prompts[RV_STORY_MAX_PROMPTS];
    int style; /* index into story->styles */
    uint64_t seed;
    double duration, transition;
    int steps;
    track tracks[TR_COUNT];
    int fx_start, fx_n;       /* on_enter */
    int ch_start, ch_n;       /* choices */
    int nx_start, nx_n;       /* next rules */
    int an_start, an_n;       /* quiz answers */
    bool is_quiz;
    const char *ending;       /* NULL unless an ending */
    int next_line, next_col;
    bool reachable;
} scene;

typedef struct style_def {
    const char *name;
    const char *prompt;   /* with "{prompt}" where the scene's prompt goes */
    const char *negative; /* appended to the scene's negative */
} style_def;

#define RV_STORY_MAX_SCENES 4096
#define RV_STORY_MAX_VARS 256
#define RV_STORY_MAX_STYLES 64

struct rv_story {
    sarena arena;
    const char *file;
    const char *title, *author, *model;
    int width, height, steps;
    uint64_t seed;
    double default_duration;
    int default_style;
    int start;

    var_def *vars;
    int n_vars;
    style_def *styles;
    int n_styles;
    scene *scenes;
    int n_scenes;

    /* growable pools (malloc'd; freed by rv_story_unload) */
    insn *code; int n_code, cap_code;
    value *consts; int n_consts, cap_consts;
    tpart *parts; int n_parts, cap_parts;
    double *key_t, *key_v; int n_keys, cap_keys;
    effect *fx; int n_fx, cap_fx;
    choice *choices; int n_choices, cap_choices;
    next_rule *nexts; int n_nexts, cap_nexts;
    answer *answers; int n_answers, cap_answers;
    bool oom;
};

int story_find_scene(const struct rv_story *s, const char *id);
int story_find_var(const struct rv_story *s, const char *name);
int story_find_style(const struct rv_story *s, const char *name);

/* Template rendering into buf (always NUL-terminated, cut at a UTF-8
 * boundary). `all` renders both branches of conditionals (for checks). */
void tmpl_render(const eval_env *env, const tmpl *t, char *buf, size_t cap, bool all);
double track_eval(const struct rv_story *s, const track *t, double time);
void value_to_text(value v, char *buf, size_t cap);

/* Semantic checks (story_check.c), after loading without errors. */
void story_check(struct rv_story *s, rv_story_diags *d);

/* UTF-8: length of the valid prefix of s[0..n) */
size_t utf8_valid_prefix(const char *s, size_t n);
/* Copy with truncation at a code-point boundary. */
void copy_text(char *dst, size_t cap, const char *src);

#endif

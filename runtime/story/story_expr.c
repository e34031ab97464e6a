/* The story expression language: a recursive-descent compiler with static
 * types to a small stack bytecode (forward jumps only, so evaluation cannot
 * loop), its bounded evaluator, constant folding for the validator, and the
 * story's random generator. Not templates (story_load.c) nor state. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "story_internal.h"

typedef enum tok {
    T_END, T_NUM, T_STR, T_IDENT, T_LP, T_RP, T_COMMA,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PCT,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
    T_AND, T_OR, T_NOT, T_TRUE, T_FALSE,
    T_ASSIGN, T_PLUSEQ, T_MINUSEQ, T_BAD,
} tok;

typedef struct cc {
    expr_ctx *cx;
    struct rv_story *s;
    const char *src;
    size_t pos;       /* next char */
    tok t;            /* current token */
    size_t tstart;    /* its offset */
    size_t tlen;
    double num;
    char text[RV_EXPR_MAX_LEN + 1];
    int depth, sp, max_sp;
    bool failed, uses_random;
} cc;

static int col_of(const char *src, size_t off)
{
    int c = 1;
    for (size_t i = 0; i < off && src[i]; i++)
        if (((unsigned char)src[i] & 0xC0) != 0x80)
            c++;
    return c;
}

static void cfail(cc *c, size_t off, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cfail(cc *c, size_t off, const char *code, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->cx->msg, sizeof(c->cx->msg), fmt, ap);
    va_end(ap);
    c->cx->col = col_of(c->src, off);
    snprintf(c->cx->code, sizeof(c->cx->code), "%s", code);
}

static bool is_ident_start(int ch) { return isalpha(ch) || ch == '_'; }
static bool is_ident(int ch) { return isalnum(ch) || ch == '_'; }

static void next(cc *c)
{
    const char *s = c->src;
    while (s[c->pos] == ' ' || s[c->pos] == '\t' || s[c->pos] == '\n' || s[c->pos] == '\r')
        c->pos++;
    c->tstart = c->pos;
    unsigned char ch = (unsigned char)s[c->pos];
    if (!ch) {
        c->t = T_END;
        c->tlen = 0;
        return;
    }
    if (isdigit(ch) || (ch == '.' && isdigit((unsigned char)s[c->pos + 1]))) {
        size_t i = c->pos;
        while (isdigit((unsigned char)s[i]))
            i++;
        if (s[i] == '.') {
            i++;
            while (isdigit((unsigned char)s[i]))
                i++;
        }
        char tmp[64];
        size_t n = i - c->pos;
        if (n >= sizeof(tmp)) {
            cfail(c, c->pos, "E204", "number too long");
            c->t = T_BAD;
            return;
        }
        memcpy(tmp, s + c->pos, n);
        tmp[n] = 0;
        c->num = strtod(tmp, NULL);
        c->pos = i;
        c->t = T_NUM;
        c->tlen = n;
        return;
    }
    if (ch == '\'' || ch == '"') {
        size_t i = c->pos + 1, n = 0;
        while (s[i] && (unsigned char)s[i] != ch) {
            c->text[n++] = s[i];
            i++;
        }
        if (!s[i]) {
            cfail(c, c->pos, "E204", "unterminated string");
            c->t = T_BAD;
            return;
        }
        c->text[n] = 0;
        c->pos = i + 1;
        c->t = T_STR;
        c->tlen = c->pos - c->tstart;
        return;
    }
    if (is_ident_start(ch)) {
        size_t i = c->pos, n = 0;
        while (is_ident((unsigned char)s[i]))
            c->text[n++] = s[i++];
        c->text[n] = 0;
        c->pos = i;
        c->tlen = n;
        c->t = strcmp(c->text, "and") == 0 ? T_AND
             : strcmp(c->text, "or") == 0 ? T_OR
             : strcmp(c->text, "not") == 0 ? T_NOT
             : strcmp(c->text, "true") == 0 ? T_TRUE
             : strcmp(c->text, "false") == 0 ? T_FALSE : T_IDENT;
        return;
    }
    char n1 = s[c->pos + 1];
    struct { const char *p; tok t; } ops[] = {
        {"==", T_EQ}, {"!=", T_NE}, {"<=", T_LE}, {">=", T_GE}, {"&&", T_AND}, {"||", T_OR},
        {"+=", T_PLUSEQ}, {"-=", T_MINUSEQ},
        {"(", T_LP}, {")", T_RP}, {",", T_COMMA}, {"+", T_PLUS}, {"-", T_MINUS}, {"*", T_STAR},
        {"/", T_SLASH}, {"%", T_PCT}, {"<", T_LT}, {">", T_GT}, {"!", T_NOT}, {"=", T_ASSIGN},
    };
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        const char *p = ops[k].p;
        if (p[0] == (char)ch && (!p[1] || p[1] == n1)) {
            c->pos += strlen(p);
            c->t = ops[k].t;
            c->tlen = strlen(p);
            return;
        }
    }
    c->t = T_BAD;
    if (ch >= 0x20 && ch < 0x7F)
        cfail(c, c->pos, "E204", "unexpected character '%c'", ch);
    else
        cfail(c, c->pos, "E204", "unexpected byte 0x%02X", ch);
}

/* ------------------------------------------------------------ emission */

static int emit(cc *c, op o, int nargs, int32_t arg)
{
    struct rv_story *s = c->s;
    if (s->n_code == s->cap_code) {
        int cap = s->cap_code ? s->cap_code * 2 : 256;
        insn *nc = realloc(s->code, (size_t)cap * sizeof(*nc));
        if (!nc) {
            s->oom = true;
            cfail(c, c->tstart, "E100", "out of memory");
            return -1;
        }
        s->code = nc;
        s->cap_code = cap;
    }
    s->code[s->n_code] = (insn){(uint8_t)o, (uint8_t)nargs, arg};
    return s->n_code++;
}

static int add_const(cc *c, value v)
{
    struct rv_story *s = c->s;
    if (s->n_consts == s->cap_consts) {
        int cap = s->cap_consts ? s->cap_consts * 2 : 64;
        value *nv = realloc(s->consts, (size_t)cap * sizeof(*nv));
        if (!nv) {
            s->oom = true;
            cfail(c, c->tstart, "E100", "out of memory");
            return 0;
        }
        s->consts = nv;
        s->cap_consts = cap;
    }
    s->consts[s->n_consts] = v;
    return s->n_consts++;
}

static void push(cc *c, int k)
{
    c->sp += k;
    if (c->sp > c->max_sp)
        c->max_sp = c->sp;
    if (c->sp > RV_EXPR_MAX_STACK)
        cfail(c, c->tstart, "E204", "expression too deeply nested");
}

static const char *tname(vtype t)
{
    return t == V_NUM ? "a number" : t == V_BOOL ? "a boolean" : t == V_STR ? "a string" : "nothing";
}

static vtype parse_or(cc *c);

static vtype parse_primary(cc *c)
{
    if (c->failed)
        return V_NONE;
    size_t at = c->tstart;
    switch (c->t) {
    case T_NUM: {
        int k = add_const(c, (value){.type = V_NUM, .num = c->num});
        emit(c, OP_NUM, 0, k);
        push(c, 1);
        next(c);
        return V_NUM;
    }
    case T_TRUE:
    case T_FALSE:
        emit(c, OP_BOOL, 0, c->t == T_TRUE);
        push(c, 1);
        next(c);
        return V_BOOL;
    case T_STR: {
        const char *str = sarena_strdup(&c->s->arena, c->text);
        int k = add_const(c, (value){.type = V_STR, .str = str ? str : ""});
        emit(c, OP_STR, 0, k);
        push(c, 1);
        next(c);
        return V_STR;
    }
    case T_LP: {
        if (++c->depth > RV_EXPR_MAX_DEPTH) {
            cfail(c, at, "E204", "expression nested deeper than %d levels", RV_EXPR_MAX_DEPTH);
            return V_NONE;
        }
        next(c);
        vtype t = parse_or(c);
        if (c->failed)
            return V_NONE;
        if (c->t != T_RP) {
            cfail(c, c->tstart, "E204", "expected ')' to close the '(' at column %d",
                  col_of(c->src, at));
            return V_NONE;
        }
        c->depth--;
        next(c);
        return t;
    }
    case T_IDENT: {
        char name[RV_EXPR_MAX_LEN + 1];
        snprintf(name, sizeof(name), "%s", c->text);
        next(c);
        bool call = c->t == T_LP;
        if (!call && strcmp(name, "turns") == 0) {
            emit(c, OP_TURNS, 0, 0);
            push(c, 1);
            return V_NUM;
        }
        if (!call) {
            int v = story_find_var(c->s, name);
            if (v < 0) {
                cfail(c, at, "E202", "unknown variable \"%s\"", name);
                return V_NONE;
            }
            emit(c, OP_VAR, 0, v);
            push(c, 1);
            return c->s->vars[v].type;
        }
        static const struct { const char *name; op o; int min, max; } fns[] = {
            {"min", OP_MIN, 2, 8}, {"max", OP_MAX, 2, 8}, {"clamp", OP_CLAMP, 3, 3},
            {"visited", OP_VISITED, 1, 1}, {"turns", OP_TURNS, 0, 0}, {"random", OP_RANDOM, 0, 2},
        };
        int f = -1;
        for (int k = 0; k < (int)(sizeof(fns) / sizeof(fns[0])); k++)
            if (strcmp(fns[k].name, name) == 0)
                f = k;
        if (f < 0) {
            cfail(c, at, "E205", "unknown function \"%s\" (min, max, clamp, visited, turns, random)",
                  name);
            return V_NONE;
        }
        if (++c->depth > RV_EXPR_MAX_DEPTH) {
            cfail(c, at, "E204", "expression nested deeper than %d levels", RV_EXPR_MAX_DEPTH);
            return V_NONE;
        }
        next(c); /* '(' */
        if (fns[f].o == OP_VISITED) {
            if (c->t != T_IDENT && c->t != T_STR) {
                cfail(c, c->tstart, "E205", "visited() takes a scene id");
                return V_NONE;
            }
            int sc = story_find_scene(c->s, c->text);
            if (sc < 0) {
                cfail(c, c->tstart, "E201", "visited(): unknown scene \"%s\"", c->text);
                return V_NONE;
            }
            next(c);
            if (c->t != T_RP) {
                cfail(c, c->tstart, "E205", "visited() takes one scene id");
                return V_NONE;
            }
            next(c);
            c->depth--;
            emit(c, OP_VISITED, 0, sc);
            push(c, 1);
            return V_NUM;
        }
        int nargs = 0;
        if (c->t != T_RP) {
            for (;;) {
                size_t aat = c->tstart;
                vtype t = parse_or(c);
                if (c->failed)
                    return V_NONE;
                if (t != V_NUM) {
                    cfail(c, aat, "E203", "%s() takes numbers, not %s", name, tname(t));
                    return V_NONE;
                }
                nargs++;
                if (nargs > fns[f].max)
                    break;
                if (c->t == T_COMMA) {
                    next(c);
                    continue;
                }
                break;
            }
        }
        if (nargs < fns[f].min || nargs > fns[f].max) {
            if (fns[f].min == fns[f].max)
                cfail(c, at, "E205", "%s() takes %d argument%s, not %d", name, fns[f].min,
                      fns[f].min == 1 ? "" : "s", nargs);
            else
                cfail(c, at, "E205", "%s() takes %d to %d arguments, not %d", name, fns[f].min,
                      fns[f].max, nargs);
            return V_NONE;
        }
        if (c->t != T_RP) {
            cfail(c, c->tstart, "E204", "expected ')' after the arguments of %s()", name);
            return V_NONE;
        }
        next(c);
        c->depth--;
        if (fns[f].o == OP_RANDOM)
            c->uses_random = true;
        emit(c, fns[f].o, nargs, 0);
        c->sp -= nargs;
        push(c, 1);
        return V_NUM;
    }
    case T_END:
        cfail(c, at, "E204", "expected a value, found the end of the expression");
        return V_NONE;
    case T_BAD:
        return V_NONE;
    default:
        cfail(c, at, "E204", "expected a value, found \"%.*s\"", (int)c->tlen, c->src + at);
        return V_NONE;
    }
}

static vtype parse_unary(cc *c)
{
    if (c->t == T_MINUS || c->t == T_NOT) {
        tok t = c->t;
        size_t at = c->tstart;
        if (++c->depth > RV_EXPR_MAX_DEPTH) {
            cfail(c, at, "E204", "expression nested deeper than %d levels", RV_EXPR_MAX_DEPTH);
            return V_NONE;
        }
        next(c);
        vtype v = parse_unary(c);
        c->depth--;
        if (c->failed)
            return V_NONE;
        vtype want = t == T_MINUS ? V_NUM : V_BOOL;
        if (v != want) {
            cfail(c, at, "E203", "'%s' needs %s, not %s", t == T_MINUS ? "-" : "not",
                  tname(want), tname(v));
            return V_NONE;
        }
        emit(c, t == T_MINUS ? OP_NEG : OP_NOT, 0, 0);
        return v;
    }
    return parse_primary(c);
}

static vtype parse_mul(cc *c)
{
    vtype a = parse_unary(c);
    while (!c->failed && (c->t == T_STAR || c->t == T_SLASH || c->t == T_PCT)) {
        tok t = c->t;
        size_t at = c->tstart;
        next(c);
        vtype b = parse_unary(c);
        if (c->failed)
            return V_NONE;
        if (a != V_NUM || b != V_NUM) {
            cfail(c, at, "E203", "'%c' needs numbers, not %s", t == T_STAR ? '*' : t == T_SLASH ? '/' : '%',
                  tname(a != V_NUM ? a : b));
            return V_NONE;
        }
        emit(c, t == T_STAR ? OP_MUL : t == T_SLASH ? OP_DIV : OP_MOD, 0, 0);
        c->sp--;
    }
    return a;
}

static vtype parse_add(cc *c)
{
    vtype a = parse_mul(c);
    while (!c->failed && (c->t == T_PLUS || c->t == T_MINUS)) {
        tok t = c->t;
        size_t at = c->tstart;
        next(c);
        vtype b = parse_mul(c);
        if (c->failed)
            return V_NONE;
        if (a != V_NUM || b != V_NUM) {
            cfail(c, at, "E203", "'%c' needs numbers, not %s", t == T_PLUS ? '+' : '-',
                  tname(a != V_NUM ? a : b));
            return V_NONE;
        }
        emit(c, t == T_PLUS ? OP_ADD : OP_SUB, 0, 0);
        c->sp--;
    }
    return a;
}

static vtype parse_cmp(cc *c)
{
    vtype a = parse_add(c);
    if (c->failed)
        return V_NONE;
    tok t = c->t;
    if (t < T_EQ || t > T_GE)
        return a;
    size_t at = c->tstart;
    int opl = (int)c->tlen;
    next(c);
    vtype b = parse_add(c);
    if (c->failed)
        return V_NONE;
    if (t == T_EQ || t == T_NE) {
        if (a != b) {
            cfail(c, at, "E203", "'%.*s' compares %s with %s", opl, c->src + at, tname(a), tname(b));
            return V_NONE;
        }
    } else if (a != V_NUM || b != V_NUM) {
        cfail(c, at, "E203", "'%.*s' needs numbers, not %s", opl, c->src + at,
              tname(a != V_NUM ? a : b));
        return V_NONE;
    }
    static const op map[] = {OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE};
    emit(c, map[t - T_EQ], 0, 0);
    c->sp--;
    if (c->t >= T_EQ && c->t <= T_GE) {
        cfail(c, c->tstart, "E204", "comparisons do not chain: use 'and' (a < b and b < c)");
        return V_NONE;
    }
    return V_BOOL;
}

static vtype parse_logic(cc *c, bool is_or)
{
    vtype a = is_or ? parse_logic(c, false) : parse_cmp(c);
    while (!c->failed && c->t == (is_or ? T_OR : T_AND)) {
        size_t at = c->tstart;
        if (a != V_BOOL) {
            cfail(c, at, "E203", "'%s' needs booleans, not %s", is_or ? "or" : "and", tname(a));
            return V_NONE;
        }
        next(c);
        int j = emit(c, is_or ? OP_JTRUE_KEEP : OP_JFALSE_KEEP, 0, 0);
        c->sp--;
        size_t bat = c->tstart;
        vtype b = is_or ? parse_logic(c, false) : parse_cmp(c);
        if (c->failed)
            return V_NONE;
        if (b != V_BOOL) {
            cfail(c, bat, "E203", "'%s' needs booleans, not %s", is_or ? "or" : "and", tname(b));
            return V_NONE;
        }
        if (j >= 0)
            c->s->code[j].arg = c->s->n_code;
    }
    return a;
}

static vtype parse_or(cc *c)
{
    return parse_logic(c, true);
}

bool expr_compile(expr_ctx *cx, const char *src, expr *out)
{
    cc c = {.cx = cx, .s = cx->story, .src = src};
    cx->msg[0] = 0;
    cx->col = 0;
    cx->code[0] = 0;
    memset(out, 0, sizeof(*out));
    int start = c.s->n_code;
    size_t len = strlen(src);
    if (len > RV_EXPR_MAX_LEN) {
        cfail(&c, RV_EXPR_MAX_LEN, "E204", "expression longer than %d bytes", RV_EXPR_MAX_LEN);
        return false;
    }
    next(&c);
    if (cx->assign) {
        if (c.t != T_IDENT) {
            cfail(&c, c.tstart, "E204", "an effect is 'variable = value' (or += / -=)");
            goto fail;
        }
        int v = story_find_var(c.s, c.text);
        if (v < 0) {
            cfail(&c, c.tstart, "E202", "unknown variable \"%s\"", c.text);
            goto fail;
        }
        next(&c);
        if (c.t != T_ASSIGN && c.t != T_PLUSEQ && c.t != T_MINUSEQ) {
            cfail(&c, c.tstart, "E204", "expected '=', '+=' or '-=' after the variable");
            goto fail;
        }
        cx->target = v;
        cx->assign_op = c.t == T_ASSIGN ? 0 : c.t == T_PLUSEQ ? 1 : 2;
        size_t at = c.tstart;
        next(&c);
        size_t eat = c.tstart;
        vtype t = parse_or(&c);
        if (c.failed)
            goto fail;
        vtype want = c.s->vars[v].type;
        if (cx->assign_op && want != V_NUM) {
            cfail(&c, at, "E203", "'%s' needs a number variable; \"%s\" is %s",
                  cx->assign_op == 1 ? "+=" : "-=", c.s->vars[v].name, tname(want));
            goto fail;
        }
        if (t != want) {
            cfail(&c, eat, "E203", "\"%s\" is %s; this value is %s", c.s->vars[v].name,
                  tname(want), tname(t));
            goto fail;
        }
        out->type = t;
    } else {
        out->type = parse_or(&c);
    }
    if (c.failed)
        goto fail;
    if (c.t != T_END) {
        cfail(&c, c.tstart, "E204", "unexpected \"%.*s\" after the end of the expression",
              (int)c.tlen, src + c.tstart);
        goto fail;
    }
    out->start = start;
    out->len = c.s->n_code - start;
    out->max_stack = c.max_sp;
    out->uses_random = c.uses_random;
    return true;
fail:
    c.s->n_code = start;
    return false;
}

/* ------------------------------------------------------------ evaluation */

uint64_t rng_next(uint64_t *state)
{
    /* splitmix64: one state word, every seed fine, easy to save */
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double fin(double x)
{
    return isfinite(x) ? x : 0.0;
}

value expr_eval(const eval_env *env, const expr *e)
{
    value st[RV_EXPR_MAX_STACK + 1];
    int sp = 0;
    const struct rv_story *s = env->story;
    const insn *code = s->code + e->start;
    for (int pc = 0; pc < e->len; pc++) {
        insn in = code[pc];
        if (sp >= RV_EXPR_MAX_STACK) /* the compiler bounds it; never trust */
            return (value){.type = V_NONE};
        switch ((op)in.op) {
        case OP_NUM:
        case OP_STR: st[sp++] = s->consts[in.arg]; break;
        case OP_BOOL: st[sp++] = (value){.type = V_BOOL, .num = in.arg}; break;
        case OP_VAR: st[sp++] = env->vars[in.arg]; break;
        case OP_NEG: st[sp - 1].num = fin(-st[sp - 1].num); break;
        case OP_NOT: st[sp - 1].num = st[sp - 1].num == 0; break;
        case OP_ADD: sp--; st[sp - 1].num = fin(st[sp - 1].num + st[sp].num); break;
        case OP_SUB: sp--; st[sp - 1].num = fin(st[sp - 1].num - st[sp].num); break;
        case OP_MUL: sp--; st[sp - 1].num = fin(st[sp - 1].num * st[sp].num); break;
        case OP_DIV:
            sp--;
            st[sp - 1].num = st[sp].num == 0 ? 0 : fin(st[sp - 1].num / st[sp].num);
            break;
        case OP_MOD:
            sp--;
            st[sp - 1].num = st[sp].num == 0 ? 0 : fin(fmod(st[sp - 1].num, st[sp].num));
            break;
        case OP_EQ:
        case OP_NE: {
            sp--;
            bool eq = st[sp - 1].type == V_STR
                          ? strcmp(st[sp - 1].str ? st[sp - 1].str : "", st[sp].str ? st[sp].str : "") == 0
                          : st[sp - 1].num == st[sp].num;
            st[sp - 1] = (value){.type = V_BOOL, .num = (in.op == OP_EQ) == eq};
            break;
        }
        case OP_LT: sp--; st[sp - 1] = (value){.type = V_BOOL, .num = st[sp - 1].num < st[sp].num}; break;
        case OP_LE: sp--; st[sp - 1] = (value){.type = V_BOOL, .num = st[sp - 1].num <= st[sp].num}; break;
        case OP_GT: sp--; st[sp - 1] = (value){.type = V_BOOL, .num = st[sp - 1].num > st[sp].num}; break;
        case OP_GE: sp--; st[sp - 1] = (value){.type = V_BOOL, .num = st[sp - 1].num >= st[sp].num}; break;
        case OP_JFALSE_KEEP:
        case OP_JTRUE_KEEP: {
            bool v = st[sp - 1].num != 0;
            if (v == (in.op == OP_JTRUE_KEEP)) {
                if (in.arg - e->start <= pc) /* forward only */
                    return st[sp - 1];
                pc = in.arg - e->start - 1;
            } else {
                sp--;
            }
            break;
        }
        case OP_POP: sp--; break;
        case OP_MIN:
        case OP_MAX: {
            int n = in.nargs;
            double m = st[sp - n].num;
            for (int k = 1; k < n; k++) {
                double x = st[sp - n + k].num;
                m = in.op == OP_MIN ? (x < m ? x : m) : (x > m ? x : m);
            }
            sp -= n;
            st[sp++] = (value){.type = V_NUM, .num = m};
            break;
        }
        case OP_CLAMP: {
            double x = st[sp - 3].num, lo = st[sp - 2].num, hi = st[sp - 1].num;
            sp -= 3;
            st[sp++] = (value){.type = V_NUM, .num = x < lo ? lo : x > hi ? hi : x};
            break;
        }
        case OP_VISITED:
            st[sp++] = (value){.type = V_NUM, .num = env->visits ? env->visits[in.arg] : 0};
            break;
        case OP_TURNS: st[sp++] = (value){.type = V_NUM, .num = env->turns}; break;
        case OP_RANDOM: {
            double u = env->rng ? (double)(rng_next(env->rng) >> 11) * 0x1.0p-53 : 0;
            double r = u;
            if (in.nargs == 1) {
                double n = floor(st[sp - 1].num);
                r = n >= 1 ? floor(u * n) : 0;
            } else if (in.nargs == 2) {
                double lo = ceil(st[sp - 2].num), hi = floor(st[sp - 1].num);
                r = hi >= lo ? lo + floor(u * (hi - lo + 1)) : lo;
            }
            sp -= in.nargs;
            st[sp++] = (value){.type = V_NUM, .num = fin(r)};
            break;
        }
        default: return (value){.type = V_NONE};
        }
        if (sp < 0) /* the compiler balances the stack; never trust */
            return (value){.type = V_NONE};
    }
    return sp > 0 ? st[sp - 1] : (value){.type = V_NONE};
}

bool expr_const(const struct rv_story *s, const expr *e, value *out)
{
    for (int pc = 0; pc < e->len; pc++) {
        insn in = s->code[e->start + pc];
        if (in.op == OP_VISITED || in.op == OP_TURNS || in.op == OP_RANDOM)
            return false;
        if (in.op == OP_VAR && s->vars[in.arg].assigned)
            return false;
    }
    value vars[RV_STORY_MAX_VARS];
    for (int i = 0; i < s->n_vars; i++)
        vars[i] = s->vars[i].init;
    eval_env env = {.story = s, .vars = vars};
    *out = expr_eval(&env, e);
    return true;
}

/* Story loader: reads a `reverie-story/1` JSON tree (story_json.c) into the
 * compiled story (scenes, choices, templates, keyframes, expressions),
 * reporting schema errors with the JSON path and line:col. Semantic checks
 * over the whole graph are in story_check.c; playing is story_state.c. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "story_internal.h"

/* JSON paths and messages are cut to their buffers on purpose (a path past
 * 160 bytes is still a useful prefix); gcc's truncation warning would flag
 * every one of them. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

/* ------------------------------------------------------------ diagnostics */

bool rv_story_diag_add(rv_story_diags *d, rv_story_severity sev, const char *code, int line,
                       int col, const char *path, const char *fmt, ...)
{
    if (!d)
        return false;
    if (d->count >= RV_STORY_MAX_DIAGS) {
        d->truncated = true;
        if (sev == RV_STORY_ERROR)
            d->errors++;
        return false;
    }
    if (d->count == d->cap) {
        int cap = d->cap ? d->cap * 2 : 16;
        rv_story_diag *ni = realloc(d->items, (size_t)cap * sizeof(*ni));
        if (!ni)
            return false;
        d->items = ni;
        d->cap = cap;
    }
    rv_story_diag *g = &d->items[d->count++];
    memset(g, 0, sizeof(*g));
    g->severity = sev;
    snprintf(g->code, sizeof(g->code), "%s", code);
    g->line = line;
    g->col = col;
    copy_text(g->path, sizeof(g->path), path ? path : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->message, sizeof(g->message), fmt, ap);
    va_end(ap);
    if (sev == RV_STORY_ERROR)
        d->errors++;
    else
        d->warnings++;
    return true;
}

void rv_story_diags_free(rv_story_diags *d)
{
    if (d) {
        free(d->items);
        d->items = NULL;
        d->count = d->cap = d->errors = d->warnings = 0;
        d->truncated = false;
    }
}

void rv_story_diag_format(const rv_story_diags *d, const rv_story_diag *g, char *buf, size_t cap)
{
    const char *f = d && d->file[0] ? d->file : "story";
    if (g->path[0])
        snprintf(buf, cap, "%s:%d:%d: %s[%s]: %s (at %s)", f, g->line, g->col,
                 g->severity == RV_STORY_ERROR ? "error" : "warning", g->code, g->message, g->path);
    else
        snprintf(buf, cap, "%s:%d:%d: %s[%s]: %s", f, g->line, g->col,
                 g->severity == RV_STORY_ERROR ? "error" : "warning", g->code, g->message);
}

/* ------------------------------------------------------------ helpers */

typedef struct ld {
    struct rv_story *s;
    rv_story_diags *d;
    int errors;
    int tmpl_col; /* column of the '{' when compiling a template part */
} ld;

#define ERR(L, code, node, path, ...) \
    do { (L)->errors++; rv_story_diag_add((L)->d, RV_STORY_ERROR, code, (node)->line, (node)->col, path, __VA_ARGS__); } while (0)
#define WARN(L, code, node, path, ...) \
    rv_story_diag_add((L)->d, RV_STORY_WARNING, code, (node)->line, (node)->col, path, __VA_ARGS__)

static bool grow(void **arr, int *cap, int n, size_t elem, struct rv_story *s)
{
    if (n < *cap)
        return true;
    int nc = *cap ? *cap * 2 : 32;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) {
        s->oom = true;
        return false;
    }
    *arr = p;
    *cap = nc;
    return true;
}

static void join(char *out, size_t cap, const char *base, const char *key)
{
    if (base[0])
        snprintf(out, cap, "%s.%s", base, key);
    else
        snprintf(out, cap, "%s", key);
}

static void joini(char *out, size_t cap, const char *base, const char *key, int i)
{
    if (base[0])
        snprintf(out, cap, "%s.%s[%d]", base, key, i);
    else
        snprintf(out, cap, "%s[%d]", key, i);
}

/* Warns about members not in the (NULL-terminated) allowed list. */
static void check_members(ld *L, const jnode *obj, const char *path, const char *const *allowed)
{
    for (int i = 0; i < obj->n; i++) {
        const jnode *k = obj->kids[i];
        bool ok = false;
        for (int j = 0; allowed[j]; j++)
            if (strcmp(allowed[j], k->key) == 0)
                ok = true;
        if (!ok) {
            char p[160];
            join(p, sizeof(p), path, k->key);
            rv_story_diag_add(L->d, RV_STORY_WARNING, "W303", k->key_line, k->key_col, p,
                              "unknown member \"%s\" (ignored)", k->key);
        }
    }
}

static const jnode *get_typed(ld *L, const jnode *obj, const char *key, jtype t, bool required,
                              const char *path)
{
    const jnode *v = json_get(obj, key);
    char p[160];
    join(p, sizeof(p), path, key);
    if (!v) {
        if (required)
            ERR(L, "E110", obj, path[0] ? path : "", "missing \"%s\"", key);
        return NULL;
    }
    if (v->type != t) {
        ERR(L, "E111", v, p, "\"%s\" must be %s, not %s", key, json_type_name(t),
            json_type_name(v->type));
        return NULL;
    }
    return v;
}

static bool get_num(ld *L, const jnode *obj, const char *key, double lo, double hi, bool integer,
                    const char *path, double *out)
{
    const jnode *v = get_typed(L, obj, key, J_NUM, false, path);
    if (!v)
        return false;
    char p[160];
    join(p, sizeof(p), path, key);
    if (v->num < lo || v->num > hi || (integer && v->num != floor(v->num))) {
        ERR(L, "E112", v, p, "\"%s\" must be %s from %g to %g, not %g", key,
            integer ? "a whole number" : "a number", lo, hi, v->num);
        return false;
    }
    *out = v->num;
    return true;
}

static const char *get_str(ld *L, const jnode *obj, const char *key, bool required, const char *path)
{
    const jnode *v = get_typed(L, obj, key, J_STR, required, path);
    return v ? v->str : NULL;
}

int story_find_scene(const struct rv_story *s, const char *id)
{
    for (int i = 0; i < s->n_scenes; i++)
        if (s->scenes[i].id && strcmp(s->scenes[i].id, id) == 0)
            return i;
    return -1;
}

int story_find_var(const struct rv_story *s, const char *name)
{
    for (int i = 0; i < s->n_vars; i++)
        if (strcmp(s->vars[i].name, name) == 0)
            return i;
    return -1;
}

int story_find_style(const struct rv_story *s, const char *name)
{
    for (int i = s->n_styles - 1; i >= 0; i--) /* the story's own win */
        if (strcmp(s->styles[i].name, name) == 0)
            return i;
    return -1;
}

static void style_list(const struct rv_story *s, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < s->n_styles && n + 2 < cap; i++) {
        if (story_find_style(s, s->styles[i].name) != i)
            continue;
        int k = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", s->styles[i].name);
        if (k < 0 || (size_t)k >= cap - n)
            break;
        n += (size_t)k;
    }
}

/* ------------------------------------------------------------ expressions */

static bool compile_expr(ld *L, const jnode *str, const char *path, bool assign, vtype want,
                         expr *out, int *target, int *aop)
{
    expr_ctx cx = {.story = L->s, .assign = assign};
    if (!expr_compile(&cx, str->str, out)) {
        if (L->tmpl_col)
            ERR(L, cx.code, str, path, "template column %d: expression \"%s\" column %d: %s", L->tmpl_col,
                str->str, cx.col, cx.msg);
        else
            ERR(L, cx.code, str, path, "expression \"%s\" column %d: %s", str->str, cx.col, cx.msg);
        return false;
    }
    if (!assign && want != V_NONE && out->type != want) {
        ERR(L, "E203", str, path, "expression \"%s\": a condition must be a boolean, not %s",
            str->str, out->type == V_NUM ? "a number" : "a string");
        return false;
    }
    if (assign) {
        *target = cx.target;
        *aop = cx.assign_op;
        L->s->vars[cx.target].assigned = true;
    }
    return true;
}

/* Effects: a string ("a = 1; b += 2") or an array of such strings. */
static void load_effects(ld *L, const jnode *v, const char *path, int *start, int *n)
{
    struct rv_story *s = L->s;
    *start = s->n_fx;
    *n = 0;
    if (!v)
        return;
    const jnode *one[1] = {v};
    const jnode *const *items = one;
    int count = 1;
    if (v->type == J_ARR) {
        items = (const jnode *const *)v->kids;
        count = v->n;
    }
    for (int i = 0; i < count; i++) {
        const jnode *e = items[i];
        char p[160];
        if (v->type == J_ARR)
            snprintf(p, sizeof(p), "%s[%d]", path, i);
        else
            snprintf(p, sizeof(p), "%s", path);
        if (e->type != J_STR) {
            ERR(L, "E111", e, p, "an effect must be a string like \"gold += 1\", not %s",
                json_type_name(e->type));
            continue;
        }
        /* split on ';' outside quotes */
        const char *src = e->str;
        size_t len = strlen(src), a = 0;
        char q = 0;
        for (size_t k = 0; k <= len; k++) {
            char ch = src[k];
            if (q) {
                if (ch == q)
                    q = 0;
                if (ch)
                    continue;
            } else if (ch == '\'' || ch == '"') {
                q = ch;
                continue;
            }
            if (ch != ';' && ch)
                continue;
            char part[RV_EXPR_MAX_LEN + 2];
            size_t pl = k - a;
            if (pl > RV_EXPR_MAX_LEN)
                pl = RV_EXPR_MAX_LEN + 1;
            memcpy(part, src + a, pl);
            part[pl] = 0;
            a = k + 1;
            bool blank = true;
            for (size_t j = 0; part[j]; j++)
                if (!isspace((unsigned char)part[j]))
                    blank = false;
            if (blank)
                continue;
            jnode tmp = *e;
            tmp.str = part;
            effect fx = {0};
            if (!compile_expr(L, &tmp, p, true, V_NONE, &fx.e, &fx.var, &fx.op))
                continue;
            if (!grow((void **)&s->fx, &s->cap_fx, s->n_fx, sizeof(effect), s))
                return;
            s->fx[s->n_fx++] = fx;
            (*n)++;
        }
    }
}

/* ------------------------------------------------------------ templates */

static bool add_part(ld *L, tpart p)
{
    struct rv_story *s = L->s;
    if (!grow((void **)&s->parts, &s->cap_parts, s->n_parts, sizeof(tpart), s))
        return false;
    s->parts[s->n_parts++] = p;
    return true;
}

/* 1-based column of byte offset i, in code points */
static int cp_col(const char *src, size_t i)
{
    int c = 1;
    for (size_t j = 0; j < i; j++)
        if (((unsigned char)src[j] & 0xC0) != 0x80)
            c++;
    return c;
}

/* "{expr}" inserts a value; "{if cond: text}" and "{if cond: text | else}"
 * insert text; "{{" and "}}" are literal braces. */
static void load_template(ld *L, const jnode *v, const char *path, tmpl *out)
{
    struct rv_story *s = L->s;
    memset(out, 0, sizeof(*out));
    if (!v)
        return;
    if (v->type != J_STR) {
        ERR(L, "E111", v, path, "must be a string, not %s", json_type_name(v->type));
        return;
    }
    out->present = true;
    out->start = s->n_parts;
    const char *src = v->str;
    size_t n = strlen(src);
    char *lit = malloc(n + 1);
    if (!lit) {
        s->oom = true;
        return;
    }
    size_t ln = 0;
    for (size_t i = 0; i < n;) {
        if (src[i] == '{' && src[i + 1] == '{') {
            lit[ln++] = '{';
            i += 2;
            continue;
        }
        if (src[i] == '}' && src[i + 1] == '}') {
            lit[ln++] = '}';
            i += 2;
            continue;
        }
        if (src[i] == '}') {
            ERR(L, "E116", v, path, "template column %d: '}' without '{' (write }} for a brace)",
                cp_col(src, i));
            goto done;
        }
        if (src[i] != '{') {
            lit[ln++] = src[i++];
            continue;
        }
        size_t close = i + 1;
        while (close < n && src[close] != '}' && src[close] != '{')
            close++;
        if (close >= n || src[close] != '}') {
            ERR(L, "E116", v, path, "template column %d: '{' is not closed (write {{ for a brace)",
                cp_col(src, i));
            goto done;
        }
        if (ln) {
            lit[ln] = 0;
            add_part(L, (tpart){.kind = TP_TEXT, .text = sarena_strdup(&s->arena, lit)});
            ln = 0;
        }
        size_t inner = i + 1, len = close - inner;
        char *body = sarena_strndup(&s->arena, src + inner, len);
        if (!body)
            goto done;
        while (*body == ' ')
            body++;
        tpart p = {0};
        jnode tmp = *v;
        if (strncmp(body, "if ", 3) == 0) {
            char *colon = NULL;
            char q = 0;
            for (char *c = body + 3; *c; c++) {
                if (q) {
                    if (*c == q)
                        q = 0;
                } else if (*c == '\'' || *c == '"') {
                    q = *c;
                } else if (*c == ':') {
                    colon = c;
                    break;
                }
            }
            if (!colon) {
                ERR(L, "E116", v, path, "template column %d: {if CONDITION: TEXT} needs a ':'",
                    cp_col(src, i));
                goto done;
            }
            *colon = 0;
            char *text = colon + 1, *bar = strchr(text, '|');
            if (bar)
                *bar = 0;
            /* one space after ':' and on each side of '|' is syntax */
            if (*text == ' ')
                text++;
            tmp.str = body + 3;
            p.kind = TP_COND;
            p.text = text;
            p.alt = bar ? bar + 1 : "";
            if (*p.alt == ' ')
                p.alt++;
            if (bar) {
                size_t tl = strlen(text);
                if (tl && text[tl - 1] == ' ')
                    text[--tl] = 0;
            }
            L->tmpl_col = cp_col(src, i);
            bool ok = compile_expr(L, &tmp, path, false, V_BOOL, &p.e, NULL, NULL);
            L->tmpl_col = 0;
            if (!ok)
                goto done;
        } else {
            tmp.str = body;
            p.kind = TP_EXPR;
            L->tmpl_col = cp_col(src, i);
            bool ok = compile_expr(L, &tmp, path, false, V_NONE, &p.e, NULL, NULL);
            L->tmpl_col = 0;
            if (!ok)
                goto done;
        }
        add_part(L, p);
        i = close + 1;
    }
    if (ln) {
        lit[ln] = 0;
        add_part(L, (tpart){.kind = TP_TEXT, .text = sarena_strdup(&s->arena, lit)});
    }
done:
    free(lit);
    out->n = s->n_parts - out->start;
}

/* ------------------------------------------------------------ keyframes */

static int cmp_keys(const void *a, const void *b)
{
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return x < y ? -1 : x > y;
}

/* A number, or {"0": v, "2.5": v, ..., "ease": "linear"|"in-out"|"step"}. */
static void load_track(ld *L, const jnode *v, const char *path, double def, double lo, double hi,
                       track *t)
{
    struct rv_story *s = L->s;
    memset(t, 0, sizeof(*t));
    t->def = def;
    if (!v)
        return;
    if (v->type == J_NUM) {
        if (v->num < lo || v->num > hi)
            ERR(L, "E112", v, path, "must be from %g to %g, not %g", lo, hi, v->num);
        else
            t->def = v->num;
        return;
    }
    if (v->type != J_OBJ) {
        ERR(L, "E111", v, path, "must be a number or keyframes {\"time\": value}, not %s",
            json_type_name(v->type));
        return;
    }
    int n = 0;
    double (*tmp)[2] = malloc((size_t)(v->n ? v->n : 1) * sizeof(*tmp));
    if (!tmp) {
        s->oom = true;
        return;
    }
    for (int i = 0; i < v->n; i++) {
        const jnode *k = v->kids[i];
        char p[200];
        snprintf(p, sizeof(p), "%s.%s", path, k->key);
        if (strcmp(k->key, "ease") == 0) {
            if (k->type == J_STR && strcmp(k->str, "linear") == 0) t->ease = EASE_LINEAR;
            else if (k->type == J_STR && strcmp(k->str, "in-out") == 0) t->ease = EASE_IN_OUT;
            else if (k->type == J_STR && strcmp(k->str, "step") == 0) t->ease = EASE_STEP;
            else
                ERR(L, "E112", k, p, "\"ease\" must be \"linear\", \"in-out\" or \"step\"");
            continue;
        }
        char *end = NULL;
        errno = 0;
        double time = strtod(k->key, &end);
        if (!k->key[0] || *end || errno || !isfinite(time) || time < 0 || time > 86400) {
            rv_story_diag_add(L->d, RV_STORY_ERROR, "E115", k->key_line, k->key_col, p,
                              "keyframe time \"%s\" must be a number of seconds from 0 to 86400",
                              k->key);
            L->errors++;
            continue;
        }
        if (k->type != J_NUM) {
            ERR(L, "E111", k, p, "a keyframe value must be a number, not %s", json_type_name(k->type));
            continue;
        }
        if (k->num < lo || k->num > hi) {
            ERR(L, "E112", k, p, "must be from %g to %g, not %g", lo, hi, k->num);
            continue;
        }
        bool dup = false;
        for (int j = 0; j < n; j++)
            if (tmp[j][0] == time)
                dup = true;
        if (dup) {
            rv_story_diag_add(L->d, RV_STORY_ERROR, "E115", k->key_line, k->key_col, p,
                              "two keyframes at %g s", time);
            L->errors++;
            continue;
        }
        tmp[n][0] = time;
        tmp[n][1] = k->num;
        n++;
    }
    if (n == 0) {
        if (!L->errors)
            ERR(L, "E115", v, path, "keyframes need at least one \"time\": value pair");
        free(tmp);
        return;
    }
    qsort(tmp, (size_t)n, sizeof(*tmp), cmp_keys);
    while (s->n_keys + n > s->cap_keys) {
        int cap = s->cap_keys ? s->cap_keys * 2 : 64;
        double *nt = realloc(s->key_t, (size_t)cap * sizeof(double));
        if (!nt) { s->oom = true; free(tmp); return; }
        s->key_t = nt;
        double *nv = realloc(s->key_v, (size_t)cap * sizeof(double));
        if (!nv) { s->oom = true; free(tmp); return; }
        s->key_v = nv;
        s->cap_keys = cap;
    }
    t->start = s->n_keys;
    t->n = n;
    for (int i = 0; i < n; i++) {
        s->key_t[s->n_keys] = tmp[i][0];
        s->key_v[s->n_keys++] = tmp[i][1];
    }
    free(tmp);
}

double track_eval(const struct rv_story *s, const track *t, double time)
{
    if (t->n == 0)
        return t->def;
    const double *kt = s->key_t + t->start, *kv = s->key_v + t->start;
    if (time <= kt[0])
        return kv[0];
    for (int i = 1; i < t->n; i++) {
        if (time < kt[i]) {
            double u = (time - kt[i - 1]) / (kt[i] - kt[i - 1]);
            if (t->ease == EASE_STEP)
                u = 0;
            else if (t->ease == EASE_IN_OUT)
                u = u * u * (3 - 2 * u);
            return kv[i - 1] + (kv[i] - kv[i - 1]) * u;
        }
    }
    return kv[t->n - 1];
}

/* ------------------------------------------------------------ story parts */

static const char *const top_keys[] = {"format", "title", "author", "model", "size", "steps",
    "style", "seed", "start", "duration", "styles", "variables", "scenes", "description", NULL};
static const char *const scene_keys[] = {"id", "narration", "prompt", "negative", "style", "seed",
    "duration", "transition", "steps", "strength", "zoom", "pan_x", "pan_y", "rotate",
    "seed_drift", "on_enter", "choices", "next", "ending", "quiz", "note", NULL};
static const char *const choice_keys[] = {"text", "target", "if", "do", "once", "fallback", NULL};
static const char *const next_keys[] = {"if", "target", NULL};
static const char *const quiz_keys[] = {"question", "answers", NULL};
static const char *const answer_keys[] = {"text", "correct", "feedback", "do", "target", NULL};
static const char *const style_keys[] = {"prompt", "negative", NULL};

static const struct { const char *name, *prompt, *negative; } builtin_styles[] = {
    {"none", "{prompt}", ""},
    {"realistic", "{prompt}, realistic", ""},
    {"watercolor", "{prompt}, watercolor painting", ""},
    {"cartoon", "{prompt}, flat cartoon style", ""},
    {"bw", "{prompt}, black and white", ""},
    {"sketch", "{prompt}, pencil sketch", ""},
};

static bool valid_name(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (const char *c = s; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_'))
            return false;
    return true;
}

static const char *const reserved[] = {"and", "or", "not", "true", "false", "min", "max", "clamp",
                                       "visited", "turns", "random", NULL};

static void load_styles(ld *L, const jnode *root)
{
    struct rv_story *s = L->s;
    const jnode *st = get_typed(L, root, "styles", J_OBJ, false, "");
    int n = (int)(sizeof(builtin_styles) / sizeof(builtin_styles[0])) + (st ? st->n : 0);
    if (n > RV_STORY_MAX_STYLES) {
        ERR(L, "E114", st, "styles", "more than %d styles", RV_STORY_MAX_STYLES);
        n = RV_STORY_MAX_STYLES;
    }
    s->styles = sarena_alloc(&s->arena, (size_t)n * sizeof(style_def));
    if (!s->styles)
        return;
    for (size_t i = 0; i < sizeof(builtin_styles) / sizeof(builtin_styles[0]); i++)
        s->styles[s->n_styles++] = (style_def){builtin_styles[i].name, builtin_styles[i].prompt,
                                               builtin_styles[i].negative};
    for (int i = 0; st && i < st->n && s->n_styles < n; i++) {
        const jnode *k = st->kids[i];
        char p[160];
        snprintf(p, sizeof(p), "styles.%s", k->key);
        if (k->type != J_OBJ) {
            ERR(L, "E111", k, p, "a style must be an object {\"prompt\": \"{prompt}, ...\"}, not %s",
                json_type_name(k->type));
            continue;
        }
        check_members(L, k, p, style_keys);
        const char *pr = get_str(L, k, "prompt", true, p);
        const char *ng = get_str(L, k, "negative", false, p);
        if (pr && !strstr(pr, "{prompt}")) {
            const jnode *pn = json_get(k, "prompt");
            char pp[200];
            snprintf(pp, sizeof(pp), "%s.prompt", p);
            ERR(L, "E112", pn, pp, "a style's prompt must contain {prompt}");
            continue;
        }
        if (pr)
            s->styles[s->n_styles++] = (style_def){k->key, pr, ng ? ng : ""};
    }
}

static void load_vars(ld *L, const jnode *root)
{
    struct rv_story *s = L->s;
    const jnode *vs = get_typed(L, root, "variables", J_OBJ, false, "");
    if (!vs)
        return;
    if (vs->n > RV_STORY_MAX_VARS) {
        ERR(L, "E114", vs, "variables", "more than %d variables", RV_STORY_MAX_VARS);
        return;
    }
    s->vars = sarena_alloc(&s->arena, (size_t)(vs->n ? vs->n : 1) * sizeof(var_def));
    if (!s->vars)
        return;
    for (int i = 0; i < vs->n; i++) {
        const jnode *k = vs->kids[i];
        char p[160];
        snprintf(p, sizeof(p), "variables.%s", k->key);
        bool res = false;
        for (int j = 0; reserved[j]; j++)
            if (strcmp(reserved[j], k->key) == 0)
                res = true;
        if (!valid_name(k->key) || res || strlen(k->key) > 64) {
            rv_story_diag_add(L->d, RV_STORY_ERROR, "E211", k->key_line, k->key_col, p,
                              res ? "\"%s\" is a reserved word, not a variable name"
                                  : "variable name \"%s\" must be letters, digits and _ (not first a digit), at most 64",
                              k->key);
            L->errors++;
            continue;
        }
        var_def v = {.name = k->key, .line = k->key_line, .col = k->key_col};
        if (k->type == J_NUM) {
            v.type = V_NUM;
            v.init = (value){.type = V_NUM, .num = k->num};
        } else if (k->type == J_BOOL) {
            v.type = V_BOOL;
            v.init = (value){.type = V_BOOL, .num = k->b};
        } else if (k->type == J_STR) {
            if (strlen(k->str) >= RV_VAR_STR_MAX) {
                ERR(L, "E112", k, p, "a string variable holds at most %d bytes", RV_VAR_STR_MAX - 1);
                continue;
            }
            v.type = V_STR;
            v.init = (value){.type = V_STR, .str = k->str};
        } else {
            ERR(L, "E111", k, p, "a variable's initial value must be a number, boolean or string, not %s",
                json_type_name(k->type));
            continue;
        }
        s->vars[s->n_vars++] = v;
    }
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

static int resolve_target(ld *L, const jnode *t, const char *path)
{
    if (t->type != J_STR) {
        ERR(L, "E111", t, path, "a target must be a scene id (string), not %s", json_type_name(t->type));
        return -1;
    }
    int k = story_find_scene(L->s, t->str);
    if (k < 0)
        ERR(L, "E201", t, path, "unknown scene \"%s\"", t->str);
    return k;
}

static void load_cond(ld *L, const jnode *obj, const char *path, bool *has, expr *e, const char **src,
                      int *line, int *col)
{
    const jnode *c = json_get(obj, "if");
    *has = false;
    if (!c)
        return;
    *line = c->line;
    *col = c->col;
    char p[200];
    snprintf(p, sizeof(p), "%s.if", path);
    if (c->type != J_STR) {
        ERR(L, "E111", c, p, "\"if\" must be an expression string, not %s", json_type_name(c->type));
        return;
    }
    if (compile_expr(L, c, p, false, V_BOOL, e, NULL, NULL)) {
        *has = true;
        *src = c->str;
    }
}

static void load_prompts(ld *L, scene *sc, const jnode *v, const char *path)
{
    if (!v)
        return;
    if (v->type == J_STR) {
        prompt_part *pp = &sc->prompts[sc->n_prompts++];
        load_template(L, v, path, &pp->text);
        pp->weight.def = 1;
        pp->path = sarena_strdup(&L->s->arena, path);
        pp->line = v->line;
        pp->col = v->col;
        return;
    }
    if (v->type != J_ARR) {
        ERR(L, "E111", v, path, "\"prompt\" must be a string or an array of {\"text\", \"weight\"}, not %s",
            json_type_name(v->type));
        return;
    }
    if (v->n == 0 || v->n > RV_STORY_MAX_PROMPTS) {
        ERR(L, "E114", v, path, "\"prompt\" takes 1 to %d parts, not %d", RV_STORY_MAX_PROMPTS, v->n);
        return;
    }
    for (int i = 0; i < v->n; i++) {
        const jnode *k = v->kids[i];
        char p[200];
        snprintf(p, sizeof(p), "%s[%d]", path, i);
        if (k->type != J_OBJ) {
            ERR(L, "E111", k, p, "a prompt part must be {\"text\": ..., \"weight\": ...}, not %s",
                json_type_name(k->type));
            continue;
        }
        static const char *const keys[] = {"text", "weight", NULL};
        check_members(L, k, p, keys);
        const jnode *t = get_typed(L, k, "text", J_STR, true, p);
        if (!t)
            continue;
        prompt_part *pp = &sc->prompts[sc->n_prompts++];
        char tp[220], wp[220];
        snprintf(tp, sizeof(tp), "%s.text", p);
        snprintf(wp, sizeof(wp), "%s.weight", p);
        load_template(L, t, tp, &pp->text);
        load_track(L, json_get(k, "weight"), wp, 1, -10, 10, &pp->weight);
        pp->path = sarena_strdup(&L->s->arena, tp);
        pp->line = t->line;
        pp->col = t->col;
    }
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void load_scene(ld *L, const jnode *v, int idx)
{
    struct rv_story *s = L->s;
    scene *sc = &s->scenes[idx];
    char base[64], p[200];
    snprintf(base, sizeof(base), "scenes[%d]", idx);
    check_members(L, v, base, scene_keys);
    sc->line = v->line;
    sc->col = v->col;

    join(p, sizeof(p), base, "narration");
    load_template(L, json_get(v, "narration"), p, &sc->narration);
    join(p, sizeof(p), base, "prompt");
    load_prompts(L, sc, json_get(v, "prompt"), p);
    join(p, sizeof(p), base, "negative");
    const jnode *neg = json_get(v, "negative");
    load_template(L, neg, p, &sc->negative);
    if (neg) {
        sc->neg_path = sarena_strdup(&s->arena, p);
        sc->neg_line = neg->line;
        sc->neg_col = neg->col;
    }

    sc->style = s->default_style;
    const jnode *stn = get_typed(L, v, "style", J_STR, false, base);
    if (stn) {
        int k = story_find_style(s, stn->str);
        if (k < 0) {
            char list[512];
            style_list(s, list, sizeof(list));
            join(p, sizeof(p), base, "style");
            ERR(L, "E206", stn, p, "unknown style \"%s\" (known: %s)", stn->str, list);
        } else {
            sc->style = k;
        }
    }
    double d;
    sc->seed = (s->seed ^ fnv1a(sc->id)) & ((1ull << 53) - 1);
    if (get_num(L, v, "seed", 0, 9007199254740991.0, true, base, &d))
        sc->seed = (uint64_t)d;
    sc->duration = s->default_duration;
    if (get_num(L, v, "duration", 0.001, 86400, false, base, &d))
        sc->duration = d;
    sc->transition = 1.0;
    if (get_num(L, v, "transition", 0, 60, false, base, &d))
        sc->transition = d;
    sc->steps = s->steps;
    if (get_num(L, v, "steps", 1, 50, true, base, &d))
        sc->steps = (int)d;

    static const struct { const char *key; double def, lo, hi; } tr[TR_COUNT] = {
        [TR_STRENGTH] = {"strength", 0.65, 0, 1}, [TR_ZOOM] = {"zoom", 1, 0.1, 10},
        [TR_PAN_X] = {"pan_x", 0, -10, 10}, [TR_PAN_Y] = {"pan_y", 0, -10, 10},
        [TR_ROTATE] = {"rotate", 0, -360, 360}, [TR_SEED_DRIFT] = {"seed_drift", 0, 0, 100},
    };
    for (int k = 0; k < TR_COUNT; k++) {
        join(p, sizeof(p), base, tr[k].key);
        load_track(L, json_get(v, tr[k].key), p, tr[k].def, tr[k].lo, tr[k].hi, &sc->tracks[k]);
    }

    join(p, sizeof(p), base, "on_enter");
    const jnode *oe = json_get(v, "on_enter");
    if (oe && oe->type != J_STR && oe->type != J_ARR)
        ERR(L, "E111", oe, p, "\"on_enter\" must be an effect string or an array of them, not %s",
            json_type_name(oe->type));
    else
        load_effects(L, oe, p, &sc->fx_start, &sc->fx_n);

    /* choices */
    const jnode *chs = get_typed(L, v, "choices", J_ARR, false, base);
    sc->ch_start = s->n_choices;
    if (chs && chs->n > RV_STORY_MAX_CHOICES) {
        join(p, sizeof(p), base, "choices");
        ERR(L, "E114", chs, p, "more than %d choices", RV_STORY_MAX_CHOICES);
        chs = NULL;
    }
    for (int i = 0; chs && i < chs->n; i++) {
        const jnode *c = chs->kids[i];
        char cp[200];
        joini(cp, sizeof(cp), base, "choices", i);
        if (c->type != J_OBJ) {
            ERR(L, "E111", c, cp, "a choice must be an object, not %s", json_type_name(c->type));
            continue;
        }
        check_members(L, c, cp, choice_keys);
        choice ch = {.target = -1, .line = c->line, .col = c->col};
        const jnode *t = get_typed(L, c, "text", J_STR, true, cp);
        join(p, sizeof(p), cp, "text");
        load_template(L, t, p, &ch.text);
        const jnode *tg = json_get(c, "target");
        join(p, sizeof(p), cp, "target");
        if (!tg)
            ERR(L, "E110", c, cp, "missing \"target\"");
        else {
            ch.target = resolve_target(L, tg, p);
            ch.target_line = tg->line;
            ch.target_col = tg->col;
        }
        load_cond(L, c, cp, &ch.has_cond, &ch.cond, &ch.cond_src, &ch.cond_line, &ch.cond_col);
        join(p, sizeof(p), cp, "do");
        load_effects(L, json_get(c, "do"), p, &ch.fx_start, &ch.fx_n);
        const jnode *b = get_typed(L, c, "once", J_BOOL, false, cp);
        ch.once = b && b->b;
        b = get_typed(L, c, "fallback", J_BOOL, false, cp);
        ch.fallback = b && b->b;
        if (!grow((void **)&s->choices, &s->cap_choices, s->n_choices, sizeof(choice), s))
            return;
        s->choices[s->n_choices++] = ch;
    }
    sc->ch_n = s->n_choices - sc->ch_start;

    /* next: a scene id, or [{"if": ..., "target": ...}, ...] */
    const jnode *nx = json_get(v, "next");
    sc->nx_start = s->n_nexts;
    join(p, sizeof(p), base, "next");
    if (nx) {
        sc->next_line = nx->line;
        sc->next_col = nx->col;
        if (nx->type == J_STR) {
            next_rule r = {.target = resolve_target(L, nx, p), .line = nx->line, .col = nx->col};
            if (grow((void **)&s->nexts, &s->cap_nexts, s->n_nexts, sizeof(next_rule), s))
                s->nexts[s->n_nexts++] = r;
        } else if (nx->type == J_ARR) {
            if (nx->n == 0 || nx->n > RV_STORY_MAX_CHOICES)
                ERR(L, "E114", nx, p, "\"next\" takes 1 to %d rules, not %d", RV_STORY_MAX_CHOICES, nx->n);
            for (int i = 0; i < nx->n && i < RV_STORY_MAX_CHOICES; i++) {
                const jnode *r = nx->kids[i];
                char rp[200];
                snprintf(rp, sizeof(rp), "%s[%d]", p, i);
                if (r->type != J_OBJ) {
                    ERR(L, "E111", r, rp, "a next rule must be {\"if\": ..., \"target\": ...}, not %s",
                        json_type_name(r->type));
                    continue;
                }
                check_members(L, r, rp, next_keys);
                next_rule nr = {.target = -1, .line = r->line, .col = r->col};
                const jnode *tg = json_get(r, "target");
                char tp[220];
                snprintf(tp, sizeof(tp), "%s.target", rp);
                if (!tg)
                    ERR(L, "E110", r, rp, "missing \"target\"");
                else
                    nr.target = resolve_target(L, tg, tp);
                load_cond(L, r, rp, &nr.has_cond, &nr.cond, &nr.cond_src, &nr.cond_line, &nr.cond_col);
                if (grow((void **)&s->nexts, &s->cap_nexts, s->n_nexts, sizeof(next_rule), s))
                    s->nexts[s->n_nexts++] = nr;
            }
        } else {
            ERR(L, "E111", nx, p, "\"next\" must be a scene id or an array of rules, not %s",
                json_type_name(nx->type));
        }
    }
    sc->nx_n = s->n_nexts - sc->nx_start;

    /* ending */
    const jnode *en = json_get(v, "ending");
    if (en) {
        if (en->type == J_STR && en->str[0])
            sc->ending = en->str;
        else if (en->type == J_BOOL)
            sc->ending = en->b ? sc->id : NULL;
        else {
            join(p, sizeof(p), base, "ending");
            ERR(L, "E111", en, p, "\"ending\" must be the ending's name or true, not %s",
                en->type == J_STR ? "an empty string" : json_type_name(en->type));
        }
    }

    /* quiz */
    const jnode *qz = get_typed(L, v, "quiz", J_OBJ, false, base);
    sc->an_start = s->n_answers;
    if (qz) {
        char qp[200];
        join(qp, sizeof(qp), base, "quiz");
        check_members(L, qz, qp, quiz_keys);
        sc->is_quiz = true;
        const jnode *q = get_typed(L, qz, "question", J_STR, true, qp);
        join(p, sizeof(p), qp, "question");
        load_template(L, q, p, &sc->question);
        const jnode *ans = get_typed(L, qz, "answers", J_ARR, true, qp);
        join(p, sizeof(p), qp, "answers");
        if (ans && (ans->n < 1 || ans->n > RV_STORY_MAX_CHOICES)) {
            ERR(L, "E114", ans, p, "a quiz takes 1 to %d answers, not %d", RV_STORY_MAX_CHOICES, ans->n);
            ans = NULL;
        }
        bool any_correct = false;
        for (int i = 0; ans && i < ans->n; i++) {
            const jnode *a = ans->kids[i];
            char ap[220];
            snprintf(ap, sizeof(ap), "%s[%d]", p, i);
            if (a->type != J_OBJ) {
                ERR(L, "E111", a, ap, "an answer must be an object, not %s", json_type_name(a->type));
                continue;
            }
            check_members(L, a, ap, answer_keys);
            answer an = {.target = -1, .line = a->line, .col = a->col};
            char fp[240];
            snprintf(fp, sizeof(fp), "%s.text", ap);
            load_template(L, get_typed(L, a, "text", J_STR, true, ap), fp, &an.text);
            snprintf(fp, sizeof(fp), "%s.feedback", ap);
            load_template(L, json_get(a, "feedback"), fp, &an.feedback);
            const jnode *cr = get_typed(L, a, "correct", J_BOOL, false, ap);
            an.correct = cr && cr->b;
            any_correct |= an.correct;
            snprintf(fp, sizeof(fp), "%s.do", ap);
            load_effects(L, json_get(a, "do"), fp, &an.fx_start, &an.fx_n);
            const jnode *tg = json_get(a, "target");
            snprintf(fp, sizeof(fp), "%s.target", ap);
            if (tg)
                an.target = resolve_target(L, tg, fp);
            if (grow((void **)&s->answers, &s->cap_answers, s->n_answers, sizeof(answer), s))
                s->answers[s->n_answers++] = an;
        }
        if (ans && !any_correct)
            WARN(L, "W304", ans, p, "no answer of this quiz is marked \"correct\": true");
        if (chs && chs->n) {
            join(p, sizeof(p), base, "choices");
            ERR(L, "E112", chs, p, "a quiz scene cannot also have choices");
        }
    }
    sc->an_n = s->n_answers - sc->an_start;
}

static void load_root(ld *L, const jnode *root)
{
    struct rv_story *s = L->s;
    if (root->type != J_OBJ) {
        ERR(L, "E111", root, "", "a story must be a JSON object, not %s", json_type_name(root->type));
        return;
    }
    const jnode *fmt = get_typed(L, root, "format", J_STR, true, "");
    if (fmt && strcmp(fmt->str, "reverie-story/1") != 0) {
        ERR(L, "E112", fmt, "format", "\"format\" must be \"reverie-story/1\", not \"%s\"", fmt->str);
        return;
    }
    if (!fmt)
        return;
    check_members(L, root, "", top_keys);
    const char *t = get_str(L, root, "title", true, "");
    s->title = t ? t : "";
    t = get_str(L, root, "author", false, "");
    s->author = t ? t : "";
    t = get_str(L, root, "model", false, "");
    s->model = t ? t : "";
    s->width = s->height = 256;
    const jnode *sz = json_get(root, "size");
    if (sz) {
        if (sz->type != J_ARR || sz->n != 2 || sz->kids[0]->type != J_NUM || sz->kids[1]->type != J_NUM ||
            sz->kids[0]->num < 64 || sz->kids[0]->num > 4096 || sz->kids[1]->num < 64 ||
            sz->kids[1]->num > 4096 || fmod(sz->kids[0]->num, 8) != 0 || fmod(sz->kids[1]->num, 8) != 0)
            ERR(L, "E112", sz, "size", "\"size\" must be [width, height], multiples of 8 from 64 to 4096");
        else {
            s->width = (int)sz->kids[0]->num;
            s->height = (int)sz->kids[1]->num;
        }
    }
    double d;
    s->steps = 2;
    if (get_num(L, root, "steps", 1, 50, true, "", &d))
        s->steps = (int)d;
    s->seed = 1;
    if (get_num(L, root, "seed", 0, 9007199254740991.0, true, "", &d))
        s->seed = (uint64_t)d;
    s->default_duration = 8;
    if (get_num(L, root, "duration", 0.001, 86400, false, "", &d))
        s->default_duration = d;

    load_styles(L, root);
    s->default_style = story_find_style(s, "none");
    const jnode *ds = get_typed(L, root, "style", J_STR, false, "");
    if (ds) {
        int k = story_find_style(s, ds->str);
        if (k < 0) {
            char list[512];
            style_list(s, list, sizeof(list));
            ERR(L, "E206", ds, "style", "unknown style \"%s\" (known: %s)", ds->str, list);
        } else {
            s->default_style = k;
        }
    }
    load_vars(L, root);

    const jnode *scs = get_typed(L, root, "scenes", J_ARR, true, "");
    if (!scs)
        return;
    if (scs->n == 0) {
        ERR(L, "E112", scs, "scenes", "a story needs at least one scene");
        return;
    }
    if (scs->n > RV_STORY_MAX_SCENES) {
        ERR(L, "E114", scs, "scenes", "more than %d scenes", RV_STORY_MAX_SCENES);
        return;
    }
    s->scenes = sarena_alloc(&s->arena, (size_t)scs->n * sizeof(scene));
    if (!s->scenes)
        return;
    s->n_scenes = scs->n;
    bool ids_ok = true;
    for (int i = 0; i < scs->n; i++) {
        const jnode *v = scs->kids[i];
        char p[64];
        snprintf(p, sizeof(p), "scenes[%d]", i);
        if (v->type != J_OBJ) {
            ERR(L, "E111", v, p, "a scene must be an object, not %s", json_type_name(v->type));
            ids_ok = false;
            continue;
        }
        const jnode *id = get_typed(L, v, "id", J_STR, true, p);
        if (!id) {
            ids_ok = false;
            continue;
        }
        char ip[80];
        snprintf(ip, sizeof(ip), "%s.id", p);
        if (!valid_id(id->str)) {
            ERR(L, "E112", id, ip, "scene id \"%s\" must be letters, digits, _ and - (a letter first), at most 64",
                id->str);
            ids_ok = false;
            continue;
        }
        int prev = story_find_scene(s, id->str);
        if (prev >= 0) {
            ERR(L, "E113", id, ip, "duplicate scene id \"%s\" (first at line %d)", id->str,
                s->scenes[prev].line);
            ids_ok = false;
            continue;
        }
        s->scenes[i].id = id->str;
        s->scenes[i].line = v->line;
    }
    if (!ids_ok)
        return;
    for (int i = 0; i < scs->n; i++)
        load_scene(L, scs->kids[i], i);
    s->start = 0;
    const jnode *st = get_typed(L, root, "start", J_STR, false, "");
    if (st) {
        s->start = story_find_scene(s, st->str);
        if (s->start < 0) {
            ERR(L, "E201", st, "start", "unknown scene \"%s\"", st->str);
            s->start = 0;
        }
    }
}

/* ------------------------------------------------------------ entry points */

void rv_story_unload(rv_story *s)
{
    if (!s)
        return;
    free(s->code);
    free(s->consts);
    free(s->parts);
    free(s->key_t);
    free(s->key_v);
    free(s->fx);
    free(s->choices);
    free(s->nexts);
    free(s->answers);
    sarena a = s->arena;
    sarena_free(&a);
    free(s);
}

static const char *diag_code_for_json(const char *msg)
{
    if (strncmp(msg, "invalid UTF-8", 13) == 0)
        return "E102";
    if (strstr(msg, "deeper than") || strstr(msg, "longer than") || strstr(msg, "memory limit") ||
        strstr(msg, "more than 10000 members"))
        return "E103";
    return "E101";
}

rv_status rv_story_load_mem(rv_story **out, const char *name, const char *data, size_t size,
                            rv_story_diags *diags, rv_error *err)
{
    *out = NULL;
    rv_story_diags local = {0};
    rv_story_diags *d = diags ? diags : &local;
    copy_text(d->file, sizeof(d->file), name ? name : "story");
    const int errors_before = d->errors, count_before = d->count; /* a list in use */
    rv_story *s = calloc(1, sizeof(*s));
    if (!s)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "STORY: out of memory");
    s->arena.limit = 64u << 20;
    s->file = sarena_strdup(&s->arena, d->file);
    ld L = {.s = s, .d = d};
    if (size > RV_JSON_MAX_BYTES) {
        rv_story_diag_add(d, RV_STORY_ERROR, "E103", 1, 1, "", "file larger than %u bytes",
                          RV_JSON_MAX_BYTES);
        L.errors++;
    } else {
        int line = 0, col = 0;
        char msg[256];
        jnode *root = json_parse(&s->arena, data, size, &line, &col, msg, sizeof(msg));
        if (!root) {
            rv_story_diag_add(d, RV_STORY_ERROR, diag_code_for_json(msg), line, col, "", "%s", msg);
            L.errors++;
        } else {
            load_root(&L, root);
            if (s->oom || s->arena.failed) {
                rv_story_diag_add(d, RV_STORY_ERROR, "E103", 1, 1, "", "story too large (memory limit)");
                L.errors++;
            }
            if (!L.errors && d->errors == errors_before)
                story_check(s, d);
        }
    }
    rv_status st = RV_OK;
    if (L.errors || d->errors > errors_before) {
        char line[1024] = "";
        for (int i = count_before; i < d->count; i++)
            if (d->items[i].severity == RV_STORY_ERROR) {
                rv_story_diag_format(d, &d->items[i], line, sizeof(line));
                break;
            }
        st = rv_error_set(err, RV_ERR_FORMAT, "STORY: %s%s", line,
                          d->errors - errors_before > 1 ? " (and more errors)" : "");
        rv_story_unload(s);
    } else {
        *out = s;
    }
    if (!diags)
        rv_story_diags_free(&local);
    return st;
}

rv_status rv_story_load(rv_story **out, const char *path, rv_story_diags *diags, rv_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rv_error_set(err, RV_ERR_IO, "STORY: cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap > RV_JSON_MAX_BYTES)
                break; /* reported as too large by load_mem */
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        if (k == 0)
            break;
        n += k;
    }
    bool rerr = ferror(f);
    fclose(f);
    if (!buf)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "STORY: out of memory reading %s", path);
    if (rerr) {
        free(buf);
        return rv_error_set(err, RV_ERR_IO, "STORY: cannot read %s", path);
    }
    rv_status st = rv_story_load_mem(out, path, buf, n, diags, err);
    free(buf);
    return st;
}

void rv_story_get_info(const rv_story *s, rv_story_info *info)
{
    memset(info, 0, sizeof(*info));
    info->title = s->title;
    info->author = s->author;
    info->model = s->model;
    info->start = s->scenes[s->start].id;
    info->width = s->width;
    info->height = s->height;
    info->steps = s->steps;
    info->seed = s->seed;
    info->n_scenes = s->n_scenes;
    info->n_variables = s->n_vars;
    for (int i = 0; i < s->n_scenes; i++)
        info->n_endings += s->scenes[i].ending != NULL;
}

const char *rv_story_scene_id(const rv_story *s, int i)
{
    return i >= 0 && i < s->n_scenes ? s->scenes[i].id : NULL;
}

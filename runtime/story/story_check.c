/* Semantic checks over a loaded story (reachability, dead ends, auto-advance
 * cycles with no exit, conditions that can never hold), template rendering,
 * the prompt sites a model check reads, and the Graphviz DOT view.
 * Not the schema (story_load.c) and not playing (story_state.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "story_internal.h"

/* ------------------------------------------------------------ rendering */

void value_to_text(value v, char *buf, size_t cap)
{
    if (v.type == V_STR)
        copy_text(buf, cap, v.str ? v.str : "");
    else if (v.type == V_BOOL)
        snprintf(buf, cap, "%s", v.num != 0 ? "true" : "false");
    else if (v.type == V_NUM && v.num == floor(v.num) && fabs(v.num) < 1e15)
        snprintf(buf, cap, "%.0f", v.num);
    else if (v.type == V_NUM)
        snprintf(buf, cap, "%g", v.num);
    else if (cap)
        buf[0] = 0;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s)
{
    size_t k = strlen(s);
    if (b->n + k >= b->cap) {
        /* cut at a code-point boundary */
        k = b->cap - 1 - b->n;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
    }
    memcpy(b->p + b->n, s, k);
    b->n += k;
    b->p[b->n] = 0;
}

void tmpl_render(const eval_env *env, const tmpl *t, char *buf, size_t cap, bool all)
{
    if (!cap)
        return;
    sbuf b = {buf, 0, cap};
    buf[0] = 0;
    const struct rv_story *s = env->story;
    for (int i = 0; i < t->n; i++) {
        const tpart *p = &s->parts[t->start + i];
        if (p->kind == TP_TEXT) {
            sb_put(&b, p->text);
        } else if (p->kind == TP_EXPR) {
            char v[RV_VAR_STR_MAX + 32];
            value_to_text(expr_eval(env, &p->e), v, sizeof(v));
            sb_put(&b, v);
        } else if (all) {
            sb_put(&b, p->text);
            if (p->alt[0]) {
                sb_put(&b, " ");
                sb_put(&b, p->alt);
            }
        } else {
            value c = expr_eval(env, &p->e);
            sb_put(&b, c.num != 0 ? p->text : p->alt);
        }
    }
}

/* ------------------------------------------------------------ checks */

static void diag_at(rv_story_diags *d, rv_story_severity sev, const char *code, int line, int col,
                    const char *path, const char *msg)
{
    rv_story_diag_add(d, sev, code, line, col, path, "%s", msg);
}

void story_check(struct rv_story *s, rv_story_diags *d)
{
    int n = s->n_scenes;
    int *queue = malloc((size_t)n * sizeof(int));
    bool *good = calloc((size_t)n, 1);
    bool *reported = calloc((size_t)n, 1);
    if (!queue || !good || !reported)
        goto done;

    /* reachability (conditions ignored) */
    for (int i = 0; i < n; i++)
        s->scenes[i].reachable = false;
    int qh = 0, qt = 0;
    s->scenes[s->start].reachable = true;
    queue[qt++] = s->start;
    while (qh < qt) {
        const scene *sc = &s->scenes[queue[qh++]];
        int targets[3 * RV_STORY_MAX_CHOICES], nt = 0;
        for (int i = 0; i < sc->ch_n; i++)
            targets[nt++] = s->choices[sc->ch_start + i].target;
        for (int i = 0; i < sc->nx_n; i++)
            targets[nt++] = s->nexts[sc->nx_start + i].target;
        for (int i = 0; i < sc->an_n; i++)
            targets[nt++] = s->answers[sc->an_start + i].target;
        for (int i = 0; i < nt; i++) {
            int t = targets[i];
            if (t >= 0 && !s->scenes[t].reachable) {
                s->scenes[t].reachable = true;
                queue[qt++] = t;
            }
        }
    }
    char path[128], msg[512];
    for (int i = 0; i < n; i++) {
        const scene *sc = &s->scenes[i];
        snprintf(path, sizeof(path), "scenes[%d]", i);
        if (!sc->reachable) {
            snprintf(msg, sizeof(msg), "scene \"%s\" is unreachable from the start scene \"%s\"",
                     sc->id, s->scenes[s->start].id);
            diag_at(d, RV_STORY_WARNING, "W301", sc->line, sc->col, path, msg);
        }
        bool quiz_stuck = sc->is_quiz && !sc->nx_n && !sc->ending;
        for (int k = 0; quiz_stuck && k < sc->an_n; k++)
            quiz_stuck = s->answers[sc->an_start + k].target < 0;
        if (quiz_stuck) {
            snprintf(msg, sizeof(msg),
                     "scene \"%s\" is a dead end: no answer of its quiz has a \"target\" and it has no \"next\"",
                     sc->id);
            diag_at(d, RV_STORY_ERROR, "E207", sc->line, sc->col, path, msg);
        }
        if (!sc->ending && !sc->ch_n && !sc->nx_n && !sc->is_quiz) {
            snprintf(msg, sizeof(msg),
                     "scene \"%s\" is a dead end: no choices, no quiz, no \"next\" and not an ending",
                     sc->id);
            diag_at(d, RV_STORY_ERROR, "E207", sc->line, sc->col, path, msg);
        }
    }

    /* auto-advance cycles with no exit: a scene is good if the viewer can
     * act there (choices, quiz), it ends, or an auto-advance leads to a
     * good scene */
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = 0; i < n; i++) {
            const scene *sc = &s->scenes[i];
            if (good[i])
                continue;
            bool g = sc->ending || sc->ch_n || sc->is_quiz || !sc->nx_n;
            for (int k = 0; !g && k < sc->nx_n; k++) {
                int t = s->nexts[sc->nx_start + k].target;
                g = t >= 0 && good[t];
            }
            if (g) {
                good[i] = true;
                changed = true;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        if (good[i] || reported[i])
            continue;
        /* walk first targets until a scene repeats: that is the cycle */
        int order[RV_STORY_MAX_SCENES > 64 ? 64 : RV_STORY_MAX_SCENES], no = 0;
        int *seen_at = queue; /* reuse: position in order, or -1 */
        for (int k = 0; k < n; k++)
            seen_at[k] = -1;
        int cur = i, cyc = -1;
        while (no < 64) {
            if (seen_at[cur] >= 0) {
                cyc = seen_at[cur];
                break;
            }
            seen_at[cur] = no;
            order[no++] = cur;
            const scene *sc = &s->scenes[cur];
            int nxt = -1;
            for (int k = 0; k < sc->nx_n && nxt < 0; k++)
                nxt = s->nexts[sc->nx_start + k].target;
            if (nxt < 0)
                break;
            cur = nxt;
        }
        if (cyc < 0)
            cyc = 0;
        if (reported[order[cyc]])
            continue;
        size_t m = 0;
        m += (size_t)snprintf(msg + m, sizeof(msg) - m, "auto-advance cycle with no exit: ");
        for (int k = cyc; k < no && m < sizeof(msg) - 80; k++) {
            m += (size_t)snprintf(msg + m, sizeof(msg) - m, "%s -> ", s->scenes[order[k]].id);
            reported[order[k]] = true;
        }
        if (m < sizeof(msg) - 70)
            snprintf(msg + m, sizeof(msg) - m, "%s", s->scenes[order[cyc]].id);
        const scene *sc = &s->scenes[order[cyc]];
        snprintf(path, sizeof(path), "scenes[%d].next", order[cyc]);
        diag_at(d, RV_STORY_ERROR, "E208", sc->next_line, sc->next_col, path, msg);
    }

    /* conditions that can never hold (constant once the variables that no
     * effect changes are replaced by their initial values) */
    for (int i = 0; i < n; i++) {
        const scene *sc = &s->scenes[i];
        for (int k = 0; k < sc->ch_n; k++) {
            const choice *c = &s->choices[sc->ch_start + k];
            value v;
            if (c->has_cond && expr_const(s, &c->cond, &v) && v.num == 0) {
                snprintf(path, sizeof(path), "scenes[%d].choices[%d].if", i, k);
                snprintf(msg, sizeof(msg),
                         "condition \"%s\" can never hold (no effect changes what it reads): the choice is never shown",
                         c->cond_src);
                diag_at(d, RV_STORY_WARNING, "W302", c->cond_line, c->cond_col, path, msg);
            }
        }
        for (int k = 0; k < sc->nx_n; k++) {
            const next_rule *r = &s->nexts[sc->nx_start + k];
            value v;
            if (r->has_cond && expr_const(s, &r->cond, &v) && v.num == 0) {
                snprintf(path, sizeof(path), "scenes[%d].next[%d].if", i, k);
                snprintf(msg, sizeof(msg),
                         "condition \"%s\" can never hold (no effect changes what it reads): this rule never fires",
                         r->cond_src);
                diag_at(d, RV_STORY_WARNING, "W302", r->cond_line, r->cond_col, path, msg);
            }
        }
    }
done:
    free(queue);
    free(good);
    free(reported);
}

/* ------------------------------------------------------------ prompt sites */

bool rv_story_prompt_site_get(const rv_story *s, int index, rv_story_prompt_site *site)
{
    value vars[RV_STORY_MAX_VARS];
    for (int i = 0; i < s->n_vars; i++)
        vars[i] = s->vars[i].init;
    eval_env env = {.story = s, .vars = vars};
    int k = 0;
    for (int i = 0; i < s->n_scenes; i++) {
        const scene *sc = &s->scenes[i];
        for (int j = 0; j <= sc->n_prompts; j++) {
            bool neg = j == sc->n_prompts;
            if (neg && !sc->negative.present)
                continue;
            if (k++ != index)
                continue;
            memset(site, 0, sizeof(*site));
            site->scene = sc->id;
            site->path = neg ? sc->neg_path : sc->prompts[j].path;
            site->line = neg ? sc->neg_line : sc->prompts[j].line;
            site->col = neg ? sc->neg_col : sc->prompts[j].col;
            char body[RV_STORY_TEXT_MAX * 2];
            tmpl_render(&env, neg ? &sc->negative : &sc->prompts[j].text, body, sizeof(body), true);
            const style_def *st = &s->styles[sc->style];
            const char *tpl = neg ? "{prompt}" : st->prompt;
            const char *at = strstr(tpl, "{prompt}");
            char joined[RV_STORY_TEXT_MAX * 4];
            snprintf(joined, sizeof(joined), "%.*s%s%s", (int)(at - tpl), tpl, body, at + 8);
            copy_text(site->text, sizeof(site->text), joined);
            if (neg && st->negative[0] && strlen(site->text) + strlen(st->negative) + 3 < sizeof(site->text)) {
                if (site->text[0])
                    strcat(site->text, ", ");
                strcat(site->text, st->negative);
            }
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------ DOT */

static bool dot_put(sbuf *b, const char *s)
{
    size_t k = strlen(s);
    if (b->n + k + 1 > b->cap) {
        size_t cap = (b->cap + k + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return false;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, k + 1);
    b->n += k;
    return true;
}

/* Appends s quoted for DOT, cut to max code points. */
static bool dot_quoted(sbuf *b, const char *s, int max)
{
    char tmp[4 * 80 + 16];
    size_t n = 0;
    int cps = 0;
    tmp[n++] = '"';
    for (const char *c = s; *c && n < sizeof(tmp) - 8; c++) {
        if (((unsigned char)*c & 0xC0) != 0x80 && ++cps > max) {
            memcpy(tmp + n, "...", 3);
            n += 3;
            break;
        }
        if (*c == '"' || *c == '\\')
            tmp[n++] = '\\';
        tmp[n++] = *c == '\n' ? ' ' : *c;
    }
    /* never end inside a multi-byte sequence */
    while (n > 1 && ((unsigned char)tmp[n - 1] & 0xC0) == 0x80)
        n--;
    if (n > 1 && ((unsigned char)tmp[n - 1] & 0xC0) == 0xC0)
        n--;
    tmp[n++] = '"';
    tmp[n] = 0;
    return dot_put(b, tmp);
}

rv_status rv_story_graph_dot(const rv_story *s, char **out, rv_error *err)
{
    sbuf b = {malloc(4096), 0, 4096};
    *out = NULL;
    if (!b.p)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "STORY: out of memory");
    b.p[0] = 0;
    value vars[RV_STORY_MAX_VARS];
    for (int i = 0; i < s->n_vars; i++)
        vars[i] = s->vars[i].init;
    eval_env env = {.story = s, .vars = vars};
    bool ok = dot_put(&b, "digraph story {\n  graph [rankdir=TB, fontname=\"sans\", label=");
    ok = ok && dot_quoted(&b, s->title, 70);
    ok = ok && dot_put(&b, ", labelloc=t];\n  node [shape=box, style=rounded, fontname=\"sans\", fontsize=10];\n"
                           "  edge [fontname=\"sans\", fontsize=9];\n");
    char line[1400], text[RV_STORY_NARRATION_MAX];
    for (int i = 0; ok && i < s->n_scenes; i++) {
        const scene *sc = &s->scenes[i];
        tmpl_render(&env, &sc->narration, text, sizeof(text), true);
        ok = ok && dot_put(&b, "  ") && dot_quoted(&b, sc->id, 64) && dot_put(&b, " [label=");
        char lab[600];
        snprintf(lab, sizeof(lab), "%s%s%s%s", sc->id,
                 sc->ending ? " (ending: " : "", sc->ending ? sc->ending : "", sc->ending ? ")" : "");
        ok = ok && dot_quoted(&b, lab, 80);
        if (sc->is_quiz)
            ok = ok && dot_put(&b, ", shape=hexagon");
        if (sc->ending)
            ok = ok && dot_put(&b, ", peripheries=2, style=\"rounded,filled\", fillcolor=\"#e8f4e8\"");
        if (i == s->start)
            ok = ok && dot_put(&b, ", penwidth=2.5");
        if (!sc->reachable)
            ok = ok && dot_put(&b, ", style=\"rounded,dashed\", color=red, fontcolor=red, xlabel=\"unreachable\"");
        ok = ok && dot_put(&b, "];\n");
    }
    for (int i = 0; ok && i < s->n_scenes; i++) {
        const scene *sc = &s->scenes[i];
        for (int k = 0; ok && k < sc->ch_n; k++) {
            const choice *c = &s->choices[sc->ch_start + k];
            if (c->target < 0)
                continue;
            tmpl_render(&env, &c->text, text, sizeof(text), true);
            snprintf(line, sizeof(line), "%.300s%s%.900s%s%s", text, c->has_cond ? " [if " : "",
                     c->has_cond ? c->cond_src : "", c->has_cond ? "]" : "",
                     c->once ? " (once)" : c->fallback ? " (fallback)" : "");
            ok = ok && dot_put(&b, "  ") && dot_quoted(&b, sc->id, 64) && dot_put(&b, " -> ") &&
                 dot_quoted(&b, s->scenes[c->target].id, 64) && dot_put(&b, " [label=") &&
                 dot_quoted(&b, line, 64) && dot_put(&b, "];\n");
        }
        for (int k = 0; ok && k < sc->nx_n; k++) {
            const next_rule *r = &s->nexts[sc->nx_start + k];
            if (r->target < 0)
                continue;
            char when[48];
            if (sc->is_quiz) /* quiz rules fire when the answer has no target */
                snprintf(when, sizeof(when), "after answering");
            else
                snprintf(when, sizeof(when), "after %gs", sc->duration);
            snprintf(line, sizeof(line), "%s%s%.900s", when, r->has_cond ? " if " : "",
                     r->has_cond ? r->cond_src : "");
            ok = ok && dot_put(&b, "  ") && dot_quoted(&b, sc->id, 64) && dot_put(&b, " -> ") &&
                 dot_quoted(&b, s->scenes[r->target].id, 64) && dot_put(&b, " [style=dashed, label=") &&
                 dot_quoted(&b, line, 64) && dot_put(&b, "];\n");
        }
        for (int k = 0; ok && k < sc->an_n; k++) {
            const answer *a = &s->answers[sc->an_start + k];
            if (a->target < 0)
                continue;
            tmpl_render(&env, &a->text, text, sizeof(text), true);
            snprintf(line, sizeof(line), "%s %.300s", a->correct ? "right:" : "wrong:", text);
            ok = ok && dot_put(&b, "  ") && dot_quoted(&b, sc->id, 64) && dot_put(&b, " -> ") &&
                 dot_quoted(&b, s->scenes[a->target].id, 64) && dot_put(&b, " [color=") &&
                 dot_put(&b, a->correct ? "darkgreen" : "firebrick") && dot_put(&b, ", label=") &&
                 dot_quoted(&b, line, 40) && dot_put(&b, "];\n");
        }
    }
    ok = ok && dot_put(&b, "}\n");
    if (!ok) {
        free(b.p);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "STORY: out of memory writing the graph");
    }
    *out = b.p;
    return RV_OK;
}

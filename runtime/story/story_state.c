/* The story engine's state machine: the clock, scenes, choices and quiz
 * answers, effects, the scene schedule at time t as plain data, rollback
 * history with visual tokens, live prompt edits and the hot-reload rebind.
 * Save/load and the replay log are in story_save.c. Nothing GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "story_state.h"

/* ------------------------------------------------------------ blob */

void layout_make(const struct rv_story *s, layout *l)
{
    memset(l, 0, sizeof(*l));
    size_t off = sizeof(core_hdr);
    off = (off + 7) & ~(size_t)7;
    l->num = off;
    off += (size_t)s->n_vars * sizeof(double);
    l->visits = off;
    off += (size_t)s->n_scenes * sizeof(uint32_t);
    l->used = off;
    off += (size_t)s->n_choices;
    l->str = off;
    int ns = 0;
    for (int i = 0; i < s->n_vars; i++)
        l->str_slot[i] = s->vars[i].type == V_STR ? ns++ : -1;
    off += (size_t)ns * RV_VAR_STR_MAX;
    l->size = (off + 7) & ~(size_t)7;
}

void blob_init(const struct rv_story *s, const layout *l, uint8_t *b, uint64_t seed)
{
    memset(b, 0, l->size);
    core_hdr *h = (core_hdr *)b;
    h->scene = s->start;
    h->prev_scene = -1;
    h->rng = seed;
    for (int i = 0; i < s->n_vars; i++) {
        if (s->vars[i].type == V_STR)
            copy_text(BLOB_STR(b, l, i), RV_VAR_STR_MAX, s->vars[i].init.str);
        else
            BLOB_NUM(b, l)[i] = s->vars[i].init.num;
    }
}

void blob_values(const struct rv_story *s, const layout *l, const uint8_t *b, value *out)
{
    for (int i = 0; i < s->n_vars; i++) {
        out[i].type = s->vars[i].type;
        out[i].num = s->vars[i].type == V_STR ? 0 : ((const double *)(b + l->num))[i];
        out[i].str = s->vars[i].type == V_STR ? (const char *)(b + l->str) + (size_t)l->str_slot[i] * RV_VAR_STR_MAX
                                              : NULL;
    }
}

/* ------------------------------------------------------------ helpers */

static eval_env env_of(rv_story_state *st, value *vars)
{
    blob_values(st->s, &st->l, st->blob, vars);
    core_hdr *h = HDR(st);
    return (eval_env){.story = st->s, .vars = vars, .visits = BLOB_VISITS(st->blob, &st->l),
                      .turns = h->turns, .rng = &h->rng};
}

static eval_env env_of_const(const rv_story_state *st, value *vars)
{
    blob_values(st->s, &st->l, st->blob, vars);
    const core_hdr *h = (const core_hdr *)st->blob;
    return (eval_env){.story = st->s, .vars = vars,
                      .visits = (const uint32_t *)(st->blob + st->l.visits), .turns = h->turns};
}

static void apply_effects(rv_story_state *st, int start, int n)
{
    const struct rv_story *s = st->s;
    for (int i = 0; i < n; i++) {
        const effect *fx = &s->fx[start + i];
        value vars[RV_STORY_MAX_VARS];
        eval_env env = env_of(st, vars);
        value v = expr_eval(&env, &fx->e);
        if (s->vars[fx->var].type == V_STR) {
            if (v.type == V_STR) {
                char tmp[RV_VAR_STR_MAX];
                copy_text(tmp, sizeof(tmp), v.str ? v.str : "");
                copy_text(BLOB_STR(st->blob, &st->l, fx->var), RV_VAR_STR_MAX, tmp);
            }
            continue;
        }
        double *x = &BLOB_NUM(st->blob, &st->l)[fx->var];
        double r = fx->op == 0 ? v.num : fx->op == 1 ? *x + v.num : *x - v.num;
        *x = isfinite(r) ? r : 0;
    }
}

static bool cond_true(rv_story_state *st, bool has, const expr *e)
{
    if (!has)
        return true;
    value vars[RV_STORY_MAX_VARS];
    eval_env env = env_of(st, vars);
    return expr_eval(&env, e).num != 0;
}

static void enter_scene(rv_story_state *st, int idx)
{
    core_hdr *h = HDR(st);
    h->prev_scene = h->scene;
    h->scene = idx;
    uint32_t *v = BLOB_VISITS(st->blob, &st->l);
    if (v[idx] < UINT32_MAX)
        v[idx]++;
    st->has_edit = false;
    const scene *sc = &st->s->scenes[idx];
    apply_effects(st, sc->fx_start, sc->fx_n);
}

static int64_t dur_us(const scene *sc)
{
    int64_t d = llround(sc->duration * 1e6);
    return d > 0 ? d : 1;
}

/* The first next rule that holds now, or -1. */
static int pick_next(rv_story_state *st, const scene *sc)
{
    for (int k = 0; k < sc->nx_n; k++) {
        const next_rule *r = &st->s->nexts[sc->nx_start + k];
        if (r->target >= 0 && cond_true(st, r->has_cond, &r->cond))
            return r->target;
    }
    return -1;
}

/* Auto-advances due by the clock; bounded so a huge dt over tiny scenes
 * cannot spin (past the bound the scene starts over at the clock). */
static void run_clock(rv_story_state *st)
{
    for (int guard = 0; guard < 1024; guard++) {
        const scene *sc = &st->s->scenes[HDR(st)->scene];
        if (sc->ending || !sc->nx_n)
            return;
        int64_t d = dur_us(sc);
        if (st->clock_us - st->enter_us < d)
            return;
        int t = pick_next(st, sc);
        if (t < 0)
            return;
        st->enter_us += d;
        enter_scene(st, t);
    }
    /* past the bound the result depends on how the time was split into
     * advances, so replays of such a session may differ: flagged */
    st->enter_us = st->clock_us;
    st->guard_tripped = true;
}

void state_advance_us(rv_story_state *st, int64_t dt)
{
    if (dt <= 0 || st->clock_us > (INT64_C(1) << 60)) /* ~36,000 years: the clock stops */
        return;
    st->clock_us += dt;
    run_clock(st);
}

void rv_story_advance(rv_story_state *st, double dt)
{
    if (!(dt > 0))
        return;
    if (dt > 1e7)
        dt = 1e7;
    state_advance_us(st, llround(dt * 1e6));
}

double rv_story_time_to_next(const rv_story_state *st)
{
    const scene *sc = &st->s->scenes[((const core_hdr *)st->blob)->scene];
    if (sc->ending || !sc->nx_n)
        return -1;
    double left = (double)(dur_us(sc) - (st->clock_us - st->enter_us)) / 1e6;
    return left > 0 ? left : 0;
}

/* Indices (into s->choices or s->answers) of what the viewer can pick now. */
int state_available(const rv_story_state *st, int *idx)
{
    const struct rv_story *s = st->s;
    const core_hdr *h = (const core_hdr *)st->blob;
    const scene *sc = &s->scenes[h->scene];
    int n = 0;
    if (sc->is_quiz) {
        for (int k = 0; k < sc->an_n; k++)
            idx[n++] = sc->an_start + k;
        return n;
    }
    value vars[RV_STORY_MAX_VARS];
    eval_env env = env_of_const(st, vars);
    const uint8_t *used = st->blob + st->l.used;
    for (int pass = 0; pass < 2 && n == 0; pass++) {
        for (int k = 0; k < sc->ch_n; k++) {
            int ci = sc->ch_start + k;
            const choice *c = &s->choices[ci];
            if (c->fallback != (pass == 1))
                continue;
            if (c->once && used[ci])
                continue;
            if (c->has_cond && expr_eval(&env, &c->cond).num == 0)
                continue;
            idx[n++] = ci;
        }
    }
    return n;
}

/* ------------------------------------------------------------ lifecycle */

rv_status state_alloc(rv_story_state **out, const rv_story *s, int history, uint64_t seed,
                      rv_error *err)
{
    *out = NULL;
    rv_story_state *st = calloc(1, sizeof(*st));
    if (!st)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "STORY: out of memory");
    st->s = s;
    layout_make(s, &st->l);
    st->hist_cap = history > 0 ? history : 64;
    if (st->hist_cap > 4096)
        st->hist_cap = 4096;
    st->blob = calloc(1, st->l.size);
    st->hist = calloc((size_t)st->hist_cap, sizeof(hist_entry));
    if (!st->blob || !st->hist) {
        rv_story_state_destroy(st);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "STORY: out of memory");
    }
    st->seed = seed ? seed : s->seed;
    blob_init(s, &st->l, st->blob, st->seed);
    *out = st;
    return RV_OK;
}

rv_status rv_story_state_create(rv_story_state **out, const rv_story *s,
                                const rv_story_state_desc *desc, rv_error *err)
{
    rv_story_state_desc d = desc ? *desc : (rv_story_state_desc){0};
    rv_status r = state_alloc(out, s, d.history, d.seed, err);
    if (r)
        return r;
    rv_story_state *st = *out;
    /* entering the start scene counts as a visit and runs its on_enter */
    HDR(st)->scene = s->start;
    uint32_t *v = BLOB_VISITS(st->blob, &st->l);
    v[s->start] = 1;
    apply_effects(st, s->scenes[s->start].fx_start, s->scenes[s->start].fx_n);
    return RV_OK;
}

void hist_clear(rv_story_state *st)
{
    for (int i = 0; i < st->hist_n; i++)
        free(st->hist[i].blob);
    st->hist_n = 0;
}

void log_clear(rv_story_state *st)
{
    for (int i = 0; i < st->log_n; i++)
        free(st->log[i].text);
    free(st->log);
    st->log = NULL;
    st->log_n = st->log_cap = 0;
}

void rv_story_state_destroy(rv_story_state *st)
{
    if (!st)
        return;
    if (st->hist)
        hist_clear(st);
    free(st->hist);
    log_clear(st);
    free(st->blob);
    free(st);
}

bool state_log(rv_story_state *st, int kind, int arg, const char *text)
{
    if (st->replaying)
        return true;
    if (st->log_n >= RV_STORY_LOG_MAX)
        return false;
    if (st->log_n == st->log_cap) {
        int cap = st->log_cap ? st->log_cap * 2 : 32;
        log_event *nl = realloc(st->log, (size_t)cap * sizeof(*nl));
        if (!nl)
            return false;
        st->log = nl;
        st->log_cap = cap;
    }
    log_event *e = &st->log[st->log_n];
    e->clock_us = st->clock_us;
    e->kind = kind;
    e->arg = arg;
    e->text = NULL;
    if (text) {
        e->text = strdup(text);
        if (!e->text)
            return false;
    }
    st->log_n++;
    return true;
}

/* ------------------------------------------------------------ choosing */

static bool push_history(rv_story_state *st)
{
    uint8_t *copy = malloc(st->l.size);
    if (!copy)
        return false;
    memcpy(copy, st->blob, st->l.size);
    if (st->hist_n == st->hist_cap) {
        free(st->hist[0].blob);
        memmove(st->hist, st->hist + 1, (size_t)(st->hist_cap - 1) * sizeof(hist_entry));
        st->hist_n--;
    }
    hist_entry *e = &st->hist[st->hist_n++];
    e->blob = copy;
    e->scene_us = st->clock_us - st->enter_us;
    e->token = 0;
    copy_text(e->feedback, sizeof(e->feedback), st->feedback);
    return true;
}

rv_status rv_story_choose(rv_story_state *st, int i, rv_error *err)
{
    int idx[RV_STORY_MAX_CHOICES];
    int n = state_available(st, idx);
    if (i < 0 || i >= n)
        return rv_error_set(err, RV_ERR_INVALID, "STORY: choice %d is not available (%d to choose from)",
                            i + 1, n);
    if (!push_history(st))
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "STORY: out of memory");
    state_log(st, LOG_CHOOSE, i, NULL);
    const struct rv_story *s = st->s;
    const scene *sc = &s->scenes[HDR(st)->scene];
    HDR(st)->turns++;
    st->feedback[0] = 0;
    if (sc->is_quiz) {
        const answer *a = &s->answers[idx[i]];
        apply_effects(st, a->fx_start, a->fx_n);
        value vars[RV_STORY_MAX_VARS];
        eval_env env = env_of(st, vars);
        tmpl_render(&env, &a->feedback, st->feedback, sizeof(st->feedback), false);
        int t = a->target >= 0 ? a->target : pick_next(st, sc);
        if (t >= 0) {
            st->enter_us = st->clock_us;
            enter_scene(st, t);
        }
    } else {
        const choice *c = &s->choices[idx[i]];
        if (c->once)
            (st->blob + st->l.used)[idx[i]] = 1;
        apply_effects(st, c->fx_start, c->fx_n);
        st->enter_us = st->clock_us;
        enter_scene(st, c->target);
    }
    run_clock(st);
    return RV_OK;
}

void rv_story_set_visual_token(rv_story_state *st, uint64_t token)
{
    if (st->hist_n > 0)
        st->hist[st->hist_n - 1].token = token;
}

int rv_story_history_depth(const rv_story_state *st)
{
    return st->hist_n;
}

rv_status rv_story_back(rv_story_state *st, int n, uint64_t *token, rv_error *err)
{
    if (token)
        *token = 0;
    if (n < 1 || n > st->hist_n)
        return rv_error_set(err, RV_ERR_INVALID, "STORY: cannot go back %d step%s (history holds %d)",
                            n, n == 1 ? "" : "s", st->hist_n);
    state_log(st, LOG_BACK, n, NULL);
    hist_entry *e = &st->hist[st->hist_n - n];
    memcpy(st->blob, e->blob, st->l.size);
    st->enter_us = st->clock_us - e->scene_us;
    copy_text(st->feedback, sizeof(st->feedback), e->feedback);
    st->has_edit = false;
    if (token)
        *token = e->token;
    for (int k = st->hist_n - n; k < st->hist_n; k++)
        free(st->hist[k].blob);
    st->hist_n -= n;
    return RV_OK;
}

rv_status rv_story_edit_prompt(rv_story_state *st, const char *text, rv_error *err)
{
    size_t n = strlen(text);
    if (n >= RV_STORY_TEXT_MAX || utf8_valid_prefix(text, n) != n)
        return rv_error_set(err, RV_ERR_INVALID, "STORY: an edited prompt must be valid UTF-8 under %d bytes",
                            RV_STORY_TEXT_MAX);
    state_log(st, LOG_EDIT, 0, text);
    st->has_edit = true;
    copy_text(st->edit, sizeof(st->edit), text);
    return RV_OK;
}

/* ------------------------------------------------------------ views */

void rv_story_get_view(const rv_story_state *st, rv_story_view *v)
{
    memset(v, 0, sizeof(*v));
    const struct rv_story *s = st->s;
    const core_hdr *h = (const core_hdr *)st->blob;
    const scene *sc = &s->scenes[h->scene];
    value vars[RV_STORY_MAX_VARS];
    eval_env env = env_of_const(st, vars);
    copy_text(v->scene, sizeof(v->scene), sc->id);
    tmpl_render(&env, &sc->narration, v->narration, sizeof(v->narration), false);
    v->is_quiz = sc->is_quiz;
    if (sc->is_quiz)
        tmpl_render(&env, &sc->question, v->question, sizeof(v->question), false);
    int idx[RV_STORY_MAX_CHOICES];
    v->n_choices = state_available(st, idx);
    for (int i = 0; i < v->n_choices; i++)
        tmpl_render(&env, sc->is_quiz ? &s->answers[idx[i]].text : &s->choices[idx[i]].text,
                    v->choices[i].text, sizeof(v->choices[i].text), false);
    v->is_ending = sc->ending != NULL;
    if (sc->ending)
        copy_text(v->ending, sizeof(v->ending), sc->ending);
    copy_text(v->feedback, sizeof(v->feedback), st->feedback);
    v->time = (double)(st->clock_us - st->enter_us) / 1e6;
    v->turns = h->turns;
}

static void apply_style(const style_def *sd, const char *body, char *out, size_t cap)
{
    const char *at = strstr(sd->prompt, "{prompt}");
    char tmp[RV_STORY_TEXT_MAX * 2];
    if (!at)
        snprintf(tmp, sizeof(tmp), "%s", body);
    else
        snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(at - sd->prompt), sd->prompt, body, at + 8);
    copy_text(out, cap, tmp);
}

static int scene_prompts(const rv_story_state *st, const scene *sc, double t, bool edited,
                         const eval_env *env, rv_story_prompt *out, char *neg)
{
    const struct rv_story *s = st->s;
    const style_def *sd = &s->styles[sc->style];
    char body[RV_STORY_TEXT_MAX];
    int n = 0;
    if (edited) {
        apply_style(sd, st->edit, out[0].text, sizeof(out[0].text));
        out[0].weight = 1;
        n = 1;
    } else {
        for (int i = 0; i < sc->n_prompts; i++) {
            tmpl_render(env, &sc->prompts[i].text, body, sizeof(body), false);
            apply_style(sd, body, out[n].text, sizeof(out[n].text));
            out[n].weight = (float)track_eval(s, &sc->prompts[i].weight, t);
            n++;
        }
    }
    tmpl_render(env, &sc->negative, body, sizeof(body), false);
    if (sd->negative[0]) {
        char tmp[RV_STORY_TEXT_MAX * 2];
        snprintf(tmp, sizeof(tmp), "%s%s%s", body, body[0] ? ", " : "", sd->negative);
        copy_text(neg, RV_STORY_TEXT_MAX, tmp);
    } else {
        copy_text(neg, RV_STORY_TEXT_MAX, body);
    }
    return n;
}

void rv_story_get_frame_at(const rv_story_state *st, double t, rv_story_frame *f)
{
    memset(f, 0, sizeof(*f));
    const struct rv_story *s = st->s;
    const core_hdr *h = (const core_hdr *)st->blob;
    const scene *sc = &s->scenes[h->scene];
    if (!(t >= 0))
        t = 0;
    if (t > 1e9)
        t = 1e9;
    value vars[RV_STORY_MAX_VARS];
    eval_env env = env_of_const(st, vars);
    copy_text(f->scene, sizeof(f->scene), sc->id);
    copy_text(f->style, sizeof(f->style), s->styles[sc->style].name);
    f->n_prompts = scene_prompts(st, sc, t, st->has_edit, &env, f->prompts, f->negative);
    f->transition = (float)sc->transition;
    f->blend = 1;
    if (h->prev_scene >= 0 && sc->transition > 0 && t < sc->transition) {
        const scene *ps = &s->scenes[h->prev_scene];
        f->n_from = scene_prompts(st, ps, ps->duration, false, &env, f->from, f->from_negative);
        f->blend = (float)(t / sc->transition);
    }
    double drift = track_eval(s, &sc->tracks[TR_SEED_DRIFT], t) * t;
    double whole = floor(drift);
    f->seed = sc->seed + (uint64_t)whole;
    f->seed_blend = (float)(drift - whole);
    f->strength = (float)track_eval(s, &sc->tracks[TR_STRENGTH], t);
    f->motion.zoom = (float)track_eval(s, &sc->tracks[TR_ZOOM], t);
    f->motion.pan_x = (float)track_eval(s, &sc->tracks[TR_PAN_X], t);
    f->motion.pan_y = (float)track_eval(s, &sc->tracks[TR_PAN_Y], t);
    f->motion.rotate = (float)track_eval(s, &sc->tracks[TR_ROTATE], t);
    f->steps = sc->steps;
    f->width = s->width;
    f->height = s->height;
    f->time = t;
    f->duration = sc->ending || !sc->nx_n ? 0 : sc->duration;
}

void rv_story_get_frame(const rv_story_state *st, rv_story_frame *f)
{
    rv_story_get_frame_at(st, (double)(st->clock_us - st->enter_us) / 1e6, f);
}

bool rv_story_get_var(const rv_story_state *st, const char *name, char *buf, size_t cap)
{
    int k = story_find_var(st->s, name);
    if (k < 0)
        return false;
    value vars[RV_STORY_MAX_VARS];
    blob_values(st->s, &st->l, st->blob, vars);
    value_to_text(vars[k], buf, cap);
    return true;
}

uint64_t rv_story_state_digest(const rv_story_state *st)
{
    uint64_t h = 1469598103934665603ull;
#define MIX(p, n) for (size_t i_ = 0; i_ < (n); i_++) h = (h ^ ((const uint8_t *)(p))[i_]) * 1099511628211ull
    MIX(st->blob, st->l.size);
    int64_t scene_us = st->clock_us - st->enter_us;
    MIX(&scene_us, sizeof(scene_us));
    MIX(&st->has_edit, sizeof(st->has_edit));
    if (st->has_edit)
        MIX(st->edit, strlen(st->edit));
    MIX(st->feedback, strlen(st->feedback));
#undef MIX
    return h;
}

/* ------------------------------------------------------------ hot reload */

/* A blob of `to` filled from a blob of `from`, matching by names. Returns
 * false if the scene it stands in is gone and `need_scene` is set. */
bool blob_rebind(const struct rv_story *from, const layout *lf, const uint8_t *bf,
                 const struct rv_story *to, const layout *lt, uint8_t *bt, bool need_scene)
{
    const core_hdr *hf = (const core_hdr *)bf;
    blob_init(to, lt, bt, hf->rng);
    core_hdr *ht = (core_hdr *)bt;
    ht->turns = hf->turns;
    ht->rng = hf->rng;
    int sc = story_find_scene(to, from->scenes[hf->scene].id);
    if (sc < 0 && need_scene)
        return false;
    ht->scene = sc >= 0 ? sc : to->start;
    ht->prev_scene = hf->prev_scene >= 0 ? story_find_scene(to, from->scenes[hf->prev_scene].id) : -1;
    value vf[RV_STORY_MAX_VARS];
    blob_values(from, lf, bf, vf);
    for (int i = 0; i < to->n_vars; i++) {
        int k = story_find_var(from, to->vars[i].name);
        if (k < 0 || from->vars[k].type != to->vars[i].type)
            continue;
        if (to->vars[i].type == V_STR)
            copy_text(BLOB_STR(bt, lt, i), RV_VAR_STR_MAX, vf[k].str);
        else
            BLOB_NUM(bt, lt)[i] = vf[k].num;
    }
    const uint32_t *vsf = (const uint32_t *)(bf + lf->visits);
    uint32_t *vst = BLOB_VISITS(bt, lt);
    for (int i = 0; i < to->n_scenes; i++) {
        int k = story_find_scene(from, to->scenes[i].id);
        vst[i] = k >= 0 ? vsf[k] : 0;
    }
    for (int i = 0; i < to->n_scenes; i++) {
        int k = story_find_scene(from, to->scenes[i].id);
        if (k < 0)
            continue;
        const scene *a = &from->scenes[k], *b = &to->scenes[i];
        for (int c = 0; c < a->ch_n && c < b->ch_n; c++)
            (bt + lt->used)[b->ch_start + c] = (bf + lf->used)[a->ch_start + c];
    }
    return true;
}

rv_status rv_story_state_rebind(rv_story_state *st, const rv_story *to, rv_error *err)
{
    layout lt;
    layout_make(to, &lt);
    uint8_t *nb = calloc(1, lt.size);
    hist_entry *nh = calloc((size_t)st->hist_cap, sizeof(hist_entry));
    if (!nb || !nh) {
        free(nb);
        free(nh);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "STORY: out of memory");
    }
    bool kept = blob_rebind(st->s, &st->l, st->blob, to, &lt, nb, true);
    if (!kept) {
        blob_rebind(st->s, &st->l, st->blob, to, &lt, nb, false);
        st->enter_us = st->clock_us; /* the scene is gone: the start scene, from its beginning */
    }
    int nn = 0;
    for (int i = 0; i < st->hist_n; i++) {
        uint8_t *b = calloc(1, lt.size);
        if (b && blob_rebind(st->s, &st->l, st->hist[i].blob, to, &lt, b, true)) {
            nh[nn] = st->hist[i];
            nh[nn++].blob = b;
        } else {
            free(b);
        }
    }
    hist_clear(st);
    free(st->hist);
    st->hist = nh;
    st->hist_n = nn;
    free(st->blob);
    st->blob = nb;
    st->l = lt;
    st->s = to;
    return RV_OK;
}

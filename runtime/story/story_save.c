/* Save/load of a whole story state as versioned JSON ("reverie-save/1"), and
 * the replay log ("reverie-replay/1") that reproduces a session's states.
 * Uses cJSON (these files carry no authored text needing line:col).
 * Not the state machine itself (story_state.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "story_state.h"

static cJSON *hex64(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%016" PRIx64, v);
    return cJSON_CreateString(b);
}

static bool parse_hex64(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsString(j) || strlen(j->valuestring) != 16)
        return false;
    char *end = NULL;
    unsigned long long v = strtoull(j->valuestring, &end, 16);
    if (*end)
        return false;
    *out = v;
    return true;
}

static bool get_i64(const cJSON *o, const char *k, int64_t lo, int64_t hi, int64_t *out)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(j) || j->valuedouble < (double)lo || j->valuedouble > (double)hi ||
        j->valuedouble != (double)(int64_t)j->valuedouble)
        return false;
    *out = (int64_t)j->valuedouble;
    return true;
}

static cJSON *blob_to_json(const struct rv_story *s, const layout *l, const uint8_t *b)
{
    const core_hdr *h = (const core_hdr *)b;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "scene", s->scenes[h->scene].id);
    if (h->prev_scene >= 0)
        cJSON_AddStringToObject(o, "prev_scene", s->scenes[h->prev_scene].id);
    else
        cJSON_AddNullToObject(o, "prev_scene");
    cJSON_AddNumberToObject(o, "turns", h->turns);
    cJSON_AddItemToObject(o, "rng", hex64(h->rng));
    cJSON *vars = cJSON_AddObjectToObject(o, "vars");
    value vv[RV_STORY_MAX_VARS];
    blob_values(s, l, b, vv);
    for (int i = 0; i < s->n_vars; i++) {
        if (vv[i].type == V_STR)
            cJSON_AddStringToObject(vars, s->vars[i].name, vv[i].str);
        else if (vv[i].type == V_BOOL)
            cJSON_AddBoolToObject(vars, s->vars[i].name, vv[i].num != 0);
        else
            cJSON_AddNumberToObject(vars, s->vars[i].name, vv[i].num);
    }
    cJSON *vis = cJSON_AddObjectToObject(o, "visits");
    const uint32_t *v = (const uint32_t *)(b + l->visits);
    for (int i = 0; i < s->n_scenes; i++)
        if (v[i])
            cJSON_AddNumberToObject(vis, s->scenes[i].id, v[i]);
    cJSON *used = cJSON_AddArrayToObject(o, "used");
    for (int i = 0; i < s->n_scenes; i++) {
        const scene *sc = &s->scenes[i];
        for (int k = 0; k < sc->ch_n; k++) {
            if ((b + l->used)[sc->ch_start + k]) {
                char name[96];
                snprintf(name, sizeof(name), "%s#%d", sc->id, k);
                cJSON_AddItemToArray(used, cJSON_CreateString(name));
            }
        }
    }
    return o;
}

static bool blob_from_json(const struct rv_story *s, const layout *l, const cJSON *o, uint8_t *b,
                           char *why, size_t cap)
{
    blob_init(s, l, b, 0);
    core_hdr *h = (core_hdr *)b;
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "scene");
    if (!cJSON_IsString(sc) || (h->scene = story_find_scene(s, sc->valuestring)) < 0) {
        snprintf(why, cap, "\"scene\" is not a scene of this story");
        return false;
    }
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(o, "prev_scene");
    h->prev_scene = -1;
    if (cJSON_IsString(ps))
        h->prev_scene = story_find_scene(s, ps->valuestring);
    int64_t turns;
    if (!get_i64(o, "turns", 0, INT32_MAX, &turns) ||
        !parse_hex64(cJSON_GetObjectItemCaseSensitive(o, "rng"), &h->rng)) {
        snprintf(why, cap, "\"turns\" or \"rng\" missing or malformed");
        return false;
    }
    h->turns = (int32_t)turns;
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(o, "vars");
    if (!cJSON_IsObject(vars)) {
        snprintf(why, cap, "\"vars\" must be an object");
        return false;
    }
    const cJSON *j;
    cJSON_ArrayForEach(j, vars) {
        int k = story_find_var(s, j->string);
        if (k < 0) {
            snprintf(why, cap, "variable \"%.64s\" is not in this story", j->string);
            return false;
        }
        vtype t = s->vars[k].type;
        if (t == V_NUM && cJSON_IsNumber(j))
            BLOB_NUM(b, l)[k] = j->valuedouble;
        else if (t == V_BOOL && cJSON_IsBool(j))
            BLOB_NUM(b, l)[k] = cJSON_IsTrue(j);
        else if (t == V_STR && cJSON_IsString(j) && strlen(j->valuestring) < RV_VAR_STR_MAX &&
                 utf8_valid_prefix(j->valuestring, strlen(j->valuestring)) == strlen(j->valuestring))
            copy_text(BLOB_STR(b, l, k), RV_VAR_STR_MAX, j->valuestring);
        else {
            snprintf(why, cap, "variable \"%.64s\" has the wrong type", j->string);
            return false;
        }
    }
    const cJSON *vis = cJSON_GetObjectItemCaseSensitive(o, "visits");
    cJSON_ArrayForEach(j, vis) {
        int k = story_find_scene(s, j->string);
        if (k < 0 || !cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > UINT32_MAX) {
            snprintf(why, cap, "visits of \"%.64s\" malformed", j->string ? j->string : "?");
            return false;
        }
        BLOB_VISITS(b, l)[k] = (uint32_t)j->valuedouble;
    }
    const cJSON *used = cJSON_GetObjectItemCaseSensitive(o, "used");
    cJSON_ArrayForEach(j, used) {
        char id[96];
        int ci = -1;
        if (cJSON_IsString(j) && sscanf(j->valuestring, "%95[^#]#%d", id, &ci) == 2) {
            int k = story_find_scene(s, id);
            if (k >= 0 && ci >= 0 && ci < s->scenes[k].ch_n) {
                (b + l->used)[s->scenes[k].ch_start + ci] = 1;
                continue;
            }
        }
        snprintf(why, cap, "\"used\" names a choice not in this story");
        return false;
    }
    return true;
}

static cJSON *log_to_json(const rv_story_state *st)
{
    cJSON *ev = cJSON_CreateArray();
    for (int i = 0; i < st->log_n; i++) {
        const log_event *e = &st->log[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "t", (double)e->clock_us);
        if (e->kind == LOG_CHOOSE)
            cJSON_AddNumberToObject(o, "choose", e->arg);
        else if (e->kind == LOG_BACK)
            cJSON_AddNumberToObject(o, "back", e->arg);
        else
            cJSON_AddStringToObject(o, "edit", e->text ? e->text : "");
        cJSON_AddItemToArray(ev, o);
    }
    return ev;
}

static rv_status emit(cJSON *root, char **json, rv_error *err)
{
    *json = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!*json)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "STORY: out of memory writing JSON");
    return RV_OK;
}

rv_status rv_story_save(const rv_story_state *st, char **json, rv_error *err)
{
    const struct rv_story *s = st->s;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "format", "reverie-save/1");
    cJSON_AddStringToObject(r, "story", s->title);
    cJSON_AddItemToObject(r, "seed", hex64(st->seed));
    cJSON_AddNumberToObject(r, "clock_us", (double)st->clock_us);
    cJSON_AddNumberToObject(r, "scene_us", (double)(st->clock_us - st->enter_us));
    cJSON_AddItemToObject(r, "state", blob_to_json(s, &st->l, st->blob));
    if (st->has_edit)
        cJSON_AddStringToObject(r, "edit", st->edit);
    cJSON_AddStringToObject(r, "feedback", st->feedback);
    cJSON *h = cJSON_AddArrayToObject(r, "history");
    for (int i = 0; i < st->hist_n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToObject(e, "state", blob_to_json(s, &st->l, st->hist[i].blob));
        cJSON_AddNumberToObject(e, "scene_us", (double)st->hist[i].scene_us);
        cJSON_AddItemToObject(e, "token", hex64(st->hist[i].token));
        cJSON_AddStringToObject(e, "feedback", st->hist[i].feedback);
        cJSON_AddItemToArray(h, e);
    }
    cJSON_AddItemToObject(r, "log", log_to_json(st));
    return emit(r, json, err);
}

static bool parse_log(rv_story_state *st, const cJSON *ev, char *why, size_t cap)
{
    const cJSON *e;
    int64_t last = 0;
    cJSON_ArrayForEach(e, ev) {
        int64_t t;
        if (!get_i64(e, "t", last, INT64_C(1) << 52, &t)) {
            snprintf(why, cap, "an event's \"t\" is missing, negative or goes back in time");
            return false;
        }
        last = t;
        int64_t a;
        const cJSON *ed = cJSON_GetObjectItemCaseSensitive(e, "edit");
        int64_t save = st->clock_us;
        st->clock_us = t;
        bool ok;
        if (get_i64(e, "choose", 0, RV_STORY_MAX_CHOICES, &a))
            ok = state_log(st, LOG_CHOOSE, (int)a, NULL);
        else if (get_i64(e, "back", 1, 1 << 20, &a))
            ok = state_log(st, LOG_BACK, (int)a, NULL);
        else if (cJSON_IsString(ed) && strlen(ed->valuestring) < RV_STORY_TEXT_MAX)
            ok = state_log(st, LOG_EDIT, 0, ed->valuestring);
        else {
            snprintf(why, cap, "an event must be {\"t\", and \"choose\", \"back\" or \"edit\"}");
            ok = false;
        }
        st->clock_us = save;
        if (!ok)
            return false;
    }
    return true;
}

rv_status rv_story_restore(rv_story_state *st, const char *json, rv_error *err)
{
    const struct rv_story *s = st->s;
    cJSON *r = cJSON_Parse(json);
    char why[160] = "not JSON";
    rv_story_state *tmp = NULL;
    if (!r)
        goto bad;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, "format");
    if (!cJSON_IsString(f) || strcmp(f->valuestring, "reverie-save/1") != 0) {
        snprintf(why, sizeof(why), "\"format\" is not \"reverie-save/1\"");
        goto bad;
    }
    uint64_t seed;
    int64_t clock, scene_us;
    if (!parse_hex64(cJSON_GetObjectItemCaseSensitive(r, "seed"), &seed) ||
        !get_i64(r, "clock_us", 0, INT64_C(1) << 52, &clock) ||
        !get_i64(r, "scene_us", 0, clock, &scene_us)) {
        snprintf(why, sizeof(why), "\"seed\", \"clock_us\" or \"scene_us\" missing or malformed");
        goto bad;
    }
    if (state_alloc(&tmp, s, st->hist_cap, seed, err))
        goto fail;
    tmp->clock_us = clock;
    tmp->enter_us = clock - scene_us;
    if (!blob_from_json(s, &tmp->l, cJSON_GetObjectItemCaseSensitive(r, "state"), tmp->blob, why,
                        sizeof(why)))
        goto bad;
    const cJSON *ed = cJSON_GetObjectItemCaseSensitive(r, "edit");
    if (cJSON_IsString(ed)) {
        tmp->has_edit = true;
        copy_text(tmp->edit, sizeof(tmp->edit), ed->valuestring);
    }
    const cJSON *fb = cJSON_GetObjectItemCaseSensitive(r, "feedback");
    if (cJSON_IsString(fb))
        copy_text(tmp->feedback, sizeof(tmp->feedback), fb->valuestring);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(r, "history"), *e;
    cJSON_ArrayForEach(e, h) {
        if (tmp->hist_n == tmp->hist_cap) {
            snprintf(why, sizeof(why), "history longer than %d", tmp->hist_cap);
            goto bad;
        }
        hist_entry *he = &tmp->hist[tmp->hist_n];
        he->blob = malloc(tmp->l.size);
        if (!he->blob) {
            rv_error_set(err, RV_ERR_HOST_MEMORY, "STORY: out of memory");
            goto fail;
        }
        tmp->hist_n++;
        int64_t su;
        if (!blob_from_json(s, &tmp->l, cJSON_GetObjectItemCaseSensitive(e, "state"), he->blob, why,
                            sizeof(why)) ||
            !get_i64(e, "scene_us", 0, clock, &su) ||
            !parse_hex64(cJSON_GetObjectItemCaseSensitive(e, "token"), &he->token)) {
            if (!why[0] || strcmp(why, "not JSON") == 0)
                snprintf(why, sizeof(why), "a history point is malformed");
            goto bad;
        }
        he->scene_us = su;
        const cJSON *hf = cJSON_GetObjectItemCaseSensitive(e, "feedback");
        if (cJSON_IsString(hf))
            copy_text(he->feedback, sizeof(he->feedback), hf->valuestring);
    }
    if (!parse_log(tmp, cJSON_GetObjectItemCaseSensitive(r, "log"), why, sizeof(why)))
        goto bad;
    cJSON_Delete(r);
    /* swap in */
    rv_story_state old = *st;
    *st = *tmp;
    *tmp = old;
    rv_story_state_destroy(tmp);
    return RV_OK;
bad:
    rv_error_set(err, RV_ERR_FORMAT, "STORY: saved state: %s", why);
fail:
    cJSON_Delete(r);
    rv_story_state_destroy(tmp);
    return err && err->code ? err->code : RV_ERR_FORMAT;
}

rv_status rv_story_log_json(const rv_story_state *st, char **json, rv_error *err)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "format", "reverie-replay/1");
    cJSON_AddStringToObject(r, "story", st->s->title);
    cJSON_AddItemToObject(r, "seed", hex64(st->seed));
    cJSON_AddNumberToObject(r, "end_us", (double)st->clock_us);
    cJSON_AddItemToObject(r, "events", log_to_json(st));
    return emit(r, json, err);
}

rv_status rv_story_replay(rv_story_state **out, const rv_story *s, const char *json, rv_error *err)
{
    *out = NULL;
    cJSON *r = cJSON_Parse(json);
    rv_story_state *st = NULL;
    char why[160] = "not JSON";
    if (!r)
        goto bad;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, "format");
    uint64_t seed;
    int64_t end;
    if (!cJSON_IsString(f) || strcmp(f->valuestring, "reverie-replay/1") != 0 ||
        !parse_hex64(cJSON_GetObjectItemCaseSensitive(r, "seed"), &seed) ||
        !get_i64(r, "end_us", 0, INT64_C(1) << 52, &end)) {
        snprintf(why, sizeof(why), "not a \"reverie-replay/1\" log with \"seed\" and \"end_us\"");
        goto bad;
    }
    rv_story_state_desc d = {.seed = seed};
    if (rv_story_state_create(&st, s, &d, err))
        goto fail;
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "events")) {
        int64_t t, a;
        if (!get_i64(e, "t", st->clock_us, end, &t)) {
            snprintf(why, sizeof(why), "event %d: \"t\" missing or out of order", i);
            goto bad;
        }
        state_advance_us(st, t - st->clock_us);
        const cJSON *ed = cJSON_GetObjectItemCaseSensitive(e, "edit");
        rv_error e2 = {0};
        rv_status rs;
        if (get_i64(e, "choose", 0, RV_STORY_MAX_CHOICES, &a))
            rs = rv_story_choose(st, (int)a, &e2);
        else if (get_i64(e, "back", 1, 1 << 20, &a))
            rs = rv_story_back(st, (int)a, NULL, &e2);
        else if (cJSON_IsString(ed))
            rs = rv_story_edit_prompt(st, ed->valuestring, &e2);
        else {
            snprintf(why, sizeof(why), "event %d: needs \"choose\", \"back\" or \"edit\"", i);
            goto bad;
        }
        if (rs) {
            snprintf(why, sizeof(why), "event %d: %.120s", i, e2.msg);
            goto bad;
        }
        i++;
    }
    state_advance_us(st, end - st->clock_us);
    cJSON_Delete(r);
    *out = st;
    return RV_OK;
bad:
    rv_error_set(err, RV_ERR_FORMAT, "STORY: replay log: %s", why);
fail:
    cJSON_Delete(r);
    rv_story_state_destroy(st);
    return err && err->code ? err->code : RV_ERR_FORMAT;
}

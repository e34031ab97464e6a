/* `reverie play --replay LOG`: a replay log's events (reverie-replay/1:
 * seed, then choices, rollbacks and prompt edits at story clock times) read
 * for playing them back live, at their times. Checking the log against the
 * story is rv_story_replay's; this file only reads the list. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "player.h"

bool pl_replay_load(pl_replay *r, const char *json, char *err, size_t cap)
{
    memset(r, 0, sizeof(*r));
    cJSON *o = cJSON_Parse(json);
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
    const cJSON *evs = cJSON_GetObjectItemCaseSensitive(o, "events");
    if (!cJSON_IsString(seed) || !cJSON_IsArray(evs)) {
        snprintf(err, cap, "not a reverie-replay/1 log with \"seed\" and \"events\"");
        cJSON_Delete(o);
        return false;
    }
    r->seed = strtoull(seed->valuestring, NULL, 16);
    int n = cJSON_GetArraySize(evs);
    r->ev = calloc(n > 0 ? (size_t)n : 1, sizeof(pl_replay_ev));
    const cJSON *e;
    cJSON_ArrayForEach(e, evs) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "t");
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(e, "choose");
        const cJSON *bk = cJSON_GetObjectItemCaseSensitive(e, "back");
        const cJSON *ed = cJSON_GetObjectItemCaseSensitive(e, "edit");
        pl_replay_ev *v = &r->ev[r->n];
        if (!r->ev || !cJSON_IsNumber(t))
            break;
        v->t = (int64_t)t->valuedouble;
        if (cJSON_IsNumber(ch)) {
            v->kind = PL_REPLAY_CHOOSE;
            v->arg = ch->valueint;
        } else if (cJSON_IsNumber(bk)) {
            v->kind = PL_REPLAY_BACK;
            v->arg = bk->valueint;
        } else if (cJSON_IsString(ed)) {
            v->kind = PL_REPLAY_EDIT;
            v->text = strdup(ed->valuestring);
        } else {
            break;
        }
        r->n++;
    }
    bool ok = r->ev && r->n == n;
    if (!ok) {
        snprintf(err, cap, "event %d of the log is not a choice, rollback or edit with a time", r->n);
        pl_replay_free(r);
    }
    cJSON_Delete(o);
    return ok;
}

void pl_replay_free(pl_replay *r)
{
    for (int i = 0; r->ev && i < r->n; i++)
        free(r->ev[i].text);
    free(r->ev);
    memset(r, 0, sizeof(*r));
}

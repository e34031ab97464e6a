/* libFuzzer target: the story loader and validator on arbitrary bytes, and,
 * when a story loads, a short session driven by the input's last bytes
 * (advance, choose, back, edit, frame, view, save/restore, log/replay,
 * graph). Any crash, leak, hang or sanitizer report is a bug. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rv_story.h"
#include "story/story_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rv_story *s = NULL;
    rv_story_diags d = {0};
    rv_error err = {0};
    rv_story_load_mem(&s, "fuzz.json", (const char *)data, size, &d, &err);
    for (int i = 0; i < d.count; i++) {
        char line[1400];
        rv_story_diag_format(&d, &d.items[i], line, sizeof(line));
    }
    rv_story_diags_free(&d);
    if (!s)
        return 0;
    char *dot = NULL;
    if (rv_story_graph_dot(s, &dot, &err) == RV_OK)
        free(dot);
    rv_story_prompt_site site;
    for (int i = 0; i < 64 && rv_story_prompt_site_get(s, i, &site); i++)
        ;
    rv_story_state *st = NULL;
    rv_story_state_desc desc = {.history = 4};
    if (rv_story_state_create(&st, s, &desc, &err) == RV_OK) {
        /* the last 16 bytes script the session */
        size_t n = size < 16 ? size : 16;
        const uint8_t *ops = data + size - n;
        rv_story_frame f;
        rv_story_view v;
        for (size_t i = 0; i < n; i++) {
            rv_error e = {0};
            uint8_t code = ops[i];
            switch (code & 7) {
            case 0: rv_story_advance(st, (code >> 3) * 0.5); break;
            case 1: case 2: rv_story_choose(st, code >> 4, &e); break;
            case 3: rv_story_back(st, 1 + (code >> 6), NULL, &e); break;
            case 4: rv_story_edit_prompt(st, "a boat", &e); break;
            case 5: rv_story_get_frame_at(st, (code >> 3) * 0.7, &f); break;
            case 6: rv_story_get_view(st, &v); break;
            case 7: rv_story_set_visual_token(st, code); break;
            }
        }
        rv_story_get_frame(st, &f);
        rv_story_get_view(st, &v);
        char *json = NULL;
        if (rv_story_save(st, &json, &err) == RV_OK) {
            uint64_t before = rv_story_state_digest(st);
            if (rv_story_restore(st, json, &err) != RV_OK || rv_story_state_digest(st) != before)
                abort(); /* a save must restore to the same state */
            free(json);
        }
        char *log = NULL;
        if (rv_story_log_json(st, &log, &err) == RV_OK) {
            rv_story_state *r = NULL;
            if (rv_story_replay(&r, s, log, &err) == RV_OK) {
                /* a replay must reproduce the state (unless an advance hit
                 * the bound on scenes passed in one call) */
                if (!st->guard_tripped && !r->guard_tripped &&
                    rv_story_state_digest(r) != rv_story_state_digest(st))
                    abort();
                rv_story_state_destroy(r);
            }
            free(log);
        }
        rv_story_state_destroy(st);
    }
    rv_story_unload(s);
    return 0;
}

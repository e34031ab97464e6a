/* The story state's layout, shared by story_state.c (playing) and
 * story_save.c (save/load, replay log). Internal: the public API is
 * rv_story.h. A state's changing part is one flat blob so a history point
 * is a memcpy. */
#ifndef RV_STORY_STATE_H
#define RV_STORY_STATE_H

#include "story_internal.h"

typedef struct core_hdr {
    int32_t scene, prev_scene;
    int32_t turns, pad;
    uint64_t rng;
} core_hdr;

/* Byte offsets inside a blob: header, numbers (and booleans) per variable,
 * visit counts per scene, once-used flags per choice, string slots. */
typedef struct layout {
    size_t num, visits, used, str, size;
    int str_slot[RV_STORY_MAX_VARS];
} layout;

#define BLOB_NUM(b, l) ((double *)((b) + (l)->num))
#define BLOB_VISITS(b, l) ((uint32_t *)((b) + (l)->visits))
#define BLOB_STR(b, l, i) ((char *)((b) + (l)->str) + (size_t)(l)->str_slot[i] * RV_VAR_STR_MAX)

typedef struct hist_entry {
    uint8_t *blob;
    int64_t scene_us;
    uint64_t token;
    char feedback[RV_STORY_NARRATION_MAX];
} hist_entry;

enum { LOG_CHOOSE = 1, LOG_BACK = 2, LOG_EDIT = 3 };
#define RV_STORY_LOG_MAX 100000

typedef struct log_event {
    int64_t clock_us;
    int kind, arg;
    char *text;
} log_event;

struct rv_story_state {
    const struct rv_story *s;
    layout l;
    uint8_t *blob;
    int64_t clock_us, enter_us;
    uint64_t seed;
    hist_entry *hist;
    int hist_n, hist_cap;
    bool has_edit;
    char edit[RV_STORY_TEXT_MAX];
    char feedback[RV_STORY_NARRATION_MAX];
    log_event *log;
    int log_n, log_cap;
    bool replaying;
    bool guard_tripped; /* an advance hit the 1,024-scene bound (see run_clock) */
};

#define HDR(st) ((core_hdr *)(st)->blob)

void layout_make(const struct rv_story *s, layout *l);
void blob_init(const struct rv_story *s, const layout *l, uint8_t *b, uint64_t seed);
void blob_values(const struct rv_story *s, const layout *l, const uint8_t *b, value *out);
bool blob_rebind(const struct rv_story *from, const layout *lf, const uint8_t *bf,
                 const struct rv_story *to, const layout *lt, uint8_t *bt, bool need_scene);
rv_status state_alloc(rv_story_state **out, const rv_story *s, int history, uint64_t seed,
                      rv_error *err);
void state_advance_us(rv_story_state *st, int64_t dt);
int state_available(const rv_story_state *st, int *idx);
bool state_log(rv_story_state *st, int kind, int arg, const char *text);
void hist_clear(rv_story_state *st);
void log_clear(rv_story_state *st);

#endif

/* Public API of the story engine: load and check a `reverie-story/1` file
 * (scenes/README.md), play it (time, choices, quiz answers), read the scene
 * schedule at time t as plain data, roll back, save/load, replay, hot reload.
 * Plain data and opaque handles only: nothing GPU, nothing SDL. */
#ifndef RV_STORY_H
#define RV_STORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rv_status.h"

/* Sizes of the fixed arrays in the plain-data structs below. Texts longer
 * than these are cut at a UTF-8 boundary when they are rendered. */
#define RV_STORY_MAX_PROMPTS 4      /* weighted prompt parts per scene */
#define RV_STORY_MAX_CHOICES 16     /* choices or quiz answers per scene */
#define RV_STORY_TEXT_MAX 1024      /* a rendered prompt or negative */
#define RV_STORY_NARRATION_MAX 2048 /* rendered narration or question */
#define RV_STORY_LINE_MAX 256       /* a choice's text, an id, a style name */

/* ------------------------------------------------------------ diagnostics */

typedef enum rv_story_severity {
    RV_STORY_ERROR = 0,
    RV_STORY_WARNING = 1,
} rv_story_severity;

/* One finding of the loader or validator. `code` is stable (E1xx syntax and
 * schema, E2xx semantic errors, W3xx warnings; scenes/README.md lists them);
 * `path` is the JSON path of the value ("scenes[2].choices[0].target"). */
typedef struct rv_story_diag {
    rv_story_severity severity;
    char code[8];
    int line, col; /* 1-based; col counts code points */
    char path[160];
    char message[512];
} rv_story_diag;

typedef struct rv_story_diags {
    char file[512];
    rv_story_diag *items; /* malloc'd; rv_story_diags_free */
    int count, cap;
    int errors, warnings;
    bool truncated; /* more than RV_STORY_MAX_DIAGS were found */
} rv_story_diags;

#define RV_STORY_MAX_DIAGS 200

void rv_story_diags_free(rv_story_diags *d);
/* Adds one (used by front ends for checks that need a model, e.g. token
 * counts); returns false when the list is full. */
bool rv_story_diag_add(rv_story_diags *d, rv_story_severity sev, const char *code, int line,
                       int col, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* "file:line:col: error[E201]: message (at path)" into buf. */
void rv_story_diag_format(const rv_story_diags *d, const rv_story_diag *g, char *buf, size_t cap);

/* ------------------------------------------------------------ stories */

typedef struct rv_story rv_story;

/* Loads and checks a story. On any error diagnostic the story is not made
 * (*out = NULL) and the result is RV_ERR_FORMAT; warnings leave it loaded.
 * An unreadable file is RV_ERR_IO (err names it; no diagnostics). `diags`
 * may be NULL (then err gets the first error's text). Limits: 8 MiB of
 * JSON, nesting 64, strings 64 KiB, 4,096 scenes, expressions 1,024 bytes. */
rv_status rv_story_load(rv_story **out, const char *path, rv_story_diags *diags, rv_error *err);
/* The same from memory; `name` is used as the file name in diagnostics. */
rv_status rv_story_load_mem(rv_story **out, const char *name, const char *data, size_t size,
                            rv_story_diags *diags, rv_error *err);
void rv_story_unload(rv_story *story); /* accepts NULL */

typedef struct rv_story_info {
    const char *title, *author, *model; /* never NULL ("" when absent) */
    const char *start;                  /* id of the first scene */
    int width, height, steps;
    uint64_t seed;
    int n_scenes, n_variables, n_endings;
} rv_story_info;
void rv_story_get_info(const rv_story *story, rv_story_info *info);
/* Scene ids by index (0..n_scenes-1), NULL past the end. */
const char *rv_story_scene_id(const rv_story *story, int index);

/* Every prompt and negative template, for checks against a model: `text` is
 * the template rendered with the variables' initial values and every
 * conditional part included (an upper bound of what it can produce).
 * Returns false past the end. Strings live as long as the story. */
typedef struct rv_story_prompt_site {
    const char *scene;
    const char *path; /* JSON path of the template */
    int line, col;
    char text[RV_STORY_TEXT_MAX * 2];
} rv_story_prompt_site;
bool rv_story_prompt_site_get(const rv_story *story, int index, rv_story_prompt_site *site);

/* Graphviz DOT of the story graph (scenes, choices with conditions, quiz
 * answers, auto-advances, endings; unreachable scenes dashed and red).
 * *dot is malloc'd. */
rv_status rv_story_graph_dot(const rv_story *story, char **dot, rv_error *err);

/* ------------------------------------------------------------ playing */

typedef struct rv_story_state rv_story_state;

typedef struct rv_story_state_desc {
    int history; /* choice points kept for rollback; 0 = 64 */
    uint64_t seed; /* 0 = the story's seed */
} rv_story_state_desc;

/* The state keeps a pointer to the story, which must outlive it (or be
 * swapped with rv_story_state_rebind). Starts at the story's start scene. */
rv_status rv_story_state_create(rv_story_state **out, const rv_story *story,
                                const rv_story_state_desc *desc, rv_error *err);
void rv_story_state_destroy(rv_story_state *st); /* accepts NULL */

/* Moves the clock on by dt seconds (the clock counts microseconds, so
 * advancing in many small steps or one big one reaches the same state).
 * Auto-advances fire when a scene's duration is over. */
void rv_story_advance(rv_story_state *st, double dt);
/* Seconds until the current scene auto-advances, or a negative number when
 * it waits for the viewer (choices, quiz, ending). */
double rv_story_time_to_next(const rv_story_state *st);

typedef struct rv_story_view_choice {
    char text[RV_STORY_LINE_MAX];
} rv_story_view_choice;

/* What the viewer sees now. */
typedef struct rv_story_view {
    char scene[RV_STORY_LINE_MAX];
    char narration[RV_STORY_NARRATION_MAX];
    bool is_quiz;
    char question[RV_STORY_NARRATION_MAX];
    int n_choices; /* available choices (or quiz answers) in display order */
    rv_story_view_choice choices[RV_STORY_MAX_CHOICES];
    bool is_ending;
    char ending[RV_STORY_LINE_MAX]; /* the ending's name */
    char feedback[RV_STORY_NARRATION_MAX]; /* the last quiz answer's feedback, else "" */
    double time;  /* seconds into the scene */
    int turns;    /* choices and answers made so far */
} rv_story_view;
void rv_story_get_view(const rv_story_state *st, rv_story_view *view);

/* Takes available choice i (0-based, in the view's order) or answers the
 * quiz with answer i. RV_ERR_INVALID for an index out of range. A choice
 * point is pushed on the history first. */
rv_status rv_story_choose(rv_story_state *st, int i, rv_error *err);

/* The opaque token the front end stores the visual state under (e.g. the
 * latent of the frame shown at the choice): attached to the newest choice
 * point, returned when rolling back to it. */
void rv_story_set_visual_token(rv_story_state *st, uint64_t token);
/* Back n choice points (1 = undo the last choice): restores variables,
 * scene, scene time, visits, random state. *token receives the visual
 * token of that point (0 if none was set). RV_ERR_INVALID if the history
 * holds fewer than n points. */
rv_status rv_story_back(rv_story_state *st, int n, uint64_t *token, rv_error *err);
int rv_story_history_depth(const rv_story_state *st);

/* Live prompt edit of the current scene (a demo's text box): replaces its
 * prompt until the scene is left. Recorded in the replay log. */
rv_status rv_story_edit_prompt(rv_story_state *st, const char *text, rv_error *err);

/* Motion of the camera, as rates per second applied to the previous frame
 * (the frame loop multiplies by its frame time): zoom is a scale factor per
 * second (1 = still, 1.05 = 5% closer each second), pan_x/pan_y fractions of
 * the frame width/height per second (positive = the view moves right/down),
 * rotate degrees per second (positive = counter-clockwise). */
typedef struct rv_story_motion {
    float zoom, pan_x, pan_y, rotate;
} rv_story_motion;

typedef struct rv_story_prompt {
    char text[RV_STORY_TEXT_MAX]; /* style preset already applied */
    float weight;
} rv_story_prompt;

/* The scene schedule at one time: everything the frame loop needs, as
 * self-contained plain data (no pointers; copy it freely). */
typedef struct rv_story_frame {
    char scene[RV_STORY_LINE_MAX];
    char style[RV_STORY_LINE_MAX];
    int n_prompts;
    rv_story_prompt prompts[RV_STORY_MAX_PROMPTS];
    char negative[RV_STORY_TEXT_MAX];
    /* The previous scene's prompts, blended in over `transition` seconds:
     * the frame loop mixes embeddings as (1 - blend) * from + blend * prompts. */
    int n_from;
    rv_story_prompt from[RV_STORY_MAX_PROMPTS];
    char from_negative[RV_STORY_TEXT_MAX];
    float transition; /* seconds */
    float blend;      /* 0..1; 1 once the transition is over */
    /* Noise seed: seed drift walks from `seed` to `seed + 1` as seed_blend
     * goes from 0 to 1 (slerp the two noises). */
    uint64_t seed;
    float seed_blend;
    float strength; /* 0..1: how much of the previous frame is re-noised */
    rv_story_motion motion;
    int steps, width, height;
    double time, duration; /* seconds into the scene; 0 duration = waits */
} rv_story_frame;

/* The current scene's schedule at the current time / at scene time t. */
void rv_story_get_frame(const rv_story_state *st, rv_story_frame *frame);
void rv_story_get_frame_at(const rv_story_state *st, double t, rv_story_frame *frame);

/* Whole state as versioned JSON ("reverie-save/1"): *json is malloc'd. */
rv_status rv_story_save(const rv_story_state *st, char **json, rv_error *err);
/* Replaces st's state with a saved one (same story: scene and variable
 * names must exist). On error st is unchanged. */
rv_status rv_story_restore(rv_story_state *st, const char *json, rv_error *err);

/* Replay log ("reverie-replay/1": seed, then each choice, rollback, prompt
 * edit with its clock time): *json is malloc'd. */
rv_status rv_story_log_json(const rv_story_state *st, char **json, rv_error *err);
/* A new state that plays the log against story: the same sequence of
 * states, then the clock advanced to the log's end time. */
rv_status rv_story_replay(rv_story_state **out, const rv_story *story, const char *json,
                          rv_error *err);

/* Hot reload: moves st onto a changed story. Variables keep their values
 * where the name and type still exist, the scene is kept if its id still
 * exists (else the new story's start), history points whose scene is gone
 * are dropped, once-used choices are matched by scene id and position. The
 * old story may be unloaded afterwards. Reloads are not in the replay log:
 * a log replays against one story. */
rv_status rv_story_state_rebind(rv_story_state *st, const rv_story *story, rv_error *err);

/* A hash of everything that defines the state (for tests: equal states,
 * equal digests). */
uint64_t rv_story_state_digest(const rv_story_state *st);

/* Value of a variable as text ("3", "true", "lamp"), for the text player
 * and tests; false if there is no such variable. */
bool rv_story_get_var(const rv_story_state *st, const char *name, char *buf, size_t cap);

#endif
